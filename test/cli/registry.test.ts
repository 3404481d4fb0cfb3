/**
 * The collector registry is complete and consistent: every collector in
 * src/collectors (a `<name>.ts` file, or a `<name>/` folder whose
 * `collector.ts` holds the factory; the framework/ folder and index.ts
 * aside) exports one factory, registered exactly once in COLLECTORS under
 * its name, and the names the registry knows are the names the config
 * schema accepts. Flags, `collectors:` keys and collect[] all derive from it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import type { CollectorFactory } from '../../src/collectors/framework/collector.js';
import { COLLECTORS, COLLECTOR_NAMES as REGISTRY_NAMES, findCollector } from '../../src/collectors/index.js';
import { COLLECTOR_NAMES as SCHEMA_NAMES } from '../../src/config/schema.js';
import { ROOT } from '../support/sim.js';

const SHARED = new Set(['framework', 'index.ts']);
/** Each collector's name and the module that holds its factory. */
const FILES = readdirSync(join(ROOT, 'src', 'collectors'), { withFileTypes: true })
  .filter((entry) => !SHARED.has(entry.name) && (entry.isDirectory() || entry.name.endsWith('.ts')))
  .map((entry) => (entry.isDirectory() ? `${entry.name}/collector.ts` : entry.name));

function collectorName(file: string): string {
  return file.replace(/(\/collector)?\.ts$/, '');
}

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
    expect(factory!.name).toBe(collectorName(file));
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
