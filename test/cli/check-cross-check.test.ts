/**
 * `kvm_exporter check` cross-checks every counter's span sum (what a scrape
 * publishes: one kvm_read_zpcpu of every CPU's copy of a page) against
 * libkvm's own kvm_counter_u64_fetch, once: the same number on a still
 * kernel, a fetch between two span sums on a moving one, "not compared" on
 * sparse CPU ids (libkvm sums the wrong CPUs there), and a FAIL with exit 1
 * when they disagree or a copy cannot be read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { verdict } from '../../src/collectors/counters/cross-check.js';
import { loadConfig } from '../../src/config/load.js';
import { counterHandle } from '../../sim/image/manifest.js';
import { ROOT, makeKernel, runCli, type TestKernel } from '../support/sim.js';
import { expectedCounters, sumOf } from '../exporter/harness.js';

const DEMO_CONFIG = join(ROOT, 'config', 'demo.yml');
const RUN_ACTIVITY = join(ROOT, 'dist', 'sim', 'image', 'run-activity.js');

let kernel: TestKernel | undefined;
let writer: ChildProcess | undefined;
afterEach(() => {
  writer?.kill('SIGKILL');
  writer = undefined;
  kernel?.remove();
  kernel = undefined;
});

function crossCheckLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => / cross-check: /.test(line));
}

/** The image's counters keep moving (the demo's activity, every millisecond) until the test ends. */
async function keepMoving(image: string): Promise<void> {
  writer = spawn(process.execPath, [RUN_ACTIVITY, image, '--interval-ms', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    writer!.stdout!.once('data', () => resolve());
    writer!.once('exit', (code) => reject(new Error(`the activity writer exited with ${code}`)));
  });
}

describe('dense CPU ids', () => {
  it('every counter agrees with kvm_counter_u64_fetch, with the same number a scrape publishes', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    const image = kernel.open();
    for (const counter of kernel.manifest.counters) for (const cpu of [0, 1, 2, 3]) image.addCounter(BigInt(counter.handle), cpu, BigInt(counter.index * 31 + cpu + 1));
    const result = await runCli(['check', '--config.file', DEMO_CONFIG, '--kvm.corefile', kernel.image]);
    expect(result.code).toBe(0);
    const lines = crossCheckLines(result.stdout);
    const counters = expectedCounters(loadConfig(DEMO_CONFIG), kernel.manifest);
    expect(lines).toHaveLength(counters.length);
    for (const counter of counters) {
      const sum = sumOf(image, counter.handle, [0, 1, 2, 3], counter.signed);
      // A preset's entries are named after the preset file and line first (`freebsd-14-amd64.yml:125 counters[0]`).
      const line = lines.find((l) => l.endsWith(` ${counter.key} cross-check: agrees with kvm_counter_u64_fetch (${sum})`));
      expect(line, `${counter.key}: ${sum}`).toMatch(/^ok {7}\S/);
    }
    image.close();
  });

  it('agrees while the counters move under it: the fetch lies between the two span sums', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3, 4, 5, 6, 7] });
    const image = kernel.open();
    await keepMoving(kernel.image);
    // Each read takes 1 ms (a busy host): the writer's 1 ms steps land between the three reads of a cross-check.
    image.setReadDelayUs(1000);
    const config = kernel.writeConfig('preset: freebsd-14-amd64\ncollectors: { vnet: false }\n', 'moving.yml');
    const result = await runCli(['check', '--config.file', config], { timeoutMs: 60_000 });
    image.clearFaults();
    expect(result.stdout).not.toMatch(/^FAIL/m);
    expect(result.code).toBe(0);
    const lines = crossCheckLines(result.stdout);
    expect(lines).toHaveLength(36);
    expect(lines.every((l) => l.startsWith('ok '))).toBe(true);
    expect(lines.filter((l) => l.includes('agrees with kvm_counter_u64_fetch while moving (span sum ')).length).toBeGreaterThan(0);
    image.close();
  });

  it('exits 1 with FAIL for a counter whose copy cannot be read, naming the read', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    const image = kernel.open();
    const forks = counterHandle(kernel.manifest, 'vm_cnt.v_forks');
    const copy = image.counterAddress(forks, 3);
    image.setEfault(copy, copy + 8n);
    const config = kernel.writeConfig('counters:\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n', 'fault.yml');
    const result = await runCli(['check', '--config.file', config]);
    image.clearFaults();
    expect(result.code).toBe(1);
    expect(crossCheckLines(result.stdout)).toEqual([
      `FAIL     counters[0] cross-check: could not be compared: kvm_read_zpcpu of 8 bytes at 0x${forks.toString(16)} on CPU 3 failed: kvm_read: Bad address`,
    ]);
    image.close();
  });
});

describe('sparse CPU ids', () => {
  it('says why nothing is compared: kvm_counter_u64_fetch sums ids 0..mp_ncpus-1', async () => {
    kernel = makeKernel({ cpus: [0, 2, 5, 9], mpMaxcpus: 16 });
    const config = kernel.writeConfig('counters:\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n', 'sparse.yml');
    const result = await runCli(['check', '--config.file', config]);
    expect(result.code).toBe(0);
    expect(crossCheckLines(result.stdout)).toEqual([
      'ok       counters[0] cross-check: not compared: CPU ids 0,2,5,9 are sparse, and kvm_counter_u64_fetch sums ids 0..3',
    ]);
  });
});

describe('the verdict', () => {
  it('a still counter agrees only with the same number', () => {
    expect(verdict(10, 10, 10, false).ok).toBe(true);
    expect(verdict(10, 11, 10, false)).toEqual({
      ok: false,
      text:
        "disagrees with kvm_counter_u64_fetch (span sum 10, kvm_counter_u64_fetch 11, span sum 10): reading every CPU's copy " +
        'of a page in one kvm_read_zpcpu does not hold on this kernel, so the published sums are wrong',
    });
  });

  it('a moving counter (only ever growing) agrees when the fetch lies between the two span sums', () => {
    expect(verdict(10, 12, 15, false)).toEqual({ ok: true, text: 'agrees with kvm_counter_u64_fetch while moving (span sum 10, kvm_counter_u64_fetch 12, span sum 15)' });
    expect(verdict(10, 16, 15, false).ok).toBe(false);
    expect(verdict(10, 9, 15, false).ok).toBe(false);
  });

  it('a gauge that moved is not compared; a still gauge must agree', () => {
    expect(verdict(10, 3, 7, true)).toEqual({ ok: true, text: 'not compared: the gauge moved while read (span sum 10, kvm_counter_u64_fetch 3, span sum 7)' });
    expect(verdict(-4, -4, -4, true).ok).toBe(true);
    expect(verdict(-4, 4, -4, true).ok).toBe(false);
  });
});
