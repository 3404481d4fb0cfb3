/**
 * SimControl reads the simulated library's process-wide call counts and
 * resets its per-CPU cache, seeing the very library the exporter's binding
 * (src/kvm) loaded: calls made through a KvmSession show up in its counts,
 * and a reset cache lets one process read kernels of two CPU layouts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KvmSession, getNcpus } from '../../src/kvm/index.js';
import { SimControl } from '../../sim/control.js';
import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { readManifest, symbolAddress } from '../../sim/image/manifest.js';
import { SIM_LIBRARY, buildProbe, makeTempDir } from './helpers.js';

const FUNCTIONS = [
  'kvm_close', 'kvm_counter_u64_fetch', 'kvm_dpcpu_setcpu', 'kvm_getargv', 'kvm_geterr', 'kvm_getloadavg', 'kvm_getmaxcpu',
  'kvm_getncpus', 'kvm_getpcpu', 'kvm_getprocs', 'kvm_getswapinfo', 'kvm_native', 'kvm_nlist', 'kvm_nlist2', 'kvm_open',
  'kvm_openfiles', 'kvm_read', 'kvm_read2', 'kvm_read_zpcpu', 'pread',
];

let tmp: ReturnType<typeof makeTempDir>;
let four: string;
let two: string;

beforeAll(() => {
  buildProbe(); // builds the library too
  tmp = makeTempDir('control');
  four = `${tmp.dir}/four.img`;
  two = `${tmp.dir}/two.img`;
  buildFreeBsdKernel(four, { cpus: [0, 1, 2, 3] });
  buildFreeBsdKernel(two, { cpus: [0, 1] });
}, 120_000);
afterAll(() => tmp.cleanup());

describe('SimControl', () => {
  it('lists a count for every exported kvm_* function and pread', () => {
    const control = new SimControl(SIM_LIBRARY);
    expect(Object.keys(control.callCounts()).sort()).toEqual([...FUNCTIONS].sort());
  });

  it('counts the calls a KvmSession makes, one pread per single-segment read', () => {
    const control = new SimControl(SIM_LIBRARY);
    const session = KvmSession.open({ library: SIM_LIBRARY, corefile: four });
    try {
      const hz = symbolAddress(readManifest(four), 'hz');
      control.resetCallCounts();
      expect(Object.values(control.callCounts()).every((n) => n === 0)).toBe(true);
      const buf = Buffer.alloc(4);
      for (let i = 0; i < 5; i++) session.read(hz, buf);
      const counts = control.callCounts();
      expect((counts.kvm_read2 ?? 0) + (counts.kvm_read ?? 0)).toBe(5);
      expect(counts.pread).toBe(5);
      expect(buf.readInt32LE()).toBe(1000);
    } finally {
      session.close();
    }
  });

  it('resets the process-wide per-CPU cache between kernels of different shapes', () => {
    const control = new SimControl(SIM_LIBRARY);
    const ncpus = (path: string): number => {
      const s = KvmSession.open({ library: SIM_LIBRARY, corefile: path });
      try {
        return getNcpus(s);
      } finally {
        s.close();
      }
    };
    control.resetPcpuCache();
    expect(ncpus(four)).toBe(4);
    expect(ncpus(two)).toBe(4); // libkvm never forgets mp_ncpus
    control.resetPcpuCache();
    expect(ncpus(two)).toBe(2);
  });

  it('names the library it cannot use', () => {
    expect(() => new SimControl(`${tmp.dir}/nolib.so`)).toThrow(new RegExp(`${tmp.dir}/nolib.so: not the simulated libkvm`));
  });
});

