/**
 * Helpers for the CLI tests: configs with a full kvm section (execfile
 * included, which TestKernel.writeConfig leaves out), the built CLI run on
 * a test kernel, and promtool's verdict on a scrape.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SIM_LIBRARY, type TestKernel } from '../support/sim.js';

/** Writes a config whose kvm section names the library, the corefile and (if given) the execfile. */
export function writeKvmConfig(kernel: TestKernel, body: string, kvm: { corefile?: string; execfile?: string }, name = 'cli.yml'): string {
  const lines = [`kvm:`, `  library: ${JSON.stringify(SIM_LIBRARY)}`, `  corefile: ${JSON.stringify(kvm.corefile ?? kernel.image)}`];
  if (kvm.execfile !== undefined) lines.push(`  execfile: ${JSON.stringify(kvm.execfile)}`);
  const file = join(kernel.dir, name);
  writeFileSync(file, `${lines.join('\n')}\n${body}`);
  return file;
}

export interface PromtoolVerdict {
  readonly code: number | null;
  readonly output: string;
}

/** `promtool check metrics` on `exposition`; fails (never skips) when promtool is missing. */
export function promtoolCheckMetrics(exposition: string): PromtoolVerdict {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (result.error) {
    throw new Error(`promtool is needed to check the exposition (apt-get install prometheus): ${result.error.message}`);
  }
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}
