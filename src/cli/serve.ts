/**
 * `kvm_exporter serve`: open the kernel (on the kernel thread), drop
 * privileges if asked, serve /metrics, reload the config on SIGHUP (in
 * signal order, keeping the old one if the new one is invalid or its libkvm
 * cannot be loaded) and shut down cleanly on SIGTERM or SIGINT: in-flight
 * scrapes finish, the kernel handle is closed, exit 0 within 5 seconds, even
 * with a kernel read that never returns.
 */
import type { Config } from '../config/types.js';
import { Exporter } from '../exporter/exporter.js';
import { SelfMetrics } from '../exposition/self-metrics.js';
import { startServer } from '../http/server.js';
import { createLogger, type Logger } from '../log.js';
import { REVISION, VERSION } from '../version.js';
import { enabledCollectors, type Flags } from './flags.js';
import { exitAtOnce, exitCode } from './exit.js';
import { dropPrivileges, warnIfRoot, type RunAs } from './privileges.js';
import { describeTypes, loadConfigWithFlags, loadRunConfig } from './run-config.js';

/** How long shutdown waits for in-flight scrapes before closing connections. */
const SHUTDOWN_GRACE_MS = 4_000;
/** How long shutdown then waits for the kernel thread to close the handle. */
const KERNEL_CLOSE_WAIT_MS = 250;

export interface ServeHooks {
  /** Runs after the server listens, with its URLs (`http://127.0.0.1:9632`). */
  readonly onListening?: (urls: readonly string[]) => void;
  /** Runs at shutdown, before the process exits. */
  readonly onShutdown?: () => void;
  readonly defaultConfigFile?: string;
}

export async function runServe(flags: Flags, hooks: ServeHooks = {}): Promise<number> {
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat });
  const config = loadRunConfig(flags, hooks.defaultConfigFile);
  if (!config) return 1;
  logger.info('kernel types', { ctf: describeTypes(config) });
  const selfMetrics = new SelfMetrics({ version: VERSION, revision: REVISION }, { defaultMetrics: !flags.disableExporterMetrics });
  const exporter = new Exporter({
    config,
    enabled: enabledCollectors(flags, config.collectors),
    logger,
    selfMetrics: () => selfMetrics.families(),
  });
  // The kernel thread opens the kernel first: setuid applies to every thread, so the drop must come after.
  await exporter.opened();
  if (flags.runas) await dropPrivilegesOrClose(flags.runas, exporter, logger);
  else warnIfRoot(logger);
  const server = await startServer({
    source: exporter,
    telemetryPath: flags.telemetryPath,
    listenAddresses: flags.listenAddresses,
    maxRequests: flags.maxRequests,
    maxConnections: flags.maxConnections,
    timeoutOffsetSeconds: flags.timeoutOffsetSeconds,
    ...(flags.webConfigFile !== undefined && { webConfigFile: flags.webConfigFile }),
    logger,
    info: { version: VERSION, revision: REVISION },
    shutdownTimeoutMs: SHUTDOWN_GRACE_MS,
  });
  logger.info('listening', { addresses: server.addresses.join(','), telemetry_path: flags.telemetryPath, config: config.file });
  hooks.onListening?.(server.urls);

  // Reloads run one after another in signal order, so the reload metric tells the last one attempted.
  let reloads = Promise.resolve();
  process.on('SIGHUP', () => {
    reloads = reloads.then(() => reload(flags, config.file, exporter, selfMetrics, logger));
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info('shutting down', { signal });
  const force = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    void exitAtOnce(1);
  }, SHUTDOWN_GRACE_MS + 1_000).unref();
  await server.close();
  await exporter.close(KERNEL_CLOSE_WAIT_MS);
  hooks.onShutdown?.();
  clearTimeout(force);
  logger.info('stopped');
  return exitCode(0, exporter);
}

/** The kernel thread keeps the process alive: a refused drop closes it before the error ends the command. */
async function dropPrivilegesOrClose(runas: RunAs, exporter: Exporter, logger: Logger): Promise<void> {
  try {
    dropPrivileges(runas, logger);
  } catch (error) {
    await exporter.close(KERNEL_CLOSE_WAIT_MS);
    throw error;
  }
}

async function reload(flags: Flags, file: string, exporter: Exporter, selfMetrics: SelfMetrics, logger: Logger): Promise<void> {
  let config: Config;
  try {
    config = loadConfigWithFlags(file, flags);
  } catch (error) {
    selfMetrics.recordConfigReload(false);
    logger.error('config reload failed; keeping the running config', { file, err: (error as Error).message });
    return;
  }
  const refused = await exporter.reload(config, enabledCollectors(flags, config.collectors));
  selfMetrics.recordConfigReload(refused === undefined);
  if (refused !== undefined) logger.error('config reload failed; keeping the running config', { file, err: refused });
  else logger.info('config reloaded', { file });
}
