/**
 * The machine and software a run was measured on, stored with its results:
 * numbers from a 2-core VM and from a 64-core server are not comparable.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';

import { REVISION, VERSION, packageRoot } from '../src/version.js';
import type { MachineFacts } from './schema.js';

const PACKAGES = ['koffi', 'prom-client', 'express', 'typescript'] as const;

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function compilerVersion(): string {
  try {
    return execFileSync(process.env.CC ?? 'cc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

export function machineFacts(): MachineFacts {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${osType()} ${release()} ${process.arch}`,
    node: process.version,
    cc: compilerVersion(),
    versions: {
      kvm_exporter: `${VERSION} (${REVISION})`,
      ...Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
    },
  };
}
