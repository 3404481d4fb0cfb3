/**
 * Structured logging for the whole exporter, with no dependency.
 *
 * Mirrors Prometheus' promslog (prometheus/common): `--log.level` picks the
 * lowest level printed and `--log.format` picks logfmt
 * (`time=... level=info source=file.js:12 msg="..." key=value`) or JSON, one
 * object per line. `source` is the caller's file and line, as promslog adds
 * with slog's AddSource; it is computed only for lines that pass the level
 * filter, so debug calls cost nothing when debug is off.
 */
import { basename } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'logfmt' | 'json';
export type LogFields = Readonly<Record<string, unknown>>;

export interface LogStream {
  write(line: string): unknown;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; standard error when absent (standard output stays free for `once`). */
  readonly stream?: LogStream;
  /** Clock for the `time` field; tests pass a fixed one. */
  readonly now?: () => Date;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line, e.g. `{ collector: 'pcpu' }`. */
  child(fields: LogFields): Logger;
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const LOG_FORMATS: readonly LogFormat[] = ['logfmt', 'json'];

const SEVERITY: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export function createLogger(options: LoggerOptions): Logger {
  const sink: LineSink = {
    minSeverity: SEVERITY[options.level],
    format: options.format === 'json' ? formatJson : formatLogfmt,
    stream: options.stream ?? process.stderr,
    now: options.now ?? (() => new Date()),
  };
  return new StructuredLogger(sink, {});
}

/** A logger that drops everything, for callers that were given none. */
export function silentLogger(): Logger {
  return createLogger({ level: 'error', format: 'logfmt', stream: { write: () => undefined } });
}

interface LineSink {
  readonly minSeverity: number;
  readonly format: (record: LogRecord) => string;
  readonly stream: LogStream;
  readonly now: () => Date;
}

interface LogRecord {
  readonly time: string;
  readonly level: LogLevel;
  readonly source: string | undefined;
  readonly msg: string;
  readonly fields: LogFields;
}

class StructuredLogger implements Logger {
  constructor(
    private readonly sink: LineSink,
    private readonly bound: LogFields,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  child(fields: LogFields): Logger {
    return new StructuredLogger(this.sink, { ...this.bound, ...fields });
  }

  private log(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (SEVERITY[level] < this.sink.minSeverity) return;
    const record: LogRecord = {
      time: this.sink.now().toISOString(),
      level,
      source: callerSource(),
      msg,
      fields: fields === undefined ? this.bound : { ...this.bound, ...fields },
    };
    this.sink.stream.write(this.sink.format(record) + '\n');
  }
}

/**
 * `file.js:line` of the code that called debug/info/warn/error: frame 0 is
 * this function, 1 is `log`, 2 the level method, 3 the caller.
 */
function callerSource(): string | undefined {
  const frame = new Error().stack?.split('\n')[4];
  const match = frame === undefined ? null : /\(?([^\s()]+):(\d+):\d+\)?\s*$/.exec(frame);
  return match ? `${basename(match[1]!)}:${match[2]}` : undefined;
}

function formatLogfmt(record: LogRecord): string {
  let line = `time=${record.time} level=${record.level}`;
  if (record.source !== undefined) line += ` source=${record.source}`;
  line += ` msg=${logfmtValue(record.msg)}`;
  for (const [key, value] of Object.entries(record.fields)) {
    if (value === undefined) continue;
    line += ` ${logfmtKey(key)}=${logfmtValue(stringifyField(value))}`;
  }
  return line;
}

function formatJson(record: LogRecord): string {
  const object: Record<string, unknown> = { time: record.time, level: record.level };
  if (record.source !== undefined) object.source = record.source;
  object.msg = record.msg;
  for (const [key, value] of Object.entries(record.fields)) {
    if (value !== undefined) object[key] = jsonField(value);
  }
  return JSON.stringify(object);
}

/** Errors log their message (never a stack: logs are read by operators, not debuggers). */
function stringifyField(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value, (_key, inner: unknown) => jsonField(inner)) ?? String(value);
}

function jsonField(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** logfmt keys cannot hold spaces, `=` or quotes; replace them rather than lose the field. */
function logfmtKey(key: string): string {
  return key === '' ? '_' : key.replace(/[\s="\\]/g, '_');
}

/** Quote when the value is empty or holds a space, `=`, quote, backslash or control character. */
function logfmtValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (value !== '' && !/[\s="\\\u0000-\u001f\u007f]/.test(value)) return value;
  return JSON.stringify(value);
}
