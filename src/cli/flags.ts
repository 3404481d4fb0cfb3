/**
 * Command-line flags in node_exporter's style (`--web.listen-address`,
 * `--collector.<name>` / `--no-collector.<name>`), parsed with Node's own
 * util.parseArgs. Collector flags are generated from the collector registry,
 * so a new collector gets its flags by being registered.
 */
import { parseArgs } from 'node:util';
import { COLLECTORS } from '../collectors/index.js';
import type { CollectorName } from '../config/types.js';
import { parseListenAddress, type ListenAddress } from '../http/listen-address.js';
import { telemetryPathProblem } from '../http/server.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log.js';
import { parseRunAs, type RunAs } from './privileges.js';

/** Port 9632: not claimed by node_exporter (9100), the FreeBSD sysctl (9124), jail (9452) or process (9256) exporters. */
export const DEFAULT_LISTEN_ADDRESS = ':9632';
export const DEFAULT_CONFIG_FILE = '/usr/local/etc/kvm_exporter.yml';
/**
 * Room for a few Prometheus servers, their keep-alive connections and
 * browsers, while a client opening sockets in a loop cannot take every file
 * descriptor the kernel reads need.
 */
export const DEFAULT_MAX_CONNECTIONS = 256;

export const COMMANDS = ['serve', 'check', 'once', 'demo', 'layout'] as const;
export const LAYOUT_FORMATS = ['text', 'json'] as const;
export type LayoutFormat = (typeof LAYOUT_FORMATS)[number];
export type Command = (typeof COMMANDS)[number];

export interface Flags {
  readonly command: Command;
  readonly configFile: string | undefined;
  readonly listenAddresses: readonly ListenAddress[];
  readonly telemetryPath: string;
  readonly webConfigFile: string | undefined;
  readonly maxRequests: number;
  readonly maxConnections: number;
  readonly timeoutOffsetSeconds: number;
  readonly disableExporterMetrics: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly kvmLibrary: string | undefined;
  readonly kvmExecfile: string | undefined;
  readonly kvmCorefile: string | undefined;
  readonly runas: RunAs | undefined;
  /** `layout`: the structs, unions, typedefs or `var:NAME` variables to print. */
  readonly names: readonly string[];
  /** `layout`: pahole-like text or JSON. */
  readonly format: LayoutFormat;
  /** Per-collector choices from the command line; absent = config or default. */
  readonly collectors: ReadonlyMap<CollectorName, boolean>;
  readonly disableDefaults: boolean;
  readonly help: boolean;
  readonly version: boolean;
}

/** A command-line mistake: printed with the usage, exit status 2. */
export class UsageError extends Error {}

const OPTIONS = {
  'config.file': { type: 'string' },
  'web.listen-address': { type: 'string', multiple: true },
  'web.telemetry-path': { type: 'string', default: '/metrics' },
  'web.config.file': { type: 'string' },
  'web.max-requests': { type: 'string', default: '40' },
  'web.max-connections': { type: 'string', default: String(DEFAULT_MAX_CONNECTIONS) },
  'web.timeout-offset': { type: 'string', default: '0.5' },
  'web.disable-exporter-metrics': { type: 'boolean', default: false },
  'log.level': { type: 'string', default: 'info' },
  'log.format': { type: 'string', default: 'logfmt' },
  'kvm.library': { type: 'string' },
  'kvm.execfile': { type: 'string' },
  'kvm.corefile': { type: 'string' },
  runas: { type: 'string' },
  format: { type: 'string', default: 'text' },
  'collector.disable-defaults': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
  ...Object.fromEntries(
    COLLECTORS.flatMap(({ name }) => [
      [`collector.${name}`, { type: 'boolean' }],
      [`no-collector.${name}`, { type: 'boolean' }],
    ]),
  ),
} as const;

export function parseFlags(argv: readonly string[]): Flags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const str = (name: string) => values[name] as string | undefined;
  return {
    command: command(parsed.positionals),
    names: parsed.positionals.slice(1),
    format: oneOf('format', str('format')!, LAYOUT_FORMATS),
    configFile: str('config.file'),
    listenAddresses: ((values['web.listen-address'] as string[] | undefined) ?? [DEFAULT_LISTEN_ADDRESS]).map(listenAddress),
    telemetryPath: telemetryPath(str('web.telemetry-path')!),
    webConfigFile: str('web.config.file'),
    maxRequests: wholeNumber('web.max-requests', str('web.max-requests')!),
    maxConnections: wholeNumber('web.max-connections', str('web.max-connections')!),
    timeoutOffsetSeconds: seconds('web.timeout-offset', str('web.timeout-offset')!),
    disableExporterMetrics: values['web.disable-exporter-metrics'] === true,
    logLevel: oneOf('log.level', str('log.level')!, LOG_LEVELS),
    logFormat: oneOf('log.format', str('log.format')!, LOG_FORMATS),
    kvmLibrary: str('kvm.library'),
    kvmExecfile: str('kvm.execfile'),
    kvmCorefile: str('kvm.corefile'),
    runas: runAs(str('runas')),
    collectors: collectorChoices(values),
    disableDefaults: values['collector.disable-defaults'] === true,
    help: values.help === true,
    version: values.version === true,
  };
}

function command(positionals: readonly string[]): Command {
  const name = positionals[0] ?? 'serve';
  if (!(COMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.join(', ')}`);
  }
  if (name === 'layout' && positionals.length < 2) throw new UsageError('layout needs at least one struct, union, typedef or var:NAME');
  if (name !== 'layout' && positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
  return name as Command;
}

function runAs(text: string | undefined): RunAs | undefined {
  if (text === undefined) return undefined;
  const parsed = parseRunAs(text);
  if (!parsed) throw new UsageError(`--runas expects USER or USER:GROUP, got ${JSON.stringify(text)}`);
  return parsed;
}

function collectorChoices(values: Record<string, unknown>): Map<CollectorName, boolean> {
  const choices = new Map<CollectorName, boolean>();
  for (const { name } of COLLECTORS) {
    const on = values[`collector.${name}`] === true;
    const off = values[`no-collector.${name}`] === true;
    if (on && off) throw new UsageError(`--collector.${name} and --no-collector.${name} contradict each other`);
    if (on || off) choices.set(name, on);
  }
  return choices;
}

function telemetryPath(path: string): string {
  const problem = telemetryPathProblem(path);
  if (problem) throw new UsageError(`--web.telemetry-path ${problem}, got ${JSON.stringify(path)}`);
  return path;
}

function listenAddress(text: string): ListenAddress {
  const parsed = parseListenAddress(text);
  if (!parsed.ok) throw new UsageError(`--web.listen-address ${JSON.stringify(text)}: ${parsed.problem}`);
  return parsed.address;
}

function wholeNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} expects a whole number >= 0, got ${JSON.stringify(text)}`);
  return n;
}

function seconds(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${flag} expects seconds >= 0, got ${JSON.stringify(text)}`);
  return n;
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`--${flag} expects one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text as T;
}

/** Which collectors run: flags win over the config file, which wins over each collector's default. */
export function enabledCollectors(
  flags: Pick<Flags, 'collectors' | 'disableDefaults'>,
  fromConfig: Readonly<Partial<Record<CollectorName, boolean>>>,
): Set<CollectorName> {
  const enabled = new Set<CollectorName>();
  for (const { name, defaultEnabled } of COLLECTORS) {
    const chosen = flags.collectors.get(name) ?? fromConfig[name] ?? (flags.disableDefaults ? false : defaultEnabled);
    if (chosen) enabled.add(name);
  }
  return enabled;
}

export function usage(): string {
  const collectorLines = COLLECTORS.map(
    ({ name, defaultEnabled, description }) =>
      `  --[no-]collector.${name.padEnd(10)} ${description} (default: ${defaultEnabled ? 'enabled' : 'disabled'})`,
  );
  return [
    'usage: kvm_exporter [serve|check|once|demo] [flags]',
    '       kvm_exporter layout [--kvm.execfile=FILE] [--format=text|json] STRUCT|var:NAME...',
    '',
    'Exports FreeBSD kernel counters read through libkvm to Prometheus.',
    '',
    'commands:',
    '  serve   serve metrics over HTTP (default)',
    '  check   validate the config, open the kernel, resolve and read every entry; exit 1 on any problem',
    '  once    print one scrape to standard output; exit 1 if a collector failed',
    '  demo    run against the built-in simulated kernel, with counters moving, and serve it',
    "  layout  print structs' sizes and member offsets, or variables' types, from the kernel's CTF",
    '',
    'flags:',
    `  --config.file=FILE           YAML config (default ${DEFAULT_CONFIG_FILE}; demo: config/demo.yml)`,
    `  --web.listen-address=ADDR    address to listen on, repeatable (default ${DEFAULT_LISTEN_ADDRESS})`,
    '  --web.telemetry-path=PATH    path for metrics (default /metrics)',
    '  --web.config.file=FILE       TLS and basic auth config, exporter-toolkit format',
    '  --web.max-requests=N         concurrent scrapes, excess get 503; 0 = unlimited (default 40)',
    `  --web.max-connections=N      open connections, excess are closed at once; 0 = unlimited (default ${DEFAULT_MAX_CONNECTIONS})`,
    '  --web.timeout-offset=S       answer this long before X-Prometheus-Scrape-Timeout-Seconds (default 0.5)',
    '  --web.disable-exporter-metrics  leave out the Node.js process metrics (process_*, nodejs_*)',
    '  --kvm.library=PATH           libkvm to load (overrides kvm.library in the config)',
    '  --kvm.execfile=FILE          kernel image (overrides kvm.execfile)',
    '  --kvm.corefile=FILE          /dev/mem or a crash dump (overrides kvm.corefile)',
    '  --runas=USER[:GROUP]         open the kernel, then drop to this user before serving',
    '  --format=FORMAT              layout: text (like pahole) or json (default text)',
    '  --log.level=LEVEL            debug, info, warn or error (default info)',
    '  --log.format=FORMAT          logfmt or json (default logfmt)',
    '  --collector.disable-defaults only run collectors enabled explicitly',
    ...collectorLines,
    '  --version                    print the version',
    '  -h, --help                   print this help',
  ].join('\n');
}
