/**
 * `kvm_exporter layout STRUCT...`: each struct's or union's size and members
 * (name, byte offset, bit offset and width for bit-fields, size, type), or a
 * variable's type (`var:NAME`), read from the kernel's CTF: as JSON with
 * `--format json`, or as C with offset comments like pahole's. The kernel is
 * `--kvm.execfile`, else the config's.
 */
import { resolve } from 'node:path';
import { describeName, type Described } from '../ctf/describe.js';
import { readCtfFile } from '../ctf/file.js';
import { CtfError } from '../errors.js';
import type { Flags } from './flags.js';
import { loadRunConfig } from './run-config.js';

export function runLayout(flags: Flags): number {
  const execfile = kernelFile(flags);
  if (execfile === undefined) return 1;
  let described: Described[];
  const missing: string[] = [];
  try {
    const found = readCtfFile(execfile);
    if (!found) {
      process.stderr.write(`kvm_exporter: ${execfile} has no .SUNW_ctf section (a kernel built without WITH_CTF)\n`);
      return 1;
    }
    described = flags.names.flatMap((name) => {
      const hits = describeName(found.ctf, execfile, name);
      if (hits.length === 0) missing.push(name);
      return hits;
    });
  } catch (error) {
    if (!(error instanceof CtfError)) throw error;
    process.stderr.write(`kvm_exporter: ${error.message}\n`);
    return 1;
  }
  const out = flags.format === 'json' ? `${JSON.stringify(described.map((d) => d.report), null, 1)}\n` : described.map((d) => d.text).join('\n');
  process.stdout.write(out);
  for (const name of missing) process.stderr.write(`kvm_exporter: ${execfile}: no struct, union, typedef or variable ${JSON.stringify(name)} in its CTF\n`);
  return missing.length ? 1 : 0;
}

/** `--kvm.execfile`, else the config's `kvm.execfile`. */
function kernelFile(flags: Flags): string | undefined {
  if (flags.kvmExecfile !== undefined) return resolve(flags.kvmExecfile);
  const config = loadRunConfig(flags);
  if (!config) return undefined;
  if (config.kvm.execfile === null) {
    process.stderr.write('kvm_exporter: layout needs a kernel file: give --kvm.execfile or kvm.execfile in the config\n');
    return undefined;
  }
  return config.kvm.execfile;
}
