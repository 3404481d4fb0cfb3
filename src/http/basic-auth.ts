/**
 * HTTP basic auth against the web config's `basic_auth_users` bcrypt hashes.
 *
 * Mirrors exporter-toolkit's `web/handler.go`: an unknown user is checked
 * against a dummy hash, and verified credentials are cached so that a
 * scraper pays bcrypt once, not every scrape. What it adds, so that no
 * client can hurt another:
 * - bcrypt runs in a BcryptPool (worker threads, bounded queue): a flood of
 *   wrong passwords never occupies the event loop, and what the pool cannot
 *   take is refused at once ('busy', answered 429) rather than queued;
 * - one verification at a time per connection, so one client cannot fill
 *   the queue with pipelined guesses;
 * - a refusal (401 or 429) waits for the failure floor below, so a client
 *   guessing on N connections gets at most N answers per floor;
 * - only successes are cached (keyed by an HMAC under a per-process random
 *   key, so the cache holds nothing a memory dump could brute-force
 *   cheaply): a flood of failures cannot evict a scraper's credentials, and
 *   a scraper's later scrapes skip the pool however busy it is;
 * - every refusal is answered no sooner than a fixed floor after it
 *   arrived, set from the slowest configured cost: an unknown user, a
 *   wrong password for a cost-4 user and one for a cost-12 user all take the
 *   same time, so response times say nothing about which users exist.
 */
import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { BcryptPool } from './bcrypt-pool.js';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export type Verdict = 'admitted' | 'refused' | 'busy';

/** Parses `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  const match = header === undefined ? null : /^Basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** bcrypt's own lower bound. */
export const MIN_BCRYPT_COST = 4;
/**
 * The slowest hash kvm_exporter agrees to verify. bcryptjs takes ~90 ms at
 * cost 10, ~340 ms at 12 and ~630 ms at 13 on a 2-core amd64 VM under load,
 * doubling per step: 12 keeps a scraper's first check well under a second
 * and a verification thread free for others most of the time; a cost of 31
 * would take days.
 */
export const MAX_BCRYPT_COST = 12;

/** The cost field of a `$2b$10$...` hash. */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6));
}

export const DEFAULT_CACHE_SIZE = 256;

/**
 * A failure answers no sooner than this many times the slowest comparison
 * measured at start, so that a slower comparison under load still ends
 * before the floor.
 */
const FAILURE_FLOOR_FACTOR = 3;
const FAILURE_FLOOR_MIN_MS = 50;

export class BasicAuthVerifier {
  private readonly admitted = new Map<string, true>();
  private readonly pending = new Map<string, Promise<boolean | undefined>>();
  private readonly verifying = new WeakSet<object>();
  private readonly cacheKeySecret = randomBytes(32);

  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly pool: BcryptPool,
    private readonly dummyHash: string,
    /** How long a failed verification takes at least, in ms. */
    readonly failureFloorMs: number,
    private readonly cacheSize: number,
  ) {}

  /**
   * Builds a verifier: the dummy hash gets the highest cost among the users'
   * hashes, and one comparison at that cost sets the failure floor.
   */
  static async create(users: ReadonlyMap<string, string>, pool: BcryptPool, cacheSize = DEFAULT_CACHE_SIZE): Promise<BasicAuthVerifier> {
    const cost = Math.max(MIN_BCRYPT_COST, ...[...users.values()].map(bcryptCost));
    const dummyHash = dummyHashOf(cost);
    const floor = users.size === 0 ? 0 : await measureFloor(pool, dummyHash);
    return new BasicAuthVerifier(users, pool, dummyHash, floor, cacheSize);
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  /**
   * `connection` (the socket) bounds verifications to one at a time per
   * connection. Whatever is not admitted — refused, or busy — is answered no
   * sooner than the failure floor: the answer's time tells nothing, and a
   * client guessing on N connections gets at most N answers per floor, so a
   * flood costs the event loop little.
   */
  async verify(credentials: Credentials, connection: object): Promise<Verdict> {
    const hash = this.users.get(credentials.user);
    const key = this.cacheKey(credentials, hash ?? this.dummyHash);
    if (this.admitted.has(key)) return 'admitted';
    const started = performance.now();
    const verdict = await this.verifyUncached(key, credentials.password, hash, connection);
    if (verdict !== 'admitted') await sleep(this.failureFloorMs - (performance.now() - started));
    return verdict;
  }

  private async verifyUncached(key: string, password: string, hash: string | undefined, connection: object): Promise<Verdict> {
    if (this.verifying.has(connection)) return 'busy';
    this.verifying.add(connection);
    try {
      const matches = await this.check(key, password, hash);
      if (matches === undefined) return 'busy';
      if (!matches) return 'refused';
      this.remember(key);
      return 'admitted';
    } finally {
      this.verifying.delete(connection);
    }
  }

  /** One bcrypt run per distinct credential in flight; undefined when the pool is saturated. */
  private check(key: string, password: string, hash: string | undefined): Promise<boolean | undefined> {
    let check = this.pending.get(key);
    if (check === undefined) {
      const compared = this.pool.compare(password, hash ?? this.dummyHash);
      if (compared === undefined) return Promise.resolve(undefined);
      check = compared.then((matches) => hash !== undefined && matches).finally(() => this.pending.delete(key));
      this.pending.set(key, check);
    }
    return check;
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

  /** Insertion order makes the Map a FIFO: the oldest credential goes first. */
  private remember(key: string): void {
    if (this.admitted.has(key)) return;
    if (this.admitted.size >= this.cacheSize) this.admitted.delete(this.admitted.keys().next().value!);
    this.admitted.set(key, true);
  }

  /** How many verified credentials are cached (for tests and debugging). */
  get cachedCredentials(): number {
    return this.admitted.size;
  }
}

/** A well-formed hash of `cost` that no password matches: a random salt and a random digest. */
function dummyHashOf(cost: number): string {
  const salt = bcrypt.genSaltSync(cost);
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const digest = [...randomBytes(31)].map((byte) => alphabet[byte % alphabet.length]).join('');
  return `${salt}${digest}`;
}

async function measureFloor(pool: BcryptPool, dummyHash: string): Promise<number> {
  // Queued even when the pool is saturated: a reload during a flood must still measure, not skip.
  const compare = () => pool.compare(randomBytes(8).toString('hex'), dummyHash, { beyondQueueLimit: true });
  // The first comparison may start a thread and load bcryptjs: not part of what a check costs.
  await compare();
  const started = performance.now();
  await compare();
  return Math.max(FAILURE_FLOOR_MIN_MS, FAILURE_FLOOR_FACTOR * (performance.now() - started));
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
