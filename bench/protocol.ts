/**
 * How the benchmark's parent process and its workers talk: the job a worker
 * gets as its one argument (JSON), and the marker before the one JSON line
 * it prints as its result (anything else on stdout is ignored).
 */
import type { Effort } from './plan.js';

export const RESULT_MARKER = 'BENCH-RESULT ';

export type WorkerJob =
  | { readonly kind: 'measure'; readonly config: string; readonly counters: number; readonly effort: Effort }
  | { readonly kind: 'soak'; readonly config: string; readonly workload: string; readonly scrapes: number };

export type MeasureJob = Extract<WorkerJob, { kind: 'measure' }>;

/** The result line of a worker's stdout, parsed; throws naming the job if there is none. */
export function parseWorkerOutput<T>(stdout: string, what: string): T {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error(`${what}: the worker printed no ${RESULT_MARKER.trim()} line`);
  return JSON.parse(line.slice(RESULT_MARKER.length)) as T;
}
