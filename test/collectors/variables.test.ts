/**
 * The variables collector reads plain kernel variables of every C type with
 * the right width, sign and scale, re-reads them at every scrape, and keeps
 * publishing the others when one entry cannot be resolved or read.
 * Expected values are what the test wrote into the image (or read from it),
 * decoded with Node's own Buffer readers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress } from '../../sim/image/manifest.js';
import { samplesOf, valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { runCollector, scrapeKernel } from '../exporter/harness.js';

let kernel: TestKernel;
let image: KernelImage;
/** sfstat's 88 bytes of handles: free to overwrite, no counter entry here reads them. */
let scratch: bigint;

beforeAll(() => {
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  image = kernel.open();
  scratch = symbolAddress(kernel.manifest, 'sfstat');
});
afterAll(() => {
  image.close();
  kernel.remove();
});

interface Case {
  readonly ctype: string;
  readonly offset: number;
  readonly bytes: Buffer;
  readonly value: number;
  readonly scale?: number;
}

function le(width: number, write: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(width);
  write(b);
  return b;
}

/** One value per C type, each with its sign or top bit set where the type has one. */
const CASES: readonly Case[] = [
  { ctype: 'int8', offset: 0, bytes: le(1, (b) => b.writeInt8(-5)), value: -5 },
  { ctype: 'uint8', offset: 1, bytes: le(1, (b) => b.writeUInt8(250)), value: 250 },
  { ctype: 'int16', offset: 2, bytes: le(2, (b) => b.writeInt16LE(-30_000)), value: -30_000 },
  { ctype: 'uint16', offset: 4, bytes: le(2, (b) => b.writeUInt16LE(65_000)), value: 65_000, scale: 2 },
  { ctype: 'int32', offset: 8, bytes: le(4, (b) => b.writeInt32LE(-2_000_000_000)), value: -2_000_000_000 },
  { ctype: 'uint32', offset: 12, bytes: le(4, (b) => b.writeUInt32LE(4_000_000_000)), value: 4_000_000_000, scale: 4096 },
  { ctype: 'int64', offset: 16, bytes: le(8, (b) => b.writeBigInt64LE(-(2n ** 40n) - 3n)), value: -(2 ** 40) - 3 },
  { ctype: 'uint64', offset: 24, bytes: le(8, (b) => b.writeBigUInt64LE(2n ** 64n - 1n)), value: Number(2n ** 64n - 1n) },
  { ctype: 'long', offset: 32, bytes: le(8, (b) => b.writeBigInt64LE(-123_456_789_012n)), value: -123_456_789_012, scale: 0.5 },
  { ctype: 'ulong', offset: 40, bytes: le(8, (b) => b.writeBigUInt64LE(2n ** 53n - 1n)), value: 2 ** 53 - 1 },
  { ctype: 'pointer', offset: 48, bytes: le(8, (b) => b.writeBigUInt64LE(0xffff_f800_03a0_0000n)), value: Number(0xffff_f800_03a0_0000n) },
];

function casesConfig(): string {
  const lines = CASES.map(
    (c) => `  - { name: v_${c.ctype}, symbol: sfstat, offset: ${c.offset}, ctype: ${c.ctype}${c.scale ? `, scale: ${c.scale}` : ''} }`,
  );
  return `variables:\n${lines.join('\n')}\n`;
}

describe('C types', () => {
  it('decodes every ctype with its width and sign, and multiplies in the scale', async () => {
    for (const c of CASES) image.writeBytes(scratch + BigInt(c.offset), c.bytes);
    const scrape = await scrapeKernel(kernel, casesConfig(), { enabled: ['variables'] });
    for (const c of CASES) {
      const [sample] = samplesOf(scrape, `kvm_v_${c.ctype}`);
      expect(sample?.value, c.ctype).toBe(c.value * (c.scale ?? 1));
      expect(sample?.type).toBe('gauge');
    }
  });

  it('reads only its own width: bytes after the variable do not leak into it', async () => {
    image.writeBytes(scratch, Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    const scrape = await scrapeKernel(
      kernel,
      'variables:\n  - { name: narrow8, symbol: sfstat, ctype: int8 }\n  - { name: narrow16, symbol: sfstat, ctype: uint16 }\n',
      { enabled: ['variables'] },
    );
    expect(valueOf(scrape, 'kvm_narrow8')).toBe(0x7f);
    expect(valueOf(scrape, 'kvm_narrow16')).toBe(0xff7f);
  });
});

describe('kernel variables', () => {
  it('publishes hz and stathz from the preset, and ticks, nprocs and a vmmeter u_int field as the image holds them', async () => {
    const vmCnt = symbolAddress(kernel.manifest, 'vm_cnt');
    const body = `preset: freebsd-14-amd64
collectors: { counters: false, dpcpu: false, pcpu: false, processes: false, cpus: false, loadavg: false }
variables:
  - { name: ticks, symbol: ticks, ctype: int32 }
  - { name: nprocs, symbol: nprocs, ctype: int32 }
  - { name: vm_page_count_bytes, symbol: vm_cnt, field: vmmeter.v_page_count, ctype: uint32, scale: 4096 }
  - { name: vm_free_target, symbol: vm_cnt, offset: 300, ctype: uint32, type: untyped }
`;
    const scrape = await scrapeKernel(kernel, body);
    const int = (name: string) => image.readI32(symbolAddress(kernel.manifest, name));
    expect(valueOf(scrape, 'kvm_hz')).toBe(int('hz'));
    expect(valueOf(scrape, 'kvm_stathz')).toBe(int('stathz'));
    expect(valueOf(scrape, 'kvm_ticks')).toBe(int('ticks'));
    expect(valueOf(scrape, 'kvm_nprocs')).toBe(int('nprocs'));
    expect(valueOf(scrape, 'kvm_vm_page_count_bytes')).toBe(image.readU32(vmCnt + 292n) * 4096);
    expect(valueOf(scrape, 'kvm_vm_free_target')).toBe(image.readU32(vmCnt + 300n));
    expect(samplesOf(scrape, 'kvm_vm_free_target')[0]?.type).toBe('untyped');
  });

  it('re-reads a variable at every scrape, and names a counter-typed one with _total', async () => {
    const ticks = symbolAddress(kernel.manifest, 'ticks');
    const body = 'variables:\n  - { name: ticks, symbol: ticks, ctype: int32, type: counter }\n';
    image.writeI32(ticks, 1_000);
    const first = await scrapeKernel(kernel, body, { enabled: ['variables'] });
    image.writeI32(ticks, 2_000_123);
    const second = await scrapeKernel(kernel, body, { enabled: ['variables'] });
    expect(valueOf(first, 'kvm_ticks_total')).toBe(1_000);
    expect(valueOf(second, 'kvm_ticks_total')).toBe(2_000_123);
    expect(samplesOf(second, 'kvm_ticks_total')[0]?.type).toBe('counter');
  });
});

describe('entries that fail', () => {
  it('leaves out an entry whose symbol is missing and publishes the others', () => {
    const body = `variables:
  - { name: missing, symbol: no_such_variable, ctype: int32 }
  - { name: hz, symbol: hz, ctype: int32 }
`;
    const run = runCollector(kernel, 'variables', body);
    expect(run.error).toBeUndefined();
    const [missing, hz] = run.collector.entries;
    expect(missing).toMatchObject({ key: 'variables[0]', source: 'no_such_variable', metrics: [] });
    expect(missing?.problem).toBe('kernel symbol no_such_variable not found: kvm_nlist: No such file or directory');
    expect(hz).toMatchObject({ key: 'variables[1]', source: 'hz', address: symbolAddress(kernel.manifest, 'hz'), metrics: ['kvm_hz'] });
    expect(samplesOf(run.parsed, 'kvm_missing')).toEqual([]);
    expect(valueOf(run.parsed, 'kvm_hz')).toBe(image.readI32(symbolAddress(kernel.manifest, 'hz')));
  });

  it('reports a read that fails during a scrape with the entry, the address and kvm_geterr, and emits the rest', () => {
    const ticks = symbolAddress(kernel.manifest, 'ticks');
    const body = `variables:
  - { name: ticks, symbol: ticks, ctype: int32 }
  - { name: hz, symbol: hz, ctype: int32 }
`;
    const run = runCollector(kernel, 'variables', body, () => image.setEfault(ticks, ticks + 4n));
    image.clearFaults();
    expect(run.failures).toEqual(
      new Map([['variables[0]', `kvm_read2 of 4 bytes at 0x${ticks.toString(16)} failed: kvm_read: Bad address`]]),
    );
    expect(samplesOf(run.parsed, 'kvm_ticks')).toEqual([]);
    expect(valueOf(run.parsed, 'kvm_hz')).toBe(image.readI32(symbolAddress(kernel.manifest, 'hz')));
  });
});
