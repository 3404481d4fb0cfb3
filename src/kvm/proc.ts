/**
 * Process and thread lists through `kvm_getprocs(3)`, as
 * `lib/libkvm/kvm_proc.c` serves them: on a live kernel the kernel's
 * kern.proc sysctl, on a crash dump a walk of allproc.
 *
 * The array belongs to the handle and is freed by the next kvm_getprocs or
 * kvm_close, so the result is a view that knows when it went stale.
 */
import { KvmLayoutError } from '../errors.js';
import { copyMemory, readPointerAt, viewMemory } from './binding.js';
import { KINFO_PROC_SIZE, KinfoProcList } from './kinfo-proc.js';
import type { KvmSession } from './session.js';

/** kvm_getprocs leaves *cnt alone when it fails before its walk. */
const CNT_UNTOUCHED = -1;

/**
 * @param op a KERN_PROC op, optionally with KERN_PROC_INC_THREAD
 * @param arg the op's argument (a pid for KERN_PROC_PID, a uid for KERN_PROC_UID)
 * @see kvm_getprocs(3)
 */
export function getProcs(session: KvmSession, op: number, arg = 0): KinfoProcList {
  const live = session.isLive();
  const cnt = new Int32Array([CNT_UNTOUCHED]);
  const isCurrent = session.beginViewEpoch();
  const ptr = session.invoke((kd) => session.lib.kvm_getprocs(kd, op, arg, cnt));
  if (ptr === null) {
    // A crash dump answers "nothing matched" with NULL and *cnt 0 and writes
    // no error (lib/libkvm/kvm_proc.c: nprocs <= 0 frees the buffer).
    if (!live && cnt[0] === 0 && session.lastError() === '') return new KinfoProcList(new ArrayBuffer(0), 0, isCurrent);
    throw session.callError('kvm_getprocs', `kd, ${op}, ${arg}`);
  }
  const count = cnt[0]!;
  if (count <= 0) return new KinfoProcList(new ArrayBuffer(0), 0, isCurrent);
  const buffer = viewMemory(ptr, count * KINFO_PROC_SIZE);
  checkStructsize(new DataView(buffer), live);
  return new KinfoProcList(buffer, count, isCurrent);
}

/**
 * nchr 0: the whole command line, up to ARG_MAX (lib/libkvm/kvm_proc.c,
 * kvm_argv), as `ps -ww` reads it.
 */
const WHOLE_COMMAND_LINE = 0;

/**
 * The command line of process `i` of `procs` as kvm_getargv(3) returns it:
 * one byte array per argument, or undefined when there is none to read (a
 * kernel process, a zombie, a process that exited or that p_cansee hides:
 * libkvm returns NULL without an error text for all of them, as ps(1) then
 * shows the command name in brackets).
 *
 * libkvm answers from the kern.proc.args sysctl, so only a live kernel has
 * command lines: on a crash dump it fails with "cannot read user space from
 * dead kernel", thrown here as a KvmCallError. The vector and its strings
 * are libkvm's static storage, overwritten by the next call, so they are
 * copied before returning.
 * @see kvm_getprocs(3) kvm_getargv
 */
export function getArgv(session: KvmSession, procs: KinfoProcList, i: number): Uint8Array[] | undefined {
  const record = procs.record(i);
  const vector = session.invoke((kd) => session.lib.kvm_getargv(kd, record, WHOLE_COMMAND_LINE));
  if (vector === null) {
    if (session.lastError() === '') return undefined;
    throw session.callError('kvm_getargv', `kd, pid ${procs.pid(i)}, ${WHOLE_COMMAND_LINE}`);
  }
  const args: Uint8Array[] = [];
  for (let n = 0, arg = readPointerAt(vector, 0); arg !== null; arg = readPointerAt(vector, ++n)) {
    args.push(copyMemory(arg, Number(session.lib.strlen(arg))));
  }
  return args;
}

/**
 * The live sysctl fills ki_structsize in; a crash dump's kvm_proclist sets
 * it once and then memsets every record, so each comes back 0
 * (lib/libkvm/kvm_proc.c). Both return records of this build's size.
 */
function checkStructsize(records: DataView, live: boolean): void {
  const structsize = records.getInt32(0, true);
  if (structsize === KINFO_PROC_SIZE || (!live && structsize === 0)) return;
  throw new KvmLayoutError(
    `kvm_getprocs returned ki_structsize ${structsize}, expected ${KINFO_PROC_SIZE}${live ? '' : ' or 0 (a crash dump)'} ` +
      '(struct kinfo_proc of FreeBSD 13+ LP64)',
  );
}
