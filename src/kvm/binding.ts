/**
 * The koffi declarations of libkvm: one typed function per libkvm call the
 * product uses, with the C prototype exactly as `lib/libkvm/kvm.h` declares
 * it (FreeBSD 13+, LP64). This file and the session beside it are the only
 * code that touches koffi.
 *
 * `kvm_write` is deliberately absent: kernel memory is only ever opened
 * read-only, and a binding that cannot write cannot be talked into writing.
 *
 * @see kvm(3), kvm_open(3), kvm_read(3), kvm_nlist(3), kvm_getpcpu(3),
 *      kvm_getprocs(3), kvm_getloadavg(3), kvm_getswapinfo(3), kvm_native(3)
 */
import koffi, { type LibraryHandle } from 'koffi';
import { KvmLibraryError } from '../errors.js';

/** A `kvm_t *`: koffi 3 represents pointers as BigInt, NULL as null. */
export type KvmHandle = bigint;
/** A pointer returned by libkvm (NULL is null). */
export type Pointer = bigint | null;

// Types are named once per process in koffi; these are immutable definitions.
koffi.alias('ssize_t', 'intptr_t');
koffi.alias('kvaddr_t', 'uint64_t');
koffi.alias('u_long', 'unsigned long');
koffi.opaque('kvm_t');

/** `struct kvm_nlist` (lib/libkvm/kvm.h): 24 bytes on LP64. */
export const KVM_NLIST = koffi.struct('kvm_nlist', {
  n_name: 'const char *',
  n_type: 'uint8_t',
  n_value: 'kvaddr_t',
});

/** One name and its NULL terminator: kvm_nlist2 reads until n_name is NULL. */
export const KVM_NLIST_ONE = koffi.struct('kvm_nlist_one', {
  entry: 'kvm_nlist',
  terminator: 'kvm_nlist',
});

export interface NlistEntry {
  n_name: string | null;
  n_type: number;
  n_value: number | bigint;
}

export interface NlistOne {
  entry: NlistEntry;
  terminator: NlistEntry;
}

/** `_POSIX2_LINE_MAX`: the size libkvm's error buffer must have. */
export const KVM_ERRBUF_SIZE = 2048;

/** The libkvm functions, typed as the exporter calls them. */
export interface LibKvm {
  readonly path: string;
  /** @see kvm_open(3) */
  kvm_openfiles(execfile: string | null, corefile: string | null, swapfile: string | null, flags: number, errbuf: Buffer): Pointer;
  /** @see kvm_open(3) */
  kvm_close(kd: KvmHandle): number;
  /** @see kvm_geterr(3) */
  kvm_geterr(kd: KvmHandle): string | null;
  /** kvm_geterr(3) as the pointer it is: the handle's own error buffer, fixed for its life. */
  kvm_geterr_buffer(kd: KvmHandle): Pointer;
  /** @see kvm_nlist(3): returns the number of names not found, or -1. */
  kvm_nlist2(kd: KvmHandle, nl: NlistOne): number;
  /** @see kvm_read(3) */
  kvm_read2(kd: KvmHandle, addr: bigint, buf: Buffer, nbytes: number): number;
  /** @see kvm_getpcpu(3); NULL clears libkvm's cached MAXCPU and CPU table. */
  kvm_getmaxcpu(kd: KvmHandle | null): number;
  /** @see kvm_getpcpu(3) */
  kvm_getncpus(kd: KvmHandle): number;
  /** @see kvm_getpcpu(3): NULL for an absent CPU, (void *)-1 on error. */
  kvm_getpcpu(kd: KvmHandle, cpu: number): Pointer;
  /** @see kvm_getpcpu(3) */
  kvm_read_zpcpu(kd: KvmHandle, base: bigint, buf: Buffer, size: number, cpu: number): number;
  /** @see kvm_getpcpu(3): 0 on error, indistinguishable from a real 0. */
  kvm_counter_u64_fetch(kd: KvmHandle, base: bigint): number | bigint;
  /** @see kvm_getprocs(3): the array belongs to the handle. */
  kvm_getprocs(kd: KvmHandle, op: number, arg: number, cnt: Int32Array): Pointer;
  /** @see kvm_getloadavg(3) */
  kvm_getloadavg(kd: KvmHandle, loadavg: Float64Array, nelem: number): number;
  /** @see kvm_getswapinfo(3): fills `swap_max` struct kvm_swap, returns the index of the total entry or -1. */
  kvm_getswapinfo(kd: KvmHandle, swapAry: Buffer, swapMax: number, flags: number): number;
  /** @see kvm_native(3) */
  kvm_native(kd: KvmHandle): number;
  /** libc free(3), for the buffer kvm_getpcpu(3) allocates. */
  free(ptr: bigint): void;
}

const PROTOTYPES = {
  kvm_openfiles: 'kvm_t *kvm_openfiles(const char *execfile, const char *corefile, const char *swapfile, int flags, char *errbuf)',
  kvm_close: 'int kvm_close(kvm_t *kd)',
  kvm_geterr: 'const char *kvm_geterr(kvm_t *kd)',
  // The same C function as kvm_geterr, declared to return the pointer.
  kvm_geterr_buffer: { symbol: 'kvm_geterr', result: 'void *', params: ['kvm_t *'] },
  kvm_nlist2: 'int kvm_nlist2(kvm_t *kd, _Inout_ kvm_nlist_one *nl)',
  kvm_read2: 'ssize_t kvm_read2(kvm_t *kd, kvaddr_t addr, void *buf, size_t nbytes)',
  kvm_getmaxcpu: 'int kvm_getmaxcpu(kvm_t *kd)',
  kvm_getncpus: 'int kvm_getncpus(kvm_t *kd)',
  kvm_getpcpu: 'void *kvm_getpcpu(kvm_t *kd, int cpu)',
  kvm_read_zpcpu: 'ssize_t kvm_read_zpcpu(kvm_t *kd, u_long base, void *buf, size_t size, int cpu)',
  kvm_counter_u64_fetch: 'uint64_t kvm_counter_u64_fetch(kvm_t *kd, u_long base)',
  kvm_getprocs: 'void *kvm_getprocs(kvm_t *kd, int op, int arg, int *cnt)',
  kvm_getloadavg: 'int kvm_getloadavg(kvm_t *kd, double *loadavg, int nelem)',
  kvm_getswapinfo: 'int kvm_getswapinfo(kvm_t *kd, _Out_ void *swap_ary, int swap_max, int flags)',
  kvm_native: 'int kvm_native(kvm_t *kd)',
} as const;

/**
 * Loads libkvm from a path or soname (`libkvm.so.7` on FreeBSD, found in
 * /lib by the dynamic linker) and declares every function. `free` comes from
 * the C library already in the process, the one libkvm's malloc uses.
 */
export function loadLibKvm(path: string): LibKvm {
  let lib: LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new KvmLibraryError(path, (err as Error).message, { cause: err });
  }
  const fns: Record<string, unknown> = { path };
  for (const [name, declaration] of Object.entries(PROTOTYPES)) {
    try {
      fns[name] =
        typeof declaration === 'string' ? lib.func(declaration) : lib.func(declaration.symbol, declaration.result, [...declaration.params]);
    } catch (err) {
      throw new KvmLibraryError(path, `${name}: ${(err as Error).message}`, { cause: err });
    }
  }
  fns.free = koffi.load(null).func('void free(void *ptr)');
  return fns as unknown as LibKvm;
}

/** `(void *)-1`, kvm_getpcpu's error sentinel, as koffi returns it. */
export const POINTER_MINUS_ONE = (1n << 64n) - 1n;

/**
 * A zero-copy view of C memory, valid only until libkvm reuses or frees it.
 * @see koffi.view
 */
export function viewMemory(ptr: bigint, length: number): ArrayBuffer {
  return koffi.view(ptr, length);
}

/** Copies `length` bytes of C memory into a new Buffer. */
export function copyMemory(ptr: bigint, length: number): Buffer {
  return Buffer.from(koffi.view(ptr, length).slice(0));
}
