/**
 * The end-to-end setup: three simulated FreeBSD kernels of different sizes
 * kept moving by KernelActivity, one built kvm_exporter serving each, and a
 * real Prometheus scraping all three and evaluating the shipped rules.
 *
 * Owns starting that world, waiting (bounded) until Prometheus holds enough
 * samples for the 15 s rate() windows and has evaluated every rule on them,
 * and taking it all down again: processes, open images, temporary folders.
 * Mirrors a small fleet: a 4-CPU host, a 16-CPU host whose CPU ids are
 * sparse (0-7 and 16-23 of mp_maxcpus 64, as after CPUs were offlined), and
 * a 64-CPU host, each running the freebsd-14-amd64 preset with every
 * process breakdown on, and each with the demo kernel's jails: web and app
 * with network stacks of their own and traffic moving in them, build
 * sharing the host's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelActivity } from '../../sim/image/activity.js';
import { DEMO_JAILS } from '../../sim/image/demo-image.js';
import type { KernelImage } from '../../sim/image/image.js';
import { CLI, ROOT, makeKernel, type TestKernel } from '../support/sim.js';
import { ChildProcesses, type WatchedChild } from './children.js';
import { pollUntil } from './poll.js';
import { JOB, startPrometheus, type RunningPrometheus } from './prometheus-server.js';

export interface HostSpec {
  readonly name: string;
  readonly cpus: readonly number[];
  readonly mpMaxcpus: number;
  /** KernelActivity's random stream: fixed, so a failure can be replayed. */
  readonly seed: number;
}

const ids = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

export const HOST_SPECS: readonly HostSpec[] = [
  { name: 'small', cpus: ids(0, 4), mpMaxcpus: 256, seed: 4 },
  { name: 'sparse', cpus: [...ids(0, 8), ...ids(16, 24)], mpMaxcpus: 64, seed: 16 },
  { name: 'large', cpus: ids(0, 64), mpMaxcpus: 256, seed: 64 },
];

/** What every exporter runs: the preset the simulated kernel's layout follows, plus the opt-in breakdowns. */
const EXPORTER_CONFIG = `preset: freebsd-14-amd64
processes:
  by_jail: { enabled: true }
  by_user: { enabled: true }
  by_command: { enabled: true }
`;

/** How often the simulated kernels advance: several steps per one-second scrape. */
const ACTIVITY_INTERVAL_MS = 200;
/** Samples per target in the last 30 s before the checks start: a full 15 s rate() window and then some. */
export const MIN_SAMPLES = 20;
const SAMPLE_WINDOW = '30s';
const EXPORTER_START_TIMEOUT_MS = 30_000;
/** 20 one-second scrapes, with room for a slow start on a loaded machine. */
const DATA_TIMEOUT_MS = 90_000;
const RULES_TIMEOUT_MS = 30_000;

export interface E2eHost {
  readonly spec: HostSpec;
  readonly kernel: TestKernel;
  /** Prometheus' instance label: the exporter's host:port. */
  readonly instance: string;
  readonly exporter: WatchedChild;
}

export interface E2eWorld {
  readonly hosts: readonly E2eHost[];
  readonly prometheus: RunningPrometheus;
}

export class E2eRun {
  private readonly children = new ChildProcesses();
  private readonly activities: KernelActivity[] = [];
  private readonly images: KernelImage[] = [];
  private readonly folders: string[] = [];

  async start(): Promise<E2eWorld> {
    const kernels = HOST_SPECS.map((spec) => this.movingKernel(spec));
    const hosts = await Promise.all(kernels.map(({ spec, kernel }) => this.startExporter(spec, kernel)));
    const dir = mkdtempSync(join(tmpdir(), 'kvm_exporter-e2e-prometheus-'));
    this.folders.push(dir);
    const prometheus = await startPrometheus(this.children, {
      dir,
      targets: hosts.map((host) => host.instance),
      ruleFiles: [join(ROOT, 'config', 'prometheus', 'rules', '*.yml')],
    });
    const world = { hosts, prometheus };
    await waitForSamples(world);
    await waitForRuleEvaluation(world, Date.now());
    return world;
  }

  /** Stops everything started, also after a failed start; returns problems worth reporting (children that needed SIGKILL). */
  async stop(): Promise<string[]> {
    for (const activity of this.activities) activity.stop();
    const killed = await this.children.stopAll();
    for (const image of this.images) image.close();
    for (const folder of this.folders) rmSync(folder, { recursive: true, force: true });
    return killed;
  }

  private movingKernel(spec: HostSpec): { spec: HostSpec; kernel: TestKernel } {
    const kernel = makeKernel({ cpus: spec.cpus, mpMaxcpus: spec.mpMaxcpus, jails: DEMO_JAILS });
    this.folders.push(kernel.dir);
    const image = kernel.open();
    this.images.push(image);
    const activity = new KernelActivity(image, kernel.manifest, { seed: spec.seed, intervalMs: ACTIVITY_INTERVAL_MS });
    this.activities.push(activity);
    activity.start();
    return { spec, kernel };
  }

  private async startExporter(spec: HostSpec, kernel: TestKernel): Promise<E2eHost> {
    const config = kernel.writeConfig(EXPORTER_CONFIG);
    const exporter = this.children.start(`kvm_exporter (${spec.name} kernel, ${config})`, process.execPath, [
      CLI,
      'serve',
      `--config.file=${config}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.format=json',
    ]);
    const instance = await exporter.waitForLine('"listening" log line', EXPORTER_START_TIMEOUT_MS, listeningAddress);
    return { spec, kernel, instance, exporter };
  }
}

/** The bound host:port from the exporter's JSON `listening` line. */
function listeningAddress(line: string): string | undefined {
  let record: { msg?: unknown; addresses?: unknown };
  try {
    record = JSON.parse(line) as typeof record;
  } catch {
    return undefined;
  }
  if (record.msg !== 'listening' || typeof record.addresses !== 'string') return undefined;
  return record.addresses.split(',')[0];
}

/** Until every target has MIN_SAMPLES of kvm_up in the last 30 s. */
async function waitForSamples(world: E2eWorld): Promise<void> {
  const expr = `count_over_time(kvm_up{job="${JOB}"}[${SAMPLE_WINDOW}])`;
  await pollUntil(`${MIN_SAMPLES} samples of every target (${expr})`, DATA_TIMEOUT_MS, async () => {
    const counts = new Map((await world.prometheus.api.query(expr)).map((s) => [s.metric.instance, Number(s.value[1])]));
    const state = world.hosts.map((host) => `${host.spec.name} ${host.instance}: ${counts.get(host.instance) ?? 0}`).join(', ');
    const enough = world.hosts.every((host) => (counts.get(host.instance) ?? 0) >= MIN_SAMPLES);
    return enough ? { done: true, value: undefined } : { done: false, state: `${state}; targets: ${await targetHealth(world)}` };
  });
}

async function targetHealth(world: E2eWorld): Promise<string> {
  const targets = await world.prometheus.api.activeTargets();
  return targets.map((t) => `${t.labels.instance} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join(', ');
}

/** Until every rule group has been evaluated after `since` (milliseconds), so rules have seen the full windows. */
async function waitForRuleEvaluation(world: E2eWorld, since: number): Promise<void> {
  await pollUntil('every rule group evaluated on the collected samples', RULES_TIMEOUT_MS, async () => {
    const groups = await world.prometheus.api.ruleGroups();
    const stale = groups.filter((group) => Date.parse(group.lastEvaluation) <= since).map((group) => group.name);
    if (groups.length > 0 && stale.length === 0) return { done: true, value: undefined };
    return { done: false, state: groups.length === 0 ? 'no rule groups loaded' : `not yet evaluated: ${stale.join(', ')}` };
  });
}
