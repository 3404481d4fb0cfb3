/**
 * Preloaded with `--require` into the exporter under load by bench/load.ts.
 * Node runs `--require` preloads in every thread (unlike `--import`), so this
 * is how the load driver sees the kernel thread's own heap, which
 * `process.memoryUsage()` on the main thread does not include: in a worker
 * thread it answers the main thread's probe (load-probe.ts) over a
 * BroadcastChannel with that thread's memory after a full GC. On the main
 * thread it does nothing. The channel is unref'd, so it never keeps a
 * thread alive.
 */
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

export const THREAD_PROBE_CHANNEL = 'kvm_exporter-load-probe';

export interface ThreadAsk {
  readonly id: number;
}

/** One worker thread's memory, bytes, after a full GC in that thread. */
export interface ThreadMemory {
  readonly id: number;
  readonly threadId: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

function answerAsks(): void {
  const channel = new BroadcastChannel(THREAD_PROBE_CHANNEL);
  channel.unref();
  channel.onmessage = (event) => {
    const { id } = (event as { data: ThreadAsk }).data;
    (globalThis as { gc?: () => void }).gc?.();
    const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
    channel.postMessage({ id, threadId, heapUsed, heapTotal, external, arrayBuffers } satisfies ThreadMemory);
  };
}

if (!isMainThread) answerAsks();
