/**
 * The config a command runs with: the file from `--config.file`, with the
 * `--kvm.*` flags laid over its `kvm:` section (so one config can be pointed
 * at a crash dump or at the simulated kernel without editing it).
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { ConfigErrors } from '../errors.js';
import { DEFAULT_CONFIG_FILE, type Flags } from './flags.js';

/** Loads the config or prints every problem to standard error and returns undefined. */
export function loadRunConfig(flags: Flags, defaultFile = DEFAULT_CONFIG_FILE): Config | undefined {
  const file = flags.configFile ?? defaultFile;
  try {
    return withKvmFlags(loadConfig(file), flags);
  } catch (error) {
    if (!(error instanceof ConfigErrors)) throw error;
    process.stderr.write(`kvm_exporter: invalid config ${file}:\n${error.message}\n`);
    return undefined;
  }
}

export function withKvmFlags(config: Config, flags: Pick<Flags, 'kvmLibrary' | 'kvmExecfile' | 'kvmCorefile'>): Config {
  const path = (p: string) => (p.includes('/') ? resolve(p) : p);
  return {
    ...config,
    kvm: {
      library: flags.kvmLibrary !== undefined ? path(flags.kvmLibrary) : config.kvm.library,
      execfile: flags.kvmExecfile !== undefined ? resolve(flags.kvmExecfile) : config.kvm.execfile,
      corefile: flags.kvmCorefile !== undefined ? resolve(flags.kvmCorefile) : config.kvm.corefile,
    },
  };
}
