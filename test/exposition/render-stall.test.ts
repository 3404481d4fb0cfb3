/**
 * Rendering 100k series incrementally gives the event loop back between
 * chunks, so health checks and other scrapes are answered during a big
 * scrape. (The longest stall is measured by the benchmark, not asserted.)
 */
import { describe, expect, it } from 'vitest';
import type { MetricFamily, Series } from '../../src/exposition/family.js';
import { renderIncrementally } from '../../src/exposition/render.js';
import { columnar } from '../support/families.js';

const SERIES = 100_000;

function processFamilies(): MetricFamily[] {
  const series: Series[] = [];
  for (let i = 0; i < SERIES; i++) series.push({ labels: [String(100 + i), `daemon "${i % 700}"`, String(i % 120)], value: i * 7.5 });
  return [columnar({ name: 'kvm_process_info', help: 'One series per process.', type: 'gauge', labelNames: ['pid', 'comm', 'uid'], series })];
}

describe('incremental rendering of 100k series', () => {
  const families = processFamilies();

  it('yields to the event loop many times while rendering, and renders every series', async () => {
    let turns = 0;
    let rendering = true;
    const tick = () => {
      turns++;
      if (rendering) setImmediate(tick);
    };
    setImmediate(tick);
    let bytes = 0;
    let chunks = 0;
    for await (const chunk of renderIncrementally(families, 'openmetrics-1.0.0')) {
      bytes += Buffer.byteLength(chunk);
      chunks++;
    }
    rendering = false;
    const text = [];
    for await (const chunk of renderIncrementally(families, 'text-0.0.4')) text.push(chunk);
    expect(text.join('').split('\n').filter((line) => line.startsWith('kvm_process_info{')).length).toBe(SERIES);
    expect(bytes).toBeGreaterThan(SERIES * 40);
    expect(chunks).toBeGreaterThan(10);
    // Other work ran between the chunks: the loop was not held for the whole render.
    expect(turns).toBeGreaterThan(chunks / 2);
  });
});
