/**
 * The top level of one config or preset file: which keys it has, each parsed
 * on its own so that one bad key does not hide the problems of the others.
 * Section entries stay unparsed here; they are checked once the layouts of
 * the preset and the config file have been merged (`load.ts`).
 */
import type { ConfigError } from '../errors.js';
import { describeValue, parseAt } from './issues.js';
import type { Layout } from './layouts.js';
import { readLayouts } from './layouts.js';
import type { KvmInput, ProcessesInput, VnetsInput } from './schema.js';
import { configShape, PRESET_KEYS } from './schema.js';
import type { YamlFile } from './yaml-file.js';
import type { CollectorName } from './types.js';

export const SECTIONS = ['counters', 'variables', 'dpcpu', 'pcpu'] as const;
export type SectionName = (typeof SECTIONS)[number];

export type FileRole = 'config' | 'preset';

/** What one file contributes, before merging. */
export interface FileContents {
  readonly source: YamlFile;
  readonly role: FileRole;
  readonly preset?: string;
  readonly kvm?: KvmInput;
  readonly collectors: Readonly<Partial<Record<CollectorName, boolean>>>;
  readonly processes?: ProcessesInput;
  readonly vnets?: VnetsInput;
  readonly layouts: Layout[];
  readonly sections: Readonly<Record<SectionName, readonly unknown[]>>;
}

type TopKey = keyof typeof configShape;
type TopValues = { -readonly [K in TopKey]?: unknown };

const CONFIG_KEYS = Object.keys(configShape) as TopKey[];

export function readFileContents(source: YamlFile, role: FileRole, errors: ConfigError[]): FileContents {
  const top = topLevel(source, role, errors);
  const sections = Object.fromEntries(
    SECTIONS.map((name) => [name, (top[name] as unknown[] | null | undefined) ?? []]),
  ) as Record<SectionName, unknown[]>;
  return {
    source,
    role,
    ...(top.preset === undefined ? {} : { preset: top.preset as string }),
    ...(top.kvm === undefined ? {} : { kvm: top.kvm as KvmInput }),
    collectors: (top.collectors as FileContents['collectors'] | null | undefined) ?? {},
    ...(top.processes == null ? {} : { processes: top.processes as ProcessesInput }),
    ...(top.vnets == null ? {} : { vnets: top.vnets as VnetsInput }),
    layouts: readLayouts(top.layouts, source, errors),
    sections,
  };
}

/** Parses each allowed top-level key; keys that fail are reported and left out. */
function topLevel(source: YamlFile, role: FileRole, errors: ConfigError[]): TopValues {
  const data = source.data ?? {};
  const allowed: readonly TopKey[] = role === 'config' ? CONFIG_KEYS : PRESET_KEYS;
  if (typeof data !== 'object' || Array.isArray(data)) {
    errors.push(source.error([], `expected a mapping with the keys ${allowed.join(', ')}, got ${describeValue(data)}`));
    return {};
  }
  const top: TopValues = {};
  for (const [key, value] of Object.entries(data)) {
    if (!(allowed as readonly string[]).includes(key)) {
      errors.push(source.error([key], unknownTopKey(key, role, allowed), 'key'));
      continue;
    }
    const parsed = parseAt(configShape[key as TopKey], value, [key], source, errors);
    if (parsed !== undefined) top[key as TopKey] = parsed;
  }
  return top;
}

function unknownTopKey(key: string, role: FileRole, allowed: readonly string[]): string {
  if (role === 'preset' && (CONFIG_KEYS as readonly string[]).includes(key)) {
    return `not allowed in a preset: a preset describes a kernel release, so ${key} belongs in the config file; allowed keys: ${allowed.join(', ')}`;
  }
  return `unknown key; allowed keys: ${allowed.join(', ')}`;
}
