/**
 * Process groups (`processes.groups`, kvm_processes_group{group}): processes
 * counted by ki_comm and kvm_getargv command line, each in its first
 * matching group, command lines read only when a group needs them, and no
 * series on a crash dump, which has no command lines. Expected counts come
 * from the process table the image holds, matched here with ordinary
 * regular expressions, never from the exporter.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { ProcState, type KinfoProcess } from '../../sim/image/kinfo.js';
import { loadConfig } from '../../src/config/load.js';
import { Exporter } from '../../src/exporter/exporter.js';
import { silentLogger } from '../../src/log.js';
import { writeKvmConfig } from '../cli/helpers.js';
import { forgetPcpuCache, parseFamilies, simControl } from '../exporter/harness.js';
import { byLabel, samplesOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

interface Group {
  readonly name: string;
  readonly comm?: string;
  readonly args?: string;
}

function groupsYaml(groups: readonly Group[]): string {
  const item = (g: Group): string =>
    `    - { name: ${JSON.stringify(g.name)}${g.comm === undefined ? '' : `, comm: ${JSON.stringify(g.comm)}`}${g.args === undefined ? '' : `, args: ${JSON.stringify(g.args)}`} }`;
  return `processes:\n  groups:\n${groups.map(item).join('\n')}\n`;
}

/** The command line as the README defines it, from the image's own argv: UTF-8 arguments joined by spaces. */
function commandLine(p: KinfoProcess): string | undefined {
  if (p.argv === undefined) return undefined;
  return p.argv.map((a) => (typeof a === 'string' ? a : [...a].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''))).join(' ');
}

/** The oracle: counts per group over what the image holds (embryonic processes are never returned). */
function expectedCounts(table: readonly KinfoProcess[], groups: readonly Group[]): { counts: Map<string, number>; argvReads: number } {
  const counts = new Map(groups.map((g) => [g.name, 0]));
  let argvReads = 0;
  for (const p of table) {
    if (p.threads[0]!.stat === ProcState.SIDL) continue;
    let read = false;
    const match = groups.find((g) => {
      if (g.comm !== undefined && !new RegExp(g.comm).test(p.comm)) return false;
      if (g.args === undefined) return true;
      if (!read) argvReads++;
      read = true;
      const line = commandLine(p);
      return line !== undefined && new RegExp(g.args).test(line);
    });
    if (match !== undefined) counts.set(match.name, counts.get(match.name)! + 1);
  }
  return { counts: new Map([...counts].map(([k, v]) => [k, v])), argvReads };
}

async function scrape(k: TestKernel, body: string, dump = false) {
  forgetPcpuCache();
  const file = writeKvmConfig(k, `collectors: { counters: false, variables: false, vnet: false, dpcpu: false, pcpu: false, cpus: false, loadavg: false, swap: false }\n${body}`, dump ? { execfile: k.kernelFile() } : {});
  const exporter = new Exporter({ config: loadConfig(file), enabled: new Set(['processes']), logger: silentLogger() });
  try {
    await exporter.opened();
    simControl().resetCallCounts();
    const parsed = parseFamilies(await exporter.scrape({}));
    const argvCalls = simControl().callCounts().kvm_getargv ?? 0;
    const status = exporter.status().collectors.find((c) => c.name === 'processes');
    return { parsed, status, argvCalls };
  } finally {
    await exporter.close();
  }
}

const GROUPS: readonly Group[] = [
  { name: 'nginx-workers', comm: '^nginx$', args: 'worker process' },
  { name: 'php-www', args: 'pool www$' },
  { name: 'php-other', comm: '^php-fpm$' },
  { name: 'node-server', comm: '^node$', args: 'server\\.js' },
  { name: 'jobs', comm: '^(worker|perl|java|ruby|postgres|python3\\.11)$', args: '/srv/jobs/' },
  { name: 'unmatched', comm: '^no-such-command$' },
];

describe('kvm_processes_group', () => {
  it("counts what the image holds, host and jails alike, each process in its first matching group", async () => {
    kernel = makeKernel({ processes: undefined });
    const table = kernel.open().readProcesses();
    const { counts } = expectedCounts(table, GROUPS);
    const { parsed, status } = await scrape(kernel, groupsYaml(GROUPS));
    expect(status?.lastSuccess).toBe(true);
    expect(byLabel(parsed, 'kvm_processes_group', 'group')).toEqual(counts);
    // php-fpm's www pool is taken by the args-only group before php-other sees it.
    expect(counts.get('php-www')).toBeGreaterThan(0);
    expect(counts.get('php-other')).toBeGreaterThan(0);
    expect(counts.get('unmatched')).toBe(0);
  });

  it('reads a command line only for a process whose comm matched a group with args, or for an args-only group', async () => {
    kernel = makeKernel({});
    const table = kernel.open().readProcesses();
    const commFirst: Group[] = [{ name: 'nginx-workers', comm: '^nginx$', args: 'worker' }, { name: 'php', comm: '^php-fpm$' }];
    const few = await scrape(kernel, groupsYaml(commFirst));
    expect(few.argvCalls).toBe(expectedCounts(table, commFirst).argvReads);
    expect(few.argvCalls).toBe(table.filter((p) => p.comm === 'nginx').length);
    const argsOnly: Group[] = [{ name: 'www', args: 'pool www' }];
    const all = await scrape(kernel, groupsYaml(argsOnly));
    expect(all.argvCalls).toBe(table.filter((p) => p.threads[0]!.stat !== ProcState.SIDL).length);
    const commOnly = await scrape(kernel, groupsYaml([{ name: 'php', comm: 'php' }]));
    expect(commOnly.argvCalls).toBe(0);
  });

  it('matches command lines with bytes that are not UTF-8 as \\xNN, and not processes p_cansee hides', async () => {
    const tid = { n: 500_000 };
    const proc = (pid: number, ruid: number, comm: string, argv?: (string | Uint8Array)[]): KinfoProcess => ({
      pid, ppid: 1, uid: ruid, ruid, jid: pid % 2, comm, sizeBytes: 4096n, rssPages: 1n,
      threads: [{ tid: tid.n++, name: comm, stat: ProcState.SSLEEP }],
      ...(argv && { argv }),
    });
    const table = [
      proc(10, 0, 'app', ['app', new Uint8Array([0x63, 0x61, 0x66, 0xe9]), 'café']),
      proc(11, 1001, 'app', ['app', 'café']),
      proc(12, 0, 'app'),
    ];
    kernel = makeKernel({ processes: table });
    const image = kernel.open();
    const groups: Group[] = [{ name: 'latin1', args: 'caf\\\\xe9' }, { name: 'utf8', args: 'café' }, { name: 'rest', comm: 'app' }];
    const all = await scrape(kernel, groupsYaml(groups));
    expect(byLabel(all.parsed, 'kvm_processes_group', 'group')).toEqual(new Map([['latin1', 1], ['utf8', 1], ['rest', 1]]));
    image.setHideOtherUids(1001);
    const seen = await scrape(kernel, groupsYaml(groups));
    expect(byLabel(seen.parsed, 'kvm_processes_group', 'group')).toEqual(new Map([['latin1', 0], ['utf8', 1], ['rest', 0]]));
    image.setHideOtherUids(undefined);
    image.close();
  });

  it('is left out with a collector problem on a crash dump when a group has args, and published when none has', async () => {
    kernel = makeKernel({ live: false });
    const table = kernel.open().readProcesses();
    const withArgs = await scrape(kernel, groupsYaml(GROUPS), true);
    expect(samplesOf(withArgs.parsed, 'kvm_processes_group')).toEqual([]);
    expect(withArgs.status?.lastSuccess).toBe(false);
    expect(withArgs.status?.lastError).toMatch(/kvm_processes_group is left out: a crash dump has no command lines/);
    expect(samplesOf(withArgs.parsed, 'kvm_processes').length).toBeGreaterThan(0);
    expect(withArgs.argvCalls).toBe(0);
    const commOnly: Group[] = [{ name: 'php', comm: '^php-fpm$' }];
    const published = await scrape(kernel, groupsYaml(commOnly), true);
    expect(published.status?.lastSuccess).toBe(true);
    expect(byLabel(published.parsed, 'kvm_processes_group', 'group')).toEqual(expectedCounts(table, commOnly).counts);
  });
});
