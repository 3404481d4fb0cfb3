#!/usr/bin/env node
/**
 * kvm_exporter's entry point: parse the flags, load the config, and run the
 * command (serve, check, once, demo, layout). Exit status: 0 success, 1 a problem
 * found (invalid config, unreadable kernel, failing collector), 2 a
 * command-line mistake.
 */
import { runCheck } from './cli/check.js';
import { exitCode } from './cli/exit.js';
import { UsageError, enabledCollectors, parseFlags, usage, type Flags } from './cli/flags.js';
import { runDemo } from './cli/demo.js';
import { runLayout } from './cli/layout.js';
import { runOnce } from './cli/once.js';
import { loadRunConfig } from './cli/run-config.js';
import { runServe } from './cli/serve.js';
import { KvmExporterError } from './errors.js';
import { VERSION } from './version.js';

async function main(argv: readonly string[]): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`kvm_exporter: ${error.message}\n\n${usage()}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`kvm_exporter ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  switch (flags.command) {
    case 'demo':
      return runDemo(flags);
    case 'layout':
      return runLayout(flags);
    case 'serve':
      return runServe(flags);
    case 'check':
    case 'once': {
      const config = loadRunConfig(flags);
      if (!config) return 1;
      const enabled = enabledCollectors(flags, config.collectors);
      if (flags.command === 'once') return runOnce(config, enabled);
      const result = await runCheck(config, enabled);
      process.stdout.write(`${result.lines.join('\n')}\n`);
      return exitCode(result.ok ? 0 : 1, result);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // The exporter's own errors say what and where (a listen address taken); anything else is a bug, with its stack.
    const text = error instanceof KvmExporterError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`kvm_exporter: ${text}\n`);
    process.exitCode = 1;
  },
);
