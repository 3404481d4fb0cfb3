/**
 * Entry point run by `npm run build`: writes the demo kernel that
 * `kvm_exporter demo` and config/demo.yml read, dist/demo/kernel.img with
 * its control file and manifest, and dist/demo/kernel, its execfile with
 * CTF. A running FreeBSD 13+ amd64 server with 8 CPUs (dense ids, MAXCPU
 * 256), about 150 processes and 400 threads in the host and jails 1 and 2 (web and app, each with its own network stack;
 * jail 3, build, shares the host's). Usage: node dist/sim/image/demo-image.js [path]
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { packageRoot } from '../../src/version.js';
import { buildFreeBsdKernel } from './freebsd-kernel.js';
import { writeSimKernelFile } from './kernel-ctf.js';
import { generateProcesses } from './process-table.js';

export const DEMO_CPUS = [0, 1, 2, 3, 4, 5, 6, 7];
export const DEMO_SEED = 'demo';
/** The demo's jails: web and app (the process table's jids 1 and 2) with stacks of their own, build sharing the host's. */
export const DEMO_JAILS = [
  { jid: 1, name: 'web', vnet: true },
  { jid: 2, name: 'app', vnet: true },
  { jid: 3, name: 'build', vnet: false },
] as const;

/** dist/demo/kernel.img in the package. */
export function defaultDemoImagePath(): string {
  return join(packageRoot(), 'dist', 'demo', 'kernel.img');
}

/** The demo kernel's execfile (ELF with CTF), beside its image: `kernel` in the same folder. */
export function demoKernelFile(imagePath: string): string {
  return join(dirname(imagePath), 'kernel');
}

export function writeDemoImage(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const processes = generateProcesses({ cpus: DEMO_CPUS.length, count: 150, seed: DEMO_SEED });
  const manifest = buildFreeBsdKernel(path, { cpus: DEMO_CPUS, mpMaxcpus: 256, live: true, processes, jails: DEMO_JAILS });
  writeSimKernelFile(demoKernelFile(path), manifest);
  process.stdout.write(
    `demo kernel: ${path} (${manifest.cpus.length} CPUs, ${manifest.processes} processes, ${manifest.threads} threads, ${manifest.counters.length} counters)\n`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeDemoImage(resolve(process.argv[2] ?? defaultDemoImagePath()));
}
