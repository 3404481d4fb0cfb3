/**
 * kinfo_proc records land at the amd64 offsets of FreeBSD 13+ sys/sys/user.h
 * (KINFO_PROC_SIZE 1088), one per thread with the process fields repeated,
 * and decode back to what was encoded. The offsets below are copied from
 * the header, not from sim/image/kinfo.ts.
 */
import { describe, expect, it } from 'vitest';

import * as kinfo from '../../sim/image/kinfo.js';
import { type KinfoProcess, ProcState, decodeProcesses, encodeProcess, encodeProcesses } from '../../sim/image/kinfo.js';
import { generateProcesses } from '../../sim/image/process-table.js';

const USER_H = {
  KI_STRUCTSIZE: 0,
  KI_PID: 72,
  KI_PPID: 76,
  KI_UID: 168,
  KI_RUID: 172,
  KI_SIZE: 256,
  KI_RSSIZE: 264,
  KI_RUNTIME: 328,
  KI_STAT: 388,
  KI_NICE: 389,
  KI_TDNAME: 394,
  KI_COMM: 447,
  KI_JID: 592,
  KI_NUMTHREADS: 596,
  KI_TID: 600,
  KI_PRI: 604,
} as const;

const nginx: KinfoProcess = {
  pid: 812,
  ppid: 811,
  uid: 80,
  ruid: 0,
  gid: 80,
  jid: 1,
  comm: 'nginx',
  nice: -5,
  sizeBytes: 48n * 1024n * 1024n,
  rssPages: 2345n,
  threads: [
    { tid: 100_812, name: 'nginx', stat: ProcState.SSLEEP, wmesg: 'kqread', priority: 152, runtimeUs: 1500n },
    { tid: 100_813, name: 'aio', stat: ProcState.SRUN, runtimeUs: 700n },
  ],
};

function cstring(rec: Buffer, off: number): string {
  return rec.toString('latin1', off, rec.indexOf(0, off));
}

describe('kinfo_proc offsets', () => {
  it.each(Object.entries(USER_H))('exports %s as %i', (name, off) => {
    expect((kinfo as unknown as Record<string, number>)[name]).toBe(off);
  });

  it('encodes one 1088-byte record per thread at the user.h offsets', () => {
    const buf = encodeProcess(nginx);
    expect(buf.length).toBe(2 * 1088);
    const [a, b] = [buf.subarray(0, 1088), buf.subarray(1088)];
    for (const rec of [a, b]) {
      expect(rec.readInt32LE(0)).toBe(1088);
      expect(rec.readInt32LE(72)).toBe(812);
      expect(rec.readInt32LE(76)).toBe(811);
      expect(rec.readUInt32LE(168)).toBe(80);
      expect(rec.readUInt32LE(172)).toBe(0);
      expect(rec.readBigUInt64LE(256)).toBe(48n * 1024n * 1024n);
      expect(rec.readBigInt64LE(264)).toBe(2345n);
      expect(rec.readInt8(389)).toBe(-5);
      expect(cstring(rec, 447)).toBe('nginx');
      expect(rec.readInt32LE(592)).toBe(1);
      expect(rec.readInt32LE(596)).toBe(2);
    }
    expect([a.readInt8(388), b.readInt8(388)]).toEqual([ProcState.SSLEEP, ProcState.SRUN]);
    expect([a.readInt32LE(600), b.readInt32LE(600)]).toEqual([100_812, 100_813]);
    expect([cstring(a, 394), cstring(b, 394)]).toEqual(['nginx', 'aio']);
    expect(cstring(a, 411)).toBe('kqread');
    expect(a.readUInt8(605)).toBe(152);
    // The first record carries the process total, the others their own time.
    expect([a.readBigUInt64LE(328), b.readBigUInt64LE(328)]).toEqual([2200n, 700n]);
  });

  it('uses the legacy ki_stat values SIDL 1 .. SLOCK 7', () => {
    expect(ProcState).toEqual({ SIDL: 1, SRUN: 2, SSLEEP: 3, SSTOP: 4, SZOMB: 5, SWAIT: 6, SLOCK: 7 });
  });

  it('decodes what it encoded, runtimes included', () => {
    const procs = generateProcesses({ cpus: 4, seed: 'kinf' });
    const area = encodeProcesses(procs);
    const back = decodeProcesses(area, area.length / 1088);
    expect(back.map((p) => [p.pid, p.comm, p.uid, p.jid, p.threads.length])).toEqual(
      procs.map((p) => [p.pid, p.comm, p.uid, p.jid, p.threads.length]),
    );
    expect(back[0]?.threads.map((t) => t.runtimeUs)).toEqual(procs[0]?.threads.map((t) => t.runtimeUs ?? 0n));
  });

  it.each([
    ['ki_comm', { ...nginx, comm: 'a-command-name-too-long' }, /ki_comm of pid 812 .* holds 19/],
    ['ki_tdname', { ...nginx, threads: [{ tid: 1, name: 'seventeen-chars!!', stat: ProcState.SRUN }] }, /ki_tdname of tid 1 .* holds 16/],
    ['threads', { ...nginx, threads: [] }, /process 812 \(nginx\) has no threads/],
  ])('refuses a record whose %s does not fit', (_field, proc, message) => {
    expect(() => encodeProcess(proc as KinfoProcess)).toThrow(message);
  });
});

describe('generated process tables', () => {
  const procs = generateProcesses({ cpus: 8, count: 150, seed: 'demo' });
  const threads = procs.flatMap((p) => p.threads);

  it('look like a small FreeBSD server with two jails', () => {
    expect(procs).toHaveLength(150);
    expect(threads.length).toBeGreaterThan(350);
    expect(new Set(procs.map((p) => p.jid))).toEqual(new Set([0, 1, 2]));
    expect(new Set(procs.map((p) => p.uid))).toEqual(new Set([0, 80, 1001]));
    expect(procs[0]).toMatchObject({ pid: 0, comm: 'kernel' });
    expect(procs.find((p) => p.comm === 'idle')?.threads).toHaveLength(8);
    const states = new Set(threads.map((t) => t.stat));
    expect(states).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
    expect(procs.filter((p) => p.threads[0]?.stat === ProcState.SZOMB).length).toBeGreaterThanOrEqual(3);
  });

  it('never repeats a pid or a tid', () => {
    expect(new Set(procs.map((p) => p.pid)).size).toBe(procs.length);
    expect(new Set(threads.map((t) => t.tid)).size).toBe(threads.length);
  });

  it('are the same for the same seed and differ for another', () => {
    const again = generateProcesses({ cpus: 8, count: 150, seed: 'demo' });
    expect(encodeProcesses(again).equals(encodeProcesses(procs))).toBe(true);
    const other = generateProcesses({ cpus: 8, count: 150, seed: 'odd!' });
    expect(encodeProcesses(other).equals(encodeProcesses(procs))).toBe(false);
  });

  it('extend the template with workers for larger counts', () => {
    const big = generateProcesses({ cpus: 2, count: 2000 });
    expect(big).toHaveLength(2000);
    expect(new Set(big.map((p) => p.pid)).size).toBe(2000);
  });
});
