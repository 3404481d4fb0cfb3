/**
 * The config a command runs with: the file from `--config.file`, with the
 * `--kvm.*` flags laid over its `kvm:` section (so one config can be pointed
 * at a crash dump or at the simulated kernel without editing it), and field
 * offsets resolved against the kernel's own CTF when `kvm.ctf` finds it.
 */
import { resolve } from 'node:path';
import type { KernelTypes } from '../config/kernel-types.js';
import { loadConfig } from '../config/load.js';
import type { Config, KvmConfig } from '../config/types.js';
import { ctfKernelTypes } from '../ctf/kernel-types.js';
import { locateCtf } from '../ctf/locate.js';
import { ConfigErrors } from '../errors.js';
import { RunningSystem } from '../kvm/system.js';
import { DEFAULT_CONFIG_FILE, type Flags } from './flags.js';

type KvmFlags = Pick<Flags, 'kvmLibrary' | 'kvmExecfile' | 'kvmCorefile'>;

/** Loads the config or prints every problem to standard error and returns undefined. */
export function loadRunConfig(flags: Flags, defaultFile = DEFAULT_CONFIG_FILE): Config | undefined {
  const file = flags.configFile ?? defaultFile;
  try {
    return loadConfigWithFlags(file, flags);
  } catch (error) {
    if (!(error instanceof ConfigErrors)) throw error;
    process.stderr.write(`kvm_exporter: invalid config ${file}:\n${error.message}\n`);
    return undefined;
  }
}

/** The config file with the flags applied and the kernel's CTF located; throws ConfigErrors. */
export function loadConfigWithFlags(file: string, flags: KvmFlags): Config {
  return loadConfig(file, { kvm: kvmFlags(flags), types: kernelTypes });
}

function kvmFlags(flags: KvmFlags): Partial<KvmConfig> {
  const path = (p: string) => (p.includes('/') ? resolve(p) : p);
  return {
    ...(flags.kvmLibrary !== undefined && { library: path(flags.kvmLibrary) }),
    ...(flags.kvmExecfile !== undefined && { execfile: resolve(flags.kvmExecfile) }),
    ...(flags.kvmCorefile !== undefined && { corefile: resolve(flags.kvmCorefile) }),
  };
}

/** The kernel's CTF as the config resolves against it, or why there is none. */
function kernelTypes(kvm: KvmConfig): KernelTypes | string {
  const located = locateCtf(kvm.ctf, kvm.execfile, RunningSystem.open());
  return located.kernel ? ctfKernelTypes({ ...located, kernel: located.kernel }) : located.reason!;
}

/** One line for the log and `check`: where field offsets were resolved. */
export function describeTypes(config: Config): string {
  return 'origin' in config.ctf
    ? `field offsets from ${config.ctf.origin}, then preset layouts`
    : `no CTF (${config.ctf.none}): field offsets from config and preset layouts`;
}
