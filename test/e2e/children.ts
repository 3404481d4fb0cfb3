/**
 * Child processes of the end-to-end test (exporters, Prometheus): started,
 * watched line by line and always stopped.
 *
 * Owns the one promise the test makes to the machine it runs on: every
 * process it starts is gone when it ends, also when a hook throws or the
 * worker dies (an exit handler SIGKILLs what is left). Mirrors how a service
 * manager stops a daemon: SIGTERM, a grace period, then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Lines kept per child for error messages. */
const TAIL_LINES = 60;
/** How long a child may take to exit after SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 5_000;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class WatchedChild {
  private readonly lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private exitStatus: ExitStatus | undefined;
  readonly exited: Promise<ExitStatus>;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
      process.once('error', (error) => {
        this.remember(`spawn error: ${error.message}`);
        this.exitStatus = { code: null, signal: null };
        resolve(this.exitStatus);
      });
    });
    for (const stream of [process.stdout, process.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.remember(line));
    }
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** The last lines the child printed (stdout and stderr interleaved), for error messages. */
  tail(): string {
    return this.lines.map((line) => `    ${line}`).join('\n');
  }

  /**
   * Resolves with the first value `match` finds in an output line (lines
   * already printed included). Rejects, naming the child and quoting its
   * output, when it exits first or `timeoutMs` passes.
   */
  waitForLine<T>(what: string, timeoutMs: number, match: (line: string) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (finish: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(onLine);
        finish();
      };
      const onLine = (line: string): void => {
        const found = match(line);
        if (found !== undefined) settle(() => resolve(found));
      };
      const timer = setTimeout(
        () => settle(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; output:\n${this.tail()}`))),
        timeoutMs,
      );
      void this.exited.then((status) =>
        settle(() => reject(new Error(`${this.name} exited (${describeExit(status)}) before ${what}; output:\n${this.tail()}`))),
      );
      this.listeners.add(onLine);
      for (const line of this.lines) onLine(line);
    });
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
  async stop(): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus as ExitStatus;
    this.process.kill('SIGTERM');
    const killer = setTimeout(() => this.process.kill('SIGKILL'), STOP_GRACE_MS);
    const status = await this.exited;
    clearTimeout(killer);
    return status;
  }

  private remember(line: string): void {
    this.lines.push(line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
    for (const listener of this.listeners) listener(line);
  }
}

export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `exit status ${status.code}`;
}

/** The children of one test file; stopAll() in afterAll, and a SIGKILL safety net at process exit. */
export class ChildProcesses {
  private readonly children: WatchedChild[] = [];
  private readonly killLeftovers = (): void => {
    for (const child of this.children) if (child.running) child.process.kill('SIGKILL');
  };

  constructor() {
    process.once('exit', this.killLeftovers);
  }

  start(name: string, command: string, args: readonly string[], options: { cwd?: string } = {}): WatchedChild {
    const child = new WatchedChild(name, spawn(command, [...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.children.push(child);
    return child;
  }

  /** Stops every child that still runs, all at once; returns the ones that needed SIGKILL or died badly, described. */
  async stopAll(): Promise<string[]> {
    const statuses = await Promise.all(this.children.map(async (child) => [child, await child.stop()] as const));
    process.off('exit', this.killLeftovers);
    return statuses
      .filter(([, status]) => status.signal === 'SIGKILL')
      .map(([child, status]) => `${child.name}: ${describeExit(status)}`);
  }
}
