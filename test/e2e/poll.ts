/**
 * Bounded polling for the end-to-end test: waits for a condition instead of
 * sleeping a fixed time, so a fast machine does not wait and a loaded one
 * gets the time it needs up to a limit.
 *
 * Owns the error a wait that runs out produces: what was awaited, for how
 * long, and the last state the probe saw.
 */

export type Probe<T> = () => Promise<{ readonly done: true; readonly value: T } | { readonly done: false; readonly state: string }>;

const POLL_INTERVAL_MS = 250;

/** Runs `probe` until it reports done; an error thrown by the probe ends the wait at once. */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: Probe<T>): Promise<T> {
  const started = Date.now();
  let state = 'never probed';
  while (Date.now() - started < timeoutMs) {
    const result = await probe();
    if (result.done) return result.value;
    state = result.state;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`waited ${timeoutMs} ms for ${what}; last state: ${state}`);
}
