/**
 * A slow or hung kernel never freezes the process (the built CLI): every
 * libkvm call runs on the kernel thread, so /-/healthy, /-/ready and the
 * landing page answer at once and SIGTERM ends the process within 5 s,
 * while every kernel read takes 50 ms and while one read does not return
 * for 60 s. The hung read is abandoned with its thread, a fresh thread
 * reopens the kernel, and kvm_up says what happened in between.
 *
 * The simulator's read delay is read once per kvm_read (sim/README.md): a
 * delay of 60 s armed just before a scrape and cleared 300 ms later hangs
 * exactly the read in progress, as a read from a wedged dump device would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { parseExposition, valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { startCli, type CliServer } from './cli-process.js';
import { FULL_CONFIG, httpGet, sleep, successOf, type Reply } from './served.js';

let kernel: TestKernel | undefined;
let image: KernelImage | undefined;
let cli: CliServer | undefined;

afterEach(async () => {
  image?.setReadDelayUs(0);
  await cli?.stop();
  image?.close();
  kernel?.remove();
  cli = undefined;
  image = undefined;
  kernel = undefined;
});

/** The bound the exporter promises; a frozen event loop took seconds. */
const ANSWER_MS = 100;
/** No single answer may take this long, even on a loaded 2-core machine. */
const WORST_MS = 1_000;

/** Most answers within ANSWER_MS, none near a frozen loop's seconds: robust to a busy machine, fails on a blocked loop. */
function expectPrompt(replies: readonly Reply[]): void {
  const times = replies.map((r) => r.ms).sort((a, b) => a - b);
  expect(times[Math.floor(times.length * 0.9)]).toBeLessThan(ANSWER_MS);
  expect(times.at(-1)).toBeLessThan(WORST_MS);
}

async function serve(): Promise<CliServer> {
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  image = kernel.open();
  cli = await startCli([`--config.file=${kernel.writeConfig(FULL_CONFIG)}`]);
  return cli;
}

/** Health, readiness and the landing page, each timed, several times over `spanMs`. */
async function probe(url: string, spanMs: number): Promise<Reply[]> {
  const replies: Reply[] = [];
  const end = performance.now() + spanMs;
  while (performance.now() < end) {
    for (const path of ['/-/healthy', '/-/ready', '/']) replies.push(await httpGet(url, path));
    await sleep(100);
  }
  return replies;
}

async function expectExitWithin5s(server: CliServer): Promise<void> {
  const sent = performance.now();
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  expect(exit).toMatchObject({ code: 0, signal: null });
  expect(exit.at - sent).toBeLessThan(5_000);
}

describe('every kernel read takes 50 ms', () => {
  it('health, readiness and the landing page answer within 100 ms during a scrape, and SIGTERM exits within 5 s', async () => {
    const server = await serve();
    image!.setReadDelayUs(50_000);
    const scrape = httpGet(server.url, '/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '30' });
    scrape.catch(() => undefined);
    await sleep(200);
    const replies = await probe(server.url, 2_000);
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expectPrompt(replies);
    await expectExitWithin5s(server);
    // The scrape was cut off by the shutdown or answered; either way the process did not wait for it.
    await scrape.catch(() => undefined);
  }, 30_000);

  it('a topology read slower than the scrape allows still answers by the deadline', async () => {
    const server = await serve();
    // About 5 reads before the first collector: 2 s each is 10 s of topology against a 3 s timeout.
    image!.setReadDelayUs(2_000_000);
    const reply = await httpGet(server.url, '/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '3' });
    image!.setReadDelayUs(0);
    expect(reply.status).toBe(200);
    expect(reply.ms).toBeLessThan(3_000);
    // Whether the topology read itself finished in time depends on how many reads it takes; the counters cannot have.
    expect(successOf(parseExposition(reply.text)).counters).toBe(0);
  }, 30_000);
});

describe('one kernel read hangs for 60 s', () => {
  it('keeps answering, abandons the hung thread, reopens the kernel on a fresh one, and exits on SIGTERM within 5 s', async () => {
    const server = await serve();
    const mark = server.log.length;
    image!.setReadDelayUs(60_000_000);
    const hung = httpGet(server.url, '/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '3' });
    hung.catch(() => undefined);
    await sleep(300);
    image!.setReadDelayUs(0);

    expectPrompt(await probe(server.url, 1_500));
    const answered = await hung;
    expect(answered.ms).toBeLessThan(3_000);
    expect(valueOf(parseExposition(answered.text), 'kvm_up')).toBe(0);
    expect((await httpGet(server.url, '/-/ready')).status).toBe(503);

    const abandoned = await server.waitFor('kernel thread stuck; abandoning it', mark);
    expect(abandoned.level).toBe('error');
    await server.waitFor('kernel opened', mark);
    const after = parseExposition((await httpGet(server.url, '/metrics')).text);
    expect(valueOf(after, 'kvm_up')).toBe(1);
    expect(Object.values(successOf(after))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect((await httpGet(server.url, '/-/ready')).status).toBe(200);

    // The abandoned thread is still inside its 60 s read: exit must not wait for it.
    await expectExitWithin5s(server);
    expect(server.other).toEqual([]);
  }, 60_000);

  it('exits on SIGTERM within 5 s while the read is still hung', async () => {
    const server = await serve();
    image!.setReadDelayUs(60_000_000);
    const hung = httpGet(server.url, '/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '30' });
    hung.catch(() => undefined);
    await sleep(300);
    image!.setReadDelayUs(0);
    await expectExitWithin5s(server);
    await hung.catch(() => undefined);
  }, 30_000);
});
