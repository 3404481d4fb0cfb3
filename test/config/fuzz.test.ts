/**
 * Property tests of parseConfig: whatever the text, and whatever values sit
 * under the schema's own keys, loading either returns a Config or throws
 * ConfigErrors whose every error names the file and says something.
 *
 * No parse is timed: speed belongs to the benchmarks, and a wall-clock bound
 * fails on a loaded machine. A hang is still caught by the test timeout, and
 * the loader's work is bounded by input, not by the clock: files above
 * MAX_CONFIG_BYTES are refused before parsing and alias expansion stops at
 * MAX_ALIAS_COUNT (the alias bomb in errors.test.ts).
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { SCHEMA_KEYS } from '../../src/config/schema.js';
import { ConfigErrors } from '../../src/errors.js';

const FILE = 'fuzz.yml';
const PRESETS_DIR = fileURLToPath(new URL('../../config/presets/', import.meta.url));
const RUNS = 300;

type Outcome = { kind: 'config' } | { kind: 'errors'; errors: ConfigErrors };

function load(text: string): Outcome {
  try {
    parseConfig(text, FILE);
    return { kind: 'config' };
  } catch (error) {
    if (error instanceof ConfigErrors) return { kind: 'errors', errors: error };
    throw error;
  }
}

function checkOutcome(text: string): void {
  const outcome = load(text);
  if (outcome.kind === 'config') return;
  expect(outcome.errors.errors.length).toBeGreaterThan(0);
  for (const error of outcome.errors.errors) {
    expect(error.file === FILE || error.file.startsWith(PRESETS_DIR)).toBe(true);
    expect(error.problem.length).toBeGreaterThan(0);
    expect(error.message.startsWith(error.file)).toBe(true);
    if (error.line !== undefined) expect(Math.min(error.line, error.column ?? 0)).toBeGreaterThanOrEqual(1);
  }
}

/** YAML-ish fragments, so random text often gets past the tokenizer. */
const TOKENS = [
  'counters:', 'variables:', 'dpcpu:', 'pcpu:', 'layouts:', 'preset: freebsd-14-amd64', 'kvm:',
  '- ', '  ', '\n', ': ', '{', '}', '[', ']', ',', '&a ', '*a', '!!str ', '!!binary ', '? ', '|', '>',
  '"', "'", '#', '---', '...', '%YAML 1.2', 'name: x', 'symbol: vm_cnt', 'field: vmmeter.v_swtch',
  'address: "0x1a8"', 'offset: 8', 'array: [a, b]', 'ctype: long', 'count: 5', 'per_cpu: true',
  '0x1a8', '-1', '1e309', '.inf', '.nan', '~', 'null', '<<: *a', '__proto__: {}',
];

const yamlishText = fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })), { maxLength: 60 })
  .map((parts) => parts.join(''));

/** Plausible and implausible values for any key. */
const anyValue = fc.oneof(
  fc.anything({ maxDepth: 2, maxKeys: 4 }),
  fc.constantFrom(
    'vm_cnt', 'vmmeter.v_swtch', 'pcpu.pc_cp_time', 'nope.x', '0x1a8', '0x1a9', 'yes', 'int32', 'long',
    'counter', 'gauge', 'freebsd-14-amd64', 'freebsd-99', '', 8, 12, -1, 4096, 1.5, 2 ** 60, true, null, [], {},
  ),
);

function entryOf(keys: readonly string[]) {
  return fc.dictionary(fc.constantFrom(...keys, 'unknown_key'), anyValue, { maxKeys: keys.length });
}

const sections: Record<string, fc.Arbitrary<unknown>> = {
  counters: fc.array(entryOf(SCHEMA_KEYS.counter!), { maxLength: 4 }),
  variables: fc.array(entryOf(SCHEMA_KEYS.variable!), { maxLength: 4 }),
  dpcpu: fc.array(entryOf(SCHEMA_KEYS.dpcpu!), { maxLength: 4 }),
  pcpu: fc.array(entryOf(SCHEMA_KEYS.pcpu!), { maxLength: 4 }),
  kvm: entryOf(SCHEMA_KEYS.kvm!),
  collectors: entryOf(SCHEMA_KEYS.collectors!),
  processes: fc.dictionary(fc.constantFrom(...SCHEMA_KEYS.processes!), entryOf(SCHEMA_KEYS.breakdown!)),
  layouts: fc.dictionary(fc.constantFrom('vmmeter', 'pcpu', 's', '9bad'), entryOf(SCHEMA_KEYS.layout!), { maxKeys: 3 }),
  preset: fc.constantFrom('freebsd-13-amd64', 'freebsd-14-amd64', 'freebsd-15-amd64', 'nope'),
};

/** A document with the schema's top-level keys, each holding a right-shaped or wrong value. */
const structuredDocument = fc
  .record(
    Object.fromEntries(Object.entries(sections).map(([key, arb]) => [key, fc.oneof(arb, anyValue)])),
    { requiredKeys: [] },
  )
  .map((doc) => stringify(doc));

describe('parseConfig fuzzing', () => {
  it('accepts or refuses arbitrary text with ConfigErrors only', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), checkOutcome), { numRuns: RUNS });
  });

  it('accepts or refuses YAML-like text with ConfigErrors only', () => {
    fc.assert(fc.property(yamlishText, checkOutcome), { numRuns: RUNS });
  });

  it('accepts or refuses documents built from the schema keys with ConfigErrors only', () => {
    fc.assert(fc.property(structuredDocument, checkOutcome), { numRuns: RUNS });
  });

  it('refuses most structured documents, so the property exercises the error paths', () => {
    const samples = fc.sample(structuredDocument, { numRuns: 100, seed: 42 });
    const refused = samples.filter((text) => load(text).kind === 'errors').length;
    expect(refused).toBeGreaterThan(50);
  });
});
