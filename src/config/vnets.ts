/**
 * The `vnets` section and the `vnet` and `prison` layouts: how far the walks
 * of vnet_head and allprison go, how many jails each `vnet: true` entry
 * labels, and the struct offsets the walks read (struct vnet,
 * sys/net/vnet.h; struct prison, sys/sys/jail.h). An entry with `vnet: true`
 * needs both layouts, from a preset or the config file.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { FileContents } from './file-contents.js';
import type { Layout } from './layouts.js';
import type { Origin, VnetsConfig } from './types.js';

export const DEFAULT_VNETS_MAX = 1000;
export const DEFAULT_VNETS_MAX_SERIES = 100;

/** The fields each layout must have: config name -> walk offset name. */
const VNET_FIELDS = { vnet_le: 'next', vnet_magic_n: 'magic', vnet_data_base: 'dataBase' } as const;
const PRISON_FIELDS = { pr_list: 'next', pr_id: 'id', pr_name: 'name', pr_vnet: 'vnet' } as const;

interface VnetEntryRef {
  readonly vnet: boolean;
  readonly origin: Origin;
}

export function resolveVnets(files: readonly FileContents[], layouts: ReadonlyMap<string, Layout>, entries: readonly VnetEntryRef[], errors: ConfigError[]): VnetsConfig {
  const user = files[files.length - 1]!;
  const base = { max: user.vnets?.max ?? DEFAULT_VNETS_MAX, maxSeries: user.vnets?.max_series ?? DEFAULT_VNETS_MAX_SERIES };
  const vnet = layouts.get('vnet');
  const prison = layouts.get('prison');
  const first = entries.find((e) => e.vnet);
  if (vnet === undefined || prison === undefined) {
    if (first !== undefined) {
      const missing = [vnet ? undefined : 'vnet', prison ? undefined : 'prison'].filter(Boolean).join(' and ');
      const { line, column, key } = first.origin;
      // Messages name a file as its source does (origins hold the absolute path).
      const file = files.find((f) => resolve(f.source.file) === first.origin.file)?.source.file ?? first.origin.file;
      const problem = `vnet: true needs the ${missing} layout${missing.includes('and') ? 's' : ''} (struct vnet, struct prison); use a preset or give them under layouts`;
      errors.push(new ConfigError(file, line, column, `${key}.vnet`, problem));
    }
    return base;
  }
  const v = offsets(vnet, VNET_FIELDS, errors);
  const p = offsets(prison, PRISON_FIELDS, errors);
  return v && p ? { ...base, layouts: { vnet: v, prison: p } } : base;
}

function offsets<M extends Record<string, string>>(layout: Layout, fields: M, errors: ConfigError[]): Record<M[keyof M], number> | undefined {
  const out: Record<string, number> = {};
  const missing = Object.keys(fields).filter((name) => !layout.fields.has(name));
  if (missing.length > 0) {
    errors.push(layout.source.error([...layout.path, 'fields'], `the ${layout.name} layout needs the fields ${Object.keys(fields).join(', ')}; missing ${missing.join(', ')}`));
    return undefined;
  }
  for (const [name, key] of Object.entries(fields)) out[key] = layout.fields.get(name)!;
  return out as Record<M[keyof M], number>;
}
