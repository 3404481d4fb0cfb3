/**
 * Process and thread lists through `kvm_getprocs(3)`, as
 * `lib/libkvm/kvm_proc.c` serves them: on a live kernel the kernel's
 * kern.proc sysctl, on a crash dump a walk of allproc.
 *
 * The array belongs to the handle and is freed by the next kvm_getprocs or
 * kvm_close, so the result is a view that knows when it went stale.
 */
import { KvmLayoutError } from '../errors.js';
import { viewMemory } from './binding.js';
import { KINFO_PROC_SIZE, KinfoProcList } from './kinfo-proc.js';
import type { KvmSession } from './session.js';

/**
 * @param op a KERN_PROC op, optionally with KERN_PROC_INC_THREAD
 * @param arg the op's argument (a pid for KERN_PROC_PID, a uid for KERN_PROC_UID)
 * @see kvm_getprocs(3)
 */
export function getProcs(session: KvmSession, op: number, arg = 0): KinfoProcList {
  const cnt = new Int32Array(1);
  const isCurrent = session.beginViewEpoch();
  const ptr = session.lib.kvm_getprocs(session.kd(), op, arg, cnt);
  if (ptr === null) throw session.callError('kvm_getprocs', `kd, ${op}, ${arg}`);
  const count = cnt[0]!;
  if (count === 0) return new KinfoProcList(new ArrayBuffer(0), 0, isCurrent);
  const buffer = viewMemory(ptr, count * KINFO_PROC_SIZE);
  const structsize = new DataView(buffer).getInt32(0, true);
  if (structsize !== KINFO_PROC_SIZE) {
    throw new KvmLayoutError(
      `kvm_getprocs returned ki_structsize ${structsize}, expected ${KINFO_PROC_SIZE} (struct kinfo_proc of FreeBSD 13+ LP64)`,
    );
  }
  return new KinfoProcList(buffer, count, isCurrent);
}
