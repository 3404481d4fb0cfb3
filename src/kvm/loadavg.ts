/**
 * Load averages through `kvm_getloadavg(3)` (lib/libkvm/kvm_getloadavg.c):
 * getloadavg(3) on a live kernel, `averunnable` scaled by `fscale` in a dump.
 */
import type { KvmSession } from './session.js';

export type LoadAverages = readonly [number, number, number];

/** @see kvm_getloadavg(3) */
export function getLoadavg(session: KvmSession): LoadAverages {
  const loads = new Float64Array(3);
  const n = session.invoke((kd) => session.lib.kvm_getloadavg(kd, loads, 3));
  if (n !== 3) throw session.callError('kvm_getloadavg', 'kd, loadavg, 3', n < 0 ? undefined : `returned ${n} of 3 averages`);
  return [loads[0]!, loads[1]!, loads[2]!];
}
