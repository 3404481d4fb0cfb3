/**
 * The renderer's reason to exist: at 100k series it must beat prom-client's
 * `registry.metrics()` by 4x on the same series and produce the same bytes.
 * (The event-loop bound is in render-stall.test.ts, a process without
 * prom-client's 100k series in its heap.)
 */
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { MetricFamily } from '../../src/exposition/family.js';
import { renderFamilies } from '../../src/exposition/render.js';

const SERIES = 100_000;

/** The measurement setup of docs/koffi-and-prom-client.md §3.8: one gauge, labels pid/comm/uid. */
function buildBoth(): { registry: Registry; families: MetricFamily[] } {
  const registry = new Registry();
  const gauge = new Gauge({ name: 'kvm_process_info', help: 'One series per process.', labelNames: ['pid', 'comm', 'uid'], registers: [registry] });
  const series = [];
  for (let i = 0; i < SERIES; i++) {
    const labels = [String(100 + i), `daemon${i % 700}`, String(i % 120)];
    const value = i * 7;
    gauge.set({ pid: labels[0]!, comm: labels[1]!, uid: labels[2]! }, value);
    series.push({ labels, value });
  }
  return { registry, families: [{ name: 'kvm_process_info', help: 'One series per process.', type: 'gauge', labelNames: ['pid', 'comm', 'uid'], series }] };
}

async function fastest(runs: number, work: () => unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

describe('rendering 100k series', () => {
  const { registry, families } = buildBoth();

  it('produces exactly the bytes prom-client produces for the same gauge', async () => {
    expect(renderFamilies(families, 'text-0.0.4')).toBe(await registry.metrics());
  });

  it('is at least 4x faster than prom-client registry.metrics()', async () => {
    // Interleaved, best of 7 each: both see the same machine and GC state.
    let ours = Infinity;
    let theirs = Infinity;
    for (let round = 0; round < 7; round++) {
      theirs = Math.min(theirs, await fastest(1, () => registry.metrics()));
      ours = Math.min(ours, await fastest(1, () => renderFamilies(families, 'text-0.0.4')));
    }
    console.log(`100k series: prom-client ${theirs.toFixed(1)} ms, render.ts ${ours.toFixed(1)} ms, ratio ${(theirs / ours).toFixed(1)}`);
    expect(theirs / ours).toBeGreaterThanOrEqual(4);
  });
});
