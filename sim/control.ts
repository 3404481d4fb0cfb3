/**
 * The simulated libkvm's instrumentation, for benchmarks and tests: the
 * process-wide call counts (every exported kvm_* function, and pread(2) of
 * image data) and the reset of the process-wide per-CPU cache that
 * FreeBSD's kvm_pcpu.c keeps in static storage (sim/README.md).
 *
 * It loads the library with koffi only for these kvmsim_* functions; being
 * the same path, dlopen(3) hands back the library the exporter's binding
 * already loaded, so the counts are the exporter's own. This is the one
 * file outside src/kvm allowed to import koffi; nothing in the exporter
 * uses it.
 */
import { join } from 'node:path';

import koffi, { type LibraryHandle } from 'koffi';

import { packageRoot } from '../src/version.js';

/** The built simulator, dist/libkvm-sim/libkvm.so.7 in the package. */
export function defaultSimLibraryPath(): string {
  return join(packageRoot(), 'dist', 'libkvm-sim', 'libkvm.so.7');
}

export type SimCallCounts = Record<string, number>;

export class SimControl {
  private readonly lib: LibraryHandle;
  private readonly statsCount: () => number;
  private readonly statsName: (i: number) => string | null;
  private readonly statsGet: (out: BigUint64Array, n: number) => number;
  private readonly statsReset: () => void;
  private readonly resetCache: () => void;

  constructor(readonly libraryPath: string = defaultSimLibraryPath()) {
    try {
      this.lib = koffi.load(libraryPath);
      this.statsCount = this.lib.func('int kvmsim_stats_count(void)');
      this.statsName = this.lib.func('const char *kvmsim_stats_name(int i)');
      this.statsGet = this.lib.func('int kvmsim_stats_get(_Out_ uint64_t *out, int n)');
      this.statsReset = this.lib.func('void kvmsim_stats_reset(void)');
      this.resetCache = this.lib.func('void kvmsim_reset_pcpu_cache(void)');
    } catch (err) {
      throw new Error(`${libraryPath}: not the simulated libkvm (${(err as Error).message})`, { cause: err });
    }
  }

  /** Calls per function since the last reset, by C function name ("kvm_read", "pread", ...). */
  callCounts(): SimCallCounts {
    const n = this.statsCount();
    const values = new BigUint64Array(n);
    const got = this.statsGet(values, n);
    const counts: SimCallCounts = {};
    for (let i = 0; i < got; i++) counts[this.statsName(i) ?? `#${i}`] = Number(values[i]);
    return counts;
  }

  resetCallCounts(): void {
    this.statsReset();
  }

  /** Forgets the per-CPU cache (mp_ncpus and __pcpu included), before opening a kernel of another shape. */
  resetPcpuCache(): void {
    this.resetCache();
  }
}
