/**
 * What the benchmark runs: the workload grid of each mode (full, quick, and
 * the smoke plan the harness test and CI run), how hard each measurement
 * tries, and which workloads the goals are read from.
 *
 * The grid has two axes. CPUs x counters (every counter per-CPU, handles
 * clustered as the kernel's pcpu-8 zone lays them out, 100 processes) shows
 * how collection grows with the per-CPU data; a few scattered-handle points
 * beside it show the cost of handles spread over many pages. Processes
 * (4 CPUs, 36 counters) shows how process counting grows with the table.
 * The full cross product is not run: 1024 CPUs x 2000 counters alone would
 * be 2 million series, and the axes already show linearity.
 */

export type CounterLayout = 'clustered' | 'scattered';

/** The axes a workload is a point of; linearity is fitted per axis. */
export type Axis = 'cpus-x-counters' | 'scattered' | 'processes';

export interface Workload {
  /** `c64-k500-clustered-p100`: CPUs, counters, handle layout, processes. */
  readonly id: string;
  readonly cpus: number;
  /** Extra counter(9) handles, all exported per CPU (36 is vm_cnt's count). */
  readonly counters: number;
  readonly layout: CounterLayout;
  /** Processes in the table; each has 1 to 4 threads (generateProcesses). */
  readonly processes: number;
  /**
   * Network stacks (vnets), the host's included: the rest are jails with a
   * stack of their own, and the config adds the preset's `vnet: true`
   * entries read in each. Absent: no jails, no vnet entries.
   */
  readonly vnets?: number;
  readonly axes: readonly Axis[];
}

/** How many repetitions a measurement makes: at least `min`, at most `max`, stopping once `budgetMs` is spent. */
export interface Repeat {
  readonly min: number;
  readonly max: number;
  readonly budgetMs: number;
}

export interface Effort {
  /** Scrapes run before anything is timed, so the JIT has compiled the hot paths. */
  readonly warmup: Repeat;
  /** Timed calls of Exporter.scrape (all collectors, counters only, processes only). */
  readonly collection: Repeat;
  /** Timed renders, ours and prom-client's, interleaved. */
  readonly exposition: Repeat;
  /** Sequential HTTP scrapes for latency percentiles. */
  readonly http: Repeat;
  /**
   * /-/healthy polled every 10 ms during at least `scrapes` sequential
   * /metrics scrapes, then more until `polls` polls are in or `budgetMs` has passed.
   */
  readonly health: { readonly scrapes: number; readonly polls: number; readonly budgetMs: number };
  /** Timed scrapes of the naive strategy. */
  readonly naive: Repeat;
  /** Iterations the C floor times itself over, scaled down for big process tables. */
  readonly floorIterations: number;
}

export type Mode = 'full' | 'quick' | 'smoke';

export interface BenchPlan {
  readonly mode: Mode;
  readonly workloads: readonly Workload[];
  readonly effort: Effort;
  /** RSS soak: this many HTTP scrapes of one workload. */
  readonly soak: { readonly workload: string; readonly scrapes: number };
  /** The workload each goal is read from. */
  readonly goalWorkloads: GoalWorkloads;
}

export interface GoalWorkloads {
  /** Calls versus naive and collection versus the floor: clustered, 64 CPUs, 500 per-CPU counters. */
  readonly counters: string;
  /** Collection versus the floor on a big host: 256 CPUs x 2000 counters (the quick grid's biggest stands in). */
  readonly countersLarge: string;
  /** Calls independent of CPUs: two workloads with the same counters, few CPUs and many. */
  readonly cpusLow: string;
  readonly cpusHigh: string;
  /** Exposition versus prom-client and the event-loop stall: the workload with at least 100k series. */
  readonly exposition: string;
  /** Process counting versus the floor, and /-/healthy while /metrics scrapes: 100k processes. */
  readonly processes: string;
}

export function workload(cpus: number, counters: number, layout: CounterLayout, processes: number, axes: readonly Axis[]): Workload {
  return { id: `c${cpus}-k${counters}-${layout}-p${processes}`, cpus, counters, layout, processes, axes };
}

/**
 * The jails workload: 100 network stacks (99 jails and the host's, within
 * the default vnets.max_series of 100, so no `other` bucket) on the demo
 * kernel's 8 CPUs, each read for every `vnet: true` entry of the
 * freebsd-14-amd64 preset (ip, ip6, udp, tcp, icmp: 673 counters per stack).
 * On no axis: its cost is the vnet collector's, reported beside the grid.
 */
export function vnetWorkload(): Workload {
  const base = workload(8, 36, 'clustered', 100, []);
  return { ...base, id: `${base.id}-v100`, vnets: 100 };
}

function cpuCounterGrid(cpus: readonly number[], counters: readonly number[], skip: (c: number, k: number) => boolean): Workload[] {
  const grid: Workload[] = [];
  for (const c of cpus) for (const k of counters) if (!skip(c, k)) grid.push(workload(c, k, 'clustered', 100, ['cpus-x-counters']));
  return grid;
}

/** Marks the grid point that is also the first point of the process axis. */
function withProcessAxis(grid: Workload[], cpus: number, counters: number): Workload[] {
  return grid.map((w) => (w.cpus === cpus && w.counters === counters ? { ...w, axes: [...w.axes, 'processes'] } : w));
}

const GOALS: GoalWorkloads = {
  counters: 'c64-k500-clustered-p100',
  countersLarge: 'c256-k2000-clustered-p100',
  cpusLow: 'c4-k500-clustered-p100',
  cpusHigh: 'c256-k500-clustered-p100',
  exposition: 'c64-k2000-clustered-p100',
  processes: 'c4-k36-clustered-p100000',
};

/** The quick grid stops at 64 CPUs: its biggest workloads stand in for the 256-CPU ones. */
const QUICK_GOALS: GoalWorkloads = {
  ...GOALS,
  countersLarge: 'c64-k2000-clustered-p100',
  cpusHigh: 'c64-k500-clustered-p100',
};

export function fullPlan(): BenchPlan {
  const grid = withProcessAxis(
    // 1024 x 2000 (2M series) is left out; 256 x 2000 and 1024 x 500 are the 512k-series corner.
    cpuCounterGrid([4, 64, 256, 1024], [36, 500, 2000], (c, k) => c === 1024 && k === 2000),
    4,
    36,
  );
  return {
    mode: 'full',
    workloads: [
      ...grid,
      workload(64, 500, 'scattered', 100, ['scattered']),
      workload(256, 500, 'scattered', 100, ['scattered']),
      workload(64, 2000, 'scattered', 100, ['scattered']),
      workload(4, 36, 'clustered', 10_000, ['processes']),
      workload(4, 36, 'clustered', 100_000, ['processes']),
      vnetWorkload(),
    ],
    effort: {
      warmup: { min: 3, max: 30, budgetMs: 3_000 },
      collection: { min: 5, max: 200, budgetMs: 5_000 },
      exposition: { min: 3, max: 30, budgetMs: 8_000 },
      http: { min: 10, max: 100, budgetMs: 15_000 },
      health: { scrapes: 5, polls: 300, budgetMs: 5_000 },
      naive: { min: 1, max: 50, budgetMs: 5_000 },
      floorIterations: 200,
    },
    soak: { workload: GOALS.counters, scrapes: 10_000 },
    goalWorkloads: GOALS,
  };
}

/** Every goal, and enough of each axis to fit a line: about 2 CPU-minutes, most of them on the 100,000-process kernel. */
export function quickPlan(): BenchPlan {
  const grid = withProcessAxis(cpuCounterGrid([4, 64], [36, 500, 2000], (c, k) => c === 4 && k === 2000), 4, 36);
  return {
    mode: 'quick',
    workloads: [
      ...grid,
      workload(64, 500, 'scattered', 100, ['scattered']),
      workload(4, 36, 'clustered', 10_000, ['processes']),
      workload(4, 36, 'clustered', 100_000, ['processes']),
      vnetWorkload(),
    ],
    effort: {
      warmup: { min: 2, max: 10, budgetMs: 600 },
      collection: { min: 3, max: 50, budgetMs: 800 },
      exposition: { min: 2, max: 7, budgetMs: 2_000 },
      http: { min: 5, max: 30, budgetMs: 2_000 },
      health: { scrapes: 3, polls: 100, budgetMs: 2_000 },
      naive: { min: 1, max: 10, budgetMs: 800 },
      floorIterations: 50,
    },
    soak: { workload: GOALS.counters, scrapes: 300 },
    goalWorkloads: QUICK_GOALS,
  };
}

/**
 * The smoke check (the harness test and CI): two small workloads through
 * every measurement and every goal, seconds in all. Its numbers show that
 * the harness works, not how fast the exporter is.
 */
export function smokePlan(): BenchPlan {
  const small = workload(4, 100, 'clustered', 100, ['cpus-x-counters', 'processes']);
  const wider = workload(8, 100, 'clustered', 300, ['cpus-x-counters', 'processes']);
  return {
    mode: 'smoke',
    workloads: [small, wider],
    effort: {
      warmup: { min: 1, max: 2, budgetMs: 100 },
      collection: { min: 2, max: 5, budgetMs: 200 },
      exposition: { min: 1, max: 2, budgetMs: 200 },
      http: { min: 3, max: 5, budgetMs: 300 },
      health: { scrapes: 2, polls: 20, budgetMs: 1_000 },
      naive: { min: 1, max: 2, budgetMs: 200 },
      floorIterations: 5,
    },
    soak: { workload: small.id, scrapes: 40 },
    goalWorkloads: { counters: wider.id, countersLarge: wider.id, cpusLow: small.id, cpusHigh: wider.id, exposition: wider.id, processes: wider.id },
  };
}

export function planFor(mode: Mode): BenchPlan {
  return mode === 'full' ? fullPlan() : mode === 'quick' ? quickPlan() : smokePlan();
}

/** Repeats `run` as `repeat` allows and returns each run's result. */
export async function repeatTimed<T>(repeat: Repeat, run: (i: number) => Promise<T> | T): Promise<T[]> {
  const results: T[] = [];
  const started = performance.now();
  while (results.length < repeat.max && (results.length < repeat.min || performance.now() - started < repeat.budgetMs)) {
    results.push(await run(results.length));
  }
  return results;
}
