/**
 * KernelImage: opens an existing simulated kernel image, from any process,
 * and changes it in place while readers run: kernel memory writes at kernel
 * addresses, counter(9) values per CPU, the process table under the control
 * file's seqlock, CPUs going absent and present, and the control file's
 * faults (sim/README.md).
 *
 * It parses the header, symbol and segment tables itself, so it needs only
 * the image, not the builder or the manifest. Every write is a pwrite(2) to
 * the file, which readers' pread(2) and mmap see at once. Long because it is
 * the one writer API: each kind of change is a short method.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

import {
  ARGS_INDEX_ENTRY_SIZE,
  CONTROL_SIZE,
  Control,
  CPUSTATES,
  FLAG_LIVE,
  HEADER_SIZE,
  Header,
  IMAGE_MAGIC,
  IMAGE_VERSION,
  KINFO_PROC_SIZE,
  PCPU_SIZE,
  Pcpu,
  SEGMENT_ENTRY_SIZE,
  SYMBOL_ENTRY_SIZE,
  SegmentEntry,
  SymbolEntry,
  controlPath,
  hex,
  u64,
} from './format.js';
import { Swdevt } from './kernel-layout.js';
import { type KinfoProcess, decodeArgsArea, decodeProcesses, encodeArgsArea, encodeProcesses, recordCount } from './kinfo.js';

export interface ImageSymbolInfo {
  value: bigint;
  size: number;
  nType: number;
}

interface Segment {
  kva: bigint;
  size: bigint;
  fileOff: number;
}

/** The faults a test can arm through the control file. */
export interface ControlFaults {
  openErrno: number;
  readDelayUs: number;
  efault: readonly [bigint, bigint];
  shortRead: readonly [bigint, bigint];
  kinfoStructsize: number;
  getprocsErrno: number;
}

export class KernelImage {
  readonly live: boolean;
  readonly procCapacity: number;
  private readonly symbols = new Map<string, ImageSymbolInfo>();
  private readonly segments: Segment[] = [];
  private readonly procsOff: number;
  /** The argument area: where it is, and its heap's size after the index. */
  private readonly argsOff: number;
  private readonly argsHeapBytes: number;
  private readonly ctlFd: number | undefined;

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {
    const header = readAt(fd, 0, HEADER_SIZE, path);
    checkHeader(header, path);
    this.live = (header.readUInt32LE(Header.flags) & FLAG_LIVE) !== 0;
    this.procCapacity = header.readUInt32LE(Header.procCapacity);
    this.procsOff = Number(header.readBigUInt64LE(Header.procsOff));
    this.argsOff = Number(header.readBigUInt64LE(Header.argsOff));
    this.argsHeapBytes = Math.max(0, Number(header.readBigUInt64LE(Header.argsSize)) - this.procCapacity * ARGS_INDEX_ENTRY_SIZE);
    this.loadSymbols(header);
    this.loadSegments(header);
    this.ctlFd = existsSync(controlPath(path)) ? openSync(controlPath(path), 'r+') : undefined;
  }

  /** Opens an image for changing in place. */
  static open(path: string): KernelImage {
    return new KernelImage(path, openSync(path, 'r+'));
  }

  close(): void {
    closeSync(this.fd);
    if (this.ctlFd !== undefined) closeSync(this.ctlFd);
  }

  symbol(name: string): ImageSymbolInfo {
    const sym = this.symbols.get(name);
    if (sym === undefined) throw new RangeError(`${this.path}: no symbol ${name} in the image`);
    return sym;
  }

  hasSymbol(name: string): boolean {
    return this.symbols.has(name);
  }

  /** The file offset of [kva, kva + len), which must lie inside one segment. */
  fileOffset(kva: bigint, len: number): number {
    const s = this.segmentAt(kva);
    if (s === undefined || kva - s.kva + BigInt(len) > s.size) {
      throw new RangeError(`${this.path}: kernel address ${hex(kva)} (+${len} bytes) is not inside one segment`);
    }
    return s.fileOff + Number(kva - s.kva);
  }

  /** The segment starting at or below kva (segments are sorted and disjoint). */
  private segmentAt(kva: bigint): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.segments[mid] as Segment).kva <= kva) lo = mid + 1;
      else hi = mid;
    }
    return this.segments[lo - 1];
  }

  readBytes(kva: bigint, len: number): Buffer {
    return readAt(this.fd, this.fileOffset(kva, len), len, this.path);
  }

  writeBytes(kva: bigint, bytes: Buffer): void {
    writeAt(this.fd, this.fileOffset(kva, bytes.length), bytes);
  }

  readU32(kva: bigint): number {
    return this.readBytes(kva, 4).readUInt32LE();
  }

  readI32(kva: bigint): number {
    return this.readBytes(kva, 4).readInt32LE();
  }

  readU64(kva: bigint): bigint {
    return this.readBytes(kva, 8).readBigUInt64LE();
  }

  writeU8(kva: bigint, value: number): void {
    this.writeBytes(kva, Buffer.of(value & 0xff));
  }

  writeU16(kva: bigint, value: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value & 0xffff);
    this.writeBytes(kva, b);
  }

  writeU32(kva: bigint, value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    this.writeBytes(kva, b);
  }

  writeI32(kva: bigint, value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.writeBytes(kva, b);
  }

  writeU64(kva: bigint, value: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(u64(value));
    this.writeBytes(kva, b);
  }

  /** The value of the kernel's __pcpu: the base counter handles are offsets from. */
  pcpuBase(): bigint {
    return this.readU64(this.symbol('__pcpu').value);
  }

  /** Where CPU `cpu`'s copy of a counter lives: __pcpu + handle + 4096 * cpu. */
  counterAddress(handle: bigint, cpu: number): bigint {
    return u64(this.pcpuBase() + handle + BigInt(PCPU_SIZE * cpu));
  }

  readCounter(handle: bigint, cpu: number): bigint {
    return this.readU64(this.counterAddress(handle, cpu));
  }

  setCounter(handle: bigint, cpu: number, value: bigint): void {
    this.writeU64(this.counterAddress(handle, cpu), value);
  }

  addCounter(handle: bigint, cpu: number, delta: bigint): bigint {
    const value = u64(this.readCounter(handle, cpu) + delta);
    this.setCounter(handle, cpu, value);
    return value;
  }

  /** struct pcpu of CPU `cpu` (__pcpu + 4096 * cpu), whether present or not. */
  pcpuAddress(cpu: number): bigint {
    return this.pcpuBase() + BigInt(PCPU_SIZE * cpu);
  }

  readCpTime(cpu: number): bigint[] {
    const b = this.readBytes(this.pcpuAddress(cpu) + BigInt(Pcpu.cpTime), 8 * CPUSTATES);
    return Array.from({ length: CPUSTATES }, (_, i) => b.readBigUInt64LE(8 * i));
  }

  writeCpTime(cpu: number, ticks: readonly bigint[]): void {
    const b = Buffer.alloc(8 * CPUSTATES);
    ticks.forEach((t, i) => b.writeBigUInt64LE(u64(t), 8 * i));
    this.writeBytes(this.pcpuAddress(cpu) + BigInt(Pcpu.cpTime), b);
  }

  /** Is CPU `cpu` present (a non-NULL cpuid_to_pcpu entry)? */
  cpuPresent(cpu: number): boolean {
    return this.readU64(this.symbol('cpuid_to_pcpu').value + BigInt(8 * cpu)) !== 0n;
  }

  /**
   * Takes a CPU away (cpuid_to_pcpu NULL, dpcpu_off 0, mp_ncpus - 1, as
   * pcpu_destroy leaves it) or brings it back from its struct pcpu's
   * pc_dynamic. mp_maxid stays: it is fixed at boot.
   */
  setCpuPresent(cpu: number, present: boolean): void {
    const maxid = this.readU32(this.symbol('mp_maxid').value);
    if (cpu < 0 || cpu > maxid) throw new RangeError(`${this.path}: CPU ${cpu} is outside 0..mp_maxid (${maxid})`);
    if (this.cpuPresent(cpu) === present) return;
    const pc = this.pcpuAddress(cpu);
    const slot = BigInt(8 * cpu);
    this.writeU64(this.symbol('cpuid_to_pcpu').value + slot, present ? pc : 0n);
    this.writeU64(this.symbol('dpcpu_off').value + slot, present ? this.readU64(pc + BigInt(Pcpu.dynamic)) : 0n);
    const ncpus = this.symbol('mp_ncpus').value;
    this.writeI32(ncpus, this.readI32(ncpus) + (present ? 1 : -1));
  }

  /** struct swdevt of swap device `index` (swtailq order). */
  private swdevt(index: number): bigint {
    let sw = this.readU64(this.symbol('swtailq').value);
    for (let i = 0; i < index && sw !== 0n; i++) sw = this.readU64(sw + BigInt(Swdevt.listNext));
    if (sw === 0n) throw new RangeError(`${this.path}: there is no swap device ${index}`);
    return sw;
  }

  /** The swap devices of swtailq, in list order: devname, sw_nblks and sw_used (pages). */
  readSwap(): { name: string; blocks: number; used: number }[] {
    const devices: { name: string; blocks: number; used: number }[] = [];
    for (let sw = this.readU64(this.symbol('swtailq').value); sw !== 0n; sw = this.readU64(sw + BigInt(Swdevt.listNext))) {
      const name = this.readBytes(sw + BigInt(Swdevt.simDevname), Swdevt.slot - Swdevt.simDevname);
      const end = name.indexOf(0);
      devices.push({
        name: name.toString('latin1', 0, end === -1 ? name.length : end),
        blocks: this.readI32(sw + BigInt(Swdevt.nblks)),
        used: this.readI32(sw + BigInt(Swdevt.used)),
      });
    }
    return devices;
  }

  /** Sets sw_used (pages) of swap device `index`, as the swap pager does. */
  setSwapUsed(index: number, pages: number): void {
    this.writeI32(this.swdevt(index) + BigInt(Swdevt.used), pages);
  }

  /** The current process table, decoded from the process area. */
  readProcesses(): KinfoProcess[] {
    const n = this.readU32(this.symbol('nprocs_records').value);
    const procs = decodeProcesses(readAt(this.fd, this.procsOff, n * KINFO_PROC_SIZE, this.path), n);
    if (this.argsHeapBytes === 0) return procs;
    const area = readAt(this.fd, this.argsOff, this.procCapacity * ARGS_INDEX_ENTRY_SIZE + this.argsHeapBytes, this.path);
    return decodeArgsArea(procs, area, this.procCapacity);
  }

  /**
   * Replaces the process table: seq goes odd, the records, their
   * arguments, nprocs_records and nprocs change, seq goes even. Readers retry while seq is odd or
   * has moved, so they see the old table or the new one, never a mix.
   */
  replaceProcesses(procs: readonly KinfoProcess[]): void {
    const records = recordCount(procs);
    if (records > this.procCapacity) {
      throw new RangeError(`${this.path}: ${records} kinfo_proc records exceed the process area capacity ${this.procCapacity}`);
    }
    const encoded = encodeProcesses(procs);
    const args = this.argsHeapBytes === 0 ? undefined : encodeArgsArea(procs, this.procCapacity, this.argsHeapBytes);
    this.withSeqlock(() => {
      writeAt(this.fd, this.procsOff, encoded);
      if (args !== undefined) writeAt(this.fd, this.argsOff, args);
      this.writeU32(this.symbol('nprocs_records').value, records);
      if (this.hasSymbol('nprocs')) this.writeI32(this.symbol('nprocs').value, procs.length);
    });
  }

  /** Runs a change to the process area with the seqlock held (seq odd). */
  withSeqlock(change: () => void): void {
    const seq = this.controlU64(Control.seq);
    if (seq % 2n === 1n) throw new Error(`${controlPath(this.path)}: seq ${seq} is odd; another writer holds the seqlock`);
    this.setControlU64(Control.seq, seq + 1n);
    try {
      change();
    } finally {
      this.setControlU64(Control.seq, seq + 2n);
    }
  }

  sequence(): bigint {
    return this.controlU64(Control.seq);
  }

  readFaults(): ControlFaults {
    const c = readAt(this.requireControl(), 0, CONTROL_SIZE, controlPath(this.path));
    return {
      openErrno: c.readUInt32LE(Control.openErrno),
      readDelayUs: c.readUInt32LE(Control.readDelayUs),
      efault: [c.readBigUInt64LE(Control.efaultLo), c.readBigUInt64LE(Control.efaultHi)],
      shortRead: [c.readBigUInt64LE(Control.shortLo), c.readBigUInt64LE(Control.shortHi)],
      kinfoStructsize: c.readInt32LE(Control.kinfoStructsize),
      getprocsErrno: c.readUInt32LE(Control.getprocsErrno),
    };
  }

  /** Opening the image fails as open(2) with this errno (0 clears). */
  setOpenErrno(errno: number): void {
    this.setControlU32(Control.openErrno, errno);
  }

  /** Every kvm_read sleeps this long first (0 clears). */
  setReadDelayUs(us: number): void {
    this.setControlU32(Control.readDelayUs, us);
  }

  /** Reads touching [lo, hi) fail with EFAULT; lo === hi clears. */
  setEfault(lo: bigint, hi: bigint): void {
    this.setControlU64(Control.efaultLo, lo);
    this.setControlU64(Control.efaultHi, hi);
  }

  /** Reads touching [lo, hi) return only the bytes before lo; lo === hi clears. */
  setShortRead(lo: bigint, hi: bigint): void {
    this.setControlU64(Control.shortLo, lo);
    this.setControlU64(Control.shortHi, hi);
  }

  /** kvm_getprocs reports this ki_structsize (0 clears). */
  setKinfoStructsize(size: number): void {
    this.setControlI32(Control.kinfoStructsize, size);
  }

  /** kvm_getprocs fails with this errno (0 clears). */
  setGetprocsErrno(errno: number): void {
    this.setControlU32(Control.getprocsErrno, errno);
  }

  /**
   * security.bsd.see_other_uids=0 for a caller whose real uid is
   * `observerRuid`: the live kern.proc sysctl (and so kvm_getprocs) leaves
   * out other real uids' processes while nprocs still counts them
   * (sys/kern/kern_prot.c cr_canseeotheruids). `undefined` sees all again.
   */
  setHideOtherUids(observerRuid: number | undefined): void {
    this.setControlU32(Control.hideOtherUids, observerRuid === undefined ? 0 : 1);
    this.setControlU32(Control.observerRuid, observerRuid ?? 0);
  }

  clearFaults(): void {
    this.setOpenErrno(0);
    this.setReadDelayUs(0);
    this.setEfault(0n, 0n);
    this.setShortRead(0n, 0n);
    this.setKinfoStructsize(0);
    this.setGetprocsErrno(0);
    this.setHideOtherUids(undefined);
  }

  private requireControl(): number {
    if (this.ctlFd === undefined) throw new Error(`${controlPath(this.path)}: the image has no control file`);
    return this.ctlFd;
  }

  private controlU64(off: number): bigint {
    return readAt(this.requireControl(), off, 8, controlPath(this.path)).readBigUInt64LE();
  }

  private setControlU64(off: number, value: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(u64(value));
    writeAt(this.requireControl(), off, b);
  }

  private setControlU32(off: number, value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    writeAt(this.requireControl(), off, b);
  }

  private setControlI32(off: number, value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    writeAt(this.requireControl(), off, b);
  }

  private loadSymbols(header: Buffer): void {
    const n = header.readUInt32LE(Header.nsyms);
    const table = readAt(this.fd, Number(header.readBigUInt64LE(Header.symtabOff)), n * SYMBOL_ENTRY_SIZE, this.path);
    const strtabSize = Number(header.readBigUInt64LE(Header.strtabSize));
    const strtab = readAt(this.fd, Number(header.readBigUInt64LE(Header.strtabOff)), strtabSize, this.path);
    for (let i = 0; i < n; i++) {
      const e = i * SYMBOL_ENTRY_SIZE;
      const nameOff = table.readUInt32LE(e + SymbolEntry.nameOff);
      const end = strtab.indexOf(0, nameOff);
      this.symbols.set(strtab.toString('latin1', nameOff, end < 0 ? strtabSize : end), {
        value: table.readBigUInt64LE(e + SymbolEntry.value),
        size: Number(table.readBigUInt64LE(e + SymbolEntry.size)),
        nType: table.readUInt8(e + SymbolEntry.nType),
      });
    }
  }

  private loadSegments(header: Buffer): void {
    const n = header.readUInt32LE(Header.nsegs);
    const table = readAt(this.fd, Number(header.readBigUInt64LE(Header.segtabOff)), n * SEGMENT_ENTRY_SIZE, this.path);
    for (let i = 0; i < n; i++) {
      const e = i * SEGMENT_ENTRY_SIZE;
      this.segments.push({
        kva: table.readBigUInt64LE(e + SegmentEntry.kva),
        size: table.readBigUInt64LE(e + SegmentEntry.size),
        fileOff: Number(table.readBigUInt64LE(e + SegmentEntry.fileOff)),
      });
    }
    this.segments.sort((a, b) => (a.kva < b.kva ? -1 : a.kva > b.kva ? 1 : 0));
  }
}

function checkHeader(header: Buffer, path: string): void {
  if (header.toString('latin1', Header.magic, Header.magic + 8) !== IMAGE_MAGIC) {
    throw new Error(`${path}: not a simulated kernel image (bad magic)`);
  }
  const version = header.readUInt32LE(Header.version);
  if (version !== IMAGE_VERSION) throw new Error(`${path}: image version ${version}, this writer knows ${IMAGE_VERSION}`);
}

function readAt(fd: number, position: number, len: number, what: string): Buffer {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, position + done);
    if (n === 0) throw new Error(`${what}: ${len} bytes at offset ${position} run past the end of the file (${fstatSync(fd).size} bytes)`);
    done += n;
  }
  return buf;
}

function writeAt(fd: number, position: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

