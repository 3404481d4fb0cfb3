/**
 * SIGHUP reloads (the built CLI) are applied one after another in signal
 * order, so kvm_exporter_config_last_reload_successful tells the last reload
 * attempted; and a config whose libkvm cannot be loaded is refused on
 * reload, the running config and kernel handle kept.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { parseExposition, valueOf } from '../support/parse.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';
import { startCli, type CliServer } from './cli-process.js';
import { FULL_CONFIG, httpGet, sleep, successOf } from './served.js';

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

async function scrape(url: string) {
  const reply = await httpGet(url, '/metrics');
  expect(reply.status).toBe(200);
  return parseExposition(reply.text);
}

describe('two SIGHUPs, a valid config then an invalid one', () => {
  it('end with reload_successful 0 even when the valid reload waits for a scrape in flight', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    const file = kernel.writeConfig(FULL_CONFIG);
    cli = await startCli([`--config.file=${file}`]);
    // A scrape of about a second in flight: the valid reload queues behind it.
    image.setReadDelayUs(3_000);
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
    expect(Object.values(successOf(after))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(SIM_LIBRARY).not.toBe(missing);
  }, 30_000);
});
