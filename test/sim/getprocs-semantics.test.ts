/**
 * kvm_getprocs as FreeBSD answers it where the live sysctl and the crash
 * dump walk differ (lib/libkvm/kvm_proc.c): on a dump every record has
 * ki_structsize 0, the buffer holds nprocs records (10 x nprocs with
 * threads) and the rest is dropped silently, and nothing matched is NULL
 * with cnt 0; on a live kernel the kern.proc sysctl filters with p_cansee
 * (sys/kern/kern_prot.c cr_canseeotheruids) while nprocs counts everyone.
 * Expected values come from the process table the test writes.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { KernelImage } from '../../sim/image/image.js';
import { type KinfoProcess, ProcState } from '../../sim/image/kinfo.js';
import { buildProbe, makeTempDir, probe } from './helpers.js';

let tmp: ReturnType<typeof makeTempDir>;
let exec: string;
let tid = 500_000;

function proc(pid: number, ruid: number, threads: number): KinfoProcess {
  return {
    pid,
    ppid: 1,
    uid: ruid,
    ruid,
    jid: 0,
    comm: `p${pid}`,
    sizeBytes: 4096n,
    rssPages: 1n,
    threads: Array.from({ length: threads }, () => ({ tid: tid++, name: 't', stat: ProcState.SSLEEP })),
  };
}

/** Two processes of 15 threads each: 30 threads against a dump's cap of 10 x nprocs = 20. */
const MANY_THREADS = [proc(10, 0, 15), proc(11, 1001, 15)];
/** Three users' processes, one of them the observer's. */
const USERS = [proc(1, 0, 1), proc(20, 1001, 2), proc(21, 80, 1), proc(22, 1001, 1)];

function kernel(name: string, live: boolean, processes: readonly KinfoProcess[]): string {
  const path = `${tmp.dir}/${name}.img`;
  buildFreeBsdKernel(path, { cpus: [0, 1], live, processes });
  return path;
}

beforeAll(() => {
  buildProbe();
  tmp = makeTempDir('getprocs');
  exec = `${tmp.dir}/kernel`;
  writeFileSync(exec, 'stand-in exec file');
}, 120_000);
afterAll(() => tmp.cleanup());

describe('on a crash dump', () => {
  it('returns every record with ki_structsize 0 (kvm_proclist memsets each record)', () => {
    const dump = kernel('sizes', false, USERS);
    expect(probe([`openfiles ${exec} ${dump} 0`, 'structsizes 8 0', 'structsizes 0 0']).lines.slice(1)).toEqual([
      'structsizes cnt=4 0',
      'structsizes cnt=5 0',
    ]);
  });

  it('caps threads at 10 x nprocs without an error', () => {
    const dump = kernel('cap', false, MANY_THREADS);
    const r = probe([`openfiles ${exec} ${dump} 0`, 'structsizes 24 0', 'geterr', 'structsizes 8 0']).lines.slice(1);
    expect(r[0]).toBe('structsizes cnt=20 0');
    expect(r[1]).toBe('geterr []');
    expect(r[2]).toBe('structsizes cnt=2 0');
  });

  it('answers NULL with cnt 0 when nothing matched, a pid included', () => {
    const dump = kernel('none', false, USERS);
    expect(probe([`openfiles ${exec} ${dump} 0`, 'getprocs 5 4242', 'getprocs 1 99999']).lines.slice(1)).toEqual([
      'getprocs NULL cnt=0 err=[]',
      'getprocs NULL cnt=0 err=[]',
    ]);
  });
});

describe('on a live kernel with security.bsd.see_other_uids=0', () => {
  it('returns only the observer\'s real uid, all of it again when lifted, and never caps', () => {
    const live = kernel('cansee', true, [...USERS, ...MANY_THREADS]);
    const img = KernelImage.open(live);
    try {
      img.setHideOtherUids(1001);
      const hidden = probe([`openfiles - ${live} 0`, 'getprocs 8 0', 'getprocs 24 0']).lines.slice(1);
      expect(hidden[0]).toBe('getprocs cnt=3 pids=20/' + USERS[1]!.threads[0]!.tid + ',22/' + USERS[3]!.threads[0]!.tid + ',11/' + MANY_THREADS[1]!.threads[0]!.tid);
      expect(hidden[1]).toMatch(/^getprocs cnt=18 /);
      img.setHideOtherUids(0);
      expect(probe([`openfiles - ${live} 0`, 'getprocs 24 0']).lines[1]).toMatch(/^getprocs cnt=35 /);
      img.setHideOtherUids(undefined);
      expect(probe([`openfiles - ${live} 0`, 'structsizes 8 0']).lines[1]).toBe('structsizes cnt=6 1088');
    } finally {
      img.close();
    }
  });

  it('does not filter a crash dump, which has no caller to check', () => {
    const dump = kernel('cansee-dump', false, USERS);
    const img = KernelImage.open(dump);
    try {
      img.setHideOtherUids(1001);
      expect(probe([`openfiles ${exec} ${dump} 0`, 'getprocs 8 0']).lines[1]).toMatch(/^getprocs cnt=4 /);
    } finally {
      img.close();
    }
  });
});
