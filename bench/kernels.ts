/**
 * The simulated kernel and exporter config of one workload: a FreeBSD 13+
 * amd64 image from buildFreeBsdKernel with the workload's CPUs, its extra
 * counter(9) handles (clustered or scattered) and a process table from
 * generateProcesses, plus a config that exports every extra handle per CPU
 * and counts the processes; a workload with vnets also gets that many
 * network stacks (jails with a stack of their own, and the host's) and the
 * freebsd-14-amd64 preset's `vnet: true` entries read in each. The images
 * live in one temporary folder per run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildFreeBsdKernel } from '../sim/image/freebsd-kernel.js';
import type { JailSpec } from '../sim/image/jails.js';
import type { KernelManifest } from '../sim/image/manifest.js';
import { generateProcesses } from '../sim/image/process-table.js';
import { recordCount } from '../sim/image/kinfo.js';
import { packageRoot } from '../src/version.js';
import type { Config } from '../src/config/types.js';
import { KvmSession } from '../src/kvm/index.js';
import type { Workload } from './plan.js';

/** The kernel array holding the extra handles (sim/image/freebsd-kernel.ts). */
export const EXTRA_COUNTERS_SYMBOL = 'kvmsim_extra_counters';
/** The metric stem of the extra counters: kvm_extra_c<i>_total, kvm_extra_c<i>_percpu_total{cpu}. */
export const EXTRA_COUNTERS_NAME = 'extra';
/** MAXCPU of amd64 13.x; bigger workloads raise it to their CPU count. */
const DEFAULT_MAXCPUS = 256;
/** Seed of the process table (a 4-character xorshift tag), so every run reads the same table. */
const PROCESS_SEED = 'bnch';

/**
 * A handle of its own on a workload's kernel, and the handles of its first
 * `count` extra counters, for the baselines that read them without the
 * exporter.
 */
export function openExtraCounters(config: Config, count: number): { session: KvmSession; handles: bigint[] } {
  const { library, execfile, corefile } = config.kvm;
  const session = KvmSession.open({ library, execfile, corefile });
  const raw = Buffer.alloc(count * 8);
  session.read(session.lookup(EXTRA_COUNTERS_SYMBOL).address, raw);
  return { session, handles: Array.from({ length: count }, (_, i) => raw.readBigUInt64LE(i * 8)) };
}

export function simLibraryPath(): string {
  return join(packageRoot(), 'dist', 'libkvm-sim', 'libkvm.so.7');
}

export interface BuiltKernel {
  readonly workload: Workload;
  readonly image: string;
  readonly config: string;
  readonly manifest: Pick<KernelManifest, 'counterSlabs' | 'processes' | 'threads'>;
  /** Seconds the image took to build (not part of any measurement). */
  readonly buildSeconds: number;
}

export class KernelFolder {
  readonly dir = mkdtempSync(join(tmpdir(), 'kvm_exporter-bench-'));

  build(workload: Workload): BuiltKernel {
    const started = performance.now();
    const image = join(this.dir, `${workload.id}.img`);
    const cpus = Array.from({ length: workload.cpus }, (_, i) => i);
    const processes = generateProcesses({ cpus: workload.cpus, count: workload.processes, seed: PROCESS_SEED });
    const manifest = buildFreeBsdKernel(image, {
      cpus,
      mpMaxcpus: Math.max(DEFAULT_MAXCPUS, workload.cpus),
      processes,
      // The default 4x headroom would make a 100k-process image 1 GB.
      procCapacity: Math.max(1024, recordCount(processes)),
      extraCounters: { count: workload.counters, layout: workload.layout },
      jails: vnetJails(workload.vnets ?? 0),
    });
    const config = join(this.dir, `${workload.id}.yml`);
    writeFileSync(config, configText(image, workload.counters, workload.vnets !== undefined));
    const { counterSlabs, processes: nprocs, threads } = manifest;
    return {
      workload,
      image,
      config,
      manifest: { counterSlabs, processes: nprocs, threads },
      buildSeconds: (performance.now() - started) / 1000,
    };
  }

  /** Deletes one workload's image once it has been measured (a 100k-process image is 270 MB). */
  discard(kernel: BuiltKernel): void {
    for (const file of [kernel.image, `${kernel.image}.ctl`, `${kernel.image}.json`, kernel.config]) rmSync(file, { force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The extra counters' element names: c0, c1, ... */
export function elementNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `c${i}`);
}

/** The jails of a workload with `vnets` network stacks: every one but the host's is a jail's own (jid 1, 2, ...). */
function vnetJails(vnets: number): JailSpec[] {
  return Array.from({ length: Math.max(0, vnets - 1) }, (_, i) => ({ jid: i + 1, name: `jail${i + 1}`, vnet: true }));
}

/**
 * Every extra handle per CPU, the processes collector with its defaults, and
 * the cheap cpus and loadavg collectors; nothing else, so each workload
 * measures exactly its two axes. With `vnets`, the freebsd-14-amd64 preset
 * (its layouts, vm_cnt and the vnet: true entries) and the vnet collector
 * too.
 */
export function configText(image: string, counters: number, vnets = false): string {
  return [
    ...(vnets ? ['preset: freebsd-14-amd64'] : []),
    'kvm:',
    `  library: ${JSON.stringify(simLibraryPath())}`,
    `  corefile: ${JSON.stringify(image)}`,
    `collectors: { cpus: true, counters: true, processes: true, loadavg: true, variables: false, dpcpu: false, pcpu: false${vnets ? ', vnet: true' : ''} }`,
    'counters:',
    `  - name: ${EXTRA_COUNTERS_NAME}`,
    '    help: Benchmark counter(9) handles',
    `    symbol: ${EXTRA_COUNTERS_SYMBOL}`,
    '    per_cpu: true',
    `    array: [${elementNames(counters).join(', ')}]`,
    '',
  ].join('\n');
}
