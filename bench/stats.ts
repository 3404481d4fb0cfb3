/**
 * The arithmetic of the benchmark: percentiles of timing samples, and the
 * straight-line and power-law fits that say whether a cost grows linearly
 * with the data it reads. Pure functions, no I/O.
 */

/** Summary of repeated timings, in milliseconds. */
export interface Timing {
  readonly samples: number;
  readonly minMs: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The value below which `q` (0..1) of the sorted samples lie (nearest rank). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export function summarize(samplesMs: readonly number[]): Timing {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    minMs: sorted[0] ?? NaN,
    medianMs: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
  };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

/** y = intercept + slope * x by least squares, with R². */
export interface LinearFit {
  readonly slope: number;
  readonly intercept: number;
  readonly r2: number;
}

export function linearFit(points: readonly (readonly [number, number])[]): LinearFit {
  const n = points.length;
  if (n < 2) throw new RangeError(`a line needs at least 2 points, got ${n}`);
  const meanX = points.reduce((s, [x]) => s + x, 0) / n;
  const meanY = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
    syy += (y - meanY) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = meanY - slope * meanX;
  // R² is at most 1; with collinear points (two, in the smoke plan) rounding can put it a hair above.
  const r2 = syy === 0 ? 1 : Math.min(1, (sxy * sxy) / (sxx * syy));
  return { slope, intercept, r2 };
}

/**
 * The exponent b of y ~ x^b fitted on log-log axes: 1 is linear growth, 2
 * quadratic. Fixed costs pull it below 1 at small sizes, so callers fit it on
 * the larger points.
 */
export function growthExponent(points: readonly (readonly [number, number])[]): number {
  const logs = points.filter(([x, y]) => x > 0 && y > 0).map(([x, y]) => [Math.log(x), Math.log(y)] as const);
  return linearFit(logs).slope;
}

/** a / b, or null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !(b > 0) || !Number.isFinite(a)) return null;
  return a / b;
}

/**
 * The Theil–Sen slope: the median of the slopes between every pair of
 * points. Unlike least squares, one odd sample (a GC or an allocator trim
 * landing just before it) does not tilt it, so a few dozen memory samples
 * are enough to tell a plateau from a steady climb.
 */
export function medianSlope(points: readonly (readonly [number, number])[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const [x1, y1] = points[i]!;
      const [x2, y2] = points[j]!;
      if (x2 !== x1) slopes.push((y2 - y1) / (x2 - x1));
    }
  }
  if (slopes.length === 0) throw new RangeError(`a slope needs two points with different x, got ${points.length} points`);
  return median(slopes);
}
