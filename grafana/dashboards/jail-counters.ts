/**
 * Which of the network stack's counters count a jail's drops and errors:
 * the one list the Jails dashboard sums and that the recording rules
 * `instance_jail:kvm_net_drops:rate5m` and `instance_jail:kvm_net_errors:rate5m`
 * (config/prometheus/rules/kvm_exporter.rules.yml, read by KvmJailDropsHigh)
 * sum too; test/grafana/dashboards.test.ts fails if the two disagree.
 *
 * Names are the presets' element names of the `vnet: true` entries ip, ip6,
 * udp, tcp and icmp (config/presets/freebsd-1[345]-amd64.yml), all of them
 * present in 13.x, 14.x and 15.x; each counts packets (segments, messages),
 * so they add up.
 * The words in the comments are what `netstat -s` prints for each
 * (usr.bin/netstat/inet.c).
 */

export type Protocol = 'ip' | 'ip6' | 'udp' | 'tcp' | 'icmp';

/** Packets a jail's stack discarded although nothing was wrong with them. */
export const JAIL_DROPS: Readonly<Record<Protocol, readonly string[]>> = {
  // "output packets dropped due to no bufs", "fragments dropped (dup or out
  // of space)", "fragments dropped after timeout", "output packets discarded
  // due to no route", "packets for unknown/unsupported protocol".
  ip: ['odropped', 'fragdropped', 'fragtimeout', 'noroute', 'noproto'],
  // The same for IPv6, and "fragments that exceeded limit".
  ip6: ['odropped', 'fragdropped', 'fragtimeout', 'fragoverflow', 'noroute'],
  // "dropped due to no socket", "broadcast/multicast datagrams undelivered",
  // "dropped due to full socket buffers".
  udp: ['noport', 'noportbcast', 'fullsock'],
  // "listen queue overflows" (SYNs dropped), "packets with data after
  // window", "packets received after close".
  tcp: ['listendrop', 'rcvpackafterwin', 'rcvafterclose'],
  // ICMP counts no drops of its own: what it ignores on purpose (broadcast
  // echo requests) is policy, not loss.
  icmp: [],
};

/** Packets a jail's stack received damaged. */
export const JAIL_ERRORS: Readonly<Record<Protocol, readonly string[]>> = {
  // "bad header checksums", "with size smaller than minimum", "with data size
  // < data length", "with header length < data size", "with data length <
  // header length", "with bad options", "with incorrect version number".
  ip: ['badsum', 'tooshort', 'toosmall', 'badhlen', 'badlen', 'badoptions', 'badvers'],
  // The same for IPv6 (no header checksum), and "packets that violated scope rules".
  ip6: ['tooshort', 'toosmall', 'badoptions', 'badvers', 'badscope'],
  // "with incomplete header", "with bad checksum", "with bad data length field".
  udp: ['hdrops', 'badsum', 'badlen'],
  // "discarded for bad checksums", "discarded for bad header offset fields",
  // "discarded because packet too short".
  tcp: ['rcvbadsum', 'rcvbadoff', 'rcvshort'],
  // "messages with bad code fields", "messages < minimum length", "bad
  // checksums", "messages with bad length".
  icmp: ['badcode', 'tooshort', 'checksum', 'badlen'],
};

export const PROTOCOLS: readonly Protocol[] = ['ip', 'ip6', 'udp', 'tcp', 'icmp'];

/** The counters' metric names: kvm_<entry>_<element>_total. */
export function counterMetrics(counters: Readonly<Record<Protocol, readonly string[]>>, protocols: readonly Protocol[] = PROTOCOLS): string[] {
  return protocols.flatMap((protocol) => counters[protocol].map((element) => `kvm_${protocol}_${element}_total`));
}
