/**
 * `kvm_exporter check` with the built CLI: one line per config entry with
 * its source, address, the CPUs read and a sample value (checked against
 * the image), exit 0 when everything resolves and reads; exit 1 naming the
 * entry and libkvm's error when an entry is bad, a read fails, or the
 * kernel cannot be opened.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load.js';
import type { KernelImage } from '../../sim/image/image.js';
import { counterHandle, symbolAddress } from '../../sim/image/manifest.js';
import { ROOT, makeKernel, runCli, type TestKernel } from '../support/sim.js';
import { expectedCounters, sumOf } from '../exporter/harness.js';

const DEMO_CONFIG = join(ROOT, 'config', 'demo.yml');
const CPUS = [0, 1, 2, 5];

let kernel: TestKernel;
let image: KernelImage;

beforeAll(() => {
  kernel = makeKernel({ cpus: CPUS, mpMaxcpus: 8 });
  image = kernel.open();
  for (const counter of kernel.manifest.counters) for (const cpu of CPUS) image.addCounter(BigInt(counter.handle), cpu, BigInt(counter.index + 17 * cpu));
});
afterAll(() => {
  image.close();
  kernel.remove();
});

function entryLines(stdout: string): string[] {
  // Entry lines are indented under their collector: `ok` + 5 spaces, `FAIL` + 3.
  return stdout.split('\n').filter((line) => /^(ok {5}|FAIL {3})\S/.test(line));
}

describe('the demo config', () => {
  it('exits 0 with an ok line for the kernel, each collector and each entry', async () => {
    const result = await runCli(['check', '--config.file', DEMO_CONFIG]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const config = loadConfig(DEMO_CONFIG);
    // A vnet: true entry has one line, then one per network stack (the host, web and app).
    const vnetEntries = config.counters.filter((e) => e.vnet).length + config.variables.filter((e) => e.vnet).length;
    const entries =
      config.counters.filter((e) => !e.vnet).reduce((n, e) => n + (e.source.kind === 'array' ? e.source.elements.length : 1), 0) +
      config.variables.filter((e) => !e.vnet).length + config.dpcpu.length + config.pcpu.length + vnetEntries * 4;
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`config ${config.file}: valid`);
    expect(lines[1]).toMatch(/^ok {3}kernel .*kernel\.img: mp_maxcpus \d+, mp_ncpus \d+, present CPU ids /);
    expect(lines.filter((l) => l.startsWith('ok   collector ')).map((l) => l.split(' ')[4])).toEqual(
      ['cpus:', 'counters:', 'variables:', 'vnet:', 'dpcpu:', 'pcpu:', 'processes:', 'loadavg:', 'swap:'],
    );
    expect(entryLines(result.stdout)).toHaveLength(entries);
    expect(entryLines(result.stdout).every((l) => l.startsWith('ok '))).toBe(true);
  });

  it("prints each entry's source, address, CPUs and a sample value that match the kernel (--kvm.corefile)", async () => {
    const result = await runCli(['check', '--config.file', DEMO_CONFIG, '--kvm.corefile', kernel.image]);
    expect(result.code).toBe(0);
    const lines = entryLines(result.stdout);
    const lineAt = (address: bigint) => {
      const found = lines.filter((l) => l.includes(` at 0x${address.toString(16)} cpus=4: `));
      expect(found, `one line at 0x${address.toString(16)}`).toHaveLength(1);
      return found[0]!;
    };
    for (const counter of expectedCounters(loadConfig(DEMO_CONFIG), kernel.manifest)) {
      const line = lineAt(counter.handle);
      expect(line).toMatch(/^ok /);
      expect(line).toContain(` ${counter.sum}=${sumOf(image, counter.handle, CPUS, counter.signed)}`);
    }
    expect(lineAt(counterHandle(kernel.manifest, 'vm_cnt.v_swtch'))).toContain(' vm_cnt.v_swtch at ');
    const udp = BigInt.asUintN(64, BigInt(kernel.manifest.vnet.dataBase) + symbolAddress(kernel.manifest, 'vnet_entry_udpstat'));
    expect(lineAt(udp)).toMatch(/ jid=0 udpstat of jail "host" \(vnet 0x[0-9a-f]+\) at 0x[0-9a-f]+ cpus=4: counter kvm_udp_ipackets_total\{jid="0",jail="host"\}=\d+/);
    for (const variable of ['hz', 'stathz', 'ticks', 'nprocs']) {
      const value = image.readI32(symbolAddress(kernel.manifest, variable));
      expect(lineAt(symbolAddress(kernel.manifest, variable))).toMatch(new RegExp(` ${variable} at 0x[0-9a-f]+ cpus=4: gauge kvm_${variable}=${value}$`));
    }
    const ticks = image.readI32(BigInt(kernel.manifest.dpcpu.areas['0']!) + symbolAddress(kernel.manifest, 'pcpu_entry_pcputicks') - BigInt(kernel.manifest.dpcpu.start));
    expect(lines.find((l) => l.includes('DPCPU pcputicks'))).toMatch(
      new RegExp(`cpus=4: counter kvm_pcputicks_total\\{cpu="0"\\}=${ticks} \\(\\+3 series\\)$`),
    );
    const user = Number(image.readCpTime(0)[0]) / image.readI32(symbolAddress(kernel.manifest, 'stathz'));
    expect(lines.find((l) => l.includes('struct pcpu.pc_cp_time'))).toContain(`kvm_cpu_time_seconds_total{cpu="0",mode="user"}=${user} (+19 series)`);
    expect(result.stdout).toContain(`ok   kernel ${kernel.image}: mp_maxcpus 8, mp_ncpus 4, present CPU ids 0,1,2,5 (sparse)`);
  });
});

describe('problems', () => {
  it('exits 1 and names an entry whose symbol is missing, with kvm_nlist\'s error, still checking the others', async () => {
    const config = kernel.writeConfig(`variables:
  - { name: hz, symbol: hz, ctype: int32 }
  - { name: missing, symbol: no_such_variable, ctype: int32 }
counters:
  - { name: unmapped, address: "0x800000" }
`, 'bad.yml');
    const result = await runCli(['check', '--config.file', config]);
    expect(result.code).toBe(1);
    const lines = entryLines(result.stdout);
    expect(lines).toContain('FAIL   variables[1] no_such_variable: kernel symbol no_such_variable not found: kvm_nlist: No such file or directory');
    expect(lines).toContain(
      'FAIL   counters[0] handle 0x800000: handle 0x800000 from handle 0x800000 cannot be read: kvm_read_zpcpu of 8 bytes at 0x800000 on CPU 0 failed: kvm_read: Bad address (wrong symbol, offset or layout?)',
    );
    expect(lines.find((l) => l.includes('variables[0] hz'))).toMatch(/^ok .*: gauge kvm_hz=1000$/);
  });

  it('exits 1 naming an entry whose handles are zero (the vnet_entry_ template) or EARLY_COUNTER, and says why', async () => {
    const config = kernel.writeConfig(`counters:
  - { name: udp, symbol: vnet_entry_udpstat, array: [ipackets, hdrops] }
  - { name: early, address: "0xa8" }
  - { name: swtch, symbol: vm_cnt, offset: 0 }
`, 'early.yml');
    const result = await runCli(['check', '--config.file', config]);
    expect(result.code).toBe(1);
    const lines = entryLines(result.stdout);
    expect(lines).toContain(
      'FAIL   counters[0] vnet_entry_udpstat: handle 0x0 from vnet_entry_udpstat[0] (ipackets) is below 4096, an offset into struct pcpu itself, ' +
        'not a counter(9) allocation: 0 is a handle never allocated (a linker-set template such as a vnet_entry_ symbol holds 0, sys/net/vnet.h: ' +
        "name the variable without vnet_entry_ and set vnet: true) and would read each CPU's pc_curthread pointer as a count",
    );
    expect(lines.find((l) => l.startsWith('FAIL   counters[1] '))).toMatch(/168 is EARLY_COUNTER \(pc_early_dummy_counter\)/);
    expect(lines.find((l) => l.includes('counters[2] vm_cnt'))).toMatch(/^ok /);
  });

  it('exits 1 naming the entry and the libkvm error when a read fails during the check', async () => {
    const ticks = symbolAddress(kernel.manifest, 'ticks');
    image.setEfault(ticks, ticks + 4n);
    const config = kernel.writeConfig('variables:\n  - { name: ticks, symbol: ticks, ctype: int32 }\n  - { name: hz, symbol: hz, ctype: int32 }\n', 'efault.yml');
    const result = await runCli(['check', '--config.file', config]);
    image.clearFaults();
    expect(result.code).toBe(1);
    const at = `0x${ticks.toString(16)}`;
    expect(entryLines(result.stdout)[0]).toBe(`FAIL   variables[0] ticks: kvm_read2 of 4 bytes at ${at} failed: kvm_read: Bad address`);
    expect(result.stdout).toMatch(/^ok {5}variables\[1\] hz at /m);
  });

  it.each([
    ['a corefile that does not exist', (k: TestKernel) => ({ args: ['--kvm.corefile', join(k.dir, 'none.img')], core: join(k.dir, 'none.img'), err: 'No such file or directory' })],
    ['a kernel whose /dev/mem refuses us', (k: TestKernel) => ({ args: [], core: k.image, err: 'Permission denied' })],
  ])('exits 1 with kvm_openfiles\' error for %s', async (_what, make) => {
    const { args, core, err } = make(kernel);
    if (args.length === 0) image.setOpenErrno(13);
    const result = await runCli(['check', '--config.file', kernel.writeConfig('', 'open.yml'), ...args]);
    image.clearFaults();
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split('\n').slice(1)).toEqual([`FAIL kernel: kvm_openfiles(NULL, ${core}) failed: ${core}: ${err}`]);
  });

  it('exits 1 with every config error, located, when the file is invalid', async () => {
    const config = kernel.writeConfig('variables:\n  - { name: hz, symbol: hz }\n', 'invalid.yml');
    const result = await runCli(['check', '--config.file', config]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^kvm_exporter: invalid config ${config}:\\n${config}:\\d+:\\d+: variables\\[0\\]`));
    expect(result.stderr).toContain('ctype');
  });
});
