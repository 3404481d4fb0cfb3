/**
 * config/README.md is the config reference: it must mention every key the
 * schema accepts (top-level, per section and nested), every preset, and the
 * limits the loader enforces, so the documentation cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { knownPresets } from '../../src/config/presets.js';
import { MAX_OFFSET, MAX_PCPU_COUNT, MAX_SERIES_LIMIT, SCHEMA_KEYS } from '../../src/config/schema.js';
import { MAX_ALIAS_COUNT, MAX_CONFIG_BYTES } from '../../src/config/source.js';
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

  it('states the limits the loader enforces', () => {
    for (const limit of [MAX_CONFIG_BYTES, MAX_ALIAS_COUNT, MAX_OFFSET, MAX_PCPU_COUNT, MAX_SERIES_LIMIT]) {
      expect(README).toContain(String(limit));
    }
  });
});
