/**
 * From a counters config entry to the counter(9) handles it names: the
 * handle itself, the one stored at a symbol, or an array of them, each
 * probed once at setup so that an entry pointing at something that is not a
 * counter(9) is left out with the reason instead of read at every scrape.
 */
import { COUNTER_HANDLE_BYTES } from '../../abi.js';
import { metricName } from '../../config/names.js';
import type { CounterEntry, MetricKind } from '../../config/types.js';
import { readZpcpu, type KvmSession } from '../../kvm/index.js';
import { describeSource as describeField, type Resolved } from '../framework/config-entries.js';

/** What a family of a counter needs besides its series. */
export interface FamilyHead {
  readonly name: string;
  readonly help: string;
  readonly type: MetricKind;
}

/** One counter(9) handle and the families it feeds. */
export interface Counter {
  readonly key: string;
  readonly source: string;
  readonly handle: bigint;
  /** Gauges and untyped counters may be decremented: their copies are int64. */
  readonly signed: boolean;
  readonly sum: FamilyHead;
  /** The per-CPU family, when the entry asks for per-CPU series. */
  readonly percpu?: FamilyHead;
}

/** Reads an entry's handle(s) from the kernel and checks each can be read; throws if not. */
export function resolveCounter(session: KvmSession, entry: CounterEntry, key: string): Resolved<Counter>[] {
  return locateHandles(session, entry).map(({ element, handle, source }) => {
    const stem = element === undefined ? entry.name : `${entry.name}_${element}`;
    probeHandle(session, handle, source);
    const counter = makeCounter(entry, element === undefined ? key : `${key} ${element}`, stem, source, handle);
    const metrics = counter.percpu ? [counter.sum.name, counter.percpu.name] : [counter.sum.name];
    return { item: counter, report: { key: counter.key, source, address: handle, metrics } };
  });
}

interface LocatedHandle {
  readonly element?: string;
  readonly handle: bigint;
  readonly source: string;
}

function locateHandles(session: KvmSession, entry: CounterEntry): LocatedHandle[] {
  const source = entry.source;
  switch (source.kind) {
    case 'address':
      return [{ handle: source.handle, source: describeCounterSource(entry) }];
    case 'symbol': {
      const at = session.lookup(source.symbol).address + BigInt(source.offset);
      return [{ handle: session.readU64(at), source: describeCounterSource(entry) }];
    }
    case 'array': {
      const at = session.lookup(source.symbol).address + BigInt(source.offset);
      const raw = Buffer.alloc(source.elements.length * COUNTER_HANDLE_BYTES);
      session.read(at, raw);
      return source.elements.map((element, i) => ({
        element,
        handle: raw.readBigUInt64LE(i * COUNTER_HANDLE_BYTES),
        source: `${source.symbol}[${i}] (${element})`,
      }));
    }
  }
}

/** A handle that is not 8-byte aligned or cannot be read on CPU 0 is not a counter(9). */
function probeHandle(session: KvmSession, handle: bigint, source: string): void {
  const hex = `0x${handle.toString(16)}`;
  if (handle % BigInt(COUNTER_HANDLE_BYTES) !== 0n) {
    throw new Error(`handle ${hex} read from ${source} is not 8-byte aligned: not a counter(9) handle (wrong symbol, offset or layout?)`);
  }
  try {
    readZpcpu(session, handle, 0, Buffer.alloc(COUNTER_HANDLE_BYTES));
  } catch (error) {
    throw new Error(`handle ${hex} from ${source} cannot be read: ${(error as Error).message} (wrong symbol, offset or layout?)`);
  }
}

function makeCounter(entry: CounterEntry, key: string, stem: string, source: string, handle: bigint): Counter {
  const lead = entry.help ? `${entry.help}. ` : '';
  const signed = entry.type !== 'counter';
  const sum = { name: metricName(stem, entry.type), help: `${lead}counter(9) ${source}, sum over CPUs`, type: entry.type };
  const percpu = entry.perCpu
    ? { name: metricName(`${stem}_percpu`, entry.type), help: `${lead}counter(9) ${source}, per CPU`, type: entry.type }
    : undefined;
  return { key, source, handle, signed, sum, ...(percpu && { percpu }) };
}

/** Where an entry's handle comes from, before it is read. */
export function describeCounterSource(entry: CounterEntry): string {
  const source = entry.source;
  switch (source.kind) {
    case 'address':
      return `handle 0x${source.handle.toString(16)}`;
    case 'symbol':
      return describeField(source.symbol, source.field, source.offset);
    case 'array':
      return describeField(source.symbol, undefined, source.offset);
  }
}
