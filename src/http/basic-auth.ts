/**
 * HTTP basic auth against the web config's `basic_auth_users` bcrypt hashes.
 *
 * Mirrors exporter-toolkit's `web/handler.go`: an unknown user is checked
 * against a dummy hash so that the answer takes as long as for a known one,
 * and outcomes are cached per (user, hash, password) so that a scraper
 * paying bcrypt's ~70-90 ms (cost 10) once is not charged again every scrape.
 * Differences: the cache key is an HMAC under a per-process random key (the
 * cache never holds anything a memory dump could brute-force cheaply), the
 * cache is bounded, and concurrent checks of one key share one bcrypt run.
 * bcryptjs (pure JavaScript) avoids a native build on FreeBSD; its async
 * compare works in slices, so a check does not stall the event loop.
 */
import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** Parses `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  const match = header === undefined ? null : /^Basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const DEFAULT_CACHE_SIZE = 256;

export class BasicAuthVerifier {
  private readonly cache = new Map<string, boolean>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly cacheKeySecret = randomBytes(32);

  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly dummyHash: string,
    private readonly cacheSize: number,
  ) {}

  /**
   * Builds a verifier; the dummy hash gets the highest cost among the users'
   * hashes, so unknown users cost as much as the slowest known one.
   */
  static async create(users: ReadonlyMap<string, string>, cacheSize = DEFAULT_CACHE_SIZE): Promise<BasicAuthVerifier> {
    const cost = Math.max(4, ...[...users.values()].map((hash) => bcrypt.getRounds(hash)));
    const dummyHash = await bcrypt.hash(randomBytes(16).toString('base64'), cost);
    return new BasicAuthVerifier(users, dummyHash, cacheSize);
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  async verify(credentials: Credentials): Promise<boolean> {
    const hash = this.users.get(credentials.user);
    const key = this.cacheKey(credentials, hash ?? this.dummyHash);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let check = this.pending.get(key);
    if (check === undefined) {
      check = this.check(credentials.password, hash).finally(() => this.pending.delete(key));
      this.pending.set(key, check);
    }
    const outcome = await check;
    this.remember(key, outcome);
    return outcome;
  }

  private async check(password: string, hash: string | undefined): Promise<boolean> {
    const matches = await bcrypt.compare(password, hash ?? this.dummyHash);
    return hash !== undefined && matches;
  }

  private cacheKey(credentials: Credentials, hash: string): string {
    const mac = createHmac('sha256', this.cacheKeySecret);
    for (const part of [credentials.user, hash, credentials.password]) {
      const bytes = Buffer.from(part, 'utf8');
      // Length-prefixed, so ("a:b", "c") and ("a", "b:c") never share a key.
      mac.update(String(bytes.length)).update(':').update(bytes);
    }
    return mac.digest('base64');
  }

  /** Insertion order makes the Map a FIFO: the oldest outcome goes first. */
  private remember(key: string, outcome: boolean): void {
    if (this.cache.has(key)) return;
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, outcome);
  }

  /** How many outcomes are cached (for tests and debugging). */
  get cachedOutcomes(): number {
    return this.cache.size;
  }
}

