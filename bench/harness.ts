/**
 * Runs a benchmark plan: compiles the C floor, builds each workload's
 * simulated kernel, measures it in a fresh worker process (the exporter,
 * the naive strategy, prom-client), runs the floor on the same kernel, then
 * the RSS soak, and evaluates the goals. Measurements never overlap: one
 * process works at a time, so the 2 cores of a small VM are not shared.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../src/version.js';
import { compileFloor, floorCounters, floorProcesses } from './floor.js';
import { evaluateGoals, fitAxes } from './goals.js';
import { KernelFolder, type BuiltKernel } from './kernels.js';
import { machineFacts } from './machine.js';
import type { BenchPlan, Workload } from './plan.js';
import { parseWorkerOutput, type WorkerJob } from './protocol.js';
import type { BenchRun, FloorMeasurement, SoakResult, WorkerResult, WorkloadResult } from './schema.js';

export interface RunOptions {
  readonly plan: BenchPlan;
  /** Only these workload ids (the soak's workload is built for the soak regardless). */
  readonly only?: readonly string[];
  /** Overrides the plan's number of soak scrapes. */
  readonly soakScrapes?: number;
  /** Node.js flags for the worker processes, e.g. --max-semi-space-size=64 (none: the exporter as shipped). */
  readonly nodeFlags?: readonly string[];
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
}

/** Floor iterations: the plan's number, fewer for big process tables (each is two full kvm_getprocs copies). */
function floorIterations(plan: BenchPlan, kernel: BuiltKernel): { counters: number; processes: number } {
  const max = plan.effort.floorIterations;
  return { counters: max, processes: Math.min(max, Math.max(5, Math.floor(2_000_000 / Math.max(1, kernel.manifest.threads)))) };
}

export function workerScript(): string {
  const script = join(packageRoot(), 'dist', 'bench', 'worker.js');
  if (!existsSync(script)) throw new Error(`${script} does not exist: run \`npm run build\` first`);
  return script;
}

/** Runs one worker process to completion and returns its parsed result. */
export function runWorker<T>(job: WorkerJob, what: string, nodeFlags: readonly string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    // The soak samples RSS after a full GC; nothing else changes how V8 runs the exporter.
    const flags = job.kind === 'soak' ? [...nodeFlags, '--expose-gc'] : nodeFlags;
    const child = spawn(process.execPath, [...flags, workerScript(), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`bench worker for ${what} exited with ${signal ?? code}: ${stderr.trim().split('\n').slice(-8).join('\n')}`));
        return;
      }
      try {
        resolve(parseWorkerOutput<T>(stdout, what));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function sameNumbers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

function combine(
  workload: Workload,
  kernel: BuiltKernel,
  worker: WorkerResult,
  floor: { counters: FloorMeasurement; processes: FloorMeasurement },
): WorkloadResult {
  const observed = worker.product.observed;
  return {
    workload,
    kernel: { ...kernel.manifest, buildSeconds: kernel.buildSeconds },
    ...worker,
    floor,
    agreement: {
      naive: worker.naive.counterChecksum === observed.counterChecksum,
      floorCounters: floor.counters.counterChecksum === observed.counterChecksum,
      floorProcesses: sameNumbers(floor.processes.processStates, observed.processStates) && sameNumbers(floor.processes.threadStates, observed.threadStates),
    },
  };
}

async function measureWorkload(plan: BenchPlan, kernel: BuiltKernel, floorBinary: string, nodeFlags: readonly string[]): Promise<WorkloadResult> {
  const { workload } = kernel;
  const worker = await runWorker<WorkerResult>(
    { kind: 'measure', config: kernel.config, counters: workload.counters, effort: plan.effort },
    workload.id,
    nodeFlags,
  );
  const iterations = floorIterations(plan, kernel);
  const floor = {
    counters: floorCounters(floorBinary, kernel.image, workload.counters, iterations.counters),
    processes: floorProcesses(floorBinary, kernel.image, iterations.processes),
  };
  return combine(workload, kernel, worker, floor);
}

export async function runBench(options: RunOptions): Promise<BenchRun> {
  const { plan } = options;
  const nodeFlags = options.nodeFlags ?? [];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAt = new Date();
  const started = performance.now();
  const floorBinary = compileFloor();
  const folder = new KernelFolder();
  try {
    const chosen = plan.workloads.filter((w) => options.only === undefined || options.only.includes(w.id));
    const results: WorkloadResult[] = [];
    let soakKernel: BuiltKernel | undefined;
    for (const workload of chosen) {
      log(`[bench] ${workload.id}: building the kernel`);
      const kernel = folder.build(workload);
      log(`[bench] ${workload.id}: measuring (kernel built in ${kernel.buildSeconds.toFixed(1)} s)`);
      results.push(await measureWorkload(plan, kernel, floorBinary, nodeFlags));
      if (workload.id === plan.soak.workload) soakKernel = kernel;
      else folder.discard(kernel);
    }
    soakKernel ??= folder.build(soakWorkload(plan));
    const scrapes = options.soakScrapes ?? plan.soak.scrapes;
    log(`[bench] soak: ${scrapes} HTTP scrapes of ${plan.soak.workload}`);
    const soak = await runWorker<SoakResult>({ kind: 'soak', config: soakKernel.config, workload: plan.soak.workload, scrapes }, 'soak', nodeFlags);
    const linearity = fitAxes(results);
    return {
      format: 'kvm_exporter-bench-2',
      mode: plan.mode,
      startedAt: startedAt.toISOString(),
      seconds: (performance.now() - started) / 1000,
      machine: machineFacts(),
      nodeFlags: [...nodeFlags],
      plan: { effort: plan.effort, soak: { ...plan.soak, scrapes }, goalWorkloads: plan.goalWorkloads },
      workloads: results,
      soak,
      linearity,
      goals: evaluateGoals(plan, results, soak, linearity),
    };
  } finally {
    folder.remove();
  }
}

function soakWorkload(plan: BenchPlan): Workload {
  const workload = plan.workloads.find((w) => w.id === plan.soak.workload);
  if (workload === undefined) throw new Error(`the soak workload ${plan.soak.workload} is not in the ${plan.mode} plan`);
  return workload;
}
