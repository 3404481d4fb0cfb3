/**
 * `kvm_exporter demo`: the whole exporter against the simulated FreeBSD
 * kernel, with nothing to set up. Builds the simulated libkvm if it is
 * missing, writes a fresh demo kernel into a temporary folder, moves its
 * counters, CPU times, load and processes at realistic rates, and serves it
 * with config/demo.yml. The exporter itself runs exactly as in production;
 * only the library path and the core file point at the simulator.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelActivity } from '../../sim/image/activity.js';
import { writeDemoImage } from '../../sim/image/demo-image.js';
import { KernelImage } from '../../sim/image/image.js';
import { readManifest } from '../../sim/image/manifest.js';
import { packageRoot } from '../version.js';
import type { Flags } from './flags.js';
import { runServe } from './serve.js';

/** The demo kernel moves four times a second, so a 1 s scrape interval sees steady rates. */
const ACTIVITY_INTERVAL_MS = 250;

export async function runDemo(flags: Flags): Promise<number> {
  const root = packageRoot();
  const library = flags.kvmLibrary ?? join(root, 'dist', 'libkvm-sim', 'libkvm.so.7');
  if (!existsSync(library)) {
    process.stderr.write(`building the simulated libkvm (${library})\n`);
    execFileSync('make', ['-C', join(root, 'sim', 'libkvm')], { stdio: 'inherit' });
  }
  const folder = mkdtempSync(join(tmpdir(), 'kvm_exporter-demo-'));
  const corefile = flags.kvmCorefile ?? join(folder, 'kernel.img');
  if (flags.kvmCorefile === undefined) writeDemoImage(corefile);
  const image = KernelImage.open(corefile);
  const activity = new KernelActivity(image, readManifest(corefile), { intervalMs: ACTIVITY_INTERVAL_MS });
  activity.start();
  const cleanUp = () => {
    activity.stop();
    image.close();
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    return await runServe(
      { ...flags, kvmLibrary: library, kvmCorefile: corefile },
      {
        defaultConfigFile: join(root, 'config', 'demo.yml'),
        onListening: (urls) => process.stderr.write(`demo kernel ${corefile} is moving; metrics on ${urls.map((url) => `${url}${flags.telemetryPath}`).join(' ')}\n`),
      },
    );
  } finally {
    cleanUp();
  }
}
