/**
 * The swap collector publishes kvm_getswapinfo(3) as node_exporter does on
 * FreeBSD: per device and libkvm's total, in bytes (pages x 4096). The
 * expected numbers follow lib/libkvm/kvm_getswapinfo.c from the devices the
 * test lays out: usable = sw_nblks - dmmax, where 13+ answers vm.dmmax
 * with nsw_cluster_max (32).
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { SwapDevice } from '../../sim/image/freebsd-kernel.js';
import { byLabel } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { runCollector } from '../exporter/harness.js';

const PAGE = 4096;
const DMMAX = 32;

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

function expected(devices: readonly SwapDevice[]) {
  const total = new Map(devices.map((d) => [d.name, (d.blocks - DMMAX) * PAGE]));
  const used = new Map(devices.map((d) => [d.name, d.used * PAGE]));
  total.set('total', devices.reduce((s, d) => s + (d.blocks - DMMAX) * PAGE, 0));
  used.set('total', devices.reduce((s, d) => s + d.used * PAGE, 0));
  return { total, used };
}

describe('swap', () => {
  it('publishes every device and libkvm\'s total, and follows sw_used', () => {
    const devices: SwapDevice[] = [
      { name: 'ada0p3', blocks: 2_097_152, used: 3_072 },
      { name: 'nda1p2', blocks: 524_288, used: 0 },
      { name: 'md99', blocks: 65_536, used: 65_000 },
    ];
    kernel = makeKernel({ cpus: [0, 1], swap: devices });
    const run = runCollector(kernel, 'swap');
    expect(run.error).toBeUndefined();
    const want = expected(devices);
    expect(byLabel(run.parsed, 'kvm_swap_total_bytes', 'device')).toEqual(want.total);
    expect(byLabel(run.parsed, 'kvm_swap_used_bytes', 'device')).toEqual(want.used);

    const image = kernel.open();
    image.setSwapUsed(1, 100);
    image.close();
    const again = runCollector(kernel, 'swap');
    expect(byLabel(again.parsed, 'kvm_swap_used_bytes', 'device').get('nda1p2')).toBe(100 * PAGE);
    expect(byLabel(again.parsed, 'kvm_swap_used_bytes', 'device').get('total')).toBe((3_072 + 100 + 65_000) * PAGE);
  });

  it('publishes only the zero total when no swap is configured', () => {
    kernel = makeKernel({ cpus: [0, 1], swap: [] });
    const run = runCollector(kernel, 'swap');
    expect(byLabel(run.parsed, 'kvm_swap_total_bytes', 'device')).toEqual(new Map([['total', 0]]));
  });

  it('reads past the first array when there are more devices than it holds', () => {
    const devices = Array.from({ length: 40 }, (_, i) => ({ name: `md${i}`, blocks: 1_024 + i, used: i }));
    kernel = makeKernel({ cpus: [0, 1], swap: devices });
    const run = runCollector(kernel, 'swap');
    expect(byLabel(run.parsed, 'kvm_swap_used_bytes', 'device')).toEqual(expected(devices).used);
  });
});
