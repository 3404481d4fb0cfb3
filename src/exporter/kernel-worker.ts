/**
 * The kernel thread (a worker thread): it owns the libkvm handle and the
 * collectors built on it, and runs every collection, so that no libkvm
 * call (they are synchronous, and a slow or hung kernel read blocks its
 * thread) ever runs on the main thread, which keeps HTTP, health, signals
 * and rendering. It answers one message at a time, in order: the main
 * thread serialises scrapes and reloads, and this thread never runs two.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { CollectorName, Config } from '../config/types.js';
import { loadLibKvm } from '../kvm/index.js';
import type { LogFields, LogLevel, Logger } from '../log.js';
import { collect } from './collection.js';
import { valueBuffers } from './family-wire.js';
import { KernelConnection } from './kernel-connection.js';
import type { FromKernel, KernelState, KernelThreadData, ToKernel } from './kernel-messages.js';

/** One per kernel thread: the connection and how it talks to the main thread. */
class KernelThreadMain {
  private readonly heartbeat: Float64Array;
  private readonly logger: Logger;
  private connection: KernelConnection;

  constructor(
    private readonly port: MessagePort,
    private readonly data: KernelThreadData,
  ) {
    this.heartbeat = new Float64Array(data.heartbeat);
    this.logger = forwardingLogger((message) => this.send(message), {});
    this.connection = this.open(data.config, data.enabled);
    this.send({ kind: 'opened', state: this.state() });
    port.on('message', (message: ToKernel) => void this.answer(message));
  }

  private async answer(message: ToKernel): Promise<void> {
    this.beat();
    switch (message.kind) {
      case 'collect': {
        const setup = this.connection.prepareScrape();
        const beat = () => this.beat();
        const deadline = new Float64Array(message.deadline);
        const collection = await collect(setup, message.names, () => deadline[0]!, { between: async () => beat(), checkpoint: beat });
        this.send({ kind: 'collected', id: message.id, state: this.state(), collection }, valueBuffers(collection.families));
        return;
      }
      case 'reload': {
        const refused = unloadableLibrary(message.config);
        if (refused === undefined) {
          this.connection.close();
          this.connection = this.open(message.config, message.enabled);
        }
        this.send({ kind: 'reloaded', id: message.id, state: this.state(), ...(refused !== undefined && { refused }) });
        return;
      }
      case 'close':
        this.connection.close();
        this.send({ kind: 'closed', id: message.id });
        this.port.close();
    }
  }

  private open(config: Config, enabled: readonly CollectorName[]): KernelConnection {
    const { backoff, crossCheck } = this.data;
    return new KernelConnection(config, new Set(enabled), this.logger, { ...(backoff && { backoff }), ...(crossCheck && { crossCheck }) });
  }

  private state(): KernelState {
    const error = this.connection.error;
    return { ...(error !== undefined && { error }), leftOut: this.connection.leftOut };
  }

  private beat(): void {
    this.heartbeat[0] = Date.now();
  }

  private send(message: FromKernel, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(message, transfer);
  }
}

/**
 * A new config whose libkvm cannot be loaded is refused before the running
 * handle is closed: unlike a kernel that cannot be opened now, it will not
 * get better by retrying.
 */
function unloadableLibrary(config: Config): string | undefined {
  try {
    loadLibKvm(config.kvm.library);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Log lines go to the main thread's logger, in order with the answers. */
function forwardingLogger(send: (message: FromKernel) => void, bound: LogFields): Logger {
  const log = (level: LogLevel) => (msg: string, fields?: LogFields) => send({ kind: 'log', level, msg, fields: { ...bound, ...fields } });
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => forwardingLogger(send, { ...bound, ...fields }),
  };
}

new KernelThreadMain(parentPort!, workerData as KernelThreadData);
