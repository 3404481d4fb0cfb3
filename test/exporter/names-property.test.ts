/**
 * Whatever config the config check accepts gives a /metrics page Prometheus
 * accepts. fast-check generates configs whose entry names are drawn from
 * every name the exporter emits on its own (exposition/builtin-metrics.ts),
 * from each other's families (`<name>_percpu`, `<name>_<element>`) and from
 * the suffixes and words promtool's lint rejects, over every section and
 * metric type. An accepted config is run through the real exporter against
 * the simulated kernel, with the self-metrics a served page carries, and the
 * page must:
 *
 * - read back through the strict parser in both formats (a family twice,
 *   also OpenMetrics' counter family without `_total`, fails here, and
 *   fast-check shrinks the config that caused it);
 * - pass `promtool check metrics`, its lint included. promtool is one
 *   process, so the pages of all runs are checked in one batch, each page's
 *   names prefixed with its run (`run7_kvm_...`) so pages cannot clash with
 *   each other; a failing batch is then re-checked page by page, unprefixed,
 *   to report the config and promtool's own words.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/errors.js';
import { Exporter } from '../../src/exporter/exporter.js';
import { renderFamilies } from '../../src/exposition/render.js';
import { SelfMetrics } from '../../src/exposition/self-metrics.js';
import { silentLogger } from '../../src/log.js';
import { parseExposition } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { promtoolCheckMetrics } from '../support/tools.js';
import { ALL_COLLECTORS, forgetPcpuCache } from './harness.js';

const RUNS = 100;

/** A family name as a config entry would spell it: without `kvm_`, and also without `_total`. */
function stems(names: readonly string[]): string[] {
  const own = names.filter((name) => name.startsWith('kvm_')).map((name) => name.slice('kvm_'.length));
  return [...new Set([...own, ...own.map((stem) => stem.replace(/_total$/, ''))])];
}

const WORDS = ['swtch', 'intr', 'free', 'ticks', 'load', 'faults', 'x'];
const SUFFIXES = ['_total', '_count', '_sum', '_bucket', '_percpu', '_seconds', '_milliseconds', '_ms', '_bytes', '_gauge', '_counter', '_info', 'Pages'];
const ELEMENTS = ['rx', 'tx', 'drops'];
const ODD_ELEMENTS = ['total', 'count', 'sum', 'percpu', 'seconds', 'b'];
const LABELS = ['mode', 'which'];
const ODD_LABELS = ['le', 'quantile', 'cpu', 'stateName', 'index'];
const TYPES = ['counter', 'gauge', 'untyped'] as const;

/** Mostly the ordinary (one of the words, or one with a suffix), often the odd: so that about half the configs pass. */
function mostly<T>(ordinary: readonly T[], odd: readonly T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constantFrom(...ordinary), weight: 3 }, { arbitrary: fc.constantFrom(...odd), weight: 1 });
}

/** A plain word, the stem of a family the exporter emits on its own, or a word with a suffix. */
function ownName(builtinStems: readonly string[]) {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...WORDS), weight: 2 },
    { arbitrary: fc.constantFrom(...builtinStems), weight: 2 },
    { arbitrary: fc.tuple(fc.constantFrom(...WORDS), fc.constantFrom(...SUFFIXES)).map(([word, suffix]) => `${word}${suffix}`), weight: 1 },
  );
}

/** A name from a small pool, or another pool name plus a family-making suffix: entries often take each other's families. */
function nameFrom(pool: readonly string[]) {
  const suffixes = ['_percpu', ...[...ELEMENTS, ...ODD_ELEMENTS].map((e) => `_${e}`)];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...pool), weight: 4 },
    { arbitrary: fc.tuple(fc.constantFrom(...pool), fc.constantFrom(...suffixes)).map(([name, suffix]) => `${name}${suffix}`), weight: 1 },
  );
}

const type = fc.constantFrom(...TYPES);
const BREAKDOWNS = 'processes: { by_jail: { enabled: true }, by_user: { enabled: true }, by_command: { enabled: true } }\n';

function entries(pool: readonly string[]) {
  const name = nameFrom(pool);
  const counter = fc.record({
    name,
    type,
    per_cpu: fc.boolean(),
    at: fc.oneof(
      fc.constantFrom('symbol: vm_cnt, offset: 0', 'symbol: vm_cnt, offset: 8', 'symbol: object_collapses', 'symbol: no_such_counter'),
      fc.uniqueArray(mostly(ELEMENTS, ODD_ELEMENTS), { minLength: 1, maxLength: 3 }).map((elements) => `symbol: sfstat, array: [${elements.join(', ')}]`),
    ),
  }).map((c) => `  - { name: ${c.name}, ${c.at}, per_cpu: ${c.per_cpu}, type: ${c.type} }`);
  const variable = fc.record({ name, type, symbol: fc.constantFrom('hz', 'ticks', 'nprocs', 'no_such_variable') })
    .map((v) => `  - { name: ${v.name}, symbol: ${v.symbol}, ctype: int32, type: ${v.type} }`);
  const dpcpu = fc.record({ name, type }).map((d) => `  - { name: ${d.name}, symbol: pcputicks, ctype: int32, type: ${d.type} }`);
  const pcpu = fc.record({ name, type, count: fc.integer({ min: 1, max: 3 }), label: mostly(LABELS, ODD_LABELS) }).map((p) => {
    const label = p.count > 1 ? `, element_label: { name: ${p.label}, values: [${['user', 'nice', 'system'].slice(0, p.count).join(', ')}] }` : '';
    return `  - { name: ${p.name}, offset: 80, ctype: long, count: ${p.count}${label}, type: ${p.type} }`;
  });
  const section = (title: string, arb: fc.Arbitrary<string>) =>
    fc.array(arb, { maxLength: 1 }).map((lines) => (lines.length === 0 ? '' : `${title}:\n${lines.join('\n')}\n`));
  return fc.tuple(section('counters', counter), section('variables', variable), section('dpcpu', dpcpu), section('pcpu', pcpu), fc.boolean())
    .map(([c, v, d, p, breakdowns]) => {
      const processes = breakdowns ? BREAKDOWNS : '';
      return `${c}${v}${d}${p}${processes}`;
    });
}

function configBody(builtinStems: readonly string[]) {
  return fc.uniqueArray(ownName(builtinStems), { minLength: 1, maxLength: 3 }).chain(entries);
}

interface Page {
  readonly body: string;
  readonly text: string;
}

let kernel: TestKernel;
beforeAll(() => {
  kernel = makeKernel();
});
afterAll(() => kernel.remove());

/** One scrape of the exporter on this config, as a served page renders it (self-metrics included). */
async function servedPage(body: string): Promise<string | undefined> {
  let config;
  try {
    config = loadConfig(kernel.writeConfig(body));
  } catch (error) {
    if (error instanceof ConfigErrors) return undefined;
    throw error;
  }
  forgetPcpuCache();
  const self = new SelfMetrics({ version: '0.0.0', revision: 'test' });
  const exporter = new Exporter({ config, enabled: new Set(ALL_COLLECTORS), logger: silentLogger(), selfMetrics: () => self.families() });
  try {
    const families = await exporter.scrape({});
    parseExposition(renderFamilies(families, 'openmetrics-1.0.0'), 'openmetrics');
    const text = renderFamilies(families, 'text-0.0.4');
    parseExposition(text, 'text');
    return text;
  } finally {
    await exporter.close();
  }
}

/** The page with every metric name prefixed, so that pages of several runs can share one promtool run. */
function prefixed(text: string, prefix: string): string {
  return text.replace(/^(# (?:HELP|TYPE) )?([A-Za-z_:])/gm, `$1${prefix}$2`);
}

describe('names the config check accepts', () => {
  it('give a /metrics page that the strict parser and promtool check metrics (lint included) accept', async () => {
    // Every name the exporter emits on its own, as a scrape without entries shows them (not as declared: the declaration is under test).
    const builtin = [...parseExposition((await servedPage(BREAKDOWNS))!).families.keys()];
    expect(builtin).toEqual(expect.arrayContaining(['kvm_cpus_present', 'kvm_exporter_config_last_reload_success_timestamp_seconds', 'kvm_processes_by_jail']));
    const pages: Page[] = [];
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(configBody(stems(builtin)), async (body) => {
        const text = await servedPage(body);
        if (text === undefined) refused++;
        else pages.push({ body, text });
      }),
      { numRuns: RUNS },
    );
    // The generator must reach both outcomes, and accepted pages must carry entries' own families.
    expect(refused).toBeGreaterThan(0);
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.some((page) => /^kvm_(?!cpus|load|processes|threads|up |scrape|exporter)/m.test(page.text))).toBe(true);

    const batch = promtoolCheckMetrics(pages.map((page, i) => prefixed(page.text, `run${i}_`)).join(''));
    if (batch.status !== 0 || batch.output !== '') {
      const failing = pages
        .map((page) => ({ body: page.body, result: promtoolCheckMetrics(page.text) }))
        .filter(({ result }) => result.status !== 0 || result.output !== '');
      expect(failing.map(({ body, result }) => `${body}---\n${result.output}`)).toEqual([]);
      expect.unreachable(`the batch failed but no page alone does:\n${batch.output}`);
    }
  }, 300_000);

  it('prefixing keeps promtool\'s verdict: a bad page stays bad, so a clean batch means clean pages', () => {
    const bad = '# HELP kvm_x_total a gauge\n# TYPE kvm_x_total gauge\nkvm_x_total 1\n';
    expect(promtoolCheckMetrics(prefixed(bad, 'run0_')).output).toContain('non-counter metrics should not have "_total" suffix');
    const twice = '# HELP kvm_y y\n# TYPE kvm_y gauge\nkvm_y 1\n';
    expect(promtoolCheckMetrics(prefixed(twice, 'run0_') + prefixed(twice, 'run0_')).status).not.toBe(0);
  });
});
