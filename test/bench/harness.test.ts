/**
 * The benchmark harness itself, not the exporter's speed: the smoke plan runs
 * through runBench, the code path `npm run bench -- --quick` takes (C floor
 * compiled and run, kernels built, worker processes, naive strategy,
 * prom-client, HTTP scrapes, soak, goals), and the run must hold a number
 * for every measurement and baseline, agree across strategies on what the
 * kernel holds, and have the documented JSON shape, as must every run
 * committed in bench/results/.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { runBench } from '../../bench/harness.js';
import { planFor, smokePlan } from '../../bench/plan.js';
import { LATEST_FORMAT, readLatest, readLatestRun, writeRun } from '../../bench/report.js';
import type { BenchRun } from '../../bench/schema.js';
import { ROOT } from '../support/sim.js';

const positive = z.number().positive().finite();
const count = z.number().int().nonnegative();
const timing = z.strictObject({ samples: z.number().int().positive(), minMs: positive, medianMs: positive, p99Ms: positive, maxMs: positive });
const calls = z.strictObject({ kvm: count, pread: count, byFunction: z.record(z.string(), count) });
const floor = z.strictObject({
  calls,
  timing: z.strictObject({ iterations: z.number().int().positive(), minMs: z.number().nonnegative(), medianMs: z.number().nonnegative() }),
  counterChecksum: z.string().regex(/^\d+$/).optional(),
  processStates: z.array(count).length(8).optional(),
  threadStates: z.array(count).length(8).optional(),
  pages: z.number().int().positive().optional(),
});
const workloadResult = z.strictObject({
  workload: z.strictObject({
    id: z.string(),
    cpus: z.number().int().positive(),
    counters: z.number().int().positive(),
    layout: z.enum(['clustered', 'scattered']),
    processes: z.number().int().positive(),
    /** Network stacks, the host's included (the jails workload only). */
    vnets: z.number().int().positive().optional(),
    axes: z.array(z.enum(['cpus-x-counters', 'scattered', 'processes'])),
  }),
  kernel: z.strictObject({ counterSlabs: z.number().int().positive(), processes: count, threads: count, buildSeconds: z.number().nonnegative() }),
  product: z.strictObject({
    series: z.number().int().positive(),
    families: z.number().int().positive(),
    calls: z.strictObject({ scrape: calls, countersOnly: calls, processesOnly: calls }),
    collection: z.strictObject({ scrape: timing, countersOnly: timing, countersCollector: timing.optional(), processesOnly: timing, collectorMedianMs: z.record(z.string(), z.number().nonnegative()) }),
    exposition: z.strictObject({ timing, bytes: z.number().int().positive() }),
    http: z.strictObject({
      latency: timing,
      bytes: z.number().int().positive(),
      gzipBytes: z.number().int().positive(),
      contentType: z.string(),
      maxEventLoopStallMs: positive,
      peakRssMb: positive,
      // The 2026-12-03 run counted a poll whose timer fired early from when it was due: its minMs is -0.04.
      healthDuringScrape: timing.extend({ minMs: z.number().finite() }),
    }),
    peakRssMb: positive,
    observed: z.strictObject({ counterChecksum: z.string().regex(/^\d+$/), processStates: z.array(count).length(8), threadStates: z.array(count).length(8) }),
  }),
  naive: z.strictObject({ calls, collection: timing, counterChecksum: z.string().regex(/^\d+$/) }),
  readsOnly: z.strictObject({ calls, collection: timing }),
  promClient: z.strictObject({
    text: z.strictObject({ timing, oursTiming: timing, identical: z.boolean() }),
    openMetrics: z.strictObject({ timing, oursTiming: timing, identical: z.boolean() }),
  }),
  floor: z.strictObject({ counters: floor, processes: floor }),
  agreement: z.strictObject({ naive: z.boolean(), floorCounters: z.boolean(), floorProcesses: z.boolean() }),
});
const repeat = z.strictObject({ min: z.number().int().positive(), max: z.number().int().positive(), budgetMs: positive });
const benchRun = z.strictObject({
  format: z.literal('kvm_exporter-bench-2'),
  mode: z.enum(['full', 'quick', 'smoke']),
  startedAt: z.iso.datetime(),
  seconds: positive,
  machine: z.strictObject({
    cpuModel: z.string().min(1),
    cores: z.number().int().positive(),
    memoryGb: positive,
    os: z.string().min(1),
    node: z.string().regex(/^v\d+\./),
    cc: z.string().min(1),
    versions: z.record(z.string(), z.string()),
  }),
  nodeFlags: z.array(z.string()),
  plan: z.strictObject({
    effort: z.strictObject({
      warmup: repeat,
      collection: repeat,
      exposition: repeat,
      http: repeat,
      health: z.strictObject({ scrapes: z.number().int().positive(), polls: z.number().int().positive(), budgetMs: positive }),
      naive: repeat,
      floorIterations: z.number().int().positive(),
    }),
    soak: z.strictObject({ workload: z.string(), scrapes: z.number().int().positive() }),
    goalWorkloads: z.strictObject({
      counters: z.string(),
      countersLarge: z.string(),
      cpusLow: z.string(),
      cpusHigh: z.string(),
      exposition: z.string(),
      processes: z.string(),
    }),
  }),
  workloads: z.array(workloadResult).min(1),
  soak: z.strictObject({
    workload: z.string(),
    scrapes: z.number().int().positive(),
    seconds: positive,
    sampleEvery: z.number().int().positive(),
    rssMb: z.array(positive).min(1),
    baselineRssMb: positive,
    finalRssMb: positive,
    peakRssMb: positive,
    growth: z.number().finite(),
    heapUsedMb: z.strictObject({ baseline: positive, final: positive }),
  }),
  linearity: z.array(
    z.strictObject({
      axis: z.string(),
      unit: z.string(),
      points: z.array(z.strictObject({ workload: z.string(), x: positive, ms: positive, floorMs: z.number().nonnegative(), kvmCalls: count })).min(2),
      slopeMsPerUnit: z.number().finite(),
      interceptMs: z.number().finite(),
      r2: z.number().min(0).max(1),
      growthExponent: z.number().finite(),
      floorGrowthExponent: z.number().finite(),
    }),
  ),
  goals: z.array(
    z.strictObject({
      id: z.string(),
      description: z.string(),
      workload: z.string(),
      measured: z.number().finite().nullable(),
      target: z.number().finite(),
      comparison: z.enum(['>=', '<=', '<']),
      unit: z.string(),
      met: z.boolean(),
      detail: z.string(),
    }),
  ),
});

const GOAL_IDS = [
  'health-during-process-scrape',
  'calls-independent-of-cpus',
  'calls-vs-naive',
  'collection-vs-floor',
  'collection-vs-floor-large',
  'linear-cpus-x-counters',
  'exposition-vs-prom-client',
  'http-event-loop-stall',
  'processes-vs-floor',
  'rss-flat',
  'linear-processes',
];

describe('the benchmark harness on the smoke plan', () => {
  let run: BenchRun;
  let out: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'kvm_exporter-bench-test-'));
    run = await runBench({ plan: smokePlan(), log: () => undefined });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs the quick path: the smoke plan differs from --quick only in its workloads and effort', () => {
    const quick = planFor('quick');
    const smoke = smokePlan();
    expect(Object.keys(smoke).sort()).toEqual(Object.keys(quick).sort());
    expect(Object.keys(smoke.effort).sort()).toEqual(Object.keys(quick.effort).sort());
    expect(run.workloads.map((w) => w.workload.id)).toEqual(smoke.workloads.map((w) => w.id));
  });

  it('has the documented shape, in memory and as written to <date>-<mode>.json, which latest.json names', () => {
    expect(() => benchRun.parse(run)).not.toThrow();
    writeFileSync(join(out, 'latest.json'), JSON.stringify({ format: LATEST_FORMAT, runs: { full: 'kept.json' } }));
    const paths = writeRun(run, out);
    const file = `${run.startedAt.slice(0, 10)}-smoke.json`;
    expect(paths.map((p) => p.slice(out.length + 1))).toEqual([file, 'latest.json']);
    expect(JSON.parse(readFileSync(join(out, file), 'utf8'))).toEqual(JSON.parse(JSON.stringify(run)));
    expect(readLatest(out).runs).toEqual({ full: 'kept.json', smoke: file });
    expect(readLatestRun(out, 'smoke')?.run).toEqual(JSON.parse(JSON.stringify(run)));
  });

  it('every baseline produced a number for every workload', () => {
    for (const w of run.workloads) {
      const what = w.workload.id;
      expect(w.naive.collection.medianMs, `${what} naive`).toBeGreaterThan(0);
      expect(w.readsOnly.collection.medianMs, `${what} reads only`).toBeGreaterThan(0);
      expect(w.floor.counters.timing.medianMs, `${what} floor counters`).toBeGreaterThan(0);
      expect(w.floor.processes.timing.medianMs, `${what} floor processes`).toBeGreaterThan(0);
      for (const format of ['text', 'openMetrics'] as const) {
        expect(w.promClient[format].timing.medianMs, `${what} prom-client ${format}`).toBeGreaterThan(0);
        expect(w.promClient[format].oursTiming.medianMs, `${what} render.ts beside prom-client ${format}`).toBeGreaterThan(0);
      }
      expect(w.product.http.healthDuringScrape.samples, `${what} health polls`).toBeGreaterThanOrEqual(smokePlan().effort.health.polls);
    }
  });

  it('the strategies agree on what the kernel holds: counter sums and process states', () => {
    for (const w of run.workloads) expect(w.agreement, w.workload.id).toEqual({ naive: true, floorCounters: true, floorProcesses: true });
  });

  it('counts calls as each strategy defines them', () => {
    for (const { workload, naive, floor, product, kernel } of run.workloads) {
      const fn = (c: { byFunction: Record<string, number> }, name: string) => c.byFunction[name] ?? 0;
      expect(fn(naive.calls, 'kvm_counter_u64_fetch'), workload.id).toBe(workload.counters);
      expect(fn(naive.calls, 'kvm_read_zpcpu'), workload.id).toBeGreaterThanOrEqual(workload.counters * workload.cpus);
      expect(fn(floor.counters.calls, 'kvm_read_zpcpu'), workload.id).toBe(floor.counters.pages!);
      expect(floor.counters.calls.kvm, workload.id).toBe(floor.counters.pages!);
      expect(fn(floor.processes.calls, 'kvm_getprocs'), workload.id).toBe(2);
      expect(fn(product.calls.processesOnly, 'kvm_getprocs'), workload.id).toBe(2);
      expect(product.calls.countersOnly.kvm, workload.id).toBeLessThan(naive.calls.kvm);
      // generateProcesses may include one embryonic (SIDL) process, which kvm_getprocs never returns.
      expect(kernel.processes - product.observed.processStates.reduce((a, b) => a + b, 0), workload.id).toBeOneOf([0, 1]);
    }
  });

  it('evaluates every goal with a measured number, and fits every axis with two or more points', () => {
    expect(run.goals.map((g) => g.id)).toEqual(GOAL_IDS);
    for (const goal of run.goals) expect(goal.measured, goal.id).not.toBeNull();
    expect(run.linearity.map((f) => f.axis)).toEqual(['cpus-x-counters', 'processes']);
    expect(run.soak.scrapes).toBe(smokePlan().soak.scrapes);
    expect(run.soak.rssMb.length).toBe(run.soak.scrapes / run.soak.sampleEvery);
  });
});

describe('committed runs in bench/results', () => {
  const dir = join(ROOT, 'bench', 'results');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'latest.json');

  it('latest.json names a committed full run, and a committed run of each mode it lists', () => {
    const latest = readLatest(dir);
    expect(latest.runs.full).toBeDefined();
    for (const [mode, file] of Object.entries(latest.runs)) {
      expect(files, mode).toContain(file);
      expect(file, mode).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}-${mode}\\.json$`));
      expect(readLatestRun(dir, mode as 'full' | 'quick')?.run.mode, file).toBe(mode);
    }
  });

  it.each(files)('%s has the documented shape', (file) => {
    expect(() => benchRun.parse(JSON.parse(readFileSync(join(dir, file), 'utf8')))).not.toThrow();
  });
});
