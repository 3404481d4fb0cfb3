/**
 * kvm_nlist2 through the session (both spellings of a name, the DPCPU and
 * VNET prefixes libkvm retries, the cache) and kvm_read2 (typed readers,
 * EFAULT, short reads), checked against the simulated kernel's manifest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvmReadError, KvmSymbolError } from '../../src/errors.js';
import { KvmSession } from '../../src/kvm/index.js';
import type { KernelImage } from '../../sim/image/image.js';
import { SimControl } from '../../sim/control.js';
import { SIM_LIBRARY, makeKernel } from '../support/sim.js';

const kernel = makeKernel({ cpus: [0, 1, 2, 3] });
const sim = new SimControl(SIM_LIBRARY);
let session: KvmSession;
let image: KernelImage;
const address = (name: string) => BigInt(kernel.manifest.symbols[name]!.address);

beforeAll(() => {
  session = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
  image = kernel.open();
});
afterAll(() => {
  session.close();
  image.close();
  kernel.remove();
});

describe('lookup (kvm_nlist2)', () => {
  it('positive: "vm_cnt" and the a.out spelling "_vm_cnt" find the same address', () => {
    expect(session.lookup('vm_cnt').address).toBe(address('vm_cnt'));
    expect(session.lookup('_vm_cnt').address).toBe(address('vm_cnt'));
    expect(session.lookup('vm_cnt').type).toBe(4);
  });

  it('positive: a kernel name that itself starts with "_" (__pcpu) resolves', () => {
    expect(session.lookup('__pcpu').address).toBe(address('__pcpu'));
  });

  it('positive: a DPCPU name resolves through pcpu_entry_ to CPU 0\'s copy', () => {
    const cpu0Area = BigInt(kernel.manifest.dpcpu.areas['0']!);
    const template = address('pcpu_entry_pcputicks') - BigInt(kernel.manifest.dpcpu.start);
    expect(session.lookupUncached('pcputicks')?.address).toBe(cpu0Area + template);
  });

  it('positive: a VNET name resolves through vnet_entry_ to vnet0\'s data', () => {
    const expected = BigInt(kernel.manifest.vnet.dataBase) + address('vnet_entry_udpstat');
    expect(session.lookup('udpstat').address).toBe(BigInt.asUintN(64, expected));
  });

  it('negative: a missing symbol is a KvmSymbolError naming it; tryLookup gives undefined', () => {
    expect(() => session.lookup('no_such_symbol')).toThrow(KvmSymbolError);
    expect(() => session.lookup('no_such_symbol')).toThrow('no_such_symbol');
    expect(session.tryLookup('no_such_symbol')).toBeUndefined();
  });

  it('positive: results are cached per handle, so a second lookup makes no kvm_nlist2 call', () => {
    session.lookup('stathz');
    sim.resetCallCounts();
    session.lookup('stathz');
    session.tryLookup('no_such_symbol');
    expect(sim.callCounts().kvm_nlist2 ?? 0).toBe(0);
  });
});

describe('reads (kvm_read2)', () => {
  it('positive: typed readers return what the image holds', () => {
    expect(session.readI32(session.lookup('hz').address)).toBe(1000);
    expect(session.readI32(session.lookup('stathz').address)).toBe(127);
    expect(session.readI32(session.lookup('mp_maxcpus').address)).toBe(kernel.manifest.mpMaxcpus);
    expect(session.readPointer(session.lookup('__pcpu').address)).toBe(BigInt(kernel.manifest.pcpuBase));
    const ticks = session.lookup('ticks').address;
    image.writeI32(ticks, -5);
    expect(session.readI32(ticks)).toBe(-5);
    expect(session.readU32(ticks)).toBe(2 ** 32 - 5);
    expect(session.readI16(ticks)).toBe(-5);
    expect(session.readU8(ticks)).toBe(251);
    expect(session.readI8(ticks)).toBe(-5);
    image.writeU64(ticks, 0xfffffffffffffff0n);
    expect(session.readU64(ticks)).toBe(0xfffffffffffffff0n);
    expect(session.readI64(ticks)).toBe(-16n);
  });

  it('negative: an unmapped address fails with the address and libkvm\'s text', () => {
    let caught: unknown;
    try {
      session.readU64(0x10n);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KvmReadError);
    expect((caught as KvmReadError).address).toBe(0x10n);
    expect((caught as KvmReadError).got).toBe(-1);
    expect((caught as KvmReadError).kvmErr).toBe('kvm_read: Bad address');
  });

  it('negative: an EFAULT range armed in the image fails the read, and clears', () => {
    const hz = session.lookup('hz').address;
    image.setEfault(hz, hz + 4n);
    expect(() => session.readI32(hz)).toThrow('kvm_read: Bad address');
    image.setEfault(0n, 0n);
    expect(session.readI32(hz)).toBe(1000);
  });

  it('negative: a short read is an error carrying the count, never a partial value', () => {
    const vm = session.lookup('vm_cnt').address;
    image.setShortRead(vm + 4n, vm + 8n);
    try {
      let caught: unknown;
      try {
        session.readU64(vm);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(KvmReadError);
      expect((caught as KvmReadError).got).toBe(4);
      expect((caught as KvmReadError).message).toMatch(/returned 4 of 8 bytes/);
    } finally {
      image.setShortRead(0n, 0n);
    }
  });

  it('positive: one read inside a segment costs exactly one pread', () => {
    const vm = session.lookup('vm_cnt').address;
    sim.resetCallCounts();
    session.read(vm, Buffer.alloc(328));
    const counts = sim.callCounts();
    expect(counts.kvm_read2).toBe(1);
    expect(counts.pread).toBe(1);
  });
});
