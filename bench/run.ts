/**
 * `npm run bench`: the benchmark's command line. Runs the full grid (or
 * `--quick`, every goal on a smaller grid, or `--smoke`, CI's check that
 * the harness works),
 * prints the tables and the goals, and writes the run to bench/results/
 * (bench/README.md says what every column and field means). Exits 1 when
 * the strategies disagree on what the kernel holds, or with --strict when a
 * goal is missed.
 *
 *   node dist/bench/run.js [--quick|--smoke] [--only ID,ID] [--soak N] [--node-flags=F] [--out DIR] [--strict]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { packageRoot } from '../src/version.js';
import { runBench } from './harness.js';
import { planFor } from './plan.js';
import { formatRun, writeRun } from './report.js';

const USAGE = `usage: node dist/bench/run.js [--quick|--smoke] [--only ID,ID] [--soak N] [--node-flags=F] [--out DIR] [--strict]
  --quick          every goal on fewer and smaller workloads, 300 soak scrapes
  --smoke          every measurement and goal on two small kernels in seconds (CI's smoke check: numbers not meaningful)
  --only ID,ID     measure only these workloads (e.g. c64-k500-clustered-p100)
  --soak N         soak with N HTTP scrapes instead of the plan's (10,000 full, 300 quick)
  --node-flags=F   run the exporter's worker processes with these Node.js flags (e.g. --node-flags=--max-semi-space-size=64)
  --out DIR        where to write latest.json and <date>-<mode>.json (default bench/results)
  --strict         exit 1 if a goal is missed`;

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a whole number of at least 1, got "${text}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      soak: { type: 'string' },
      out: { type: 'string' },
      'node-flags': { type: 'string' },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.quick && values.smoke) throw new Error('--quick and --smoke: choose one plan');
  const plan = planFor(values.smoke ? 'smoke' : values.quick ? 'quick' : 'full');
  const only = values.only?.split(',').map((id) => id.trim()).filter((id) => id !== '');
  const unknown = only?.filter((id) => !plan.workloads.some((w) => w.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`--only: no workload ${unknown.join(', ')} in the ${plan.mode} plan (${plan.workloads.map((w) => w.id).join(', ')})`);
  const soakScrapes = positiveInteger(values.soak, '--soak');
  const nodeFlags = values['node-flags']?.split(/\s+/).filter((flag) => flag !== '') ?? [];
  const run = await runBench({ plan, nodeFlags, ...(only && { only }), ...(soakScrapes !== undefined && { soakScrapes }) });
  process.stdout.write(formatRun(run));
  const written = writeRun(run, values.out ?? join(packageRoot(), 'bench', 'results'));
  process.stdout.write(`\nwrote ${written.join(', ')}\n`);
  const disagreeing = run.workloads.filter((w) => !Object.values(w.agreement).every(Boolean)).map((w) => w.workload.id);
  if (disagreeing.length > 0) {
    process.stderr.write(`bench: the strategies disagree on what the kernel holds in ${disagreeing.join(', ')} (see agreement in the JSON)\n`);
    return 1;
  }
  return values.strict && run.goals.some((g) => !g.met) ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
  },
);
