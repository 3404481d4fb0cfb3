import { describe, expect, it } from 'vitest';
import type { MetricFamily } from '../../src/exposition/family.js';
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  renderChunks,
  renderFamilies,
  renderIncrementally,
} from '../../src/exposition/render.js';
import { columnar, columnarAll } from '../support/families.js';

/** A small set touching every rule: escaping, NaN/Inf, big integers, each type. */
const FAMILIES: MetricFamily[] = columnarAll([
  {
    name: 'kvm_vm_swtch_total',
    help: 'Context switches (vm_cnt.v_swtch).\nSummed over CPUs with a \\ backslash and "quotes".',
    type: 'counter',
    labelNames: [],
    series: [{ labels: [], value: 18446744073709551615 }],
  },
  {
    name: 'kvm_vm_swtch_percpu_total',
    help: 'Context switches per CPU.',
    type: 'counter',
    labelNames: ['cpu'],
    series: [
      { labels: ['0'], value: 12 },
      { labels: ['3'], value: 9007199254740993 },
    ],
  },
  {
    name: 'kvm_processes_by_command',
    help: 'Processes by command.',
    type: 'gauge',
    labelNames: ['command', 'state'],
    series: [
      { labels: ['sh -c "x"', 'sleeping'], value: 2 },
      { labels: ['back\\slash\nnewline', 'idle'], value: 1 },
      { labels: ['utf8 ✓ žluť', 'running'], value: 0.5 },
    ],
  },
  {
    name: 'kvm_odd_values',
    help: '',
    type: 'untyped',
    labelNames: ['kind'],
    series: [
      { labels: ['nan'], value: NaN },
      { labels: ['pinf'], value: Infinity },
      { labels: ['ninf'], value: -Infinity },
      { labels: ['negzero'], value: -0 },
      { labels: ['tiny'], value: 1.5e-7 },
      { labels: ['huge'], value: 1e21 },
    ],
  },
  {
    name: 'kvm_scrape_seconds',
    help: 'A histogram.',
    type: 'histogram',
    labelNames: ['collector'],
    series: [
      { labels: ['pcpu'], value: 1, sampleName: 'kvm_scrape_seconds_bucket', extraLabels: [['le', '0.1']] },
      { labels: ['pcpu'], value: 3, sampleName: 'kvm_scrape_seconds_bucket', extraLabels: [['le', '+Inf']] },
      { labels: ['pcpu'], value: 0.25, sampleName: 'kvm_scrape_seconds_sum' },
      { labels: ['pcpu'], value: 3, sampleName: 'kvm_scrape_seconds_count' },
    ],
  },
  {
    name: 'kvm_read_seconds',
    help: 'A summary.',
    type: 'summary',
    labelNames: [],
    series: [
      { labels: [], value: 0.01, extraLabels: [['quantile', '0.5']] },
      { labels: [], value: 0.5, sampleName: 'kvm_read_seconds_sum' },
      { labels: [], value: 7, sampleName: 'kvm_read_seconds_count' },
    ],
  },
]);

const EXPECTED_TEXT = `# HELP kvm_vm_swtch_total Context switches (vm_cnt.v_swtch).\\nSummed over CPUs with a \\\\ backslash and "quotes".
# TYPE kvm_vm_swtch_total counter
kvm_vm_swtch_total 18446744073709551616
# HELP kvm_vm_swtch_percpu_total Context switches per CPU.
# TYPE kvm_vm_swtch_percpu_total counter
kvm_vm_swtch_percpu_total{cpu="0"} 12
kvm_vm_swtch_percpu_total{cpu="3"} 9007199254740992
# HELP kvm_processes_by_command Processes by command.
# TYPE kvm_processes_by_command gauge
kvm_processes_by_command{command="sh -c \\"x\\"",state="sleeping"} 2
kvm_processes_by_command{command="back\\\\slash\\nnewline",state="idle"} 1
kvm_processes_by_command{command="utf8 ✓ žluť",state="running"} 0.5
# TYPE kvm_odd_values untyped
kvm_odd_values{kind="nan"} NaN
kvm_odd_values{kind="pinf"} +Inf
kvm_odd_values{kind="ninf"} -Inf
kvm_odd_values{kind="negzero"} 0
kvm_odd_values{kind="tiny"} 1.5e-7
kvm_odd_values{kind="huge"} 1000000000000000000000
# HELP kvm_scrape_seconds A histogram.
# TYPE kvm_scrape_seconds histogram
kvm_scrape_seconds_bucket{collector="pcpu",le="0.1"} 1
kvm_scrape_seconds_bucket{collector="pcpu",le="+Inf"} 3
kvm_scrape_seconds_sum{collector="pcpu"} 0.25
kvm_scrape_seconds_count{collector="pcpu"} 3
# HELP kvm_read_seconds A summary.
# TYPE kvm_read_seconds summary
kvm_read_seconds{quantile="0.5"} 0.01
kvm_read_seconds_sum 0.5
kvm_read_seconds_count 7
`;

const EXPECTED_OPENMETRICS = `# HELP kvm_vm_swtch Context switches (vm_cnt.v_swtch).\\nSummed over CPUs with a \\\\ backslash and \\"quotes\\".
# TYPE kvm_vm_swtch counter
kvm_vm_swtch_total 18446744073709551616
# HELP kvm_vm_swtch_percpu Context switches per CPU.
# TYPE kvm_vm_swtch_percpu counter
kvm_vm_swtch_percpu_total{cpu="0"} 12
kvm_vm_swtch_percpu_total{cpu="3"} 9007199254740992
# HELP kvm_processes_by_command Processes by command.
# TYPE kvm_processes_by_command gauge
kvm_processes_by_command{command="sh -c \\"x\\"",state="sleeping"} 2
kvm_processes_by_command{command="back\\\\slash\\nnewline",state="idle"} 1
kvm_processes_by_command{command="utf8 ✓ žluť",state="running"} 0.5
# TYPE kvm_odd_values unknown
kvm_odd_values{kind="nan"} NaN
kvm_odd_values{kind="pinf"} +Inf
kvm_odd_values{kind="ninf"} -Inf
kvm_odd_values{kind="negzero"} 0
kvm_odd_values{kind="tiny"} 1.5e-7
kvm_odd_values{kind="huge"} 1000000000000000000000
# HELP kvm_scrape_seconds A histogram.
# TYPE kvm_scrape_seconds histogram
kvm_scrape_seconds_bucket{collector="pcpu",le="0.1"} 1
kvm_scrape_seconds_bucket{collector="pcpu",le="+Inf"} 3
kvm_scrape_seconds_sum{collector="pcpu"} 0.25
kvm_scrape_seconds_count{collector="pcpu"} 3
# HELP kvm_read_seconds A summary.
# TYPE kvm_read_seconds summary
kvm_read_seconds{quantile="0.5"} 0.01
kvm_read_seconds_sum 0.5
kvm_read_seconds_count 7
# EOF
`;

describe('renderFamilies', () => {
  it('writes Prometheus text 0.0.4 byte for byte', () => {
    expect(renderFamilies(FAMILIES, 'text-0.0.4')).toBe(EXPECTED_TEXT);
  });

  it('writes OpenMetrics 1.0.0 byte for byte: counters without _total in metadata, unknown, # EOF', () => {
    expect(renderFamilies(FAMILIES, 'openmetrics-1.0.0')).toBe(EXPECTED_OPENMETRICS);
  });

  it('gives an empty text exposition and a lone # EOF for no families', () => {
    expect(renderFamilies([], 'text-0.0.4')).toBe('');
    expect(renderFamilies([], 'openmetrics-1.0.0')).toBe('# EOF\n');
  });

  it('keeps the metadata of a family with no series', () => {
    const empty: MetricFamily = columnar({ name: 'kvm_processes_by_jail', help: 'By jail.', type: 'gauge', labelNames: ['jid'], series: [] });
    expect(renderFamilies([empty], 'text-0.0.4')).toBe('# HELP kvm_processes_by_jail By jail.\n# TYPE kvm_processes_by_jail gauge\n');
  });

  it('appends _total in OpenMetrics to a counter family whose name lacks it', () => {
    const family: MetricFamily = columnar({ name: 'kvm_legacy', help: 'h', type: 'counter', labelNames: [], series: [{ labels: [], value: 1 }] });
    expect(renderFamilies([family], 'openmetrics-1.0.0')).toBe('# HELP kvm_legacy h\n# TYPE kvm_legacy counter\nkvm_legacy_total 1\n# EOF\n');
  });

  it('renders a missing label value as empty, which Prometheus reads as an absent label', () => {
    const family: MetricFamily = columnar({ name: 'kvm_x', help: 'h', type: 'gauge', labelNames: ['a', 'b'], series: [{ labels: ['1'], value: 2 }] });
    expect(renderFamilies([family], 'text-0.0.4')).toContain('kvm_x{a="1",b=""} 2\n');
  });
});

describe('renderChunks and renderIncrementally', () => {
  const many: MetricFamily[] = [
    columnar({
      name: 'kvm_many',
      help: 'Many series.',
      type: 'gauge',
      labelNames: ['i'],
      series: Array.from({ length: 1000 }, (_, i) => ({ labels: [String(i)], value: i })),
    }),
    ...FAMILIES,
  ];

  it('splits into chunks of at most the requested series whose concatenation is the whole exposition', () => {
    const chunks = [...renderChunks(many, 'openmetrics-1.0.0', { seriesPerChunk: 64 })];
    expect(chunks.length).toBe(Math.ceil((1000 + 19) / 64));
    for (const chunk of chunks) {
      const samples = chunk.toString().split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      expect(samples.length).toBeLessThanOrEqual(64);
    }
    expect(Buffer.concat(chunks).toString()).toBe(renderFamilies(many, 'openmetrics-1.0.0'));
  });

  it('yields the same bytes asynchronously, giving the event loop a turn between chunks', async () => {
    let timerRuns = 0;
    const timer = setInterval(() => timerRuns++, 0);
    let out = '';
    for await (const chunk of renderIncrementally(many, 'text-0.0.4', { seriesPerChunk: 10 })) out += chunk;
    clearInterval(timer);
    expect(out).toBe(renderFamilies(many, 'text-0.0.4'));
    // A macrotask turn after each of the 102 chunks: an interval timer got to run in between.
    expect(timerRuns).toBeGreaterThan(0);
  });
});

describe('escaping and number formatting', () => {
  it.each([
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a\nb', 'a\\nb'],
    ['\\"\n', '\\\\\\"\\n'],
    ['tab\tstays', 'tab\tstays'],
  ])('label value %j becomes %j', (raw, escaped) => {
    expect(escapeLabelValue(raw)).toBe(escaped);
  });

  it('escapes the quote in HELP only for OpenMetrics', () => {
    expect(escapeHelp('say "hi"\\\n', false)).toBe('say "hi"\\\\\\n');
    expect(escapeHelp('say "hi"\\\n', true)).toBe('say \\"hi\\"\\\\\\n');
  });

  it.each([
    [0, '0'],
    [-5, '-5'],
    [2 ** 53 - 1, '9007199254740991'],
    [2 ** 53, '9007199254740992'],
    [2 ** 64, '18446744073709551616'],
    [-(2 ** 70), '-1180591620717411303424'],
    [0.1, '0.1'],
    [1.5e-300, '1.5e-300'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ])('value %s prints as %s', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });

  it('writes the exact decimal digits of every safe integer it renders from bytes (two digits at a time)', () => {
    const edges = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1];
    const powers = Array.from({ length: 16 }, (_, i) => [10 ** i - 1, 10 ** i, 10 ** i + 1]).flat();
    let seed = 12345;
    const random = Array.from({ length: 5000 }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * 2 ** (1 + (seed % 53)));
    });
    const values = [...edges, ...powers, ...random].filter(Number.isSafeInteger).flatMap((v) => [v, -v]);
    const family = columnar({ name: 'kvm_n', help: '', type: 'gauge', labelNames: [], series: values.map((value) => ({ labels: [], value })) });
    const lines = renderFamilies([family], 'text-0.0.4').split('\n').filter((line) => line.startsWith('kvm_n '));
    // BigInt's decimal is the oracle: it shares no code with the renderer's digit loop.
    expect(lines).toEqual(values.map((v) => `kvm_n ${BigInt(v).toString()}`));
  });

  it('prints every integer-valued float as the exact decimal of that float', () => {
    for (const exponent of [53, 60, 64, 80, 100]) {
      const value = 2 ** exponent + 2 ** (exponent - 52);
      expect(BigInt(formatValue(value))).toBe(BigInt(value));
      expect(Number(formatValue(value))).toBe(value);
    }
  });
});
