/**
 * The built CLI (`node dist/src/cli.js serve`, or `demo`) as a child
 * process, for the tests that need a real process: signals (SIGHUP reload,
 * SIGTERM and SIGINT shutdown), privilege drop (/proc/<pid>/status), exit
 * codes. Its JSON log on standard error is read line by line, so a test can
 * wait for a line and find the address it listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from '../support/sim.js';
import { until, type LogLine } from './served.js';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() when the process ended. */
  readonly at: number;
}

export interface CliServer {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly log: LogLine[];
  /** Standard error lines that are not JSON (a crash, a Node warning). */
  readonly other: string[];
  readonly exited: Promise<Exit>;
  /** Waits until a log line with this msg (at `level`, when given) appears after line `from`; returns it. */
  waitFor(msg: string, from?: number, level?: string): Promise<LogLine>;
  stop(): Promise<Exit>;
}

/** Starts `serve` on 127.0.0.1 with a free port and JSON logs; resolves once it listens. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliServer> {
  return startServing('serve', args, env);
}

/** Starts a serving command (`serve`, `demo`) as startCli does. */
export async function startServing(command: 'serve' | 'demo', args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliServer> {
  const child = spawn(
    process.execPath,
    [CLI, command, '--web.listen-address=127.0.0.1:0', '--log.format=json', '--log.level=debug', ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log: LogLine[] = [];
  const other: string[] = [];
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        log.push(JSON.parse(line) as LogLine);
      } catch {
        other.push(line);
      }
    }
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, at: performance.now() }));
  let ended = false;
  void exited.then(() => (ended = true));
  const waitFor = async (msg: string, from = 0, level?: string): Promise<LogLine> => {
    const matches = (l: LogLine) => l.msg === msg && (level === undefined || l.level === level);
    await until(`log line "${msg}"`, () => ended || log.slice(from).some(matches), 15_000);
    const line = log.slice(from).find(matches);
    if (line === undefined) throw new Error(`the exporter exited before logging "${msg}": ${other.join('\n')}`);
    return line;
  };
  // serve logs one info line with every bound address; the server's debug lines name one each.
  const listening = await waitFor('listening', 0, 'info');
  return {
    child,
    pid: child.pid!,
    url: `http://${String(listening.addresses).split(',')[0]}`,
    log,
    other,
    exited,
    waitFor,
    async stop() {
      if (!ended) child.kill('SIGTERM');
      return exited;
    },
  };
}
