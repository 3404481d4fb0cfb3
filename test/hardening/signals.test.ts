/**
 * The built CLI under signals, as rc.d drives it: SIGHUP reloads the config
 * (a new entry appears; an invalid file, or one whose libkvm cannot be
 * loaded, is refused with its errors in the log,
 * kvm_exporter_config_last_reload_successful 0, the old config keeps
 * serving; reloads apply in signal order, so the metric tells the last one
 * attempted), and SIGTERM (from rc.d or a service manager) and SIGINT
 * (Ctrl-C) each let an in-flight scrape finish, close the kernel handle and
 * exit 0 within 5 seconds.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { parseExposition, valueOf } from '../support/parse.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';
import { startCli, type CliServer } from './cli-process.js';
import { compareWithImage, imageTruth } from './oracle.js';
import { FULL_CONFIG, httpGet, sleep, successOf, everyCollector } from './served.js';
import { loadConfig } from '../../src/config/load.js';

let kernel: TestKernel | undefined;
let image: KernelImage | undefined;
let cli: CliServer | undefined;

afterEach(async () => {
  await cli?.stop();
  image?.close();
  kernel?.remove();
  cli = undefined;
  image = undefined;
  kernel = undefined;
});

async function scrape(url: string) {
  const reply = await httpGet(url, '/metrics');
  expect(reply.status).toBe(200);
  return parseExposition(reply.text);
}

describe('SIGHUP', () => {
  it('reloads the config: a new entry appears, an invalid file is refused and the running config keeps serving', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    const file = kernel.writeConfig(FULL_CONFIG);
    cli = await startCli([`--config.file=${file}`]);
    const before = await scrape(cli.url);
    expect(before.samples.some((s) => s.name === 'kvm_cpus_max_variable')).toBe(false);
    expect(valueOf(before, 'kvm_exporter_config_last_reload_successful')).toBe(1);

    const withEntry = FULL_CONFIG.replace('variables:\n', 'variables:\n  - { name: cpus_max_variable, symbol: mp_maxcpus, ctype: int32 }\n');
    kernel.writeConfig(withEntry);
    let mark = cli.log.length;
    cli.child.kill('SIGHUP');
    await cli.waitFor('config reloaded', mark);
    const reloaded = await scrape(cli.url);
    expect(valueOf(reloaded, 'kvm_cpus_max_variable')).toBe(256);
    expect(valueOf(reloaded, 'kvm_exporter_config_last_reload_successful')).toBe(1);
    const truth = imageTruth(image, kernel.manifest, loadConfig(file));
    expect(compareWithImage(reloaded, truth)).toMatchObject({ wrong: [], absent: [] });

    writeFileSync(file, `${withEntry}  - { name: 9bad, symbol: hz, ctype: int33 }\n`);
    mark = cli.log.length;
    cli.child.kill('SIGHUP');
    const refused = await cli.waitFor('config reload failed; keeping the running config', mark);
    expect(refused.level).toBe('error');
    expect(refused.file).toBe(file);
    expect(String(refused.err)).toMatch(new RegExp(`${file}:\\d+:\\d+: .*name`));
    expect(String(refused.err)).toMatch(/ctype/);
    const kept = await scrape(cli.url);
    expect(valueOf(kept, 'kvm_exporter_config_last_reload_successful')).toBe(0);
    expect(valueOf(kept, 'kvm_cpus_max_variable')).toBe(256);
    expect(Object.values(successOf(kept))).toEqual(everyCollector(1));
    expect(compareWithImage(kept, truth)).toMatchObject({ wrong: [], absent: [] });
  });
});

describe.each(['SIGTERM', 'SIGINT'] as const)('%s', (signal) => {
  it('lets the scrape in flight finish, closes the kernel handle and exits 0 within 5 s', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    cli = await startCli([`--config.file=${kernel.writeConfig(FULL_CONFIG)}`]);
    // About 40 reads at 40 ms: a scrape of roughly 1.6 s.
    image.setReadDelayUs(40_000);
    const mark = cli.log.length;
    const inFlight = httpGet(cli.url, '/metrics');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sent = performance.now();
    cli.child.kill(signal);
    const [reply, exit] = await Promise.all([inFlight, cli.exited]);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sent).toBeLessThan(5_000);
    expect(reply.status).toBe(200);
    // Sent before the signal, finished after it: the scrape was in flight.
    expect(reply.ms).toBeGreaterThan(300 + 200);
    const parsed = parseExposition(reply.text);
    expect(valueOf(parsed, 'kvm_up')).toBe(1);
    expect(Object.values(successOf(parsed))).toEqual(everyCollector(1));
    image.setReadDelayUs(0);
    expect(compareWithImage(parsed, imageTruth(image, kernel.manifest, loadConfig(kernel.writeConfig(FULL_CONFIG))))).toMatchObject({ wrong: [], absent: [] });
    expect(cli.log.slice(mark).find((l) => l.msg === 'shutting down')).toMatchObject({ signal });
    const sequence = cli.log.slice(mark).map((l) => l.msg).filter((m) => ['shutting down', 'kernel handle closed', 'stopped'].includes(m));
    expect(sequence).toEqual(['shutting down', 'kernel handle closed', 'stopped']);
    expect(cli.other).toEqual([]);
  });
});

describe('two SIGHUPs, a valid config then an invalid one', () => {
  it('end with reload_successful 0 even when the valid reload waits for a scrape in flight', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    const file = kernel.writeConfig(FULL_CONFIG);
    cli = await startCli([`--config.file=${file}`]);
    // A scrape of about a second in flight (about 40 reads at 25 ms): the valid reload queues behind it.
    image.setReadDelayUs(25_000);
    const inFlight = httpGet(cli.url, '/metrics');
    await sleep(200);
    const mark = cli.log.length;
    kernel.writeConfig(FULL_CONFIG.replace('variables:\n', 'variables:\n  - { name: cpus_max_variable, symbol: mp_maxcpus, ctype: int32 }\n'));
    cli.child.kill('SIGHUP');
    await sleep(100);
    writeFileSync(file, `${FULL_CONFIG}  - { name: 9bad, symbol: hz, ctype: int33 }\n`);
    cli.child.kill('SIGHUP');
    await cli.waitFor('config reloaded', mark);
    await cli.waitFor('config reload failed; keeping the running config', mark);
    await inFlight;
    image.setReadDelayUs(0);
    const order = cli.log.slice(mark).map((l) => l.msg).filter((m) => m.startsWith('config reload'));
    expect(order).toEqual(['config reloaded', 'config reload failed; keeping the running config']);
    const after = await scrape(cli.url);
    expect(valueOf(after, 'kvm_exporter_config_last_reload_successful')).toBe(0);
    // The valid reload was applied; the invalid one was not.
    expect(valueOf(after, 'kvm_cpus_max_variable')).toBe(256);
  }, 30_000);
});

describe('a reload to a libkvm that cannot be loaded', () => {
  it('is refused: reload_successful 0, and the running config keeps serving the kernel', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    const file = kernel.writeConfig(FULL_CONFIG);
    cli = await startCli([`--config.file=${file}`]);
    const missing = `${kernel.dir}/no-such-libkvm.so.7`;
    const mark = cli.log.length;
    writeFileSync(file, `kvm:\n  library: ${JSON.stringify(missing)}\n  corefile: ${JSON.stringify(kernel.image)}\n${FULL_CONFIG}`);
    cli.child.kill('SIGHUP');
    const refused = await cli.waitFor('config reload failed; keeping the running config', mark);
    expect(refused.level).toBe('error');
    expect(String(refused.err)).toContain(`cannot use libkvm at ${missing}`);
    const after = await scrape(cli.url);
    expect(valueOf(after, 'kvm_exporter_config_last_reload_successful')).toBe(0);
    expect(valueOf(after, 'kvm_up')).toBe(1);
    expect(Object.values(successOf(after))).toEqual(everyCollector(1));
    expect(SIM_LIBRARY).not.toBe(missing);
  }, 30_000);
});
