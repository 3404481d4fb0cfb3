/**
 * struct kinfo_proc records as the simulated kernel stores them in its
 * process area: 1088 bytes at the amd64 offsets of FreeBSD 13+
 * sys/sys/user.h, one record per thread, the records of a process
 * contiguous, the first one standing for the process (sim/README.md).
 *
 * Only the fields the simulator models are written; the rest stay zero.
 * Process-wide fields (pid, uid, jid, comm, sizes, ki_numthreads) are
 * repeated on every thread's record, as fill_kinfo_proc does; ki_runtime is
 * the process total on the first record and the thread's own on the others.
 */
import { ARGS_INDEX_ENTRY_SIZE, KINFO_PROC_SIZE } from './format.js';

/** Field offsets inside struct kinfo_proc on amd64. */
export const KI_STRUCTSIZE = 0;
export const KI_PID = 72;
export const KI_PPID = 76;
export const KI_PGID = 80;
export const KI_SID = 88;
export const KI_UID = 168;
export const KI_RUID = 172;
export const KI_SVUID = 176;
export const KI_RGID = 180;
export const KI_SVGID = 184;
export const KI_NGROUPS = 188;
export const KI_GROUPS = 192;
export const KI_SIZE = 256;
export const KI_RSSIZE = 264;
export const KI_PCTCPU = 308;
export const KI_RUNTIME = 328;
export const KI_START = 336;
export const KI_STAT = 388;
export const KI_NICE = 389;
export const KI_TDNAME = 394;
export const KI_WMESG = 411;
export const KI_COMM = 447;
export const KI_JID = 592;
export const KI_NUMTHREADS = 596;
export const KI_TID = 600;
export const KI_PRI = 604;

/** Buffer sizes of the string fields (COMMLEN+1, TDNAMLEN+1, WMESGLEN+1). */
export const KI_COMM_SIZE = 20;
export const KI_TDNAME_SIZE = 17;
export const KI_WMESG_SIZE = 9;

/** ki_stat values (sys/sys/proc.h). */
export const ProcState = {
  SIDL: 1,
  SRUN: 2,
  SSLEEP: 3,
  SSTOP: 4,
  SZOMB: 5,
  SWAIT: 6,
  SLOCK: 7,
} as const;
export type ProcStateValue = (typeof ProcState)[keyof typeof ProcState];

export interface KinfoThread {
  tid: number;
  /** Thread name (ki_tdname), at most 16 bytes. */
  name: string;
  stat: ProcStateValue;
  /** ki_wmesg for sleeping threads, at most 8 bytes. */
  wmesg?: string;
  /** struct priority pri_level. */
  priority?: number;
  /** CPU time used by this thread, microseconds. */
  runtimeUs?: bigint;
}

export interface KinfoProcess {
  pid: number;
  ppid: number;
  pgid?: number;
  sid?: number;
  uid: number;
  ruid?: number;
  gid?: number;
  rgid?: number;
  jid: number;
  /** Command name (ki_comm), at most 19 bytes of UTF-8. */
  comm: string;
  /**
   * The raw bytes of ki_comm when they are not UTF-8 (the kernel copies a
   * file name's bytes as they are, sys/kern/kern_exec.c); replaces `comm`
   * in the record.
   */
  commBytes?: Uint8Array;
  nice?: number;
  /** Virtual size in bytes (ki_size). */
  sizeBytes: bigint;
  /** Resident set size in pages (ki_rssize). */
  rssPages: bigint;
  /** Start time, seconds since the epoch (ki_start.tv_sec). */
  startSec?: bigint;
  /** At least one thread; a zombie keeps one. */
  threads: KinfoThread[];
  /**
   * The command line as exec(2) received it (the kernel's p_args, which
   * kvm_getargv reads through the kern.proc.args sysctl), each argument a
   * string (UTF-8) or raw bytes. None for kernel processes and zombies,
   * whose p_args is NULL (sys/kern/kern_exit.c frees it).
   */
  argv?: readonly (string | Uint8Array)[];
}

function writeCString(buf: Buffer, offset: number, size: number, text: string | Uint8Array, what: string): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  if (bytes.length >= size) {
    throw new RangeError(`kinfo_proc ${what} "${text}" is ${bytes.length} bytes; the field holds ${size - 1}`);
  }
  bytes.copy(buf, offset);
}

function processRuntime(p: KinfoProcess): bigint {
  return p.threads.reduce((sum, t) => sum + (t.runtimeUs ?? 0n), 0n);
}

function writeProcessFields(rec: Buffer, p: KinfoProcess): void {
  rec.writeInt32LE(KINFO_PROC_SIZE, KI_STRUCTSIZE);
  rec.writeInt32LE(p.pid, KI_PID);
  rec.writeInt32LE(p.ppid, KI_PPID);
  rec.writeInt32LE(p.pgid ?? p.pid, KI_PGID);
  rec.writeInt32LE(p.sid ?? p.pid, KI_SID);
  rec.writeUInt32LE(p.uid, KI_UID);
  rec.writeUInt32LE(p.ruid ?? p.uid, KI_RUID);
  rec.writeUInt32LE(p.uid, KI_SVUID);
  rec.writeUInt32LE(p.rgid ?? p.gid ?? 0, KI_RGID);
  rec.writeUInt32LE(p.gid ?? 0, KI_SVGID);
  rec.writeInt16LE(1, KI_NGROUPS);
  rec.writeUInt32LE(p.gid ?? 0, KI_GROUPS);
  rec.writeBigUInt64LE(p.sizeBytes, KI_SIZE);
  rec.writeBigInt64LE(p.rssPages, KI_RSSIZE);
  rec.writeBigInt64LE(p.startSec ?? 0n, KI_START);
  rec.writeInt8(p.nice ?? 0, KI_NICE);
  writeCString(rec, KI_COMM, KI_COMM_SIZE, p.commBytes ?? p.comm, `ki_comm of pid ${p.pid}`);
  rec.writeInt32LE(p.jid, KI_JID);
  rec.writeInt32LE(p.threads.length, KI_NUMTHREADS);
}

function writeThreadFields(rec: Buffer, p: KinfoProcess, t: KinfoThread, runtimeUs: bigint): void {
  rec.writeInt8(t.stat, KI_STAT);
  writeCString(rec, KI_TDNAME, KI_TDNAME_SIZE, t.name, `ki_tdname of tid ${t.tid} (pid ${p.pid})`);
  if (t.wmesg !== undefined) {
    writeCString(rec, KI_WMESG, KI_WMESG_SIZE, t.wmesg, `ki_wmesg of tid ${t.tid}`);
  }
  rec.writeInt32LE(t.tid, KI_TID);
  rec.writeUInt8(t.priority ?? 120, KI_PRI + 1);
  rec.writeBigUInt64LE(runtimeUs, KI_RUNTIME);
}

/** The records of one process: one per thread, the first for the process. */
export function encodeProcess(p: KinfoProcess): Buffer {
  if (p.threads.length === 0) {
    throw new RangeError(`process ${p.pid} (${p.comm}) has no threads; every process has at least one`);
  }
  const out = Buffer.alloc(p.threads.length * KINFO_PROC_SIZE);
  p.threads.forEach((t, i) => {
    const rec = out.subarray(i * KINFO_PROC_SIZE, (i + 1) * KINFO_PROC_SIZE);
    writeProcessFields(rec, p);
    writeThreadFields(rec, p, t, i === 0 ? processRuntime(p) : (t.runtimeUs ?? 0n));
  });
  return out;
}

export function encodeProcesses(procs: readonly KinfoProcess[]): Buffer {
  return Buffer.concat(procs.map(encodeProcess));
}

/** p_args as the kernel stores it: every argument followed by a NUL. */
export function encodeArgv(argv: readonly (string | Uint8Array)[]): Buffer {
  return Buffer.concat(argv.flatMap((arg) => [typeof arg === 'string' ? Buffer.from(arg, 'utf8') : Buffer.from(arg), Buffer.alloc(1)]));
}

/**
 * The image's argument area for these processes (sim/README.md): an index of
 * `capacity` (offset, length) entries, one per record, with the process's
 * arguments on its first record, then a heap of `heapBytes` bytes.
 */
export function encodeArgsArea(procs: readonly KinfoProcess[], capacity: number, heapBytes: number): Buffer {
  const area = Buffer.alloc(capacity * ARGS_INDEX_ENTRY_SIZE + heapBytes);
  let record = 0;
  let heap = 0;
  for (const p of procs) {
    const args = p.argv === undefined ? Buffer.alloc(0) : encodeArgv(p.argv);
    if (heap + args.length > heapBytes) throw new RangeError(`the arguments of pid ${p.pid} do not fit the ${heapBytes}-byte argument heap`);
    area.writeUInt32LE(heap, record * ARGS_INDEX_ENTRY_SIZE);
    area.writeUInt32LE(args.length, record * ARGS_INDEX_ENTRY_SIZE + 4);
    args.copy(area, capacity * ARGS_INDEX_ENTRY_SIZE + heap);
    heap += args.length;
    record += p.threads.length;
  }
  return area;
}

/** The processes with their arguments from an argument area (the argv of each process's first record). */
export function decodeArgsArea(procs: readonly KinfoProcess[], area: Buffer, capacity: number): KinfoProcess[] {
  let record = 0;
  return procs.map((p) => {
    const off = area.readUInt32LE(record * ARGS_INDEX_ENTRY_SIZE);
    const len = area.readUInt32LE(record * ARGS_INDEX_ENTRY_SIZE + 4);
    record += p.threads.length;
    if (len === 0) return p;
    const bytes = area.subarray(capacity * ARGS_INDEX_ENTRY_SIZE + off, capacity * ARGS_INDEX_ENTRY_SIZE + off + len - 1);
    return { ...p, argv: splitArgs(bytes) };
  });
}

/** NUL-separated arguments; one that is not UTF-8 stays bytes. */
function splitArgs(bytes: Buffer): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0) continue;
    const arg = bytes.subarray(start, i);
    const text = arg.toString('utf8');
    out.push(Buffer.from(text, 'utf8').equals(arg) ? text : new Uint8Array(arg));
    start = i + 1;
  }
  return out;
}

/** The heap bytes these processes' arguments take. */
export function argsBytes(procs: readonly KinfoProcess[]): number {
  return procs.reduce((n, p) => n + (p.argv === undefined ? 0 : encodeArgv(p.argv).length), 0);
}

export function recordCount(procs: readonly KinfoProcess[]): number {
  return procs.reduce((n, p) => n + p.threads.length, 0);
}

function readCString(rec: Buffer, offset: number, size: number): string {
  const field = rec.subarray(offset, offset + size);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? size : end).toString('utf8');
}

function decodeThread(rec: Buffer): KinfoThread {
  const wmesg = readCString(rec, KI_WMESG, KI_WMESG_SIZE);
  return {
    tid: rec.readInt32LE(KI_TID),
    name: readCString(rec, KI_TDNAME, KI_TDNAME_SIZE),
    stat: rec.readInt8(KI_STAT) as ProcStateValue,
    ...(wmesg === '' ? {} : { wmesg }),
    priority: rec.readUInt8(KI_PRI + 1),
    runtimeUs: rec.readBigUInt64LE(KI_RUNTIME),
  };
}

function decodeProcessHead(rec: Buffer): KinfoProcess {
  return {
    pid: rec.readInt32LE(KI_PID),
    ppid: rec.readInt32LE(KI_PPID),
    pgid: rec.readInt32LE(KI_PGID),
    sid: rec.readInt32LE(KI_SID),
    uid: rec.readUInt32LE(KI_UID),
    ruid: rec.readUInt32LE(KI_RUID),
    gid: rec.readUInt32LE(KI_GROUPS),
    rgid: rec.readUInt32LE(KI_RGID),
    jid: rec.readInt32LE(KI_JID),
    comm: readCString(rec, KI_COMM, KI_COMM_SIZE),
    nice: rec.readInt8(KI_NICE),
    sizeBytes: rec.readBigUInt64LE(KI_SIZE),
    rssPages: rec.readBigInt64LE(KI_RSSIZE),
    startSec: rec.readBigInt64LE(KI_START),
    threads: [],
  };
}

/**
 * Decodes a process area back into processes, grouping consecutive records
 * by pid. The first thread's runtime is restored from the process total.
 */
export function decodeProcesses(area: Buffer, records: number): KinfoProcess[] {
  const procs: KinfoProcess[] = [];
  for (let i = 0; i < records; i++) {
    const rec = area.subarray(i * KINFO_PROC_SIZE, (i + 1) * KINFO_PROC_SIZE);
    const last = procs[procs.length - 1];
    if (last === undefined || last.pid !== rec.readInt32LE(KI_PID)) procs.push(decodeProcessHead(rec));
    (procs[procs.length - 1] as KinfoProcess).threads.push(decodeThread(rec));
  }
  for (const p of procs) restoreFirstRuntime(p);
  return procs;
}

function restoreFirstRuntime(p: KinfoProcess): void {
  const [first, ...rest] = p.threads;
  if (first === undefined) return;
  const others = rest.reduce((sum, t) => sum + (t.runtimeUs ?? 0n), 0n);
  first.runtimeUs = (first.runtimeUs ?? 0n) - others;
}
