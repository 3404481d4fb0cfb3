/**
 * The `--web.config.file` YAML: TLS, client certificates, response headers
 * and basic-auth users.
 *
 * Mirrors prometheus/exporter-toolkit (`web/tls_config.go`, `web/handler.go`,
 * docs/web-configuration.md) so one file serves every exporter on a host:
 * same keys, same defaults (TLS 1.2 to 1.3, server cipher order), same
 * checks (cert and key both or neither, client CAs need a client auth type,
 * client_allowed_sans needs a required certificate, only the five security
 * headers, bcrypt hashes), relative paths taken from the file's directory.
 * Keys exporter-toolkit has and kvm_exporter does not implement
 * (`rate_limit`, `http2: true`) are refused by name rather than ignored.
 * Every problem names the file, the line and the key. (Past 300 lines on
 * purpose: schema, checks and line reporting share one Problem type and are
 * read together; the name tables live in web-config-names.ts.)
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { WebConfigError } from '../errors.js';
import { MAX_BCRYPT_COST, MIN_BCRYPT_COST, bcryptCost } from './basic-auth.js';
import { tlsMaterialProblem, type TlsSettings } from './tls.js';
import {
  ALLOWED_HEADERS,
  CLIENT_AUTH_TYPES,
  GO_CIPHER_SUITES,
  GO_CURVES,
  LEGACY_CLIENT_AUTH,
  TLS13_SUITES,
  TLS_VERSIONS,
  type ClientAuthType,
  type TlsVersionName,
} from './web-config-names.js';

export type { ClientAuthType } from './web-config-names.js';

const BCRYPT_HASH = /^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$/;

export interface WebConfig {
  readonly file: string;
  /** Absent: plain HTTP. */
  readonly tls?: TlsSettings;
  readonly headers: Readonly<Record<string, string>>;
  /** user name → bcrypt hash; empty: no basic auth. */
  readonly users: ReadonlyMap<string, string>;
  /** The config file and every file it names: a change to any means a reload. */
  readonly watchedFiles: readonly string[];
}

const optionalString = z.string().nullish();
const enumOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: () => `must be one of ${values.join(', ')}` });

const TlsSchema = z.strictObject({
  cert_file: optionalString,
  key_file: optionalString,
  cert: optionalString,
  key: optionalString,
  client_ca_file: optionalString,
  client_ca: optionalString,
  client_auth_type: z.string().nullish(),
  min_version: z.string().nullish(),
  max_version: z.string().nullish(),
  cipher_suites: z.array(enumOf(Object.keys(GO_CIPHER_SUITES) as [string, ...string[]])).nullish(),
  curve_preferences: z.array(enumOf(Object.keys(GO_CURVES) as [string, ...string[]])).nullish(),
  prefer_server_cipher_suites: z.boolean().nullish(),
  client_allowed_sans: z.array(z.string()).nullish(),
});

const HttpSchema = z.strictObject({
  http2: z.boolean().nullish(),
  headers: z.record(z.string(), z.string()).nullish(),
});

const WebConfigSchema = z.strictObject({
  tls_server_config: TlsSchema.nullish(),
  http_server_config: HttpSchema.nullish(),
  basic_auth_users: z.record(z.string(), z.string()).nullish(),
  rate_limit: z.unknown().optional(),
});

type RawWebConfig = z.infer<typeof WebConfigSchema>;
type RawTls = z.infer<typeof TlsSchema>;

/** A problem and the YAML path it is about (for its line number). */
interface Problem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Reads and checks the web config and every file it names; throws WebConfigError listing every problem. */
export async function loadWebConfig(file: string): Promise<WebConfig> {
  const text = await readText(file);
  const parsed = parseWebConfigText(file, text);
  const dir = dirname(resolve(file));
  const tls = parsed.raw.tls_server_config;
  const settings = tls && tlsEnabled(tls) ? await loadTls(parsed, tls, dir) : undefined;
  return {
    file,
    ...(settings ? { tls: settings.tls } : {}),
    headers: { ...(parsed.raw.http_server_config?.headers ?? {}) },
    users: new Map(Object.entries(parsed.raw.basic_auth_users ?? {})),
    watchedFiles: [resolve(file), ...(settings?.files ?? [])],
  };
}

export interface ParsedWebConfig {
  readonly file: string;
  readonly raw: RawWebConfig;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
}

/** Parses and checks the YAML alone (no referenced file is read). */
export function parseWebConfigText(file: string, text: string): ParsedWebConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new WebConfigError(file, doc.errors.map((error) => `invalid YAML: ${error.message.split('\n')[0]}`).join(`\n${file}: `));
  }
  const result = WebConfigSchema.safeParse(doc.toJS() ?? {});
  const problems = result.success ? checkSemantics(result.data) : result.error.issues.flatMap(issueProblems);
  const parsed = { file, raw: result.data!, doc, lineCounter };
  if (problems.length > 0) throw new WebConfigError(file, problems.map((p) => describe(parsed, p)).join(`\n${file}: `));
  return parsed;
}

function issueProblems(issue: z.core.$ZodIssue): Problem[] {
  const path = issue.path.filter((part): part is string | number => typeof part !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }));
  }
  return [{ path, message: issue.message }];
}

/** `line 7: tls_server_config.client_auth_type: must be one of ...` */
function describe(parsed: Pick<ParsedWebConfig, 'doc' | 'lineCounter'>, problem: Problem): string {
  const key = problem.path.join('.');
  const offset = offsetOf(parsed.doc, problem.path);
  const at = offset === undefined ? '' : `line ${parsed.lineCounter.linePos(offset).line}: `;
  return `${at}${key === '' ? '' : `${key}: `}${problem.message}`;
}

/** Where a key's name starts in the source (the key, not its value, so unknown keys are found too). */
function offsetOf(doc: Document, path: readonly (string | number)[]): number | undefined {
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
  return isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
}

/** The checks exporter-toolkit makes after decoding, plus refusals of what is not implemented. */
function checkSemantics(raw: RawWebConfig): Problem[] {
  return [
    ...(raw.rate_limit === undefined ? [] : [{ path: ['rate_limit'], message: 'not supported by kvm_exporter (use a reverse proxy to rate-limit)' }]),
    ...(raw.http_server_config?.http2 === true
      ? [{ path: ['http_server_config', 'http2'], message: 'kvm_exporter serves HTTP/1.1 only; set it to false or remove it' }]
      : []),
    ...headerProblems(raw.http_server_config?.headers ?? {}),
    ...userProblems(raw.basic_auth_users ?? {}),
    ...(raw.tls_server_config && tlsEnabled(raw.tls_server_config) ? tlsProblems(raw.tls_server_config) : []),
  ];
}

function headerProblems(headers: Readonly<Record<string, string>>): Problem[] {
  return Object.entries(headers).flatMap(([name, value]): Problem[] => {
    const path = ['http_server_config', 'headers', name];
    if (!(name in ALLOWED_HEADERS)) {
      return [{ path, message: `header cannot be configured (allowed: ${Object.keys(ALLOWED_HEADERS).join(', ')})` }];
    }
    const allowed = ALLOWED_HEADERS[name];
    if (allowed && !allowed.includes(value)) return [{ path, message: `must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}` }];
    return HEADER_VALUE.test(value) ? [] : [{ path, message: `${JSON.stringify(value)} ${HEADER_VALUE_RULE}` }];
  });
}

/**
 * What Node's `setHeader` accepts (its `checkInvalidHeaderChar`, after RFC
 * 9110's field-value): tab, visible ASCII, space and Latin-1 bytes. Anything
 * else — CR or LF above all, which would split the header — makes every
 * response fail, so it is refused when the file is loaded.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HEADER_VALUE_RULE = 'is not a valid header value: only tab, printable ASCII and Latin-1 characters are allowed (no CR, LF or other control characters)';

const MAKE_HASH = 'make one with `htpasswd -nBC 10 "" | tr -d \':\\n\'`';

function userProblems(users: Readonly<Record<string, string>>): Problem[] {
  return Object.entries(users).flatMap(([user, hash]): Problem[] => {
    const path = ['basic_auth_users', user];
    if (!BCRYPT_HASH.test(hash)) return [{ path, message: `not a bcrypt hash (${MAKE_HASH})` }];
    const cost = bcryptCost(hash);
    if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
      return [{ path, message: `bcrypt cost ${cost} is outside ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}: a verification doubles in time with each step, and above ${MAX_BCRYPT_COST} it takes too long for a scrape (${MAKE_HASH})` }];
    }
    return [];
  });
}

/** exporter-toolkit's `TLSConfig.IsEnabled`: any certificate or client-auth key turns TLS on. */
function tlsEnabled(tls: RawTls): boolean {
  return Boolean(tls.cert_file || tls.cert || tls.key_file || tls.key || tls.client_ca_file || tls.client_ca || tls.client_auth_type);
}

function tlsProblems(tls: RawTls): Problem[] {
  const at = (key: string) => ['tls_server_config', key];
  const problems: Problem[] = [
    ...pairProblems(tls.cert_file, tls.cert, 'cert_file', 'cert'),
    ...pairProblems(tls.key_file, tls.key, 'key_file', 'key'),
  ];
  if (tls.client_ca_file && tls.client_ca) problems.push({ path: at('client_ca'), message: 'set client_ca_file or client_ca, not both' });
  const clientAuth = clientAuthOf(tls);
  if (clientAuth === undefined) {
    problems.push({ path: at('client_auth_type'), message: `must be one of ${CLIENT_AUTH_TYPES.join(', ')}` });
  } else {
    problems.push(...clientAuthProblems(tls, clientAuth));
  }
  problems.push(...versionProblems(tls));
  return problems;
}

function pairProblems(fileValue: string | null | undefined, inline: string | null | undefined, fileKey: string, inlineKey: string): Problem[] {
  if (!fileValue && !inline) return [{ path: ['tls_server_config'], message: `missing one of ${inlineKey} or ${fileKey}` }];
  if (fileValue && inline) return [{ path: ['tls_server_config', inlineKey], message: `set ${fileKey} or ${inlineKey}, not both` }];
  return [];
}

function clientAuthOf(tls: RawTls): ClientAuthType | undefined {
  const value = tls.client_auth_type ?? 'NoClientCert';
  if (value === '') return 'NoClientCert';
  return (CLIENT_AUTH_TYPES as readonly string[]).includes(value) ? (value as ClientAuthType) : LEGACY_CLIENT_AUTH[value];
}

function clientAuthProblems(tls: RawTls, clientAuth: ClientAuthType): Problem[] {
  const problems: Problem[] = [];
  if ((tls.client_ca_file || tls.client_ca) && clientAuth === 'NoClientCert') {
    problems.push({ path: ['tls_server_config', 'client_auth_type'], message: 'client CAs are configured but client_auth_type is NoClientCert' });
  }
  if (tls.client_allowed_sans && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    problems.push({
      path: ['tls_server_config', 'client_allowed_sans'],
      message: 'requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert',
    });
  }
  return problems;
}

function versionProblems(tls: RawTls): Problem[] {
  const problems: Problem[] = [];
  for (const key of ['min_version', 'max_version'] as const) {
    const value = tls[key];
    if (value && !(value in TLS_VERSIONS)) {
      problems.push({ path: ['tls_server_config', key], message: `must be TLS12 or TLS13 (TLS 1.0 and 1.1 are not offered), not "${value}"` });
    }
  }
  if (tls.min_version === 'TLS13' && tls.max_version === 'TLS12') {
    problems.push({ path: ['tls_server_config', 'max_version'], message: 'is lower than min_version' });
  }
  return problems;
}

interface LoadedTls {
  readonly tls: TlsSettings;
  readonly files: readonly string[];
}

async function loadTls(parsed: ParsedWebConfig, tls: RawTls, dir: string): Promise<LoadedTls> {
  const files: string[] = [];
  const material = async (fileKey: string, fileValue: string | null | undefined, inline: string | null | undefined) => {
    if (!fileValue) return inline ? Buffer.from(inline) : undefined;
    const path = resolve(dir, fileValue);
    files.push(path);
    return readMaterial(parsed, ['tls_server_config', fileKey], path);
  };
  const cert = (await material('cert_file', tls.cert_file, tls.cert))!;
  const key = (await material('key_file', tls.key_file, tls.key))!;
  const ca = await material('client_ca_file', tls.client_ca_file, tls.client_ca);
  const settings = tlsSettings(tls, cert, key, ca);
  checkTlsMaterial(parsed.file, settings, {
    pair: `${sourceOf('cert', tls.cert_file, dir)} and ${sourceOf('key', tls.key_file, dir)}`,
    ca: sourceOf('client_ca', tls.client_ca_file, dir),
  });
  return { tls: settings, files };
}

function tlsSettings(tls: RawTls, cert: Buffer, key: Buffer, ca: Buffer | undefined): TlsSettings {
  const ciphers = (tls.cipher_suites ?? []).map((name) => GO_CIPHER_SUITES[name]).filter((name): name is string => Boolean(name));
  return {
    cert,
    key,
    ...(ca ? { ca } : {}),
    clientAuth: clientAuthOf(tls)!,
    minVersion: TLS_VERSIONS[(tls.min_version as TlsVersionName | null | undefined) ?? 'TLS12'],
    maxVersion: TLS_VERSIONS[(tls.max_version as TlsVersionName | null | undefined) ?? 'TLS13'],
    ...(ciphers.length > 0 ? { ciphers: `${TLS13_SUITES}:${ciphers.join(':')}` } : {}),
    ...(tls.curve_preferences?.length ? { ecdhCurve: tls.curve_preferences.map((name) => GO_CURVES[name]).join(':') } : {}),
    honorCipherOrder: tls.prefer_server_cipher_suites ?? true,
    ...(tls.client_allowed_sans ? { clientAllowedSans: tls.client_allowed_sans } : {}),
  };
}

/** Lets OpenSSL judge the certificate, key and CA now, so a bad file fails the load and not the first handshake. */
function checkTlsMaterial(file: string, tls: TlsSettings, sources: { pair: string; ca: string }): void {
  const problem = tlsMaterialProblem(tls, sources);
  if (problem) throw new WebConfigError(file, `tls_server_config: ${problem}`);
}

/** `cert_file /etc/x.crt` or `cert (inline)`, for messages. */
function sourceOf(inlineKey: string, fileValue: string | null | undefined, dir: string): string {
  return fileValue ? `${inlineKey}_file ${resolve(dir, fileValue)}` : `${inlineKey} (inline)`;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new WebConfigError(path, `cannot read the web config file: ${messageOf(error)}`);
  }
}

/** A certificate, key or CA file named by the config; a failure names the key and its line. */
async function readMaterial(parsed: ParsedWebConfig, keyPath: readonly string[], path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new WebConfigError(parsed.file, describe(parsed, { path: keyPath, message: `cannot read ${path}: ${messageOf(error)}` }));
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
