/**
 * The processes collector counts processes and threads by state as
 * kvm_getprocs returns them, and breaks processes down by jail, user and
 * command with a cap and an "other" series. Expected counts come from the
 * image's own process table (KernelImage.readProcesses), with the kernel's
 * rule applied by hand: an embryonic process (first record SIDL) is never
 * returned (sim/README.md, sys/kern/kern_proc.c).
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { ProcState, type KinfoProcess, type ProcStateValue } from '../../sim/image/kinfo.js';
import { generateProcesses } from '../../sim/image/process-table.js';
import { OVERFLOW_LABEL } from '../../src/collectors/processes.js';
import { byLabel, samplesOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { openExporter, scrapeKernel } from '../exporter/harness.js';

const STATES = ['idle', 'running', 'sleeping', 'stopped', 'zombie', 'waiting', 'lock'];
const ONLY_PROCESSES = 'collectors: { counters: false, variables: false, dpcpu: false, pcpu: false, cpus: false, loadavg: false }\n';
const { SIDL, SRUN, SSLEEP, SSTOP, SZOMB, SWAIT, SLOCK } = ProcState;

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

let nextTid = 200_000;
function proc(pid: number, comm: string, states: readonly number[], who: { uid?: number; jid?: number } = {}): KinfoProcess {
  return {
    pid,
    ppid: 1,
    uid: who.uid ?? 0,
    jid: who.jid ?? 0,
    comm,
    sizeBytes: 4096n,
    rssPages: 1n,
    threads: states.map((stat, i) => ({ tid: nextTid++, name: `${comm}${i}`, stat: stat as ProcStateValue })),
  };
}

/** Processes as kvm_getprocs returns them: the embryonic ones left out. */
function visible(image: KernelImage): KinfoProcess[] {
  return image.readProcesses().filter((p) => p.threads[0]!.stat !== SIDL);
}

function stateName(stat: number): string {
  return STATES[stat - 1] ?? 'unknown';
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** Every state with its count, zeros included, and "unknown" only when seen. */
function byState(stats: readonly number[]): Map<string, number> {
  const counts = countBy(stats, stateName);
  const all = new Map(STATES.map((s) => [s, counts.get(s) ?? 0]));
  if (counts.has('unknown')) all.set('unknown', counts.get('unknown')!);
  return all;
}

function sorted(map: ReadonlyMap<string, number>): [string, number][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : 1));
}

describe('counts by state', () => {
  it('equal the image\'s generated process table (150 processes, kernel threads, jails, zombies, one embryo)', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    const image = kernel.open();
    const procs = visible(image);
    expect(image.readProcesses().length - procs.length, 'the template has one embryonic process').toBe(1);
    const scrape = await scrapeKernel(kernel, ONLY_PROCESSES);
    expect(sorted(byLabel(scrape, 'kvm_processes', 'state'))).toEqual(sorted(byState(procs.map((p) => p.threads[0]!.stat))));
    expect(sorted(byLabel(scrape, 'kvm_threads', 'state'))).toEqual(sorted(byState(procs.flatMap((p) => p.threads.map((t) => t.stat)))));
    expect(samplesOf(scrape, 'kvm_processes')[0]?.type).toBe('gauge');
    image.close();
  });

  it('cover every state, leave embryonic processes out, and show "unknown" only for a ki_stat outside SIDL..SLOCK', async () => {
    const table = [
      proc(1, 'init', [SSLEEP]),
      proc(2, 'runner', [SRUN, SSLEEP, SIDL]),
      proc(3, 'stopped', [SSTOP]),
      proc(4, 'zombie', [SZOMB]),
      proc(5, 'intr', [SWAIT, SWAIT, SWAIT]),
      proc(6, 'locked', [SLOCK, SRUN]),
      proc(7, 'embryo', [SIDL, SIDL]),
      proc(8, 'odd', [9]),
    ];
    kernel = makeKernel({ cpus: [0, 1], processes: table });
    const image = kernel.open();
    const scrape = await scrapeKernel(kernel, ONLY_PROCESSES);
    const processes = byLabel(scrape, 'kvm_processes', 'state');
    const threads = byLabel(scrape, 'kvm_threads', 'state');
    const procs = visible(image);
    expect(processes).toEqual(byState(procs.map((p) => p.threads[0]!.stat)));
    expect(threads).toEqual(byState(procs.flatMap((p) => p.threads.map((t) => t.stat))));
    expect(processes.get('idle')).toBe(0);
    expect(threads.get('idle'), "a runner's SIDL thread is returned, the embryo's are not").toBe(1);
    expect(processes.get('unknown')).toBe(1);
    image.close();
  });

  it('follow the process table from one scrape to the next', async () => {
    kernel = makeKernel({ cpus: [0, 1], processes: [proc(1, 'init', [SSLEEP]), proc(2, 'sh', [SRUN])] });
    const image = kernel.open();
    const run = await openExporter(kernel, ONLY_PROCESSES);
    const before = await run.scrape();
    image.replaceProcesses([proc(1, 'init', [SSLEEP]), proc(3, 'make', [SSLEEP, SSLEEP]), proc(4, 'cc', [SRUN]), proc(5, 'cc', [SZOMB])]);
    const after = await run.scrape();
    await run.close();
    expect(byLabel(before, 'kvm_processes', 'state')).toEqual(byState([SSLEEP, SRUN]));
    expect(byLabel(after, 'kvm_processes', 'state')).toEqual(byState(visible(image).map((p) => p.threads[0]!.stat)));
    expect(byLabel(after, 'kvm_threads', 'state').get('sleeping')).toBe(3);
    expect(samplesOf(after, 'kvm_processes').some((s) => s.labels.state === 'unknown')).toBe(false);
    image.close();
  });
});

describe('breakdowns', () => {
  it('are off by default', async () => {
    kernel = makeKernel({ cpus: [0, 1] });
    const scrape = await scrapeKernel(kernel, ONLY_PROCESSES);
    for (const name of ['kvm_processes_by_jail', 'kvm_processes_by_user', 'kvm_processes_by_command']) {
      expect(samplesOf(scrape, name)).toEqual([]);
    }
  });

  it('count processes per jail, user and command exactly while under the cap', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    const image = kernel.open();
    const procs = visible(image);
    const scrape = await scrapeKernel(
      kernel,
      `${ONLY_PROCESSES}processes:\n  by_jail: { enabled: true }\n  by_user: { enabled: true }\n  by_command: { enabled: true, max_series: 1000 }\n`,
    );
    expect(sorted(byLabel(scrape, 'kvm_processes_by_jail', 'jid'))).toEqual(sorted(countBy(procs, (p) => String(p.jid))));
    expect(sorted(byLabel(scrape, 'kvm_processes_by_user', 'uid'))).toEqual(sorted(countBy(procs, (p) => String(p.uid))));
    expect(sorted(byLabel(scrape, 'kvm_processes_by_command', 'command'))).toEqual(sorted(countBy(procs, (p) => p.comm)));
    image.close();
  });

  it('keep the largest max_series - 1 keys and sum the rest as "(others past max_series)"', async () => {
    const procs = generateProcesses({ cpus: 4, count: 400, seed: 'brkd' });
    kernel = makeKernel({ cpus: [0, 1, 2, 3], processes: procs });
    const image = kernel.open();
    const counts = countBy(visible(image), (p) => p.comm);
    const total = visible(image).length;
    const scrape = await scrapeKernel(kernel, `${ONLY_PROCESSES}processes:\n  by_command: { enabled: true, max_series: 4 }\n  by_jail: { enabled: true, max_series: 2 }\n`);
    const commands = byLabel(scrape, 'kvm_processes_by_command', 'command');
    expect(counts.size).toBeGreaterThan(4);
    expect(commands.size).toBe(4);
    const kept = [...commands].filter(([key]) => key !== OVERFLOW_LABEL);
    expect(kept.length).toBe(3);
    for (const [command, n] of kept) expect(n, command).toBe(counts.get(command));
    const smallestKept = Math.min(...kept.map(([, n]) => n));
    const dropped = [...counts].filter(([command]) => !commands.has(command));
    expect(dropped.every(([, n]) => n <= smallestKept)).toBe(true);
    expect(commands.get(OVERFLOW_LABEL)).toBe(dropped.reduce((sum, [, n]) => sum + n, 0));
    expect([...commands.values()].reduce((a, b) => a + b, 0)).toBe(total);
    const jails = byLabel(scrape, 'kvm_processes_by_jail', 'jid');
    expect(jails.size).toBe(2);
    expect([...jails.values()].reduce((a, b) => a + b, 0)).toBe(total);
    expect(jails.has(OVERFLOW_LABEL)).toBe(true);
    image.close();
  });
});

describe('failures', () => {
  it.each<[string, (image: KernelImage) => void, RegExp]>([
    ['kvm_getprocs fails', (image) => image.setGetprocsErrno(1), /^kvm_getprocs\(kd, 8, 0\) failed: kvm_getprocs: Operation not permitted$/],
    ['kinfo_proc has another size', (image) => image.setKinfoStructsize(1000), /^kvm_getprocs\(kd, 8, 0\) failed: kinfo_proc size mismatch \(expected 1088, got 1000\)$/],
  ])('%s: processes fails with libkvm\'s text, the other collectors do not', async (_what, arm, message) => {
    kernel = makeKernel({ cpus: [0, 1] });
    const image = kernel.open();
    arm(image);
    const run = await openExporter(kernel, 'collectors: { counters: false, variables: false, vnet: false, dpcpu: false, pcpu: false }\n');
    const scrape = await run.scrape();
    const status = run.exporter.status().collectors.find((c) => c.name === 'processes');
    await run.close();
    image.clearFaults();
    expect(byLabel(scrape, 'kvm_scrape_collector_success', 'collector')).toEqual(new Map([['cpus', 1], ['processes', 0], ['loadavg', 1], ['swap', 1]]));
    expect(status?.lastError).toMatch(message);
    expect(samplesOf(scrape, 'kvm_processes')).toEqual([]);
    expect(samplesOf(scrape, 'kvm_cpus')).toHaveLength(1);
    image.close();
  });
});
