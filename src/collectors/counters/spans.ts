/**
 * How the counters collector reads counter(9) copies in bulk: handles in one
 * page grouped into a span, every CPU's copy of a span read with one
 * kvm_read_zpcpu (readZpcpuRun), and the copies decoded in place as 64-bit
 * words.
 *
 * A counter(9) is one 8-byte handle; on amd64 CPU i's copy lives at
 * `__pcpu + handle + PAGE_SIZE*i` (sys/amd64/include/pcpu.h, counter.h). UMA
 * hands out pcpu-8 items from page-sized slabs, so handles allocated together
 * sit side by side in one page, and a slab's pages for CPU ids 0..mp_maxid
 * are one run of consecutive addresses (sys/vm/uma_core.c, pcpu_page_alloc).
 */
import { COUNTER_HANDLE_BYTES, PAGE_SIZE, int64FromHalves } from '../../abi.js';

const SPAN_PAGE = BigInt(PAGE_SIZE);
const TWO_64 = 2 ** 64;

/** Handles of one page, read for every CPU at once; `T` is what the collector knows of each handle. */
export interface Span<T> {
  readonly first: bigint;
  /** Bytes of each CPU's copy: from the first handle to the end of the last. */
  readonly length: number;
  readonly members: readonly SpanMember<T>[];
}

export interface SpanMember<T> {
  readonly counter: T;
  /** Byte offset of this handle from the span's first. */
  readonly offset: number;
}

/** Groups counters by the page their handle is in; each group is one span. */
export function planSpans<T extends { readonly handle: bigint }>(counters: readonly T[]): Span<T>[] {
  const pages = new Map<bigint, T[]>();
  for (const counter of counters) {
    const page = counter.handle / SPAN_PAGE;
    const list = pages.get(page);
    if (list) list.push(counter);
    else pages.set(page, [counter]);
  }
  return [...pages.values()].map((members) => {
    const handles = members.map((c) => c.handle);
    const first = handles.reduce((a, b) => (b < a ? b : a));
    const last = handles.reduce((a, b) => (b > a ? b : a));
    return {
      first,
      length: Number(last - first) + COUNTER_HANDLE_BYTES,
      members: members.map((counter) => ({ counter, offset: Number(counter.handle - first) })),
    };
  });
}

/**
 * The copies as 32-bit words in the host's byte order, which is the
 * kernel's (libkvm only reads native kernels). Offsets are multiples of 8,
 * so a buffer from Node's pool (8-byte aligned) is viewed in place.
 */
/** 32-bit words from one CPU's copy of a page to the next one's. */
export const WORDS_PER_CPU = PAGE_SIZE >> 2;

export function int32Words(rows: Buffer): Int32Array {
  const aligned = rows.byteOffset % 4 === 0 ? rows : Buffer.from(rows);
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >> 2);
}

/**
 * The copy at word `at` as int64 in float64 (exact within 2^53), low word
 * first (amd64 and arm64 are little-endian). Read signed for every type: a
 * decremented copy (-5, stored as 2^64 - 5) keeps its small magnitude, so
 * the sum stays exact; an unsigned counter's copy is negative here only when
 * it is at or above 2^63. The words are read from an Int32Array view, so
 * that a span of thousands of copies is decoded without a Buffer call each.
 */
export function copyAt(words: Int32Array, at: number): number {
  return int64FromHalves(words[at + 1]!, words[at]! >>> 0);
}

/** counter_u64_fetch's sum of the int64 copies: modulo 2^64 for unsigned counters. */
export function total(sum: number, signed: boolean): number {
  if (signed) return sum;
  const wrapped = sum % TWO_64;
  return wrapped < 0 ? wrapped + TWO_64 : wrapped;
}
