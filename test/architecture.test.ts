/**
 * The architecture, checked: which layer may import which, no import circle,
 * koffi only in the kernel access layer, no libkvm sentinels handled above it, no module-level
 * mutable state, and the README's error table in step with src/errors.ts.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { ROOT } from './support/sim.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const SRC = join(ROOT, 'src');
const files = sources(SRC).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

/** The modules a file imports, as written. */
function imports(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

function importsOf(prefix: string): { file: string; module: string }[] {
  return files.filter((f) => f.path.startsWith(prefix)).flatMap((f) => imports(f.text).map((module) => ({ file: f.path, module })));
}

describe('layers', () => {
  it('only src/kvm imports koffi', () => {
    const users = files.filter((f) => imports(f.text).includes('koffi')).map((f) => f.path);
    expect(users.filter((p) => !p.startsWith('src/kvm/'))).toEqual([]);
    expect(users).toContain('src/kvm/binding.ts');
  });

  it.each([
    ['src/kvm/', /\/(collectors|config|exporter|exposition|http|cli|sim)\//],
    ['src/collectors/', /\/(exporter|http|cli|sim)\/|^express$|^koffi$/],
    ['src/config/', /\/(kvm|collectors|exporter|http|cli|sim)\/|^koffi$/],
    ['src/exposition/', /\/(kvm|collectors|exporter|http|cli|sim)\/|^koffi$/],
    ['src/exporter/', /\/(http|cli|sim)\/|^express$|^koffi$/],
    ['src/http/', /\/(kvm|collectors|config|cli|sim)\/|\/exporter\/(?!types)|^koffi$/],
  ])('%s imports nothing from the layers it must not know', (prefix, forbidden) => {
    const offenders = importsOf(prefix).filter(({ module }) => forbidden.test(module));
    expect(offenders).toEqual([]);
  });

  it('src/abi.ts, the C ABI both src/kvm and src/config read, imports nothing of the product', () => {
    const abi = files.find((f) => f.path === 'src/abi.ts')!;
    expect(imports(abi.text)).toEqual([]);
  });

  it('the collector framework knows no collector', () => {
    const offenders = importsOf('src/collectors/framework/').filter(({ module }) => !/^(\.\/|\.\.\/\.\.\/|node:)/.test(module));
    expect(offenders).toEqual([]);
  });

  it('the product has no import circle', () => {
    expect(importCircles()).toEqual([]);
  });

  it('the product imports the simulator only from the demo command', () => {
    const users = files.filter((f) => imports(f.text).some((m) => /(^|\/)sim\//.test(m))).map((f) => f.path);
    expect(users).toEqual(['src/cli/demo.ts']);
  });

  it('nothing above src/kvm calls libkvm functions directly (sentinels stay in the binding layer)', () => {
    const offenders = files.filter((f) => !f.path.startsWith('src/kvm/') && /\.lib\.kvm_/.test(f.text));
    expect(offenders.map((f) => f.path)).toEqual([]);
  });

  it('the binding never declares kvm_write: kernel memory is opened read-only', () => {
    const binding = files.find((f) => f.path === 'src/kvm/binding.ts')!.text;
    expect(binding).not.toMatch(/kvm_write\s*[(:]/);
    expect(files.find((f) => f.path === 'src/kvm/session.ts')!.text).toMatch(/const O_RDONLY = 0;/);
  });

  it('no module keeps mutable state at top level', () => {
    const offenders = files.filter((f) => /^(export\s+)?(let|var)\s/m.test(f.text)).map((f) => f.path);
    expect(offenders).toEqual([]);
  });
});

/** The product modules a file imports (type-only imports too: they still tie the modules' meanings). */
function productImports(file: { path: string; text: string }): string[] {
  return imports(file.text)
    .filter((module) => module.startsWith('.'))
    .map((module) => join(dirname(file.path), module).replace(/\.js$/, '.ts'))
    .filter((path) => path.startsWith('src/'));
}

/** Every import circle among src's modules, each as the list of files around it (depth-first search). */
function importCircles(): string[][] {
  const graph = new Map(files.map((f) => [f.path, productImports(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[][] = [];
  const visit = (path: string, trail: string[]): void => {
    if (state.get(path) === 'done') return;
    if (state.get(path) === 'open') {
      circles.push([...trail.slice(trail.indexOf(path)), path]);
      return;
    }
    state.set(path, 'open');
    for (const next of graph.get(path) ?? []) visit(next, [...trail, path]);
    state.set(path, 'done');
  };
  for (const path of graph.keys()) visit(path, []);
  return circles;
}

describe('README error table', () => {
  const codes = (Object.values(errors) as unknown[])
    .filter((value): value is { name: string; prototype: object } => typeof value === 'function' && value.prototype instanceof errors.KvmExporterError)
    .map((cls) => codeOf(cls));
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = [...readme.slice(readme.indexOf('## Errors')).matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  it('lists every error code exactly once, and no code that does not exist', () => {
    expect([...table].sort()).toEqual([...new Set(codes)].sort());
    expect(new Set(table).size).toBe(table.length);
  });
});

/** Class fields are set in the constructor: read `code` from the source text. */
function codeOf(cls: { name: string }): string | undefined {
  const source = readFileSync(join(SRC, 'errors.ts'), 'utf8');
  const body = source.slice(source.indexOf(`class ${cls.name} `));
  return /readonly code = '([A-Z_]+)'/.exec(body)?.[1];
}
