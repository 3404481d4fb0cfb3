/**
 * The counters collector reads counter(9) handles right: every per-CPU copy
 * equals what the image holds on every present CPU, sums are the sum of
 * the same copies, sparse CPU ids are honoured (libkvm's
 * kvm_counter_u64_fetch sums ids 0..mp_ncpus-1), neighbouring handles are
 * read as one span, every CPU's copy of it in one kvm_read_zpcpu (per CPU,
 * logged once, where that fails), summed-only counters included (fewer
 * reads than kvm_counter_u64_fetch, whose 0 needs a second pass), and
 * a decremented copy is handled as its type asks. Expected values come from
 * the image (KernelImage.readCounter), after the test has moved them away
 * from the planted ones.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { KvmSession, counterU64Fetch } from '../../src/kvm/index.js';
import { createLogger } from '../../src/log.js';
import { counterHandle, findCounter, type KernelManifest } from '../../sim/image/manifest.js';
import type { KernelImage } from '../../sim/image/image.js';
import { byLabel, samplesOf, valueOf, type ParsedScrape } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import {
  copyOf,
  expectedCounters,
  kernelConfig,
  presentCpus,
  runCollector,
  scrapeKernel,
  simControl,
  sumOf,
  type ExpectedCounter,
} from '../exporter/harness.js';

/** The 14 preset plus the demo's sendfile array and the two static counters. */
const PRESET_AND_STATICS = `
preset: freebsd-14-amd64
counters:
  - name: sendfile
    symbol: sfstat
    array: [syscalls, noiocnt, iocnt, pages_read, pages_valid, rhpages_requested, rhpages_read, busy, allocfail, allocwait, pages_bogus]
  - { name: pqstate_commit_retries, symbol: pqstate_commit_retries }
  - { name: object_collapses, symbol: object_collapses }
collectors: { variables: false, vnet: false, dpcpu: false, pcpu: false, processes: false, cpus: false, loadavg: false, swap: false }
`;

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

function build(spec: Parameters<typeof makeKernel>[0]): TestKernel {
  kernel = makeKernel(spec);
  return kernel;
}

/** Moves every counter on every present CPU by a different amount, so no planted value survives. */
function stir(image: KernelImage, manifest: KernelManifest): void {
  for (const counter of manifest.counters) {
    for (const cpu of manifest.cpus) image.addCounter(BigInt(counter.handle), cpu, BigInt(counter.index * 7919 + cpu * 104_729 + 13));
  }
}

function expectCounterMatchesImage(scrape: ParsedScrape, expected: ExpectedCounter, image: KernelImage, cpus: readonly number[]): void {
  expect(valueOf(scrape, expected.sum), expected.sum).toBe(sumOf(image, expected.handle, cpus, expected.signed));
  if (expected.percpu === undefined) {
    expect(samplesOf(scrape, expected.sum).every((s) => !('cpu' in s.labels))).toBe(true);
    return;
  }
  const series = byLabel(scrape, expected.percpu, 'cpu');
  expect([...series.keys()], expected.percpu).toEqual(cpus.map(String));
  for (const cpu of cpus) expect(series.get(String(cpu)), `${expected.percpu} cpu ${cpu}`).toBe(copyOf(image, expected.handle, cpu, expected.signed));
  const total = [...series.values()].reduce((a, b) => a + b, 0);
  expect(valueOf(scrape, expected.sum), `${expected.sum} is the sum of its per-CPU series`).toBe(total);
}

describe('dense CPU ids', () => {
  it('publishes every counter of the preset, the sfstat array and the static counters as the image holds them', async () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    stir(image, k.manifest);
    const config = kernelConfig(k, PRESET_AND_STATICS);
    const expected = expectedCounters(config, k.manifest);
    const scrape = await scrapeKernel(k, PRESET_AND_STATICS);
    // The preset's udp, ip, tcp, icmp and ip6 are vnet: true: the vnet collector's.
    expect(expected.length).toBe(36 + 11 + 2);
    for (const counter of expected) expectCounterMatchesImage(scrape, counter, image, [0, 1, 2, 3]);
    expect(byLabel(scrape, 'kvm_scrape_collector_success', 'collector')).toEqual(new Map([['counters', 1]]));
    image.close();
  });

  it('reads the static single-handle counters behind their file-local symbols', async () => {
    const k = build({ cpus: [0, 1, 2] });
    const image = k.open();
    stir(image, k.manifest);
    const scrape = await scrapeKernel(k, PRESET_AND_STATICS);
    for (const name of ['pqstate_commit_retries', 'object_collapses']) {
      expect(valueOf(scrape, `kvm_${name}_total`)).toBe(sumOf(image, counterHandle(k.manifest, name), [0, 1, 2]));
    }
    image.close();
  });

  it('reads raw address: handles like the symbol that holds them', async () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    stir(image, k.manifest);
    const swtch = findCounter(k.manifest, 'vm_cnt.v_swtch').handle;
    const forks = findCounter(k.manifest, 'vm_cnt.v_forks').handle;
    const scrape = await scrapeKernel(
      k,
      `counters:
  - { name: raw_swtch, address: "${swtch}", per_cpu: true }
  - { name: raw_forks, address: "${forks}" }
  - { name: vm_swtch, symbol: vm_cnt, offset: 0 }
`,
      { enabled: ['counters'] },
    );
    expect(valueOf(scrape, 'kvm_raw_swtch_total')).toBe(valueOf(scrape, 'kvm_vm_swtch_total'));
    expect(valueOf(scrape, 'kvm_raw_swtch_total')).toBe(sumOf(image, BigInt(swtch), [0, 1, 2, 3]));
    expect(valueOf(scrape, 'kvm_raw_forks_total')).toBe(sumOf(image, BigInt(forks), [0, 1, 2, 3]));
    const perCpu = byLabel(scrape, 'kvm_raw_swtch_percpu_total', 'cpu');
    for (const cpu of [0, 1, 2, 3]) expect(perCpu.get(String(cpu))).toBe(copyOf(image, BigInt(swtch), cpu));
    image.close();
  });

  it('sums counters without per_cpu from the same page spans: one call per page, no kvm_counter_u64_fetch', () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    stir(image, k.manifest);
    const config = kernelConfig(k, PRESET_AND_STATICS);
    const expected = expectedCounters(config, k.manifest);
    const run = runCollector(k, 'counters', PRESET_AND_STATICS, () => simControl().resetCallCounts());
    const calls = simControl().callCounts();
    const pages = new Set(expected.map((c) => c.handle / 4096n));
    expect(expected.some((c) => c.percpu === undefined)).toBe(true);
    expect(run.error).toBeUndefined();
    expect(calls.kvm_counter_u64_fetch ?? 0).toBe(0);
    expect(calls.kvm_read_zpcpu, 'one read per page for all CPUs, summed-only counters included').toBe(pages.size);
    for (const counter of expected) expectCounterMatchesImage(run.parsed, counter, image, [0, 1, 2, 3]);
    image.close();
  });

  it('reads a lone summed-only counter in fewer reads than kvm_counter_u64_fetch: one call and one pread', () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    stir(image, k.manifest);
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    const body = 'counters:\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n';
    const run = runCollector(k, 'counters', body, () => simControl().resetCallCounts());
    const calls = simControl().callCounts();
    expect(run.error).toBeUndefined();
    expect(valueOf(run.parsed, 'kvm_forks_total')).toBe(sumOf(image, forks, [0, 1, 2, 3]));
    expect({ zpcpu: calls.kvm_read_zpcpu, pread: calls.pread, fetch: calls.kvm_counter_u64_fetch ?? 0 }).toEqual({ zpcpu: 1, pread: 1, fetch: 0 });

    // What kvm_counter_u64_fetch costs for the same counter: a pread per CPU.
    const session = KvmSession.open(kernelConfig(k, body).kvm);
    try {
      simControl().resetCallCounts();
      expect(counterU64Fetch(session, forks, 4)).toBe(BigInt(sumOf(image, forks, [0, 1, 2, 3])));
      expect(simControl().callCounts().pread).toBe(4);
    } finally {
      session.close();
    }
    image.close();
  });

  it('publishes a true zero from the one read of every CPU copy, with no second pass', () => {
    const k = build({ cpus: [0, 1, 2] });
    const image = k.open();
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    for (const cpu of [0, 1, 2]) image.setCounter(forks, cpu, 0n);
    const body = 'counters:\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n';
    const run = runCollector(k, 'counters', body, () => simControl().resetCallCounts());
    const calls = simControl().callCounts();
    expect(run.error).toBeUndefined();
    expect(valueOf(run.parsed, 'kvm_forks_total')).toBe(0);
    expect(calls.kvm_counter_u64_fetch ?? 0).toBe(0);
    expect(calls.kvm_read_zpcpu, 'a zero from kvm_counter_u64_fetch would cost 3 more reads').toBe(1);
    image.close();
  });

  it('never turns a failed read into 0: the entry fails and nothing is published for it', () => {
    const k = build({ cpus: [0, 1, 2] });
    const image = k.open();
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    // A counter of another page, read by its raw handle: its span does not touch the fault.
    const objects = BigInt(k.manifest.counters.find((c) => BigInt(c.handle) / 4096n !== forks / 4096n)!.handle);
    const copy = image.counterAddress(forks, 2);
    const body = `counters:
  - { name: forks, symbol: vm_cnt, offset: 216 }
  - { name: object_collapses, address: "0x${objects.toString(16)}" }
`;
    const run = runCollector(k, 'counters', body, () => image.setEfault(copy, copy + 8n));
    image.clearFaults();
    expect(samplesOf(run.parsed, 'kvm_forks_total')).toEqual([]);
    expect(valueOf(run.parsed, 'kvm_object_collapses_total')).toBe(sumOf(image, objects, [0, 1, 2]));
    expect(run.failures.get('counters[0]')).toBe(
      `kvm_read_zpcpu of 8 bytes at 0x${forks.toString(16)} on CPU 2 failed: kvm_read: Bad address`,
    );
    image.close();
  });
});

describe('sparse CPU ids (present 0, 2, 5, 9 of mp_maxcpus 16)', () => {
  const SPARSE = { cpus: [0, 2, 5, 9], mpMaxcpus: 16 };

  it('labels per-CPU series with exactly the present ids and sums exactly them', async () => {
    const k = build(SPARSE);
    const image = k.open();
    stir(image, k.manifest);
    expect(presentCpus(image, k.manifest)).toEqual([0, 2, 5, 9]);
    const config = kernelConfig(k, PRESET_AND_STATICS);
    const scrape = await scrapeKernel(k, PRESET_AND_STATICS);
    for (const counter of expectedCounters(config, k.manifest)) expectCounterMatchesImage(scrape, counter, image, [0, 2, 5, 9]);
    image.close();
  });

  it('sums counters without per_cpu over the present CPUs, not libkvm\'s 0..mp_ncpus-1', () => {
    const k = build(SPARSE);
    const image = k.open();
    stir(image, k.manifest);
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    const run = runCollector(k, 'counters', 'counters:\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n', () => simControl().resetCallCounts());
    const calls = simControl().callCounts();
    const published = valueOf(run.parsed, 'kvm_forks_total');
    expect(published).toBe(sumOf(image, forks, [0, 2, 5, 9]));
    expect(published, 'what kvm_counter_u64_fetch would say').not.toBe(sumOf(image, forks, [0, 1, 2, 3]));
    expect(calls.kvm_counter_u64_fetch ?? 0).toBe(0);
    expect(calls.kvm_read_zpcpu, 'one read of the run through CPU 9').toBe(1);
    image.close();
  });

  it('ignores the stale copies of a CPU that went away (mp_ncpus shrank, ids became sparse)', async () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    stir(image, k.manifest);
    image.setCpuPresent(1, false);
    const swtch = counterHandle(k.manifest, 'vm_cnt.v_swtch');
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    expect(image.readCounter(forks, 1)).not.toBe(0n);
    const scrape = await scrapeKernel(
      k,
      'counters:\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n  - { name: swtch, symbol: vm_cnt, offset: 0, per_cpu: true }\n',
      { enabled: ['counters'] },
    );
    expect(valueOf(scrape, 'kvm_forks_total')).toBe(sumOf(image, forks, [0, 2, 3]));
    expect([...byLabel(scrape, 'kvm_swtch_percpu_total', 'cpu').keys()]).toEqual(['0', '2', '3']);
    expect(valueOf(scrape, 'kvm_swtch_total')).toBe(sumOf(image, swtch, [0, 2, 3]));
    image.close();
  });
});

describe('spans: neighbouring handles share one kvm_read_zpcpu for every CPU', () => {
  it('reads 64 scattered handles with one call per page, not counters x CPUs', () => {
    const k = build({ cpus: [0, 1, 2], extraCounters: { count: 64, layout: 'scattered', slabs: 5 } });
    const image = k.open();
    stir(image, k.manifest);
    const extras = k.manifest.counters.filter((c) => c.name.startsWith('extra.'));
    const body = `counters:\n${extras.map((c, i) => `  - { name: extra_${i}, address: "${c.handle}", per_cpu: true }`).join('\n')}\n`;
    const pages = new Set(extras.map((c) => BigInt(c.handle) / 4096n));
    const run = runCollector(k, 'counters', body, () => simControl().resetCallCounts());
    const calls = simControl().callCounts();
    expect(pages.size).toBe(5);
    expect(calls.kvm_read_zpcpu).toBe(pages.size);
    expect(calls.kvm_counter_u64_fetch ?? 0).toBe(0);
    extras.forEach((c, i) => {
      const series = byLabel(run.parsed, `kvm_extra_${i}_percpu_total`, 'cpu');
      for (const cpu of [0, 1, 2]) expect(series.get(String(cpu))).toBe(copyOf(image, BigInt(c.handle), cpu));
      expect(valueOf(run.parsed, `kvm_extra_${i}_total`)).toBe(sumOf(image, BigInt(c.handle), [0, 1, 2]));
    });
    image.close();
  });

  it('on sparse ids reads every counter of a page, per_cpu or not, in the same span', () => {
    const k = build({ cpus: [1, 4], mpMaxcpus: 8 });
    const image = k.open();
    stir(image, k.manifest);
    const config = kernelConfig(k, PRESET_AND_STATICS);
    const expected = expectedCounters(config, k.manifest);
    const pages = new Set(expected.map((c) => c.handle / 4096n));
    const run = runCollector(k, 'counters', PRESET_AND_STATICS, () => simControl().resetCallCounts());
    expect(simControl().callCounts().kvm_read_zpcpu).toBe(pages.size);
    for (const counter of expected) expectCounterMatchesImage(run.parsed, counter, image, [1, 4]);
    image.close();
  });

  it('as many calls at 64 CPUs as at 2: the calls do not grow with the CPUs', () => {
    const callsAt = (cpus: number) => {
      const k = makeKernel({ cpus: Array.from({ length: cpus }, (_, i) => i), mpMaxcpus: 64 });
      try {
        const run = runCollector(k, 'counters', PRESET_AND_STATICS, () => simControl().resetCallCounts());
        expect(run.error, `${cpus} CPUs`).toBeUndefined();
        return simControl().callCounts().kvm_read_zpcpu;
      } finally {
        k.remove();
      }
    };
    expect(callsAt(64)).toBe(callsAt(2));
  });

  it('falls back to one read per CPU for a span whose single read fails, says so once, and still reads every copy', () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    stir(image, k.manifest);
    // The slab's last counter, read per CPU too, so that its page (the only one with room past its last
    // counter: vm_cnt's is full) is read: 8 bytes past it on CPU 1 are inside the single read's run, in no
    // copy any read asks for.
    const last = k.manifest.counters.map((c) => BigInt(c.handle)).reduce((a, b) => (a > b ? a : b));
    expect(last % 4096n, 'the last page has room past its last counter').toBeLessThan(4088n);
    const body = PRESET_AND_STATICS.replace('counters:\n', `counters:\n  - { name: last_in_slab, address: '0x${last.toString(16)}', per_cpu: true }\n`);
    const config = kernelConfig(k, body);
    const expected = expectedCounters(config, k.manifest);
    const perCpuPages = new Set(expected.filter((c) => c.percpu !== undefined).map((c) => c.handle / 4096n));
    const gap = image.counterAddress(last + 8n, 1);
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', format: 'json', stream: { write: (line: string) => lines.push(line) } });
    const run = runCollector(k, 'counters', body, () => {
      image.setEfault(gap, gap + 8n);
      simControl().resetCallCounts();
    }, logger);
    image.clearFaults();
    expect(run.error).toBeUndefined();
    for (const counter of expected) expectCounterMatchesImage(run.parsed, counter, image, [0, 1, 2, 3]);
    expect(simControl().callCounts().kvm_read_zpcpu, 'the failed run, then 4 CPUs for its page').toBe(perCpuPages.size + 4);
    const said = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 'info', cpus: 4, err: expect.stringMatching(/kvm_read_zpcpu of \d+ bytes at 0x[0-9a-f]+ on CPU 0 failed: kvm_read: Bad address/) });
    expect(String(said[0]!.msg)).toMatch(/one CPU at a time/);
    image.close();
  });
});

describe('a decremented per-CPU copy (2^64 - 5 on CPU 1)', () => {
  const BODY = `counters:
  - { name: wired_pages, symbol: vm_cnt, offset: 280, per_cpu: true, type: gauge }
  - { name: forks, symbol: vm_cnt, offset: 216, per_cpu: true }
  - { name: swtch, symbol: vm_cnt, offset: 0, per_cpu: true }
`;

  function decrement(k: TestKernel, image: KernelImage): { wired: bigint; forks: bigint } {
    const wired = counterHandle(k.manifest, 'vm_cnt.v_wire_count');
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    image.setCounter(wired, 1, 2n ** 64n - 5n);
    image.setCounter(forks, 1, 2n ** 64n - 5n);
    return { wired, forks };
  }

  it('gives a gauge a correct, signed sum and a negative per-CPU series', async () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    const { wired } = decrement(k, image);
    const scrape = await scrapeKernel(k, BODY, { enabled: ['counters'] });
    const expected = sumOf(image, wired, [0, 1, 2, 3], true);
    expect(expected).toBe(Number(image.readCounter(wired, 0) + image.readCounter(wired, 2) + image.readCounter(wired, 3)) - 5);
    expect(valueOf(scrape, 'kvm_wired_pages')).toBe(expected);
    expect(samplesOf(scrape, 'kvm_wired_pages')[0]!.type).toBe('gauge');
    expect(byLabel(scrape, 'kvm_wired_pages_percpu', 'cpu').get('1')).toBe(-5);
    image.close();
  });

  it('drops a counter\'s per-CPU series, reports the entry, and keeps its sum modulo 2^64', async () => {
    const k = build({ cpus: [0, 1, 2, 3] });
    const image = k.open();
    const { forks } = decrement(k, image);
    const run = runCollector(k, 'counters', BODY);
    expect(samplesOf(run.parsed, 'kvm_forks_percpu_total')).toEqual([]);
    expect(valueOf(run.parsed, 'kvm_forks_total')).toBe(sumOf(image, forks, [0, 1, 2, 3]));
    expect(run.failures.get('counters[1]')).toMatch(/^CPU 1's copy of vm_cnt\+216 is above 2\^63, i\.e\. negative: .*declare it `type: gauge`/);
    expect(byLabel(run.parsed, 'kvm_swtch_percpu_total', 'cpu').size).toBe(4);
    const scrape = await scrapeKernel(k, BODY, { enabled: ['counters'] });
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'counters' })).toBe(0);
    image.close();
  });
});

describe('entries that cannot be resolved', () => {
  it('leaves out an entry whose symbol is missing, or whose handle cannot be read, and publishes the others', () => {
    const k = build({ cpus: [0, 1] });
    const image = k.open();
    const body = `counters:
  - { name: missing, symbol: no_such_counter }
  - { name: unmapped, address: "0x800000" }
  - { name: swtch, symbol: vm_cnt, offset: 0, per_cpu: true }
`;
    const run = runCollector(k, 'counters', body);
    expect(run.error).toBeUndefined();
    const problems = new Map(run.collector.entries.map((e) => [e.key, e.problem]));
    expect(problems.get('counters[0]')).toBe('kernel symbol no_such_counter not found: kvm_nlist: No such file or directory');
    expect(problems.get('counters[1]')).toBe(
      'handle 0x800000 from handle 0x800000 cannot be read: kvm_read_zpcpu of 8 bytes at 0x800000 on CPU 0 failed: ' +
        'kvm_read: Bad address (wrong symbol, offset or layout?)',
    );
    expect(problems.get('counters[2]')).toBeUndefined();
    expect(samplesOf(run.parsed, 'kvm_missing_total')).toEqual([]);
    expect(samplesOf(run.parsed, 'kvm_unmapped_total')).toEqual([]);
    expect(valueOf(run.parsed, 'kvm_swtch_total')).toBe(sumOf(image, counterHandle(k.manifest, 'vm_cnt.v_swtch'), [0, 1]));
    image.close();
  });
});

describe('handles below 4096: offsets into struct pcpu, not counter(9) allocations', () => {
  it('leaves out a vnet_entry_ template (zero handles), address 0 and EARLY_COUNTER with the reason, and publishes nothing for them', () => {
    const k = build({ cpus: [0, 1] });
    const body = `counters:
  - { name: udp_template, symbol: vnet_entry_udpstat, array: [ipackets, hdrops] }
  - { name: curthread, address: "0x0" }
  - { name: early, address: "0xa8" }
  - { name: in_pcpu, address: "0x100" }
  - { name: swtch, symbol: vm_cnt, offset: 0 }
`;
    const run = runCollector(k, 'counters', body);
    expect(run.error).toBeUndefined();
    const problems = new Map(run.collector.entries.map((e) => [e.key, e.problem]));
    // The template holds 0 for every element: the first refused leaves the whole entry out.
    expect(problems.get('counters[0]')).toMatch(
      /^handle 0x0 from vnet_entry_udpstat\[0\] \(ipackets\) is below 4096, an offset into struct pcpu itself, not a counter\(9\) allocation: 0 is a handle never allocated .*without vnet_entry_ and set vnet: true.*pc_curthread pointer as a count$/,
    );
    expect(run.collector.leftOut.some((l) => l.startsWith('counters[0] (vnet_entry_udpstat'))).toBe(true);
    expect(problems.get('counters[1]')).toMatch(/^handle 0x0 from handle 0x0 is below 4096.*pc_curthread pointer as a count$/);
    expect(problems.get('counters[2]')).toMatch(/^handle 0xa8 from handle 0xa8 is below 4096.*168 is EARLY_COUNTER \(pc_early_dummy_counter\)/);
    expect(problems.get('counters[3]')).toMatch(/^handle 0x100 from handle 0x100 is below 4096.*\(wrong symbol, offset or layout\?\)$/);
    for (const name of ['udp_template_ipackets', 'udp_template_hdrops', 'curthread', 'early', 'in_pcpu']) {
      expect(samplesOf(run.parsed, `kvm_${name}_total`), name).toEqual([]);
    }
    expect(samplesOf(run.parsed, 'kvm_swtch_total')).toHaveLength(1);
  });
});
