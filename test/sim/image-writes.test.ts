/**
 * KernelImage changes an image in place at the right file offsets: memory
 * writes by kernel address, counters per CPU, CPUs going absent and back,
 * the process table under the seqlock, and each control-file fault at the
 * offset the README gives it. Checked by re-reading the raw files.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { KernelImage } from '../../sim/image/image.js';
import { ProcState } from '../../sim/image/kinfo.js';
import { type KernelManifest, counterHandle, plantedCounterValue } from '../../sim/image/manifest.js';
import { kva, makeTempDir, memI32, memU32, memU64, offsetOf, parseImage, sym } from './helpers.js';

let tmp: ReturnType<typeof makeTempDir>;
let path: string;
let manifest: KernelManifest;
let image: KernelImage;

beforeAll(() => {
  tmp = makeTempDir('writes');
});
afterAll(() => tmp.cleanup());

beforeEach(() => {
  path = `${tmp.dir}/k.img`;
  manifest = buildFreeBsdKernel(path, { cpus: [0, 1, 3], mpMaxcpus: 16 });
  image = KernelImage.open(path);
});
afterEach(() => image.close());

const ctl = (): Buffer => readFileSync(`${path}.ctl`);

describe('kernel memory writes', () => {
  it.each([
    ['u8', (a: bigint) => image.writeU8(a, 0xab), Buffer.from([0xab])],
    ['u16', (a: bigint) => image.writeU16(a, 0xbeef), Buffer.from([0xef, 0xbe])],
    ['u32', (a: bigint) => image.writeU32(a, 0xdeadbeef), Buffer.from([0xef, 0xbe, 0xad, 0xde])],
    ['i32', (a: bigint) => image.writeI32(a, -2), Buffer.from([0xfe, 0xff, 0xff, 0xff])],
    ['u64', (a: bigint) => image.writeU64(a, 0x0102030405060708n), Buffer.from([8, 7, 6, 5, 4, 3, 2, 1])],
  ])('writes a %s little-endian at the file offset of its address', (_type, write, expected) => {
    const target = BigInt(manifest.symbols.ticks?.address ?? 0);
    write(target);
    const img = parseImage(path);
    const off = offsetOf(img, target, expected.length);
    expect(img.bytes.subarray(off, off + expected.length)).toEqual(expected);
    expect(image.readBytes(target, expected.length)).toEqual(expected);
  });

  it('refuses addresses outside every segment, naming the address', () => {
    expect(() => image.writeU64(0x1000n, 1n)).toThrow(/kernel address 0x1000 \(\+8 bytes\) is not inside one segment/);
    expect(() => image.symbol('no_such_symbol')).toThrow(/no symbol no_such_symbol/);
  });
});

describe('counters', () => {
  it("sets one CPU's copy at __pcpu + handle + 4096*cpu and nothing else", () => {
    const handle = counterHandle(manifest, 'vm_cnt.v_intr');
    image.setCounter(handle, 3, 123_456_789n);
    const img = parseImage(path);
    const pcpu = memU64(img, sym(img, '__pcpu'));
    expect(memU64(img, kva(pcpu + handle + 4096n * 3n))).toBe(123_456_789n);
    const index = manifest.counters.find((c) => c.name === 'vm_cnt.v_intr')?.index ?? -1;
    expect(memU64(img, kva(pcpu + handle))).toBe(plantedCounterValue(index, 0));
    expect(memU64(img, kva(pcpu + handle + 4096n))).toBe(plantedCounterValue(index, 1));
  });

  it('adds with 64-bit wrap-around, as a u_int64_t counter does', () => {
    const handle = counterHandle(manifest, 'vm_cnt.v_swtch');
    image.setCounter(handle, 1, 2n ** 64n - 2n);
    expect(image.addCounter(handle, 1, 5n)).toBe(3n);
    expect(image.readCounter(handle, 1)).toBe(3n);
  });

  it('writes pc_cp_time as five longs at struct pcpu + 80', () => {
    image.writeCpTime(1, [1n, 2n, 3n, 4n, 5n]);
    const img = parseImage(path);
    const pc = memU64(img, sym(img, 'cpuid_to_pcpu') + 8n);
    expect([0, 1, 2, 3, 4].map((m) => memU64(img, pc + 80n + BigInt(8 * m)))).toEqual([1n, 2n, 3n, 4n, 5n]);
  });
});

describe('CPUs going absent and present', () => {
  it('clears cpuid_to_pcpu and dpcpu_off and drops mp_ncpus, then restores them', () => {
    const before = parseImage(path);
    const pcEntry = memU64(before, sym(before, 'cpuid_to_pcpu') + 8n);
    const dpcpuOff = memU64(before, sym(before, 'dpcpu_off') + 8n);
    image.setCpuPresent(1, false);
    let img = parseImage(path);
    expect(memU64(img, sym(img, 'cpuid_to_pcpu') + 8n)).toBe(0n);
    expect(memU64(img, sym(img, 'dpcpu_off') + 8n)).toBe(0n);
    expect(memI32(img, sym(img, 'mp_ncpus'))).toBe(2);
    expect(memU32(img, sym(img, 'mp_maxid'))).toBe(3);
    image.setCpuPresent(1, true);
    img = parseImage(path);
    expect(memU64(img, sym(img, 'cpuid_to_pcpu') + 8n)).toBe(pcEntry);
    expect(memU64(img, sym(img, 'dpcpu_off') + 8n)).toBe(dpcpuOff);
    expect(memI32(img, sym(img, 'mp_ncpus'))).toBe(3);
  });

  it('brings up an id that was never present, from its pc_dynamic', () => {
    image.setCpuPresent(2, true);
    const img = parseImage(path);
    const pcpu = memU64(img, sym(img, '__pcpu'));
    expect(memU64(img, sym(img, 'cpuid_to_pcpu') + 16n)).toBe(pcpu + 8192n);
    expect(memU64(img, sym(img, 'dpcpu_off') + 16n)).toBe(memU64(img, pcpu + 8192n + 160n));
    expect(memU64(img, sym(img, 'dpcpu_off') + 16n)).not.toBe(0n);
    expect(memI32(img, sym(img, 'mp_ncpus'))).toBe(4);
  });

  it('is idempotent and refuses ids past mp_maxid', () => {
    image.setCpuPresent(0, true);
    expect(memI32(parseImage(path), sym(parseImage(path), 'mp_ncpus'))).toBe(3);
    expect(() => image.setCpuPresent(4, true)).toThrow(/CPU 4 is outside 0..mp_maxid \(3\)/);
  });
});

describe('the process table under the seqlock', () => {
  it('replaces records, nprocs_records and nprocs while moving seq by two', () => {
    const procs = image.readProcesses();
    const kept = procs.slice(0, 10);
    kept.push({ ...procs[1]!, pid: 4242, comm: 'newproc', threads: [{ tid: 999_999, name: 'newproc', stat: ProcState.SRUN }] });
    const seq = ctl().readBigUInt64LE(8);
    image.replaceProcesses(kept);
    expect(ctl().readBigUInt64LE(8)).toBe(seq + 2n);
    const img = parseImage(path);
    const records = kept.reduce((n, p) => n + p.threads.length, 0);
    expect(memU32(img, sym(img, 'nprocs_records'))).toBe(records);
    expect(memI32(img, sym(img, 'nprocs'))).toBe(11);
    const last = Number(img.procsOff) + (records - 1) * 1088;
    expect(img.bytes.readInt32LE(last + 72)).toBe(4242);
    expect(img.bytes.toString('latin1', last + 447, last + 454)).toBe('newproc');
    expect(image.readProcesses().map((p) => p.pid)).toEqual(kept.map((p) => p.pid));
  });

  it('holds seq odd while the change runs and even after, even if it throws', () => {
    let inside = -1n;
    image.withSeqlock(() => {
      inside = ctl().readBigUInt64LE(8);
    });
    expect(inside % 2n).toBe(1n);
    expect(() =>
      image.withSeqlock(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(ctl().readBigUInt64LE(8) % 2n).toBe(0n);
    expect(ctl().readBigUInt64LE(8)).toBe(inside + 3n);
  });

  it('refuses a second writer while seq is odd', () => {
    image.withSeqlock(() => {
      expect(() => image.withSeqlock(() => undefined)).toThrow(/seq \d+ is odd; another writer holds the seqlock/);
    });
  });

  it('refuses a table larger than the process area', () => {
    const big = image.readProcesses();
    const one = big[0]!;
    const threads = Array.from({ length: image.procCapacity + 1 }, (_, i) => ({ tid: i + 1, name: 't', stat: ProcState.SSLEEP }));
    expect(() => image.replaceProcesses([{ ...one, threads }])).toThrow(/exceed the process area capacity/);
  });
});

describe('control-file faults', () => {
  it.each([
    ['open_errno', 16, () => image.setOpenErrno(13), (c: Buffer) => c.readUInt32LE(16), 13],
    ['read_delay_us', 20, () => image.setReadDelayUs(2500), (c: Buffer) => c.readUInt32LE(20), 2500],
    ['kinfo_structsize', 56, () => image.setKinfoStructsize(1000), (c: Buffer) => c.readInt32LE(56), 1000],
    ['getprocs_errno', 60, () => image.setGetprocsErrno(35), (c: Buffer) => c.readUInt32LE(60), 35],
  ])('arms %s at offset %i and clears it', (_name, _off, arm, read, value) => {
    arm();
    expect(read(ctl())).toBe(value);
    image.clearFaults();
    expect(read(ctl())).toBe(0);
    expect(ctl().toString('latin1', 0, 8)).toBe('KVMSCTL1');
  });

  it('arms the EFAULT and short-read ranges at 24/32 and 40/48', () => {
    image.setEfault(0xffff_ffff_8000_0000n, 0xffff_ffff_8000_1000n);
    image.setShortRead(0x10n, 0x20n);
    const c = ctl();
    expect([c.readBigUInt64LE(24), c.readBigUInt64LE(32), c.readBigUInt64LE(40), c.readBigUInt64LE(48)]).toEqual([
      0xffff_ffff_8000_0000n,
      0xffff_ffff_8000_1000n,
      0x10n,
      0x20n,
    ]);
    expect(image.readFaults().efault).toEqual([0xffff_ffff_8000_0000n, 0xffff_ffff_8000_1000n]);
    image.clearFaults();
    expect(ctl().subarray(16, 64).every((b) => b === 0)).toBe(true);
  });
});
