/**
 * The `vnets` section and the offsets the walks of vnet_head and allprison
 * read: how far the walks go, how many jails each `vnet: true` entry labels,
 * and where in struct vnet (sys/net/vnet.h) and struct prison
 * (sys/sys/jail.h) the walk finds what it needs. Each offset resolves like
 * every `field:`: a `vnet`/`prison` layout written in the config file, then
 * the kernel's CTF, then the preset's layout; its origin is kept for `check`.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { FileContents } from './file-contents.js';
import { ctfOrigin, layoutOrigin } from './fields.js';
import type { KernelTypes } from './kernel-types.js';
import type { Layout } from './layouts.js';
import type { OffsetOrigin, Origin, VnetOffset, VnetsConfig } from './types.js';

export const DEFAULT_VNETS_MAX = 1000;
export const DEFAULT_VNETS_MAX_SERIES = 100;

/**
 * Walk offset name -> the field in the layout and, when it differs, the
 * member path in CTF. A queue(3) entry's next pointer is its first member
 * (sys/sys/queue.h: LIST_ENTRY's le_next, TAILQ_ENTRY's tqe_next), so a
 * layout gives the entry's own offset and CTF names the pointer itself.
 */
const VNET_OFFSETS = {
  next: { field: 'vnet_le', member: 'vnet_le.le_next' },
  magic: { field: 'vnet_magic_n' },
  dataBase: { field: 'vnet_data_base' },
} as const;
const PRISON_OFFSETS = {
  next: { field: 'pr_list', member: 'pr_list.tqe_next' },
  id: { field: 'pr_id' },
  name: { field: 'pr_name' },
  vnet: { field: 'pr_vnet' },
} as const;

type OffsetSpecs = Record<string, { readonly field: string; readonly member?: string }>;

interface VnetEntryRef {
  readonly vnet: boolean;
  readonly origin: Origin;
}

export interface VnetLookup {
  readonly layouts: ReadonlyMap<string, Layout>;
  /** Names of the layouts the config file itself writes (they win over CTF). */
  readonly configLayouts: ReadonlySet<string>;
  readonly types: KernelTypes | undefined;
}

export function resolveVnets(files: readonly FileContents[], lookup: VnetLookup, entries: readonly VnetEntryRef[], errors: ConfigError[]): VnetsConfig {
  const user = files[files.length - 1]!;
  const base = { max: user.vnets?.max ?? DEFAULT_VNETS_MAX, maxSeries: user.vnets?.max_series ?? DEFAULT_VNETS_MAX_SERIES };
  const first = entries.find((e) => e.vnet);
  const reportAtEntry = (problem: string) => {
    if (first === undefined) return;
    const { line, column, key } = first.origin;
    // Messages name a file as its source does (origins hold the absolute path).
    const file = files.find((f) => resolve(f.source.file) === first.origin.file)?.source.file ?? first.origin.file;
    errors.push(new ConfigError(file, line, column, `${key}.vnet`, problem));
  };
  const vnet = structOffsets('vnet', VNET_OFFSETS, lookup, errors, reportAtEntry);
  const prison = structOffsets('prison', PRISON_OFFSETS, lookup, errors, reportAtEntry);
  const unknown = [vnet === null ? 'vnet' : undefined, prison === null ? 'prison' : undefined].filter(Boolean);
  if (unknown.length > 0) {
    const structs = unknown.map((name) => `struct ${name}`).join(' and ');
    const where = lookup.types ? `${lookup.types.origin} does not have ${unknown.length > 1 ? 'them' : 'it'}` : 'no kernel CTF is loaded';
    reportAtEntry(`vnet: true needs the ${unknown.join(' and ')} layout${unknown.length > 1 ? 's' : ''} (${structs}) and ${where}; use a preset or give them under layouts`);
  }
  if (!vnet || !prison) return base;
  return { ...base, layouts: { vnet: vnet.offsets, prison: prison.offsets }, offsets: [...vnet.places, ...prison.places] };
}

/**
 * Every offset of one struct; null when neither a layout nor CTF knows the
 * struct (the caller reports it once for both structs), undefined when a
 * problem was reported here.
 */
function structOffsets<S extends OffsetSpecs>(
  struct: string,
  specs: S,
  lookup: VnetLookup,
  errors: ConfigError[],
  reportAtEntry: (problem: string) => void,
): { offsets: Record<keyof S, number>; places: VnetOffset[] } | null | undefined {
  const layout = lookup.layouts.get(struct);
  const offsets: Record<string, number> = {};
  const places: VnetOffset[] = [];
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    const found = offsetOf(struct, spec, layout, lookup);
    if (typeof found === 'string') {
      reportAtEntry(found);
      return undefined;
    }
    if (found === undefined) {
      missing.push(spec.field);
      continue;
    }
    offsets[key] = found.offset;
    places.push({ field: `${struct}.${spec.member ?? spec.field}`, ...found });
  }
  if (missing.length === 0) return { offsets: offsets as Record<keyof S, number>, places };
  if (layout === undefined) return null;
  const fields = Object.values(specs).map((s) => s.field).join(', ');
  errors.push(layout.source.error([...layout.path, 'fields'], `the ${struct} layout needs the fields ${fields}; missing ${missing.join(', ')}`));
  return undefined;
}

/** One offset by the resolution order; a message when CTF has the struct but not the member. */
function offsetOf(struct: string, spec: OffsetSpecs[string], layout: Layout | undefined, lookup: VnetLookup): { offset: number; origin: OffsetOrigin } | string | undefined {
  if (!lookup.configLayouts.has(struct) && lookup.types) {
    const member = lookup.types.member(struct, spec.member ?? spec.field);
    if (typeof member === 'string') return member;
    if (member) return { offset: member.offset, origin: ctfOrigin(lookup.types, layout, spec.field, member.offset) };
  }
  const offset = layout?.fields.get(spec.field);
  return offset === undefined ? undefined : { offset, origin: layoutOrigin(layout!, lookup.configLayouts) };
}
