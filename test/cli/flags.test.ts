/**
 * The command line of the built CLI, node_exporter style: mistakes exit 2
 * with the usage; --collector.X, --no-collector.X and
 * --collector.disable-defaults decide what `once` collects, over the
 * config's `collectors:`; --kvm.corefile points a config at another kernel
 * and --kvm.library at another libkvm (relative to the working directory,
 * whichever of the two the config names); --version and --help.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress } from '../../sim/image/manifest.js';
import { parseExposition, samplesOf, valueOf, type ParsedScrape } from '../support/parse.js';
import { ROOT, SIM_LIBRARY, makeKernel, runCli, type TestKernel } from '../support/sim.js';
import { writeKvmConfig } from './helpers.js';

const COLLECTOR_NAMES = ['counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'processes', 'cpus', 'loadavg', 'swap'];
const USAGE_HEAD = 'usage: kvm_exporter [serve|check|once|demo] [flags]';

let kernel: TestKernel;
let image: KernelImage;

beforeAll(() => {
  kernel = makeKernel({ cpus: [0, 1], loadavg: [3.5, 2.25, 1.125] });
  image = kernel.open();
});
afterAll(() => {
  image.close();
  kernel.remove();
});

function collectorsRun(scrape: ParsedScrape): string[] {
  return samplesOf(scrape, 'kvm_scrape_collector_success').map((s) => s.labels.collector!);
}

async function once(args: readonly string[], body = 'preset: freebsd-14-amd64\n'): Promise<ParsedScrape> {
  const result = await runCli(['once', '--config.file', kernel.writeConfig(body, 'flags.yml'), ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return parseExposition(result.stdout);
}

describe('command-line mistakes exit 2 with the message and the usage', () => {
  it.each([
    ['an unknown flag', ['--web.listen-adress', ':1'], /^kvm_exporter: Unknown option '--web.listen-adress'/],
    ['an unknown command', ['frobnicate'], /^kvm_exporter: unknown command "frobnicate"; commands: serve, check, once, demo/],
    ['a second positional', ['once', 'now'], /^kvm_exporter: unexpected arguments: now/],
    ['a count that is not a number', ['--web.max-requests', 'lots'], /^kvm_exporter: --web.max-requests expects a whole number >= 0, got "lots"/],
    ['an unknown log level', ['--log.level', 'loud'], /^kvm_exporter: --log.level expects one of debug, info, warn, error, got "loud"/],
    ['a telemetry path without /', ['--web.telemetry-path', 'metrics'], /^kvm_exporter: --web.telemetry-path must start with "\/"/],
    ['a telemetry path of a health endpoint', ['--web.telemetry-path', '/-/ready'], /^kvm_exporter: --web.telemetry-path is reserved for the health endpoints, got "\/-\/ready"/],
    ['a telemetry path with a query', ['--web.telemetry-path', '/m?x'], /^kvm_exporter: --web.telemetry-path must not contain \?, # or white space/],
    ['a listen address without a port', ['--web.listen-address', '9632'], /^kvm_exporter: --web.listen-address "9632": missing port \(write :9632 for every interface\)/],
    ['a listen address with a bad port', ['--web.listen-address', '127.0.0.1:70000'], /^kvm_exporter: --web.listen-address "127.0.0.1:70000": port must be a number from 0 to 65535/],
    ['a negative request limit', ['--web.max-requests=-1'], /^kvm_exporter: --web.max-requests expects a whole number >= 0, got "-1"/],
    ['a connection limit that is not a number', ['--web.max-connections', 'many'], /^kvm_exporter: --web.max-connections expects a whole number >= 0, got "many"/],
    ['a collector both on and off', ['--collector.cpus', '--no-collector.cpus'], /^kvm_exporter: --collector.cpus and --no-collector.cpus contradict each other/],
    ['a collector that does not exist', ['--collector.zfs'], /^kvm_exporter: Unknown option '--collector.zfs'/],
  ])('%s', async (_what, args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(`\n\n${USAGE_HEAD}\n`);
  });
});

describe('collector flags', () => {
  it('--no-collector.X leaves X out', async () => {
    const scrape = await once(['--no-collector.processes', '--no-collector.pcpu']);
    expect(collectorsRun(scrape)).toEqual(['cpus', 'counters', 'variables', 'vnet', 'dpcpu', 'loadavg', 'swap']);
    expect(samplesOf(scrape, 'kvm_processes')).toEqual([]);
    expect(samplesOf(scrape, 'kvm_cpu_time_seconds_total')).toEqual([]);
  });

  it('--collector.disable-defaults runs only the collectors named on the command line', async () => {
    const scrape = await once(['--collector.disable-defaults', '--collector.loadavg', '--collector.cpus']);
    expect(collectorsRun(scrape)).toEqual(['cpus', 'loadavg']);
    expect(valueOf(scrape, 'kvm_load15')).toBe(1.125);
    expect(samplesOf(scrape, 'kvm_vm_swtch_total')).toEqual([]);
  });

  it('flags win over the config file, which wins over the defaults', async () => {
    const body = 'preset: freebsd-14-amd64\ncollectors: { loadavg: false, cpus: false, processes: true }\n';
    expect(collectorsRun(await once([], body))).toEqual(['counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'processes', 'swap']);
    const scrape = await once(['--collector.loadavg', '--no-collector.processes'], body);
    expect(collectorsRun(scrape)).toEqual(['counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'loadavg', 'swap']);
    expect(valueOf(scrape, 'kvm_load1')).toBe(3.5);
  });

  it('--collector.disable-defaults keeps what the config file enables', async () => {
    const scrape = await once(['--collector.disable-defaults'], 'collectors: { variables: true }\nvariables:\n  - { name: hz, symbol: hz, ctype: int32 }\n');
    expect(collectorsRun(scrape)).toEqual(['variables']);
    expect(valueOf(scrape, 'kvm_hz')).toBe(image.readI32(symbolAddress(kernel.manifest, 'hz')));
  });
});

describe('--kvm.corefile', () => {
  it('points a config at another kernel image', async () => {
    const config = writeKvmConfig(kernel, 'collectors: { processes: false }\n', { corefile: join(kernel.dir, 'elsewhere.img') }, 'override.yml');
    const without = await runCli(['once', '--config.file', config]);
    expect(without.code).toBe(1);
    expect(valueOf(parseExposition(without.stdout), 'kvm_up')).toBe(0);
    const result = await runCli(['once', '--config.file', config, '--kvm.corefile', kernel.image]);
    expect(result.code).toBe(0);
    const scrape = parseExposition(result.stdout);
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect(valueOf(scrape, 'kvm_load5')).toBe(2.25);
  });
});

/** A config for the test kernel whose kvm.library is `library` (left out: the default, libkvm.so.7). */
function configWithLibrary(library: string | undefined, name: string): string {
  const file = join(kernel.dir, name);
  const line = library === undefined ? '' : `  library: ${JSON.stringify(library)}\n`;
  writeFileSync(file, `kvm:\n${line}  corefile: ${JSON.stringify(kernel.image)}\npreset: freebsd-14-amd64\n`);
  return file;
}

describe('--kvm.library', () => {
  it('loads the named library in place of the config\'s default libkvm.so.7, which Linux does not have', async () => {
    const config = configWithLibrary(undefined, 'default-library.yml');
    const without = await runCli(['once', '--config.file', config]);
    expect(without.code).toBe(1);
    expect(valueOf(parseExposition(without.stdout), 'kvm_up')).toBe(0);
    expect(without.stderr).toContain('cannot use libkvm at libkvm.so.7');

    const result = await runCli(['once', '--config.file', config, `--kvm.library=${SIM_LIBRARY}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const scrape = parseExposition(result.stdout);
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect(valueOf(scrape, 'kvm_load5')).toBe(2.25);
  });

  it('wins over a config library that works: a missing one is refused by its path', async () => {
    const config = configWithLibrary(SIM_LIBRARY, 'working-library.yml');
    const missing = join(kernel.dir, 'no-such-libkvm.so.7');
    const result = await runCli(['once', '--config.file', config, '--kvm.library', missing]);
    expect(result.code).toBe(1);
    expect(valueOf(parseExposition(result.stdout), 'kvm_up')).toBe(0);
    expect(result.stderr).toContain(`cannot use libkvm at ${missing}: `);
  });

  it('takes a relative path from the working directory, not from the config\'s folder', async () => {
    // Relative to the config's folder this names nothing; relative to the package root, the simulator.
    const fromRoot = relative(ROOT, SIM_LIBRARY);
    const config = configWithLibrary(`./${fromRoot}`, 'relative-library.yml');
    const inConfig = await runCli(['once', '--config.file', config], { cwd: ROOT });
    expect(inConfig.code).toBe(1);
    expect(inConfig.stderr).toContain(`cannot use libkvm at ${join(kernel.dir, fromRoot)}`);

    const result = await runCli(['once', '--config.file', config, `--kvm.library=${fromRoot}`], { cwd: ROOT });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(valueOf(parseExposition(result.stdout), 'kvm_up')).toBe(1);
  });
});

describe('--version and --help', () => {
  it('--version prints the package version and Node.js version and exits 0', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`kvm_exporter ${version} (node ${process.version})\n`);
  });

  it('--help lists the commands, the flags and every collector with its default, and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith(`${USAGE_HEAD}\n`)).toBe(true);
    for (const command of ['serve', 'check', 'once', 'demo']) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    for (const flag of ['--config.file', '--web.listen-address', '--web.telemetry-path', '--web.config.file', '--web.max-requests', '--log.level', '--log.format', '--kvm.corefile']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('(default :9632)');
    for (const name of COLLECTOR_NAMES) {
      expect(result.stdout).toMatch(new RegExp(`^  --\\[no-\\]collector\\.${name} +\\S.*\\(default: enabled\\)$`, 'm'));
    }
    expect(result.stdout.match(/--\[no-\]collector\./g)).toHaveLength(COLLECTOR_NAMES.length);
  });
});
