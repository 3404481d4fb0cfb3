/**
 * What the session reports when libkvm fails: only the kvm_geterr text the
 * failing call wrote (libkvm never clears its buffer, lib/libkvm/kvm.c), and
 * a clear refusal on any architecture but amd64 before anything is read.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { KvmReadError, KvmSymbolError } from '../../src/errors.js';
import { KvmSession } from '../../src/kvm/index.js';
import { ROOT, SIM_LIBRARY, makeKernel, runCli } from '../support/sim.js';

const DEMO_CONFIG = join(ROOT, 'config', 'demo.yml');

const kernel = makeKernel({ cpus: [0, 1], live: false });
afterAll(() => kernel.remove());

describe('kvm_geterr text', () => {
  it('is reported for the call that wrote it, never for a later call that wrote none', () => {
    const exec = kernel.kernelFile();
    const image = kernel.open();
    const session = KvmSession.open({ library: SIM_LIBRARY, execfile: exec, corefile: kernel.image });
    try {
      const hz = BigInt(kernel.manifest.symbols.hz!.address);
      image.setEfault(hz, hz + 4n);
      expect(() => session.readI32(hz)).toThrow(KvmReadError);
      expect(() => session.readI32(hz)).toThrow(/kvm_read: Bad address/);
      image.clearFaults();
      // A crash dump's kvm_nlist writes nothing for a name it does not have.
      let missing: unknown;
      try {
        session.lookup('no_such_kernel_variable');
      } catch (err) {
        missing = err;
      }
      expect(missing).toBeInstanceOf(KvmSymbolError);
      expect((missing as KvmSymbolError).message).toBe('kernel symbol no_such_kernel_variable not found');
    } finally {
      session.close();
      image.close();
    }
  });
});

describe('architecture', () => {
  it('anything but amd64 is refused at start with one sentence, before the kernel is read', async () => {
    const arm64 = join(kernel.dir, 'arm64.mjs');
    // koffi loads its x64 binary first; then the process says it is arm64.
    const koffi = join(dirname(createRequire(import.meta.url).resolve('koffi')), 'index.js');
    writeFileSync(arm64, `import ${JSON.stringify(koffi)};\nObject.defineProperty(process, 'arch', { value: 'arm64' });\n`);
    const live = makeKernel({ cpus: [0, 1] });
    try {
      const result = await runCli(['once', '--config.file', DEMO_CONFIG, '--kvm.corefile', live.image], {
        env: { NODE_OPTIONS: `--import ${arm64}` },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('kvm_exporter reads amd64 (x64) kernels only and this is arm64');
    } finally {
      live.remove();
    }
  });
});
