/**
 * A run as people read it (plain-text tables on stdout) and as tools read it
 * (JSON in bench/results/: one file named by date and mode, and latest.json,
 * which names the latest file of each mode instead of copying it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Mode } from './plan.js';
import { countersCollectionMs } from './goals.js';
import type { BenchRun, GoalResult, WorkloadResult } from './schema.js';

type Cell = string | number;

export function table(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...text.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(text[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...text.slice(1).map(line)].join('\n');
}

const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? 'n/a' : n < 10 ? n.toFixed(3) : n.toFixed(1));
const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}x` : 'n/a');
const kb = (bytes: number) => (bytes / 1024).toFixed(0);

function productRows(results: readonly WorkloadResult[]): Cell[][] {
  return results.map(({ workload: w, product: p }) => [
    w.id,
    p.series,
    p.calls.scrape.kvm,
    p.calls.scrape.pread,
    ms(p.collection.scrape.medianMs),
    ms(p.collection.countersOnly.medianMs),
    ms(p.collection.processesOnly.medianMs),
    ms(p.exposition.timing.medianMs),
    ms(p.http.latency.medianMs),
    ms(p.http.latency.p99Ms),
    ms(p.http.maxEventLoopStallMs),
    ms(p.http.healthDuringScrape.p99Ms),
    p.http.peakRssMb.toFixed(0),
    p.peakRssMb.toFixed(0),
    kb(p.http.bytes),
    kb(p.http.gzipBytes),
  ]);
}

function baselineRows(results: readonly WorkloadResult[]): Cell[][] {
  return results.map((result) => {
    const { workload: w, product: p, naive, floor, promClient } = result;
    return [
      w.id,
      naive.calls.kvm,
      p.calls.countersOnly.kvm,
      floor.counters.calls.kvm,
      times(naive.calls.kvm, p.calls.countersOnly.kvm),
      ms(naive.collection.medianMs),
      ms(countersCollectionMs(result)),
      ms(floor.counters.timing.medianMs),
      times(countersCollectionMs(result), floor.counters.timing.medianMs),
      ms(p.collection.processesOnly.medianMs),
      ms(floor.processes.timing.medianMs),
      times(p.collection.processesOnly.medianMs, floor.processes.timing.medianMs),
      times(promClient.text.timing.medianMs, promClient.text.oursTiming.medianMs),
      times(promClient.openMetrics.timing.medianMs, promClient.openMetrics.oursTiming.medianMs),
    ];
  });
}

/** Three significant figures at most, never more than two decimals: 244x, 10.3x, 1.29, 22.4 ms. */
function significant(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  return value.toFixed(magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2);
}

export function withUnit(value: number, unit: string): string {
  const text = significant(value);
  return unit === 'x' ? `${text}x` : unit === 'exponent' ? text : `${text} ${unit}`;
}

export function measuredText(g: GoalResult): string {
  return g.measured === null ? 'n/a' : withUnit(g.measured, g.unit);
}

export function targetText(g: GoalResult): string {
  return `${g.comparison} ${withUnit(g.target, g.unit)}`;
}

function goalRow(g: GoalResult): Cell[] {
  return [g.met ? 'MET' : 'MISSED', g.id, g.workload, measuredText(g), targetText(g), g.detail];
}

export function formatRun(run: BenchRun): string {
  const m = run.machine;
  const sections = [
    `kvm_exporter benchmark, ${run.mode} mode, ${run.startedAt}, ${run.seconds.toFixed(0)} s`,
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}, ${m.cc}`,
    `workers ran with ${run.nodeFlags.length === 0 ? "Node's default flags" : run.nodeFlags.join(' ')}`,
    '',
    "Exporter (medians in ms; calls per scrape of every collector; RSS in MB during the HTTP scrapes and at the worker's peak; KB of one OpenMetrics scrape)",
    table(
      ['workload', 'series', 'kvm calls', 'preads', 'scrape', 'counters', 'processes', 'render', 'http p50', 'http p99', 'stall', 'health p99', 'http MB', 'peak MB', 'KB', 'gzip KB'],
      productRows(run.workloads),
    ),
    '',
    'Baselines (counters: naive and C floor; processes: C floor; exposition: prom-client / ours, text 0.0.4 and OpenMetrics; medians in ms)',
    table(
      ['workload', 'naive calls', 'our calls', 'floor calls', 'fewer', 'naive', 'ours', 'floor', 'vs floor', 'procs', 'floor', 'vs floor', 'faster text', 'faster OM'],
      baselineRows(run.workloads),
    ),
    '',
    'Linearity (collection ms against the axis)',
    table(
      ['axis', 'points', 'ns per unit', 'intercept ms', 'R²', 'exponent', 'floor exponent'],
      run.linearity.map((f) => [
        f.unit,
        f.points.length,
        (f.slopeMsPerUnit * 1e6).toFixed(1),
        ms(f.interceptMs),
        f.r2.toFixed(4),
        f.growthExponent.toFixed(2),
        f.floorGrowthExponent.toFixed(2),
      ]),
    ),
    '',
    `Soak: ${run.soak.scrapes} HTTP scrapes of ${run.soak.workload} in ${run.soak.seconds.toFixed(0)} s, RSS ${run.soak.baselineRssMb.toFixed(1)} -> ${run.soak.finalRssMb.toFixed(1)} MB (${(run.soak.growth * 100).toFixed(2)}%), heap ${run.soak.heapUsedMb.baseline.toFixed(1)} -> ${run.soak.heapUsedMb.final.toFixed(1)} MB`,
    '',
    'Goals',
    table(['', 'goal', 'workload', 'measured', 'target', 'detail'], run.goals.map(goalRow)),
  ];
  return `${sections.join('\n')}\n`;
}

export const LATEST_FORMAT = 'kvm_exporter-bench-latest-1';

/** latest.json: the file name of the latest run of each mode, in the same folder. */
export interface LatestRuns {
  readonly format: typeof LATEST_FORMAT;
  readonly runs: Partial<Record<Mode, string>>;
}

export function runFileName(run: Pick<BenchRun, 'startedAt' | 'mode'>): string {
  return `${run.startedAt.slice(0, 10)}-${run.mode}.json`;
}

export function readLatest(dir: string): LatestRuns {
  const path = join(dir, 'latest.json');
  if (!existsSync(path)) return { format: LATEST_FORMAT, runs: {} };
  const latest = JSON.parse(readFileSync(path, 'utf8')) as Partial<LatestRuns>;
  if (latest.format !== LATEST_FORMAT || typeof latest.runs !== 'object' || latest.runs === null) {
    throw new Error(`${path}: expected {"format": "${LATEST_FORMAT}", "runs": {mode: file}}, got format ${JSON.stringify(latest.format)}`);
  }
  return { format: LATEST_FORMAT, runs: latest.runs };
}

/** The run latest.json names for `mode`, if any. */
export function readLatestRun(dir: string, mode: Mode): { file: string; run: BenchRun } | undefined {
  const file = readLatest(dir).runs[mode];
  return file === undefined ? undefined : { file, run: JSON.parse(readFileSync(join(dir, file), 'utf8')) as BenchRun };
}

/** Writes <date>-<mode>.json into `dir` and points latest.json's entry for the mode at it; returns both paths. */
export function writeRun(run: BenchRun, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const file = runFileName(run);
  const previous = readLatest(dir);
  const latest: LatestRuns = { format: LATEST_FORMAT, runs: { ...previous.runs, [run.mode]: file } };
  const paths = [join(dir, file), join(dir, 'latest.json')];
  writeFileSync(paths[0]!, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(paths[1]!, `${JSON.stringify(latest, null, 2)}\n`);
  return paths;
}
