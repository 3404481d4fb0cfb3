/**
 * Network traffic in the simulated kernel's jails: each step adds packets,
 * bytes, drops and errors (IP, UDP, TCP, ICMP and IPv6) to the VNET arrays
 * of every jail that has a network stack of its own, at a rate of its own
 * (a steady, realistic small-server load: a few hundred packets a second,
 * drops and errors a fraction of a percent). The host's stack moves with KernelActivity's
 * rates. Deterministic for one xorshift32 stream.
 */
import type { KernelImage } from './image.js';
import { JailTable } from './jails.js';
import type { KernelManifest } from './manifest.js';
import type { Xorshift32 } from './prng.js';
import { ICMPSTAT_FIELDS, IP6STAT_FIELDS, TCPSTAT_FIELDS } from './vnet-stats.js';
import { IPSTAT_FIELDS, UDPSTAT_FIELDS } from './kernel-layout.js';

/** [array, field, share of the jail's packet rate]. */
const JAIL_COUNTERS: ReadonlyArray<readonly [string, readonly string[], string, number]> = [
  ['ipstat', IPSTAT_FIELDS, 'ips_total', 1],
  ['ipstat', IPSTAT_FIELDS, 'ips_delivered', 0.99],
  ['ipstat', IPSTAT_FIELDS, 'ips_localout', 0.95],
  ['ipstat', IPSTAT_FIELDS, 'ips_odropped', 0.0005],
  ['ipstat', IPSTAT_FIELDS, 'ips_badsum', 0.0001],
  ['udpstat', UDPSTAT_FIELDS, 'udps_ipackets', 0.15],
  ['udpstat', UDPSTAT_FIELDS, 'udps_opackets', 0.14],
  ['udpstat', UDPSTAT_FIELDS, 'udps_noport', 0.002],
  ['udpstat', UDPSTAT_FIELDS, 'udps_fullsock', 0.0003],
  ['udpstat', UDPSTAT_FIELDS, 'udps_badsum', 0.0001],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_rcvtotal', 0.84],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_rcvpack', 0.6],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_rcvbyte', 0.6 * 900],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_sndtotal', 0.8],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_sndpack', 0.55],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_sndbyte', 0.55 * 1200],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_sndrexmitpack', 0.004],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_rcvbadsum', 0.0001],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_drops', 0.0008],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_listendrop', 0.0002],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_accepts', 0.01],
  ['tcpstat', TCPSTAT_FIELDS, 'tcps_connattempt', 0.004],
  // Pings answered (ICMP type 8 in, type 0 out, icps_inhist and
  // icps_outhist by type) and the ICMP errors a stack sends back, e.g. port
  // unreachable for UDP to a closed port (icmp_error).
  ['icmpstat', ICMPSTAT_FIELDS, 'icps_inhist[8]', 0.01],
  ['icmpstat', ICMPSTAT_FIELDS, 'icps_outhist[0]', 0.01],
  ['icmpstat', ICMPSTAT_FIELDS, 'icps_error', 0.005],
  ['icmpstat', ICMPSTAT_FIELDS, 'icps_checksum', 0.0001],
  // A fifth as much IPv6 as IPv4.
  ['ip6stat', IP6STAT_FIELDS, 'ip6s_total', 0.2],
  ['ip6stat', IP6STAT_FIELDS, 'ip6s_delivered', 0.19],
  ['ip6stat', IP6STAT_FIELDS, 'ip6s_localout', 0.18],
  ['ip6stat', IP6STAT_FIELDS, 'ip6s_odropped', 0.0001],
];

/** Packets per second of a jail: 150 to 1500, fixed by its name. */
export function jailPacketRate(name: string): number {
  let h = 2166136261;
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 16777619) >>> 0;
  return 150 + (h % 1350);
}

export class JailTraffic {
  private readonly table: JailTable;

  constructor(
    private readonly image: KernelImage,
    manifest: KernelManifest,
    private readonly rng: Xorshift32,
  ) {
    this.table = new JailTable(image, manifest);
  }

  /** Adds `seconds` of traffic to every jail's own stack, spread over `cpus`. */
  step(cpus: readonly number[], seconds: number): void {
    for (const vnet of this.table.vnets()) {
      if (vnet.jail === undefined) continue;
      const rate = jailPacketRate(vnet.jail.name);
      for (const [stat, fields, field, share] of JAIL_COUNTERS) {
        const handle = this.image.readU64(this.table.handleHolder(vnet.dataBase, stat, fields.indexOf(field)));
        for (const cpu of cpus) {
          const n = Math.floor(((rate * share * seconds) / cpus.length) * (0.75 + 0.5 * this.rng.nextFloat()) + this.rng.nextFloat());
          if (n > 0) this.image.addCounter(handle, cpu, BigInt(n));
        }
      }
    }
  }
}
