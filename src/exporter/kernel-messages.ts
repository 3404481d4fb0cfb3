/**
 * The messages between the main thread and the kernel thread, both ways.
 * Everything in them is plain data (structured clone), except the families'
 * value columns, which are transferred.
 */
import type { CollectorName, Config } from '../config/types.js';
import type { LogFields, LogLevel } from '../log.js';
import type { Collection } from './collection.js';
import type { Backoff } from './kernel-connection.js';

/** What the kernel thread starts with (workerData). */
export interface KernelThreadData {
  readonly config: Config;
  readonly enabled: readonly CollectorName[];
  readonly backoff?: Backoff;
  /** `check`: collectors cross-check their reads against libkvm's own when built (CollectorContext.crossCheck). */
  readonly crossCheck?: boolean;
  /**
   * One Float64 the kernel thread sets to Date.now() at every step of a
   * collection (each entry, span or collector): the main thread reads it to
   * tell a slow kernel from a read that does not return.
   */
  readonly heartbeat: SharedArrayBuffer;
}

export type ToKernel =
  /** `deadline` holds one Float64, epoch ms (Infinity: none), which the main thread raises when a later scrape joins. */
  | { readonly kind: 'collect'; readonly id: number; readonly names: readonly CollectorName[]; readonly deadline: SharedArrayBuffer }
  | { readonly kind: 'reload'; readonly id: number; readonly config: Config; readonly enabled: readonly CollectorName[] }
  | { readonly kind: 'close'; readonly id: number };

/** The kernel connection's standing state, sent with every answer. */
export interface KernelState {
  /** Why the kernel cannot be read; undefined while it can. */
  readonly error?: string;
  /** Config entries left out and collectors not built, as `key (source): problem`. */
  readonly leftOut: readonly string[];
}

export type FromKernel =
  | { readonly kind: 'log'; readonly level: LogLevel; readonly msg: string; readonly fields: LogFields }
  | { readonly kind: 'opened'; readonly state: KernelState }
  | { readonly kind: 'collected'; readonly id: number; readonly state: KernelState; readonly collection: Collection }
  | { readonly kind: 'reloaded'; readonly id: number; readonly state: KernelState; readonly refused?: string }
  | { readonly kind: 'closed'; readonly id: number };
