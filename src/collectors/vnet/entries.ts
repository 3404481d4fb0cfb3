/**
 * From `vnet: true` config entries to what the vnet collector reads in each
 * network stack: where the entry's copy lies relative to a stack's
 * vnet_data_base, and the families it feeds.
 *
 * With options VIMAGE a VNET variable x has no address of its own: its
 * symbol `vnet_entry_x` lies in the set_vnet linker set, and stack v's copy
 * is at `v->vnet_data_base + &vnet_entry_x` (_VNET_PTR, sys/net/vnet.h).
 * The exporter looks `vnet_entry_x` up by that name, which libkvm returns
 * untranslated (it translates only names it prefixed itself,
 * lib/libkvm/kvm_private.c). Without VIMAGE, x is a plain global and the
 * host's is its only copy.
 */
import { CTYPE_BYTES } from '../../abi.js';
import { metricName } from '../../config/names.js';
import type { CounterEntry, VariableEntry } from '../../config/types.js';
import type { KvmSession } from '../../kvm/index.js';
import { describeSource } from '../framework/config-entries.js';
import type { FamilyHead } from '../counters/handles.js';

/** libkvm's VNET_SYMPREFIX (sys/net/vnet.h). */
const VNET_SYMPREFIX = 'vnet_entry_';

/** A counter entry: one handle per element, read in every stack. */
export interface VnetCounter {
  readonly kind: 'counter';
  readonly key: string;
  readonly source: string;
  /** &vnet_entry_x + offset (VIMAGE), or the global's address + offset. */
  readonly offset: bigint;
  readonly signed: boolean;
  /** One per handle, in the entry's order. */
  readonly families: readonly { readonly sum: FamilyHead; readonly percpu?: FamilyHead }[];
}

/** A variable entry: one value per stack. */
export interface VnetVariable {
  readonly kind: 'variable';
  readonly key: string;
  readonly source: string;
  readonly offset: bigint;
  readonly entry: VariableEntry;
  readonly family: FamilyHead;
}

export type VnetItem = VnetCounter | VnetVariable;

/** Where x's copies are found relative to a stack's data base: its vnet_entry_ symbol, or the global. */
function setOffset(session: KvmSession, symbol: string, vimage: boolean): bigint {
  if (!vimage) return session.lookup(symbol).address;
  const entry = session.tryLookup(`${VNET_SYMPREFIX}${symbol}`);
  if (entry === undefined) {
    throw new Error(`no ${VNET_SYMPREFIX}${symbol} in the kernel: ${symbol} is not a VNET variable here (drop vnet: true, or check the symbol)`);
  }
  return entry.address;
}

export function resolveVnetCounter(session: KvmSession, entry: CounterEntry, key: string, vimage: boolean): VnetCounter {
  const source = entry.source;
  if (source.kind === 'address') throw new Error('vnet: true needs symbol: a raw handle belongs to one network stack');
  const elements = source.kind === 'array' ? source.elements : [undefined];
  const lead = entry.help ? `${entry.help}. ` : '';
  const where = describeSource(source.symbol, source.kind === 'symbol' ? source.field : undefined, source.offset);
  const families = elements.map((element, i) => {
    const stem = element === undefined ? entry.name : `${entry.name}_${element}`;
    const what = element === undefined ? where : `${source.symbol}[${i}] (${element})`;
    const sum = { name: metricName(stem, entry.type), help: `${lead}counter(9) ${what} in each jail's network stack, sum over CPUs`, type: entry.type };
    const percpu = entry.perCpu
      ? { name: metricName(`${stem}_percpu`, entry.type), help: `${lead}counter(9) ${what} in each jail's network stack, per CPU`, type: entry.type }
      : undefined;
    return { sum, ...(percpu && { percpu }) };
  });
  return {
    kind: 'counter',
    key,
    source: where,
    offset: setOffset(session, source.symbol, vimage) + BigInt(source.offset),
    signed: entry.type !== 'counter',
    families,
  };
}

export function resolveVnetVariable(session: KvmSession, entry: VariableEntry, key: string, vimage: boolean): VnetVariable {
  const source = describeSource(entry.symbol, entry.field, entry.offset);
  const lead = entry.help ? `${entry.help}. ` : '';
  return {
    kind: 'variable',
    key,
    source,
    offset: setOffset(session, entry.symbol, vimage) + BigInt(entry.offset),
    entry,
    family: { name: metricName(entry.name, entry.type), help: `${lead}VNET variable ${source} (${entry.ctype}) in each jail's network stack`, type: entry.type },
  };
}

/** Bytes an item reads at its place in one stack. */
export function itemBytes(item: VnetItem): number {
  return item.kind === 'counter' ? 8 * item.families.length : CTYPE_BYTES[item.entry.ctype];
}

/** Every family name an item emits. */
export function itemMetrics(item: VnetItem): string[] {
  if (item.kind === 'variable') return [item.family.name];
  return item.families.flatMap((f) => (f.percpu ? [f.sum.name, f.percpu.name] : [f.sum.name]));
}
