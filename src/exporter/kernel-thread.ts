/**
 * The main thread's side of the kernel thread (kernel-worker.ts): starts it,
 * hands it one request at a time, and watches that it moves.
 *
 * A kernel read that does not return (a hung dump device, a wedged kernel)
 * blocks the kernel thread inside a native call, which JavaScript cannot
 * interrupt. When a request has made no progress (no entry, span or
 * collector finished) for STUCK_AFTER_MS, the thread is abandoned: it is
 * asked to terminate (it stops at its next JavaScript step, so it makes no
 * further libkvm call if the read ever returns), unreferenced so it keeps
 * nothing alive, and a fresh thread reopens the kernel. Its handle is left
 * open on purpose: closing it under a read in progress would free memory
 * the read still uses. A process holding an abandoned thread must end with
 * `exitNow`, because Node joins every thread at exit.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { CollectorName, Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { packageRoot } from '../version.js';
import { failedOutcome, KERNEL_NOT_READABLE, type Collection } from './collection.js';
import type { Backoff } from './kernel-connection.js';
import type { FromKernel, KernelState, KernelThreadData, ToKernel } from './kernel-messages.js';

/** No progress for this long means a kernel read does not return. A single read on a slow kernel takes milliseconds. */
export const STUCK_AFTER_MS = 10_000;
const WATCH_EVERY_MS = 250;
/** Abandoned threads still blocked: no new thread is started beyond this, so a hung kernel cannot pile them up. */
const MAX_ABANDONED = 3;

/**
 * The compiled worker: the package runs from dist/ (tests run the sources,
 * after the build), so the worker is always the built module.
 */
const WORKER_FILE = join(packageRoot(), 'dist', 'src', 'exporter', 'kernel-worker.js');

export interface KernelThreadOptions {
  readonly config: Config;
  readonly enabled: ReadonlySet<CollectorName>;
  readonly logger: Logger;
  readonly backoff?: Backoff;
  /** No progress for this long abandons the thread (default STUCK_AFTER_MS). */
  readonly stuckAfterMs?: number;
  /** `check`: collectors cross-check their reads against libkvm's own when built. */
  readonly crossCheck?: boolean;
}

type Request = Exclude<ToKernel, { kind: 'close' }> | { readonly kind: 'close'; readonly id: number };
type Answer = Exclude<FromKernel, { kind: 'log' }> | { readonly kind: 'abandoned'; readonly reason: string };

interface Pending {
  readonly id: number;
  readonly started: number;
  readonly resolve: (answer: Answer) => void;
}

interface Running {
  readonly worker: Worker;
  readonly heartbeat: Float64Array;
  readonly opened: Promise<Answer>;
  pending?: Pending;
}

export class KernelThread {
  private running: Running | undefined;
  private config: Config;
  private enabled: ReadonlySet<CollectorName>;
  private state: KernelState = { leftOut: [] };
  /** Why the kernel thread was abandoned, until a fresh one has opened the kernel. */
  private stuck: string | undefined;
  private readonly abandoned = new Set<Worker>();
  private nextId = 1;
  private closing = false;
  private readonly watch: NodeJS.Timeout;

  constructor(private readonly options: KernelThreadOptions) {
    this.config = options.config;
    this.enabled = options.enabled;
    this.running = this.start();
    this.watch = setInterval(() => this.checkProgress(), WATCH_EVERY_MS).unref();
  }

  /** Resolves once the kernel thread has tried to open the kernel (the privilege drop waits for it). */
  async opened(): Promise<void> {
    await this.running?.opened;
  }

  get kernelState(): KernelState {
    return this.stuck === undefined ? this.state : { error: this.stuck, leftOut: [] };
  }

  /** A thread blocked in a kernel read is still alive: the process must end with exitNow. */
  get holdsStuckThread(): boolean {
    return this.abandoned.size > 0;
  }

  /** Collects `names`; `deadline` (epoch ms, Infinity for none) is shared memory the caller may raise meanwhile. */
  async collect(names: readonly CollectorName[], deadline: Float64Array): Promise<Collection> {
    const answer = await this.request((id) => ({ kind: 'collect', id, names, deadline: deadline.buffer as SharedArrayBuffer }));
    if (answer.kind !== 'collected') return kernelDown(names, answer.kind === 'abandoned' ? answer.reason : this.kernelState.error ?? 'no kernel thread');
    return answer.collection;
  }

  /** Reopens the kernel with `config`; returns why it was refused (a libkvm that cannot be loaded) or undefined. */
  async reload(config: Config, enabled: ReadonlySet<CollectorName>): Promise<string | undefined> {
    const answer = await this.request((id) => ({ kind: 'reload', id, config, enabled: [...enabled] }));
    if (answer.kind === 'reloaded' && answer.refused !== undefined) return answer.refused;
    // Applied, or the thread was abandoned while reopening: its successor opens the new config.
    this.config = config;
    this.enabled = enabled;
    return undefined;
  }

  /**
   * Closes the kernel handle, waiting at most `timeoutMs` for the thread; a
   * thread still busy (the caller waited for its scrapes already) or that
   * does not answer in time is abandoned.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.watch);
    const running = this.running;
    if (running === undefined) return;
    const closed = (async () => {
      await running.opened;
      return running.pending === undefined ? this.request((id) => ({ kind: 'close', id })) : 'busy';
    })();
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const outcome = await Promise.race([closed, timer]);
    if (outcome === 'timeout' || outcome === 'busy') {
      this.abandon(running, `the kernel thread did not close the handle within ${timeoutMs} ms`, false);
      return;
    }
    this.running = undefined;
    await running.worker.terminate();
  }

  private start(): Running {
    const heartbeat = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
    const data: KernelThreadData = {
      config: this.config,
      enabled: [...this.enabled],
      ...(this.options.backoff && { backoff: this.options.backoff }),
      ...(this.options.crossCheck && { crossCheck: true }),
      heartbeat,
    };
    const worker = new Worker(WORKER_FILE, { workerData: data });
    let resolveOpened!: (answer: Answer) => void;
    const opened = new Promise<Answer>((resolve) => (resolveOpened = resolve));
    const running: Running = { worker, heartbeat: new Float64Array(heartbeat), opened };
    running.pending = { id: 0, started: Date.now(), resolve: resolveOpened };
    worker.on('message', (message: FromKernel) => this.receive(running, message));
    worker.on('error', (error) => this.lost(running, `the kernel thread failed: ${error.message}`));
    worker.on('exit', (code) => this.lost(running, `the kernel thread exited (code ${code})`));
    return running;
  }

  private receive(running: Running, message: FromKernel): void {
    if (message.kind === 'log') {
      this.options.logger[message.level](message.msg, message.fields);
      return;
    }
    if ('state' in message) {
      this.state = message.state;
      this.stuck = undefined;
    }
    const pending = running.pending;
    running.pending = undefined;
    pending?.resolve(message);
  }

  private async request(make: (id: number) => Request): Promise<Answer> {
    const running = this.running;
    if (running === undefined) return { kind: 'abandoned', reason: this.stuck ?? 'the kernel thread is closed' };
    const opened = await running.opened;
    if (opened.kind === 'abandoned' || this.running !== running) return opened.kind === 'abandoned' ? opened : this.request(make);
    const message = make(this.nextId++);
    return new Promise<Answer>((resolve) => {
      running.pending = { id: message.id, started: Date.now(), resolve };
      running.worker.postMessage(message);
    });
  }

  private checkProgress(): void {
    const running = this.running;
    const pending = running?.pending;
    if (running === undefined || pending === undefined) return;
    const quiet = Date.now() - Math.max(pending.started, running.heartbeat[0]!);
    if (quiet < (this.options.stuckAfterMs ?? STUCK_AFTER_MS)) return;
    this.abandon(running, `a kernel read has not returned for ${Math.round(quiet / 1000)} s; the kernel thread was abandoned and a new one reopens the kernel`, true);
  }

  private abandon(running: Running, reason: string, restart: boolean): void {
    this.options.logger.error('kernel thread stuck; abandoning it', { err: reason });
    const { worker } = running;
    worker.removeAllListeners('message');
    worker.removeAllListeners('exit');
    worker.on('exit', () => this.abandonedExited(worker));
    this.abandoned.add(worker);
    worker.unref();
    void worker.terminate();
    this.stuck = reason;
    this.running = undefined;
    running.pending?.resolve({ kind: 'abandoned', reason });
    if (restart && this.abandoned.size <= MAX_ABANDONED) this.running = this.start();
  }

  /**
   * An abandoned thread's read returned and the thread ended. If no thread
   * was started for want of room (MAX_ABANDONED were blocked), there is room
   * now: without this the kernel would stay unread until a restart.
   */
  private abandonedExited(worker: Worker): void {
    this.abandoned.delete(worker);
    if (this.running === undefined && !this.closing) this.running = this.start();
  }

  /** The thread died (a crash in the thread itself): report it, and start another if it had opened the kernel. */
  private lost(running: Running, reason: string): void {
    if (this.running !== running || this.closing) return;
    const startedOnce = running.pending?.id !== 0;
    this.options.logger.error('kernel thread lost', { err: reason });
    this.stuck = reason;
    running.pending?.resolve({ kind: 'abandoned', reason });
    this.running = startedOnce ? this.start() : undefined;
  }
}

/** The collection of a scrape the kernel thread did not answer. */
export function kernelDown(names: readonly CollectorName[], error: string): Collection {
  return { kernel: { up: false, error }, families: [], outcomes: names.map((name) => failedOutcome(name, KERNEL_NOT_READABLE)) };
}
