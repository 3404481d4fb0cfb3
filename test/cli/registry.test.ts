/**
 * The collector registry is complete and consistent: every collector file
 * in src/collectors (the shared collector.ts, ctype.ts and index.ts aside)
 * exports one factory, registered exactly once in COLLECTORS under the
 * file's name, and the names the registry knows are the names the config
 * schema accepts. Flags, `collectors:` keys and collect[] all derive from it.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import type { CollectorFactory } from '../../src/collectors/collector.js';
import { COLLECTORS, COLLECTOR_NAMES as REGISTRY_NAMES, findCollector } from '../../src/collectors/index.js';
import { COLLECTOR_NAMES as SCHEMA_NAMES } from '../../src/config/schema.js';
import { ROOT } from '../support/sim.js';

const SHARED = new Set(['collector.ts', 'ctype.ts', 'index.ts']);
const FILES = readdirSync(join(ROOT, 'src', 'collectors')).filter((f) => f.endsWith('.ts') && !SHARED.has(f));

function isFactory(value: unknown): value is CollectorFactory {
  const v = value as Partial<CollectorFactory> | null;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.create === 'function' && typeof v.defaultEnabled === 'boolean';
}

describe('the collector registry', () => {
  it('has one collector per file, as many as there are files', () => {
    expect(FILES.length).toBeGreaterThan(0);
    expect(COLLECTORS).toHaveLength(FILES.length);
  });

  it.each(FILES)('%s exports one factory, named after the file and registered exactly once', async (file) => {
    const module = (await import(pathToFileURL(join(ROOT, 'src', 'collectors', file)).href)) as Record<string, unknown>;
    const factories = Object.values(module).filter(isFactory);
    expect(factories).toHaveLength(1);
    const [factory] = factories;
    expect(factory!.name).toBe(basename(file, '.ts'));
    expect(COLLECTORS.filter((c) => c === factory)).toHaveLength(1);
    expect(findCollector(factory!.name)).toBe(factory);
    expect(factory!.description.length).toBeGreaterThan(10);
  });

  it('knows exactly the collector names the config schema accepts', () => {
    expect([...COLLECTORS.map((c) => c.name)].sort()).toEqual([...SCHEMA_NAMES].sort());
    expect(REGISTRY_NAMES).toEqual(COLLECTORS.map((c) => c.name));
    expect(new Set(REGISTRY_NAMES).size).toBe(REGISTRY_NAMES.length);
  });
});
