/**
 * `--web.disable-exporter-metrics` on the served CLI, as node_exporter has
 * it: the metrics about the exporter's own process (there `process_*` and
 * `go_*`, here `process_*` and `nodejs_*`) go; what describes the exporter
 * and its scrapes (build info, config reload, per-collector success) and
 * every kernel metric stay. The help text names exactly what goes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition, type ParsedScrape } from '../support/parse.js';
import { makeKernel, runCli, type TestKernel } from '../support/sim.js';
import { startCli, type CliServer } from '../hardening/cli-process.js';
import { FULL_CONFIG, httpGet } from '../hardening/served.js';

let kernel: TestKernel | undefined;
let cli: CliServer | undefined;

afterEach(async () => {
  await cli?.stop();
  kernel?.remove();
  cli = undefined;
  kernel = undefined;
});

async function familiesServed(config: string, extra: readonly string[]): Promise<Set<string>> {
  cli = await startCli([`--config.file=${config}`, ...extra]);
  const reply = await httpGet(cli.url, '/metrics');
  expect(reply.status).toBe(200);
  const scrape: ParsedScrape = parseExposition(reply.text);
  await cli.stop();
  cli = undefined;
  return new Set(scrape.families.keys());
}

/** The prefixes (`process_*`) the help line of the flag says it leaves out. */
async function prefixesInHelp(): Promise<string[]> {
  const help = await runCli(['--help']);
  expect(help.code).toBe(0);
  const line = help.stdout.split('\n').find((l) => l.trimStart().startsWith('--web.disable-exporter-metrics'));
  expect(line).toBeDefined();
  return [...line!.matchAll(/\b([a-z][a-z_]*_)\*/g)].map((m) => m[1]!).sort();
}

describe('--web.disable-exporter-metrics', () => {
  it('leaves out exactly the process_* and nodejs_* families its help names, and keeps the rest', async () => {
    kernel = makeKernel({ cpus: [0, 1] });
    const config = kernel.writeConfig(FULL_CONFIG);
    const all = await familiesServed(config, []);
    const kept = await familiesServed(config, ['--web.disable-exporter-metrics']);

    const dropped = [...all].filter((name) => !kept.has(name));
    expect([...kept].filter((name) => !all.has(name))).toEqual([]);
    const droppedPrefixes = [...new Set(dropped.map((name) => /^[a-z]+_/.exec(name)![0]))].sort();
    expect(droppedPrefixes).toEqual(['nodejs_', 'process_']);
    expect(await prefixesInHelp()).toEqual(droppedPrefixes);
    // Everything under those prefixes goes, nothing else does.
    expect([...kept].filter((name) => droppedPrefixes.some((prefix) => name.startsWith(prefix)))).toEqual([]);
    for (const name of ['kvm_exporter_build_info', 'kvm_exporter_config_last_reload_successful', 'kvm_scrape_collector_success', 'kvm_up', 'kvm_vm_swtch_total']) {
      expect(kept.has(name), name).toBe(true);
    }
  });
});
