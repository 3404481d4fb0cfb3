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
import type { CounterEntry, CounterHandleNames, EntryFamily, VariableEntry } from '../../config/types.js';
import type { KvmSession } from '../../kvm/index.js';

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
  /** One per handle, in the entry's order, with the families named at load (config/names.ts). */
  readonly families: readonly CounterHandleNames[];
}

/** A variable entry: one value per stack. */
export interface VnetVariable {
  readonly kind: 'variable';
  readonly key: string;
  readonly source: string;
  readonly offset: bigint;
  readonly entry: VariableEntry;
  readonly family: EntryFamily;
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
  return {
    kind: 'counter',
    key,
    source: entry.sourceText,
    offset: setOffset(session, source.symbol, vimage) + BigInt(source.offset),
    signed: entry.type !== 'counter',
    families: entry.handles,
  };
}

export function resolveVnetVariable(session: KvmSession, entry: VariableEntry, key: string, vimage: boolean): VnetVariable {
  return {
    kind: 'variable',
    key,
    source: entry.sourceText,
    offset: setOffset(session, entry.symbol, vimage) + BigInt(entry.offset),
    entry,
    family: entry.family,
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
