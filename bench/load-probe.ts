/**
 * Preloaded into the real `kvm_exporter serve` process by bench/load.ts
 * (`node --expose-gc --import dist/bench/load-probe.js dist/src/cli.js serve ...`),
 * so the exporter under load is the product itself, not a copy of its
 * wiring. It answers the load driver over the IPC channel with what only
 * that process can see: its memory after a full garbage collection, and the
 * simulated libkvm's call counts (process-wide, so the exporter's own),
 * which tell how many collections the scrapes cost. The kernel thread's heap
 * is not in this thread's `process.memoryUsage()`: load-thread-probe.cts,
 * preloaded into every thread, reports it over a BroadcastChannel.
 *
 * The channel is unref'd: the probe never keeps the exporter alive, so
 * SIGTERM still ends it as in production.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { SimControl } from '../sim/control.js';
import { THREAD_PROBE_CHANNEL, type ThreadAsk, type ThreadMemory } from './load-thread-probe.cjs';

export interface ProbeRequest {
  readonly id: number;
  readonly ask: 'stats' | 'reset';
}

export interface ProbeReply {
  readonly id: number;
  /** Resident set size after a full GC, bytes. */
  readonly rss: number;
  readonly heapUsed: number;
  /** Buffers and other memory outside the V8 heap (arrayBuffers is the part held by ArrayBuffers). */
  readonly external: number;
  readonly arrayBuffers: number;
  /** Every worker thread that answered (the kernel thread, and any abandoned one still alive). */
  readonly threads: readonly ThreadMemory[];
  /** Calls per libkvm function since the last reset. */
  readonly calls: Record<string, number>;
}

/** How long the worker threads have to answer: a GC of a heap of tens of MB takes milliseconds. */
const THREADS_ANSWER_MS = 500;

function installProbe(libraryPath: string): void {
  const control = new SimControl(libraryPath);
  const threads = new BroadcastChannel(THREAD_PROBE_CHANNEL);
  threads.unref();
  process.channel?.unref();
  process.on('message', async (message: ProbeRequest) => {
    if (message.ask === 'reset') control.resetCallCounts();
    const threadMemory = await askThreads(threads, message.id);
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    const reply: ProbeReply = { id: message.id, rss, heapUsed, external, arrayBuffers, threads: threadMemory, calls: control.callCounts() };
    process.send?.(reply);
  });
}

/** Every worker thread's memory, each after its own full GC: what answers within THREADS_ANSWER_MS. */
function askThreads(channel: BroadcastChannel, id: number): Promise<ThreadMemory[]> {
  const answers: ThreadMemory[] = [];
  return new Promise((resolve) => {
    channel.onmessage = (event) => {
      const answer = (event as { data: ThreadMemory }).data;
      if (answer.id === id) answers.push(answer);
    };
    channel.postMessage({ id } satisfies ThreadAsk);
    setTimeout(() => resolve(answers), THREADS_ANSWER_MS);
  });
}

const library = process.env.KVM_LOAD_PROBE_LIBRARY;
if (library !== undefined && process.send !== undefined) installProbe(library);
