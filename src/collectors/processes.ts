/**
 * Process and thread counts by state from kvm_getprocs(3), with opt-in
 * breakdowns of processes by jail, user and command name, each capped so a
 * fork bomb or a build farm cannot blow up the series count, and the
 * configured process groups (command name and command line patterns, as
 * process-exporter groups processes).
 *
 * Two lists are read per scrape: one record per process (KERN_PROC_PROC),
 * then one per thread (KERN_PROC_PROC | KERN_PROC_INC_THREAD). Both are read
 * in place over libkvm's buffer and counted before the next call frees it.
 *
 * What libkvm does not say is made visible: on a live kernel the kern.proc
 * sysctl hides what p_cansee refuses (kvm_processes_hidden), and on a crash
 * dump the thread list is cut at 10 x nprocs records (a collector problem,
 * never a short count).
 */
import { compileGroupPattern } from '../config/process-groups.js';
import type { BreakdownConfig, ProcessGroup, ProcessesConfig } from '../config/types.js';
import { DeadlineError, KvmLayoutError } from '../errors.js';
import { PROCESSES_METRICS } from '../exposition/builtin-metrics.js';
import { addSingle, addSeries, type FamilyHead, type MetricSink, type Series } from '../exposition/family.js';
import type { VnetsConfig } from '../config/types.js';
import {
  HOST_JAIL, KERN_PROC, PROC_STATES, decodeCommand, getArgv, getProcs, readJailNames, type KinfoProcList, type KvmSession,
} from '../kvm/index.js';
import type { Collector, CollectorFactory, ScrapeContext } from './framework/collector.js';
import type { Logger } from '../log.js';

const STATE_LABELS = [...PROC_STATES, 'unknown'] as const;
/**
 * The series that takes everything past a breakdown's cap. No kernel value
 * can produce it: jids and uids are numbers, and a command name is at most
 * COMMLEN (19) bytes whose escapes (kinfo-proc.ts) always contain a
 * backslash, so a 24-character label without one cannot be a command.
 */
export const OVERFLOW_LABEL = '(others past max_series)';

export const processesCollector: CollectorFactory = {
  name: 'processes',
  defaultEnabled: true,
  description: 'process and thread counts by state, optionally by jail, user and command (kvm_getprocs)',
  create({ session, config, logger }) {
    return new ProcessesCollector(session, config.processes, config.vnets, new HiddenProcessesLog(logger));
  },
};

/** A process group with its patterns compiled. */
interface CompiledGroup {
  readonly name: string;
  readonly comm: RegExp | undefined;
  readonly args: RegExp | undefined;
}

/** How many command lines are read between two deadline checks. */
const ARGV_BETWEEN_DEADLINE_CHECKS = 256;

class ProcessesCollector implements Collector {
  readonly entries = [];
  readonly leftOut = [];
  private readonly groups: readonly CompiledGroup[];

  constructor(
    private readonly session: KvmSession,
    private readonly config: ProcessesConfig,
    private readonly vnets: VnetsConfig,
    private readonly hiddenLog: HiddenProcessesLog,
  ) {
    this.groups = config.groups.map(compileGroup);
  }

  update(sink: MetricSink, scrape: ScrapeContext): void {
    const live = this.session.isLive();
    const procs = getProcs(this.session, KERN_PROC.PROC);
    addSeries(sink, PROCESSES_METRICS.processes, stateSeries(procs));
    if (live) addSingle(sink, PROCESSES_METRICS.hidden, this.hiddenProcesses(procs.count));
    this.emitBreakdowns(sink, procs);
    const problems = [this.emitGroups(sink, procs, live, scrape)];
    const expectedThreads = live ? undefined : threadTotal(procs);
    scrape.checkDeadline();
    const threads = getProcs(this.session, KERN_PROC.PROC | KERN_PROC.INC_THREAD);
    if (expectedThreads !== undefined && threads.count < expectedThreads) {
      problems.push(
        `kvm_getprocs returned ${threads.count} thread records where the processes have ${expectedThreads} threads: ` +
          "libkvm cuts a crash dump's thread list at 10 x nprocs records (lib/libkvm/kvm_proc.c), so kvm_threads is left out",
      );
    } else {
      addSeries(sink, PROCESSES_METRICS.threads, stateSeries(threads));
    }
    const found = problems.filter((p): p is string => p !== undefined);
    if (found.length > 0) throw new KvmLayoutError(found.join('; '));
  }

  /**
   * kvm_processes_group: each process counts in the first group whose
   * patterns match, every group has a series (0 when nothing matched). The
   * command line is read (kvm_getargv) at most once per process, and only
   * when a group with an `args` pattern is reached whose `comm` pattern, if
   * any, matched. Returns why the family was left out, if it was: a crash
   * dump has no command lines (libkvm reads them through a sysctl of the
   * running kernel), so counts that depend on them would be wrong.
   */
  private emitGroups(sink: MetricSink, procs: KinfoProcList, live: boolean, scrape: ScrapeContext): string | undefined {
    if (this.groups.length === 0) return undefined;
    if (!live && this.groups.some((g) => g.args !== undefined)) {
      return 'kvm_processes_group is left out: a crash dump has no command lines (kvm_getargv reads the running kernel only) and a group has an args pattern';
    }
    const counts = new Map(this.groups.map((g) => [g.name, 0]));
    let argvReads = 0;
    const commandLine = (i: number): string | undefined => {
      if (++argvReads % ARGV_BETWEEN_DEADLINE_CHECKS === 0) scrape.checkDeadline();
      return getArgv(this.session, procs, i)?.map(decodeCommand).join(' ');
    };
    try {
      for (let i = 0; i < procs.count; i++) {
        const group = firstMatch(this.groups, procs.comm(i), () => commandLine(i));
        if (group !== undefined) counts.set(group, counts.get(group)! + 1);
      }
    } catch (error) {
      if (error instanceof DeadlineError) throw error;
      return `kvm_processes_group is left out: ${(error as Error).message}`;
    }
    addSeries(sink, PROCESSES_METRICS.group, [...counts].map(([name, value]) => ({ labels: [name], value })));
    return undefined;
  }

  /**
   * Jail names from allprison (src/kvm/vnet.ts) with the prison layout; the host is "host".
   * Without the layout, or when the list cannot be walked, a jail's name is empty (no `jail` label).
   */
  private jailNames(): ReadonlyMap<number, string> {
    const layouts = this.vnets.layouts;
    if (layouts === undefined) return new Map([[0, HOST_JAIL]]);
    try {
      return readJailNames(this.session, layouts, this.vnets.max);
    } catch {
      return new Map([[0, HOST_JAIL]]);
    }
  }

  private hiddenProcesses(returned: number): number {
    const nprocs = this.kernelNprocs();
    this.hiddenLog.observe(nprocs - returned, nprocs);
    return hiddenCount(nprocs - returned);
  }

  /** The kernel's count of every process, visible to this caller or not (sys/kern/kern_fork.c). */
  private kernelNprocs(): number {
    return this.session.readI32(this.session.lookup('nprocs').address);
  }

  private emitBreakdowns(sink: MetricSink, procs: KinfoProcList): void {
    const { byJail, byUser, byCommand } = this.config;
    if (byJail.enabled) {
      const names = this.jailNames();
      // The bucket carries the overflow label in both: a real jail's jid is a number, so no jail's series can be it.
      const labels = (jid: string): readonly string[] => (jid === OVERFLOW_LABEL ? [OVERFLOW_LABEL, OVERFLOW_LABEL] : [jid, names.get(Number(jid)) ?? '']);
      addBreakdown(sink, PROCESSES_METRICS.byJail, byJail, procs, (i) => String(procs.jid(i)), labels);
    }
    if (byUser.enabled) {
      addBreakdown(sink, PROCESSES_METRICS.byUser, byUser, procs, (i) => String(procs.uid(i)));
    }
    if (byCommand.enabled) {
      addBreakdown(sink, PROCESSES_METRICS.byCommand, byCommand, procs, (i) => procs.comm(i));
    }
  }
}

function compileGroup(group: ProcessGroup): CompiledGroup {
  const pattern = (text: string | undefined): RegExp | undefined => (text === undefined ? undefined : compileGroupPattern(text));
  return { name: group.name, comm: pattern(group.comm), args: pattern(group.args) };
}

/**
 * The name of the first group matching a process, or undefined. The
 * command line is asked for only when a group needs it, and once: a process
 * without one (a kernel process, a zombie, one that exited) matches no
 * `args` pattern.
 */
function firstMatch(groups: readonly CompiledGroup[], comm: string, readCommandLine: () => string | undefined): string | undefined {
  let commandLine: string | undefined | null = null;
  for (const group of groups) {
    if (group.comm !== undefined && !group.comm.test(comm)) continue;
    if (group.args !== undefined) {
      if (commandLine === null) commandLine = readCommandLine();
      if (commandLine === undefined || !group.args.test(commandLine)) continue;
    }
    return group.name;
  }
  return undefined;
}

/** ki_numthreads summed over a process list. */
function threadTotal(procs: KinfoProcList): number {
  let total = 0;
  for (let i = 0; i < procs.count; i++) total += procs.numthreads(i);
  return total;
}

/**
 * Processes the kernel has but kvm_getprocs did not return: the live
 * kern.proc sysctl leaves out what p_cansee refuses, e.g. other users'
 * processes under security.bsd.see_other_uids=0 (sys/kern/kern_proc.c,
 * sys/kern/kern_prot.c cr_canseeotheruids).
 */
function hiddenCount(hidden: number): number {
  return Math.max(0, hidden);
}

function stateSeries(list: KinfoProcList): Series[] {
  const counts = new Array<number>(STATE_LABELS.length).fill(0);
  for (let i = 0; i < list.count; i++) {
    const stat = list.stat(i);
    counts[stat >= 1 && stat <= PROC_STATES.length ? stat - 1 : PROC_STATES.length]! += 1;
  }
  // "unknown" (a ki_stat outside SIDL..SLOCK) appears only when it happens.
  return STATE_LABELS.map((state, i) => ({ labels: [state], value: counts[i]! })).filter((s) => s.labels[0] !== 'unknown' || s.value > 0);
}

/**
 * Counts processes per key; past `maxSeries` keys, the largest
 * `maxSeries - 1` keep their series and the rest are summed under "other".
 */
function addBreakdown(
  sink: MetricSink,
  head: FamilyHead,
  cap: BreakdownConfig,
  list: KinfoProcList,
  keyOf: (i: number) => string,
  labelsOf: (key: string) => readonly string[] = (key) => [key],
): void {
  const counts = new Map<string, number>();
  for (let i = 0; i < list.count; i++) {
    const key = keyOf(i);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let entries = [...counts.entries()];
  if (entries.length > cap.maxSeries) {
    entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const kept = entries.slice(0, cap.maxSeries - 1);
    const rest = entries.slice(cap.maxSeries - 1).reduce((sum, [, n]) => sum + n, 0);
    entries = [...kept, [OVERFLOW_LABEL, rest]];
  }
  const series: Series[] = entries.map(([key, value]) => ({ labels: labelsOf(key), value }));
  addSeries(sink, { ...head, help: `${head.help}; at most ${cap.maxSeries} series, the rest summed as "${OVERFLOW_LABEL}"` }, series);
}

/**
 * Says once, in the log (info), when the live kern.proc sysctl starts
 * hiding processes from the exporter (kvm_processes_hidden becomes non-zero)
 * and once when it stops: the metric says how many on every scrape, the log
 * says why the process counts just changed meaning.
 */
class HiddenProcessesLog {
  private hiding = false;

  constructor(private readonly logger?: Logger) {}

  /** Records nprocs minus the processes returned (negative when some were forked in between); logs only when hiding starts or stops. */
  observe(hidden: number, nprocs: number): void {
    if (hidden > 0 === this.hiding) return;
    this.hiding = hidden > 0;
    if (this.hiding) {
      // Info, not a warning: a process being forked is counted by nprocs and never returned either, so 1 can be momentary.
      this.logger?.info(
        'kvm_getprocs returns fewer processes than the kernel has: p_cansee hides the rest from this user ' +
          '(security.bsd.see_other_uids=0 or a jail?) or they are still being forked, so process counts cover only what it sees; ' +
          'kvm_processes_hidden says how many are missing',
        { hidden, nprocs },
      );
    } else {
      this.logger?.info('kvm_getprocs returns every process again: kvm_processes_hidden is back to 0', { nprocs });
    }
  }
}
