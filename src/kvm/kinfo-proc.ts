/**
 * `struct kinfo_proc` as `kvm_getprocs(3)` returns it, read in place.
 *
 * The offsets are those of `sys/sys/user.h` on FreeBSD 13+ for LP64 targets
 * (amd64 and arm64 share the layout; KINFO_PROC_SIZE is 1088 on both, see
 * `sys/amd64/include/proc.h` and `sys/arm64/include/proc.h`). A scrape needs
 * a few fields of every record, so the list below reads them in place through
 * a DataView over libkvm's own buffer instead of decoding records into objects.
 */
import { int64FromHalves } from '../abi.js';
import { KvmLayoutError } from '../errors.js';

/** KINFO_PROC_SIZE on amd64 and arm64. */
export const KINFO_PROC_SIZE = 1088;

/** Field offsets in `struct kinfo_proc` (sys/sys/user.h, LP64). */
export const KI = {
  structsize: 0,
  pid: 72,
  ppid: 76,
  pgid: 80,
  uid: 168,
  ruid: 172,
  size: 256,
  rssize: 264,
  runtime: 328,
  stat: 388,
  nice: 389,
  tdname: 394,
  comm: 447,
  jid: 592,
  numthreads: 596,
  tid: 600,
} as const;

/** `ki_comm` is `char[COMMLEN + 1]`, COMMLEN 19. */
const COMM_SIZE = 20;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A command name's bytes as text. The kernel copies them from the exec'd
 * file's name without any encoding (sys/kern/kern_exec.c), so they are
 * UTF-8 on any modern system, and `café` must read as `café`. Bytes that
 * are not valid UTF-8 are kept visible as `\xNN`, and a backslash itself
 * becomes `\\`, so two different names never read the same.
 */
export function decodeCommand(bytes: Uint8Array): string {
  if (isPlainAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return escapeInvalidUtf8(bytes);
  }
  return text.replaceAll('\\', '\\\\');
}

/** ASCII without a backslash reads the same in every decoding: the common case, decoded the cheap way. */
function isPlainAscii(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte >= 0x80 || byte === 0x5c) return false;
  return true;
}

/** Decodes byte by byte: each valid UTF-8 sequence as its character, each other byte as `\xNN`. */
function escapeInvalidUtf8(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      const ch = UTF8.decode(bytes.subarray(i, i + length));
      out += ch === '\\' ? '\\\\' : ch;
      i += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence starting at `at`, or 0 if there is none. */
function utf8SequenceLength(bytes: Uint8Array, at: number): number {
  for (let length = 1; length <= 4 && at + length <= bytes.length; length++) {
    try {
      UTF8.decode(bytes.subarray(at, at + length));
      return length;
    } catch {
      // A prefix of a longer sequence, or invalid: try one byte more.
    }
  }
  return 0;
}

/** `kvm_getprocs` ops (sys/sys/sysctl.h). */
export const KERN_PROC = {
  ALL: 0,
  PID: 1,
  UID: 5,
  RUID: 6,
  PROC: 8,
  /** Modifier OR-ed into an op: one record per thread. */
  INC_THREAD: 0x10,
} as const;

/** Process states, `ki_stat` (sys/sys/proc.h "legacy conversion" values). */
export const PROC_STATES = ['idle', 'running', 'sleeping', 'stopped', 'zombie', 'waiting', 'lock'] as const;
export type ProcState = (typeof PROC_STATES)[number] | 'unknown';

/** SIDL is 1 ... SLOCK is 7. */
export function procStateName(stat: number): ProcState {
  return PROC_STATES[stat - 1] ?? 'unknown';
}

/**
 * A list of `kinfo_proc` records over libkvm's buffer. It stays valid only
 * until the next `kvm_getprocs` or `kvm_close` on the same handle; `isValid`
 * tells, and every accessor refuses to read a stale buffer.
 */
export class KinfoProcList {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;

  constructor(
    buffer: ArrayBuffer,
    readonly count: number,
    private readonly isCurrent: () => boolean,
  ) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  get isValid(): boolean {
    return this.isCurrent();
  }

  pid(i: number): number { return this.i32(i, KI.pid); }
  ppid(i: number): number { return this.i32(i, KI.ppid); }
  uid(i: number): number { return this.u32(i, KI.uid); }
  ruid(i: number): number { return this.u32(i, KI.ruid); }
  jid(i: number): number { return this.i32(i, KI.jid); }
  numthreads(i: number): number { return this.i32(i, KI.numthreads); }
  tid(i: number): number { return this.i32(i, KI.tid); }
  stat(i: number): number { return this.u8(i, KI.stat); }
  /** Resident pages (`ki_rssize`, segsz_t). */
  rssize(i: number): number { return this.u64(i, KI.rssize); }
  /** Microseconds of CPU time (`ki_runtime`). */
  runtime(i: number): number { return this.u64(i, KI.runtime); }
  /** Command name, `ki_comm` (NUL-terminated, at most 19 bytes), as `decodeCommand` reads it. */
  comm(i: number): string {
    this.check(i);
    const start = i * KINFO_PROC_SIZE + KI.comm;
    let end = start;
    while (end < start + COMM_SIZE && this.bytes[end] !== 0) end++;
    return decodeCommand(this.bytes.subarray(start, end));
  }

  /** Record `i` itself, a view over libkvm's buffer (for calls that take a `struct kinfo_proc *`). */
  record(i: number): Uint8Array {
    this.check(i);
    return this.bytes.subarray(i * KINFO_PROC_SIZE, (i + 1) * KINFO_PROC_SIZE);
  }

  private check(i: number): void {
    if (!this.isCurrent()) {
      throw new KvmLayoutError('kinfo_proc list used after the next kvm_getprocs or kvm_close freed it');
    }
    if (!(i >= 0 && i < this.count)) throw new RangeError(`kinfo_proc index ${i} outside 0..${this.count - 1}`);
  }
  private u8(i: number, off: number): number {
    this.check(i);
    return this.view.getUint8(i * KINFO_PROC_SIZE + off);
  }
  private i32(i: number, off: number): number {
    this.check(i);
    return this.view.getInt32(i * KINFO_PROC_SIZE + off, true);
  }
  private u32(i: number, off: number): number {
    this.check(i);
    return this.view.getUint32(i * KINFO_PROC_SIZE + off, true);
  }
  private u64(i: number, off: number): number {
    this.check(i);
    const at = i * KINFO_PROC_SIZE + off;
    return int64FromHalves(this.view.getUint32(at + 4, true), this.view.getUint32(at, true));
  }
}
