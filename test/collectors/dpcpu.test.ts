/**
 * The dpcpu collector reads each present CPU's own copy of a DPCPU variable
 * at `dpcpu_off[cpu]` plus the `pcpu_entry_<name>` template, both resolved
 * once per handle. Expected values are read from each CPU's DPCPU area in
 * the image, at the address the manifest gives for that CPU.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress, type KernelManifest } from '../../sim/image/manifest.js';
import { byLabel, samplesOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { openExporter, runCollector, scrapeKernel, simControl } from '../exporter/harness.js';

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

/** CPU `cpu`'s copy of pcputicks: its DPCPU area plus the variable's offset in set_pcpu. */
function pcputicksAddress(manifest: KernelManifest, cpu: number): bigint {
  const offset = symbolAddress(manifest, 'pcpu_entry_pcputicks') - BigInt(manifest.dpcpu.start);
  return BigInt(manifest.dpcpu.areas[String(cpu)]!) + offset;
}

/** Gives every present CPU a different pcputicks, far from the planted 500000 + cpu. */
function setTicks(image: KernelImage, manifest: KernelManifest): Map<string, number> {
  const values = new Map<string, number>();
  manifest.cpus.forEach((cpu, i) => {
    const value = 1_000_000 * (i + 1) + cpu * 37;
    image.writeI32(pcputicksAddress(manifest, cpu), value);
    values.set(String(cpu), image.readI32(pcputicksAddress(manifest, cpu)));
  });
  return values;
}

const BODY = `dpcpu:
  - { name: pcputicks, symbol: pcputicks, ctype: int32, type: counter }
  - { name: pcputicks_low_half, symbol: pcputicks, ctype: uint16, scale: 3 }
  - { name: pcputicks_high_half, symbol: pcputicks, offset: 2, ctype: uint16 }
`;

describe.each([
  ['dense', { cpus: [0, 1, 2, 3] }],
  ['sparse', { cpus: [0, 2, 5, 9], mpMaxcpus: 16 }],
])('%s CPU ids', (_shape, spec) => {
  it("publishes each present CPU's own copy, with its offset, width and scale", async () => {
    kernel = makeKernel(spec);
    const image = kernel.open();
    const expected = setTicks(image, kernel.manifest);
    const scrape = await scrapeKernel(kernel, BODY, { enabled: ['dpcpu'] });
    expect(byLabel(scrape, 'kvm_pcputicks_total', 'cpu')).toEqual(expected);
    const low = new Map([...expected].map(([cpu, v]) => [cpu, (v & 0xffff) * 3]));
    const high = new Map([...expected].map(([cpu, v]) => [cpu, v >>> 16]));
    expect(byLabel(scrape, 'kvm_pcputicks_low_half', 'cpu')).toEqual(low);
    expect(byLabel(scrape, 'kvm_pcputicks_high_half', 'cpu')).toEqual(high);
    expect(samplesOf(scrape, 'kvm_pcputicks_total')[0]?.type).toBe('counter');
    image.close();
  });
});

describe('symbol lookups', () => {
  it('looks up no symbol after the first scrape, on sparse ids, and still reads every copy', async () => {
    kernel = makeKernel({ cpus: [0, 2, 5, 9], mpMaxcpus: 16 });
    const image = kernel.open();
    const run = await openExporter(kernel, BODY, { enabled: ['dpcpu'] });
    try {
      await run.scrape();
      const expected = setTicks(image, kernel.manifest);
      simControl().resetCallCounts();
      const scrape = await run.scrape();
      const calls = simControl().callCounts();
      expect(byLabel(scrape, 'kvm_pcputicks_total', 'cpu')).toEqual(expected);
      expect({ nlist: calls.kvm_nlist ?? 0, nlist2: calls.kvm_nlist2 ?? 0, setcpu: calls.kvm_dpcpu_setcpu ?? 0 }).toEqual({ nlist: 0, nlist2: 0, setcpu: 0 });
    } finally {
      await run.close();
      image.close();
    }
  });

  it('publishes a CPU that comes up after the open from its own DPCPU area', async () => {
    kernel = makeKernel({ cpus: [0, 2, 5, 9], mpMaxcpus: 16 });
    const image = kernel.open();
    const run = await openExporter(kernel, BODY, { enabled: ['dpcpu'] });
    try {
      await run.scrape();
      image.setCpuPresent(3, true);
      const expected = setTicks(image, { ...kernel.manifest, cpus: [0, 2, 3, 5, 9] });
      const scrape = await run.scrape();
      expect(byLabel(scrape, 'kvm_pcputicks_total', 'cpu')).toEqual(expected);
    } finally {
      await run.close();
      image.close();
    }
  });
});

describe('entries that fail', () => {
  it('leaves out a DPCPU variable the kernel does not have and publishes the others', () => {
    kernel = makeKernel({ cpus: [0, 1] });
    const image = kernel.open();
    const expected = setTicks(image, kernel.manifest);
    const body = `dpcpu:
  - { name: missing, symbol: no_such_dpcpu, ctype: int32 }
  - { name: pcputicks, symbol: pcputicks, ctype: int32 }
`;
    const run = runCollector(kernel, 'dpcpu', body);
    expect(run.error).toBeUndefined();
    expect(run.collector.entries[0]).toMatchObject({ key: 'dpcpu[0]', source: 'DPCPU no_such_dpcpu', metrics: [] });
    expect(run.collector.entries[0]?.problem).toMatch(/^kernel symbol pcpu_entry_no_such_dpcpu not found/);
    expect(byLabel(run.parsed, 'kvm_pcputicks', 'cpu')).toEqual(expected);
    image.close();
  });

  it("reports an unreadable CPU copy with the entry, address and kvm_geterr, and keeps the other entries", () => {
    kernel = makeKernel({ cpus: [0, 1, 2] });
    const image = kernel.open();
    setTicks(image, kernel.manifest);
    const copy = pcputicksAddress(kernel.manifest, 2);
    const body = `dpcpu:
  - { name: pcputicks, symbol: pcputicks, ctype: int32 }
  - { name: pcputicks_high_half, symbol: pcputicks, offset: 2, ctype: uint16 }
`;
    const run = runCollector(kernel, 'dpcpu', body, () => image.setEfault(copy, copy + 2n));
    image.clearFaults();
    expect(run.failures.get('dpcpu[0]')).toBe(`kvm_read2 of 4 bytes at 0x${copy.toString(16)} failed: kvm_read: Bad address`);
    expect(samplesOf(run.parsed, 'kvm_pcputicks')).toEqual([]);
    const high = byLabel(run.parsed, 'kvm_pcputicks_high_half', 'cpu');
    expect([...high.keys()]).toEqual(['0', '1', '2']);
    expect(high.get('2')).toBe(image.readI32(copy) >>> 16);
    image.close();
  });
});
