/**
 * Faults while the kernel handle is open: reads that fail (EFAULT) or come
 * back short over a counter's per-CPU copy, a struct pcpu and
 * cpuid_to_pcpu[]; a config symbol the kernel lacks; a CPU that goes away
 * and comes back; kvm_getprocs refusing its records. The real exporter is
 * served over HTTP and every published kernel value is compared with what
 * the image holds: a failed read's series must be absent, never 0 or a
 * partial sum; kvm_up and kvm_scrape_collector_success say what failed; the
 * log says it once per change of state, with the libkvm error text.
 */
import { constants } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counterHandle } from '../../sim/image/manifest.js';
import type { KernelImage } from '../../sim/image/image.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { expectedCounters } from '../exporter/harness.js';
import { compareWithImage, imageTruth, keysOf, type Comparison } from './oracle.js';
import { FULL_CONFIG, serveKernel, simControl, sleep, successOf, upOf, until, type Served, everyCollector } from './served.js';

const ALL_OK = { cpus: 1, counters: 1, variables: 1, vnet: 1, dpcpu: 1, pcpu: 1, processes: 1, loadavg: 1, swap: 1 };

let kernel: TestKernel;
let image: KernelImage;
let served: Served;

async function start(cpus = [0, 1, 2, 3], body = FULL_CONFIG, backoff = { initialMs: 100, maxMs: 400 }): Promise<void> {
  kernel = makeKernel({ cpus });
  image = kernel.open();
  served = await serveKernel(kernel, body, { backoff });
}

beforeEach(() => {
  // libkvm's per-CPU cache is process-wide: each test starts from a fresh one.
  simControl().resetPcpuCache();
});

afterEach(async () => {
  await served?.close();
  image?.close();
  kernel?.remove();
});

/** Scrapes over HTTP and compares every kernel sample with the image. */
async function scrapeAndCompare(libkvmNcpus?: number): Promise<{ success: Record<string, number>; up: number; cmp: Comparison }> {
  const { parsed } = await served.scrape();
  const truth = imageTruth(image, kernel.manifest, served.config, libkvmNcpus === undefined ? {} : { libkvmNcpus });
  return { success: successOf(parsed), up: upOf(parsed), cmp: compareWithImage(parsed, truth) };
}

function truthNow(): Map<string, number> {
  return imageTruth(image, kernel.manifest, served.config);
}

/** The series of the counters whose handle lies in the 4 KB page of `handle`: one kvm_read_zpcpu reads them together. */
function samePageSeries(handle: bigint): string[] {
  const page = handle / 4096n;
  const inPage = expectedCounters(served.config, kernel.manifest).filter((c) => c.handle / 4096n === page);
  return keysOf(truthNow(), inPage.flatMap((c) => (c.percpu === undefined ? [c.sum] : [c.sum, c.percpu])));
}

describe('a read of one counter copy fails', () => {
  const cases = [
    { fault: 'EFAULT', counter: 'vm_cnt.v_swtch', metric: 'vm_swtch', perCpu: true, path: 'per-CPU span', err: /counters\[0\]: kvm_read_zpcpu of \d+ bytes at 0x[0-9a-f]+ on CPU 2 failed: kvm_read: Bad address/ },
    { fault: 'short read', counter: 'vm_cnt.v_trap', metric: 'vm_trap', perCpu: true, path: 'per-CPU span', err: /counters\[1\]: kvm_read_zpcpu of \d+ bytes at 0x[0-9a-f]+ on CPU 2 returned \d+ of \d+ bytes: short read/ },
    { fault: 'EFAULT', counter: 'vm_cnt.v_vm_faults', metric: 'vm_vm_faults', perCpu: false, path: 'summed-only, in the same span', err: /counters\[5\]: kvm_read_zpcpu of \d+ bytes at 0x[0-9a-f]+ on CPU 2 failed: kvm_read: Bad address/ },
    { fault: 'short read', counter: 'vm_cnt.v_zfod', metric: 'vm_zfod', perCpu: false, path: 'summed-only, in the same span', err: /counters\[9\]: kvm_read_zpcpu of \d+ bytes at 0x[0-9a-f]+ on CPU 2 returned \d+ of \d+ bytes: short read/ },
  ] as const;

  it.each(cases)('$fault on CPU 2 of $counter ($path): its series are left out, the rest is exact, one log line each way', async ({ fault, counter, metric, perCpu, err }) => {
    await start();
    const healthy = await scrapeAndCompare();
    expect(healthy.cmp).toEqual({ wrong: [], absent: [], published: healthy.cmp.published });
    const handle = counterHandle(kernel.manifest, counter);
    const at = image.counterAddress(handle, 2);
    if (fault === 'EFAULT') image.setEfault(at, at + 8n);
    else image.setShortRead(at, at + 8n);
    const mark = served.log.mark;
    const mine = keysOf(truthNow(), [`kvm_${metric}_total`, `kvm_${metric}_percpu_total`]);
    // The summed series, and one per CPU where the entry has them: never an empty list that any scrape contains.
    expect(mine).toHaveLength(perCpu ? 5 : 1);
    const collateral = new Set(samePageSeries(handle));
    expect([...mine].filter((key) => !collateral.has(key))).toEqual([]);
    for (let i = 0; i < 3; i++) {
      const { success, up, cmp } = await scrapeAndCompare();
      expect(up).toBe(1);
      expect(success).toEqual({ ...ALL_OK, counters: 0 });
      expect(cmp.wrong).toEqual([]);
      expect(cmp.absent).toEqual(expect.arrayContaining(mine));
      expect(cmp.absent.filter((key) => !collateral.has(key))).toEqual([]);
    }
    const failed = served.log.find('error', 'collector failed', { collector: 'counters' }, mark);
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.err)).toMatch(err);
    expect(served.log.problems(mark)).toHaveLength(1);

    image.clearFaults();
    const after = await scrapeAndCompare();
    expect(after.success).toEqual(ALL_OK);
    expect(after.cmp).toEqual({ wrong: [], absent: [], published: healthy.cmp.published });
    expect(served.log.find('info', 'collector recovered', { collector: 'counters' }, mark)).toHaveLength(1);
  });
});

describe('a read of struct pcpu fails', () => {
  it.each([
    { fault: 'EFAULT', cpu: 1 },
    { fault: 'short read', cpu: 3 },
  ])('$fault over CPU $cpu\'s struct pcpu leaves out that CPU\'s pc_cp_time series only', async ({ fault, cpu }) => {
    await start();
    const pc = image.pcpuAddress(cpu);
    // pc_cp_time only: the topology check reads pc_cpuid (offset 60) of the first and last CPU.
    if (fault === 'EFAULT') image.setEfault(pc + 80n, pc + 120n);
    else image.setShortRead(pc + 80n, pc + 120n);
    const mark = served.log.mark;
    const lost = keysOf(truthNow(), ['kvm_cpu_time_seconds_total']).filter((key) => key.includes(`cpu="${cpu}"`));
    expect(lost).toHaveLength(5);
    for (let i = 0; i < 3; i++) {
      const { success, up, cmp } = await scrapeAndCompare();
      expect(up).toBe(1);
      expect(success).toEqual({ ...ALL_OK, pcpu: 0 });
      expect(cmp.wrong).toEqual([]);
      expect(cmp.absent).toEqual(lost);
    }
    const failed = served.log.find('error', 'collector failed', { collector: 'pcpu' }, mark);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.err).toBe(`struct pcpu of CPU ${cpu}: kvm_getpcpu(kd, ${cpu}) failed: unable to read per-CPU data`);
    image.clearFaults();
    expect((await scrapeAndCompare()).cmp.absent).toEqual([]);
  });
});

describe('cpuid_to_pcpu cannot be read', () => {
  it('reports kvm_up 0 with no kernel series, reopens with a growing backoff, and recovers', async () => {
    await start([0, 1, 2, 3], FULL_CONFIG, { initialMs: 100, maxMs: 400 });
    const table = image.symbol('cpuid_to_pcpu').value;
    image.setEfault(table, table + 8n);
    const mark = served.log.mark;
    const control = simControl();
    control.resetCallCounts();
    const started = Date.now();
    while (Date.now() - started < 1_600) {
      const { success, up, cmp } = await scrapeAndCompare();
      expect(up).toBe(0);
      expect(Object.values(success)).toEqual(everyCollector(0));
      expect(cmp.published).toBe(0);
      await sleep(25);
    }
    // Retries after 100, 200, 400, 400, 400 ms: five in 1.6 s, where a fixed 100 ms would make sixteen.
    const reopens = control.callCounts().kvm_openfiles ?? 0;
    expect(reopens).toBeGreaterThanOrEqual(3);
    expect(reopens).toBeLessThanOrEqual(6);
    const broken = served.log.find('error', 'kernel handle broken; closing it and reopening with backoff', {}, mark);
    expect(broken).toHaveLength(1);
    expect(broken[0]!.err).toBe(`kvm_read2 of 2048 bytes at 0x${table.toString(16)} failed: kvm_read: Bad address`);
    // One error when it breaks and one when the reopen meets the fault through libkvm's own read of
    // cpuid_to_pcpu (a new text); every later retry that meets it again says so at debug level only.
    const errors = served.log.lines.slice(mark).filter((l) => l.level === 'error' && l.msg !== 'collector failed');
    expect(errors[0]).toEqual(broken[0]);
    expect(errors.slice(1).map((l) => [l.msg, l.err])).toEqual([
      ['cannot read the kernel through libkvm', 'kvm_getmaxcpu(kd) failed: cannot read cpuid_to_pcpu array'],
    ]);
    expect(served.log.lines.slice(mark).filter((l) => l.level === 'debug' && l.msg.endsWith('(unchanged)'))).toHaveLength(reopens - 1);
    expect(served.log.find('error', 'collector failed', {}, mark)).toHaveLength(everyCollector(0).length);

    image.clearFaults();
    await until('kvm_up 1', async () => (await scrapeAndCompare()).up === 1, 2_000);
    const after = await scrapeAndCompare();
    expect(after.success).toEqual(ALL_OK);
    expect(after.cmp.wrong).toEqual([]);
    expect(after.cmp.absent).toEqual([]);
    expect(served.log.find('info', 'kernel readable again', {}, mark)).toHaveLength(1);
    expect(served.log.find('info', 'collector recovered', {}, mark)).toHaveLength(everyCollector(1).length);
  });
});

describe('a config entry names a symbol the kernel lacks', () => {
  it('leaves the entry out, marks its collector failed, logs it once, and serves every other entry exactly', async () => {
    const body = FULL_CONFIG.replace(
      'variables:\n',
      'variables:\n  - { name: missing_variable, symbol: no_such_variable, ctype: int64 }\n',
    ).replace('dpcpu:\n', 'dpcpu:\n  - { name: missing_dpcpu, symbol: no_such_dpcpu, ctype: int32 }\n');
    await start([0, 1, 2, 3], body);
    const mark = 0; // from the first line: the entries are left out at open
    for (let i = 0; i < 3; i++) {
      const { success, up, cmp } = await scrapeAndCompare();
      expect(up).toBe(1);
      expect(success).toEqual({ ...ALL_OK, variables: 0, dpcpu: 0 });
      expect(cmp.wrong).toEqual([]);
      expect(cmp.absent).toEqual([]);
    }
    const leftOut = served.log.find('warn', 'config entry left out', {}, mark).map((l) => l.problem);
    // Each names where the entry is (its key, with file:line where the config module adds it) and libkvm's text.
    expect(leftOut).toEqual([
      expect.stringMatching(/^(?:\S+:\d+ )?variables\[0\] \(no_such_variable\): kernel symbol no_such_variable not found: kvm_nlist: No such file or directory$/),
      expect.stringMatching(/^(?:\S+:\d+ )?dpcpu\[0\] \(DPCPU no_such_dpcpu\): kernel symbol pcpu_entry_no_such_dpcpu not found: kvm_nlist: No such file or directory$/),
    ]);
    const failed = served.log.find('error', 'collector failed', {}, mark);
    expect(failed.map((l) => l.collector)).toEqual(['variables', 'dpcpu']);
    expect(String(failed[0]!.err)).toMatch(/^config entries left out: (?:\S+:\d+ )?variables\[0\] \(no_such_variable\): kernel symbol no_such_variable not found/);
    const page = await served.get('/');
    expect(page.text).toContain('no_such_variable');
  });
});

describe('a CPU goes away and comes back', () => {
  it('drops only that CPU\'s series while it is absent and sums the present ones, then serves it again', async () => {
    await start([0, 1, 2, 3]);
    const mark = served.log.mark;
    const healthy = await scrapeAndCompare(4);
    expect(healthy.cmp.absent).toEqual([]);
    image.setCpuPresent(2, false);
    // The exporter reopens the handle on a CPU change, so libkvm's CPU count is the kernel's again.
    const without = await scrapeAndCompare();
    expect(without.up).toBe(1);
    expect(without.success).toEqual(ALL_OK);
    expect(without.cmp.wrong).toEqual([]);
    expect(without.cmp.absent).toEqual([]);
    const { parsed } = await served.scrape();
    expect(parsed.samples.filter((s) => s.labels.cpu === '2')).toEqual([]);
    expect(parsed.samples.find((s) => s.name === 'kvm_cpus_present')?.value).toBe(3);

    image.setCpuPresent(2, true);
    const back = await scrapeAndCompare();
    expect(back.success).toEqual(ALL_OK);
    expect(back.cmp).toEqual(healthy.cmp);
    expect(served.log.problems(mark)).toEqual([]);
  });

  it('a CPU that comes up after libkvm first read the CPU table is read after the handle is reopened', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    image.setCpuPresent(3, false);
    served = await serveKernel(kernel, FULL_CONFIG);
    expect((await scrapeAndCompare(3)).cmp.absent).toEqual([]);
    const mark = served.log.mark;
    image.setCpuPresent(3, true);
    // libkvm caches the CPU table (process-wide) and DPCPU offsets (per handle): the exporter reopens.
    const { success, cmp } = await scrapeAndCompare(4);
    expect(success).toEqual(ALL_OK);
    expect(cmp.wrong).toEqual([]);
    expect(cmp.absent).toEqual([]);
    expect(served.log.find('info', 'CPUs changed; reopening the kernel handle', {}, mark)).toHaveLength(1);
    expect(served.log.problems(mark)).toEqual([]);
  });
});

describe('kvm_getprocs refuses its records', () => {
  it.each([
    { fault: 'ki_structsize 1000', arm: (i: KernelImage) => i.setKinfoStructsize(1000), err: 'kvm_getprocs(kd, 8, 0) failed: kinfo_proc size mismatch (expected 1088, got 1000)' },
    { fault: 'EAGAIN', arm: (i: KernelImage) => i.setGetprocsErrno(constants.errno.EAGAIN), err: 'kvm_getprocs(kd, 8, 0) failed: kvm_getprocs: Resource temporarily unavailable' },
  ])('$fault: process and thread counts are left out, everything else is served', async ({ arm, err }) => {
    await start();
    arm(image);
    const mark = served.log.mark;
    const lost = keysOf(truthNow(), ['kvm_processes', 'kvm_threads', 'kvm_processes_hidden']);
    // Both families, one series per process state each: the list the scrape must lack is not empty.
    expect(new Set(lost.map((key) => key.slice(0, key.indexOf('{'))))).toEqual(new Set(['kvm_processes', 'kvm_threads', 'kvm_processes_hidden']));
    for (let i = 0; i < 3; i++) {
      const { success, up, cmp } = await scrapeAndCompare();
      expect(up).toBe(1);
      expect(success).toEqual({ ...ALL_OK, processes: 0 });
      expect(cmp.wrong).toEqual([]);
      expect(cmp.absent).toEqual(lost);
    }
    expect(served.log.find('error', 'collector failed', { collector: 'processes' }, mark).map((l) => l.err)).toEqual([err]);
    image.clearFaults();
    expect((await scrapeAndCompare()).cmp.absent).toEqual([]);
  });
});
