/**
 * "kvm_exporter / Jails": one FreeBSD host's jails, each network stack on
 * its own.
 *
 * Reads what the exporter's vnet collector exports for every `vnet: true`
 * entry of the presets (`kvm_ip_*`, `kvm_ip6_*`, `kvm_udp_*`, `kvm_tcp_*`,
 * `kvm_icmp_*`, labelled `jid` and `jail`; the host's own stack is
 * `jid="0", jail="host"`, jails past `vnets.max_series` are summed as
 * `jail="other"`) and `kvm_processes_by_jail`. A jail without a stack of its
 * own (no `vnet` in jail.conf) has processes here but no traffic: its
 * packets are the host's. Answers, top to bottom: which jails are there and
 * which move the most traffic, how much each sends and receives, how much
 * each drops or receives damaged (the view of KvmJailDropsHigh), and the
 * same for ICMP and IPv6.
 */

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { JAIL_DROPS, JAIL_ERRORS, PROTOCOLS, counterMetrics, type Protocol } from './jail-counters.js';
import { ranking, stat, timeseries, UNIT, type Query } from './panels.js';
import type { Section } from './shell.js';
import { newDashboard, withSections } from './shell.js';
import { instanceVariable, jailVariable } from './variables.js';

const HOST = 'job="$job", instance="$instance"';
/** The jails chosen in the picker ("All" is `.+`, the host's own stack included). */
const JAILS = `${HOST}, jail=~"$jail"`;
/** A real jail: a positive jid (not the host's 0, nor an overflow bucket). */
const REAL_JAIL = 'jid=~"[1-9][0-9]*"';

const PROTOCOL_NAMES: Readonly<Record<Protocol, string>> = { ip: 'IP', ip6: 'IPv6', udp: 'UDP', tcp: 'TCP', icmp: 'ICMP' };

/** One series per jail: a counter's rate. */
function perJailRate(metric: string, matchers = JAILS): string {
  return `sum by (jid, jail) (rate(${metric}{${matchers}}[$__rate_interval]))`;
}

/**
 * One series per jail: the summed rates of several counters. rate() drops
 * the metric name, so the counters' series would collide ("vector cannot
 * contain metrics with the same labelset"); each gets a `counter` label
 * first. `or` rather than `+` keeps the sum when a host's config lacks one
 * of the entries. config/prometheus/rules/kvm_exporter.rules.yml sums the
 * same way.
 */
export function perJailRateSum(metrics: readonly string[], matchers = JAILS): string {
  const labelled = metrics.map((metric) => `label_replace(rate(${metric}{${matchers}}[$__rate_interval]), "counter", "${metric}", "", "")`);
  return `sum by (jid, jail) (${labelled.join(' or ')})`;
}

/** Received and sent, one pair of series per jail. */
function inOut(received: string, sent: string): Query[] {
  return [
    { expr: perJailRate(received), legend: '{{jail}} received' },
    { expr: perJailRate(sent), legend: '{{jail}} sent' },
  ];
}

/** One series per jail and protocol, for the protocols that count some of `counters`. */
function byProtocol(counters: Readonly<Record<Protocol, readonly string[]>>, protocols: readonly Protocol[]): Query[] {
  return protocols
    .filter((protocol) => counters[protocol].length > 0)
    .map((protocol) => ({ expr: perJailRateSum(counterMetrics(counters, [protocol])), legend: `{{jail}} ${PROTOCOL_NAMES[protocol]}` }));
}

function listed(counters: Readonly<Record<Protocol, readonly string[]>>, protocols: readonly Protocol[]): string {
  return protocols
    .filter((protocol) => counters[protocol].length > 0)
    .map((protocol) => `${PROTOCOL_NAMES[protocol]} ${counters[protocol].join(', ')}`)
    .join('; ');
}

function jailsSection(): Section {
  return {
    title: 'Jails',
    panels: [
      stat({
        title: 'Jails with their own network stack',
        description: 'Jails whose network stack (vnet) the exporter reads, from `kvm_ip_packets_total`; the host\'s own stack is not counted. A jail that disappears from here while the kernel stays readable raises KvmJailGone.',
        unit: UNIT.count,
        width: 6,
        queries: [{ expr: `count(kvm_ip_packets_total{${HOST}, ${REAL_JAIL}}) or vector(0)`, legend: 'jails' }],
      }),
      stat({
        title: 'Jails running processes',
        description: 'Jails with at least one process (`kvm_processes_by_jail`), with or without a network stack of their own.',
        unit: UNIT.count,
        width: 6,
        queries: [{ expr: `count(kvm_processes_by_jail{${HOST}, ${REAL_JAIL}}) or vector(0)`, legend: 'jails' }],
      }),
      ranking({
        title: 'Top 10 jails by IP traffic',
        description: 'IPv4 packets received and sent per second (`kvm_ip_packets_total` + `kvm_ip_localout_total`) by every jail with its own network stack, the host\'s stack left out; the picker does not apply.',
        unit: UNIT.packetsPerSecond,
        height: 12,
        queries: [{
          expr: `topk(10, ${perJailRate('kvm_ip_packets_total', `${HOST}, jid!="0"`)} + ${perJailRate('kvm_ip_localout_total', `${HOST}, jid!="0"`)})`,
          legend: '{{jail}} (jid {{jid}})',
        }],
      }),
      timeseries({
        title: 'Processes per jail',
        description: 'Processes in each chosen jail (`kvm_processes_by_jail`, ki_jid with the name from allprison); the host\'s are `host`.',
        unit: UNIT.count,
        stack: true,
        min: 0,
        height: 12,
        queries: [{ expr: `sum by (jid, jail) (kvm_processes_by_jail{${JAILS}})`, legend: '{{jail}}' }],
      }),
    ],
  };
}

function trafficSection(): Section {
  return {
    title: 'Traffic per jail',
    panels: [
      timeseries({
        title: 'IP packets per jail',
        description: 'IPv4 packets received (`kvm_ip_packets_total`, ips_total) and sent from the jail (`kvm_ip_localout_total`, ips_localout), per second.',
        unit: UNIT.packetsPerSecond,
        queries: inOut('kvm_ip_packets_total', 'kvm_ip_localout_total'),
      }),
      timeseries({
        title: 'UDP datagrams per jail',
        description: 'UDP datagrams received (`kvm_udp_ipackets_total`) and sent (`kvm_udp_opackets_total`), per second.',
        unit: UNIT.packetsPerSecond,
        queries: inOut('kvm_udp_ipackets_total', 'kvm_udp_opackets_total'),
      }),
      timeseries({
        title: 'TCP segments per jail',
        description: 'TCP segments received (`kvm_tcp_rcvtotal_total`) and sent (`kvm_tcp_sndtotal_total`), per second.',
        unit: UNIT.packetsPerSecond,
        queries: inOut('kvm_tcp_rcvtotal_total', 'kvm_tcp_sndtotal_total'),
      }),
      timeseries({
        title: 'TCP data per jail',
        description: 'TCP payload bytes received in sequence (`kvm_tcp_rcvbyte_total`) and sent (`kvm_tcp_sndbyte_total`), per second.',
        unit: UNIT.bytesPerSecond,
        queries: inOut('kvm_tcp_rcvbyte_total', 'kvm_tcp_sndbyte_total'),
      }),
    ],
  };
}

function dropsSection(): Section {
  return {
    title: 'Drops and errors per jail',
    panels: [
      timeseries({
        title: 'Packets dropped per jail',
        description: `Packets each jail's stack discarded although nothing was wrong with them, all protocols together, per second: ${listed(JAIL_DROPS, PROTOCOLS)}. KvmJailDropsHigh fires when this is over ten times its average of the last day and over 1/s.`,
        unit: UNIT.packetsPerSecond,
        min: 0,
        queries: [{ expr: perJailRateSum(counterMetrics(JAIL_DROPS)), legend: '{{jail}}' }],
      }),
      timeseries({
        title: 'Packets received with errors per jail',
        description: `Packets each jail's stack received damaged, all protocols together, per second: ${listed(JAIL_ERRORS, PROTOCOLS)}. KvmJailDropsHigh fires when this is over ten times its average of the last day and over 1/s.`,
        unit: UNIT.packetsPerSecond,
        min: 0,
        queries: [{ expr: perJailRateSum(counterMetrics(JAIL_ERRORS)), legend: '{{jail}}' }],
      }),
      timeseries({
        title: 'Drops per jail by protocol',
        description: 'The drops above, split by protocol.',
        unit: UNIT.packetsPerSecond,
        min: 0,
        queries: byProtocol(JAIL_DROPS, ['ip', 'udp', 'tcp']),
      }),
      timeseries({
        title: 'Errors per jail by protocol',
        description: 'The errors above, split by protocol.',
        unit: UNIT.packetsPerSecond,
        min: 0,
        queries: byProtocol(JAIL_ERRORS, ['ip', 'udp', 'tcp']),
      }),
      timeseries({
        title: 'TCP retransmits and dropped connections per jail',
        description: 'Segments retransmitted (`kvm_tcp_sndrexmitpack_total`) and connections dropped (`kvm_tcp_drops_total`), per second: loss on the path or a peer that went away.',
        unit: UNIT.perSecond,
        min: 0,
        width: 24,
        queries: [
          { expr: perJailRate('kvm_tcp_sndrexmitpack_total'), legend: '{{jail}} retransmitted segments' },
          { expr: perJailRate('kvm_tcp_drops_total'), legend: '{{jail}} dropped connections' },
        ],
      }),
    ],
  };
}

function icmpIp6Section(): Section {
  return {
    title: 'ICMP and IPv6 per jail',
    panels: [
      timeseries({
        title: 'ICMP per jail',
        description: 'Echo requests received (`kvm_icmp_inhist_8_total`), echo replies sent (`kvm_icmp_outhist_0_total`) and ICMP errors the jail\'s stack generated (`kvm_icmp_error_total`, calls to icmp_error), per second.',
        unit: UNIT.perSecond,
        min: 0,
        width: 8,
        queries: [
          { expr: perJailRate('kvm_icmp_inhist_8_total'), legend: '{{jail}} echo requests received' },
          { expr: perJailRate('kvm_icmp_outhist_0_total'), legend: '{{jail}} echo replies sent' },
          { expr: perJailRate('kvm_icmp_error_total'), legend: '{{jail}} errors generated' },
        ],
      }),
      timeseries({
        title: 'IPv6 packets per jail',
        description: 'IPv6 packets received (`kvm_ip6_packets_total`, ip6s_total) and sent from the jail (`kvm_ip6_localout_total`), per second.',
        unit: UNIT.packetsPerSecond,
        width: 8,
        queries: inOut('kvm_ip6_packets_total', 'kvm_ip6_localout_total'),
      }),
      timeseries({
        title: 'IPv6 and ICMP drops and errors per jail',
        description: `Per second; drops: ${listed(JAIL_DROPS, ['ip6'])}; errors: ${listed(JAIL_ERRORS, ['ip6', 'icmp'])}.`,
        unit: UNIT.packetsPerSecond,
        min: 0,
        width: 8,
        queries: [...byProtocol(JAIL_DROPS, ['ip6']).map(withSuffix(' drops')), ...byProtocol(JAIL_ERRORS, ['ip6', 'icmp']).map(withSuffix(' errors'))],
      }),
    ],
  };
}

function withSuffix(suffix: string): (query: Query) => Query {
  return (query) => ({ ...query, legend: `${query.legend}${suffix}` });
}

export function jailsDashboard(): Dashboard {
  const dashboard = newDashboard({
    uid: 'kvm-exporter-jails',
    title: 'kvm_exporter / Jails',
    description: 'One FreeBSD host\'s jails through kvm_exporter: processes, and each network stack\'s IP, UDP, TCP, ICMP and IPv6 traffic, drops and errors.',
    hostMatchers: HOST,
  })
    .withVariable(instanceVariable(false))
    .withVariable(jailVariable(HOST));
  return withSections(dashboard, [jailsSection(), trafficSection(), dropsSection(), icmpIp6Section()]).build();
}
