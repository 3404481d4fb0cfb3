/**
 * The simulated kernel's file formats, version 1: the image file and its
 * control file, as specified in sim/README.md, plus the FreeBSD 13+
 * amd64 layouts the writer lays out in kernel memory (struct pcpu,
 * struct vnet, struct loadavg). Shared by the writer and the tests; the C
 * reader in sim/libkvm has its own copy of the same numbers.
 *
 * The FreeBSD sizes and offsets here (PCPU_SIZE, KINFO_PROC_SIZE, Pcpu, ...)
 * repeat the product's src/abi.ts and src/kvm on purpose: written again from
 * FreeBSD's headers, never imported from the product, they are an independent
 * oracle, so a wrong number in the product fails a test instead of agreeing
 * with itself.
 */

export const IMAGE_MAGIC = 'KVMSIM01';
export const IMAGE_VERSION = 1;
export const HEADER_SIZE = 4096;
export const PAGE_SIZE = 4096;

/** Header flag bit 0: the image behaves as the running kernel (/dev/mem). */
export const FLAG_LIVE = 0x1;

/** Byte offsets of the header fields. */
export const Header = {
  magic: 0,
  version: 8,
  headerSize: 12,
  flags: 16,
  nsyms: 20,
  symtabOff: 24,
  strtabOff: 32,
  strtabSize: 40,
  nsegs: 48,
  kinfoSize: 52,
  segtabOff: 56,
  procsOff: 64,
  procCapacity: 72,
  reserved: 76,
  /** The argument area (each process's p_args, for kvm_getargv): offset and size, 0 when there is none. */
  argsOff: 80,
  argsSize: 88,
} as const;

/** The argument area starts with one (u32 heap offset, u32 length) entry per kinfo_proc record. */
export const ARGS_INDEX_ENTRY_SIZE = 8;

export const SYMBOL_ENTRY_SIZE = 24;
/** Byte offsets inside one symbol table entry. */
export const SymbolEntry = { value: 0, size: 8, nameOff: 16, nType: 20 } as const;

export const SEGMENT_ENTRY_SIZE = 32;
/** Byte offsets inside one segment table entry. */
export const SegmentEntry = { kva: 0, size: 8, fileOff: 16, zero: 24 } as const;

/** a.out n_type values (sys/sys/nlist_aout.h) stored for crash dumps. */
export const NType = {
  UNDF: 0x00,
  ABS: 0x02,
  TEXT: 0x04,
  DATA: 0x06,
  BSS: 0x08,
  EXT: 0x01,
} as const;

export const CONTROL_MAGIC = 'KVMSCTL1';
export const CONTROL_SIZE = 4096;
/** Byte offsets of the control file's fields. */
export const Control = {
  magic: 0,
  seq: 8,
  openErrno: 16,
  readDelayUs: 20,
  efaultLo: 24,
  efaultHi: 32,
  shortLo: 40,
  shortHi: 48,
  kinfoStructsize: 56,
  getprocsErrno: 60,
  /** Non-zero: the live kern.proc sysctl applies p_cansee with security.bsd.see_other_uids=0. */
  hideOtherUids: 64,
  /** The caller's real uid for that check (0, root, sees everything). */
  observerRuid: 68,
} as const;

/** KINFO_PROC_SIZE on amd64 (sys/amd64/include/proc.h). */
export const KINFO_PROC_SIZE = 1088;

/** sizeof(struct pcpu) on amd64 == UMA_PCPU_ALLOC_SIZE == PAGE_SIZE. */
export const PCPU_SIZE = 4096;
/** struct pcpu field offsets on amd64, FreeBSD 13+ (sys/sys/pcpu.h). */
export const Pcpu = {
  curthread: 0,
  idlethread: 8,
  switchtime: 48,
  cpuid: 60,
  cpTime: 80,
  dynamic: 160,
  /** EARLY_COUNTER: counter(9) updates before the pcpu zones exist land here (machine/counter.h). */
  earlyDummyCounter: 168,
  prvspace: 384,
} as const;

/** CPUSTATES and the pc_cp_time[] indices (sys/sys/resource.h). */
export const CPUSTATES = 5;
export const CpuState = { USER: 0, NICE: 1, SYS: 2, INTR: 3, IDLE: 4 } as const;

/** struct vnet (sys/net/vnet.h) on amd64. */
export const VNET_MAGIC_N = 0x5e4a6f28;
export const Vnet = { magicN: 16, dataBase: 40, size: 64 } as const;

/** struct loadavg (sys/sys/resource.h): fixpt_t ldavg[3]; long fscale. */
export const FSCALE = 2048;
export const Loadavg = { ldavg: 0, fscale: 16, size: 24 } as const;

/** A counter(9) "pcpu-8" slab covers this many bytes of handle offsets. */
export const COUNTER_SLAB_BYTES = 4096;
export const COUNTER_SIZE = 8;

export function controlPath(imagePath: string): string {
  return `${imagePath}.ctl`;
}

export function manifestPath(imagePath: string): string {
  return `${imagePath}.json`;
}

/** Rounds n up to a multiple of PAGE_SIZE. */
export function pageAlign(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

/** Unsigned 64-bit wrap-around, for kernel address arithmetic. */
export function u64(n: bigint): bigint {
  return BigInt.asUintN(64, n);
}

export function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}
