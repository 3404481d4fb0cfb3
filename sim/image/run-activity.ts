/**
 * Command-line driver for KernelActivity, so another process (the demo, a
 * test, a benchmark) can keep an image alive while it reads it:
 *
 *   node dist/sim/image/run-activity.js IMAGE [--seed S] [--interval-ms N] [--steps N]
 *
 * With --steps it runs N steps of interval-ms simulated time at once and
 * exits; otherwise it steps on a timer until SIGINT or SIGTERM. It prints
 * "ready" once the image is open, so a parent knows writing has begun.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { KernelActivity } from './activity.js';
import { KernelImage } from './image.js';
import { readManifest } from './manifest.js';

function parsePositive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} ${text}: expected a positive number`);
  return n;
}

export function runActivity(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { seed: { type: 'string' }, 'interval-ms': { type: 'string' }, steps: { type: 'string' } },
  });
  const path = positionals[0];
  if (path === undefined) throw new Error('usage: run-activity IMAGE [--seed S] [--interval-ms N] [--steps N]');
  const image = KernelImage.open(path);
  const intervalMs = parsePositive('interval-ms', values['interval-ms'], 1000);
  const activity = new KernelActivity(image, readManifest(path), { seed: values.seed ?? 'actv', intervalMs });
  process.stdout.write('ready\n');
  if (values.steps !== undefined) {
    const steps = parsePositive('steps', values.steps, 1);
    for (let i = 0; i < steps; i++) activity.step(intervalMs / 1000);
    image.close();
    return;
  }
  activity.start();
  const shutdown = (): void => {
    activity.stop();
    image.close();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    runActivity(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`run-activity: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
