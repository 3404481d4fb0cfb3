/**
 * The `vnet` key and the `vnets` section: the limits, the layouts a
 * `vnet: true` entry needs (from a preset or the file), and what the
 * presets' network stack entries hold.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/errors.js';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'v.yml');
  } catch (error) {
    if (error instanceof ConfigErrors) return error.errors.map((e) => e.message);
    throw error;
  }
  throw new Error('the config was accepted');
}

const LAYOUTS = `layouts:
  vnet: { size: 64, checked: "vnet.h", fields: { vnet_le: 0, vnet_magic_n: 16, vnet_data_base: 40 } }
  prison: { size: 2176, checked: "jail.h", fields: { pr_list: 0, pr_id: 16, pr_vnet: 176, pr_name: 288 } }
`;

describe('vnets', () => {
  it('defaults to 1000 vnets and 100 jails per entry, without layouts', () => {
    expect(parseConfig('', 'v.yml').vnets).toEqual({ max: 1000, maxSeries: 100 });
  });

  it('takes the limits and resolves the vnet and prison layouts into walk offsets', () => {
    const config = parseConfig(`${LAYOUTS}vnets: { max: 20, max_series: 5 }\ncounters:\n  - { name: udp, symbol: udpstat, array: [ipackets, opackets], vnet: true }\n`, 'v.yml');
    expect(config.vnets).toEqual({
      max: 20,
      maxSeries: 5,
      layouts: { vnet: { next: 0, magic: 16, dataBase: 40 }, prison: { next: 0, id: 16, vnet: 176, name: 288 } },
    });
    expect(config.counters[0]?.vnet).toBe(true);
  });

  it('refuses vnet: true without the layouts, naming the entry and what is missing', () => {
    expect(problems('counters:\n  - { name: udp, symbol: udpstat, vnet: true }\n')).toEqual([
      expect.stringMatching(/v\.yml:2:\d+: counters\[0\]\.vnet: vnet: true needs the vnet and prison layouts/),
    ]);
  });

  it('refuses a prison layout without pr_vnet', () => {
    const yaml = LAYOUTS.replace('pr_vnet: 176, ', '') + 'variables:\n  - { name: x, symbol: x, ctype: int32, vnet: true }\n';
    expect(problems(yaml)).toEqual([expect.stringContaining('the prison layout needs the fields pr_list, pr_id, pr_name, pr_vnet; missing pr_vnet')]);
  });

  it('refuses out-of-range limits and vnet on a dpcpu entry', () => {
    expect(problems('vnets: { max: 0 }\n')).toEqual([expect.stringContaining('vnets.max: expected a whole number from 1 to 100000')]);
    expect(problems('dpcpu:\n  - { name: d, symbol: d, ctype: int32, vnet: true }\n')).toEqual([expect.stringContaining('dpcpu[0].vnet: unknown key')]);
  });

  it.each(['13', '14', '15'])('the %s preset reads udp, ip, tcp, icmp and ip6 in every stack, without per-CPU series', (release) => {
    const config = parseConfig(`preset: freebsd-${release}-amd64\n`, 'v.yml');
    const vnet = config.counters.filter((c) => c.vnet);
    expect(vnet.map((c) => c.name)).toEqual(['udp', 'ip', 'tcp', 'icmp', 'ip6']);
    expect(vnet.every((c) => !c.perCpu)).toBe(true);
    const count = (name: string) => { const s = vnet.find((c) => c.name === name)!.source; return s.kind === 'array' ? s.elements.length : 0; };
    expect([count('udp'), count('ip'), count('icmp'), count('ip6')]).toEqual([14, 29, 94, 415]);
    expect(count('tcp')).toBe({ '13': 106, '14': 121, '15': 124 }[release]);
    expect(config.vnets.layouts?.prison.vnet).toBe(release === '13' ? 168 : 176);
  });
});
