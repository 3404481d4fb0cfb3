/**
 * Load on the real exporter: `kvm_exporter serve` (the built CLI, in its
 * own process) on a 64-CPU simulated kernel whose counters move while
 * autocannon scrapes it from 127.0.0.1. autocannon is the maintained Node.js
 * HTTP load generator that runs in-process and reports latency percentiles,
 * so one script drives the load and reads the results.
 *
 * It reports what an operator needs to trust the exporter under a pile-up
 * of scrapes: errors (connection errors, timeouts and non-2xx answers; must
 * be 0), p50/p99 latency, requests per second, the exporter's memory, and
 * how many collections the requests cost.
 *
 * Memory is sampled every `--sample-every` requests during the measured run,
 * each sample after a full GC: the process's RSS, the main thread's heap and
 * external memory, and the kernel thread's heap (a worker thread has its own
 * V8 heap, reported by load-thread-probe.cts). Flat is a number, not an
 * impression: the slope of RSS over the second half of the samples (the
 * median of the slopes between every two samples, which one odd sample does
 * not tilt), in MB per 10,000 requests, must stay within FLAT_MB_PER_10K. The
 * first half is left out because glibc's malloc arenas and V8's heap grow to
 * their working size over the first thousands of requests and then stay
 * there (a plateau, not a leak); a leak keeps its slope to the end. Overlapping scrapes of the same collectors
 * share one collection, so collections must stay well below requests; they
 * are counted in the exporter process by the simulated libkvm
 * (kvm_getprocs is called twice per collection, by the processes collector).
 *
 *   node dist/bench/load.js [--requests 10000] [--connections 16] [--cpus 64] [--warmup 2000]
 *                           [--sample-every 1000] [--node-flags=F] [--json]
 *
 * Exit status 1 when a request failed, scrapes did not share collections,
 * or memory was not flat.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result as CannonResult } from 'autocannon';
import { KernelActivity } from '../sim/image/activity.js';
import { buildFreeBsdKernel } from '../sim/image/freebsd-kernel.js';
import { KernelImage } from '../sim/image/image.js';
import { packageRoot } from '../src/version.js';
import type { ProbeReply, ProbeRequest } from './load-probe.js';
import { medianSlope, percentile } from './stats.js';

export interface LoadOptions {
  readonly requests: number;
  readonly connections: number;
  readonly cpus: number;
  /**
   * Requests made before the measured run (default 2,000): the allocator,
   * the JIT and the sockets reach their working size in the first few
   * thousand scrapes, and "before" should be that steady state.
   */
  readonly warmup?: number;
  /** Memory is sampled after every this many measured requests (default 1,000). */
  readonly sampleEvery?: number;
  /** Node.js flags for the exporter process (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  readonly nodeFlags?: readonly string[];
}

export interface LoadReport {
  readonly cpus: number;
  readonly connections: number;
  readonly requests: number;
  readonly ok: number;
  /** Connection errors, timeouts and non-2xx answers. */
  readonly errors: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly requestsPerSecond: number;
  readonly seconds: number;
  readonly warmup: number;
  /** RSS of the freshly started exporter, before any scrape. */
  readonly rssAtStart: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
  /** Collections made for the measured requests. */
  readonly collections: number;
  /** Memory before the measured run, then after every `sampleEvery` requests, then at the end. */
  readonly samples: readonly MemorySample[];
  /** Median pairwise slopes over the second half of the samples, MB per 10,000 requests. */
  readonly slopes: { readonly rss: number; readonly heap: number; readonly kernelThreadHeap: number; readonly external: number };
  /** The RSS slope is within FLAT_MB_PER_10K; undefined when the run has too few samples to say (MIN_SAMPLES). */
  readonly flat: boolean | undefined;
}

/** One sample of the exporter's memory, bytes, after a full GC in each thread. */
export interface MemorySample {
  /** Measured requests answered when the sample was asked for. */
  readonly requests: number;
  readonly rss: number;
  /** Main thread: V8 heap used, and memory outside it (Buffers, ArrayBuffers). */
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** The kernel thread's V8 heap used and external memory (summed over worker threads, abandoned ones included). */
  readonly kernelThreadHeapUsed: number;
  readonly kernelThreadExternal: number;
  readonly threads: number;
}

/**
 * Flat: RSS grows by at most 1 MB per 10,000 requests over the second half
 * of the run, 100 bytes a request. A leak of one scrape's families or body
 * per collection (hundreds of KB, 600 collections per 10,000 requests) is
 * far above it; the noise of a sample after a full GC is well below it once
 * the run is long enough to fit a line through 5 or more samples.
 */
export const FLAT_MB_PER_10K = 1;
/** Samples needed for a verdict: the second half must hold at least 5 (10,000 requests sampled every 1,000 give 11). */
export const MIN_SAMPLES = 10;

const MB = 1024 * 1024;
const ROOT = packageRoot();
const SIM_LIBRARY = join(ROOT, 'dist', 'libkvm-sim', 'libkvm.so.7');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const PROBE = join(ROOT, 'dist', 'bench', 'load-probe.js');
const THREAD_PROBE = join(ROOT, 'dist', 'bench', 'load-thread-probe.cjs');

/**
 * config/demo.yml (the FreeBSD 14 preset plus the demo kernel's extra
 * sources, every collector with work), pointed at the load kernel with the
 * same --kvm.* flags an operator uses to point a config at a crash dump.
 */
const DEMO_CONFIG = join(ROOT, 'config', 'demo.yml');

interface Target {
  readonly url: string;
  ask(ask: ProbeRequest['ask']): Promise<ProbeReply>;
  stop(): Promise<number | null>;
}

/** Starts the built CLI with the probe preloaded and waits for its "listening" line. */
async function startTarget(imagePath: string, nodeFlags: readonly string[]): Promise<Target> {
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags, '--expose-gc', '--require', THREAD_PROBE, '--import', PROBE, CLI, 'serve',
      `--config.file=${DEMO_CONFIG}`, `--kvm.library=${SIM_LIBRARY}`, `--kvm.corefile=${imagePath}`,
      '--web.listen-address=127.0.0.1:0', '--log.format=json',
    ],
    { env: { ...process.env, KVM_LOAD_PROBE_LIBRARY: SIM_LIBRARY }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
  );
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = await listeningUrl(child.stderr!, exited);
  let next = 0;
  const ask = (what: ProbeRequest['ask']) =>
    new Promise<ProbeReply>((resolve) => {
      const id = ++next;
      const onMessage = (reply: ProbeReply) => {
        if (reply.id !== id) return;
        child.off('message', onMessage);
        resolve(reply);
      };
      child.on('message', onMessage);
      child.send({ id, ask: what } satisfies ProbeRequest);
    });
  return {
    url,
    ask,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function listeningUrl(stderr: NodeJS.ReadableStream, exited: Promise<number | null>): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as { msg?: string; level?: string; addresses?: string };
        if (record.msg === 'listening' && record.level === 'info' && record.addresses) {
          stderr.off('data', onData);
          stderr.resume();
          resolve(`http://${record.addresses.split(',')[0]}`);
          return;
        }
      }
    };
    stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`the exporter exited (${code}) before listening:\n${text}`)));
  });
}

async function cannon(url: string, amount: number, connections: number) {
  return autocannon({ url: `${url}/metrics`, connections, amount, timeout: 30 });
}

/** The measured load's totals over its slices. */
interface Totals {
  requests: number;
  ok: number;
  errors: number;
  seconds: number;
  readonly latenciesMs: number[];
}

/**
 * The measured load, in slices of `sampleEvery` requests with a memory
 * sample between two slices, when no request is in flight: a sample taken
 * under load would count the bodies being sent (up to one page per
 * connection) and scatter the samples by tens of MB. Latency percentiles
 * are over every response of every slice.
 */
async function slicedCannon(target: Target, amount: number, connections: number, sampleEvery: number) {
  const totals: Totals = { requests: 0, ok: 0, errors: 0, seconds: 0, latenciesMs: [] };
  const samples: ProbedSample[] = [];
  while (totals.requests < amount) {
    const slice = await cannonSlice(target.url, Math.min(sampleEvery, amount - totals.requests), connections, totals.latenciesMs);
    totals.requests += slice.requests.total;
    totals.ok += slice['2xx'];
    totals.errors += slice.errors + slice.timeouts + slice.non2xx;
    totals.seconds += slice.duration;
    if (totals.requests < amount) samples.push(await quietSample(target, totals.requests));
  }
  return { totals, samples };
}

/**
 * autocannon closes its connections as a slice ends; the exporter frees each
 * connection's finished body when it sees the close, a moment later. A
 * sample taken before that counts up to one page per connection.
 */
const SETTLE_MS = 250;

async function quietSample(target: Target, requests: number): Promise<ProbedSample> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return sample(target, 'stats', requests);
}

function cannonSlice(url: string, amount: number, connections: number, latenciesMs: number[]): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    const tracker = autocannon({ url: `${url}/metrics`, connections, amount, timeout: 30 }, (error, done) => (error ? reject(error) : resolve(done)));
    tracker.on('response', (_client, _status, _bytes, ms) => latenciesMs.push(ms));
  });
}

/** A memory sample, and the libkvm call counts at that moment. */
type ProbedSample = MemorySample & { readonly calls: ProbeReply['calls'] };

async function sample(target: Target, ask: ProbeRequest['ask'], requests: number): Promise<ProbedSample> {
  const reply = await target.ask(ask);
  const sum = (pick: (t: ProbeReply['threads'][number]) => number) => reply.threads.reduce((total, t) => total + pick(t), 0);
  return {
    requests,
    rss: reply.rss,
    heapUsed: reply.heapUsed,
    external: reply.external,
    arrayBuffers: reply.arrayBuffers,
    kernelThreadHeapUsed: sum((t) => t.heapUsed),
    kernelThreadExternal: sum((t) => t.external),
    threads: reply.threads.length,
    calls: reply.calls,
  };
}

/** Runs the load and measures it; the kernel and the exporter are gone when it returns. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const dir = mkdtempSync(join(tmpdir(), 'kvm_exporter-load-'));
  const imagePath = join(dir, 'kernel.img');
  const manifest = buildFreeBsdKernel(imagePath, { cpus: Array.from({ length: options.cpus }, (_, i) => i) });
  const image = KernelImage.open(imagePath);
  const activity = new KernelActivity(image, manifest, { intervalMs: 250 });
  const target = await startTarget(imagePath, options.nodeFlags ?? []);
  try {
    activity.start();
    const atStart = await target.ask('stats');
    const warmup = options.warmup ?? 2_000;
    await cannon(target.url, warmup, options.connections);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const before = await sample(target, 'reset', 0);
    const during = await slicedCannon(target, options.requests, options.connections, options.sampleEvery ?? 1_000);
    const { totals } = during;
    const after = await quietSample(target, totals.requests);
    const samples = [before, ...during.samples, after].map(({ calls: _calls, ...memory }) => memory);
    const slopes = secondHalfSlopes(samples);
    const latencies = [...totals.latenciesMs].sort((x, y) => x - y);
    return {
      cpus: options.cpus,
      connections: options.connections,
      requests: totals.requests,
      ok: totals.ok,
      errors: totals.errors,
      latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1]! },
      requestsPerSecond: totals.requests / totals.seconds,
      seconds: totals.seconds,
      warmup,
      rssAtStart: atStart.rss,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heapUsed,
      heapAfter: after.heapUsed,
      collections: (after.calls.kvm_getprocs ?? 0) / 2,
      samples,
      slopes,
      flat: samples.length < MIN_SAMPLES ? undefined : slopes.rss <= FLAT_MB_PER_10K,
    };
  } finally {
    activity.stop();
    await target.stop();
    image.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** MB per 10,000 requests, over the second half of the samples (all of them when there are fewer than 4). */
export function secondHalfSlopes(samples: readonly MemorySample[]): LoadReport['slopes'] {
  const half = samples.length >= 4 ? samples.slice(Math.floor(samples.length / 2)) : samples;
  const slope = (pick: (s: MemorySample) => number) =>
    half.length < 2 ? 0 : medianSlope(half.map((s) => [s.requests / 10_000, pick(s) / MB] as const));
  return {
    rss: slope((s) => s.rss),
    heap: slope((s) => s.heapUsed),
    kernelThreadHeap: slope((s) => s.kernelThreadHeapUsed),
    external: slope((s) => s.external + s.kernelThreadExternal),
  };
}


export function formatReport(r: LoadReport): string {
  const first = r.samples[0]!;
  const last = r.samples[r.samples.length - 1]!;
  const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
  return [
    `kvm_exporter under load: ${r.cpus}-CPU simulated kernel, ${r.connections} concurrent connections`,
    `  requests      ${r.requests} (${r.ok} answered 200)`,
    `  errors        ${r.errors}`,
    `  latency       p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    `  throughput    ${r.requestsPerSecond.toFixed(0)} requests/s over ${r.seconds.toFixed(1)} s`,
    `  RSS           ${mb(r.rssBefore)} before, ${mb(r.rssAfter)} after (${signed((r.rssAfter - r.rssBefore) / MB)} MB); ${mb(r.rssAtStart)} at start, before ${r.warmup} warm-up requests`,
    `  heap used     main thread ${mb(r.heapBefore)} before, ${mb(r.heapAfter)} after; kernel thread ${mb(first.kernelThreadHeapUsed)} before, ${mb(last.kernelThreadHeapUsed)} after`,
    `  external      main thread ${mb(first.external)} before, ${mb(last.external)} after (ArrayBuffers ${mb(first.arrayBuffers)}, ${mb(last.arrayBuffers)}); kernel thread ${mb(first.kernelThreadExternal)}, ${mb(last.kernelThreadExternal)}`,
    `  collections   ${r.collections} for ${r.requests} requests (${(r.requests / Math.max(r.collections, 1)).toFixed(1)} requests per collection)`,
    `  RSS samples   ${r.samples.map((s) => (s.rss / MB).toFixed(1)).join(' ')} MB`,
    `  slope         over the second half, per 10,000 requests: RSS ${signed(r.slopes.rss)} MB, main heap ${signed(r.slopes.heap)} MB, kernel thread heap ${signed(r.slopes.kernelThreadHeap)} MB, external ${signed(r.slopes.external)} MB`,
    `  memory        ${memoryVerdict(r)}`,
  ].join('\n');
}

function memoryVerdict(r: LoadReport): string {
  if (r.flat === undefined) return `no verdict: ${r.samples.length} samples, ${MIN_SAMPLES} needed (more requests or a smaller --sample-every)`;
  return `${r.flat ? 'flat' : 'NOT flat'} (RSS slope ${r.flat ? 'within' : 'above'} ${FLAT_MB_PER_10K} MB per 10,000 requests)`;
}

function signed(n: number): string {
  return `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;
}

/** A run passes when nothing failed and overlapping scrapes shared collections. */
export function loadProblems(r: LoadReport): string[] {
  const problems: string[] = [];
  if (r.errors > 0) problems.push(`${r.errors} requests failed`);
  if (r.ok !== r.requests) problems.push(`${r.requests - r.ok} requests were not answered 200`);
  if (r.collections >= r.requests) problems.push(`${r.collections} collections for ${r.requests} requests: scrapes did not share`);
  if (r.flat === false) problems.push(`RSS grew by ${r.slopes.rss.toFixed(1)} MB per 10,000 requests over the second half of the run (flat: at most ${FLAT_MB_PER_10K})`);
  return problems;
}

function wholeNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} expects a whole number of at least 1, got "${text}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000' },
      connections: { type: 'string', default: '16' },
      cpus: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '2000' },
      'sample-every': { type: 'string', default: '1000' },
      'node-flags': { type: 'string', default: '' },
      json: { type: 'boolean', default: false },
    },
  });
  const report = await runLoad({
    requests: wholeNumber(values.requests, 'requests'),
    connections: wholeNumber(values.connections, 'connections'),
    cpus: wholeNumber(values.cpus, 'cpus'),
    warmup: wholeNumber(values.warmup, 'warmup'),
    sampleEvery: wholeNumber(values['sample-every'], 'sample-every'),
    nodeFlags: values['node-flags'].split(/\s+/).filter((flag) => flag !== ''),
  });
  process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
  const problems = loadProblems(report);
  for (const problem of problems) process.stderr.write(`load: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`load: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
