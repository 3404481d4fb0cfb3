/**
 * Keeps the web config current while the server runs: certificate rotation
 * and user changes take effect without a restart.
 *
 * exporter-toolkit re-reads its file on every request and handshake. Here the
 * config file and every file it names are stat'ed once a second (inode, size,
 * mtime); on a change the whole config is loaded and checked again and, only
 * if valid and accepted by `apply` (which swaps TLS contexts), replaces the
 * old one. An invalid file is logged once and the old config stays in force;
 * the next change to a watched file retries.
 */
import { stat } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { BasicAuthVerifier } from './basic-auth.js';
import { BcryptPool } from './bcrypt-pool.js';
import { loadWebConfig, type WebConfig } from './web-config.js';

export interface ActiveWebConfig {
  readonly config: WebConfig;
  readonly auth: BasicAuthVerifier;
}

export type ReloadOutcome = 'unchanged' | 'reloaded' | 'rejected';

/** Called with a newly loaded config before it becomes current; throwing rejects it. */
export type ApplyWebConfig = (next: ActiveWebConfig, previous: ActiveWebConfig) => void;

export const WEB_CONFIG_POLL_MS = 1000;

export async function loadActiveWebConfig(file: string, pool: BcryptPool): Promise<ActiveWebConfig> {
  const config = await loadWebConfig(file);
  return { config, auth: await BasicAuthVerifier.create(config.users, pool) };
}

export class WebConfigWatcher {
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<ReloadOutcome> | undefined;

  private constructor(
    private active: ActiveWebConfig,
    private signature: string,
    private readonly logger: Logger,
    private readonly apply: ApplyWebConfig,
    /** The bcrypt threads every config's verifier shares; they end with the watcher. */
    private readonly pool: BcryptPool,
  ) {}

  /** Loads the file (throwing WebConfigError when invalid) and starts polling it. */
  static async open(file: string, logger: Logger, apply: ApplyWebConfig, pollMs = WEB_CONFIG_POLL_MS): Promise<WebConfigWatcher> {
    const pool = new BcryptPool();
    let active: ActiveWebConfig;
    try {
      active = await loadActiveWebConfig(file, pool);
    } catch (error) {
      await pool.close();
      throw error;
    }
    const watcher = new WebConfigWatcher(active, await filesSignature(active.config.watchedFiles), logger, apply, pool);
    watcher.timer = setInterval(() => void watcher.checkNow(), pollMs);
    // Polling must not keep a process alive that is otherwise done.
    watcher.timer.unref();
    return watcher;
  }

  get current(): ActiveWebConfig {
    return this.active;
  }

  /** Reloads if a watched file changed since the last attempt; one check at a time. */
  checkNow(): Promise<ReloadOutcome> {
    this.checking ??= this.reloadIfChanged().finally(() => (this.checking = undefined));
    return this.checking;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    void this.pool.close();
  }

  private async reloadIfChanged(): Promise<ReloadOutcome> {
    const signature = await filesSignature(this.active.config.watchedFiles);
    if (signature === this.signature) return 'unchanged';
    // Remembered before loading: a broken file is reported once, not every second.
    this.signature = signature;
    const file = this.active.config.file;
    try {
      const next = await loadActiveWebConfig(file, this.pool);
      this.apply(next, this.active);
      const sameFiles = next.config.watchedFiles.join('|') === this.active.config.watchedFiles.join('|');
      this.active = next;
      // With the same files, the signature taken before loading is the right one:
      // a write that lands while loading then still counts as a change.
      if (!sameFiles) this.signature = await filesSignature(next.config.watchedFiles);
      this.logger.info('web config reloaded', { file, tls: next.config.tls !== undefined, users: next.config.users.size });
      return 'reloaded';
    } catch (error) {
      this.logger.error('web config reload failed, keeping the previous one', { file, err: error });
      return 'rejected';
    }
  }
}

async function filesSignature(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(files.map(fileSignature));
  return parts.join('|');
}

async function fileSignature(file: string): Promise<string> {
  try {
    const info = await stat(file, { bigint: true });
    return `${file}:${info.ino}:${info.size}:${info.mtimeNs}`;
  } catch (error) {
    return `${file}:missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
