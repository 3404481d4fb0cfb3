/**
 * The performance goals, each a ratio or bound read from one run, and the
 * linearity fits along the grid's axes. Every goal names the workload its
 * numbers come from, so a reader can find them in the table.
 */
import type { BenchPlan } from './plan.js';
import type { AxisFit, GoalResult, SoakResult, WorkloadResult } from './schema.js';
import { growthExponent, linearFit, ratio } from './stats.js';

/** A growth exponent up to this is linear within the noise of a shared VM. */
export const LINEAR_EXPONENT_LIMIT = 1.1;
/** Along CPUs x counters the data read is the same per cell at every size, so the bar is tighter. */
export const LINEAR_CPUS_X_COUNTERS_LIMIT = 1.05;

function find(results: readonly WorkloadResult[], id: string): WorkloadResult | undefined {
  return results.find((r) => r.workload.id === id);
}

function goal(
  id: string,
  description: string,
  workload: string,
  measured: number | null,
  comparison: GoalResult['comparison'],
  target: number,
  unit: string,
  detail: string,
): GoalResult {
  const met =
    measured !== null && (comparison === '>=' ? measured >= target : comparison === '<=' ? measured <= target : measured < target);
  return { id, description, workload, measured, comparison, target, unit, met, detail };
}

const fixed = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? 'n/a' : n.toFixed(digits));

function callsVsNaiveGoal(w: WorkloadResult | undefined, id: string): GoalResult {
  const productCalls = w?.product.calls.countersOnly.kvm;
  const naiveCalls = w?.naive.calls.kvm;
  return goal('calls-vs-naive', 'libkvm calls per scrape: naive / exporter (counters)', id, ratio(naiveCalls, productCalls), '>=', 10, 'x',
    `naive ${naiveCalls ?? 'n/a'} kvm_* calls, exporter ${productCalls ?? 'n/a'} (topology included), floor ${w?.floor.counters.calls.kvm ?? 'n/a'}`);
}

/**
 * The counters collection: what the counters collector takes to read the
 * counters and build their families (its own duration, on the kernel
 * thread), as the floor reads them and sums them into an array. Since
 * kernel access moved to a thread, Exporter.scrape also includes handing
 * the families to the main thread; the detail gives that time beside it.
 */
export function countersCollectionMs(w: WorkloadResult): number {
  return (w.product.collection.countersCollector ?? w.product.collection.countersOnly).medianMs;
}

function collectionGoal(goalId: string, w: WorkloadResult | undefined, id: string, target: number): GoalResult {
  const collect = w && countersCollectionMs(w);
  const floor = w?.floor.counters.timing.medianMs;
  return goal(goalId, 'counters collection time: exporter / C floor', id, ratio(collect, floor), '<=', target, 'x',
    `exporter ${fixed(collect, 3)} ms (the counters collector's duration in collect[]=counters scrapes, median) of which reads ${fixed(w?.readsOnly.collection.medianMs, 3)} ms; ` +
      `Exporter.scrape ${fixed(w?.product.collection.countersOnly.medianMs, 3)} ms with the kernel thread's round trip; ` +
      `floor ${fixed(floor, 3)} ms; naive ${fixed(w?.naive.collection.medianMs, 3)} ms; ${w?.product.series ?? 'n/a'} series`);
}

/** The same counters at many CPUs and at few: the calls of a counters scrape must not grow with the CPUs. */
function callsAcrossCpusGoal(low: WorkloadResult | undefined, high: WorkloadResult | undefined): GoalResult {
  const sameCounters = low !== undefined && high !== undefined && low.workload.counters === high.workload.counters && low.workload.layout === high.workload.layout;
  const lowCalls = low?.product.calls.countersOnly.kvm;
  const highCalls = high?.product.calls.countersOnly.kvm;
  return goal('calls-independent-of-cpus', 'libkvm calls per counters scrape: many CPUs / few CPUs, same counters', `${high?.workload.id ?? 'n/a'} / ${low?.workload.id ?? 'n/a'}`,
    sameCounters ? ratio(highCalls, lowCalls) : null, '<=', 1.1, 'x',
    sameCounters
      ? `${high.workload.cpus} CPUs: ${highCalls} kvm_* calls; ${low.workload.cpus} CPUs: ${lowCalls} (topology included)`
      : 'the two workloads must exist and have the same counters');
}

/** Both formats must be this much faster; the goal measures the slower of the two. */
function expositionGoal(w: WorkloadResult | undefined, id: string): GoalResult {
  const text = w?.promClient.text;
  const om = w?.promClient.openMetrics;
  const textRatio = ratio(text?.timing.medianMs, text?.oursTiming.medianMs);
  const omRatio = ratio(om?.timing.medianMs, om?.oursTiming.medianMs);
  const worst = textRatio === null || omRatio === null ? null : Math.min(textRatio, omRatio);
  return goal('exposition-vs-prom-client', 'exposition time: prom-client registry.metrics() / render.ts, the slower of text 0.0.4 and OpenMetrics', id, worst, '>=', 6, 'x',
    `${w?.product.series ?? 0} series: text ${fixed(textRatio, 1)}x (prom-client ${fixed(text?.timing.medianMs)} ms, ours ${fixed(text?.oursTiming.medianMs)} ms), ` +
      `OpenMetrics ${fixed(omRatio, 1)}x (prom-client ${fixed(om?.timing.medianMs)} ms, ours ${fixed(om?.oursTiming.medianMs)} ms); medians of interleaved rounds`);
}

function stallGoal(w: WorkloadResult | undefined, id: string): GoalResult {
  return goal('http-event-loop-stall', 'longest event-loop stall during HTTP scrapes', id, w?.product.http.maxEventLoopStallMs ?? null, '<', 50, 'ms',
    `${w?.product.http.latency.samples ?? 0} scrapes of ${w?.product.http.bytes ?? 0} bytes, p50 ${fixed(w?.product.http.latency.medianMs)} ms`);
}

function healthGoal(w: WorkloadResult | undefined, id: string): GoalResult {
  const health = w?.product.http.healthDuringScrape;
  return goal('health-during-process-scrape', 'p99 latency of /-/healthy polled every 10 ms while /metrics scrapes', id, health?.p99Ms ?? null, '<', 50, 'ms',
    `${health?.samples ?? 0} polls of /-/healthy (latency from when each was due): p50 ${fixed(health?.medianMs)} ms, max ${fixed(health?.maxMs)} ms; ` +
      `${w?.kernel.processes ?? 0} processes, /metrics p50 ${fixed(w?.product.http.latency.medianMs)} ms`);
}

function processGoal(w: WorkloadResult | undefined, id: string): GoalResult {
  const product = w?.product.collection.processesOnly.medianMs;
  const floor = w?.floor.processes.timing.medianMs;
  return goal('processes-vs-floor', 'process counting time: exporter / C floor', id, ratio(product, floor), '<', 2, 'x',
    `${w?.kernel.processes ?? 0} processes, ${w?.kernel.threads ?? 0} threads: exporter ${fixed(product)} ms, floor ${fixed(floor)} ms (both two kvm_getprocs)`);
}

function soakGoal(soak: SoakResult): GoalResult {
  return goal('rss-flat', 'RSS growth across the soak', soak.workload, soak.growth * 100, '<=', 5, '%',
    `${soak.scrapes} HTTP scrapes: RSS ${fixed(soak.baselineRssMb, 1)} MB after warm-up, ${fixed(soak.finalRssMb, 1)} MB at the end, peak ${fixed(soak.peakRssMb, 1)} MB`);
}

/**
 * Linear, or no worse than the data: reading a 270 MB process table is
 * itself superlinear on a machine whose caches hold the 27 MB one, so the
 * exporter may grow as fast as the floor's reads of the same data do.
 */
export function linearityTarget(fit: AxisFit): number {
  if (fit.axis === 'cpus-x-counters') return LINEAR_CPUS_X_COUNTERS_LIMIT;
  return Math.max(LINEAR_EXPONENT_LIMIT, fit.floorGrowthExponent + (LINEAR_EXPONENT_LIMIT - 1));
}

function linearityGoal(fit: AxisFit | undefined, axis: string): GoalResult {
  return goal(`linear-${axis}`, `collection cost grows no faster than the data read, along ${fit?.unit ?? axis}`, fit ? `${fit.points.length} workloads` : 'none',
    fit?.growthExponent ?? null, '<=', fit ? linearityTarget(fit) : LINEAR_EXPONENT_LIMIT, 'exponent',
    fit
      ? `exporter ms ~ x^${fixed(fit.growthExponent)}, C floor ~ x^${fixed(fit.floorGrowthExponent)} over the larger points; line: R² ${fixed(fit.r2, 4)}, ${(fit.slopeMsPerUnit * 1e6).toFixed(1)} ns per unit`
      : 'no points');
}

export function evaluateGoals(plan: Pick<BenchPlan, 'goalWorkloads'>, results: readonly WorkloadResult[], soak: SoakResult, fits: readonly AxisFit[]): GoalResult[] {
  const { counters, countersLarge, cpusLow, cpusHigh, exposition, processes } = plan.goalWorkloads;
  return [
    healthGoal(find(results, processes), processes),
    callsAcrossCpusGoal(find(results, cpusLow), find(results, cpusHigh)),
    callsVsNaiveGoal(find(results, counters), counters),
    collectionGoal('collection-vs-floor', find(results, counters), counters, 2),
    collectionGoal('collection-vs-floor-large', find(results, countersLarge), countersLarge, 2.5),
    linearityGoal(fits.find((f) => f.axis === 'cpus-x-counters'), 'cpus-x-counters'),
    expositionGoal(find(results, exposition), exposition),
    stallGoal(find(results, exposition), exposition),
    processGoal(find(results, processes), processes),
    soakGoal(soak),
    linearityGoal(fits.find((f) => f.axis === 'processes'), 'processes'),
  ];
}

/** Collection time along each axis: counters-only scrapes for CPUs x counters, processes-only for processes. */
export function fitAxes(results: readonly WorkloadResult[]): AxisFit[] {
  const axes = [
    { axis: 'cpus-x-counters', unit: 'CPUs x counters', x: (r: WorkloadResult) => r.workload.cpus * r.workload.counters, part: 'counters' },
    { axis: 'scattered', unit: 'CPUs x counters (scattered)', x: (r: WorkloadResult) => r.workload.cpus * r.workload.counters, part: 'counters' },
    { axis: 'processes', unit: 'processes', x: (r: WorkloadResult) => r.kernel.processes, part: 'processes' },
  ] as const;
  return axes.flatMap(({ axis, unit, x, part }) => {
    const points = results
      .filter((r) => r.workload.axes.includes(axis))
      .map((r) => {
        const ms = part === 'counters' ? countersCollectionMs(r) : r.product.collection.processesOnly.medianMs;
        const floor = part === 'counters' ? r.floor.counters : r.floor.processes;
        const calls = part === 'counters' ? r.product.calls.countersOnly : r.product.calls.processesOnly;
        return { workload: r.workload.id, x: x(r), ms, floorMs: floor.timing.medianMs, kvmCalls: calls.kvm };
      })
      .sort((a, b) => a.x - b.x);
    if (points.length < 2) return [];
    const line = linearFit(points.map((p) => [p.x, p.ms]));
    const larger = points.slice(Math.max(0, Math.min(points.length - 3, Math.floor(points.length / 2))));
    return [{
      axis,
      unit,
      points,
      slopeMsPerUnit: line.slope,
      interceptMs: line.intercept,
      r2: line.r2,
      growthExponent: growthExponent(larger.map((p) => [p.x, p.ms])),
      floorGrowthExponent: growthExponent(larger.map((p) => [p.x, p.floorMs])),
    }];
  });
}
