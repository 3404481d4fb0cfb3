/**
 * Every error kvm_exporter raises, in one place. Each class has a stable
 * `code` (documented in the README's error table, which a test keeps in step
 * with this file) and structured fields, so callers branch on `instanceof` or
 * `code` and never parse messages.
 */

export abstract class KvmExporterError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** `kvm_openfiles` returned NULL; `kvmErr` is the text libkvm put in errbuf. */
export class KvmOpenError extends KvmExporterError {
  readonly code = 'KVM_OPEN';
  constructor(
    readonly execfile: string | null,
    readonly corefile: string | null,
    readonly kvmErr: string,
  ) {
    super(`kvm_openfiles(${execfile ?? 'NULL'}, ${corefile ?? 'NULL'}) failed: ${kvmErr}`);
  }
}

/** The shared library could not be loaded or lacks a libkvm function. */
export class KvmLibraryError extends KvmExporterError {
  readonly code = 'KVM_LIBRARY';
  constructor(readonly library: string, detail: string, options?: ErrorOptions) {
    super(`cannot use libkvm at ${library}: ${detail}`, options);
  }
}

/** A libkvm call failed; `kvmErr` is `kvm_geterr()` right after the call. */
export class KvmCallError extends KvmExporterError {
  readonly code = 'KVM_CALL';
  constructor(
    readonly fn: string,
    readonly args: string,
    readonly kvmErr: string,
    detail?: string,
  ) {
    super(`${fn}(${args}) failed: ${detail ?? (kvmErr || 'no error text from kvm_geterr')}`);
  }
}

/** A read of kernel memory failed or came back short. */
export class KvmReadError extends KvmExporterError {
  readonly code = 'KVM_READ';
  constructor(
    readonly fn: string,
    readonly address: bigint,
    readonly length: number,
    readonly got: number,
    readonly kvmErr: string,
    readonly cpu?: number,
  ) {
    const where = `0x${address.toString(16)}${cpu === undefined ? '' : ` on CPU ${cpu}`}`;
    const what = got < 0 ? 'failed' : `returned ${got} of ${length} bytes`;
    super(`${fn} of ${length} bytes at ${where} ${what}: ${kvmErr || 'no error text from kvm_geterr'}`);
  }
}

/** `kvm_nlist` did not find a symbol. */
export class KvmSymbolError extends KvmExporterError {
  readonly code = 'KVM_SYMBOL';
  constructor(readonly symbol: string, readonly kvmErr: string) {
    super(`kernel symbol ${symbol} not found${kvmErr ? `: ${kvmErr}` : ''}`);
  }
}

/** The kernel's data does not have the shape the exporter expects. */
export class KvmLayoutError extends KvmExporterError {
  readonly code = 'KVM_LAYOUT';
  constructor(message: string) {
    super(message);
  }
}

/** A walk of vnet_head or allprison met a loop, a bad magic or an unreadable pointer (src/kvm/vnet.ts). */
export class KvmVnetWalkError extends KvmExporterError {
  readonly code = 'KVM_VNET_WALK';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The session was used after `close()`. */
export class KvmClosedError extends KvmExporterError {
  readonly code = 'KVM_CLOSED';
  constructor() {
    super('the kernel handle is closed');
  }
}

/** A problem in a config file, with where it is. */
export class ConfigError extends KvmExporterError {
  readonly code = 'CONFIG';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    readonly key: string | undefined,
    readonly problem: string,
  ) {
    const at = line === undefined ? file : `${file}:${line}:${column ?? 1}`;
    super(`${at}: ${key ? `${key}: ` : ''}${problem}`);
  }
}

/** Several config problems at once: everything `check` would report. */
export class ConfigErrors extends KvmExporterError {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

/** The scrape's deadline passed before this collector ran or finished. */
export class DeadlineError extends KvmExporterError {
  readonly code = 'DEADLINE';
  constructor(readonly collector: string) {
    super(`scrape deadline passed before collector ${collector} finished`);
  }
}

/** A web config file (TLS, basic auth) is invalid. */
export class WebConfigError extends KvmExporterError {
  readonly code = 'WEB_CONFIG';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** The server could not listen on one of its `--web.listen-address`es (taken, not local, not permitted). */
export class ListenError extends KvmExporterError {
  readonly code = 'LISTEN';
  constructor(readonly address: string, detail: string, options?: ErrorOptions) {
    super(`cannot listen on ${address}: ${detail}`, options);
  }
}

/** `--runas` names a user or group this host does not know, or the switch to it failed. */
export class PrivilegesError extends KvmExporterError {
  readonly code = 'PRIVILEGES';
  constructor(readonly runas: string, problem: string, options?: ErrorOptions) {
    super(`--runas ${runas}: ${problem}`, options);
  }
}

/** A `collect[]`/`exclude[]` parameter named a collector that is unknown or disabled. */
export class UnknownCollectorError extends KvmExporterError {
  readonly code = 'UNKNOWN_COLLECTOR';
  constructor(readonly collector: string, readonly reason: 'unknown' | 'disabled', readonly valid: readonly string[]) {
    super(`${reason} collector: ${collector} (enabled collectors: ${valid.join(', ')})`);
  }
}

/** Read failures of individual config entries during one scrape; the other entries were still emitted. */
export class EntryErrors extends KvmExporterError {
  readonly code = 'ENTRY_ERRORS';
  constructor(readonly failures: readonly { readonly key: string; readonly error: Error }[]) {
    super(failures.map((f) => `${f.key}: ${f.error.message}`).join('; '));
  }
}

/** A CTF section or the ELF file around it is malformed, or asks for something the reader refuses. */
export class CtfError extends KvmExporterError {
  readonly code = 'CTF';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}
