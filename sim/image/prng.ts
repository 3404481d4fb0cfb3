/**
 * The simulator's deterministic pseudo-random numbers: Marsaglia's
 * xorshift32 (13, 17, 5), seeded from a number or a 4-character tag as
 * drgn's test PRNG is. Small enough that a test can recompute the sequence
 * itself and predict every value the activity driver writes.
 */

/** The seed for a 4-character tag: its bytes as a little-endian u32. */
export function seedFromTag(tag: string): number {
  if (tag.length !== 4) {
    throw new RangeError(`PRNG tag "${tag}" must be exactly 4 characters`);
  }
  let seed = 0;
  for (let i = 0; i < 4; i++) seed |= (tag.charCodeAt(i) & 0xff) << (8 * i);
  return seed >>> 0;
}

export class Xorshift32 {
  private state: number;

  constructor(seed: number | string) {
    const s = typeof seed === 'string' ? seedFromTag(seed) : seed >>> 0;
    // xorshift never leaves 0, so 0 is replaced by a fixed non-zero state.
    this.state = s === 0 ? 0x9e3779b9 : s;
  }

  /** The next value in [1, 2^32). */
  nextU32(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** Picks one element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[this.nextInt(items.length)] as T;
  }
}
