/**
 * Preloaded into the real `kvm_exporter serve` process by bench/load.ts
 * (`node --expose-gc --import dist/bench/load-probe.js dist/src/cli.js serve ...`),
 * so the exporter under load is the product itself, not a copy of its
 * wiring. It answers the load driver over the IPC channel with what only
 * that process can see: its memory after a full garbage collection, and the
 * simulated libkvm's call counts (process-wide, so the exporter's own),
 * which tell how many collections the scrapes cost.
 *
 * The channel is unref'd: the probe never keeps the exporter alive, so
 * SIGTERM still ends it as in production.
 */
import { SimControl } from '../sim/control.js';

export interface ProbeRequest {
  readonly id: number;
  readonly ask: 'stats' | 'reset';
}

export interface ProbeReply {
  readonly id: number;
  /** Resident set size after a full GC, bytes. */
  readonly rss: number;
  readonly heapUsed: number;
  /** Calls per libkvm function since the last reset. */
  readonly calls: Record<string, number>;
}

function installProbe(libraryPath: string): void {
  const control = new SimControl(libraryPath);
  process.channel?.unref();
  process.on('message', (message: ProbeRequest) => {
    if (message.ask === 'reset') control.resetCallCounts();
    (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    const reply: ProbeReply = { id: message.id, rss: memory.rss, heapUsed: memory.heapUsed, calls: control.callCounts() };
    process.send?.(reply);
  });
}

const library = process.env.KVM_LOAD_PROBE_LIBRARY;
if (library !== undefined && process.send !== undefined) installProbe(library);
