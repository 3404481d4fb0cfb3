/**
 * loadConfig and parseConfig beyond single mistakes: reading files, the size
 * limit, path resolution, defaults, the normalised shapes of every entry
 * kind, and how a preset merges with the config file (and how a broken
 * preset is reported).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { MAX_CONFIG_BYTES } from '../../src/config/yaml-file.js';
import { ConfigErrors } from '../../src/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'kvm-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(relative: string, text: string): string {
  const file = join(scratch, relative);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigErrors) return error.errors.map((e) => e.message);
    throw error;
  }
  throw new Error('the config was accepted');
}

describe('reading files', () => {
  it('reports a missing file with its name and the system error', () => {
    const missing = join(scratch, 'nope.yml');
    expect(problemsOf(() => loadConfig(missing))).toEqual([
      `${missing}: cannot read the file: ENOENT: no such file or directory, stat '${missing}'`,
    ]);
  });

  it('refuses a file over 1 MiB before parsing it', () => {
    // Invalid YAML after the limit proves the text was never parsed.
    const file = write('big.yml', `${'#'.repeat(MAX_CONFIG_BYTES)}\n: [\n`);
    expect(problemsOf(() => loadConfig(file))).toEqual([
      `${file}: file is ${MAX_CONFIG_BYTES + 5} bytes; config files are limited to 1048576 bytes (1 MiB)`,
    ]);
  });

  it('applies the same limit to text given to parseConfig, counted in UTF-8 bytes', () => {
    const text = `# ${'é'.repeat(MAX_CONFIG_BYTES / 2)}\n`;
    expect(problemsOf(() => parseConfig(text, 'big.yml'))).toEqual([
      `big.yml: file is ${MAX_CONFIG_BYTES + 3} bytes; config files are limited to 1048576 bytes (1 MiB)`,
    ]);
  });

  it('accepts a file of exactly 1 MiB', () => {
    const file = write('limit.yml', `${'#'.repeat(MAX_CONFIG_BYTES - 1)}\n`);
    expect(loadConfig(file).counters).toEqual([]);
  });
});

describe('defaults and paths', () => {
  it('gives an empty file the defaults', () => {
    const file = write('empty.yml', '');
    expect(loadConfig(file)).toEqual({
      file,
      kvm: { library: 'libkvm.so.7', execfile: null, corefile: '/dev/mem', ctf: 'auto' },
      ctf: { none: 'no CTF was looked for' },
      collectors: {},
      counters: [],
      variables: [],
      dpcpu: [],
      pcpu: [],
      processes: {
        byJail: { enabled: false, maxSeries: 100 },
        byUser: { enabled: false, maxSeries: 100 },
        byCommand: { enabled: false, maxSeries: 100 },
        groups: [],
      },
      vnets: { max: 1000, maxSeries: 100 },
    });
  });

  it('resolves library paths, execfile and corefile against the config folder', () => {
    const file = write('etc/exporter.yml', 'kvm:\n  library: lib/libkvm.so.7\n  execfile: ../boot/kernel\n  corefile: vmcore.0\n');
    expect(loadConfig(file).kvm).toEqual({
      library: join(scratch, 'etc/lib/libkvm.so.7'),
      execfile: join(scratch, 'boot/kernel'),
      corefile: join(scratch, 'etc/vmcore.0'),
      ctf: 'auto',
    });
  });

  it('leaves a bare soname to the dynamic linker and absolute paths alone', () => {
    const file = write('etc/bare.yml', 'kvm: { library: libkvm.so.7, execfile: /boot/kernel/kernel, corefile: /dev/mem }\n');
    expect(loadConfig(file).kvm).toEqual({ library: 'libkvm.so.7', execfile: '/boot/kernel/kernel', corefile: '/dev/mem', ctf: 'auto' });
  });

  it('makes the config file path absolute', () => {
    expect(parseConfig('', 'relative.yml').file).toBe(join(process.cwd(), 'relative.yml'));
  });

  it('treats empty sections as empty lists', () => {
    const config = parseConfig('counters:\nvariables:\ndpcpu:\npcpu:\nlayouts:\ncollectors:\nprocesses:\n', 'x.yml');
    expect([config.counters, config.variables, config.dpcpu, config.pcpu]).toEqual([[], [], [], []]);
  });
});

describe('normalised entries', () => {
  const config = parseConfig(
    [
      'layouts:',
      '  s: { size: 64, checked: test struct, fields: { a: 16, b: 40 } }',
      '  pcpu: { size: 4096, checked: test pcpu, fields: { pc_x: 100 } }',
      'counters:',
      '  - { name: plain, symbol: c }',
      '  - { name: offs, symbol: c, offset: 24, per_cpu: true, help: At 24 }',
      '  - { name: fld, symbol: s, field: s.a, type: gauge }',
      '  - { name: arr, symbol: s, offset: 8, array: [x, y] }',
      '  - { name: raw, address: "0x1A8", type: untyped }',
      'variables:',
      '  - { name: v, symbol: s, field: s.b, ctype: uint16, scale: 4096 }',
      'dpcpu:',
      '  - { name: dp, symbol: nws, offset: 4, ctype: ulong, type: counter }',
      'pcpu:',
      '  - { name: p, field: pcpu.pc_x, ctype: int32 }',
      '  - { name: q, offset: 8, ctype: pointer, count: 2, element_label: { name: which, values: [a, b] } }',
    ].join('\n'),
    'entries.yml',
  );
  const origin = (line: number, key: string) => ({ file: join(process.cwd(), 'entries.yml'), line, column: 5, key });
  const fromLayout = (name: string) => ({ from: `config layout ${name} (entries.yml)` });

  /** An entry without the names decided for it (checked on their own below). */
  const bare = <E extends object>(entry: E) => {
    const { sourceText: _text, family: _family, handles: _handles, ...rest } = entry as E & Record<'sourceText' | 'family' | 'handles', unknown>;
    return rest;
  };

  it('normalises counters of every source kind', () => {
    expect(config.counters.map(bare)).toEqual([
      { origin: origin(5, 'counters[0]'), name: 'plain', help: '', source: { kind: 'symbol', symbol: 'c', offset: 0 }, perCpu: false, vnet: false, type: 'counter' },
      { origin: origin(6, 'counters[1]'), name: 'offs', help: 'At 24', source: { kind: 'symbol', symbol: 'c', offset: 24 }, perCpu: true, vnet: false, type: 'counter' },
      { origin: origin(7, 'counters[2]'), name: 'fld', help: '', source: { kind: 'symbol', symbol: 's', offset: 16, field: 's.a', offsetOrigin: fromLayout('s') }, perCpu: false, vnet: false, type: 'gauge' },
      { origin: origin(8, 'counters[3]'), name: 'arr', help: '', source: { kind: 'array', symbol: 's', offset: 8, elements: ['x', 'y'] }, perCpu: false, vnet: false, type: 'counter' },
      { origin: origin(9, 'counters[4]'), name: 'raw', help: '', source: { kind: 'address', handle: 0x1a8n }, perCpu: false, vnet: false, type: 'untyped' },
    ]);
  });

  it('normalises variables and dpcpu entries', () => {
    expect(config.variables.map(bare)).toEqual([
      { origin: origin(11, 'variables[0]'), name: 'v', help: '', symbol: 's', offset: 40, field: 's.b', offsetOrigin: fromLayout('s'), ctype: 'uint16', scale: 4096, vnet: false, type: 'gauge' },
    ]);
    expect(config.dpcpu.map(bare)).toEqual([
      { origin: origin(13, 'dpcpu[0]'), name: 'dp', help: '', symbol: 'nws', offset: 4, ctype: 'ulong', scale: 1, type: 'counter' },
    ]);
  });

  it('normalises pcpu entries with and without element labels', () => {
    expect(config.pcpu.map(bare)).toEqual([
      { origin: origin(15, 'pcpu[0]'), name: 'p', help: '', offset: 100, field: 'pcpu.pc_x', offsetOrigin: fromLayout('pcpu'), ctype: 'int32', count: 1, scale: 1, type: 'gauge' },
      {
        origin: origin(16, 'pcpu[1]'), name: 'q', help: '', offset: 8, ctype: 'pointer', count: 2,
        elementLabel: { name: 'which', values: ['a', 'b'] }, scale: 1, type: 'gauge',
      },
    ]);
  });

  it('decides each family an entry produces once: name, HELP (with the entry\'s help first) and labels', () => {
    const [plain, offs, fld, arr, raw] = config.counters;
    expect(plain!.sourceText).toBe('c');
    expect(plain!.handles).toEqual([
      { sourceText: 'c', sum: { name: 'kvm_plain_total', help: 'counter(9) c, sum over CPUs', type: 'counter', labelNames: [] } },
    ]);
    expect(offs!.handles).toEqual([{
      sourceText: 'c+24',
      sum: { name: 'kvm_offs_total', help: 'At 24. counter(9) c+24, sum over CPUs', type: 'counter', labelNames: [] },
      percpu: { name: 'kvm_offs_percpu_total', help: 'At 24. counter(9) c+24, per CPU', type: 'counter', labelNames: ['cpu'] },
    }]);
    expect(fld!.handles.map((h) => [h.sourceText, h.sum.name])).toEqual([['s.a', 'kvm_fld']]);
    expect(arr!.sourceText).toBe('s+8');
    expect(arr!.handles.map((h) => [h.element, h.sourceText, h.sum.name])).toEqual([
      ['x', 's[0] (x)', 'kvm_arr_x_total'],
      ['y', 's[1] (y)', 'kvm_arr_y_total'],
    ]);
    expect(raw!.handles.map((h) => [h.sourceText, h.sum.name, h.sum.type])).toEqual([['handle 0x1a8', 'kvm_raw', 'untyped']]);
    expect(config.variables[0]!.sourceText).toBe('s.b');
    expect(config.variables[0]!.family).toEqual({ name: 'kvm_v', help: 'Kernel variable s.b (uint16)', type: 'gauge', labelNames: [] });
    expect(config.dpcpu[0]!.sourceText).toBe('DPCPU nws+4');
    expect(config.dpcpu[0]!.family).toEqual({ name: 'kvm_dp_total', help: 'DPCPU nws+4 (ulong), per CPU', type: 'counter', labelNames: ['cpu'] });
    expect(config.pcpu.map((e) => [e.sourceText, e.family])).toEqual([
      ['struct pcpu.pc_x', { name: 'kvm_p', help: 'struct pcpu.pc_x (int32), per CPU', type: 'gauge', labelNames: ['cpu'] }],
      ['struct pcpu+8', { name: 'kvm_q', help: 'struct pcpu+8 (pointer), per CPU', type: 'gauge', labelNames: ['cpu', 'which'] }],
    ]);
  });
});

describe('merging a preset', () => {
  const presetsDir = join(scratch, 'presets');
  write('presets/base.yml', [
    'layouts:',
    '  pcpu: { size: 4096, checked: base, fields: { pc_cp_time: 80 } }',
    'collectors: { dpcpu: false, loadavg: false }',
    'pcpu:',
    '  - { name: t, field: pcpu.pc_cp_time, ctype: long }',
    'variables:',
    '  - { name: hz, symbol: hz, ctype: int32 }',
    'processes:',
    '  by_jail: { enabled: true, max_series: 5 }',
    '',
  ].join('\n'));
  const broken = write('presets/broken.yml', 'counters:\n  - { name: a, symbol: s, offset: 4 }\nvariables:\n  - { name: b }\n');
  const syntax = write('presets/syntax.yml', 'counters: [\n');
  const host = write('presets/host.yml', 'kvm: { corefile: /dev/mem }\npreset: base\n');

  it('puts preset entries first and lets the file add its own', () => {
    const config = parseConfig('preset: base\nvariables:\n  - { name: stathz, symbol: stathz, ctype: int32 }\n', 'c.yml', { presetsDir });
    expect(config.variables.map((entry) => [entry.name, entry.origin.file])).toEqual([
      ['hz', join(presetsDir, 'base.yml')],
      ['stathz', join(process.cwd(), 'c.yml')],
    ]);
  });

  it('lets a layout in the file replace the preset layout of that name', () => {
    const text = 'preset: base\nlayouts:\n  pcpu: { size: 4096, checked: mine, fields: { pc_cp_time: 88 } }\n';
    expect(parseConfig(text, 'c.yml', { presetsDir }).pcpu[0]!.offset).toBe(88);
  });

  it('merges collectors and process breakdowns key by key, the file winning', () => {
    const text = 'preset: base\ncollectors: { dpcpu: true, pcpu: false }\nprocesses:\n  by_jail: { max_series: 7 }\n  by_user: { enabled: true }\n';
    const config = parseConfig(text, 'c.yml', { presetsDir });
    expect(config.collectors).toEqual({ dpcpu: true, loadavg: false, pcpu: false });
    expect(config.processes).toEqual({
      byJail: { enabled: true, maxSeries: 7 },
      byUser: { enabled: true, maxSeries: 100 },
      byCommand: { enabled: false, maxSeries: 100 },
      groups: [],
    });
  });

  it('reports a preset that is itself invalid, at its own lines, after a note at preset:', () => {
    const text = 'preset: broken\ncounters:\n  - { name: mine, symbol: m, per_cpu: 1 }\n';
    expect(problemsOf(() => parseConfig(text, 'c.yml', { presetsDir }))).toEqual([
      `c.yml:1:9: preset: preset "broken" is invalid: 2 problems in ${broken}, listed below`,
      'c.yml:3:39: counters[0].per_cpu: expected true or false, got 1',
      `${broken}:2:35: counters[0].offset: offset 4 is not 8-byte aligned; a counter(9) handle is an 8-byte pointer`,
      `${broken}:4:5: variables[0].symbol: required key is missing (expected a kernel symbol name: letters, digits and underscores, not starting with a digit)`,
    ]);
  });

  it('reports a preset with invalid YAML', () => {
    const file = syntax;
    expect(problemsOf(() => parseConfig('preset: syntax\n', 'c.yml', { presetsDir }))).toEqual([
      `c.yml:1:9: preset: preset "syntax" is invalid: 1 problem in ${file}, listed below`,
      `${file}:2:1: invalid YAML (BAD_INDENT): Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  it('refuses kvm and preset inside a preset', () => {
    const file = host;
    const allowed = 'allowed keys: collectors, layouts, counters, variables, dpcpu, pcpu, processes';
    expect(problemsOf(() => parseConfig('preset: host\n', 'c.yml', { presetsDir }))).toEqual([
      `c.yml:1:9: preset: preset "host" is invalid: 2 problems in ${file}, listed below`,
      `${file}:1:1: kvm: not allowed in a preset: a preset describes a kernel release, so kvm belongs in the config file; ${allowed}`,
      `${file}:2:1: preset: not allowed in a preset: a preset describes a kernel release, so preset belongs in the config file; ${allowed}`,
    ]);
  });

  it('lists the presets it knows when the name is unknown', () => {
    expect(problemsOf(() => parseConfig('preset: other\n', 'c.yml', { presetsDir }))).toEqual([
      'c.yml:1:9: preset: unknown preset "other"; known presets: base, broken, host, syntax',
    ]);
  });
});
