/**
 * Building a simulated kernel image (format in sim/README.md): kernel
 * memory as named segments, a symbol table, a process area, and the control
 * file beside it. Also the counter(9) handle allocator, which lays handles
 * out in "pcpu-8" slabs the way UMA's pcpu zone does on amd64: a slab is one
 * page per CPU id, a handle is an offset from __pcpu, and CPU i's copy of
 * handle h lives at __pcpu + h + 4096*i.
 *
 * The builder is kernel-agnostic; freebsd-kernel.ts decides what goes where.
 * Past 300 lines because the file writer and the slab allocator share its
 * segment bookkeeping.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';

import {
  ARGS_INDEX_ENTRY_SIZE,
  COUNTER_SIZE,
  COUNTER_SLAB_BYTES,
  CONTROL_MAGIC,
  CONTROL_SIZE,
  FLAG_LIVE,
  HEADER_SIZE,
  Header,
  IMAGE_MAGIC,
  IMAGE_VERSION,
  KINFO_PROC_SIZE,
  PAGE_SIZE,
  SEGMENT_ENTRY_SIZE,
  SYMBOL_ENTRY_SIZE,
  SegmentEntry,
  SymbolEntry,
  controlPath,
  hex,
  pageAlign,
  u64,
} from './format.js';

export interface ImageSymbol {
  name: string;
  value: bigint;
  size: number;
  nType: number;
}

export interface ImageSegment {
  /** What the segment holds, for error messages ("kernel .data", "pcpu-8 slab 3"). */
  name: string;
  kva: bigint;
  data: Buffer;
}

export interface ImageBuilderOptions {
  /** Running-kernel semantics (the header's LIVE flag) or a crash dump. */
  live: boolean;
  /** How many kinfo_proc records the process area holds. */
  procCapacity: number;
  /** Bytes of the argument heap (kvm_getargv's p_args), after the index of one entry per record; none without. */
  argsHeapBytes?: number;
}

export class ImageBuilder {
  private readonly symbols = new Map<string, ImageSymbol>();
  /** In creation order, which is the order of the segment table and the file. */
  private readonly segments: ImageSegment[] = [];
  /** The same segments sorted by kva, for lookups. */
  private readonly byKva: ImageSegment[] = [];
  private readonly procArea: Buffer;
  private readonly argsArea: Buffer;

  constructor(private readonly options: ImageBuilderOptions) {
    this.procArea = Buffer.alloc(options.procCapacity * KINFO_PROC_SIZE);
    const heap = options.argsHeapBytes;
    this.argsArea = heap === undefined ? Buffer.alloc(0) : Buffer.alloc(options.procCapacity * ARGS_INDEX_ENTRY_SIZE + heap);
  }

  /** Maps [kva, kva + size) as zeroed kernel memory; size is page-aligned. */
  addSegment(name: string, kva: bigint, size: number): ImageSegment {
    const data = Buffer.alloc(pageAlign(size));
    const segment = { name, kva, data };
    const at = this.insertionPoint(kva);
    for (const s of [this.byKva[at - 1], this.byKva[at]]) {
      if (s !== undefined && kva < s.kva + BigInt(s.data.length) && s.kva < kva + BigInt(data.length)) {
        throw new RangeError(`segment "${name}" at ${hex(kva)} overlaps "${s.name}" at ${hex(s.kva)}`);
      }
    }
    this.segments.push(segment);
    this.byKva.splice(at, 0, segment);
    return segment;
  }

  /** Index of the first segment starting above kva in byKva. */
  private insertionPoint(kva: bigint): number {
    let lo = 0;
    let hi = this.byKva.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.byKva[mid] as ImageSegment).kva <= kva) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  addSymbol(name: string, value: bigint, size: number, nType: number): ImageSymbol {
    if (this.symbols.has(name)) throw new RangeError(`symbol ${name} is defined twice`);
    const sym = { name, value, size, nType };
    this.symbols.set(name, sym);
    return sym;
  }

  symbol(name: string): ImageSymbol {
    const sym = this.symbols.get(name);
    if (sym === undefined) throw new RangeError(`symbol ${name} is not defined in the image being built`);
    return sym;
  }

  allSymbols(): ImageSymbol[] {
    return [...this.symbols.values()];
  }

  /** The bytes [kva, kva + len), which must lie inside one segment. */
  view(kva: bigint, len: number): Buffer {
    const s = this.byKva[this.insertionPoint(kva) - 1];
    const off = s === undefined ? -1n : kva - s.kva;
    if (s === undefined || off + BigInt(len) > BigInt(s.data.length)) {
      throw new RangeError(`kernel address ${hex(kva)} (+${len} bytes) is not inside one segment of the image`);
    }
    return s.data.subarray(Number(off), Number(off) + len);
  }

  writeU32(kva: bigint, value: number): void {
    this.view(kva, 4).writeUInt32LE(value >>> 0);
  }

  writeI32(kva: bigint, value: number): void {
    this.view(kva, 4).writeInt32LE(value);
  }

  writeU64(kva: bigint, value: bigint): void {
    this.view(kva, 8).writeBigUInt64LE(u64(value));
  }

  writeBytes(kva: bigint, bytes: Buffer): void {
    bytes.copy(this.view(kva, bytes.length));
  }

  readU64(kva: bigint): bigint {
    return this.view(kva, 8).readBigUInt64LE();
  }

  /** Puts records at the start of the process area. */
  setProcessRecords(records: Buffer): void {
    if (records.length > this.procArea.length) {
      throw new RangeError(
        `${records.length / KINFO_PROC_SIZE} kinfo_proc records do not fit the process area of ${this.options.procCapacity}`,
      );
    }
    this.procArea.fill(0);
    records.copy(this.procArea);
  }

  /** Puts the argument area (encodeArgsArea) in place. */
  setProcessArgs(area: Buffer): void {
    if (area.length !== this.argsArea.length) throw new RangeError(`an argument area of ${area.length} bytes, the image's is ${this.argsArea.length}`);
    area.copy(this.argsArea);
  }

  /** Writes the image and a fresh control file; each replaces any old file atomically. */
  write(path: string): void {
    writeAtomically(path, (fd) => this.writeImage(fd));
    writeAtomically(controlPath(path), (fd) => writeSync(fd, freshControl()));
  }

  private writeImage(fd: number): void {
    const strtab = buildStringTable(this.allSymbols());
    const symtabOff = HEADER_SIZE;
    const strtabOff = symtabOff + this.symbols.size * SYMBOL_ENTRY_SIZE;
    const segtabOff = strtabOff + strtab.bytes.length;
    const dataOff = pageAlign(segtabOff + this.segments.length * SEGMENT_ENTRY_SIZE);
    const segOffsets = this.segmentFileOffsets(dataOff);
    const procsOff = segOffsets.end;
    const argsOff = procsOff + this.procArea.length;
    const header = this.header({ symtabOff, strtabOff, strtabSize: strtab.bytes.length, segtabOff, procsOff, argsOff });
    let pos = 0;
    const put = (buf: Buffer): void => {
      writeSync(fd, buf, 0, buf.length, pos);
      pos += buf.length;
    };
    put(header);
    put(this.symbolTable(strtab.offsets));
    put(strtab.bytes);
    put(this.segmentTable(segOffsets.offsets));
    pos = dataOff;
    this.segments.forEach((s) => put(s.data));
    put(this.procArea);
    put(this.argsArea);
  }

  private segmentFileOffsets(start: number): { offsets: number[]; end: number } {
    let at = start;
    const offsets = this.segments.map((s) => {
      const off = at;
      at += pageAlign(s.data.length);
      return off;
    });
    return { offsets, end: at };
  }

  private header(o: { symtabOff: number; strtabOff: number; strtabSize: number; segtabOff: number; procsOff: number; argsOff: number }): Buffer {
    const h = Buffer.alloc(HEADER_SIZE);
    h.write(IMAGE_MAGIC, Header.magic, 'latin1');
    h.writeUInt32LE(IMAGE_VERSION, Header.version);
    h.writeUInt32LE(HEADER_SIZE, Header.headerSize);
    h.writeUInt32LE(this.options.live ? FLAG_LIVE : 0, Header.flags);
    h.writeUInt32LE(this.symbols.size, Header.nsyms);
    h.writeBigUInt64LE(BigInt(o.symtabOff), Header.symtabOff);
    h.writeBigUInt64LE(BigInt(o.strtabOff), Header.strtabOff);
    h.writeBigUInt64LE(BigInt(o.strtabSize), Header.strtabSize);
    h.writeUInt32LE(this.segments.length, Header.nsegs);
    h.writeUInt32LE(KINFO_PROC_SIZE, Header.kinfoSize);
    h.writeBigUInt64LE(BigInt(o.segtabOff), Header.segtabOff);
    h.writeBigUInt64LE(BigInt(o.procsOff), Header.procsOff);
    h.writeUInt32LE(this.options.procCapacity, Header.procCapacity);
    h.writeBigUInt64LE(BigInt(o.argsOff), Header.argsOff);
    h.writeBigUInt64LE(BigInt(this.argsArea.length), Header.argsSize);
    return h;
  }

  private symbolTable(nameOffsets: Map<string, number>): Buffer {
    const t = Buffer.alloc(this.symbols.size * SYMBOL_ENTRY_SIZE);
    this.allSymbols().forEach((s, i) => {
      const e = i * SYMBOL_ENTRY_SIZE;
      t.writeBigUInt64LE(u64(s.value), e + SymbolEntry.value);
      t.writeBigUInt64LE(BigInt(s.size), e + SymbolEntry.size);
      t.writeUInt32LE(nameOffsets.get(s.name) ?? 0, e + SymbolEntry.nameOff);
      t.writeUInt8(s.nType, e + SymbolEntry.nType);
    });
    return t;
  }

  private segmentTable(fileOffsets: number[]): Buffer {
    const t = Buffer.alloc(this.segments.length * SEGMENT_ENTRY_SIZE);
    this.segments.forEach((s, i) => {
      const e = i * SEGMENT_ENTRY_SIZE;
      t.writeBigUInt64LE(s.kva, e + SegmentEntry.kva);
      t.writeBigUInt64LE(BigInt(s.data.length), e + SegmentEntry.size);
      t.writeBigUInt64LE(BigInt(fileOffsets[i] ?? 0), e + SegmentEntry.fileOff);
    });
    return t;
  }
}

function buildStringTable(symbols: ImageSymbol[]): { bytes: Buffer; offsets: Map<string, number> } {
  const offsets = new Map<string, number>();
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of symbols) {
    const b = Buffer.from(`${s.name}\0`, 'latin1');
    offsets.set(s.name, at);
    parts.push(b);
    at += b.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

function freshControl(): Buffer {
  const c = Buffer.alloc(CONTROL_SIZE);
  c.write(CONTROL_MAGIC, 0, 'latin1');
  return c;
}

/** Writes path.tmp then renames it, so a reader never sees half a file. */
function writeAtomically(path: string, body: (fd: number) => void): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    body(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export type CounterLayout = 'clustered' | 'scattered';

export interface CounterSlabOptions {
  /** The value of the kernel's __pcpu. */
  pcpuBase: bigint;
  /** mp_maxid + 1: a slab holds one page per CPU id. */
  cpuSlots: number;
  /** The handle offset of the first slab, past the struct pcpu array. */
  firstOffset: bigint;
}

/**
 * Hands out counter(9) handles from pcpu-8 slabs. A slab is one page per
 * CPU id 0..mp_maxid, absent ids included, at consecutive addresses, as
 * sys/vm/uma_core.c's pcpu_page_alloc maps it (`bytes == (mp_maxid + 1) *
 * PAGE_SIZE`, one vm_page per id pmap_qenter'ed after the previous one), so
 * one read can cover every CPU's copy. "clustered" fills one
 * slab before opening the next, as UMA hands out consecutive items;
 * "scattered" spreads the counters over many fresh slabs, one per counter
 * up to the slab limit, so consecutive counters never share a page.
 */
export class CounterSlabs {
  private nextSlabOffset: bigint;
  private openSlab: { offset: bigint; used: number } | undefined;
  private slabCount = 0;

  constructor(
    private readonly builder: ImageBuilder,
    private readonly options: CounterSlabOptions,
  ) {
    this.nextSlabOffset = options.firstOffset;
  }

  get slabs(): number {
    return this.slabCount;
  }

  allocate(count: number, layout: CounterLayout, maxSlabs = 64): bigint[] {
    return layout === 'clustered' ? this.allocateClustered(count) : this.allocateScattered(count, maxSlabs);
  }

  private allocateClustered(count: number): bigint[] {
    const handles: bigint[] = [];
    for (let i = 0; i < count; i++) {
      if (this.openSlab === undefined || this.openSlab.used === COUNTER_SLAB_BYTES) {
        this.openSlab = { offset: this.newSlab(), used: 0 };
      }
      handles.push(this.openSlab.offset + BigInt(this.openSlab.used));
      this.openSlab.used += COUNTER_SIZE;
    }
    return handles;
  }

  private allocateScattered(count: number, maxSlabs: number): bigint[] {
    const perSlab = COUNTER_SLAB_BYTES / COUNTER_SIZE;
    const slabCount = Math.max(Math.min(count, maxSlabs), Math.ceil(count / perSlab));
    const slabs = Array.from({ length: slabCount }, () => this.newSlab());
    return Array.from({ length: count }, (_, i) => {
      const slab = slabs[i % slabCount] as bigint;
      return slab + BigInt(Math.floor(i / slabCount) * COUNTER_SIZE);
    });
  }

  /** Maps a new slab and returns its first handle offset. */
  private newSlab(): bigint {
    const offset = this.nextSlabOffset;
    const bytes = COUNTER_SLAB_BYTES * this.options.cpuSlots;
    this.builder.addSegment(`pcpu-8 slab ${this.slabCount}`, u64(this.options.pcpuBase + offset), bytes);
    this.slabCount++;
    // A page of unmapped KVA between slabs, so a read that runs off a slab faults.
    this.nextSlabOffset += BigInt(bytes + PAGE_SIZE);
    return offset;
  }
}
