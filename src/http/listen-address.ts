/**
 * `--web.listen-address` values, spelled as Go's `net.Listen("tcp", addr)`
 * takes them (exporter-toolkit, node_exporter): `:9632` listens on every
 * interface, `127.0.0.1:9632` and `[::1]:9632` on one address, a host name
 * on what it resolves to. Port 0 asks the kernel for a free port (tests).
 * The command line parses them (a bad one is a usage error); the server
 * takes them parsed.
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  /** As given on the command line, for messages. */
  readonly text: string;
  /** Undefined: every interface (Node binds `::` dual-stack, or 0.0.0.0 without IPv6). */
  readonly host: string | undefined;
  readonly port: number;
}

export type ParsedListenAddress = { readonly ok: true; readonly address: ListenAddress } | { readonly ok: false; readonly problem: string };

export function parseListenAddress(text: string): ParsedListenAddress {
  const split = splitHostPort(text);
  if (typeof split === 'string') return { ok: false, problem: split };
  const { host, port, bracketed } = split;
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return { ok: false, problem: `port must be a number from 0 to 65535, not "${port}"` };
  if ((bracketed || host.includes(':')) && isIP(host) !== 6) return { ok: false, problem: `"${host}" is not an IPv6 address` };
  if (host !== '' && !host.includes(':') && !/^[A-Za-z0-9.-]+$/.test(host)) {
    return { ok: false, problem: `"${host}" is not a host name or IP address` };
  }
  return { ok: true, address: { text, host: host === '' ? undefined : host, port: Number(port) } };
}

/** Go's `net.SplitHostPort`: an IPv6 host must be bracketed, the port follows the last colon. A string is the problem. */
function splitHostPort(text: string): { host: string; port: string; bracketed: boolean } | string {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return 'expected [IPv6 address]:port';
    return { host: text.slice(1, close), port: text.slice(close + 2), bracketed: true };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return 'missing port (write :9632 for every interface)';
  const host = text.slice(0, colon);
  if (host.includes(':')) return 'an IPv6 address must be in brackets, e.g. [::1]:9632';
  return { host, port: text.slice(colon + 1), bracketed: false };
}

/** How an address a server is bound to reads in logs and on the landing page. */
export function formatBoundAddress(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}
