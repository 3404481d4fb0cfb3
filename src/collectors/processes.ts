/**
 * Process and thread counts by state from kvm_getprocs(3), with opt-in
 * breakdowns of processes by jail, user and command name, each capped so a
 * fork bomb or a build farm cannot blow up the series count.
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
import type { BreakdownConfig, ProcessesConfig } from '../config/types.js';
import { KvmLayoutError } from '../errors.js';
import { PROCESSES_METRICS } from '../exposition/builtin-metrics.js';
import type { FamilyHead, MetricFamily, MetricSink, Series } from '../exposition/family.js';
import type { VnetsConfig } from '../config/types.js';
import { HOST_JAIL, KERN_PROC, PROC_STATES, getProcs, readJailNames, type KinfoProcList, type KvmSession } from '../kvm/index.js';
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

class ProcessesCollector implements Collector {
  readonly entries = [];
  readonly leftOut = [];

  constructor(
    private readonly session: KvmSession,
    private readonly config: ProcessesConfig,
    private readonly vnets: VnetsConfig,
    private readonly hiddenLog: HiddenProcessesLog,
  ) {}

  update(sink: MetricSink, scrape: ScrapeContext): void {
    const live = this.session.isLive();
    const procs = getProcs(this.session, KERN_PROC.PROC);
    sink.add(stateFamily(PROCESSES_METRICS.processes, procs));
    if (live) sink.add(this.hiddenProcesses(procs.count));
    this.emitBreakdowns(sink, procs);
    const expectedThreads = live ? undefined : threadTotal(procs);
    scrape.checkDeadline();
    const threads = getProcs(this.session, KERN_PROC.PROC | KERN_PROC.INC_THREAD);
    if (expectedThreads !== undefined && threads.count < expectedThreads) {
      throw new KvmLayoutError(
        `kvm_getprocs returned ${threads.count} thread records where the processes have ${expectedThreads} threads: ` +
          "libkvm cuts a crash dump's thread list at 10 x nprocs records (lib/libkvm/kvm_proc.c), so kvm_threads is left out",
      );
    }
    sink.add(stateFamily(PROCESSES_METRICS.threads, threads));
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

  private hiddenProcesses(returned: number): MetricFamily {
    const nprocs = this.kernelNprocs();
    this.hiddenLog.observe(nprocs - returned, nprocs);
    return hiddenFamily(nprocs - returned);
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
      sink.add(breakdownFamily(PROCESSES_METRICS.byJail, byJail, procs, (i) => String(procs.jid(i)), labels));
    }
    if (byUser.enabled) {
      sink.add(breakdownFamily(PROCESSES_METRICS.byUser, byUser, procs, (i) => String(procs.uid(i))));
    }
    if (byCommand.enabled) {
      sink.add(breakdownFamily(PROCESSES_METRICS.byCommand, byCommand, procs, (i) => procs.comm(i)));
    }
  }
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
function hiddenFamily(hidden: number): MetricFamily {
  return { ...PROCESSES_METRICS.hidden, series: [{ labels: [], value: Math.max(0, hidden) }] };
}

function stateFamily(head: FamilyHead, list: KinfoProcList): MetricFamily {
  const counts = new Array<number>(STATE_LABELS.length).fill(0);
  for (let i = 0; i < list.count; i++) {
    const stat = list.stat(i);
    counts[stat >= 1 && stat <= PROC_STATES.length ? stat - 1 : PROC_STATES.length]! += 1;
  }
  // "unknown" (a ki_stat outside SIDL..SLOCK) appears only when it happens.
  const series: Series[] = STATE_LABELS.map((state, i) => ({ labels: [state], value: counts[i]! })).filter(
    (s) => s.labels[0] !== 'unknown' || s.value > 0,
  );
  return { ...head, series };
}

/**
 * Counts processes per key; past `maxSeries` keys, the largest
 * `maxSeries - 1` keep their series and the rest are summed under "other".
 */
function breakdownFamily(
  head: FamilyHead,
  cap: BreakdownConfig,
  list: KinfoProcList,
  keyOf: (i: number) => string,
  labelsOf: (key: string) => readonly string[] = (key) => [key],
): MetricFamily {
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
  return { ...head, help: `${head.help}; at most ${cap.maxSeries} series, the rest summed as "${OVERFLOW_LABEL}"`, series };
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
