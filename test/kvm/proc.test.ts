/**
 * kvm_getprocs through the binding: every op the exporter uses, the
 * zero-copy kinfo_proc view at the offsets of sys/sys/user.h (checked field
 * by field against the image's process table), the view going stale when
 * libkvm frees its buffer, both error paths, and kvm_getloadavg.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvmCallError, KvmLayoutError } from '../../src/errors.js';
import { KERN_PROC, KI, KINFO_PROC_SIZE, KvmSession, getArgv, getLoadavg, getProcs } from '../../src/kvm/index.js';
import type { KernelImage } from '../../sim/image/image.js';
import type { KinfoProcess } from '../../sim/image/kinfo.js';
import { SIM_LIBRARY, makeKernel } from '../support/sim.js';

const kernel = makeKernel({ cpus: [0, 1, 2, 3], loadavg: [1.5, 0.75, 0.25] });
let session: KvmSession;
let image: KernelImage;
let table: KinfoProcess[];
/** kern_proc.c never returns embryonic (SIDL) processes. */
const visible = (p: KinfoProcess) => p.threads[0]!.stat !== 1;

beforeAll(() => {
  session = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
  image = kernel.open();
  table = image.readProcesses();
});
afterAll(() => {
  session.close();
  image.close();
  kernel.remove();
});

describe('kinfo_proc layout', () => {
  it('matches sys/sys/user.h on LP64 (the fact sheet offsets)', () => {
    expect(KINFO_PROC_SIZE).toBe(1088);
    expect(KI).toMatchObject({ pid: 72, ppid: 76, uid: 168, ruid: 172, size: 256, rssize: 264, runtime: 328, stat: 388, comm: 447, jid: 592, numthreads: 596, tid: 600 });
  });
});

describe('getProcs', () => {
  it('positive: KERN_PROC_PROC gives one record per process, each field as the image holds it', () => {
    const procs = getProcs(session, KERN_PROC.PROC);
    const expected = table.filter(visible);
    expect(procs.count).toBe(expected.length);
    expected.forEach((p, i) => {
      expect(procs.pid(i)).toBe(p.pid);
      expect(procs.ppid(i)).toBe(p.ppid);
      expect(procs.uid(i)).toBe(p.uid);
      expect(procs.jid(i)).toBe(p.jid);
      expect(procs.comm(i)).toBe(p.comm);
      expect(procs.numthreads(i)).toBe(p.threads.length);
      expect(procs.stat(i)).toBe(p.threads[0]!.stat);
      expect(procs.tid(i)).toBe(p.threads[0]!.tid);
      expect(procs.rssize(i)).toBe(Number(p.rssPages));
    });
  });

  it('positive: KERN_PROC_PROC | KERN_PROC_INC_THREAD gives one record per thread with its own state', () => {
    const threads = getProcs(session, KERN_PROC.PROC | KERN_PROC.INC_THREAD);
    const expected = table.filter(visible).flatMap((p) => p.threads.map((t) => ({ pid: p.pid, ...t })));
    expect(threads.count).toBe(expected.length);
    expected.forEach((t, i) => {
      expect(threads.pid(i)).toBe(t.pid);
      expect(threads.tid(i)).toBe(t.tid);
      expect(threads.stat(i)).toBe(t.stat);
    });
  });

  it('positive: KERN_PROC_ALL includes threads, KERN_PROC_PID and KERN_PROC_UID filter', () => {
    const threadCount = table.filter(visible).reduce((n, p) => n + p.threads.length, 0);
    expect(getProcs(session, KERN_PROC.ALL).count).toBe(threadCount);
    const target = table.filter(visible)[5]!;
    const one = getProcs(session, KERN_PROC.PID, target.pid);
    expect(one.count).toBe(1);
    expect(one.comm(0)).toBe(target.comm);
    const uid = table.find((p) => p.uid !== 0)!.uid;
    const byUid = getProcs(session, KERN_PROC.UID, uid);
    expect(byUid.count).toBe(table.filter(visible).filter((p) => p.uid === uid).length);
    for (let i = 0; i < byUid.count; i++) expect(byUid.uid(i)).toBe(uid);
  });

  it('negative: a list is refused once the next kvm_getprocs has freed its buffer', () => {
    const first = getProcs(session, KERN_PROC.PROC);
    expect(first.isValid).toBe(true);
    getProcs(session, KERN_PROC.PROC);
    expect(first.isValid).toBe(false);
    expect(() => first.pid(0)).toThrow(KvmLayoutError);
  });

  it('negative: a sysctl failure is a KvmCallError with the op and libkvm\'s text', () => {
    image.setGetprocsErrno(12);
    try {
      expect(() => getProcs(session, KERN_PROC.PROC)).toThrow(KvmCallError);
      expect(() => getProcs(session, KERN_PROC.PROC)).toThrow(/kvm_getprocs\(kd, 8, 0\).*Cannot allocate memory/);
    } finally {
      image.setGetprocsErrno(0);
    }
  });

  it('negative: a ki_structsize that does not match is refused, never read at the wrong offsets', () => {
    image.setKinfoStructsize(1096);
    try {
      expect(() => getProcs(session, KERN_PROC.PROC)).toThrow(/kinfo_proc size mismatch \(expected 1088, got 1096\)/);
    } finally {
      image.setKinfoStructsize(0);
    }
    expect(getProcs(session, KERN_PROC.PROC).count).toBeGreaterThan(0);
  });
});

describe('getLoadavg', () => {
  it('positive: the three averages the kernel holds (averunnable / FSCALE)', () => {
    const [one, five, fifteen] = getLoadavg(session);
    expect(one).toBeCloseTo(1.5, 2);
    expect(five).toBeCloseTo(0.75, 2);
    expect(fifteen).toBeCloseTo(0.25, 2);
  });
});

describe('getArgv (kvm_getargv)', () => {
  const text = (args: Uint8Array[] | undefined) => args?.map((a) => Buffer.from(a).toString('latin1'));
  const expectedArgv = (p: KinfoProcess) => p.argv?.map((a) => Buffer.from(typeof a === 'string' ? Buffer.from(a, 'utf8') : a).toString('latin1'));

  it("positive: every visible process's command line as the image holds it, jailed ones included; none for kernel processes and zombies", () => {
    const procs = getProcs(session, KERN_PROC.PROC);
    const byPid = new Map(table.map((p) => [p.pid, p]));
    let withArgs = 0;
    for (let i = 0; i < procs.count; i++) {
      const p = byPid.get(procs.pid(i))!;
      expect(text(getArgv(session, procs, i)), `pid ${p.pid}`).toEqual(expectedArgv(p));
      if (p.argv !== undefined && p.jid !== 0) withArgs++;
    }
    expect(withArgs).toBeGreaterThan(0);
    expect(table.some((p) => p.comm === 'kernel' && p.argv === undefined)).toBe(true);
  });

  it('negative: a crash dump has no command lines: KvmCallError with libkvm\'s text', () => {
    const dump = makeKernel({ live: false });
    const s = KvmSession.open({ library: SIM_LIBRARY, corefile: dump.image, execfile: dump.kernelFile() });
    try {
      const procs = getProcs(s, KERN_PROC.PROC);
      expect(() => getArgv(s, procs, procs.count - 1)).toThrow(KvmCallError);
      expect(() => getArgv(s, procs, procs.count - 1)).toThrow(/kvm_getargv\(kd, pid \d+, 0\) failed: cannot read user space from dead kernel/);
    } finally {
      s.close();
      dump.remove();
    }
  });

  it('negative: a process that exited after kvm_getprocs has no command line (NULL without an error text)', () => {
    const procs = getProcs(session, KERN_PROC.PROC);
    const i = [...Array(procs.count).keys()].find((n) => procs.comm(n) === 'devd')!;
    const pid = procs.pid(i);
    const before = image.readProcesses();
    image.replaceProcesses(before.filter((p) => p.pid !== pid));
    try {
      expect(getArgv(session, procs, i)).toBeUndefined();
    } finally {
      image.replaceProcesses(before);
    }
  });
});
