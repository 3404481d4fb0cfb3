/** Parsing of what a request or the command line says: scrape parameters and listen addresses. */
import { describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../src/http/listen-address.js';
import { deadlineOf, parseScrapeRequest } from '../../src/http/scrape-request.js';

const NOW = 1_700_000_000_000;

function parse(url: string, timeoutHeader?: string) {
  return parseScrapeRequest({ url, timeoutHeader, timeoutOffsetSeconds: 0.5, now: NOW });
}

describe('parseScrapeRequest', () => {
  it.each([
    ['/metrics', {}],
    ['/metrics?collect[]=pcpu&collect[]=loadavg', { collect: ['pcpu', 'loadavg'] }],
    ['/metrics?exclude%5B%5D=processes', { exclude: ['processes'] }],
    ['/metrics?collect[]=a%20b&other=1', { collect: ['a b'] }],
    ['/metrics?collect=pcpu', {}],
    ['/metrics?%zz&collect[]=%', { collect: ['%'] }],
  ])('%s → %j', (url, request) => {
    expect(parse(url)).toEqual({ ok: true, request });
  });

  it('refuses collect[] with exclude[]', () => {
    expect(parse('/metrics?exclude[]=x&collect[]=y')).toEqual({ ok: false, problem: 'collect[] and exclude[] cannot be used in the same request' });
  });

  it('adds the deadline from the scrape timeout header', () => {
    expect(parse('/metrics', '10')).toEqual({ ok: true, request: { deadline: NOW + 9_500 } });
  });
});

describe('deadlineOf', () => {
  it.each([
    ['10', 0.5, NOW + 9_500],
    ['2.5', 0, NOW + 2_500],
    [' 4 ', 1, NOW + 3_000],
    // The offset would leave nothing: half the timeout, still before the scraper gives up.
    ['0.4', 0.5, NOW + 200],
    ['0.5', 0.5, NOW + 250],
  ])('timeout %j with offset %s → %s', (header, offset, deadline) => {
    expect(deadlineOf(header, offset, NOW)).toBe(deadline);
  });

  it.each([undefined, '', 'abc', '-1', '0', '0.0', 'NaN', 'Infinity', '1e999', '10s', '0x10', ['10', '10']])('ignores %j', (header) => {
    expect(deadlineOf(header, 0.5, NOW)).toBeUndefined();
  });
});

describe('parseListenAddress', () => {
  it.each([
    [':9632', { host: undefined, port: 9632 }],
    ['127.0.0.1:9632', { host: '127.0.0.1', port: 9632 }],
    ['[::1]:9632', { host: '::1', port: 9632 }],
    ['[::]:0', { host: '::', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['host-1.example.org:80', { host: 'host-1.example.org', port: 80 }],
  ])('%s → %j', (text, parsed) => {
    expect(parseListenAddress(text)).toEqual({ ok: true, address: { text, ...parsed } });
  });

  it.each([
    ['9632', 'missing port'],
    ['', 'missing port'],
    [':', 'port must be a number from 0 to 65535, not ""'],
    [':65536', 'not "65536"'],
    [':-1', 'not "-1"'],
    [':http', 'not "http"'],
    ['::1:9632', 'an IPv6 address must be in brackets'],
    ['[::1]', 'expected [IPv6 address]:port'],
    ['[::1:9632', 'expected [IPv6 address]:port'],
    ['[nope]:9632', '"nope" is not an IPv6 address'],
    ['a b:9632', '"a b" is not a host name or IP address'],
  ])('refuses %j (%s)', (text, problem) => {
    const parsed = parseListenAddress(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toContain(problem);
  });
});
