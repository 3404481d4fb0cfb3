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

function counterGoals(w: WorkloadResult | undefined, id: string): GoalResult[] {
  const productCalls = w?.product.calls.countersOnly.kvm;
  const naiveCalls = w?.naive.calls.kvm;
  const collect = w?.product.collection.countersOnly.medianMs;
  const floor = w?.floor.counters.timing.medianMs;
  return [
    goal('calls-vs-naive', 'libkvm calls per scrape: naive / exporter (counters)', id, ratio(naiveCalls, productCalls), '>=', 10, 'x',
      `naive ${naiveCalls ?? 'n/a'} kvm_* calls, exporter ${productCalls ?? 'n/a'} (topology included), floor ${w?.floor.counters.calls.kvm ?? 'n/a'}`),
    goal('collection-vs-floor', 'counters collection time: exporter / C floor', id, ratio(collect, floor), '<=', 3, 'x',
      `exporter ${fixed(collect, 3)} ms (Exporter.scrape, collect[]=counters, median) of which reads ${fixed(w?.readsOnly.collection.medianMs, 3)} ms; ` +
        `floor ${fixed(floor, 3)} ms; naive ${fixed(w?.naive.collection.medianMs, 3)} ms`),
  ];
}

function expositionGoals(w: WorkloadResult | undefined, id: string): GoalResult[] {
  const theirs = w?.promClient.timing.medianMs;
  const ours = w?.promClient.oursTiming.medianMs;
  const series = w?.product.series ?? 0;
  return [
    goal('exposition-vs-prom-client', 'exposition time: prom-client registry.metrics() / render.ts', id, ratio(theirs, ours), '>=', 4, 'x',
      `${series} series: prom-client ${fixed(theirs)} ms, render.ts ${fixed(ours)} ms (medians of interleaved rounds)`),
    goal('http-event-loop-stall', 'longest event-loop stall during HTTP scrapes', id, w?.product.http.maxEventLoopStallMs ?? null, '<', 50, 'ms',
      `${w?.product.http.latency.samples ?? 0} scrapes of ${w?.product.http.bytes ?? 0} bytes, p50 ${fixed(w?.product.http.latency.medianMs)} ms`),
  ];
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
  const { counters, exposition, processes } = plan.goalWorkloads;
  return [
    ...counterGoals(find(results, counters), counters),
    ...expositionGoals(find(results, exposition), exposition),
    processGoal(find(results, processes), processes),
    soakGoal(soak),
    linearityGoal(fits.find((f) => f.axis === 'cpus-x-counters'), 'cpus-x-counters'),
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
        const collection = part === 'counters' ? r.product.collection.countersOnly : r.product.collection.processesOnly;
        const floor = part === 'counters' ? r.floor.counters : r.floor.processes;
        const calls = part === 'counters' ? r.product.calls.countersOnly : r.product.calls.processesOnly;
        return { workload: r.workload.id, x: x(r), ms: collection.medianMs, floorMs: floor.timing.medianMs, kvmCalls: calls.kvm };
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
