/**
 * Where the package is installed, and what version and revision it is: read
 * from package.json and from the REVISION file the build writes, found by
 * walking up from this module (it runs from src/ under the tests and from
 * dist/src/ when built).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding kvm_exporter's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'kvm_exporter') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the kvm_exporter package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function readVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
}

function readRevision(): string {
  const file = join(packageRoot(), 'dist', 'REVISION');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || 'unknown' : 'unknown';
}

export const VERSION = readVersion();
export const REVISION = readRevision();
