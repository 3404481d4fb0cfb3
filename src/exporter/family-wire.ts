/**
 * How metric families cross from the kernel thread to the main thread: as
 * they are. A family is already columns (exposition/family.ts), so the
 * message carries a few thousand small family objects, not one object per
 * series: structured clone sends a label column shared by many families
 * (a scrape's CPUs) once, since it keeps object identity within a message,
 * and the value columns' buffers are moved (transferred), not copied. Many
 * families' values are views of one buffer; each buffer is listed once.
 */
import type { MetricFamily } from '../exposition/family.js';

/** The distinct buffers under the families' value columns, to transfer with them. */
export function valueBuffers(families: readonly MetricFamily[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const family of families) buffers.add(family.values.buffer as ArrayBuffer);
  return [...buffers];
}
