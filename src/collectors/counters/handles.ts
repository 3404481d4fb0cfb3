/**
 * From a counters config entry to the counter(9) handles it names: the
 * handle itself, the one stored at a symbol, or an array of them, each
 * probed once at setup so that an entry pointing at something that is not a
 * counter(9) is left out with the reason instead of read at every scrape.
 */
import { COUNTER_HANDLE_BYTES, PCPU_SIZE } from '../../abi.js';
import type { CounterEntry, EntryFamily } from '../../config/types.js';
import { readZpcpu, type KvmSession } from '../../kvm/index.js';
import type { Resolved } from '../framework/config-entries.js';

/** One counter(9) handle and the families it feeds. */
export interface Counter {
  readonly key: string;
  readonly source: string;
  readonly handle: bigint;
  /** Gauges and untyped counters may be decremented: their copies are int64. */
  readonly signed: boolean;
  readonly sum: EntryFamily;
  /** The per-CPU family, when the entry asks for per-CPU series. */
  readonly percpu?: EntryFamily;
}

/** Reads an entry's handle(s) from the kernel and checks each can be read; throws if not. */
export function resolveCounter(session: KvmSession, entry: CounterEntry, key: string): Resolved<Counter>[] {
  const handles = readHandles(session, entry);
  return entry.handles.map((names, i) => {
    const handle = handles[i]!;
    probeHandle(session, handle, names.sourceText);
    const counter: Counter = {
      key: names.element === undefined ? key : `${key} ${names.element}`,
      source: names.sourceText,
      handle,
      signed: entry.type !== 'counter',
      sum: names.sum,
      ...(names.percpu && { percpu: names.percpu }),
    };
    const metrics = names.percpu ? [names.sum.name, names.percpu.name] : [names.sum.name];
    return { item: counter, report: { key: counter.key, source: counter.source, address: handle, metrics } };
  });
}

/** The handle values, in the order of `entry.handles`. */
function readHandles(session: KvmSession, entry: CounterEntry): bigint[] {
  const source = entry.source;
  if (source.kind === 'address') return [source.handle];
  const at = session.lookup(source.symbol).address + BigInt(source.offset);
  const raw = Buffer.alloc(entry.handles.length * COUNTER_HANDLE_BYTES);
  session.read(at, raw);
  return entry.handles.map((_, i) => raw.readBigUInt64LE(i * COUNTER_HANDLE_BYTES));
}

/**
 * offsetof(struct pcpu, pc_early_dummy_counter) on amd64: EARLY_COUNTER
 * (sys/amd64/include/counter.h), the handle a COUNTER_U64_DEFINE_EARLY
 * counter holds until counter_u64_sysinit allocates it (sys/sys/counter.h,
 * sys/kern/subr_counter.c).
 */
export const EARLY_COUNTER = 168n;

/**
 * Why a handle is not a counter(9) allocation, or undefined when it may be
 * one. A handle is an offset from __pcpu, and one below sizeof(struct pcpu)
 * lands inside CPU i's own struct pcpu: it reads fields such as pointers as
 * if they were counts. Real allocations come from the pcpu-8 UMA slabs, far
 * from struct pcpu (on amd64 below the kernel image: 2^63 or more as a
 * u_long, sys/vm/uma_core.c pcpu_page_alloc).
 */
export function notACounterAllocation(handle: bigint): string | undefined {
  if (handle >= BigInt(PCPU_SIZE)) return undefined;
  const inside = `is below ${PCPU_SIZE}, an offset into struct pcpu itself, not a counter(9) allocation`;
  if (handle === 0n) {
    return `${inside}: 0 is a handle never allocated (a linker-set template such as a vnet_entry_ symbol holds 0, sys/net/vnet.h: name the variable without vnet_entry_ and set vnet: true) and would read each CPU's pc_curthread pointer as a count`;
  }
  if (handle === EARLY_COUNTER) {
    return `${inside}: ${EARLY_COUNTER} is EARLY_COUNTER (pc_early_dummy_counter), shared by every counter not allocated yet (sys/amd64/include/counter.h)`;
  }
  return `${inside} (wrong symbol, offset or layout?)`;
}

/** The error for a handle that is not a counter(9) allocation, naming where it was read; undefined for a plausible one. */
export function refusedHandle(handle: bigint, source: string): Error | undefined {
  const why = notACounterAllocation(handle);
  return why === undefined ? undefined : new Error(`handle 0x${handle.toString(16)} from ${source} ${why}`);
}

/** A handle inside struct pcpu, not 8-byte aligned or that cannot be read on CPU 0 is not a counter(9). */
function probeHandle(session: KvmSession, handle: bigint, source: string): void {
  const hex = `0x${handle.toString(16)}`;
  const refused = refusedHandle(handle, source);
  if (refused) throw refused;
  if (handle % BigInt(COUNTER_HANDLE_BYTES) !== 0n) {
    throw new Error(`handle ${hex} read from ${source} is not 8-byte aligned: not a counter(9) handle (wrong symbol, offset or layout?)`);
  }
  try {
    readZpcpu(session, handle, 0, Buffer.alloc(COUNTER_HANDLE_BYTES));
  } catch (error) {
    throw new Error(`handle ${hex} from ${source} cannot be read: ${(error as Error).message} (wrong symbol, offset or layout?)`);
  }
}
