/**
 * Swap devices through `kvm_getswapinfo(3)` (lib/libkvm/kvm_getswapinfo.c):
 * the vm.swap_info sysctls on a live kernel, a walk of swtailq in a dump.
 *
 * libkvm fills at most `swap_max - 1` devices and puts the total after
 * them, returning that entry's index, so a full array may have dropped
 * devices: the call is repeated with a larger array until the total lands
 * before its end.
 */
import { KvmLayoutError } from '../errors.js';
import type { KvmSession } from './session.js';

/** sizeof(struct kvm_swap) (lib/libkvm/kvm.h): char[32], u_int used, u_int total, int flags, two reserved ints. */
const KVM_SWAP_SIZE = 52;
const KSW_DEVNAME_SIZE = 32;
const KSW_USED = 32;
const KSW_TOTAL = 36;
/** Swap devices the first call makes room for: a host has a few. */
const FIRST_CAPACITY = 16;
/** More than any kernel configures (swapon(2) is limited by memory, not a constant). */
const MAX_CAPACITY = 4096;

export interface SwapSpace {
  /** Pages in use (ksw_used). */
  readonly usedPages: number;
  /** Usable pages (ksw_total: the device's blocks less libkvm's dmmax). */
  readonly totalPages: number;
}

export interface SwapDeviceSpace extends SwapSpace {
  /** devname(3) of the device, e.g. "ada0p3", or "[NFS swap]". */
  readonly device: string;
}

export interface SwapInfo {
  readonly devices: readonly SwapDeviceSpace[];
  /** libkvm's summary entry: the sums over every device. */
  readonly total: SwapSpace;
}

/** @see kvm_getswapinfo(3) */
export function getSwapInfo(session: KvmSession): SwapInfo {
  for (let capacity = FIRST_CAPACITY; capacity <= MAX_CAPACITY; capacity *= 4) {
    const entries = Buffer.alloc(capacity * KVM_SWAP_SIZE);
    const n = session.invoke((kd) => session.lib.kvm_getswapinfo(kd, entries, capacity, 0));
    if (n < 0) throw session.callError('kvm_getswapinfo', `kd, swap_ary, ${capacity}, 0`);
    if (n < capacity - 1) {
      return { devices: Array.from({ length: n }, (_, i) => deviceAt(entries, i)), total: spaceAt(entries, n) };
    }
  }
  throw new KvmLayoutError(`kvm_getswapinfo reports more than ${MAX_CAPACITY - 1} swap devices`);
}

function spaceAt(entries: Buffer, i: number): SwapSpace {
  const at = i * KVM_SWAP_SIZE;
  return { usedPages: entries.readUInt32LE(at + KSW_USED), totalPages: entries.readUInt32LE(at + KSW_TOTAL) };
}

function deviceAt(entries: Buffer, i: number): SwapDeviceSpace {
  const at = i * KVM_SWAP_SIZE;
  const name = entries.subarray(at, at + KSW_DEVNAME_SIZE);
  const end = name.indexOf(0);
  return { device: name.toString('utf8', 0, end === -1 ? KSW_DEVNAME_SIZE : end), ...spaceAt(entries, i) };
}
