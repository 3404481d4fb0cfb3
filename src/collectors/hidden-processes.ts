/**
 * Says once, in the log (info), when the live kern.proc sysctl starts hiding
 * processes from the exporter (kvm_processes_hidden becomes non-zero) and
 * once when it stops: the metric says how many on every scrape, the log
 * says why the process counts just changed meaning. p_cansee decides what
 * the sysctl returns (sys/kern/kern_proc.c, sys/kern/kern_prot.c
 * cr_canseeotheruids: security.bsd.see_other_uids=0 hides other users').
 */
import type { Logger } from '../log.js';

export class HiddenProcessesLog {
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
