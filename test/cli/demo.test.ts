/**
 * `kvm_exporter demo`, the README's first command, run as a user runs it:
 * the built CLI, here on a free port. It writes a demo kernel into a
 * temporary folder, serves it with counters moving between two scrapes,
 * and on Ctrl-C (SIGINT) or SIGTERM from a service manager it exits 0 and
 * removes that folder.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition, valueOf, type ParsedScrape } from '../support/parse.js';
import { startServing, type CliServer } from '../hardening/cli-process.js';
import { httpGet, sleep, successOf, until } from '../hardening/served.js';

let demo: CliServer | undefined;

afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

async function scrape(url: string): Promise<ParsedScrape> {
  const reply = await httpGet(url, '/metrics');
  expect(reply.status).toBe(200);
  return parseExposition(reply.text);
}

/** The sum of a counter family's samples (one per CPU, mode or protocol). */
function total(scrape: ParsedScrape, family: string): number {
  const samples = scrape.samples.filter((s) => s.name === family);
  expect(samples.length, family).toBeGreaterThan(0);
  return samples.reduce((sum, s) => sum + s.value, 0);
}

/** Every counter sample, keyed by name and labels. */
function counters(scrape: ParsedScrape): Map<string, number> {
  return new Map(scrape.samples.filter((s) => s.type === 'counter').map((s) => [`${s.name}${JSON.stringify(s.labels)}`, s.value]));
}

/** What the activity moves: context switches and syscalls (vm_cnt), IP packets, CPU time by mode, hardclock ticks. */
const MOVING = ['kvm_vm_swtch_total', 'kvm_vm_syscall_total', 'kvm_ip_packets_total', 'kvm_cpu_time_seconds_total', 'kvm_pcputicks_total'];

describe.each(['SIGINT', 'SIGTERM'] as const)('demo, stopped with %s', (signal) => {
  it('serves the demo kernel with its counters moving, then exits 0 and removes its temporary kernel', async () => {
    demo = await startServing('demo', []);
    await until('the demo banner', () => demo!.other.some((l) => l.startsWith('demo kernel ')));
    const banner = /^demo kernel (\S+) is moving; metrics on (\S+)$/.exec(demo.other.find((l) => l.startsWith('demo kernel '))!);
    expect(banner).not.toBeNull();
    const [, corefile, metricsUrl] = banner!;
    expect(metricsUrl).toBe(`${demo.url}/metrics`);
    expect(existsSync(corefile!)).toBe(true);

    const first = await scrape(demo.url);
    expect(valueOf(first, 'kvm_up')).toBe(1);
    const success = Object.values(successOf(first));
    expect(success.length).toBeGreaterThan(0);
    expect(success.every((v) => v === 1)).toBe(true);
    // The kernel moves every 250 ms: a second later each rate has had several steps.
    await sleep(1_000);
    const second = await scrape(demo.url);
    for (const family of MOVING) expect(total(second, family), family).toBeGreaterThan(total(first, family));
    const before = counters(first);
    const wentBack = [...counters(second)].filter(([key, value]) => value < (before.get(key) ?? 0));
    expect(wentBack).toEqual([]);

    const mark = demo.log.length;
    demo.child.kill(signal);
    const exit = await demo.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(demo.log.slice(mark).find((l) => l.msg === 'shutting down')).toMatchObject({ signal });
    expect(demo.log.slice(mark).map((l) => l.msg)).toContain('stopped');
    expect(existsSync(dirname(corefile!))).toBe(false);
    // Nothing but the banner outside the JSON log: no warning, no stack trace.
    expect(demo.other).toEqual([banner![0]]);
  });
});
