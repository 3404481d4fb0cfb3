/**
 * A run as people read it (plain-text tables on stdout) and as tools read it
 * (JSON in bench/results/: latest.json and a copy named by date and mode).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
    p.http.peakRssMb.toFixed(0),
    p.peakRssMb.toFixed(0),
    kb(p.http.bytes),
    kb(p.http.gzipBytes),
  ]);
}

function baselineRows(results: readonly WorkloadResult[]): Cell[][] {
  return results.map(({ workload: w, product: p, naive, floor, promClient }) => [
    w.id,
    naive.calls.kvm,
    p.calls.countersOnly.kvm,
    floor.counters.calls.kvm,
    times(naive.calls.kvm, p.calls.countersOnly.kvm),
    ms(naive.collection.medianMs),
    ms(p.collection.countersOnly.medianMs),
    ms(floor.counters.timing.medianMs),
    times(p.collection.countersOnly.medianMs, floor.counters.timing.medianMs),
    ms(p.collection.processesOnly.medianMs),
    ms(floor.processes.timing.medianMs),
    times(p.collection.processesOnly.medianMs, floor.processes.timing.medianMs),
    ms(promClient.timing.medianMs),
    ms(promClient.oursTiming.medianMs),
    times(promClient.timing.medianMs, promClient.oursTiming.medianMs),
  ]);
}

function withUnit(value: number, unit: string): string {
  const text = Number.isInteger(value) ? String(value) : value.toFixed(2);
  return unit === 'x' ? `${text}x` : `${text} ${unit}`;
}

function goalRow(g: GoalResult): Cell[] {
  const measured = g.measured === null ? 'n/a' : withUnit(g.measured, g.unit);
  return [g.met ? 'MET' : 'MISSED', g.id, g.workload, measured, `${g.comparison} ${withUnit(g.target, g.unit)}`, g.detail];
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
      ['workload', 'series', 'kvm calls', 'preads', 'scrape', 'counters', 'processes', 'render', 'http p50', 'http p99', 'stall', 'http MB', 'peak MB', 'KB', 'gzip KB'],
      productRows(run.workloads),
    ),
    '',
    'Baselines (counters: naive and C floor; processes: C floor; exposition: prom-client; medians in ms)',
    table(
      ['workload', 'naive calls', 'our calls', 'floor calls', 'fewer', 'naive', 'ours', 'floor', 'vs floor', 'procs', 'floor', 'vs floor', 'prom-client', 'render', 'faster'],
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

/** Writes latest.json and <date>-<mode>.json into `dir`; returns their paths. */
export function writeRun(run: BenchRun, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(run, null, 2)}\n`;
  const paths = [join(dir, 'latest.json'), join(dir, `${run.startedAt.slice(0, 10)}-${run.mode}.json`)];
  for (const path of paths) writeFileSync(path, text);
  return paths;
}
