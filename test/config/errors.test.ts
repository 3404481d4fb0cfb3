/**
 * Negative cases of config loading, one row per mistake: each bad config
 * must be refused with exactly these `file:line:column: key: problem`
 * messages, and nothing else.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, ConfigErrors } from '../../src/errors.js';

const PRESET_14 = fileURLToPath(new URL('../../config/presets/freebsd-14-amd64.yml', import.meta.url));

/** `file:line:column` of the first line of the 14 preset containing `needle`, at the `{` or `name`. */
function presetPlace(needle: string): string {
  const lines = readFileSync(PRESET_14, 'utf8').split('\n');
  const index = lines.findIndex((line) => line.includes(needle));
  const column = lines[index]!.indexOf('- ') + 3;
  return `${PRESET_14}:${index + 1}:${column}`;
}

/** What parseConfig throws for `yaml`; fails the test if it accepts the config or throws anything else. */
function refusal(yaml: string): ConfigErrors {
  try {
    parseConfig(yaml, 'bad.yml');
  } catch (error) {
    if (error instanceof ConfigErrors) return error;
    throw error;
  }
  throw new Error('the config was accepted');
}

function problems(yaml: string): string[] {
  return refusal(yaml).errors.map((e) => e.message);
}

const ALL_TOP_KEYS = 'preset, kvm, collectors, layouts, counters, variables, dpcpu, pcpu, processes, vnets';
const COUNTER_KEYS = 'name, help, symbol, address, field, offset, array, per_cpu, vnet, type';
const NAME_RULE = 'letters, digits and underscores, not starting with a digit';
const OFFSET_RULE = 'expected a whole number of bytes from 0 to 1048576';
const LAYOUT_S = 'layouts:\n  s: { size: 16, checked: test, fields: { f: 12, g: 0 } }\n';
const CTYPE_LIST = 'int8, uint8, int16, uint16, int32, uint32, int64, uint64, long, ulong, pointer';

const bombLevels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
for (const level of ['b', 'c', 'd']) {
  const previous = String.fromCharCode(level.charCodeAt(0) - 1);
  bombLevels.push(`${level}: &${level} [${Array(10).fill(`*${previous}`).join(', ')}]`);
}
const ALIAS_BOMB = `${bombLevels.join('\n')}\n`;

const CASES: [string, string, string[]][] = [
  // YAML itself
  ['unterminated flow sequence', 'counters: [1, 2\nvariables: []\n', [
    'bad.yml:2:1: invalid YAML (BAD_INDENT): Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]],
  ['duplicate key', 'preset: freebsd-14-amd64\npreset: freebsd-13-amd64\n', [
    'bad.yml:2:1: invalid YAML (DUPLICATE_KEY): Map keys must be unique',
  ]],
  ['alias bomb', ALIAS_BOMB, [
    'bad.yml:2:8: YAML aliases expand to more than 100 nodes; refusing a possible alias bomb',
  ]],
  ['top level is a list', '- counters\n- variables\n', [
    `bad.yml:1:1: expected a mapping with the keys ${ALL_TOP_KEYS}, got a list`,
  ]],
  ['top level is a scalar', 'just text\n', [
    `bad.yml:1:1: expected a mapping with the keys ${ALL_TOP_KEYS}, got "just text"`,
  ]],
  // Unknown and missing keys
  ['unknown top-level key', 'countrs: []\n', [
    `bad.yml:1:1: countrs: unknown key; allowed keys: ${ALL_TOP_KEYS}`,
  ]],
  ['unknown key in a counter', 'counters:\n  - { name: a, symbol: s, per_cpus: true }\n', [
    `bad.yml:2:27: counters[0].per_cpus: unknown key; allowed keys: ${COUNTER_KEYS}`,
  ]],
  ['unknown key in kvm', 'kvm:\n  libary: libkvm.so.7\n', [
    'bad.yml:2:3: kvm.libary: unknown key; allowed keys: library, execfile, corefile, ctf',
  ]],
  ['unknown collector', 'collectors:\n  cpu: true\n', [
    'bad.yml:2:3: collectors.cpu: unknown key; allowed keys: counters, variables, vnet, dpcpu, pcpu, processes, cpus, loadavg, swap',
  ]],
  ['missing counter name', 'counters:\n  - symbol: s\n', [
    `bad.yml:2:5: counters[0].name: required key is missing (expected a metric name: ${NAME_RULE})`,
  ]],
  ['missing variable ctype', 'variables:\n  - name: a\n    symbol: s\n', [
    'bad.yml:2:5: variables[0]: needs ctype: no CTF is loaded to take it from',
  ]],
  ['missing layout checked note', 'layouts:\n  s: { size: 8, fields: {} }\n', [
    'bad.yml:2:6: layouts.s.checked: required key is missing (expected a note naming the header and release the layout was checked against)',
  ]],
  // Wrong types and values
  ['per_cpu is not a boolean', 'counters:\n  - name: a\n    symbol: s\n    per_cpu: yes\n', [
    'bad.yml:4:14: counters[0].per_cpu: expected true or false, got "yes"',
  ]],
  ['section is not a list', 'counters: 5\n', [
    'bad.yml:1:11: counters: expected a list of entries, got 5',
  ]],
  ['entry is not a mapping', 'counters:\n  - 5\n', [
    'bad.yml:2:5: counters[0]: expected a counter entry mapping, got 5',
  ]],
  ['metric name starts with a digit', 'counters:\n  - { name: 9lives, symbol: s }\n', [
    `bad.yml:2:13: counters[0].name: expected a metric name: ${NAME_RULE}, got "9lives"`,
  ]],
  ['symbol with a dash', 'variables:\n  - { name: a, symbol: my-var, ctype: int32 }\n', [
    `bad.yml:2:24: variables[0].symbol: expected a kernel symbol name: ${NAME_RULE}, got "my-var"`,
  ]],
  ['unknown ctype', 'variables:\n  - { name: a, symbol: s, ctype: int }\n', [
    `bad.yml:2:34: variables[0].ctype: expected a C type: ${CTYPE_LIST}, got "int"`,
  ]],
  ['unknown metric type', 'counters:\n  - { name: a, symbol: s, type: histogram }\n', [
    'bad.yml:2:33: counters[0].type: expected counter, gauge or untyped, got "histogram"',
  ]],
  ['zero scale', 'variables:\n  - { name: a, symbol: s, ctype: int32, scale: 0 }\n', [
    'bad.yml:2:48: variables[0].scale: expected a positive number, got 0',
  ]],
  ['corefile is a number', 'kvm:\n  corefile: 5\n', [
    'bad.yml:2:13: kvm.corefile: expected a memory file path such as /dev/mem, got 5',
  ]],
  ['enabled is a string', 'processes:\n  by_user: { enabled: "true" }\n', [
    'bad.yml:2:23: processes.by_user.enabled: expected true or false, got "true"',
  ]],
  ['max_series below 1', 'processes:\n  by_jail: { enabled: true, max_series: 0 }\n', [
    'bad.yml:2:41: processes.by_jail.max_series: expected a whole number from 1 to 10000, got 0',
  ]],
  // symbol / address
  ['both symbol and address', 'counters:\n  - { name: a, symbol: s, address: "0x8" }\n', [
    'bad.yml:2:27: counters[0].address: cannot be combined with symbol: give symbol (where the handle is stored) or address (the handle itself), not both',
  ]],
  ['neither symbol nor address', 'counters:\n  - { name: a }\n', [
    'bad.yml:2:5: counters[0]: needs symbol (where the counter handle is stored) or address (the handle itself)',
  ]],
  ['address is not hex', 'counters:\n  - { name: a, address: "0xZZ" }\n', [
    'bad.yml:2:25: counters[0].address: expected a hex string of up to 16 digits such as "0x1a8", got "0xZZ"',
  ]],
  ['address is an unquoted number', 'counters:\n  - { name: a, address: 0x1a8 }\n', [
    'bad.yml:2:25: counters[0].address: expected a quoted hex string such as "0x1a8", got 424',
  ]],
  ['address is not 8-byte aligned', 'counters:\n  - { name: a, address: "0x1a9" }\n', [
    'bad.yml:2:25: counters[0].address: handle 0x1a9 is not 8-byte aligned; counter(9) slots are uint64_t',
  ]],
  ['address with an offset', 'counters:\n  - { name: a, address: "0x8", offset: 8 }\n', [
    'bad.yml:2:32: counters[0].offset: only applies with symbol; an address is the counter handle itself',
  ]],
  // field / offset and layouts
  ['both field and offset', `${LAYOUT_S}counters:\n  - { name: a, symbol: s, field: s.g, offset: 8 }\n`, [
    'bad.yml:4:39: counters[0].offset: cannot be combined with field: give field (a layout field) or offset (bytes), not both',
  ]],
  ['negative offset', 'counters:\n  - { name: a, symbol: s, offset: -8 }\n', [
    `bad.yml:2:35: counters[0].offset: ${OFFSET_RULE}, got -8`,
  ]],
  ['fractional offset', 'variables:\n  - { name: a, symbol: s, ctype: int8, offset: 1.5 }\n', [
    `bad.yml:2:48: variables[0].offset: ${OFFSET_RULE}, got 1.5`,
  ]],
  ['huge offset', 'counters:\n  - { name: a, symbol: s, offset: 99999999999 }\n', [
    `bad.yml:2:35: counters[0].offset: ${OFFSET_RULE}, got 99999999999`,
  ]],
  ['counter handle offset not 8-byte aligned', 'counters:\n  - { name: a, symbol: s, offset: 12 }\n', [
    'bad.yml:2:35: counters[0].offset: offset 12 is not 8-byte aligned; a counter(9) handle is an 8-byte pointer',
  ]],
  ['counter handle field not 8-byte aligned', 'layouts:\n  t: { size: 32, checked: test, fields: { f: 12 } }\ncounters:\n  - { name: a, symbol: t, field: t.f }\n', [
    'bad.yml:4:34: counters[0].field: offset 12 is not 8-byte aligned; a counter(9) handle is an 8-byte pointer',
  ]],
  ['counter handle field passes the layout size', `${LAYOUT_S}counters:\n  - { name: a, symbol: s, field: s.f }\n`, [
    'bad.yml:4:34: counters[0].field: s.f at offset 12 plus 8 bytes passes the end of s (16 bytes)',
  ]],
  ['field reference without a layout', 'counters:\n  - { name: a, symbol: vm_cnt, field: v_swtch }\n', [
    'bad.yml:2:39: counters[0].field: expected <struct>.<field>, such as vmmeter.v_swtch (nested: vnet.vnet_le.le_next), got "v_swtch"',
  ]],
  ['unknown layout', 'preset: freebsd-14-amd64\ncounters:\n  - { name: a, symbol: vm_cnt, field: vmeter.v_swtch }\n', [
    'bad.yml:3:39: counters[0].field: unknown layout vmeter (known layouts: pcpu, prison, vmmeter, vnet)',
  ]],
  ['field not in its layout', 'preset: freebsd-14-amd64\ncounters:\n  - { name: a, symbol: vm_cnt, field: vmmeter.v_swich }\n', [
    'bad.yml:3:39: counters[0].field: layout vmmeter has no field v_swich (did you mean v_swtch?)',
  ]],
  ['variable field passes the layout size', `${LAYOUT_S}variables:\n  - { name: a, symbol: s, field: s.f, ctype: int64 }\n`, [
    'bad.yml:4:34: variables[0].field: s.f at offset 12 plus 8 bytes passes the end of s (16 bytes)',
  ]],
  ['counter array passes the layout size', `${LAYOUT_S}counters:\n  - { name: a, symbol: s, field: s.g, array: [x, y, z] }\n`, [
    'bad.yml:4:34: counters[0].field: s.g at offset 0 plus 24 bytes passes the end of s (16 bytes)',
  ]],
  ['layout field outside its struct', 'layouts:\n  s: { size: 8, checked: test, fields: { f: 8 } }\n', [
    'bad.yml:2:45: layouts.s.fields.f: offset 8 is outside the 8-byte struct',
  ]],
  ['layout name with a dot', 'layouts:\n  "a.b": { size: 8, checked: test, fields: {} }\n', [
    'bad.yml:2:3: layouts["a.b"]: layout names are letters, digits and underscores, not starting with a digit',
  ]],
  // pcpu
  ['pcpu offset past struct pcpu', 'pcpu:\n  - { name: a, offset: 4090, ctype: long }\n', [
    'bad.yml:2:24: pcpu[0].offset: offset 4090 plus 1 × 8 bytes passes the end of struct pcpu (4096 bytes on amd64)',
  ]],
  ['pcpu elements past struct pcpu', 'pcpu:\n  - { name: a, offset: 4080, ctype: long, count: 3, element_label: { name: i, values: [x, y, z] } }\n', [
    'bad.yml:2:24: pcpu[0].offset: offset 4080 plus 3 × 8 bytes passes the end of struct pcpu (4096 bytes on amd64)',
  ]],
  ['pcpu without field or offset', 'pcpu:\n  - { name: a, ctype: long }\n', [
    'bad.yml:2:5: pcpu[0]: needs field (pcpu.<field>) or offset (bytes into struct pcpu)',
  ]],
  ['pcpu field from another layout', 'preset: freebsd-14-amd64\npcpu:\n  - { name: a, field: vmmeter.v_swtch, ctype: long }\n', [
    'bad.yml:3:23: pcpu[0].field: pcpu entries read struct pcpu, so the field must be pcpu.<field>, got "vmmeter.v_swtch"',
  ]],
  ['element_label values do not match count', 'pcpu:\n  - name: t\n    offset: 80\n    ctype: long\n    count: 5\n    element_label: { name: mode, values: [user, nice, system, idle] }\n', [
    'bad.yml:6:42: pcpu[0].element_label.values: 4 values for count 5; give one value per element',
  ]],
  ['count without element_label', 'pcpu:\n  - { name: t, offset: 80, ctype: long, count: 2 }\n', [
    'bad.yml:2:48: pcpu[0].count: 2 elements need element_label to tell them apart',
  ]],
  ['element_label named cpu', 'pcpu:\n  - { name: t, offset: 80, ctype: long, count: 2, element_label: { name: cpu, values: [a, b] } }\n', [
    'bad.yml:2:74: pcpu[0].element_label.name: the collector already labels pcpu series with cpu; choose another name',
  ]],
  ['element_label value twice', 'pcpu:\n  - { name: t, offset: 80, ctype: long, count: 2, element_label: { name: m, values: [a, a] } }\n', [
    'bad.yml:2:89: pcpu[0].element_label.values[1]: value "a" appears twice',
  ]],
  // names
  ['counter name ends in _total', 'counters:\n  - { name: forks_total, symbol: s }\n', [
    'bad.yml:2:13: counters[0].name: forks_total ends in "total" and counters get _total appended (it would read ..._total_total); rename it',
  ]],
  ['array element named total', 'counters:\n  - { name: ip, symbol: ipstat, array: [total, badsum] }\n', [
    'bad.yml:2:41: counters[0].array[0]: total ends in "total" and counters get _total appended (it would read ..._total_total); rename it',
  ]],
  ['array element twice', 'counters:\n  - { name: udp, symbol: udpstat, array: [ipackets, ipackets] }\n', [
    'bad.yml:2:53: counters[0].array[1]: element ipackets appears twice',
  ]],
  ['empty array', 'counters:\n  - { name: udp, symbol: udpstat, array: [] }\n', [
    'bad.yml:2:42: counters[0].array: expected at least one element name, got an empty list',
  ]],
  ['dpcpu symbol with its linker-set prefix', 'dpcpu:\n  - { name: t, symbol: pcpu_entry_pcputicks, ctype: int32 }\n', [
    'bad.yml:2:24: dpcpu[0].symbol: give the name as in DPCPU_DEFINE (pcputicks); libkvm adds pcpu_entry_ and translates the address per CPU only then',
  ]],
  ['duplicate variable', 'variables:\n  - { name: hz, symbol: hz, ctype: int32 }\n  - { name: hz, symbol: hz, ctype: int32 }\n', [
    'bad.yml:3:13: variables[1].name: metric kvm_hz is also exported by variables[0] (bad.yml:2:5)',
  ]],
  ['duplicate of a preset variable', 'preset: freebsd-14-amd64\nvariables:\n  - { name: hz, symbol: hz, ctype: int32 }\n', [
    `bad.yml:3:13: variables[0].name: metric kvm_hz is also exported by variables[0] (${presetPlace('- { name: hz,')})`,
  ]],
  ['gauge and counter share a family', 'counters:\n  - { name: x, symbol: s }\nvariables:\n  - { name: x, symbol: t, ctype: int32 }\n', [
    'bad.yml:4:13: variables[0].name: metric kvm_x clashes with kvm_x_total from counters[0] (bad.yml:2:5) (both use the family name kvm_x)',
  ]],
  ['array element clashes with a counter', 'counters:\n  - { name: udp, symbol: a, array: [x] }\n  - { name: udp_x, symbol: b }\n', [
    'bad.yml:3:13: counters[1].name: metric kvm_udp_x_total is also exported by counters[0] (bad.yml:2:5)',
  ]],
  ['per-CPU metric clashes with a counter', 'counters:\n  - { name: a, symbol: s, per_cpu: true }\n  - { name: a_percpu, symbol: t }\n', [
    'bad.yml:3:13: counters[1].name: metric kvm_a_percpu_total is also exported by counters[0] (bad.yml:2:5)',
  ]],
  ['name of an exporter metric', 'variables:\n  - { name: up, symbol: s, ctype: int32 }\n', [
    "bad.yml:2:13: variables[0].name: metric kvm_up is also exported by the exporter's per-scrape metrics (built in)",
  ]],
  ['name of a collector metric the old hand-kept list missed', 'variables:\n  - { name: cpus_present, symbol: s, ctype: int32 }\n', [
    'bad.yml:2:13: variables[0].name: metric kvm_cpus_present is also exported by the cpus collector (built in)',
  ]],
  ['name of a self-metric the old hand-kept list missed', 'variables:\n  - { name: exporter_config_last_reload_success_timestamp_seconds, symbol: s, ctype: int64 }\n', [
    "bad.yml:2:13: variables[0].name: metric kvm_exporter_config_last_reload_success_timestamp_seconds is also exported by the exporter's self-metrics (built in)",
  ]],
  // names promtool's lint rejects
  ['a gauge ending in _total', 'variables:\n  - { name: pages_total, symbol: s, ctype: int32 }\n', [
    "bad.yml:2:13: variables[0].name: metric kvm_pages_total is a gauge ending in _total, which Prometheus keeps for counters (promtool: non-counter metrics should not have \"_total\" suffix); drop _total, or declare type: counter if the value only goes up (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['a _count suffix', 'dpcpu:\n  - { name: ticks_count, symbol: s, ctype: int32 }\n', [
    "bad.yml:2:13: dpcpu[0].name: metric kvm_ticks_count ends in _count, which Prometheus keeps for the samples of histograms and summaries (promtool: non-histogram and non-summary metrics should not have \"_count\" suffix); rename it (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['a _bucket suffix on a per-CPU gauge of an array element', 'counters:\n  - { name: x, symbol: s, array: [bucket], per_cpu: true, type: gauge }\n', [
    "bad.yml:2:13: counters[0].name: metric kvm_x_bucket ends in _bucket, which Prometheus keeps for histogram buckets (promtool: non-histogram metrics should not have \"_bucket\" suffix); rename it (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['camelCase', 'variables:\n  - { name: freePages, symbol: s, ctype: int32 }\n', [
    "bad.yml:2:13: variables[0].name: metric kvm_freePages is written in camelCase; Prometheus names are snake_case (promtool: metric names should be written in 'snake_case' not 'camelCase') (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['a non-base unit', 'pcpu:\n  - { name: idle_milliseconds, offset: 80, ctype: long }\n', [
    "bad.yml:2:13: pcpu[0].name: metric kvm_idle_milliseconds uses the unit milliseconds; Prometheus names use base units, so export seconds (with scale:) and name it so (promtool: use base unit \"seconds\" instead of \"milliseconds\") (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['an abbreviated unit', 'variables:\n  - { name: uptime_sec, symbol: s, ctype: int32 }\n', [
    "bad.yml:2:13: variables[0].name: metric kvm_uptime_sec has the word sec, which reads as an abbreviated unit; spell units out, in base units such as seconds and bytes (promtool: metric names should not contain abbreviated units) (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['the type in the name', 'counters:\n  - { name: intr_counter, symbol: s }\n', [
    "bad.yml:2:13: counters[0].name: metric kvm_intr_counter_total names the metric type counter; a name says what is measured and the TYPE line the type (promtool: metric name should not include type 'counter') (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['le as an element label', 'pcpu:\n  - { name: t, offset: 80, ctype: long, count: 2, element_label: { name: le, values: [a, b] } }\n', [
    "bad.yml:2:74: pcpu[0].element_label.name: label le is the label of histogram buckets (promtool: non-histogram metrics should not have \"le\" label); choose another name (https://prometheus.io/docs/practices/naming/)",
  ]],
  ['quantile as an element label', 'pcpu:\n  - { name: t, offset: 80, ctype: long, count: 2, element_label: { name: quantile, values: [a, b] } }\n', [
    "bad.yml:2:74: pcpu[0].element_label.name: label quantile is the label of summary quantiles (promtool: non-summary metrics should not have \"quantile\" label); choose another name (https://prometheus.io/docs/practices/naming/)",
  ]],
  // presets
  ['unknown preset', 'preset: freebsd-12-amd64\n', [
    'bad.yml:1:9: preset: unknown preset "freebsd-12-amd64"; known presets: freebsd-13-amd64, freebsd-14-amd64, freebsd-15-amd64',
  ]],
  ['preset name with a slash', 'preset: ../../etc/passwd\n', [
    'bad.yml:1:9: preset: expected a preset name such as freebsd-14-amd64, got "../../etc/passwd"',
  ]],
  // several problems at once
  ['every problem is reported, in file order', 'counters:\n  - { name: a, symbol: s, offset: 3 }\n  - { name: b }\nfoo: 1\n', [
    'bad.yml:2:35: counters[0].offset: offset 3 is not 8-byte aligned; a counter(9) handle is an 8-byte pointer',
    'bad.yml:3:5: counters[1]: needs symbol (where the counter handle is stored) or address (the handle itself)',
    `bad.yml:4:1: foo: unknown key; allowed keys: ${ALL_TOP_KEYS}`,
  ]],
];

describe('bad configs', () => {
  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('refuses: %s', (_title, yaml, expected) => {
    expect(problems(yaml)).toEqual(expected);
  });

  it('gives every error a file, a line, a column and a key path', () => {
    const { errors } = refusal('counters:\n  - { name: a, symbol: s, per_cpu: 1 }\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect(errors[0]).toMatchObject({ file: 'bad.yml', line: 2, column: 36, key: 'counters[0].per_cpu', code: 'CONFIG' });
    expect(errors[0]!.problem).toBe('expected true or false, got 1');
  });
});
