/**
 * Test support: simulated FreeBSD kernels in temporary folders, configs that
 * point the exporter at them, and the built CLI. Every test that needs a
 * kernel builds it here, so the exporter under test is always the real one
 * reading through the real koffi binding; only the library path and the
 * core file differ from production.
 *
 * Tests run after `npm run build` (npm test does it first): the simulated
 * libkvm and the compiled CLI come from dist/.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFreeBsdKernel, type FreeBsdKernelSpec } from '../../sim/image/freebsd-kernel.js';
import { writeSimKernelFile, type SimKernelFileOptions } from '../../sim/image/kernel-ctf.js';
import { KernelImage } from '../../sim/image/image.js';
import type { KernelManifest } from '../../sim/image/manifest.js';
import { packageRoot } from '../../src/version.js';

export const ROOT = packageRoot();
export const SIM_LIBRARY = join(ROOT, 'dist', 'libkvm-sim', 'libkvm.so.7');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface TestKernel {
  readonly dir: string;
  /** The image file: the exporter's corefile. */
  readonly image: string;
  readonly manifest: KernelManifest;
  /** Opens the image for in-place changes (counters, CPUs, processes, faults). */
  open(): KernelImage;
  /** Writes a config for this kernel: the kvm section, then `body` (YAML). Returns its path. */
  writeConfig(body?: string, name?: string): string;
  /** Writes the kernel's execfile (an ELF file with its symbols and `version`), as a crash dump needs; returns its path. */
  kernelFile(options?: SimKernelFileOptions, name?: string): string;
  remove(): void;
}

/** Builds a FreeBSD 13+ amd64-like kernel in a fresh temporary folder. */
export function makeKernel(spec: FreeBsdKernelSpec = {}): TestKernel {
  const dir = mkdtempSync(join(tmpdir(), 'kvm_exporter-test-'));
  const image = join(dir, 'kernel.img');
  const manifest = buildFreeBsdKernel(image, spec);
  return {
    dir,
    image,
    manifest,
    open: () => KernelImage.open(image),
    writeConfig(body = '', name = 'config.yml') {
      const file = join(dir, name);
      const kvm = `kvm:\n  library: ${JSON.stringify(SIM_LIBRARY)}\n  corefile: ${JSON.stringify(image)}\n`;
      writeFileSync(file, `${kvm}${body}`);
      return file;
    },
    kernelFile(options = {}, name = 'kernel') {
      const file = join(dir, name);
      writeSimKernelFile(file, manifest, options);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI to completion (with a timeout) and collects its output. */
export function runCli(args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
