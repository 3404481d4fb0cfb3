/**
 * The processes collector where FreeBSD's libkvm and kernel differ from a
 * naive reading: a crash dump's records (ki_structsize 0, threads cut at
 * 10 x nprocs, lib/libkvm/kvm_proc.c), a live kernel that hides other
 * users' processes (p_cansee, sys/kern/kern_prot.c), command names that
 * are UTF-8 or not UTF-8 at all, and a process really named "other".
 * Expected values come from the process tables written here.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { ProcState, type KinfoProcess } from '../../sim/image/kinfo.js';
import { loadConfig } from '../../src/config/load.js';
import { Exporter } from '../../src/exporter/exporter.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { writeKvmConfig } from '../cli/helpers.js';
import { forgetPcpuCache, openExporter, parseFamilies } from '../exporter/harness.js';
import { byLabel, samplesOf, valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';

const ONLY_PROCESSES = 'collectors: { counters: false, variables: false, dpcpu: false, pcpu: false, cpus: false, loadavg: false }\n';

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

let nextTid = 300_000;
function proc(pid: number, comm: string, threads = 1, ruid = 0, commBytes?: Uint8Array): KinfoProcess {
  return {
    pid,
    ppid: 1,
    uid: ruid,
    ruid,
    jid: 0,
    comm,
    ...(commBytes === undefined ? {} : { commBytes }),
    sizeBytes: 4096n,
    rssPages: 1n,
    threads: Array.from({ length: threads }, () => ({ tid: nextTid++, name: 't', stat: ProcState.SSLEEP })),
  };
}

/** Scrapes `k` once with `body`, returning the parsed scrape and the processes collector's status. */
async function scrapeWithStatus(k: TestKernel, body: string, dump = false) {
  forgetPcpuCache();
  const file = writeKvmConfig(k, body, dump ? { execfile: k.kernelFile() } : {});
  const exporter = new Exporter({ config: loadConfig(file), enabled: new Set(['processes']), logger: silentLogger() });
  try {
    const scrape = parseFamilies(await exporter.scrape({}));
    const status = exporter.status().collectors.find((c) => c.name === 'processes');
    return { scrape, status };
  } finally {
    await exporter.close();
  }
}

describe('a crash dump', () => {
  it('counts processes and threads although every record has ki_structsize 0', async () => {
    const table = [proc(0, 'kernel', 3), proc(1, 'init'), proc(20, 'sh', 2)];
    kernel = makeKernel({ cpus: [0, 1], live: false, processes: table });
    const { scrape, status } = await scrapeWithStatus(kernel, ONLY_PROCESSES, true);
    expect(status?.lastError).toBeUndefined();
    expect(byLabel(scrape, 'kvm_processes', 'state').get('sleeping')).toBe(3);
    expect(byLabel(scrape, 'kvm_threads', 'state').get('sleeping')).toBe(6);
    expect(samplesOf(scrape, 'kvm_processes_hidden'), 'a dump hides nothing from its reader').toEqual([]);
  });

  it('leaves kvm_threads out with a problem when libkvm cut the thread list at 10 x nprocs', async () => {
    kernel = makeKernel({ cpus: [0, 1], live: false, processes: [proc(10, 'a', 15), proc(11, 'b', 15)] });
    const { scrape, status } = await scrapeWithStatus(kernel, ONLY_PROCESSES, true);
    expect(byLabel(scrape, 'kvm_processes', 'state').get('sleeping')).toBe(2);
    expect(samplesOf(scrape, 'kvm_threads')).toEqual([]);
    expect(status?.lastError).toMatch(/returned 20 thread records where the processes have 30 threads.*10 x nprocs/);
  });
});

describe('a live kernel with security.bsd.see_other_uids=0', () => {
  it('publishes kvm_processes_hidden as nprocs minus what kvm_getprocs returned', async () => {
    const table = [proc(1, 'init', 1, 0), proc(20, 'exporter', 2, 1001), proc(21, 'sshd', 1, 22), proc(22, 'sh', 1, 1001), proc(23, 'cron', 1, 0)];
    kernel = makeKernel({ cpus: [0, 1], processes: table });
    const image = kernel.open();
    try {
      const before = await scrapeWithStatus(kernel, ONLY_PROCESSES);
      expect(valueOf(before.scrape, 'kvm_processes_hidden')).toBe(0);
      image.setHideOtherUids(1001);
      const after = await scrapeWithStatus(kernel, ONLY_PROCESSES);
      expect(byLabel(after.scrape, 'kvm_processes', 'state').get('sleeping')).toBe(2);
      expect(valueOf(after.scrape, 'kvm_processes_hidden')).toBe(3);
    } finally {
      image.close();
    }
  });
});

describe('hidden processes in the log', () => {
  it('says once when kvm_processes_hidden becomes non-zero and says once when it is back to 0', async () => {
    const table = [proc(1, 'init', 1, 0), proc(20, 'exporter', 1, 1001), proc(21, 'sshd', 1, 22)];
    kernel = makeKernel({ cpus: [0, 1], processes: table });
    const image = kernel.open();
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'debug', format: 'json', stream: { write: (line: string) => lines.push(JSON.parse(line)) } });
    const run = await openExporter(kernel, ONLY_PROCESSES, { enabled: ['processes'], logger });
    const hiddenLines = () => lines.filter((l) => String(l.msg).includes('kvm_getprocs returns'));
    try {
      expect(valueOf(await run.scrape(), 'kvm_processes_hidden')).toBe(0);
      expect(hiddenLines()).toEqual([]);
      image.setHideOtherUids(1001);
      expect(valueOf(await run.scrape(), 'kvm_processes_hidden')).toBe(2);
      expect(valueOf(await run.scrape(), 'kvm_processes_hidden')).toBe(2);
      expect(hiddenLines().map((l) => [l.level, l.hidden, l.nprocs])).toEqual([['info', 2, 3]]);
      expect(hiddenLines()[0]!.msg).toMatch(/p_cansee hides the rest from this user \(security\.bsd\.see_other_uids=0/);
      image.setHideOtherUids(undefined);
      expect(valueOf(await run.scrape(), 'kvm_processes_hidden')).toBe(0);
      expect(valueOf(await run.scrape(), 'kvm_processes_hidden')).toBe(0);
      expect(hiddenLines().map((l) => [l.level, l.hidden ?? null, l.nprocs])).toEqual([['info', 2, 3], ['info', null, 3]]);
      expect(hiddenLines()[1]!.msg).toBe('kvm_getprocs returns every process again: kvm_processes_hidden is back to 0');
    } finally {
      await run.close();
      image.close();
    }
  });
});

describe('command names', () => {
  const BY_COMMAND = `${ONLY_PROCESSES}processes:\n  by_command: { enabled: true, max_series: 3 }\n`;

  it('keep a process named "other" apart from the remainder past the cap', async () => {
    const table = [
      ...Array.from({ length: 5 }, (_, i) => proc(100 + i, 'sh')),
      ...Array.from({ length: 4 }, (_, i) => proc(200 + i, 'other')),
      ...Array.from({ length: 3 }, (_, i) => proc(300 + i, 'cron')),
      ...Array.from({ length: 2 }, (_, i) => proc(400 + i, 'getty')),
    ];
    kernel = makeKernel({ cpus: [0, 1], processes: table });
    const { scrape } = await scrapeWithStatus(kernel, BY_COMMAND);
    const commands = byLabel(scrape, 'kvm_processes_by_command', 'command');
    expect(commands.get('sh')).toBe(5);
    expect(commands.get('other')).toBe(4);
    expect(commands.get('(others past max_series)')).toBe(5);
    expect([...commands.values()].reduce((a, b) => a + b, 0)).toBe(table.length);
  });

  it('are read as UTF-8, with invalid bytes and backslashes escaped visibly', async () => {
    const table = [
      proc(1, 'café'),
      proc(2, 'bad', 1, 0, Uint8Array.from([0x61, 0xff, 0x62, 0xc3])),
      proc(3, 'a\\b'),
      proc(4, 'naïve-日本'),
    ];
    kernel = makeKernel({ cpus: [0, 1], processes: table });
    const { scrape } = await scrapeWithStatus(kernel, `${ONLY_PROCESSES}processes:\n  by_command: { enabled: true }\n`);
    const commands = [...byLabel(scrape, 'kvm_processes_by_command', 'command').keys()].sort();
    expect(commands).toEqual(['a\\\\b', 'a\\xffb\\xc3', 'café', 'naïve-日本'].sort());
  });
});
