/**
 * Test support: the outside programs some tests need (promtool, prometheus),
 * found on PATH. A missing one fails the test with the command that installs
 * it: these tests never skip.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** An executable on PATH, or an error that says how to install it. */
export function findExecutable(name: string, installHint = 'apt-get install prometheus'): string {
  const folders = (process.env.PATH ?? '').split(delimiter).filter((folder) => folder !== '');
  for (const folder of folders) {
    const candidate = join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder; the next one may have it.
    }
  }
  throw new Error(`${name} not found on PATH (${folders.join(delimiter)}): install it with \`${installHint}\``);
}

/** `promtool check metrics` on an exposition: its exit status and what it printed. */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const result = spawnSync(findExecutable('promtool'), ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
