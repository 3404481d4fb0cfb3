/**
 * The shape of a benchmark run as bench/results/*.json stores it, and as the
 * worker processes hand their measurements to the parent. bench/README.md
 * documents every field; the harness test checks a run against this shape.
 */
import type { BenchPlan, Mode, Workload } from './plan.js';
import type { Timing } from './stats.js';

/** libkvm calls by the simulator's counters (SimControl): every kvm_* function, and pread(2) of the image. */
export interface CallCounts {
  /** Calls of exported kvm_* functions. */
  readonly kvm: number;
  /** pread(2) calls on the image: the reads of kernel memory. */
  readonly pread: number;
  readonly byFunction: Readonly<Record<string, number>>;
}

/** What the worker measured of the exporter itself. */
export interface ProductMeasurement {
  /** Series and families of one scrape, without the exporter's own process_* and nodejs_* metrics. */
  readonly series: number;
  readonly families: number;
  readonly calls: {
    /** A scrape of every enabled collector (cpus, counters, processes, loadavg), topology included. */
    readonly scrape: CallCounts;
    /** `collect[]=counters`: what the naive strategy and the floor are compared with. */
    readonly countersOnly: CallCounts;
    readonly processesOnly: CallCounts;
  };
  readonly collection: {
    /** Exporter.scrape() of every enabled collector. */
    readonly scrape: Timing;
    readonly countersOnly: Timing;
    /**
     * The counters collector's own time in the `collect[]=counters` scrapes
     * (its kvm_scrape_collector_duration_seconds, measured on the kernel
     * thread): reading the counters and building their families, without the
     * thread round trip. What the naive strategy and the floor are compared
     * with. Absent from runs before 2026-12-03 20:30 UTC.
     */
    readonly countersCollector?: Timing;
    readonly processesOnly: Timing;
    /** Median kvm_scrape_collector_duration_seconds per collector over the full scrapes, in ms. */
    readonly collectorMedianMs: Readonly<Record<string, number>>;
  };
  /** renderFamilies(text 0.0.4) of one scrape's families. */
  readonly exposition: { readonly timing: Timing; readonly bytes: number };
  readonly http: HttpMeasurement;
  /**
   * The worker's lifetime peak RSS (getrusage ru_maxrss) after the exporter's
   * measurements and before any baseline: it includes the back-to-back
   * collection loops, in which V8 lets the heap grow further than a scraped
   * exporter's.
   */
  readonly peakRssMb: number;
  /** What the scrape said, for the cross-checks with the baselines. */
  readonly observed: Observed;
}

export interface HttpMeasurement {
  /** Sequential GETs of /metrics from a real server on 127.0.0.1, body read to the end. */
  readonly latency: Timing;
  /** Body bytes of one scrape as Prometheus asks for it (OpenMetrics preferred, identity encoding). */
  readonly bytes: number;
  /** The same scrape gzip-encoded, as Prometheus fetches it. */
  readonly gzipBytes: number;
  readonly contentType: string;
  /** The longest event-loop delay seen while the scrapes ran (monitorEventLoopDelay, 1 ms resolution). */
  readonly maxEventLoopStallMs: number;
  /** The highest RSS sampled (every 10 ms) while the scrapes ran: the exporter as `serve` runs it. */
  readonly peakRssMb: number;
  /**
   * GET /-/healthy every 10 ms during more sequential scrapes, each latency
   * from when the poll was due (a poll held back by a blocked event loop
   * counts the wait).
   */
  readonly healthDuringScrape: Timing;
}

export interface Observed {
  /** Sum of every kvm_extra_c<i>_total modulo 2^64, decimal. */
  readonly counterChecksum: string;
  /** kvm_processes{state} in the order idle, running, sleeping, stopped, zombie, waiting, lock, unknown. */
  readonly processStates: readonly number[];
  readonly threadStates: readonly number[];
}

export interface NaiveMeasurement {
  /** One kvm_read_zpcpu per counter per CPU plus one kvm_counter_u64_fetch per counter, per scrape. */
  readonly calls: CallCounts;
  readonly collection: Timing;
  readonly counterChecksum: string;
}

/** The exporter's counter reads alone (topology and one readZpcpuRun per page, every CPU at once), no families built. */
export interface ReadsOnlyMeasurement {
  readonly calls: CallCounts;
  readonly collection: Timing;
}

export interface FormatComparison {
  /** registry.metrics() of a prom-client Registry holding the same families. */
  readonly timing: Timing;
  /** Our renderer, timed in the same rounds (interleaved with prom-client's). */
  readonly oursTiming: Timing;
  /** Whether the two texts are byte for byte the same. */
  readonly identical: boolean;
}

/** prom-client against our renderer, in each format Prometheus negotiates. */
export interface PromClientMeasurement {
  readonly text: FormatComparison;
  readonly openMetrics: FormatComparison;
}

export interface FloorMeasurement {
  readonly calls: CallCounts;
  readonly timing: { readonly iterations: number; readonly minMs: number; readonly medianMs: number };
  /** counters: the checksum of the sums; processes: the state counts. */
  readonly counterChecksum?: string;
  readonly processStates?: readonly number[];
  readonly threadStates?: readonly number[];
  /** counters: 4 KB pages of handles read per CPU. */
  readonly pages?: number;
}

/** What one worker process prints for one workload. */
export interface WorkerResult {
  readonly product: ProductMeasurement;
  readonly naive: NaiveMeasurement;
  readonly readsOnly: ReadsOnlyMeasurement;
  readonly promClient: PromClientMeasurement;
}

export interface WorkloadResult extends WorkerResult {
  readonly workload: Workload;
  readonly kernel: { readonly counterSlabs: number; readonly processes: number; readonly threads: number; readonly buildSeconds: number };
  readonly floor: { readonly counters: FloorMeasurement; readonly processes: FloorMeasurement };
  /** The baselines computed the same numbers as the exporter. */
  readonly agreement: { readonly naive: boolean; readonly floorCounters: boolean; readonly floorProcesses: boolean };
}

export interface SoakResult {
  readonly workload: string;
  readonly scrapes: number;
  readonly seconds: number;
  /** RSS every `sampleEvery` scrapes, in MB. */
  readonly sampleEvery: number;
  readonly rssMb: readonly number[];
  /** Median RSS of the samples right after the first 10% (warm-up) and of the last 10%. */
  readonly baselineRssMb: number;
  readonly finalRssMb: number;
  readonly peakRssMb: number;
  /** finalRssMb / baselineRssMb - 1. */
  readonly growth: number;
  readonly heapUsedMb: { readonly baseline: number; readonly final: number };
}

export interface GoalResult {
  readonly id: string;
  readonly description: string;
  /** The workload the numbers come from. */
  readonly workload: string;
  readonly measured: number | null;
  /** What `measured` is compared with, and how. */
  readonly target: number;
  readonly comparison: '>=' | '<=' | '<';
  readonly unit: string;
  readonly met: boolean;
  readonly detail: string;
}

export interface AxisFit {
  readonly axis: string;
  /** What x counts: "CPUs x counters", "processes". */
  readonly unit: string;
  /** Per workload: the exporter's collection ms (median) and the C floor's ms for the same data. */
  readonly points: readonly { readonly workload: string; readonly x: number; readonly ms: number; readonly floorMs: number; readonly kvmCalls: number }[];
  /** The exporter's collection ms = intercept + slope * x, least squares over every point. */
  readonly slopeMsPerUnit: number;
  readonly interceptMs: number;
  readonly r2: number;
  /** ms ~ x^exponent over the larger half of the points: 1 is linear. */
  readonly growthExponent: number;
  /** The same exponent for the floor: how fast merely reading the data grows on this machine. */
  readonly floorGrowthExponent: number;
}

export interface MachineFacts {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  readonly cc: string;
  readonly versions: Readonly<Record<string, string>>;
}

export interface BenchRun {
  readonly format: 'kvm_exporter-bench-2';
  readonly mode: Mode;
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: MachineFacts;
  /** Node.js flags the workers ran with (`--node-flags`); empty for the exporter as shipped. */
  readonly nodeFlags: readonly string[];
  readonly plan: Pick<BenchPlan, 'effort' | 'soak' | 'goalWorkloads'>;
  readonly workloads: readonly WorkloadResult[];
  readonly soak: SoakResult;
  readonly linearity: readonly AxisFit[];
  readonly goals: readonly GoalResult[];
}
