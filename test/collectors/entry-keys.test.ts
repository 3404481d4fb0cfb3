/**
 * An entry is named where it came from: the config's own `counters[0]`
 * keeps its key, the preset's `counters[0]` carries the preset file and
 * line, so `check`, the log and the landing page never confuse the two.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeKernel } from '../support/sim.js';
import { runCollector } from '../exporter/harness.js';

const kernel = makeKernel({ cpus: [0, 1] });
afterAll(() => kernel.remove());

describe('entry keys', () => {
  it('tell a preset entry from the config entry of the same index', () => {
    const run = runCollector(kernel, 'counters', 'preset: freebsd-14-amd64\ncounters:\n  - { name: my_forks, symbol: vm_cnt, offset: 216 }\n');
    const keys = run.collector.entries.map((e) => e.key);
    expect(keys).toContain('counters[0]');
    expect(keys.filter((key) => /^freebsd-14-amd64\.yml:\d+ counters\[0\]$/.test(key))).toHaveLength(1);
    expect(run.collector.entries.find((e) => e.key === 'counters[0]')!.source).toBe('vm_cnt+216');
    expect(new Set(keys).size).toBe(keys.length);
  });
});
