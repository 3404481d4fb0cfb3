/**
 * One scrape through the Exporter, as the HTTP layer sees it: per-collector
 * success and duration series always present, one failing collector
 * leaving the others intact, collect[]/exclude[] selection and its errors,
 * overlapping scrapes sharing one collection, scrapes serialised on the
 * kernel handle, kvm_up, deadlines, and entries left out at start.
 * Kernel values are compared with the image, call counts with the
 * simulator's own instrumentation (SimControl).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { UnknownCollectorError } from '../../src/errors.js';
import type { KernelImage } from '../../sim/image/image.js';
import { counterHandle } from '../../sim/image/manifest.js';
import { byLabel, samplesOf, valueOf, type ParsedScrape } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { ALL_COLLECTORS, openExporter, simControl, sleep, sumOf, type ExporterUnderTest } from './harness.js';

const MISSING_VARIABLE = '  - { name: missing, symbol: no_such_variable, ctype: int32 }\n';
const body = (extraVariables = '') => `preset: freebsd-14-amd64
variables:
  - { name: ticks, symbol: ticks, ctype: int32 }
${extraVariables}dpcpu:
  - { name: pcputicks, symbol: pcputicks, ctype: int32, type: counter }
`;
const BODY = body();

let kernel: TestKernel;
let image: KernelImage;
const running: ExporterUnderTest[] = [];

beforeAll(() => {
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  image = kernel.open();
});
afterEach(async () => {
  image.clearFaults();
  await Promise.all(running.splice(0).map((r) => r.close()));
});
afterAll(() => {
  image.close();
  kernel.remove();
});

async function start(body = BODY, options: Parameters<typeof openExporter>[2] = {}): Promise<ExporterUnderTest> {
  const run = await openExporter(kernel, body, options);
  running.push(run);
  return run;
}

function collectorsIn(scrape: ParsedScrape, name: string): string[] {
  return samplesOf(scrape, name).map((s) => s.labels.collector!);
}

describe('per-collector series', () => {
  it('carry success 1 and a duration for every enabled collector, in registry order', async () => {
    const scrape = await (await start()).scrape();
    const order = ['cpus', 'counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'processes', 'loadavg', 'swap'];
    expect(collectorsIn(scrape, 'kvm_scrape_collector_success')).toEqual(order);
    expect(collectorsIn(scrape, 'kvm_scrape_collector_duration_seconds')).toEqual(order);
    expect(samplesOf(scrape, 'kvm_scrape_collector_success').every((s) => s.value === 1 && s.type === 'gauge')).toBe(true);
    for (const s of samplesOf(scrape, 'kvm_scrape_collector_duration_seconds')) {
      expect(s.value).toBeGreaterThanOrEqual(0);
      expect(s.value).toBeLessThan(5);
    }
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
  });

  it('are present, at 0, when the kernel cannot be opened', async () => {
    image.setOpenErrno(13);
    const run = await start();
    image.setOpenErrno(0);
    const scrape = await run.scrape();
    expect(valueOf(scrape, 'kvm_up')).toBe(0);
    expect(collectorsIn(scrape, 'kvm_scrape_collector_success')).toEqual(['cpus', 'counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'processes', 'loadavg', 'swap']);
    expect(samplesOf(scrape, 'kvm_scrape_collector_success').every((s) => s.value === 0)).toBe(true);
    expect(samplesOf(scrape, 'kvm_scrape_collector_duration_seconds').every((s) => s.value === 0)).toBe(true);
    expect(run.exporter.status().kernelError).toBe(`kvm_openfiles(NULL, ${kernel.image}) failed: ${kernel.image}: Permission denied`);
  });
});

describe('a failing collector', () => {
  it('(an EFAULT over one struct pcpu) fails alone: success 0 for pcpu only, the others\' series intact', async () => {
    const run = await start();
    const pc = image.pcpuAddress(2);
    image.setEfault(pc + 80n, pc + 120n);
    const scrape = await run.scrape();
    const success = byLabel(scrape, 'kvm_scrape_collector_success', 'collector');
    expect([...success].filter(([, v]) => v === 0).map(([name]) => name)).toEqual(['pcpu']);
    expect(run.exporter.status().collectors.find((c) => c.name === 'pcpu')?.lastError).toBe(
      'struct pcpu of CPU 2: kvm_getpcpu(kd, 2) failed: unable to read per-CPU data',
    );
    const swtch = counterHandle(kernel.manifest, 'vm_cnt.v_swtch');
    expect(valueOf(scrape, 'kvm_vm_swtch_total')).toBe(sumOf(image, swtch, [0, 1, 2, 3]));
    expect(byLabel(scrape, 'kvm_vm_swtch_percpu_total', 'cpu').size).toBe(4);
    expect(byLabel(scrape, 'kvm_pcputicks_total', 'cpu').size).toBe(4);
    expect(samplesOf(scrape, 'kvm_processes').length).toBeGreaterThan(0);
    expect(new Set(samplesOf(scrape, 'kvm_cpu_time_seconds_total').map((s) => s.labels.cpu))).toEqual(new Set(['0', '1', '3']));
  });

  it('recovers at the next scrape once the fault is gone, and the status follows', async () => {
    const run = await start();
    const pc = image.pcpuAddress(1);
    image.setEfault(pc, pc + 4096n);
    await run.scrape();
    expect(run.exporter.status().collectors.find((c) => c.name === 'pcpu')?.lastSuccess).toBe(false);
    image.clearFaults();
    const scrape = await run.scrape();
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'pcpu' })).toBe(1);
    expect(run.exporter.status().collectors.find((c) => c.name === 'pcpu')).toEqual({ name: 'pcpu', enabled: true, lastSuccess: true });
  });
});

describe('collect[] and exclude[]', () => {
  it('collect[] runs only the named collectors; their success series are the only ones', async () => {
    const scrape = await (await start()).scrape({ collect: ['loadavg', 'counters'] });
    expect(collectorsIn(scrape, 'kvm_scrape_collector_success')).toEqual(['counters', 'loadavg']);
    expect(samplesOf(scrape, 'kvm_vm_swtch_total')).toHaveLength(1);
    expect(samplesOf(scrape, 'kvm_load1')).toHaveLength(1);
    expect(samplesOf(scrape, 'kvm_processes')).toEqual([]);
    expect(samplesOf(scrape, 'kvm_cpus')).toEqual([]);
  });

  it('exclude[] leaves the named collectors out', async () => {
    const scrape = await (await start()).scrape({ exclude: ['processes', 'pcpu'] });
    expect(collectorsIn(scrape, 'kvm_scrape_collector_success')).toEqual(['cpus', 'counters', 'variables', 'vnet', 'dpcpu', 'loadavg', 'swap']);
    expect(samplesOf(scrape, 'kvm_cpu_time_seconds_total')).toEqual([]);
    expect(samplesOf(scrape, 'kvm_threads')).toEqual([]);
  });

  it('refuses an unknown or a disabled collector with UnknownCollectorError, naming the enabled ones', async () => {
    const run = await start(BODY, { enabled: ['counters', 'cpus'] });
    const unknown = await run.exporter.scrape({ collect: ['nosuch'] }).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(UnknownCollectorError);
    expect(unknown).toMatchObject({ collector: 'nosuch', reason: 'unknown', valid: ['cpus', 'counters'] });
    expect((unknown as Error).message).toBe('unknown collector: nosuch (enabled collectors: cpus, counters)');
    const disabled = await run.exporter.scrape({ exclude: ['processes'] }).catch((error: unknown) => error);
    expect(disabled).toBeInstanceOf(UnknownCollectorError);
    expect(disabled).toMatchObject({ collector: 'processes', reason: 'disabled' });
    const scrape = await run.scrape({ collect: ['counters'] });
    expect(collectorsIn(scrape, 'kvm_scrape_collector_success')).toEqual(['counters']);
  });
});

describe('concurrency', () => {
  it('overlapping scrapes of the same collectors share one collection', async () => {
    const run = await start();
    await run.scrape();
    simControl().resetCallCounts();
    const first = run.exporter.scrape({});
    const second = run.exporter.scrape({ collect: [] });
    const [a, b] = await Promise.all([first, second]);
    expect(b).toEqual(a);
    expect(simControl().callCounts().kvm_getprocs, 'one collection reads processes and threads once each').toBe(2);
    await run.exporter.scrape({});
    expect(simControl().callCounts().kvm_getprocs, 'a later scrape collects afresh').toBe(4);
  });

  it('scrapes of different collectors are serialised: each collection ends before the next one starts', async () => {
    const topologyReads: number[] = [];
    const run = await start(BODY, {
      // The last step of every scrape, and an await: a collection running alongside would start meanwhile.
      selfMetrics: async () => {
        // Every collection starts by reading the topology, which asks kvm_getncpus once.
        topologyReads.push(simControl().callCounts().kvm_getncpus ?? 0);
        await sleep(20);
        return [];
      },
    });
    simControl().resetCallCounts();
    const scrapes = ['variables', 'cpus', 'dpcpu'].map((name) => run.scrape({ collect: [name, 'loadavg'] }));
    const [variables, cpus, dpcpu] = await Promise.all(scrapes);
    expect(topologyReads).toEqual([1, 2, 3]);
    expect(samplesOf(variables!, 'kvm_ticks')).toHaveLength(1);
    expect(samplesOf(cpus!, 'kvm_cpus')).toHaveLength(1);
    expect(samplesOf(dpcpu!, 'kvm_pcputicks_total')).toHaveLength(4);
  });
});

describe('kvm_up', () => {
  it('is 0 when the topology cannot be read, and every collector reports why', async () => {
    const run = await start();
    const table = BigInt(kernel.manifest.symbols.cpuid_to_pcpu!.address);
    image.setEfault(table, table + 8n);
    const scrape = await run.scrape();
    expect(valueOf(scrape, 'kvm_up')).toBe(0);
    const status = run.exporter.status();
    expect(status.kernelError).toBe(`kvm_read2 of 2048 bytes at 0x${table.toString(16)} failed: kvm_read: Bad address`);
    expect(status.collectors.every((c) => c.lastSuccess === false && c.lastError === 'kernel not readable (see kvm_up and the kernel error)')).toBe(true);
  });
});

describe('deadline', () => {
  it('a deadline already passed fails every collector without reading the kernel, answers, and leaves the collectors\' state alone', async () => {
    const run = await start();
    await run.scrape();
    simControl().resetCallCounts();
    const scrape = await run.scrape({ deadline: Date.now() - 1 });
    expect([...byLabel(scrape, 'kvm_scrape_collector_success', 'collector').values()].every((v) => v === 0)).toBe(true);
    expect(valueOf(scrape, 'kvm_up')).toBe(0);
    expect(simControl().callCounts().kvm_getncpus ?? 0).toBe(0);
    // No collector ran: the state the landing page shows is still the last scrape's.
    expect(run.exporter.status().collectors.map((c) => c.lastSuccess)).toEqual(ALL_COLLECTORS.map(() => true));
  });

  it('a deadline passing during the scrape fails the collectors it cut off, and leaves their state alone', async () => {
    const run = await start();
    await run.scrape();
    image.setReadDelayUs(20_000);
    const scrape = await run.scrape({ deadline: Date.now() + 300 });
    image.setReadDelayUs(0);
    const success = byLabel(scrape, 'kvm_scrape_collector_success', 'collector');
    expect(success.get('loadavg')).toBe(0);
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect(run.exporter.status().collectors.find((c) => c.name === 'loadavg')!.lastSuccess).toBe(true);
  });
});

describe('entries left out at start', () => {
  it('are named in the status and fail their collector, while its other entries are published', async () => {
    const run = await start(body(MISSING_VARIABLE));
    const scrape = await run.scrape();
    const status = run.exporter.status();
    expect(status.leftOut).toEqual([
      'variables[1] (no_such_variable): kernel symbol no_such_variable not found: kvm_nlist: No such file or directory',
    ]);
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'variables' })).toBe(0);
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'counters' })).toBe(1);
    expect(valueOf(scrape, 'kvm_ticks')).toBe(image.readI32(BigInt(kernel.manifest.symbols.ticks!.address)));
    expect(samplesOf(scrape, 'kvm_missing')).toEqual([]);
  });
});
