/**
 * The C floor (bench/floor.c): compiled here with the system's cc against the
 * simulated libkvm (dist/libkvm-sim/libkvm.so.7, sim/libkvm/kvm.h), then
 * run on each workload's kernel, where it times its own minimal reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../src/version.js';
import { EXTRA_COUNTERS_SYMBOL, simLibraryPath } from './kernels.js';
import { callCounts } from './observe.js';
import type { FloorMeasurement } from './schema.js';

interface FloorOutput {
  readonly mode: 'counters' | 'processes';
  readonly calls: Record<string, number>;
  readonly iterations: number;
  readonly minMs: number;
  readonly medianMs: number;
  readonly checksum?: string;
  readonly pages?: number;
  readonly processStates?: number[];
  readonly threadStates?: number[];
}

/** Compiles bench/floor.c to dist/bench/floor and returns the binary's path. */
export function compileFloor(): string {
  const root = packageRoot();
  const outDir = join(root, 'dist', 'bench');
  mkdirSync(outDir, { recursive: true });
  const binary = join(outDir, 'floor');
  const library = simLibraryPath();
  const args = [
    '-O2', '-std=c11', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra', '-Werror',
    '-I', join(root, 'sim', 'libkvm'),
    '-o', binary,
    join(root, 'bench', 'floor.c'),
    library,
    `-Wl,-rpath,${join(root, 'dist', 'libkvm-sim')}`,
  ];
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`compiling bench/floor.c: ${cc} ${args.join(' ')} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
  return binary;
}

function runFloor(binary: string, args: readonly string[]): FloorOutput {
  try {
    return JSON.parse(execFileSync(binary, args, { encoding: 'utf8', maxBuffer: 1024 * 1024 })) as FloorOutput;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`${binary} ${args.join(' ')}: ${stderr.trim() || (error as Error).message}`, { cause: error });
  }
}

function toMeasurement(out: FloorOutput): FloorMeasurement {
  return {
    calls: callCounts(out.calls),
    timing: { iterations: out.iterations, minMs: out.minMs, medianMs: out.medianMs },
    ...(out.checksum !== undefined && { counterChecksum: out.checksum }),
    ...(out.pages !== undefined && { pages: out.pages }),
    ...(out.processStates !== undefined && { processStates: out.processStates }),
    ...(out.threadStates !== undefined && { threadStates: out.threadStates }),
  };
}

export function floorCounters(binary: string, image: string, counters: number, iterations: number): FloorMeasurement {
  return toMeasurement(runFloor(binary, ['counters', image, EXTRA_COUNTERS_SYMBOL, String(counters), String(iterations)]));
}

export function floorProcesses(binary: string, image: string, iterations: number): FloorMeasurement {
  return toMeasurement(runFloor(binary, ['processes', image, String(iterations)]));
}
