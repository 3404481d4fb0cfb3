/**
 * `--web.max-requests`: how many scrapes may run at once.
 *
 * Mirrors promhttp's `HandlerOpts.MaxRequestsInFlight` (client_golang), which
 * node_exporter sets from the same flag (default 40): a scrape beyond the
 * limit is answered at once with 503 rather than queued, so a pile-up of slow
 * scrapes cannot grow memory without bound. 0 means no limit.
 */
export class ConcurrencyLimit {
  private running = 0;

  /** `max` is checked by the command line: a whole number, 0 for no limit. */
  constructor(readonly max: number) {}

  /** Takes a slot, or returns false when all are taken. */
  tryAcquire(): boolean {
    if (this.max > 0 && this.running >= this.max) return false;
    this.running++;
    return true;
  }

  release(): void {
    if (this.running > 0) this.running--;
  }

  get inFlight(): number {
    return this.running;
  }
}
