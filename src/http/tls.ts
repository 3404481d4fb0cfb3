/**
 * Turns the web config's TLS settings into Node's TLS server options and
 * enforces exporter-toolkit's client_auth_type and client_allowed_sans.
 *
 * Mirrors Go's `tls.ClientAuthType` (crypto/tls): Node has only
 * `requestCert` and `rejectUnauthorized`, so the cases between them are
 * checked when the handshake completes ('secureConnection'), where a refused
 * client is disconnected before a byte of its request is read:
 * - NoClientCert: no certificate asked for.
 * - RequestClientCert: asked for, neither required nor verified.
 * - RequireAnyClientCert: required, not verified against client CAs.
 * - VerifyClientCertIfGiven: optional, verified when sent.
 * - RequireAndVerifyClientCert: required and verified (OpenSSL refuses the
 *   handshake itself).
 * Settings are re-applied on reload with `setSecureContext` (certificates,
 * CA, versions, ciphers) and by updating the server's requestCert and
 * rejectUnauthorized, which Node reads for each new connection. Loading
 * checks the material with OpenSSL first, so a bad file fails the load.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { ClientAuthType, NodeTlsVersion } from './web-config-names.js';

/** The web config's tls_server_config, resolved: material loaded, names turned into OpenSSL's. */
export interface TlsSettings {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  readonly clientAuth: ClientAuthType;
  readonly minVersion: NodeTlsVersion;
  readonly maxVersion: NodeTlsVersion;
  /** OpenSSL cipher list, when cipher_suites narrows the defaults. */
  readonly ciphers?: string;
  /** OpenSSL curve list, when curve_preferences is set. */
  readonly ecdhCurve?: string;
  readonly honorCipherOrder: boolean;
  readonly clientAllowedSans?: readonly string[];
}

export function secureContextOptions(tls: TlsSettings): SecureContextOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca } : {}),
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
    ...(tls.ecdhCurve ? { ecdhCurve: tls.ecdhCurve } : {}),
    honorCipherOrder: tls.honorCipherOrder,
  };
}

interface ClientCertPolicy {
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

export function clientCertPolicy(clientAuth: ClientAuthType): ClientCertPolicy {
  return {
    requestCert: clientAuth !== 'NoClientCert',
    rejectUnauthorized: clientAuth === 'RequireAndVerifyClientCert',
  };
}

/** The server options to create an https.Server with. */
export function httpsServerOptions(tls: TlsSettings): SecureContextOptions & ClientCertPolicy {
  return { ...secureContextOptions(tls), ...clientCertPolicy(tls.clientAuth) };
}

/**
 * Node's tls.Server copies `requestCert`/`rejectUnauthorized` into each new
 * TLSSocket from these instance fields (lib/_tls_wrap.js), but
 * `setSecureContext` does not update them, so a reload sets them directly.
 */
interface MutableClientCertPolicy {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

export function applyTlsSettings(server: HttpsServer, tls: TlsSettings): void {
  server.setSecureContext(secureContextOptions(tls));
  Object.assign(server as unknown as MutableClientCertPolicy, clientCertPolicy(tls.clientAuth));
}

/** Why a completed handshake must still be refused under `tls`, or undefined to accept it. */
export function clientCertificateProblem(socket: TLSSocket, tls: TlsSettings): string | undefined {
  const certificate = socket.getPeerCertificate();
  const presented = certificate !== null && Object.keys(certificate).length > 0;
  switch (tls.clientAuth) {
    case 'NoClientCert':
    case 'RequestClientCert':
      return undefined;
    case 'RequireAnyClientCert':
      return presented ? sanProblem(certificate.subjectaltname, tls) : 'no client certificate presented';
    case 'VerifyClientCertIfGiven':
      return presented && !socket.authorized ? `client certificate not verified: ${String(socket.authorizationError)}` : undefined;
    case 'RequireAndVerifyClientCert':
      if (!presented) return 'no client certificate presented';
      if (!socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
      return sanProblem(certificate.subjectaltname, tls);
  }
}

/** Go's `VerifyPeerCertificate` in exporter-toolkit: some SAN (DNS, email, IP, URI) must be allowed. */
function sanProblem(subjectAltName: string | undefined, tls: TlsSettings): string | undefined {
  if (tls.clientAllowedSans === undefined) return undefined;
  const allowed = new Set(tls.clientAllowedSans.map(normalizeSan));
  const presented = parseSubjectAltName(subjectAltName ?? '');
  if (presented.some((san) => allowed.has(normalizeSan(san)))) return undefined;
  return `client certificate has none of the allowed SANs (presented: ${presented.join(', ') || 'none'})`;
}

/**
 * Node's `subjectaltname` is `DNS:a, IP Address:1.2.3.4, email:x@y, URI:spiffe://z`;
 * values holding a comma or quote are JSON-quoted since Node 17.3.1.
 */
export function parseSubjectAltName(text: string): string[] {
  const values: string[] = [];
  const entry = /(?:^|,\s*)(DNS|IP Address|email|URI|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const match of text.matchAll(entry)) {
    const raw = match[2]!;
    values.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return values;
}

/** IPv6 addresses compare in their compressed form, as Go's `net.IP.String()` prints them. */
function normalizeSan(value: string): string {
  if (!value.includes(':') || value.includes('/')) return value;
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value;
  }
}

/**
 * What OpenSSL thinks of a certificate, key and client CA, described with
 * `sources` (`cert_file /etc/x.crt and key_file /etc/x.key`), or undefined.
 */
export function tlsMaterialProblem(tls: TlsSettings, sources: { pair: string; ca: string }): string | undefined {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (error) {
    return `${sources.pair} are not a usable certificate and key: ${(error as Error).message}`;
  }
  const problem = tls.ca === undefined ? undefined : caProblem(tls.ca);
  return problem === undefined ? undefined : `${sources.ca} is not a usable client CA: ${problem}`;
}

/** OpenSSL silently skips text that is not a certificate, so an empty or garbled CA bundle is caught here. */
function caProblem(ca: Buffer): string | undefined {
  const blocks = ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'no PEM certificate in it';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `certificate ${index + 1}: ${(error as Error).message}`;
    }
  }
  return undefined;
}
