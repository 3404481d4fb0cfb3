/**
 * The vnet collector end to end against simulated kernels: every
 * `vnet: true` entry of the 14 preset published once per network stack with
 * the values the image holds in that stack, jails created and destroyed
 * between scrapes, the max_series bucket, broken lists, a kernel without
 * VIMAGE and a crash dump.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JailTable } from '../../sim/image/jails.js';
import { imageTruth, seriesKey } from '../hardening/oracle.js';
import { kernelConfig, runCollector, scrapeKernel, simControl } from '../exporter/harness.js';
import { samplesOf, valueOf } from '../support/parse.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';

const PRESET = 'preset: freebsd-14-amd64\ncollectors: { counters: false, variables: false, dpcpu: false, pcpu: false, processes: false, cpus: false, loadavg: false }\n';
const JAILS = [
  { jid: 1, name: 'web', vnet: true },
  { jid: 2, name: 'app', vnet: true },
  { jid: 3, name: 'build', vnet: false },
];

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

function build(spec: Parameters<typeof makeKernel>[0]): TestKernel {
  kernel = makeKernel(spec);
  return kernel;
}

/** Moves every jail's counters so that no two stacks hold the same values. */
function stir(k: TestKernel): void {
  const image = k.open();
  const table = new JailTable(image, k.manifest);
  for (const [n, vnet] of table.vnets().entries()) {
    for (const [stat, count] of [['udpstat', 14], ['tcpstat', 123], ['ip6stat', 415]] as const) {
      for (let i = 0; i < count; i += 7) {
        const handle = image.readU64(table.handleHolder(vnet.dataBase, stat, i));
        for (const cpu of k.manifest.cpus) image.addCounter(handle, cpu, BigInt(1 + n * 1_000_003 + i * 31 + cpu));
      }
    }
  }
  image.close();
}

describe('every network stack', () => {
  it('publishes each vnet: true counter once per stack with what the image holds there, and none for a shared stack', async () => {
    const k = build({ cpus: [0, 1, 3], jails: JAILS });
    stir(k);
    const run = runCollector(k, 'vnet', PRESET);
    expect(run.error).toBeUndefined();
    const image = k.open();
    const truth = imageTruth(image, k.manifest, kernelConfig(k, PRESET));
    image.close();
    const names = ['kvm_udp_ipackets_total', 'kvm_tcp_sndbyte_total', 'kvm_ip6_nxthist_6_total', 'kvm_icmp_outhist_0_total', 'kvm_ip_odropped_total'];
    for (const name of names) {
      expect(samplesOf(run.parsed, name).map((s) => `${s.labels.jid}:${s.labels.jail}`)).toEqual(['0:host', '1:web', '2:app']);
    }
    let compared = 0;
    for (const [key, value] of truth) {
      if (!key.includes('jid=')) continue;
      const sample = run.parsed.samples.find((s) => seriesKey(s.name, s.labels) === key);
      expect(sample?.value, key).toBe(value);
      compared++;
    }
    expect(compared).toBe((14 + 29 + 121 + 94 + 415) * 3);
  });

  it('reads each stack with one handle-array read per entry and a page of handles per kvm_read_zpcpu', () => {
    const k = build({ cpus: [0, 1], jails: JAILS });
    const run = runCollector(k, 'vnet', PRESET, () => simControl().resetCallCounts());
    const calls = simControl().callCounts();
    expect(run.error).toBeUndefined();
    expect(calls.kvm_counter_u64_fetch ?? 0).toBe(0);
    // 3 stacks x (udp, ip, tcp, icmp: one page or two; ip6: 415 handles, two pages) x 2 CPUs.
    expect(calls.kvm_read_zpcpu).toBeLessThanOrEqual(3 * 10 * 2);
  });
});

describe('jails come and go', () => {
  it('a jail created between scrapes is published at the next; destroyed, it is gone', async () => {
    const k = build({ cpus: [0, 1], jails: JAILS, jailSlots: 6 });
    const image = k.open();
    const table = new JailTable(image, k.manifest);
    const jails = async () => samplesOf(await scrapeKernel(k, PRESET), 'kvm_udp_ipackets_total').map((s) => s.labels.jail);
    expect(await jails()).toEqual(['host', 'web', 'app']);
    table.create('db', { vnet: true, jid: 5 });
    const db = table.vnets().find((v) => v.jail?.name === 'db')!;
    image.addCounter(image.readU64(table.handleHolder(db.dataBase, 'udpstat', 0)), 1, 4242n);
    const scrape = await scrapeKernel(k, PRESET);
    expect(samplesOf(scrape, 'kvm_udp_ipackets_total').map((s) => s.labels.jail)).toEqual(['host', 'web', 'app', 'db']);
    expect(valueOf(scrape, 'kvm_udp_ipackets_total', { jid: '5', jail: 'db' })).toBe(4242);
    table.destroy(5);
    table.destroy(1);
    expect(await jails()).toEqual(['host', 'app']);
    image.close();
  });
});

describe('max_series', () => {
  it('labels the host and the first jails by jid and sums the rest as jid="other", jail="other", apart from a jail named other', async () => {
    const jails = [...Array.from({ length: 5 }, (_, i) => ({ jid: i + 1, name: `j${i + 1}`, vnet: true })), { jid: 9, name: 'other', vnet: true }];
    const k = build({ cpus: [0], jails });
    const run = runCollector(k, 'vnet', `${PRESET}vnets: { max_series: 3 }\n`);
    const samples = samplesOf(run.parsed, 'kvm_udp_ipackets_total');
    expect(samples.map((s) => [s.labels.jid, s.labels.jail])).toEqual([['0', 'host'], ['1', 'j1'], ['2', 'j2'], ['other', 'other']]);
    const image = k.open();
    const truth = imageTruth(image, k.manifest, kernelConfig(k, PRESET));
    image.close();
    const rest = ['3:j3', '4:j4', '5:j5', '9:other'].map((s) => truth.get(seriesKey('kvm_udp_ipackets_total', { jid: s.split(':')[0]!, jail: s.split(':')[1]! }))!);
    expect(samples[3]!.value).toBe(rest.reduce((a, b) => a + b, 0));
  });
});

describe('problems', () => {
  it('a loop on vnet_head fails the collector with KVM_VNET_WALK, without a hang', () => {
    const k = build({ cpus: [0], jails: JAILS });
    const image = k.open();
    new JailTable(image, k.manifest).loopVnetList();
    image.close();
    const run = runCollector(k, 'vnet', PRESET);
    expect(run.error?.message).toMatch(/vnet_head loops back to the vnet at 0x/);
    expect(samplesOf(run.parsed, 'kvm_udp_ipackets_total')).toEqual([]);
  });

  it('a stack whose handles are still the template\'s zeros is left out for that entry, with the reason, never read as counts', () => {
    const k = build({ cpus: [0, 1], jails: JAILS });
    const image = k.open();
    const table = new JailTable(image, k.manifest);
    const web = table.vnets().find((v) => v.jail?.name === 'web')!;
    // As a kldloaded module's VNET_PCPUSTAT array is between the data copy and its VNET_SYSINIT (sys/net/vnet.c).
    for (let i = 0; i < 14; i++) image.writeU64(table.handleHolder(web.dataBase, 'udpstat', i), 0n);
    image.close();
    const run = runCollector(k, 'vnet', PRESET);
    const udp = [...run.failures].filter(([key]) => key.endsWith(' jid=1'));
    expect(udp).toHaveLength(1);
    expect(udp[0]![1]).toMatch(/^handle 0x0 from udpstat\S* \(ipackets\) in this network stack is below 4096, an offset into struct pcpu itself, not a counter\(9\) allocation/);
    expect(samplesOf(run.parsed, 'kvm_udp_ipackets_total').map((s) => s.labels.jail)).toEqual(['host', 'app']);
    expect(samplesOf(run.parsed, 'kvm_tcp_sndbyte_total').map((s) => s.labels.jail)).toEqual(['host', 'web', 'app']);
  });

  it('a kernel without VIMAGE: each entry is read once, as the host\'s', () => {
    const k = build({ cpus: [0, 1], vimage: false });
    const run = runCollector(k, 'vnet', PRESET);
    expect(run.error).toBeUndefined();
    const image = k.open();
    const truth = imageTruth(image, k.manifest, kernelConfig(k, PRESET));
    image.close();
    expect(samplesOf(run.parsed, 'kvm_tcp_rcvtotal_total').map((s) => s.labels)).toEqual([{ jid: '0', jail: 'host' }]);
    expect(valueOf(run.parsed, 'kvm_tcp_rcvtotal_total', { jid: '0', jail: 'host' })).toBe(truth.get(seriesKey('kvm_tcp_rcvtotal_total', { jid: '0', jail: 'host' })));
    expect(valueOf(run.parsed, 'kvm_tcp_rcvtotal_total', { jid: '0', jail: 'host' })).toBeGreaterThan(0);
  });

  it('a crash dump: the same stacks and values', () => {
    const k = build({ cpus: [0, 1], live: false, jails: JAILS });
    stir(k);
    // A crash dump needs its kernel file; the simulator only opens it.
    const dump: TestKernel = {
      ...k,
      writeConfig(body = '') {
        const file = join(k.dir, 'dump.yml');
        const kvm = `kvm:\n  library: ${JSON.stringify(SIM_LIBRARY)}\n  execfile: ${JSON.stringify(k.kernelFile())}\n  corefile: ${JSON.stringify(k.image)}\n`;
        writeFileSync(file, `${kvm}${body}`);
        return file;
      },
    };
    const run = runCollector(dump, 'vnet', PRESET);
    expect(run.error).toBeUndefined();
    const image = k.open();
    const truth = imageTruth(image, k.manifest, kernelConfig(k, PRESET));
    image.close();
    for (const jail of [['0', 'host'], ['1', 'web'], ['2', 'app']] as const) {
      const labels = { jid: jail[0], jail: jail[1] };
      expect(valueOf(run.parsed, 'kvm_udp_opackets_total', labels)).toBe(truth.get(seriesKey('kvm_udp_opackets_total', labels)));
    }
  });
});
