/**
 * Per-CPU access through the real binding (lib/libkvm/kvm_pcpu.c's calls):
 * topology with dense and sparse CPU ids, counter(9) copies and spans,
 * kvm_counter_u64_fetch and its ambiguous 0, struct pcpu copies with both
 * sentinels, DPCPU per CPU, and libkvm's process-wide per-CPU cache.
 *
 * Expected values come from the image itself (KernelImage), never from the
 * code under test. Different CPU layouts in one process need the
 * simulator's cache reset between them, as on FreeBSD they would need
 * separate processes.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KvmCallError, KvmLayoutError, KvmReadError, KvmSymbolError } from '../../src/errors.js';
import {
  KvmSession,
  counterU64Fetch,
  getMaxCpu,
  getNcpus,
  getPcpu,
  DpcpuOffsets,
  readTopology,
  readZpcpu,
  readZpcpuEach,
  readZpcpuRun,
} from '../../src/kvm/index.js';
import { SimControl } from '../../sim/control.js';
import { PCPU_SIZE } from '../../sim/image/format.js';
import { counterHandle } from '../../sim/image/manifest.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';

const sim = new SimControl(SIM_LIBRARY);
const kernels: TestKernel[] = [];
const sessions: KvmSession[] = [];

/** A fresh kernel of this shape, opened after resetting libkvm's process-wide per-CPU cache. */
function open(cpus: number[], mpMaxcpus = 64) {
  sim.resetPcpuCache();
  const kernel = makeKernel({ cpus, mpMaxcpus });
  kernels.push(kernel);
  const session = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
  sessions.push(session);
  return { kernel, session, image: kernel.open() };
}

afterEach(() => sessions.splice(0).forEach((s) => s.close()));
afterAll(() => kernels.forEach((k) => k.remove()));

describe('topology', () => {
  it('positive: dense ids 0..n-1 with MAXCPU from kvm_getmaxcpu and mp_ncpus from kvm_getncpus', () => {
    const { session } = open([0, 1, 2, 3], 256);
    expect(getMaxCpu(session)).toBe(256);
    expect(getNcpus(session)).toBe(4);
    expect(readTopology(session)).toEqual({ maxCpus: 256, ncpus: 4, present: [0, 1, 2, 3], dense: true });
  });

  it('positive: sparse ids are reported exactly, and not dense', () => {
    const { session } = open([0, 2, 5, 9], 16);
    expect(readTopology(session)).toEqual({ maxCpus: 16, ncpus: 4, present: [0, 2, 5, 9], dense: false });
  });

  it('positive: a CPU going absent and coming back shows in the next topology read', () => {
    const { session, image } = open([0, 1, 2, 3]);
    expect(readTopology(session).dense).toBe(true);
    image.setCpuPresent(2, false);
    // libkvm cached mp_ncpus = 4 at the first read: ids 0,1,3 are no longer what it sums.
    expect(readTopology(session)).toMatchObject({ ncpus: 4, present: [0, 1, 3], dense: false });
    image.setCpuPresent(2, true);
    expect(readTopology(session)).toMatchObject({ present: [0, 1, 2, 3], dense: true });
  });

  it('libkvm limitation kept safe: a second kernel in one process sees the first one\'s mp_ncpus, so it is not dense', () => {
    const first = open([0, 1, 2, 3]);
    expect(readTopology(first.session).ncpus).toBe(4);
    const other = makeKernel({ cpus: [0, 1, 2, 3, 4, 5, 6, 7], mpMaxcpus: 64 });
    kernels.push(other);
    const second = KvmSession.open({ library: SIM_LIBRARY, corefile: other.image });
    sessions.push(second);
    // kvm_counter_u64_fetch would sum only CPUs 0..3: `dense` false keeps the exporter off it.
    expect(readTopology(second)).toEqual({ maxCpus: 64, ncpus: 4, present: [0, 1, 2, 3, 4, 5, 6, 7], dense: false });
  });

  it('negative: a struct pcpu whose pc_cpuid does not match its slot is refused before any counter is read', () => {
    const { session, image } = open([0, 1, 2, 3]);
    image.writeU32(image.pcpuAddress(3) + 60n, 7);
    expect(() => readTopology(session)).toThrow(KvmLayoutError);
    expect(() => readTopology(session)).toThrow(/pc_cpuid on CPU 3 read 7/);
  });
});

describe('counter(9) copies', () => {
  it('positive: kvm_read_zpcpu reads each present CPU\'s copy as the image holds it', () => {
    const { kernel, session, image } = open([0, 2, 5, 9], 16);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_intr');
    const copy = Buffer.alloc(8);
    for (const cpu of [0, 2, 5, 9]) {
      readZpcpu(session, handle, cpu, copy);
      expect(copy.readBigUInt64LE(0)).toBe(image.readCounter(handle, cpu));
    }
  });

  it('positive: every CPU\'s copy of a span of neighbouring handles is one kvm_read_zpcpu call, copies 4096 bytes apart', () => {
    const { kernel, session, image } = open([0, 1, 2, 3]);
    const first = counterHandle(kernel.manifest, 'vm_cnt.v_swtch');
    const fifth = counterHandle(kernel.manifest, 'vm_cnt.v_soft');
    expect(fifth - first).toBe(32n);
    sim.resetCallCounts();
    const rows = readZpcpuRun(session, first, 40, 3);
    expect(sim.callCounts().kvm_read_zpcpu).toBe(1);
    expect(rows.length).toBe(3 * 4096 + 40);
    for (let cpu = 0; cpu < 4; cpu++) {
      expect(rows.readBigUInt64LE(cpu * 4096)).toBe(image.readCounter(first, cpu));
      expect(rows.readBigUInt64LE(cpu * 4096 + 32)).toBe(image.readCounter(fifth, cpu));
    }
  });

  it('positive: on sparse ids the run reaches the last present id, absent ids\' pages included', () => {
    const { kernel, session, image } = open([0, 2, 5, 9]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_trap');
    sim.resetCallCounts();
    const rows = readZpcpuRun(session, handle, 8, 9);
    expect(sim.callCounts().kvm_read_zpcpu).toBe(1);
    for (const cpu of [0, 2, 5, 9]) expect(rows.readBigUInt64LE(cpu * 4096)).toBe(image.readCounter(handle, cpu));
  });

  it('positive: read one CPU at a time, the copies land where the single read puts them', () => {
    const { kernel, session, image } = open([0, 2, 5, 9]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_trap');
    sim.resetCallCounts();
    const rows = readZpcpuEach(session, handle, 8, [0, 2, 5, 9]);
    expect(sim.callCounts().kvm_read_zpcpu).toBe(4);
    expect(rows.length).toBe(9 * 4096 + 8);
    for (const cpu of [0, 2, 5, 9]) expect(rows.readBigUInt64LE(cpu * 4096)).toBe(image.readCounter(handle, cpu));
  });

  it('negative: a failing copy names the handle and the CPU', () => {
    const { kernel, session, image } = open([0, 1, 2, 3]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_trap');
    const at = image.counterAddress(handle, 3);
    image.setEfault(at, at + 8n);
    for (const read of [() => readZpcpuEach(session, handle, 8, [0, 1, 2, 3]), () => readZpcpuRun(session, handle, 8, 3)]) {
      let caught: unknown;
      try {
        read();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(KvmReadError);
      expect((caught as KvmReadError).address).toBe(handle);
      expect((caught as KvmReadError).kvmErr).toBe('kvm_read: Bad address');
    }
    image.setEfault(0n, 0n);
    expect(() => readZpcpuEach(session, handle, 8, [0, 1, 2, 3])).not.toThrow();
  });

  it('negative: one CPU at a time, the error names the CPU whose copy failed', () => {
    const { kernel, session, image } = open([0, 1, 2, 3]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_trap');
    const at = image.counterAddress(handle, 3);
    image.setEfault(at, at + 8n);
    expect(() => readZpcpuEach(session, handle, 8, [0, 1, 2, 3])).toThrow(expect.objectContaining({ cpu: 3 }));
    image.setEfault(0n, 0n);
  });

  it('positive: kvm_counter_u64_fetch sums CPUs 0..mp_ncpus-1 on dense ids', () => {
    const { kernel, session, image } = open([0, 1, 2, 3]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_syscall');
    const expected = [0, 1, 2, 3].reduce((sum, cpu) => sum + image.readCounter(handle, cpu), 0n);
    expect(counterU64Fetch(session, handle, 4)).toBe(expected);
  });

  it('libkvm quirk kept visible: on sparse ids kvm_counter_u64_fetch sums the wrong CPUs', () => {
    const { kernel, session, image } = open([0, 2, 5, 9], 16);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_syscall');
    const present = [0, 2, 5, 9].reduce((sum, cpu) => sum + image.readCounter(handle, cpu), 0n);
    const libkvm = BigInt(session.lib.kvm_counter_u64_fetch(session.kd(), handle));
    const firstFour = [0, 1, 2, 3].reduce((sum, cpu) => sum + image.readCounter(handle, cpu), 0n);
    expect(libkvm).toBe(firstFour);
    expect(libkvm).not.toBe(present);
  });

  it('positive: a real zero is verified by reading every copy and then returned', () => {
    const { kernel, session, image } = open([0, 1, 2, 3]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_swapin');
    for (let cpu = 0; cpu < 4; cpu++) image.setCounter(handle, cpu, 0n);
    sim.resetCallCounts();
    expect(counterU64Fetch(session, handle, 4)).toBe(0n);
    expect(sim.callCounts().kvm_read_zpcpu).toBeGreaterThanOrEqual(4);
  });

  it('negative: the 0 kvm_counter_u64_fetch returns on a failed read is never taken as a value', () => {
    const { kernel, session, image } = open([0, 1, 2, 3]);
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_swapout');
    const at = image.counterAddress(handle, 1);
    image.setEfault(at, at + 8n);
    expect(BigInt(session.lib.kvm_counter_u64_fetch(session.kd(), handle))).toBe(0n);
    expect(() => counterU64Fetch(session, handle, 4)).toThrow(KvmReadError);
    image.setEfault(0n, 0n);
  });
});

describe('struct pcpu (kvm_getpcpu)', () => {
  it('positive: a present CPU gives a 4096-byte copy with its pc_cpuid and pc_cp_time', () => {
    const { session, image } = open([0, 2, 5, 9], 16);
    const pcpu = getPcpu(session, 5)!;
    expect(pcpu.length).toBe(PCPU_SIZE);
    expect(pcpu.readUInt32LE(60)).toBe(5);
    const cpTime = image.readCpTime(5);
    for (let mode = 0; mode < 5; mode++) expect(pcpu.readBigInt64LE(80 + 8 * mode)).toBe(cpTime[mode]);
  });

  it('positive: an absent CPU (NULL) is undefined, not an error', () => {
    const { session } = open([0, 2, 5, 9], 16);
    expect(getPcpu(session, 3)).toBeUndefined();
    expect(getPcpu(session, 15)).toBeUndefined();
  });

  it('negative: (void *)-1 from a failed read is a KvmCallError with libkvm\'s text', () => {
    const { session, image } = open([0, 1]);
    const at = image.pcpuAddress(1);
    image.setEfault(at + 100n, at + 200n);
    expect(() => getPcpu(session, 1)).toThrow(KvmCallError);
    expect(() => getPcpu(session, 1)).toThrow(/kvm_getpcpu\(kd, 1\)/);
    image.setEfault(0n, 0n);
  });
});

describe('DPCPU (dpcpu_off[cpu] + the pcpu_entry_ template, DPCPU_ID_PTR)', () => {
  /** CPU `cpu`'s copy of pcputicks, from the image: its DPCPU area plus the variable's place in set_pcpu. */
  function copyAddress(kernel: TestKernel, cpu: number): bigint {
    const offset = BigInt(kernel.manifest.symbols.pcpu_entry_pcputicks!.address) - BigInt(kernel.manifest.dpcpu.start);
    return BigInt(kernel.manifest.dpcpu.areas[String(cpu)]!) + offset;
  }

  it("positive: each present CPU's copy of pcputicks on sparse ids, as the image holds it", () => {
    const { kernel, session, image } = open([0, 2, 5, 9], 16);
    [0, 2, 5, 9].forEach((cpu) => image.writeI32(copyAddress(kernel, cpu), 7_000_000 + cpu * 13));
    const dpcpu = DpcpuOffsets.resolve(session);
    const rows = dpcpu.read(dpcpu.template('pcputicks'), 0, 4, [0, 2, 5, 9]);
    [0, 2, 5, 9].forEach((cpu, i) => expect(rows.readInt32LE(i * 4)).toBe(image.readI32(copyAddress(kernel, cpu))));
  });

  it('positive: after the first read, a read looks up no symbol and reads dpcpu_off[] no more', () => {
    const { kernel, session } = open([0, 1, 2, 3]);
    const dpcpu = DpcpuOffsets.resolve(session);
    const template = dpcpu.template('pcputicks');
    dpcpu.read(template, 0, 4, [0, 1, 2, 3]);
    sim.resetCallCounts();
    const rows = dpcpu.read(template, 2, 2, [0, 1, 2, 3]);
    const calls = sim.callCounts();
    expect(calls.kvm_nlist2 ?? 0).toBe(0);
    expect(calls.kvm_nlist ?? 0).toBe(0);
    expect(calls.kvm_dpcpu_setcpu ?? 0).toBe(0);
    expect(calls.kvm_read2).toBe(4);
    expect(rows.readUInt16LE(6)).toBe(kernel.open().readI32(copyAddress(kernel, 3)) >>> 16);
  });

  it('positive: a CPU that comes up after dpcpu_off[] was read is read from its own area', () => {
    const { kernel, session, image } = open([0, 2, 5, 9], 16);
    const dpcpu = DpcpuOffsets.resolve(session);
    const template = dpcpu.template('pcputicks');
    dpcpu.read(template, 0, 4, [0, 2]);
    image.setCpuPresent(3, true);
    image.writeI32(copyAddress(kernel, 3), 4242);
    const rows = dpcpu.read(template, 0, 4, [0, 2, 3]);
    expect(rows.readInt32LE(8)).toBe(4242);
  });

  it('negative: an absent CPU (dpcpu_off 0) is an error naming it, never a read of the template', () => {
    const { session } = open([0, 2, 5, 9], 16);
    const dpcpu = DpcpuOffsets.resolve(session);
    const template = dpcpu.template('pcputicks');
    expect(() => dpcpu.read(template, 0, 4, [0, 3])).toThrow('CPU 3 has no DPCPU area: dpcpu_off[3] is 0');
    expect(() => dpcpu.read(template, 0, 4, [0, 40])).toThrow('CPU 40 has no DPCPU area');
  });

  it('negative: a name without a pcpu_entry_ symbol, or one outside set_pcpu, is refused', () => {
    const { session } = open([0, 1]);
    const dpcpu = DpcpuOffsets.resolve(session);
    expect(() => dpcpu.template('no_such_dpcpu')).toThrow(KvmSymbolError);
    expect(() => dpcpu.template('no_such_dpcpu')).toThrow('kernel symbol pcpu_entry_no_such_dpcpu not found');
  });
});
