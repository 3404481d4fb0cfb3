/**
 * Bounded little-endian reads for the CTF and ELF parsers: every read is
 * checked against the buffer, and a read past the end fails with a CtfError
 * naming the file, the part being read and the offset, never a RangeError
 * from deep inside Buffer.
 */
import { CtfError } from '../errors.js';

export class Bytes {
  constructor(
    readonly buf: Buffer,
    /** The file the bytes came from, for messages. */
    readonly file: string,
    /** What the bytes are ("CTF body", "section headers"), for messages. */
    readonly what: string,
  ) {}

  get length(): number {
    return this.buf.length;
  }

  fail(problem: string): never {
    throw new CtfError(this.file, `${this.what}: ${problem}`);
  }

  /** Throws unless `count` bytes starting at `offset` lie inside the buffer. */
  need(offset: number, count: number, part: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || count < 0 || offset + count > this.buf.length) {
      this.fail(`${part} at offset ${offset} (${count} bytes) runs past the end (${this.buf.length} bytes)`);
    }
  }

  u8(offset: number, part: string): number {
    this.need(offset, 1, part);
    return this.buf[offset]!;
  }

  u16(offset: number, part: string): number {
    this.need(offset, 2, part);
    return this.buf.readUInt16LE(offset);
  }

  u32(offset: number, part: string): number {
    this.need(offset, 4, part);
    return this.buf.readUInt32LE(offset);
  }

  s32(offset: number, part: string): number {
    this.need(offset, 4, part);
    return this.buf.readInt32LE(offset);
  }

  /** A u64 that must fit a JavaScript number exactly (sizes and offsets in files). */
  u64(offset: number, part: string): number {
    this.need(offset, 8, part);
    const value = this.buf.readBigUInt64LE(offset);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${part} at offset ${offset} is too large (${value})`);
    return Number(value);
  }

  /** A NUL-terminated string starting at `offset`; it must end before the buffer does. */
  cstring(offset: number, part: string): string {
    this.need(offset, 1, part);
    const end = this.buf.indexOf(0, offset);
    if (end < 0) this.fail(`${part} at offset ${offset} has no terminating NUL`);
    return this.buf.toString('latin1', offset, end);
  }

  slice(offset: number, count: number, part: string): Bytes {
    this.need(offset, count, part);
    return new Bytes(this.buf.subarray(offset, offset + count), this.file, part);
  }
}

/** hi·2³² + lo, refused when it exceeds what a number holds exactly (a hostile long size or offset). */
export function joinU64(bytes: Bytes, hi: number, lo: number, part: string): number {
  const value = hi * 2 ** 32 + lo;
  if (!Number.isSafeInteger(value)) bytes.fail(`${part} is too large (${hi}:${lo})`);
  return value;
}
