/**
 * bcrypt comparisons off the event loop: a small pool of worker threads,
 * each running bcryptjs's synchronous compare, one job at a time, behind a
 * bounded queue.
 *
 * bcrypt is CPU work by design (cost 10 is ~90 ms, each cost step doubles
 * it). Run on the main thread — even in bcryptjs's async slices — a flood of
 * wrong passwords takes turns with every scrape and health check, and a
 * scrape waits seconds. In workers the event loop only hands out jobs. The
 * pool is small (one thread per core, at most two) so that authentication
 * can never take all of the host's CPU, and the queue is bounded so that a
 * flood is refused at once (`compare` returns undefined) instead of piling
 * up memory and latency for everyone behind it.
 *
 * The worker is a few lines evaluated as a script rather than a module file:
 * it then runs the same from `dist/` and from the TypeScript sources, and
 * loads bcryptjs from the path the main thread resolved.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', ({ password, hash }) => {
  let matches = false;
  try { matches = bcrypt.compareSync(password, hash); } catch { matches = false; }
  parentPort.postMessage(matches);
});
`;

/**
 * One thread per core but one, two at most: a flood of guesses may keep them
 * all busy, and a core stays for the event loop (scrapes, health checks).
 */
export const DEFAULT_POOL_SIZE = Math.max(1, Math.min(2, availableParallelism() - 1));
/** Comparisons waiting for a thread, beyond those running; more are refused. */
export const DEFAULT_MAX_QUEUED = 8;

interface Job {
  readonly password: string;
  readonly hash: string;
  readonly done: (matches: boolean) => void;
  readonly failed: (error: Error) => void;
}

interface PoolThread {
  readonly worker: Worker;
  job: Job | undefined;
}

export class BcryptPool {
  private readonly threads: PoolThread[] = [];
  private readonly queue: Job[] = [];
  private readonly bcryptjs = createRequire(import.meta.url).resolve('bcryptjs');
  private closed = false;

  constructor(
    readonly size = DEFAULT_POOL_SIZE,
    readonly maxQueued = DEFAULT_MAX_QUEUED,
  ) {}

  /**
   * Whether `password` matches `hash`; undefined when the queue is full (the
   * caller refuses the attempt) unless `beyondQueueLimit` (the exporter's own
   * measurement, never a client's attempt).
   */
  compare(password: string, hash: string, options: { beyondQueueLimit?: boolean } = {}): Promise<boolean> | undefined {
    if (this.closed) return Promise.reject(new Error('the bcrypt pool is closed'));
    const thread = this.idleThread();
    if (thread === undefined && this.queue.length >= this.maxQueued && !options.beyondQueueLimit) return undefined;
    return new Promise<boolean>((done, failed) => {
      const job = { password, hash, done, failed };
      if (thread) this.run(thread, job);
      else this.queue.push(job);
    });
  }

  /** Comparisons running or waiting (for tests and debugging). */
  get pending(): number {
    return this.queue.length + this.threads.filter((thread) => thread.job !== undefined).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.failed(new Error('the bcrypt pool is closed'));
    await Promise.all(this.threads.splice(0).map((thread) => thread.worker.terminate()));
  }

  /** A thread with no job, starting one if the pool is not full yet. */
  private idleThread(): PoolThread | undefined {
    const idle = this.threads.find((thread) => thread.job === undefined);
    if (idle || this.threads.length >= this.size) return idle;
    const thread = this.startThread();
    this.threads.push(thread);
    return thread;
  }

  private startThread(): PoolThread {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: this.bcryptjs } });
    // Idle threads must not keep a process alive that is otherwise done.
    worker.unref();
    const thread: PoolThread = { worker, job: undefined };
    worker.on('message', (matches: boolean) => this.finish(thread, (job) => job.done(matches)));
    worker.on('error', (error) => this.replace(thread, error));
    return thread;
  }

  private run(thread: PoolThread, job: Job): void {
    thread.job = job;
    thread.worker.postMessage({ password: job.password, hash: job.hash });
  }

  private finish(thread: PoolThread, settle: (job: Job) => void): void {
    const job = thread.job;
    thread.job = undefined;
    if (job) settle(job);
    const next = this.queue.shift();
    if (next) this.run(thread, next);
  }

  /** A thread that died fails its job; the next comparison starts a fresh one. */
  private replace(thread: PoolThread, error: Error): void {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
    const job = thread.job;
    thread.job = undefined;
    job?.failed(error);
    const next = this.queue.shift();
    if (next) {
      const fresh = this.idleThread();
      if (fresh) this.run(fresh, next);
      else this.queue.unshift(next);
    }
  }
}
