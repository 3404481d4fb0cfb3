/**
 * config/README.md is the config reference: it must mention every key the
 * schema accepts (top-level, per section and nested), every preset, and, in
 * its Limits table row by row, the limits the loader enforces, so the
 * documentation cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { knownPresets } from '../../src/config/presets.js';
import { MAX_OFFSET, MAX_PCPU_COUNT, MAX_SERIES_LIMIT, MAX_VNETS_LIMIT, SCHEMA_KEYS } from '../../src/config/schema.js';
import { MAX_ALIAS_COUNT, MAX_CONFIG_BYTES } from '../../src/config/yaml-file.js';
import { CTYPES } from '../../src/abi.js';

const README = readFileSync(new URL('../../config/README.md', import.meta.url), 'utf8');
const PRESETS_DIR = new URL('../../config/presets', import.meta.url).pathname;

const keyRows = Object.entries(SCHEMA_KEYS).flatMap(([where, keys]) => keys.map((key) => [where, key] as const));

describe('config/README.md', () => {
  it('documents at least the top-level and entry keys', () => {
    expect(keyRows.length).toBeGreaterThan(40);
  });

  it.each(keyRows)('mentions the %s key %s', (_where, key) => {
    expect(README).toContain(`\`${key}\``);
  });

  it.each(knownPresets(PRESETS_DIR))('mentions the preset %s', (preset) => {
    expect(README).toContain(`\`${preset}\``);
  });

  it('lists every C type', () => {
    for (const ctype of CTYPES) expect(README).toContain(`\`${ctype}\``);
  });

  it('states in its Limits table exactly the limits the loader enforces', () => {
    expect(limitsTable(README)).toEqual(
      new Map([
        ['file size', MAX_CONFIG_BYTES],
        ['YAML alias expansions', MAX_ALIAS_COUNT],
        ['offsets and layout sizes', MAX_OFFSET],
        ['pcpu `count`', MAX_PCPU_COUNT],
        ['`max_series`', MAX_SERIES_LIMIT],
        ['`vnets.max`', MAX_VNETS_LIMIT],
      ]),
    );
  });
});

const MIB = 1024 * 1024;

/**
 * The rows of the "## Limits" table, each as what it limits and the number it
 * states: the cell's last whole number ("1 MiB (1048576 bytes)" states
 * 1048576), whose "N MiB" gloss, when there is one, must agree with it.
 */
function limitsTable(markdown: string): Map<string, number> {
  const section = /^## Limits\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown);
  if (section === null) throw new Error('config/README.md has no "## Limits" section');
  const rows = section[1]!.split('\n').filter((line) => line.startsWith('|')).slice(2);
  return new Map(
    rows.map((row) => {
      const [what, limit] = row.split('|').slice(1, -1).map((cell) => cell.trim());
      const numbers = [...limit!.matchAll(/\d+/g)].map((m) => Number(m[0]));
      if (numbers.length === 0) throw new Error(`the limit of ${what} states no number: ${limit}`);
      const value = numbers[numbers.length - 1]!;
      const mib = /(\d+) MiB/.exec(limit!);
      if (mib !== null) expect(Number(mib[1]) * MIB, `${what}: ${limit}`).toBe(value);
      return [what!, value] as const;
    }),
  );
}
