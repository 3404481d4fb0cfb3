/**
 * The manifest written beside a simulated kernel image (<image>.json): every
 * symbol, every counter(9) handle and the per-CPU addresses, so tests and
 * the activity driver find them without parsing the image. 64-bit values
 * are hex strings, since JSON numbers stop at 2^53.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { manifestPath } from './format.js';
import type { JailArea } from './jails.js';

export interface ManifestSymbol {
  address: string;
  size: number;
  nType: number;
}

export interface ManifestCounter {
  /** "vm_cnt.v_swtch", "udpstat.udps_ipackets", "sfstat.sf_iocnt", "object_collapses", "extra.17". */
  name: string;
  /** Allocation order; plantedCounterValue(index, cpu) is its initial value. */
  index: number;
  /** The handle: an offset from __pcpu. */
  handle: string;
  /** Where the kernel keeps the handle (the address a reader nlists and reads). */
  holder: string;
}

export interface KernelManifest {
  format: 'kvmsim-manifest-1';
  image: string;
  live: boolean;
  cpus: number[];
  mpMaxcpus: number;
  mpMaxid: number;
  pcpuBase: string;
  /** struct pcpu address of every CPU id 0..mp_maxid, present or not. */
  pcpu: Record<string, string>;
  dpcpu: { start: string; stop: string; areas: Record<string, string> };
  /** All 0x0 on a kernel without options VIMAGE. */
  vnet: { vnet0: string; dataBase: string; start: string; stop: string };
  /** The jail slots (VIMAGE kernels). */
  jails?: JailArea;
  symbols: Record<string, ManifestSymbol>;
  counters: ManifestCounter[];
  counterSlabs: number;
  processes: number;
  threads: number;
  procCapacity: number;
  /** The `version` string the image holds in kernel memory. */
  version: string;
}

export function writeManifest(imagePath: string, manifest: KernelManifest): void {
  writeFileSync(manifestPath(imagePath), `${JSON.stringify(manifest, null, 2)}\n`);
}

export function readManifest(imagePath: string): KernelManifest {
  const path = manifestPath(imagePath);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as KernelManifest;
  if (parsed.format !== 'kvmsim-manifest-1') {
    throw new Error(`${path}: not a simulated kernel manifest (format ${String(parsed.format)})`);
  }
  return parsed;
}

export function symbolAddress(manifest: KernelManifest, name: string): bigint {
  const sym = manifest.symbols[name];
  if (sym === undefined) throw new RangeError(`${manifest.image}: the manifest has no symbol ${name}`);
  return BigInt(sym.address);
}

export function findCounter(manifest: KernelManifest, name: string): ManifestCounter {
  const counter = manifest.counters.find((c) => c.name === name);
  if (counter === undefined) throw new RangeError(`${manifest.image}: the manifest has no counter ${name}`);
  return counter;
}

export function counterHandle(manifest: KernelManifest, name: string): bigint {
  return BigInt(findCounter(manifest, name).handle);
}

/**
 * The value every freshly built kernel plants in counter `index` on CPU
 * `cpu`: distinct per counter and per CPU, and easy to sum by hand.
 */
export function plantedCounterValue(index: number, cpu: number): bigint {
  return BigInt(index + 1) * 1000n + BigInt(cpu + 1);
}

/** The pc_cp_time[mode] a freshly built kernel plants on CPU `cpu`. */
export function plantedCpTime(cpu: number, mode: number): bigint {
  return BigInt(cpu + 1) * 10_000n + BigInt(mode + 1) * 100n;
}

/** The DPCPU pcputicks a freshly built kernel plants on CPU `cpu`. */
export function plantedPcputicks(cpu: number): number {
  return 500_000 + cpu;
}
