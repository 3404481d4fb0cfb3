/**
 * Per-CPU kernel data, as `lib/libkvm/kvm_pcpu.c` serves it: the CPU
 * topology, counter(9) copies (`kvm_read_zpcpu`, `kvm_counter_u64_fetch`),
 * `struct pcpu` (`kvm_getpcpu`) and DPCPU variables (`dpcpu_off[]`, as the
 * kernel's DPCPU_ID_PTR).
 *
 * libkvm's own conventions are unsafe to pass upward: it sums counters over
 * CPU ids 0..mp_ncpus-1 (wrong when ids are sparse), returns 0 from
 * kvm_counter_u64_fetch on error, and keeps its per-CPU cache in process-wide
 * static storage. Each function here turns those into values or errors.
 *
 * @see kvm_getpcpu(3)
 */
import { PAGE_SIZE, PCPU_SIZE } from '../abi.js';
import { KvmLayoutError, KvmReadError } from '../errors.js';
import { POINTER_MINUS_ONE, copyMemory } from './binding.js';
import type { KvmSession } from './session.js';

/** offsetof(struct pcpu, pc_cpuid) on FreeBSD 13+ amd64 (sys/sys/pcpu.h). */
export const PC_CPUID_OFFSET = 60;
/** counter(9) copies live one page apart: UMA_PCPU_ALLOC_SIZE = PAGE_SIZE. */
export const ZPCPU_STRIDE = PAGE_SIZE;

export interface CpuTopology {
  /** `mp_maxcpus`, the kernel's compile-time MAXCPU (kvm_getmaxcpu). */
  readonly maxCpus: number;
  /** `mp_ncpus`, the number of CPUs (kvm_getncpus). */
  readonly ncpus: number;
  /** Ids whose `cpuid_to_pcpu` entry is set, ascending; they can be sparse. */
  readonly present: readonly number[];
  /** True when the present ids are exactly 0..ncpus-1. */
  readonly dense: boolean;
}

/** @see kvm_getpcpu(3) kvm_getmaxcpu */
export function getMaxCpu(session: KvmSession): number {
  const n = session.invoke((kd) => session.lib.kvm_getmaxcpu(kd));
  if (n < 0) throw session.callError('kvm_getmaxcpu', 'kd');
  return n;
}

/**
 * Drops the part of libkvm's process-wide per-CPU cache that can be dropped:
 * MAXCPU and its copy of cpuid_to_pcpu[] (kvm_getmaxcpu(NULL) calls
 * _kvm_pcpu_clear). The next kvm_getpcpu re-reads them from the kernel.
 * mp_ncpus and __pcpu stay cached for the life of the process.
 * @see kvm_getpcpu(3) kvm_getmaxcpu
 */
export function clearPcpuCache(session: KvmSession): void {
  session.lib.kvm_getmaxcpu(null);
}

/** @see kvm_getpcpu(3) kvm_getncpus */
export function getNcpus(session: KvmSession): number {
  const n = session.invoke((kd) => session.lib.kvm_getncpus(kd));
  if (n < 0) throw session.callError('kvm_getncpus', 'kd');
  return n;
}

/**
 * Reads the topology: MAXCPU and mp_ncpus through libkvm, and the present
 * ids from `cpuid_to_pcpu[]` in one read (libkvm would read a whole 4 KB
 * struct pcpu per id to say the same).
 *
 * `ncpus` is libkvm's view: kvm_pcpu.c caches mp_ncpus in process-wide
 * static storage and never refreshes it, so after a CPU leaves or returns,
 * or after another kernel was opened in this process, it can differ from the
 * kernel's current mp_ncpus. `dense` is computed against that same view, so
 * it is true exactly when kvm_counter_u64_fetch (which sums CPUs
 * 0..ncpus-1) sums the present CPUs.
 */
export function readTopology(session: KvmSession): CpuTopology {
  const maxCpus = getMaxCpu(session);
  const ncpus = getNcpus(session);
  const table = Buffer.alloc(maxCpus * 8);
  session.read(session.lookup('cpuid_to_pcpu').address, table);
  const present: number[] = [];
  for (let cpu = 0; cpu < maxCpus; cpu++) {
    if (table.readBigUInt64LE(cpu * 8) !== 0n) present.push(cpu);
  }
  checkZpcpuBase(session, present);
  const dense = present.length === ncpus && present.every((cpu, i) => cpu === i);
  return { maxCpus, ncpus, present, dense };
}

/**
 * kvm_read_zpcpu adds libkvm's cached `__pcpu` to every handle; that cache is
 * process-wide and never reset. Reading `pc_cpuid` of the first and last
 * present CPU through it proves the cache points at this kernel's struct
 * pcpu array before any counter is read through it.
 */
function checkZpcpuBase(session: KvmSession, present: readonly number[]): void {
  const probe = Buffer.alloc(4);
  for (const cpu of new Set([present[0], present[present.length - 1]])) {
    if (cpu === undefined) continue;
    readZpcpu(session, BigInt(PC_CPUID_OFFSET), cpu, probe);
    const seen = probe.readUInt32LE(0);
    if (seen !== cpu) {
      throw new KvmLayoutError(
        `kvm_read_zpcpu of pc_cpuid on CPU ${cpu} read ${seen}: libkvm's process-wide cached __pcpu ` +
          "(lib/libkvm/kvm_pcpu.c) does not point at this kernel's struct pcpu array, or struct pcpu " +
          'is not the FreeBSD 13+ amd64 layout',
      );
    }
  }
}

/**
 * Reads CPU `cpu`'s copy of the per-CPU allocation at `handle` (an offset
 * from __pcpu on amd64) into `out`, exactly `out.length` bytes.
 * @see kvm_getpcpu(3) kvm_read_zpcpu
 */
export function readZpcpu(session: KvmSession, handle: bigint, cpu: number, out: Buffer): void {
  const got = session.invoke((kd) => session.lib.kvm_read_zpcpu(kd, handle, out, out.length, cpu));
  if (got === out.length) return;
  // 0 also means "per-CPU cache could not be initialised"; -1 a non-native kernel.
  const detail = got === -1 && session.lastError() === '' ? 'kernel is not native (kvm_native is 0)' : session.lastError();
  throw new KvmReadError('kvm_read_zpcpu', handle, out.length, got, detail, cpu);
}

/**
 * Every CPU's copy of `length` bytes at `handle` (neighbouring counter
 * handles of one page), laid out as the kernel lays them out: CPU c's copy
 * starts at byte `c * ZPCPU_STRIDE` of the result, for c = 0..`lastCpu`.
 * The result is `ZPCPU_STRIDE * lastCpu + length` bytes; what lies between
 * the copies is whatever else the slab holds and is not to be read.
 *
 * One kvm_read_zpcpu (CPU 0, the whole run) reads them all: on amd64 CPU i's
 * copy is at `__pcpu + handle + 4096*i` (lib/libkvm/kvm_pcpu.c,
 * kvm_read_zpcpu), and UMA backs a per-CPU slab with one page per CPU id
 * 0..mp_maxid, absent ids included, mapped at consecutive addresses
 * (sys/vm/uma_core.c, pcpu_page_alloc: `bytes == (mp_maxid + 1) *
 * PAGE_SIZE`, pmap_qenter page after page). `lastCpu` is a present id, so it
 * is at most mp_maxid and the run stays inside the slab.
 *
 * `into`, when given and large enough, receives the copies and the result is
 * a view of it: a caller that reads every scrape reuses one buffer, because
 * a fresh buffer per read costs more in page faults than the read itself.
 */
export function readZpcpuRun(session: KvmSession, handle: bigint, length: number, lastCpu: number, into?: Buffer): Buffer {
  const out = strided(length, lastCpu, into);
  readZpcpu(session, handle, 0, out);
  return out;
}

/**
 * The same result as readZpcpuRun, from one kvm_read_zpcpu per CPU in
 * `cpus` (ascending, the last being `lastCpu`): for a run the single read
 * could not read. The bytes between the copies are left as they were.
 */
export function readZpcpuEach(session: KvmSession, handle: bigint, length: number, cpus: readonly number[], into?: Buffer): Buffer {
  const out = strided(length, cpus[cpus.length - 1] ?? 0, into);
  for (const cpu of cpus) readZpcpu(session, handle, cpu, out.subarray(cpu * ZPCPU_STRIDE, cpu * ZPCPU_STRIDE + length));
  return out;
}

/**
 * Every present CPU's copy, laid out as readZpcpuRun lays them: one read of
 * the whole run, or one per CPU where that single read fails (a kernel whose
 * per-CPU slab is not one run of pages). `onFallback` hears the single
 * read's error once the copies have been read one by one; a copy that cannot
 * be read fails both ways and throws its CPU's own error.
 */
export function readZpcpuCopies(
  session: KvmSession,
  handle: bigint,
  length: number,
  cpus: readonly number[],
  into?: Buffer,
  onFallback?: (runError: unknown) => void,
): Buffer {
  try {
    return readZpcpuRun(session, handle, length, cpus[cpus.length - 1]!, into);
  } catch (runError) {
    const rows = readZpcpuEach(session, handle, length, cpus, into);
    onFallback?.(runError);
    return rows;
  }
}

function strided(length: number, lastCpu: number, into: Buffer | undefined): Buffer {
  const size = ZPCPU_STRIDE * lastCpu + length;
  return into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
}

/**
 * The sum of a counter(9) over CPUs 0..mp_ncpus-1, as the kernel's
 * counter_u64_fetch computes it when CPU ids are dense. libkvm returns 0 both
 * for a real zero and for any failed read, so a 0 is verified by reading
 * every CPU's copy before it is believed.
 * @see kvm_getpcpu(3) kvm_counter_u64_fetch
 */
export function counterU64Fetch(session: KvmSession, handle: bigint, ncpus: number): bigint {
  const value = BigInt(session.lib.kvm_counter_u64_fetch(session.kd(), handle));
  if (value !== 0n) return value;
  const copy = Buffer.alloc(8);
  let sum = 0n;
  for (let cpu = 0; cpu < ncpus; cpu++) {
    readZpcpu(session, handle, cpu, copy);
    sum += copy.readBigUInt64LE(0);
  }
  if (sum !== 0n) {
    // The copies moved between the two reads: trust the later, verified sum.
    return sum & ((1n << 64n) - 1n);
  }
  return 0n;
}

/**
 * A copy of CPU `cpu`'s `struct pcpu`, or undefined when the CPU is absent.
 * libkvm mallocs the buffer; it is copied and freed here.
 * @see kvm_getpcpu(3)
 */
export function getPcpu(session: KvmSession, cpu: number): Buffer | undefined {
  const ptr = session.invoke((kd) => session.lib.kvm_getpcpu(kd, cpu));
  if (ptr === null) return undefined;
  if (ptr === POINTER_MINUS_ONE) throw session.callError('kvm_getpcpu', `kd, ${cpu}`);
  try {
    return copyMemory(ptr, PCPU_SIZE);
  } finally {
    session.lib.free(ptr);
  }
}

/**
 * DPCPU variables (`DPCPU_DEFINE`), read as the kernel itself reaches another
 * CPU's copy: `DPCPU_ID_PTR(i, n)` is `dpcpu_off[i] + &pcpu_entry_<n>`
 * (sys/sys/pcpu.h), where `&pcpu_entry_<n>` is the variable's address in the
 * `set_pcpu` linker set (the template) and `dpcpu_off[i]` CPU i's area minus
 * `__start_set_pcpu` (sys/kern/subr_pcpu.c, dpcpu_init).
 *
 * libkvm offers the same through kvm_dpcpu_setcpu and a fresh kvm_nlist per
 * CPU (lib/libkvm/kvm_pcpu.c, _kvm_dpcpu_validaddr adds the selected CPU's
 * dpcpu_off to a `pcpu_entry_` hit), but every such kvm_nlist first misses
 * the plain name, and on a live kernel each lookup is a kldsym(2) over every
 * loaded file. Here each template is looked up once per handle (the
 * session's symbol cache) and `dpcpu_off[]` is read once, as libkvm's own
 * _kvm_dpcpu_init reads `mp_maxcpus` entries of it once per handle; a scrape
 * then costs one kvm_read per CPU and no symbol lookup.
 *
 * An absent CPU's `dpcpu_off` entry is 0: never set (the array is in .bss),
 * or cleared by pcpu_destroy (sys/kern/subr_pcpu.c). A CPU that starts after
 * the array was read (pcpu_init publishes cpuid_to_pcpu[] before dpcpu_init
 * fills dpcpu_off[], sys/amd64/amd64/mp_machdep.c init_secondary) finds a
 * 0 in the copy, which makes the array be read again.
 */
export class DpcpuOffsets {
  /** A copy of `dpcpu_off[]`, read at the first use and again when a present CPU has no entry in it. */
  private offsets: Buffer | undefined;

  private constructor(
    private readonly session: KvmSession,
    private readonly array: bigint,
    private readonly setStart: bigint,
    private readonly setStop: bigint,
  ) {}

  /** Looks up `dpcpu_off` and the bounds of `set_pcpu` (cached by the session for the handle's life). */
  static resolve(session: KvmSession): DpcpuOffsets {
    return new DpcpuOffsets(
      session,
      session.lookup('dpcpu_off').address,
      session.lookup('__start_set_pcpu').address,
      session.lookup('__stop_set_pcpu').address,
    );
  }

  /**
   * The template address of DPCPU variable `name`: the `pcpu_entry_<name>`
   * symbol, which kvm_nlist returns untranslated when asked by that name
   * (lib/libkvm/kvm.c _kvm_nlist translates only hits it made by adding the
   * prefix itself). It must lie inside `set_pcpu`, as libkvm's
   * _kvm_dpcpu_validaddr requires before it translates.
   */
  template(name: string): bigint {
    const symbol = `${DPCPU_SYMBOL_PREFIX}${name}`;
    const address = this.session.lookup(symbol).address;
    if (address < this.setStart || address >= this.setStop) {
      throw new KvmLayoutError(
        `${symbol} is at 0x${address.toString(16)}, outside set_pcpu ` +
          `[0x${this.setStart.toString(16)}, 0x${this.setStop.toString(16)}): not a DPCPU variable`,
      );
    }
    return address;
  }

  /**
   * Reads `length` bytes at `offset` into the variable whose template is at
   * `template`, for each CPU of `cpus` (present ids): row i of the result is
   * `cpus[i]`'s copy, one kvm_read each.
   */
  read(template: bigint, offset: number, length: number, cpus: readonly number[]): Buffer {
    const out = Buffer.allocUnsafe(length * cpus.length);
    cpus.forEach((cpu, i) => {
      const address = BigInt.asUintN(64, this.offsetOf(cpu) + template + BigInt(offset));
      this.session.read(address, out.subarray(i * length, (i + 1) * length), length);
    });
    return out;
  }

  /**
   * `dpcpu_off[cpu]` of a present CPU. A cached 0 means the CPU had no area
   * when the array was read, so the array is read again before the CPU is
   * given up; an area, once set, stays (dpcpu_init runs once per CPU).
   */
  private offsetOf(cpu: number): bigint {
    if (this.offsets === undefined || this.cached(cpu) === 0n) this.offsets = this.readArray();
    const off = this.cached(cpu);
    if (off === 0n) {
      throw new KvmLayoutError(`CPU ${cpu} has no DPCPU area: dpcpu_off[${cpu}] is 0 (the CPU is absent or not started yet)`);
    }
    return off;
  }

  private cached(cpu: number): bigint {
    const at = cpu * 8;
    return at + 8 <= this.offsets!.length ? this.offsets!.readBigUInt64LE(at) : 0n;
  }

  /** The whole array, `mp_maxcpus` (kvm_getmaxcpu) entries, in one read. */
  private readArray(): Buffer {
    const bytes = Buffer.alloc(getMaxCpu(this.session) * 8);
    this.session.read(this.array, bytes);
    return bytes;
  }
}

/** DPCPU_SYMPREFIX (sys/sys/pcpu.h): how a DPCPU variable is named in the kernel's symbol table. */
const DPCPU_SYMBOL_PREFIX = 'pcpu_entry_';

const STALE = "libkvm's process-wide per-CPU cache (lib/libkvm/kvm_pcpu.c) still describes another kernel after a refresh";
const REMEDY = 'a new process reads this kernel (restart the exporter)';

/**
 * Makes libkvm's process-wide per-CPU cache describe the kernel behind
 * `session`, and checks that it does; called once per open, before anything
 * is read through it.
 *
 * lib/libkvm/kvm_pcpu.c keeps MAXCPU, mp_ncpus, __pcpu and a copy of
 * cpuid_to_pcpu[] in static storage, filled by the first handle that needs
 * them. A kernel opened after another of a different shape in the same
 * process would be read through the other kernel's view: CPUs past its
 * MAXCPU missing from every per-CPU series, its CPU count in kvm_getncpus
 * and kvm_counter_u64_fetch, its table in kvm_getpcpu. kvm_getmaxcpu(NULL)
 * clears the cache, and the next call re-reads all of it (_kvm_pcpu_init
 * reads mp_ncpus and __pcpu again), so the cache is refreshed first; if it
 * still disagrees with the kernel's own mp_maxcpus, mp_ncpus and
 * cpuid_to_pcpu[], the handle is refused rather than read with another
 * kernel's shape.
 */
export function refreshPcpuCache(session: KvmSession): void {
  clearPcpuCache(session);
  const cachedMax = getMaxCpu(session);
  const cachedNcpus = getNcpus(session);
  const kernelMax = kernelInt(session, 'mp_maxcpus');
  const kernelNcpus = kernelInt(session, 'mp_ncpus');
  if (cachedMax !== kernelMax || cachedNcpus !== kernelNcpus) {
    throw new KvmLayoutError(
      `${STALE}: kvm_getmaxcpu says ${cachedMax} and kvm_getncpus ${cachedNcpus}, but this kernel's ` +
        `mp_maxcpus is ${kernelMax} and mp_ncpus ${kernelNcpus}; ${REMEDY}`,
    );
  }
  const unknown = readTopology(session).present.filter((cpu) => getPcpu(session, cpu) === undefined);
  if (unknown.length > 0) {
    throw new KvmLayoutError(
      `${STALE}: kvm_getpcpu returns NULL for CPU ${unknown.join(', ')}, which this kernel's cpuid_to_pcpu lists; ${REMEDY}`,
    );
  }
}

function kernelInt(session: KvmSession, symbol: string): number {
  return session.readI32(session.lookup(symbol).address);
}
