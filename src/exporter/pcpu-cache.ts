/**
 * Whether libkvm's process-wide per-CPU cache describes the kernel a handle
 * was just opened on; checked once per open, before any collector is built.
 *
 * lib/libkvm/kvm_pcpu.c keeps MAXCPU, mp_ncpus, __pcpu and a copy of
 * cpuid_to_pcpu[] in static storage, filled by the first handle that needs
 * them and never refreshed for the next one. A kernel opened after another
 * of a different shape in the same process is then read through the other
 * kernel's view: CPUs past its MAXCPU go missing from every per-CPU series,
 * kvm_getncpus and kvm_counter_u64_fetch use its CPU count, kvm_getpcpu its
 * table. Nothing in the kernel itself says so, so a difference between the
 * cache and the kernel's own mp_maxcpus, mp_ncpus and cpuid_to_pcpu[] at
 * open refuses the handle instead of publishing another kernel's shape.
 */
import { KvmLayoutError } from '../errors.js';
import { getMaxCpu, getNcpus, getPcpu, readTopology, type KvmSession } from '../kvm/index.js';

const STALE = "libkvm's process-wide per-CPU cache (lib/libkvm/kvm_pcpu.c) was filled from another kernel opened earlier in this process";
const REMEDY = 'a new process reads this kernel (restart the exporter)';

/** Throws KvmLayoutError when the cache disagrees with the kernel behind `session`. */
export function checkPcpuCache(session: KvmSession): void {
  const cachedMax = getMaxCpu(session);
  const cachedNcpus = getNcpus(session);
  const kernelMax = kernelInt(session, 'mp_maxcpus');
  const kernelNcpus = kernelInt(session, 'mp_ncpus');
  if (cachedMax !== kernelMax || cachedNcpus !== kernelNcpus) {
    throw new KvmLayoutError(
      `${STALE}: kvm_getmaxcpu says ${cachedMax} and kvm_getncpus ${cachedNcpus}, but this kernel's ` +
        `mp_maxcpus is ${kernelMax} and mp_ncpus ${kernelNcpus}; ${REMEDY}`,
    );
  }
  const unknown = readTopology(session).present.filter((cpu) => getPcpu(session, cpu) === undefined);
  if (unknown.length > 0) {
    throw new KvmLayoutError(
      `${STALE}: kvm_getpcpu returns NULL for CPU ${unknown.join(', ')}, which this kernel's cpuid_to_pcpu lists; ${REMEDY}`,
    );
  }
}

function kernelInt(session: KvmSession, symbol: string): number {
  return session.readI32(session.lookup(symbol).address);
}
