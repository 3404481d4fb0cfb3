/**
 * The renderer replaces prom-client's `registry.metrics()` for the kernel
 * families, so it must produce the same bytes for the same series. How much
 * faster it is, is measured side by side by the benchmark (`npm run bench`),
 * not asserted here.
 */
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { MetricFamily } from '../../src/exposition/family.js';
import { renderFamilies } from '../../src/exposition/render.js';
import { columnar } from '../support/families.js';

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
  return { registry, families: [columnar({ name: 'kvm_process_info', help: 'One series per process.', type: 'gauge', labelNames: ['pid', 'comm', 'uid'], series })] };
}

describe('rendering 100k series', () => {
  const { registry, families } = buildBoth();

  it('produces exactly the bytes prom-client produces for the same gauge', async () => {
    expect(renderFamilies(families, 'text-0.0.4')).toBe(await registry.metrics());
  });
});
