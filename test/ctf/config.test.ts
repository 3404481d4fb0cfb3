/**
 * Field offsets from the kernel's CTF, end to end: the simulated kernel's
 * execfile carries CTF for its structs and variables; configs resolve
 * against it in the order config layout > CTF > preset; `check` on the demo
 * shows CTF as the source of every offset and flags a preset offset CTF
 * contradicts; the running kernel's CTF is trusted only with a matching
 * build id, and on a system without sysctlbyname the config falls back to
 * presets with the reason.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SIM_BUILD_ID, writeSimKernelFile } from '../../sim/image/kernel-ctf.js';
import { loadConfigWithFlags } from '../../src/cli/run-config.js';
import { loadConfig } from '../../src/config/load.js';
import { ctfKernelTypes } from '../../src/ctf/kernel-types.js';
import { locateCtf, type RunningKernelFacts } from '../../src/ctf/locate.js';
import { ConfigErrors } from '../../src/errors.js';
import { ROOT, makeKernel, runCli } from '../support/sim.js';

const kernel = makeKernel();
const execfile = join(kernel.dir, 'kernel');
writeSimKernelFile(execfile, kernel.manifest);
afterAll(() => kernel.remove());

const NO_FLAGS = { kvmLibrary: undefined, kvmExecfile: undefined, kvmCorefile: undefined };

function load(body: string, kvm = `  execfile: ${JSON.stringify(execfile)}\n`) {
  const file = join(kernel.dir, 'ctf.yml');
  writeFileSync(file, `kvm:\n  corefile: ${JSON.stringify(kernel.image)}\n${kvm}${body}`);
  return loadConfigWithFlags(file, NO_FLAGS);
}

function problems(body: string, kvm?: string): string[] {
  try {
    load(body, kvm);
  } catch (error) {
    if (error instanceof ConfigErrors) return error.errors.map((e) => e.message.replace(/^[^:]+:\d+:\d+: /, ''));
    throw error;
  }
  return [];
}

const origin = `CTF of ${execfile}`;

describe('resolution against the kernel file\'s CTF', () => {
  it('field: vmmeter.v_swtch works with no layouts and no preset', () => {
    const config = load('counters:\n  - { name: swtch, symbol: vm_cnt, field: vmmeter.v_trap }\n');
    expect(config.ctf).toEqual({ origin });
    expect(config.counters[0]!.source).toEqual({ kind: 'symbol', symbol: 'vm_cnt', offset: 8, field: 'vmmeter.v_trap', offsetOrigin: { from: origin } });
  });

  it('dotted paths reach nested members; ctype defaults to the CTF type', () => {
    const config = load('variables:\n  - { name: prev, symbol: vnet0, field: vnet.vnet_le.le_prev }\n  - { name: hz, symbol: hz }\n  - { name: magic, symbol: vnet0, field: vnet.vnet_magic_n }\n');
    expect(config.variables.map((v) => [v.offset, v.ctype])).toEqual([[8, 'pointer'], [0, 'int32'], [16, 'uint32']]);
  });

  it("a pcpu array's count and element type default to the CTF array's", () => {
    const config = load('pcpu:\n  - { name: t, field: pcpu.pc_cp_time, element_label: { name: state, values: [user, nice, system, interrupt, idle] } }\n');
    expect(config.pcpu[0]).toMatchObject({ offset: 80, count: 5, ctype: 'int64' });
  });

  it('refuses a variable whose CTF type is not an integer or pointer, and a counter whose member is not counter_u64_t', () => {
    expect(problems('variables:\n  - { name: cnt, symbol: vm_cnt }\n')).toEqual([
      `variables[0]: vm_cnt is struct vmmeter in ${origin}, not an integer or pointer; give ctype and an offset of an integer inside it`,
    ]);
    expect(problems('counters:\n  - { name: size, symbol: vm_cnt, field: vmmeter.v_page_size }\n')).toEqual([
      `counters[0].field: vmmeter.v_page_size is u_int in ${origin}, not counter_u64_t (or an array of it)`,
    ]);
    expect(problems('counters:\n  - { name: x, symbol: vm_cnt, field: vmmeter.v_nosuch }\n')).toEqual([
      `counters[0].field: ${execfile}: struct vmmeter has no member "v_nosuch"`,
    ]);
  });

  it('a layout written in the config wins over CTF; with kvm.ctf off, the layout is all there is', () => {
    const body = 'layouts:\n  vmmeter: { size: 328, checked: mine, fields: { v_trap: 16 } }\ncounters:\n  - { name: t, symbol: vm_cnt, field: vmmeter.v_trap }\n';
    expect(load(body).counters[0]!.source).toMatchObject({ offset: 16, offsetOrigin: { from: expect.stringMatching(/^config layout vmmeter/) } });
    const off = `  execfile: ${JSON.stringify(execfile)}\n  ctf: off\n`;
    expect(load(body, off).ctf).toEqual({ none: 'kvm.ctf is off' });
    expect(problems('variables:\n  - { name: p, symbol: vnet0, field: vnet.vnet_le.le_prev, ctype: pointer }\n', off)).toEqual([
      "variables[0].field: vnet.vnet_le.le_prev reaches into a nested member, which needs the kernel's CTF (none is loaded)",
    ]);
  });

  it('a preset offset that CTF contradicts is kept out and reported', () => {
    const presetsDir = join(kernel.dir, 'presets');
    cpSync(join(ROOT, 'config', 'presets'), presetsDir, { recursive: true });
    const preset = join(presetsDir, 'freebsd-14-amd64.yml');
    writeFileSync(preset, readFileSync(preset, 'utf8').replace('      v_trap: 8\n', '      v_trap: 16\n'));
    const file = join(kernel.dir, 'preset.yml');
    writeFileSync(file, `preset: freebsd-14-amd64\nkvm:\n  corefile: ${JSON.stringify(kernel.image)}\n`);
    const located = locateCtf([execfile], null, unavailable);
    const config = loadConfig(file, { presetsDir, types: () => ctfKernelTypes({ ...located, kernel: located.kernel! }) });
    const trap = config.counters.find((c) => c.name === 'vm_trap')!.source;
    expect(trap).toMatchObject({ offset: 8, offsetOrigin: { from: origin, conflict: `the preset layout vmmeter (${preset}) says offset 16; ${origin} says 8` } });
    expect(config.counters.filter((c) => c.source.kind === 'symbol' && c.source.offsetOrigin?.conflict)).toHaveLength(1);
  });
});

const unavailable: RunningKernelFacts = {
  sysctlString: () => ({ ok: false, reason: 'no sysctlbyname here' }),
  loadedFiles: () => ({ ok: false, reason: 'no kldstat here' }),
};

function running(buildId: string): RunningKernelFacts {
  return {
    sysctlString: (name) => (name === 'kern.bootfile' ? { ok: true, value: execfile } : { ok: true, value: buildId }),
    loadedFiles: () => ({ ok: true, value: [{ name: 'kernel', path: execfile }] }),
  };
}

describe('the running kernel', () => {
  it('trusts the file kern.bootfile names only when its build id is kern.build_id', () => {
    expect(locateCtf('auto', null, running(SIM_BUILD_ID)).kernel?.file).toBe(execfile);
    const other = locateCtf('auto', null, running('00ff'));
    expect(other.kernel).toBeUndefined();
    expect(other.reason).toBe(`${execfile} is not the running kernel (its build id ${SIM_BUILD_ID}, kern.build_id 00ff)`);
  });

  it('on this system (no sysctlbyname) the live simulated kernel falls back to the preset, saying why', () => {
    const config = load('preset: freebsd-14-amd64\n', '');
    expect('none' in config.ctf && config.ctf.none).toMatch(/^kern\.bootfile: the C library has no sysctlbyname/);
    expect(config.counters.find((c) => c.name === 'vm_trap')!.source).toMatchObject({ offset: 8, offsetOrigin: { from: expect.stringMatching(/^preset layout vmmeter/) } });
  });
});

describe('check on the demo config', () => {
  it('shows CTF as the source of every field offset', async () => {
    const result = await runCli(['check', `--config.file=${join(ROOT, 'config', 'demo.yml')}`]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => /^ {5}\S+ \S+: offset \d+ from /.test(line));
    expect(lines.length).toBeGreaterThanOrEqual(37);
    for (const line of lines) expect(line).toMatch(/ from CTF of .*dist\/demo\/kernel$/);
    expect(result.stdout).not.toMatch(/^WARN/m);
  });
});
