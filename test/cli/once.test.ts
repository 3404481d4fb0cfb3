/**
 * `kvm_exporter once` with the built CLI: one scrape on standard output that
 * promtool accepts and whose values are the kernel's; exit 1 when a
 * collector fails or the kernel cannot be opened; a crash dump read with an
 * execfile, and refused with libkvm's own message without one.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { counterHandle, symbolAddress } from '../../sim/image/manifest.js';
import { byLabel, parseExposition, samplesOf, valueOf } from '../support/parse.js';
import { ROOT, makeKernel, runCli, type TestKernel } from '../support/sim.js';
import { sumOf } from '../exporter/harness.js';
import { promtoolCheckMetrics, writeKvmConfig } from './helpers.js';

const DEMO_CONFIG = join(ROOT, 'config', 'demo.yml');

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

function build(spec: Parameters<typeof makeKernel>[0]): { k: TestKernel; image: KernelImage } {
  kernel = makeKernel(spec);
  return { k: kernel, image: kernel.open() };
}

describe('a live kernel', () => {
  it('prints a scrape that promtool accepts, with the kernel\'s values, and exits 0', async () => {
    const { k, image } = build({ cpus: [0, 1, 2, 3], loadavg: [2.5, 1.25, 0.5] });
    const result = await runCli(['once', '--config.file', DEMO_CONFIG, '--kvm.corefile', k.image]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const verdict = promtoolCheckMetrics(result.stdout);
    expect(verdict.output).toBe('');
    expect(verdict.code).toBe(0);
    const scrape = parseExposition(result.stdout);
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect([...byLabel(scrape, 'kvm_scrape_collector_success', 'collector').values()]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const swtch = counterHandle(k.manifest, 'vm_cnt.v_swtch');
    expect(valueOf(scrape, 'kvm_vm_swtch_total')).toBe(sumOf(image, swtch, [0, 1, 2, 3]));
    expect(valueOf(scrape, 'kvm_vm_swtch_percpu_total', { cpu: '2' })).toBe(Number(image.readCounter(swtch, 2)));
    expect(valueOf(scrape, 'kvm_sendfile_iocnt_total')).toBe(sumOf(image, counterHandle(k.manifest, 'sfstat.sf_iocnt'), [0, 1, 2, 3]));
    expect(valueOf(scrape, 'kvm_load1')).toBe(2.5);
    expect(valueOf(scrape, 'kvm_nprocs')).toBe(image.readI32(symbolAddress(k.manifest, 'nprocs')));
    image.close();
  });

  it('exits 1 when a collector fails, still printing the whole scrape', async () => {
    const { k, image } = build({ cpus: [0, 1] });
    image.setGetprocsErrno(1);
    const result = await runCli(['once', '--config.file', DEMO_CONFIG, '--kvm.corefile', k.image]);
    expect(result.code).toBe(1);
    const scrape = parseExposition(result.stdout);
    const success = byLabel(scrape, 'kvm_scrape_collector_success', 'collector');
    expect([...success].filter(([, v]) => v === 0).map(([name]) => name)).toEqual(['processes']);
    expect(samplesOf(scrape, 'kvm_vm_swtch_total')).toHaveLength(1);
    expect(result.stderr).toMatch(/collector=processes err="kvm_getprocs\(kd, 8, 0\) failed: kvm_getprocs: Operation not permitted"/);
    image.close();
  });

  it('exits 1 with kvm_up 0 and libkvm\'s error on standard error when the kernel cannot be opened', async () => {
    const { k, image } = build({ cpus: [0, 1] });
    const missing = join(k.dir, 'gone.img');
    const result = await runCli(['once', '--config.file', DEMO_CONFIG, '--kvm.corefile', missing]);
    expect(result.code).toBe(1);
    expect(valueOf(parseExposition(result.stdout), 'kvm_up')).toBe(0);
    expect(result.stderr).toContain(`kvm_openfiles(NULL, ${missing}) failed: ${missing}: No such file or directory`);
    image.close();
  });
});

describe('a crash dump', () => {
  it('is read with an execfile: every collector succeeds and promtool accepts the scrape', async () => {
    const { k, image } = build({ cpus: [0, 2, 3], mpMaxcpus: 8, live: false, loadavg: [0.5, 0.25, 0.125] });
    const config = writeKvmConfig(k, 'preset: freebsd-14-amd64\nprocesses:\n  by_user: { enabled: true }\n', { execfile: k.kernelFile() });
    const result = await runCli(['once', '--config.file', config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(promtoolCheckMetrics(result.stdout).code).toBe(0);
    const scrape = parseExposition(result.stdout);
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    const intr = counterHandle(k.manifest, 'vm_cnt.v_intr');
    expect([...byLabel(scrape, 'kvm_vm_intr_percpu_total', 'cpu').keys()]).toEqual(['0', '2', '3']);
    expect(valueOf(scrape, 'kvm_vm_intr_total')).toBe(sumOf(image, intr, [0, 2, 3]));
    expect(valueOf(scrape, 'kvm_load5')).toBe(0.25);
    const visible = image.readProcesses().filter((p) => p.threads[0]!.stat !== 1);
    expect(valueOf(scrape, 'kvm_processes_by_user', { uid: '80' })).toBe(visible.filter((p) => p.uid === 80).length);
    image.close();
  });

  it('with the execfile of another kernel exits 1 with kvm_up 0 and both version strings, and check says the same', async () => {
    const { k, image } = build({ cpus: [0, 1], live: false });
    const other = 'FreeBSD 14.1-RELEASE-p6 releng/14.1-n267707-c1b1ab4c3c0c GENERIC amd64\n';
    const config = writeKvmConfig(k, '', { execfile: k.kernelFile({ version: other }) });
    const result = await runCli(['once', '--config.file', config]);
    expect(result.code).toBe(1);
    expect(valueOf(parseExposition(result.stdout), 'kvm_up')).toBe(0);
    const both = `the dump's version is ${JSON.stringify(k.manifest.version)} and the execfile's is ${JSON.stringify(other)}`;
    // logfmt escapes the quotes: the log names both builds, check prints the message as it is.
    expect(result.stderr).toContain('is not the kernel that wrote this dump');
    for (const version of [k.manifest.version, other]) expect(result.stderr).toContain(version.trimEnd());
    const check = await runCli(['check', '--config.file', config]);
    expect(check.code).toBe(1);
    expect(check.stdout.split('\n')[1]).toMatch(/^FAIL kernel: kvm_openfiles\(.*\) failed: .* is not the kernel that wrote this dump: /);
    expect(check.stdout).toContain(both);
    image.close();
  });

  it('without an execfile fails with libkvm\'s message about the boot kernel, and exits 1', async () => {
    const { k, image } = build({ cpus: [0, 1], live: false });
    const result = await runCli(['once', '--config.file', writeKvmConfig(k, '', {})]);
    expect(result.code).toBe(1);
    expect(valueOf(parseExposition(result.stdout), 'kvm_up')).toBe(0);
    expect(result.stderr).toContain(`kvm_openfiles(NULL, ${k.image}) failed: /boot/kernel/kernel: No such file or directory`);
    image.close();
  });

  it('takes the execfile from --kvm.execfile as well', async () => {
    const { k, image } = build({ cpus: [0, 1], live: false });
    const result = await runCli(['once', '--config.file', writeKvmConfig(k, '', {}), '--kvm.execfile', k.kernelFile()]);
    expect(result.code).toBe(0);
    expect(valueOf(parseExposition(result.stdout), 'kvm_up')).toBe(1);
    image.close();
  });

  it('publishes no swap series and still exits 0: kvm_getswapinfo needs _dmmax, which FreeBSD 13+ kernels lack', async () => {
    const { k, image } = build({ cpus: [0, 1], live: false, swap: [{ name: 'ada0p3', blocks: 65_536, used: 100 }] });
    const config = writeKvmConfig(k, '', {});
    const result = await runCli(['once', '--config.file', config, '--kvm.execfile', k.kernelFile()]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const scrape = parseExposition(result.stdout);
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'swap' })).toBe(1);
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'processes' })).toBe(1);
    expect(samplesOf(scrape, 'kvm_swap_total_bytes')).toEqual([]);
    expect(samplesOf(scrape, 'kvm_swap_used_bytes')).toEqual([]);
    const check = await runCli(['check', '--config.file', config, '--kvm.execfile', k.kernelFile()]);
    expect(check.code).toBe(0);
    expect(check.stdout.split('\n').filter((l) => l.includes('swap'))).toEqual([
      'ok   collector swap: 0 families, 0 series',
      'ok     swap kvm_getswapinfo: not available on this crash dump: kvm_getswapinfo(kd, swap_ary, 16, 0) failed: unable to find dmmax ' +
        "(libkvm reads a dump's swap through _swtailq and _dmmax, and FreeBSD 13+ has no dmmax); no swap series are published",
    ]);
    image.close();
  });
});
