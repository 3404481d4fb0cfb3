/**
 * A real Prometheus server for the end-to-end test: found on PATH, given a
 * generated configuration that promtool has checked, a temporary TSDB and a
 * free loopback port, and waited for until /-/ready.
 *
 * Mirrors config/prometheus/prometheus.yml (job kvm_exporter, both shipped
 * rule files) with the intervals shortened to one second so rate() windows
 * fill in seconds rather than minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runPromtool } from '../rules/promtool.js';
import { findExecutable } from '../support/tools.js';
import type { ChildProcesses, WatchedChild } from './children.js';
import { PrometheusApi } from './prometheus-api.js';
import { pollUntil } from './poll.js';

/** The job name the dashboards and KvmExporterDown select. */
export const JOB = 'kvm_exporter';
export const SCRAPE_INTERVAL_SECONDS = 1;
/** Startup on a loaded machine: TSDB creation, rule loading, the web server. */
const READY_TIMEOUT_MS = 60_000;
/** A port picked free can be taken before Prometheus binds it; try again with another. */
const PORT_ATTEMPTS = 3;

export interface PrometheusSetup {
  /** Folder for prometheus.yml and the TSDB. */
  readonly dir: string;
  /** host:port of each exporter. */
  readonly targets: readonly string[];
  /** Rule files (globs allowed), absolute. */
  readonly ruleFiles: readonly string[];
}

export interface RunningPrometheus {
  readonly api: PrometheusApi;
  readonly child: WatchedChild;
  readonly configFile: string;
}

/** A TCP port nothing listens on right now, on 127.0.0.1. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** prometheus.yml for the test: one-second scrapes and rule evaluation, static targets. */
export function prometheusConfig(setup: PrometheusSetup): string {
  return stringify({
    global: {
      scrape_interval: `${SCRAPE_INTERVAL_SECONDS}s`,
      // The exporter's deadline is this minus --web.timeout-offset (0.5 s).
      scrape_timeout: `${SCRAPE_INTERVAL_SECONDS}s`,
      evaluation_interval: `${SCRAPE_INTERVAL_SECONDS}s`,
    },
    rule_files: [...setup.ruleFiles],
    scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [...setup.targets] }] }],
  });
}

/** Writes and checks the config (promtool check config also loads the rule files), then starts Prometheus. */
export async function startPrometheus(children: ChildProcesses, setup: PrometheusSetup): Promise<RunningPrometheus> {
  const binary = findExecutable('prometheus', 'apt-get install prometheus');
  const configFile = join(setup.dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(setup));
  const check = runPromtool(['check', 'config', configFile], setup.dir);
  if (check.status !== 0) throw new Error(`${check.command} (in ${setup.dir}) failed:\n${check.output}`);
  let lastFailure: Error | undefined;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    try {
      return await startOnFreePort(children, binary, configFile, join(setup.dir, `tsdb-${attempt}`), attempt);
    } catch (error) {
      lastFailure = error as Error;
      if (!/address already in use/.test(lastFailure.message)) throw lastFailure;
    }
  }
  throw lastFailure as Error;
}

async function startOnFreePort(
  children: ChildProcesses,
  binary: string,
  configFile: string,
  storage: string,
  attempt: number,
): Promise<RunningPrometheus> {
  mkdirSync(storage, { recursive: true });
  const address = `127.0.0.1:${await freeLoopbackPort()}`;
  const child = children.start(`prometheus ${address} (attempt ${attempt})`, binary, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${storage}`,
    `--web.listen-address=${address}`,
    '--log.level=info',
  ]);
  const api = new PrometheusApi(`http://${address}`);
  await pollUntil(`${child.name}: /-/ready`, READY_TIMEOUT_MS, async () => {
    if (!child.running) {
      throw new Error(`${child.name} exited before it was ready; output:\n${child.tail()}`);
    }
    return (await api.ready()) ? { done: true, value: undefined } : { done: false, state: 'not ready' };
  });
  return { api, child, configFile };
}
