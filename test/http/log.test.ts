/** src/log.ts: the structured logger every part of the exporter writes through. */
import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat, type LogLevel } from '../../src/log.js';

function capture(level: LogLevel, format: LogFormat) {
  const lines: string[] = [];
  const logger = createLogger({ level, format, stream: { write: (line: string) => lines.push(line) }, now: () => new Date('2025-01-02T03:04:05.678Z') });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes promslog-style logfmt with time, level, the calling file and line, msg and fields', () => {
    const { logger, lines } = capture('info', 'logfmt');
    logger.info('listening', { address: '[::]:9632', tls: false, port: 9632 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^time=2025-01-02T03:04:05\.678Z level=info source=log\.test\.ts:\d+ msg=listening address=\[::\]:9632 tls=false port=9632\n$/);
  });

  it('quotes and escapes logfmt values that need it', () => {
    const { logger, lines } = capture('debug', 'logfmt');
    logger.warn('collector "pcpu" failed', { err: new Error('kvm_read(0xffff) failed: short read'), empty: '', multi: 'a\nb', eq: 'a=b' });
    expect(lines[0]).toContain(' level=warn ');
    expect(lines[0]).toContain(' msg="collector \\"pcpu\\" failed"');
    expect(lines[0]).toContain(' err="kvm_read(0xffff) failed: short read"');
    expect(lines[0]).toContain(' empty=""');
    expect(lines[0]).toContain(' multi="a\\nb"');
    expect(lines[0]).toContain(' eq="a=b"');
  });

  it('writes one JSON object per line with errors as their message', () => {
    const { logger, lines } = capture('info', 'json');
    logger.error('scrape failed', { err: new Error('boom'), count: 3n, nested: { a: [1, 2] } });
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ time: '2025-01-02T03:04:05.678Z', level: 'error', msg: 'scrape failed', err: 'boom', count: '3', nested: { a: [1, 2] } });
    expect(record.source).toMatch(/^log\.test\.ts:\d+$/);
  });

  it.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as const)('at level %s prints %j', (level, printed) => {
    const { logger, lines } = capture(level, 'json');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((line) => JSON.parse(line).level)).toEqual(printed);
  });

  it('child loggers add their fields to every line, and call fields win', () => {
    const { logger, lines } = capture('info', 'json');
    const child = logger.child({ collector: 'pcpu', cpu: 1 }).child({ cpu: 2 });
    child.info('read', { cpu: 3 });
    child.info('again');
    expect(JSON.parse(lines[0]!)).toMatchObject({ collector: 'pcpu', cpu: 3 });
    expect(JSON.parse(lines[1]!)).toMatchObject({ collector: 'pcpu', cpu: 2 });
  });
});
