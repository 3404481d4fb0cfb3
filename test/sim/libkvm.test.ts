/**
 * The simulated libkvm.so.7 seen from C, through test/sim/c/kvmsim_probe.c:
 * opening rules and errors, kvm_nlist on live kernels and crash dumps with
 * VNET and DPCPU translation, reads and their pread cost, the per-CPU calls
 * and their quirks, kvm_getprocs ops, kvm_getloadavg, the /dev/null handle,
 * and every control-file fault. Expected values come from the manifest and
 * the writer's process table, never from the library.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { KernelImage } from '../../sim/image/image.js';
import { type KinfoProcess, ProcState } from '../../sim/image/kinfo.js';
import { type KernelManifest, findCounter, plantedCounterValue, plantedCpTime, plantedPcputicks, symbolAddress } from '../../sim/image/manifest.js';
import { buildProbe, hex, kva, makeTempDir, probe } from './helpers.js';

let tmp: ReturnType<typeof makeTempDir>;
let live: string;
let dead: string;
let exec: string;
let liveM: KernelManifest;
let deadM: KernelManifest;
let liveProcs: KinfoProcess[];

beforeAll(() => {
  buildProbe();
  tmp = makeTempDir('libkvm');
  live = `${tmp.dir}/live.img`;
  dead = `${tmp.dir}/dead.img`;
  exec = `${tmp.dir}/kernel`;
  liveM = buildFreeBsdKernel(live, { cpus: [0, 1, 2, 3] });
  deadM = buildFreeBsdKernel(dead, { cpus: [0, 2, 5], mpMaxcpus: 64, live: false });
  writeFileSync(exec, 'not really an ELF kernel');
  const img = KernelImage.open(live);
  liveProcs = img.readProcesses();
  img.close();
}, 120_000);
afterAll(() => tmp.cleanup());

const sym = (m: KernelManifest, name: string): string => hex(symbolAddress(m, name));
const openLive = (): string => `openfiles - ${live} 0`;
const openDead = (): string => `openfiles ${exec} ${dead} 0`;

describe('opening', () => {
  it.each([
    ['a missing image', () => `openfiles - ${tmp.dir}/missing.img 0`, () => `${tmp.dir}/missing.img: No such file or directory`],
    ['a crash dump without an exec file', () => `openfiles - ${dead} 0`, () => '/boot/kernel/kernel: No such file or directory'],
    ['a crash dump with a missing exec file', () => `openfiles ${tmp.dir}/nokernel ${dead} 0`, () => `${tmp.dir}/nokernel: No such file or directory`],
    ['bad flags', () => `openfiles - ${live} 4`, () => 'bad flags arg'],
    ['a too long exec file name', () => `openfiles /${'x'.repeat(1100)} ${live} 0`, () => 'exec file name too long'],
    ['/dev/mem without KVM_SIM_MEM', () => 'openfiles - /dev/mem 0', () => '/dev/mem: No such file or directory'],
    ['NULL without KVM_SIM_MEM', () => 'openfiles - - 0', () => '/dev/mem: No such file or directory'],
    ['a directory', () => `openfiles - ${tmp.dir} 0`, () => `${tmp.dir}: not a simulated kernel image (not a regular file)`],
  ])('fails for %s with libkvm-style errbuf text', (_what, command, message) => {
    expect(probe([command()]).lines[0]).toBe(`openfiles NULL errbuf=[${message()}]`);
  });

  it.each([
    ['garbage', () => Buffer.from('definitely not a kernel image'), /: not a simulated kernel image \(bad magic\)\]$/],
    ['empty', () => Buffer.alloc(0), /errbuf=\[empty file: Invalid argument\]$/],
    ['shorter than the header', (b: Buffer) => b.subarray(0, 2000), /\(2000 bytes, shorter than the 4096-byte header\)\]$/],
    ['cut inside the symbol table', (b: Buffer) => b.subarray(0, 4200), /: symbol table past end of file \(\d+ entries at offset 4096, file is 4200 bytes\)\]$/],
    ['cut inside the argument area', (b: Buffer) => b.subarray(0, b.length - 1), /: argument area past end of file or smaller than its index \(\d+ bytes at offset \d+, file is \d+ bytes\)\]$/],
    ['cut inside the process area', (b: Buffer) => b.subarray(0, Number(b.readBigUInt64LE(80)) - 1), /: process area past end of file \(\d+ records of 1088 bytes at offset \d+, file is \d+ bytes\)\]$/],
    ['with a segment pointing past the end', (b: Buffer) => { const c = Buffer.from(b); c.writeBigUInt64LE(1n << 40n, Number(c.readBigUInt64LE(56)) + 16); return c; }, /: segment 0 data past end of file \(\d+ bytes at offset 1099511627776, file is \d+ bytes\)\]$/],
    ['with overlapping segments', (b: Buffer) => { const c = Buffer.from(b); const t = Number(c.readBigUInt64LE(56)); c.writeBigUInt64LE(c.readBigUInt64LE(t + 32) + 8n, t); return c; }, /: segments at kva 0x[0-9a-f]+ and 0x[0-9a-f]+ overlap\]$/],
    ['with a symbol name past the string table', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(0xffffff, 4096 + 16); return c; }, /: symbol 0 name offset 16777215 past end of the \d+-byte string table\]$/],
    ['a newer version', (b: Buffer) => Buffer.concat([b.subarray(0, 8), Buffer.from([2, 0, 0, 0]), b.subarray(12)]), /version 2, this library reads version 1\]$/],
    ['a wrong kinfo_size', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(768, 52); return c; }, /kinfo_size 768 in the image header, expected 1088/],
  ])('refuses a %s image at open without crashing', async (_what, mangle, message) => {
    const { readFileSync } = await import('node:fs');
    const bad = `${tmp.dir}/bad.img`;
    writeFileSync(bad, mangle(readFileSync(live)));
    expect(probe([`openfiles - ${bad} 0`]).lines[0]).toMatch(message);
  });

  it('opens $KVM_SIM_MEM for NULL and "/dev/mem" as a live kernel', () => {
    const r = probe(['openfiles - - 0', 'native', 'close', 'openfiles - /dev/mem 2', 'nlist _vm_cnt'], { KVM_SIM_MEM: live });
    expect(r.lines[0]).toBe('openfiles ok errbuf=[]');
    expect(r.lines[1]).toBe('native 1');
    expect(r.lines[3]).toBe('openfiles ok errbuf=[]');
    expect(r.lines[4]).toContain(` _vm_cnt:4:${sym(liveM, 'vm_cnt')}:0:0`);
  });

  it('names the missing $KVM_SIM_MEM image', () => {
    expect(probe(['openfiles - /dev/mem 0'], { KVM_SIM_MEM: `${tmp.dir}/gone.img` }).lines[0]).toBe(
      `openfiles NULL errbuf=[${tmp.dir}/gone.img: No such file or directory]`,
    );
  });

  it('sends kvm_open errors to stderr as "errstr: msg" and leaves no handle', () => {
    const r = probe([`open - ${tmp.dir}/missing.img myprog`]);
    expect(r.lines[0]).toBe('open NULL');
    expect(r.stderr).toBe(`myprog: ${tmp.dir}/missing.img: No such file or directory\n`);
  });

  it('handles NULL as libkvm does: kvm_close fails with EINVAL, kvm_geterr is ""', () => {
    expect(probe(['closenull', 'geterrnull']).lines).toEqual(['closenull -1 errno=22', 'geterrnull []']);
  });
});

describe('kvm_nlist', () => {
  it('resolves "_x" and "x" on a live kernel as kldsym does, with N_TEXT and zeroed n_other/n_desc', () => {
    const r = probe([openLive(), 'nlist _vm_cnt vm_cnt ___pcpu __pcpu _nosuch']).lines[1];
    expect(r).toBe(
      `nlist 2 _vm_cnt:4:${sym(liveM, 'vm_cnt')}:0:0 vm_cnt:4:${sym(liveM, 'vm_cnt')}:0:0 ___pcpu:4:${sym(liveM, '__pcpu')}:0:0 ` +
        '__pcpu:0:0:0:0 _nosuch:0:0:0:0 err=[kvm_nlist: No such file or directory]',
    );
  });

  it('stops at an empty name and returns 0 for an empty list', () => {
    expect(probe([openLive(), "nlist _hz '' _nosuch", "nlist ''"]).lines.slice(1)).toEqual([
      `nlist 0 _hz:4:${sym(liveM, 'hz')}:0:0 :85:dead:7:9 _nosuch:85:dead:7:9 err=[]`,
      'nlist 0 :85:dead:7:9 err=[]',
    ]);
  });

  it('reports the stored n_type on a crash dump, matching "name+1" and "name"', () => {
    const r = probe([openDead(), 'nlist _vm_cnt __pcpu _mp_ncpus _pqstate_commit_retries _nosuch']).lines[1];
    expect(r).toBe(
      `nlist 1 _vm_cnt:7:${sym(deadM, 'vm_cnt')}:0:0 __pcpu:9:${sym(deadM, '__pcpu')}:0:0 _mp_ncpus:9:${sym(deadM, 'mp_ncpus')}:0:0 ` +
        `_pqstate_commit_retries:6:${sym(deadM, 'pqstate_commit_retries')}:0:0 _nosuch:0:0:0:0 err=[]`,
    );
  });

  it('translates VNET names into vnet0 and DPCPU names into the current CPU', () => {
    for (const [open, m] of [[openLive(), liveM], [openDead(), deadM]] as const) {
      const r = probe([open, 'nlist _udpstat _ipstat _pcputicks']).lines[1];
      const base = BigInt(m.vnet.dataBase);
      const dpcpu = (BigInt(m.dpcpu.areas['0'] as string) - BigInt(m.dpcpu.start)) & (2n ** 64n - 1n);
      const t = m.live ? 4 : 7;
      expect(r).toBe(
        `nlist 0 _udpstat:${t}:${hex((base + symbolAddress(m, 'vnet_entry_udpstat')) & (2n ** 64n - 1n))}:0:0 ` +
          `_ipstat:${t}:${hex((base + symbolAddress(m, 'vnet_entry_ipstat')) & (2n ** 64n - 1n))}:0:0 ` +
          `_pcputicks:${t}:${hex((dpcpu + symbolAddress(m, 'pcpu_entry_pcputicks')) & (2n ** 64n - 1n))}:0:0 err=[]`,
      );
    }
  });

  it('kvm_nlist2 skips preset entries on a live kernel and clears them on a dump', () => {
    // The skipped entry counts as not found, and libkvm says so in errbuf.
    expect(probe([openLive(), 'nlist2pre _hz _stathz']).lines[1]).toBe(
      `nlist2 1 _hz:6:1234 _stathz:4:${sym(liveM, 'stathz')} err=[kvm_nlist: No such file or directory]`,
    );
    expect(probe([openDead(), 'nlist2pre _hz _stathz']).lines[1]).toBe(
      `nlist2 0 _hz:9:${sym(deadM, 'hz')} _stathz:9:${sym(deadM, 'stathz')} err=[]`,
    );
  });
});

describe('kvm_read', () => {
  const le64 = (v: bigint): string => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');

  it('costs one pread inside a segment and one per segment across two', () => {
    const dataEnd = symbolAddress(liveM, 'mp_ncpus'); // .bss starts on the page after .data
    const r = probe([openLive(), 'statsreset', `read ${sym(liveM, 'vm_cnt')} 8`, 'stats', 'statsreset', `read2 ${hex(dataEnd - 8n)} 16`, 'stats']).lines;
    expect(r[2]).toMatch(new RegExp(`^read 8 ${le64(BigInt(findCounter(liveM, 'vm_cnt.v_swtch').handle))} err=\\[\\]$`));
    expect(r[3]).toMatch(/ kvm_read=1 .* pread=1$/);
    expect(r[5]).toMatch(/^read 16 /);
    expect(r[6]).toMatch(/ kvm_read2=1 .* pread=2$/);
  });

  it('fails an unmapped address with "kvm_read: Bad address", also when a read runs off a slab', () => {
    const slabEnd = kva(BigInt(liveM.pcpuBase) + (BigInt(findCounter(liveM, 'vm_cnt.v_swtch').handle) & ~4095n) + 4096n * 4n);
    expect(probe([openLive(), 'read 1000 8', `read ${hex(slabEnd - 8n)} 16`]).lines.slice(1)).toEqual([
      'read -1 err=[kvm_read: Bad address]',
      'read -1 err=[kvm_read: Bad address]',
    ]);
  });
});

describe('per-CPU data', () => {
  const swtch = (m: KernelManifest): ReturnType<typeof findCounter> => findCounter(m, 'vm_cnt.v_swtch');

  it('sums a counter over CPUs 0..mp_ncpus-1 and reads each copy with kvm_read_zpcpu', () => {
    const c = swtch(liveM);
    const r = probe([openLive(), 'maxcpu', 'ncpus', `fetchat ${hex(BigInt(c.holder))}`, ...[0, 1, 2, 3].map((cpu) => `zpcpu ${hex(BigInt(c.handle))} ${cpu}`)]).lines;
    expect(r.slice(1, 3)).toEqual(['maxcpu 256', 'ncpus 4']);
    const expected = [0, 1, 2, 3].reduce((s, cpu) => s + plantedCounterValue(c.index, cpu), 0n);
    expect(r[3]).toBe(`fetchat ${hex(BigInt(c.handle))} ${expected}`);
    expect(r.slice(4)).toEqual([0, 1, 2, 3].map((cpu) => `zpcpu 8 ${plantedCounterValue(c.index, cpu)} err=[]`));
  });

  it('sums the wrong CPUs on sparse ids, as libkvm does', () => {
    const c = swtch(deadM);
    const r = probe([openDead(), 'ncpus', `fetch ${hex(BigInt(c.handle))}`, `zpcpu ${hex(BigInt(c.handle))} 1`, `zpcpu ${hex(BigInt(c.handle))} 5`]).lines;
    expect(r[1]).toBe('ncpus 3');
    // ids 0, 1, 2: CPU 1 is absent (0) and CPU 5 is left out.
    expect(r[2]).toBe(`fetch ${plantedCounterValue(c.index, 0) + plantedCounterValue(c.index, 2)}`);
    expect(r[3]).toBe('zpcpu 8 0 err=[]');
    expect(r[4]).toBe(`zpcpu 8 ${plantedCounterValue(c.index, 5)} err=[]`);
  });

  it('returns 0 from kvm_counter_u64_fetch when any CPU read fails', () => {
    const c = swtch(liveM);
    const img = KernelImage.open(live);
    const cpu2 = img.counterAddress(BigInt(c.handle), 2);
    img.setEfault(cpu2, cpu2 + 8n);
    try {
      expect(probe([openLive(), `fetch ${hex(BigInt(c.handle))}`]).lines[1]).toBe('fetch 0');
    } finally {
      img.clearFaults();
      img.close();
    }
  });

  it('copies struct pcpu for present CPUs and returns NULL for absent or out-of-range ones', () => {
    const r = probe([openDead(), 'maxcpu', 'getpcpu 2', 'getpcpu 1', 'getpcpu 6', 'getpcpu 64', 'getpcpu -1']).lines;
    expect(r[1]).toBe('maxcpu 64');
    expect(r[2]).toBe(`getpcpu cpuid=2 cp_time=${[0, 1, 2, 3, 4].map((m) => plantedCpTime(2, m)).join(',')}`);
    expect(r.slice(3)).toEqual(['getpcpu NULL', 'getpcpu NULL', 'getpcpu NULL', 'getpcpu NULL']);
  });

  it('keeps mp_ncpus and __pcpu process-wide until reset, as kvm_pcpu.c does', () => {
    const r = probe([openLive(), 'ncpus', 'close', openDead(), 'ncpus', 'maxcpu', 'resetcache', 'ncpus', 'maxcpu']).lines;
    expect([r[1], r[4], r[5], r[7], r[8]]).toEqual(['ncpus 4', 'ncpus 4', 'maxcpu 256', 'ncpus 3', 'maxcpu 64']);
  });

  it('selects DPCPU copies with kvm_dpcpu_setcpu and re-resolves on the next kvm_nlist', () => {
    const cmds = [openDead()];
    for (const cpu of [0, 2, 5]) cmds.push(`setcpu ${cpu}`, 'nlist _pcputicks');
    cmds.push('setcpu 1', 'setcpu 64');
    const r = probe(cmds).lines;
    const start = BigInt(deadM.dpcpu.start);
    const entry = symbolAddress(deadM, 'pcpu_entry_pcputicks');
    [0, 2, 5].forEach((cpu, i) => {
      expect(r[1 + 2 * i]).toBe('setcpu 0 err=[]');
      const at = BigInt(deadM.dpcpu.areas[String(cpu)] as string) - start + entry;
      expect(r[2 + 2 * i]).toBe(`nlist 0 _pcputicks:7:${hex(at)}:0:0 err=[]`);
    });
    expect(r[7]).toBe('setcpu -1 err=[_kvm_dpcpu_setcpu: CPU 1 not found]');
    expect(r[8]).toBe('setcpu -1 err=[_kvm_dpcpu_setcpu: CPU 64 too big]');
  });

  it('reads the planted pcputicks through the translated address', () => {
    const area = BigInt(deadM.dpcpu.areas['5'] as string) - BigInt(deadM.dpcpu.start) + symbolAddress(deadM, 'pcpu_entry_pcputicks');
    const r = probe([openDead(), `read ${hex(area)} 4`]).lines[1];
    const le = Buffer.alloc(4);
    le.writeInt32LE(plantedPcputicks(5));
    expect(r).toBe(`read 4 ${le.toString('hex')} err=[]`);
  });
});

describe('kvm_getprocs', () => {
  const visible = (): KinfoProcess[] => liveProcs.filter((p) => p.threads[0]?.stat !== ProcState.SIDL);
  const list = (procs: KinfoProcess[], threads: boolean): string =>
    procs.flatMap((p) => (threads ? p.threads : p.threads.slice(0, 1)).map((t) => `${p.pid}/${t.tid}`)).join(',');
  const line = (procs: KinfoProcess[], threads: boolean): string => {
    const n = procs.reduce((s, p) => s + (threads ? p.threads.length : 1), 0);
    return `getprocs cnt=${n} pids=${list(procs, threads)}`;
  };

  it('has an embryonic process in the table to hide', () => {
    expect(liveProcs.some((p) => p.threads[0]?.stat === ProcState.SIDL)).toBe(true);
  });

  it.each([
    ['KERN_PROC_ALL: every thread', 0, 0, () => line(visible(), true)],
    ['KERN_PROC_PROC: one record per process', 8, 0, () => line(visible(), false)],
    ['KERN_PROC_PROC|INC_THREAD', 8 | 0x10, 0, () => line(visible(), true)],
    ['KERN_PROC_UID 80', 5, 80, () => line(visible().filter((p) => p.uid === 80), false)],
    ['KERN_PROC_UID 1001 with threads', 5 | 0x10, 1001, () => line(visible().filter((p) => p.uid === 1001), true)],
    ['KERN_PROC_RUID 0', 6, 0, () => line(visible().filter((p) => (p.ruid ?? p.uid) === 0), false)],
    ['KERN_PROC_PID 1', 1, 1, () => line(visible().filter((p) => p.pid === 1), false)],
    ['KERN_PROC_PID 0 with threads', 1 | 0x10, 0, () => line(visible().filter((p) => p.pid === 0), true)],
    ['KERN_PROC_UID with no match', 5, 4242, () => 'getprocs cnt=0 pids='],
  ])('%s', (_what, op, arg, expected) => {
    expect(probe([openLive(), `getprocs ${op} ${arg}`]).lines[1]).toBe(expected());
  });

  it('fails KERN_PROC_PID of a missing or embryonic pid with ESRCH, leaving cnt alone', () => {
    const embryo = liveProcs.find((p) => p.threads[0]?.stat === ProcState.SIDL)?.pid ?? -1;
    expect(probe([openLive(), 'getprocs 1 99999', `getprocs 1 ${embryo}`]).lines.slice(1)).toEqual([
      'getprocs NULL cnt=-77 err=[kvm_getprocs: No such process]',
      'getprocs NULL cnt=-77 err=[kvm_getprocs: No such process]',
    ]);
  });

  it('fails an op it does not know with EINVAL', () => {
    expect(probe([openLive(), 'getprocs 42 0']).lines[1]).toBe('getprocs NULL cnt=-77 err=[kvm_getprocs: Invalid argument]');
  });

  it('answers the same on a crash dump', () => {
    const img = KernelImage.open(dead);
    const procs = img.readProcesses().filter((p) => p.threads[0]?.stat !== ProcState.SIDL);
    img.close();
    expect(probe([openDead(), 'getprocs 8 0']).lines[1]).toBe(line(procs, false));
  });
});

describe('kvm_getloadavg', () => {
  it('divides ldavg by fscale and returns min(nelem, 3)', () => {
    const expected = [0.42, 0.37, 0.3].map((v) => (Math.round(v * 2048) / 2048).toFixed(6));
    for (const open of [openLive(), openDead()]) {
      const r = probe([open, 'loadavg 3', 'loadavg 2', 'loadavg 5']).lines.slice(1);
      expect(r[0]).toBe(`loadavg 3 ${expected.join(' ')}`);
      expect(r[1]).toBe(`loadavg 2 ${expected[0]} ${expected[1]} -1.000000`);
      expect(r[2]).toMatch(/^loadavg 3 /);
    }
  });
});

describe('the /dev/null handle', () => {
  it('resolves symbols from $KVM_SIM_MEM but reads nothing', () => {
    const c = findCounter(liveM, 'vm_cnt.v_swtch');
    const r = probe(['openfiles - /dev/null 0', 'nlist _vm_cnt _udpstat', `read ${sym(liveM, 'vm_cnt')} 8`, `fetch ${hex(BigInt(c.handle))}`, 'getpcpu 0'], { KVM_SIM_MEM: live }).lines;
    expect(r[0]).toBe('openfiles ok errbuf=[]');
    expect(r[1]).toMatch(new RegExp(`^nlist 1 _vm_cnt:4:${sym(liveM, 'vm_cnt')}:0:0 _udpstat:0:0:0:0 `));
    expect(r[2]).toBe('read 0 err=[short read]');
    expect(r[3]).toBe('fetch 0');
    expect(r[4]).toMatch(/^getpcpu ERR err=\[/);
  });

  it('answers kvm_getprocs and kvm_getloadavg like sysctls', () => {
    const r = probe(['openfiles - /dev/null 0', 'getprocs 1 1', 'loadavg 1'], { KVM_SIM_MEM: live }).lines;
    expect(r[1]).toMatch(/^getprocs cnt=1 pids=1\//);
    expect(r[2]).toBe(`loadavg 1 ${(Math.round(0.42 * 2048) / 2048).toFixed(6)} -1.000000 -1.000000`);
  });

  it('opens without $KVM_SIM_MEM but has no kernel behind it', () => {
    expect(probe(['openfiles - /dev/null 0', 'nlist _vm_cnt', 'getprocs 0 0', 'loadavg 3']).lines).toEqual([
      'openfiles ok errbuf=[]',
      'nlist 1 _vm_cnt:0:0:0:0 err=[kvm_nlist: No such file or directory]',
      'getprocs NULL cnt=-77 err=[kvm_getprocs: No such file or directory]',
      'loadavg -1 -1.000000 -1.000000 -1.000000',
    ]);
  });
});

describe('control-file faults', () => {
  let path: string;
  let img: KernelImage;
  let m: KernelManifest;
  beforeAll(() => {
    path = `${tmp.dir}/faults.img`;
    copyFileSync(dead, path);
    copyFileSync(`${dead}.ctl`, `${path}.ctl`);
    m = deadM;
    img = KernelImage.open(path);
  });
  afterAll(() => img.close());
  const open = (): string => `openfiles ${exec} ${path} 0`;

  it('fails opening with open_errno, naming the corefile', () => {
    img.setOpenErrno(13);
    try {
      expect(probe([open()]).lines[0]).toBe(`openfiles NULL errbuf=[${path}: Permission denied]`);
      expect(probe(['openfiles - /dev/mem 0'], { KVM_SIM_MEM: path }).lines[0]).toBe('openfiles NULL errbuf=[/dev/mem: Permission denied]');
    } finally {
      img.clearFaults();
    }
  });

  it('fails reads touching the EFAULT range, and only those', () => {
    const vm = symbolAddress(m, 'vm_cnt');
    img.setEfault(vm + 12n, vm + 13n);
    try {
      const r = probe([open(), `read ${hex(vm)} 8`, `read ${hex(vm + 8n)} 8`, `read ${hex(vm + 13n)} 3`]).lines;
      expect(r[1]).toMatch(/^read 8 /);
      expect(r[2]).toBe('read -1 err=[kvm_read: Bad address]');
      expect(r[3]).toMatch(/^read 3 /);
    } finally {
      img.clearFaults();
    }
  });

  it('cuts reads touching the short range at short_lo', () => {
    const vm = symbolAddress(m, 'vm_cnt');
    img.setShortRead(vm + 5n, vm + 6n);
    try {
      const r = probe([open(), `read ${hex(vm)} 8`, `read ${hex(vm + 5n)} 8`]).lines;
      expect(r[1]).toMatch(/^read 5 [0-9a-f]{10} err=\[short read\]$/);
      expect(r[2]).toBe('read 0 err=[short read]');
    } finally {
      img.clearFaults();
    }
  });

  it('delays every read by read_delay_us', () => {
    img.setReadDelayUs(20_000);
    try {
      const t0 = performance.now();
      probe([open(), ...Array.from({ length: 10 }, () => `read ${sym(m, 'hz')} 4`)]);
      expect(performance.now() - t0).toBeGreaterThan(200);
    } finally {
      img.clearFaults();
    }
  });

  it('reports a kinfo_proc size mismatch of the live sysctl and leaves cnt untouched', () => {
    img.setKinfoStructsize(1000);
    try {
      expect(probe(['openfiles - /dev/mem 0', 'getprocs 0 0'], { KVM_SIM_MEM: path }).lines[1]).toBe('getprocs NULL cnt=-77 err=[kinfo_proc size mismatch (expected 1088, got 1000)]');
    } finally {
      img.clearFaults();
    }
  });

  it('fails kvm_getprocs with getprocs_errno', () => {
    img.setGetprocsErrno(12);
    try {
      expect(probe([open(), 'getprocs 0 0']).lines[1]).toBe('getprocs NULL cnt=-77 err=[kvm_getprocs: Cannot allocate memory]');
    } finally {
      img.clearFaults();
    }
  });

  it('reads a dump\'s process count through kvm_read, so read faults reach kvm_getprocs', () => {
    const n = symbolAddress(m, 'nprocs_records');
    img.setEfault(n, n + 4n);
    try {
      expect(probe([open(), 'getprocs 8 0']).lines[1]).toBe(`getprocs NULL cnt=-77 err=[kvm_getprocs: cannot read nprocs_records at 0x${hex(n)}]`);
    } finally {
      img.clearFaults();
    }
  });

  it('waits for an odd seq, then gives up after 2 s with EAGAIN', () => {
    const ctl = `${path}.ctl`;
    img.withSeqlock(() => {
      const t0 = performance.now();
      const r = probe([open(), 'getprocs 0 0']).lines[1];
      expect(performance.now() - t0).toBeGreaterThan(1900);
      expect(r).toMatch(new RegExp(`^getprocs NULL cnt=-77 err=\\[kvm_getprocs: ${ctl} seq \\d+: the process table kept changing for 2 s: Resource temporarily unavailable\\]$`));
    });
    expect(probe([open(), 'getprocs 1 1']).lines[1]).toMatch(/^getprocs cnt=1 /);
  });
});

describe('kvm_getargv', () => {
  it("answers from the process's p_args as kvm_argv does: nchr sizes libkvm's static buffer, which only grows, and a short buffer cuts the last argument", () => {
    const p = liveProcs.find((q) => q.comm === 'node_exporter')!;
    const full = `argv ${p.argv!.join('|')}`;
    const r = probe([openLive(), `argv ${p.pid} 10`, `argv ${p.pid} 0`, `argv ${p.pid} 10`, 'argv 0 0', 'argv 99999 0']).lines;
    expect(r.slice(1)).toEqual([
      `argv ${String(p.argv![0]).slice(0, 9)}`,
      full,
      full,
      'argv NULL err=[]',
      'argv NULL err=[]',
    ]);
  });

  it('fails on a crash dump with libkvm\'s text', () => {
    expect(probe([openDead(), 'argv 1 0']).lines[1]).toBe('argv NULL err=[cannot read user space from dead kernel]');
  });
});
