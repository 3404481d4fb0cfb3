/**
 * Struct layouts: the named field offsets that `field: <layout>.<field>`
 * references resolve against, each with the struct size and a note of the
 * header and release it was checked against. Mirrors what `offsetof` and
 * `sizeof` give for the kernel's own headers (`sys/sys/vmmeter.h`,
 * `sys/sys/pcpu.h`, ...), which the exporter cannot include.
 *
 * A layout in the config file replaces a preset's layout of the same name, so
 * a host whose release moved a field can correct the offsets without copying
 * the preset's entries.
 */
import type { ConfigError } from '../errors.js';
import { parseAt } from './issues.js';
import { layoutSchema } from './schema.js';
import type { YamlFile, KeyPath } from './yaml-file.js';

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_SUGGESTION_DISTANCE = 3;

export interface Layout {
  readonly name: string;
  readonly size: number;
  readonly checked: string;
  readonly fields: ReadonlyMap<string, number>;
  readonly source: YamlFile;
  readonly path: KeyPath;
}

/** A layout field resolved for one entry: where it is and how far the struct goes. */
export interface ResolvedField {
  readonly ref: string;
  readonly layout: Layout;
  readonly offset: number;
}

/** Reads the `layouts:` mapping of one file; bad layouts are reported and left out. */
export function readLayouts(raw: unknown, source: YamlFile, errors: ConfigError[]): Layout[] {
  if (raw === null || raw === undefined || typeof raw !== 'object') return [];
  const layouts: Layout[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const path = ['layouts', name];
    if (!FIELD_NAME.test(name)) {
      errors.push(source.error(path, 'layout names are letters, digits and underscores, not starting with a digit', 'key'));
      continue;
    }
    const layout = parseAt(layoutSchema, value, path, source, errors);
    if (layout && fieldsFit(layout.fields, layout.size, path, source, errors)) {
      layouts.push({ name, size: layout.size, checked: layout.checked, fields: new Map(Object.entries(layout.fields)), source, path });
    }
  }
  return layouts;
}

function fieldsFit(
  fields: Readonly<Record<string, number>>,
  size: number,
  path: KeyPath,
  source: YamlFile,
  errors: ConfigError[],
): boolean {
  const before = errors.length;
  for (const [field, offset] of Object.entries(fields)) {
    const at = [...path, 'fields', field];
    if (!FIELD_NAME.test(field)) {
      errors.push(source.error(at, 'field names are letters, digits and underscores, not starting with a digit', 'key'));
    } else if (offset >= size) {
      errors.push(source.error(at, `offset ${offset} is outside the ${size}-byte struct`));
    }
  }
  return errors.length === before;
}

/** Preset layouts first; a config layout of the same name replaces the preset's. */
export function mergeLayouts(...lists: readonly Layout[][]): ReadonlyMap<string, Layout> {
  const merged = new Map<string, Layout>();
  for (const list of lists) for (const layout of list) merged.set(layout.name, layout);
  return merged;
}

/**
 * Resolves `ref` (`layout.field`) for the entry at `path`; `width` bytes read
 * from there must stay inside the struct. Reports and returns undefined if not.
 */
export function resolveField(
  ref: string,
  width: number,
  layouts: ReadonlyMap<string, Layout>,
  at: { source: YamlFile; path: KeyPath; errors: ConfigError[] },
): ResolvedField | undefined {
  const [layoutName, fieldName] = ref.split('.') as [string, string];
  const layout = layouts.get(layoutName);
  if (layout === undefined) {
    const known = [...layouts.keys()].sort().join(', ') || 'none';
    at.errors.push(at.source.error(at.path, `unknown layout ${layoutName} (known layouts: ${known})`));
    return undefined;
  }
  const offset = layout.fields.get(fieldName);
  if (offset === undefined) {
    at.errors.push(at.source.error(at.path, `layout ${layoutName} has no field ${fieldName}${suggestion(fieldName, layout)}`));
    return undefined;
  }
  if (offset + width > layout.size) {
    const problem = `${ref} at offset ${offset} plus ${width} bytes passes the end of ${layoutName} (${layout.size} bytes)`;
    at.errors.push(at.source.error(at.path, problem));
    return undefined;
  }
  return { ref, layout, offset };
}

function suggestion(field: string, layout: Layout): string {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of layout.fields.keys()) {
    const distance = editDistance(field, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

/** Levenshtein distance, for "did you mean" hints on misspelt field names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
