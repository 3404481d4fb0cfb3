/**
 * Load on the real exporter: `kvm_exporter serve` (the built CLI, in its
 * own process) on a 64-CPU simulated kernel whose counters move while
 * autocannon scrapes it from 127.0.0.1. autocannon is the maintained Node.js
 * HTTP load generator that runs in-process and reports latency percentiles,
 * so one script drives the load and reads the results.
 *
 * It reports what an operator needs to trust the exporter under a pile-up
 * of scrapes: errors (connection errors, timeouts and non-2xx answers; must
 * be 0), p50/p99 latency, requests per second, the exporter's RSS before
 * and after (after a full GC each time: flat means no leak), and how many
 * collections the requests cost. Overlapping scrapes of the same collectors
 * share one collection, so collections must stay well below requests; they
 * are counted in the exporter process by the simulated libkvm
 * (kvm_getprocs is called twice per collection, by the processes collector).
 *
 *   node dist/bench/load.js [--requests 10000] [--connections 16] [--cpus 64] [--warmup 2000] [--json]
 *
 * Exit status 1 when a request failed or scrapes did not share collections.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { KernelActivity } from '../sim/image/activity.js';
import { buildFreeBsdKernel } from '../sim/image/freebsd-kernel.js';
import { KernelImage } from '../sim/image/image.js';
import { packageRoot } from '../src/version.js';
import type { ProbeReply, ProbeRequest } from './load-probe.js';

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
}

const ROOT = packageRoot();
const SIM_LIBRARY = join(ROOT, 'dist', 'libkvm-sim', 'libkvm.so.7');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const PROBE = join(ROOT, 'dist', 'bench', 'load-probe.js');

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
async function startTarget(imagePath: string): Promise<Target> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc', '--import', PROBE, CLI, 'serve',
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

/** Runs the load and measures it; the kernel and the exporter are gone when it returns. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const dir = mkdtempSync(join(tmpdir(), 'kvm_exporter-load-'));
  const imagePath = join(dir, 'kernel.img');
  const manifest = buildFreeBsdKernel(imagePath, { cpus: Array.from({ length: options.cpus }, (_, i) => i) });
  const image = KernelImage.open(imagePath);
  const activity = new KernelActivity(image, manifest, { intervalMs: 250 });
  const target = await startTarget(imagePath);
  try {
    activity.start();
    const atStart = await target.ask('stats');
    const warmup = options.warmup ?? 2_000;
    await cannon(target.url, warmup, options.connections);
    const before = await target.ask('reset');
    const result = await cannon(target.url, options.requests, options.connections);
    const after = await target.ask('stats');
    const errors = result.errors + result.timeouts + result.non2xx;
    return {
      cpus: options.cpus,
      connections: options.connections,
      requests: result.requests.total,
      ok: result['2xx'],
      errors,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      requestsPerSecond: result.requests.total / result.duration,
      seconds: result.duration,
      warmup,
      rssAtStart: atStart.rss,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heapUsed,
      heapAfter: after.heapUsed,
      collections: (after.calls.kvm_getprocs ?? 0) / 2,
    };
  } finally {
    activity.stop();
    await target.stop();
    image.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const MB = 1024 * 1024;

export function formatReport(r: LoadReport): string {
  const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
  return [
    `kvm_exporter under load: ${r.cpus}-CPU simulated kernel, ${r.connections} concurrent connections`,
    `  requests      ${r.requests} (${r.ok} answered 200)`,
    `  errors        ${r.errors}`,
    `  latency       p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    `  throughput    ${r.requestsPerSecond.toFixed(0)} requests/s over ${r.seconds.toFixed(1)} s`,
    `  RSS           ${mb(r.rssBefore)} before, ${mb(r.rssAfter)} after (${signed((r.rssAfter - r.rssBefore) / MB)} MB); ${mb(r.rssAtStart)} at start, before ${r.warmup} warm-up requests`,
    `  heap used     ${mb(r.heapBefore)} before, ${mb(r.heapAfter)} after`,
    `  collections   ${r.collections} for ${r.requests} requests (${(r.requests / Math.max(r.collections, 1)).toFixed(1)} requests per collection)`,
  ].join('\n');
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
      json: { type: 'boolean', default: false },
    },
  });
  const report = await runLoad({
    requests: wholeNumber(values.requests, 'requests'),
    connections: wholeNumber(values.connections, 'connections'),
    cpus: wholeNumber(values.cpus, 'cpus'),
    warmup: wholeNumber(values.warmup, 'warmup'),
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
