/**
 * `--kvm.library` on the built CLI: it replaces the config's `kvm.library`
 * (a host whose libkvm lives elsewhere, or the simulated one), whichever
 * of the two would work; a relative path is taken from the working
 * directory, where the config's own is taken from the config's folder; and
 * a library that cannot be loaded is named in the error.
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { parseExposition, valueOf } from '../support/parse.js';
import { ROOT, SIM_LIBRARY, makeKernel, runCli, type TestKernel } from '../support/sim.js';

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
