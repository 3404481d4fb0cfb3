/**
 * Finds and runs Prometheus' promtool for the rule and dashboard tests.
 *
 * promtool is the reference parser and evaluator for PromQL and rule files;
 * a missing promtool must fail these tests loudly (never skip them), with
 * the command that installs it.
 */

import { spawnSync } from 'node:child_process';
import { findExecutable } from '../support/tools.js';

export interface PromtoolRun {
  readonly command: string;
  readonly status: number | null;
  readonly output: string;
}

/** promtool's absolute path, from PATH. */
export function findPromtool(): string {
  return findExecutable('promtool');
}

/** Runs promtool with `args` in `cwd`; stdout and stderr together, as a person would see them. */
export function runPromtool(args: readonly string[], cwd: string): PromtoolRun {
  const result = spawnSync(findPromtool(), args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    throw new Error(`promtool ${args.join(' ')} in ${cwd}: ${result.error.message}`);
  }
  return {
    command: `promtool ${args.join(' ')}`,
    status: result.status,
    output: `${result.stdout}${result.stderr}`,
  };
}
