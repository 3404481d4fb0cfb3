/**
 * The architecture, checked: which layer may import which (LAYERS, the table
 * the README's Architecture section states, checked against it), no import
 * circle, no libkvm sentinels handled above the kernel access layer, no
 * module-level mutable state, and the README's error table in step with
 * src/errors.ts.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { BUILTIN_METRICS } from '../src/exposition/builtin-metrics.js';
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

/**
 * Which layer may import which, and which npm packages: a layer is a folder
 * of src/ (src/cli.ts belongs to cli) or one of its shared top-level
 * modules. A product entry names a layer or one module of it
 * (`exporter/scrape-source`, the HTTP port); 'every layer' is for the commands.
 * The README's Architecture table states exactly this table.
 */
const LAYERS: Readonly<Record<string, { readonly product: readonly string[] | 'every layer'; readonly packages: readonly string[] }>> = {
  abi: { product: [], packages: [] },
  errors: { product: [], packages: [] },
  log: { product: [], packages: [] },
  version: { product: [], packages: [] },
  kvm: { product: ['abi', 'ctf/elf', 'errors'], packages: ['koffi'] },
  ctf: { product: ['abi', 'config', 'errors'], packages: [] },
  config: { product: ['abi', 'errors', 'exposition'], packages: ['yaml', 'zod'] },
  exposition: { product: [], packages: ['prom-client'] },
  collectors: { product: ['abi', 'config', 'errors', 'exposition', 'kvm', 'log'], packages: [] },
  exporter: { product: ['collectors', 'config', 'errors', 'exposition', 'kvm', 'log', 'version'], packages: [] },
  http: { product: ['errors', 'exporter/scrape-source', 'exposition', 'log'], packages: ['bcryptjs', 'express', 'negotiator', 'yaml', 'zod'] },
  cli: { product: 'every layer', packages: [] },
};

/** The layer of a module path relative to src/, without extension: `kvm/session` is kvm, `cli` and `cli/serve` are cli. */
function layerOf(module: string): string {
  return module.split('/')[0]!;
}

/** A file's path relative to src/ without `.ts`. */
function modulePath(file: string): string {
  return relative(SRC, join(ROOT, file)).replace(/\.ts$/, '');
}

/** What `entry` of a product list allows: a whole layer, or one module of it. */
function allows(entry: string, target: string): boolean {
  return entry.includes('/') ? target === entry : layerOf(target) === entry;
}

describe('layers', () => {
  it('every file of src/ belongs to a layer of the table', () => {
    const unplaced = files.map((f) => f.path).filter((path) => LAYERS[layerOf(modulePath(path))] === undefined);
    expect(unplaced).toEqual([]);
  });

  it.each(Object.keys(LAYERS))('%s imports only the layers and npm packages its row allows', (layer) => {
    const rule = LAYERS[layer]!;
    const offenders: string[] = [];
    for (const file of files.filter((f) => layerOf(modulePath(f.path)) === layer)) {
      for (const target of productImports(file).map(modulePath)) {
        if (layerOf(target) === layer || rule.product === 'every layer') continue;
        if (!rule.product.some((entry) => allows(entry, target))) offenders.push(`${file.path} imports ${target}`);
      }
      for (const module of imports(file.text).filter((m) => !m.startsWith('.') && !m.startsWith('node:'))) {
        if (!rule.packages.includes(module)) offenders.push(`${file.path} imports the package ${module}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the README\'s Architecture table states the same table', () => {
    expect(readmeLayers()).toEqual(LAYERS);
  });

  it('the collector framework knows no collector', () => {
    const offenders = importsOf('src/collectors/framework/').filter(({ module }) => !/^(\.\/|\.\.\/\.\.\/|node:)/.test(module));
    expect(offenders).toEqual([]);
  });

  it('the families the exporter emits on its own are named only where they are declared, exposition/builtin-metrics.ts', () => {
    const names = BUILTIN_METRICS.flatMap(({ families }) => families.map((family) => family.name));
    const offenders = files
      .filter((f) => f.path !== 'src/exposition/builtin-metrics.ts')
      .flatMap((f) => names.filter((name) => new RegExp(`['"]${name}['"]`).test(f.text)).map((name) => `${f.path}: ${name}`));
    // Quoted as a string; a comment may still mention one in backticks.
    expect(names).toContain('kvm_cpus_present');
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

/**
 * The README's Architecture table as LAYERS: its first column names the
 * layers (`src/kvm/`, or `src/cli/` with `src/cli.ts`, or several shared
 * modules in one row), the third the product layers they may import
 * (backticked; "every layer"; "nothing"), the fourth the npm packages
 * (backticked). Rows that are not of src/ (the simulator) are not layers.
 */
function readmeLayers(): Record<string, { product: string[] | 'every layer'; packages: string[] }> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Architecture'), readme.indexOf('\n## ', readme.indexOf('## Architecture') + 1));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const layers: Record<string, { product: string[] | 'every layer'; packages: string[] }> = {};
  for (const row of rows) {
    const [names, , product, packages] = row.split('|').slice(1, -1).map((cell) => cell.trim());
    const ofSrc = backticked(names!).filter((name) => name.startsWith('src/'));
    if (ofSrc.length === 0) continue;
    const rule = { product: product!.startsWith('every layer') ? ('every layer' as const) : backticked(product!).sort(), packages: backticked(packages!).sort() };
    for (const name of ofSrc) layers[layerOf(name.replace(/^src\//, '').replace(/(\.ts|\/)$/, ''))] = rule;
  }
  return layers;
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
