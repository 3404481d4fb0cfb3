/**
 * A safe session on one libkvm handle: open and close, symbol lookup with a
 * cache, exact reads of kernel memory, and typed readers. Per-CPU access
 * (pcpu.ts) and process lists (proc.ts) build on it, as libkvm itself splits
 * kvm.c from kvm_pcpu.c and kvm_proc.c.
 *
 * Every libkvm sentinel ends here: callers get a value or a typed error that
 * carries the call, its arguments and the kvm_geterr(3) text, never a -1,
 * NULL or an ambiguous 0.
 */
import {
  KvmCallError,
  KvmClosedError,
  KvmLayoutError,
  KvmOpenError,
  KvmReadError,
  KvmSymbolError,
} from '../errors.js';
import { cString } from '../abi.js';
import { KVM_ERRBUF_SIZE, loadLibKvm, viewMemory, type KvmHandle, type LibKvm, type NlistOne } from './binding.js';
import { foreignExecfile } from './kernel-version.js';

/** O_RDONLY: the only mode this exporter ever opens kernel memory with. */
const O_RDONLY = 0;
/** a.out n_type of a text symbol (sys/sys/nlist_aout.h): what kldsym lookups report. */
const N_TEXT = 0x04;
/** What getbootfile(3) answers by default: the kernel libkvm reads a dump's symbols from when execfile is NULL. */
const BOOT_KERNEL = '/boot/kernel/kernel';

export interface OpenOptions {
  /** Path or soname of libkvm; `libkvm.so.7` on FreeBSD. */
  readonly library?: string;
  /** The kernel image; null means the running kernel (libkvm asks getbootfile(3)). */
  readonly execfile?: string | null;
  /** `/dev/mem` (the default) for the running kernel, or a crash dump. */
  readonly corefile?: string | null;
}

export interface KernelSymbol {
  readonly name: string;
  readonly address: bigint;
  /** n_type as kvm_nlist reports it (N_TEXT for live kernels, N_DATA|N_EXT ... for dumps). */
  readonly type: number;
}

export const DEFAULT_LIBRARY = 'libkvm.so.7';

/**
 * Refuses every architecture but amd64. The per-CPU reads follow amd64's
 * libkvm: counter handles are offsets from __pcpu with a 4096-byte
 * struct pcpu per CPU (lib/libkvm/kvm_pcpu.c, sys/amd64/include/pcpu.h).
 * On arm64 there is no __pcpu offset and struct pcpu is 512 bytes against a
 * PAGE_SIZE stride, so the same reads would fail or read the wrong memory.
 */
export function requireSupportedArchitecture(arch: string): void {
  if (arch === 'x64') return;
  throw new KvmLayoutError(
    `kvm_exporter reads amd64 (x64) kernels only and this is ${arch}, whose libkvm per-CPU arithmetic ` +
      '(lib/libkvm/kvm_pcpu.c) it does not support yet',
  );
}
export const DEFAULT_COREFILE = '/dev/mem';

export class KvmSession {
  private handle: KvmHandle | null;
  private readonly symbols = new Map<string, KernelSymbol | null>();
  /** For each name the cache holds as missing, what kvm_nlist said when it was looked up. */
  private readonly missing = new Map<string, string>();
  /** Scratch for the typed readers: never escapes a method. */
  private readonly scratch = Buffer.alloc(8);

  /** The first byte of the handle's error buffer (kvm_geterr's pointer), valid while the handle is open. */
  private readonly errbuf: Uint8Array;

  private constructor(
    readonly lib: LibKvm,
    handle: KvmHandle,
    readonly execfile: string | null,
    readonly corefile: string | null,
  ) {
    this.handle = handle;
    const errbuf = lib.kvm_geterr_buffer(handle);
    if (errbuf === null) throw new KvmOpenError(execfile, corefile, 'kvm_geterr returned NULL');
    this.errbuf = new Uint8Array(viewMemory(errbuf, 1));
  }

  /** Opens kernel memory read-only. @see kvm_openfiles(3) */
  static open(options: OpenOptions = {}): KvmSession {
    const lib = loadLibKvm(options.library ?? DEFAULT_LIBRARY);
    return KvmSession.openWith(lib, options);
  }

  /** Opens another handle on an already loaded library. */
  static openWith(lib: LibKvm, options: OpenOptions = {}): KvmSession {
    requireSupportedArchitecture(process.arch);
    const execfile = options.execfile ?? null;
    const corefile = options.corefile === undefined ? DEFAULT_COREFILE : options.corefile;
    const errbuf = Buffer.alloc(KVM_ERRBUF_SIZE);
    const kd = lib.kvm_openfiles(execfile, corefile, null, O_RDONLY, errbuf);
    if (kd === null) throw new KvmOpenError(execfile, corefile, cString(errbuf));
    const session = new KvmSession(lib, kd, execfile, corefile);
    session.refuseForeignExecfile();
    return session;
  }

  /**
   * A crash dump read with a kernel file that did not write it gives wrong
   * values without an error (kernel-version.ts): closes the handle and
   * throws KvmOpenError, naming both versions, when the two differ. A
   * handle without kernel symbols (`/dev/null` alone) has nothing to check.
   */
  private refuseForeignExecfile(): void {
    if (this.tryLookup('nprocs') === undefined || this.isLive()) return;
    let problem: string | undefined;
    try {
      problem = foreignExecfile(this.execfile ?? BOOT_KERNEL, (size) => {
        const bytes = Buffer.alloc(size);
        this.read(this.lookup('version').address, bytes);
        return bytes;
      });
    } catch (error) {
      problem = `cannot read the dump's version: ${(error as Error).message}`;
    }
    if (problem === undefined) return;
    this.close();
    throw new KvmOpenError(this.execfile, this.corefile, problem);
  }

  get isOpen(): boolean {
    return this.handle !== null;
  }

  /** Closes the handle; calling it again does nothing. @see kvm_close(3) */
  close(): void {
    if (this.handle === null) return;
    const kd = this.handle;
    this.handle = null;
    this.symbols.clear();
    this.missing.clear();
    this.lib.kvm_close(kd);
  }

  private viewEpoch = 0;

  /**
   * Starts a new epoch for views into memory libkvm owns (kvm_getprocs'
   * array, freed by the next call or by kvm_close) and returns a check that
   * is true while a view taken now is still safe to read.
   */
  beginViewEpoch(): () => boolean {
    const epoch = ++this.viewEpoch;
    return () => this.handle !== null && this.viewEpoch === epoch;
  }

  /** The open handle, or KvmClosedError. */
  kd(): KvmHandle {
    if (this.handle === null) throw new KvmClosedError();
    return this.handle;
  }

  /** The handle's error buffer as it is now. @see kvm_geterr(3) */
  private errorText(): string {
    return this.handle === null ? '' : (this.lib.kvm_geterr(this.handle) ?? '');
  }

  /**
   * Runs one libkvm call on the handle with its error buffer emptied first.
   * libkvm never clears that buffer, and a successful call can leave text
   * in it (a failed VNET or DPCPU set-up inside a kvm_nlist that found its
   * name, lib/libkvm/kvm.c _kvm_nlist; a crash dump's kvm_getloadavg), so
   * without this a failure would be reported with an earlier call's words.
   * The buffer is the handle's own memory in this process, never the
   * kernel's.
   */
  invoke<T>(call: (kd: KvmHandle) => T): T {
    const kd = this.kd();
    this.errbuf[0] = 0;
    return call(kd);
  }

  /** What the last `invoke`d call wrote to kvm_geterr(3), '' if nothing. */
  lastError(): string {
    return this.handle === null || this.errbuf[0] === 0 ? '' : this.errorText();
  }

  /** A KvmCallError for `fn(args)` carrying the kvm_geterr text the call wrote. */
  callError(fn: string, args: string, detail?: string): KvmCallError {
    return new KvmCallError(fn, args, this.lastError(), detail);
  }

  /** 1 if the kernel is the same architecture as this process. @see kvm_native(3) */
  isNative(): boolean {
    return this.lib.kvm_native(this.kd()) === 1;
  }

  private live: boolean | undefined;

  /**
   * Is this the running kernel (libkvm's ISALIVE) rather than a crash dump?
   * libkvm does not say, but its kvm_nlist does: on a live kernel it asks
   * kldsym(2), which reports every symbol as N_TEXT, while a dump's ELF
   * symbol table gives a data variable N_DATA or N_BSS (lib/libkvm/kvm.c
   * _kvm_nlist, lib/libc/gen/nlist.c). `nprocs` is a data variable of every
   * kernel (sys/kern/kern_fork.c).
   */
  isLive(): boolean {
    this.live ??= this.lookup('nprocs').type === N_TEXT;
    return this.live;
  }

  /**
   * Resolves a kernel symbol, accepting "name" and the a.out-style "_name".
   * libkvm itself tries the DPCPU and VNET prefixes (pcpu_entry_, vnet_entry_)
   * when the plain name is missing. Results are cached per handle; a DPCPU
   * name resolved that way is the copy of the CPU selected with
   * kvm_dpcpu_setcpu (CPU 0), so DPCPU reads look up the `pcpu_entry_`
   * template instead (pcpu.ts). @see kvm_nlist(3)
   */
  lookup(name: string): KernelSymbol {
    const symbol = this.tryLookup(name);
    // The reason of the lookup that found it missing: a cached miss makes no call, so lastError is another call's.
    if (symbol === undefined) throw new KvmSymbolError(name, this.missing.get(name) ?? '');
    return symbol;
  }

  tryLookup(name: string): KernelSymbol | undefined {
    const cached = this.symbols.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const symbol = this.lookupUncached(name);
    this.symbols.set(name, symbol ?? null);
    if (symbol === undefined) this.missing.set(name, this.lastError());
    return symbol;
  }

  /**
   * kvm_nlist2 without the cache. Names are the kernel's ELF names; libkvm
   * strips one leading underscore (a.out heritage), so we pass "_" + name
   * (`___pcpu` finds `__pcpu`). A name already in a.out form ("_vm_cnt") is
   * tried as given when the ELF reading finds nothing.
   */
  lookupUncached(name: string): KernelSymbol | undefined {
    const found = this.nlistOne(`_${name}`);
    if (found !== undefined || !name.startsWith('_')) return found && { ...found, name };
    const aout = this.nlistOne(name);
    return aout && { ...aout, name: name.slice(1) };
  }

  private nlistOne(nlistName: string): Omit<KernelSymbol, 'name'> | undefined {
    const query: NlistOne = {
      entry: { n_name: nlistName, n_type: 0, n_value: 0 },
      terminator: { n_name: null, n_type: 0, n_value: 0 },
    };
    const missing = this.invoke((kd) => this.lib.kvm_nlist2(kd, query));
    if (missing === -1) throw this.callError('kvm_nlist2', JSON.stringify(nlistName));
    if (missing !== 0 || query.entry.n_type === 0) return undefined;
    return { address: BigInt(query.entry.n_value), type: query.entry.n_type };
  }

  /**
   * Reads exactly `length` bytes at `address` into `buf`, or throws
   * KvmReadError (a short read is an error, never a partial value).
   * @see kvm_read(3)
   */
  read(address: bigint, buf: Buffer, length = buf.length): void {
    const got = this.invoke((kd) => this.lib.kvm_read2(kd, address, buf, length));
    if (got !== length) throw new KvmReadError('kvm_read2', address, length, got, this.lastError());
  }

  readU8(address: bigint): number { return this.readScratch(address, 1).readUInt8(0); }
  readI8(address: bigint): number { return this.readScratch(address, 1).readInt8(0); }
  readU16(address: bigint): number { return this.readScratch(address, 2).readUInt16LE(0); }
  readI16(address: bigint): number { return this.readScratch(address, 2).readInt16LE(0); }
  readU32(address: bigint): number { return this.readScratch(address, 4).readUInt32LE(0); }
  readI32(address: bigint): number { return this.readScratch(address, 4).readInt32LE(0); }
  readU64(address: bigint): bigint { return this.readScratch(address, 8).readBigUInt64LE(0); }
  readI64(address: bigint): bigint { return this.readScratch(address, 8).readBigInt64LE(0); }
  /** A kernel pointer (8 bytes on LP64). */
  readPointer(address: bigint): bigint { return this.readU64(address); }

  private readScratch(address: bigint, length: number): Buffer {
    this.read(address, this.scratch, length);
    return this.scratch;
  }
}
