/**
 * The VNET_PCPUSTAT arrays of the simulated kernel's network stack and the
 * struct prison and struct vnet offsets its jails use, from FreeBSD's
 * headers (amd64, LP64: uint64_t, u_long and pointers 8 bytes, int 4).
 *
 * - struct vnet (sys/net/vnet.h, 13.2, 13.5 and main): LIST_ENTRY vnet_le
 *   at 0 (le_next at 0, le_prev at 8), vnet_magic_n at 16, vnet_data_base
 *   at 40, __aligned(CACHE_LINE_SIZE) so sizeof 64. Offsets in format.ts.
 * - struct prison (sys/sys/jail.h): TAILQ_ENTRY pr_list at 0 (tqe_next at
 *   0), pr_id at 16, pr_flags at 28 (PR_VNET 0x10), pr_name[MAXHOSTNAMELEN]
 *   at 288 in 13.x and 14.x. pr_vnet is at 168 in 13.2/13.5; 14.x inserted
 *   LIST_HEAD pr_proclist after pr_children, moving pr_vnet to 176, which is
 *   the layout simulated here (the demo reads it with the 14 preset).
 * - udpstat, ipstat: 14 and 29 (udp_var.h, ip_var.h, the same in 13.2,
 *   13.5 and main). icmpstat 94 u_long (icmp_var.h, ICMP_MAXTYPE 40 in
 *   ip_icmp.h), ip6stat 415 uint64_t (netinet6/ip6_var.h: IP6S_HDRCNT 256,
 *   IP6S_M2MMAX 32, IP6S_SCOPECNT 16, IP6S_RULESMAX 16), both read in the
 *   13.2 and 13.5 headers. tcpstat: 123 slots as in a 14-era tree (dsack,
 *   ace, ecn_sndect, tlp and SEG.ACK counters, _pad[2]); 13.x has 113.
 */

/** name[0], name[1], ... name[n-1]: the slots of an array member. */
function indexed(name: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${name}[${i}]`);
}

/** struct tcpstat, 123 uint64_t slots (see the file comment) */
export const TCPSTAT_FIELDS: readonly string[] = [
  'tcps_connattempt', 'tcps_accepts', 'tcps_connects', 'tcps_drops', 'tcps_conndrops',
  'tcps_minmssdrops', 'tcps_closed', 'tcps_segstimed', 'tcps_rttupdated', 'tcps_delack',
  'tcps_timeoutdrop', 'tcps_rexmttimeo', 'tcps_persisttimeo', 'tcps_keeptimeo', 'tcps_keepprobe',
  'tcps_keepdrops', 'tcps_progdrops', 'tcps_sndtotal', 'tcps_sndpack', 'tcps_sndbyte',
  'tcps_sndrexmitpack', 'tcps_sndrexmitbyte', 'tcps_sndrexmitbad', 'tcps_sndacks', 'tcps_sndprobe',
  'tcps_sndurg', 'tcps_sndwinup', 'tcps_sndctrl', 'tcps_rcvtotal', 'tcps_rcvpack', 'tcps_rcvbyte',
  'tcps_rcvbadsum', 'tcps_rcvbadoff', 'tcps_rcvreassfull', 'tcps_rcvshort', 'tcps_rcvduppack',
  'tcps_rcvdupbyte', 'tcps_rcvpartduppack', 'tcps_rcvpartdupbyte', 'tcps_rcvoopack',
  'tcps_rcvoobyte', 'tcps_rcvpackafterwin', 'tcps_rcvbyteafterwin', 'tcps_rcvafterclose',
  'tcps_rcvwinprobe', 'tcps_rcvdupack', 'tcps_rcvacktoomuch', 'tcps_rcvackpack', 'tcps_rcvackbyte',
  'tcps_rcvwinupd', 'tcps_pawsdrop', 'tcps_predack', 'tcps_preddat', 'tcps_pcbcachemiss',
  'tcps_cachedrtt', 'tcps_cachedrttvar', 'tcps_cachedssthresh', 'tcps_usedrtt', 'tcps_usedrttvar',
  'tcps_usedssthresh', 'tcps_persistdrop', 'tcps_badsyn', 'tcps_mturesent', 'tcps_listendrop',
  'tcps_badrst', 'tcps_sc_added', 'tcps_sc_retransmitted', 'tcps_sc_dupsyn', 'tcps_sc_dropped',
  'tcps_sc_completed', 'tcps_sc_bucketoverflow', 'tcps_sc_cacheoverflow', 'tcps_sc_reset',
  'tcps_sc_stale', 'tcps_sc_aborted', 'tcps_sc_badack', 'tcps_sc_unreach', 'tcps_sc_zonefail',
  'tcps_sc_sendcookie', 'tcps_sc_recvcookie', 'tcps_hc_added', 'tcps_hc_bucketoverflow',
  'tcps_finwait2_drops', 'tcps_sack_recovery_episode', 'tcps_sack_rexmits',
  'tcps_sack_rexmit_bytes', 'tcps_sack_rcv_blocks', 'tcps_sack_send_blocks', 'tcps_sack_lostrexmt',
  'tcps_sack_sboverflow', 'tcps_ecn_rcvce', 'tcps_ecn_rcvect0', 'tcps_ecn_rcvect1', 'tcps_ecn_shs',
  'tcps_ecn_rcwnd', 'tcps_sig_rcvgoodsig', 'tcps_sig_rcvbadsig', 'tcps_sig_err_buildsig',
  'tcps_sig_err_sigopt', 'tcps_sig_err_nosigopt', 'tcps_pmtud_blackhole_activated',
  'tcps_pmtud_blackhole_activated_min_mss', 'tcps_pmtud_blackhole_failed', 'tcps_tunneled_pkts',
  'tcps_tunneled_errs', 'tcps_dsack_count', 'tcps_dsack_bytes', 'tcps_dsack_tlp_bytes',
  'tcps_tw_recycles', 'tcps_tw_resets', 'tcps_tw_responds', 'tcps_ace_nect', 'tcps_ace_ect1',
  'tcps_ace_ect0', 'tcps_ace_ce', 'tcps_ecn_sndect0', 'tcps_ecn_sndect1', 'tcps_tlpresends',
  'tcps_tlpresend_bytes', 'tcps_rcvghostack', 'tcps_rcvacktooold', ...indexed('_pad', 2),
];
/** struct icmpstat, 94 u_long: icps_outhist and icps_inhist have ICMP_MAXTYPE + 1 = 41 slots */
export const ICMPSTAT_FIELDS: readonly string[] = [
  'icps_error', 'icps_oldshort', 'icps_oldicmp', ...indexed('icps_outhist', 41), 'icps_badcode',
  'icps_tooshort', 'icps_checksum', 'icps_badlen', 'icps_reflect', ...indexed('icps_inhist', 41),
  'icps_bmcastecho', 'icps_bmcasttstamp', 'icps_badaddr', 'icps_noroute',
];
/** struct ip6stat, 415 uint64_t */
export const IP6STAT_FIELDS: readonly string[] = [
  'ip6s_total', 'ip6s_tooshort', 'ip6s_toosmall', 'ip6s_fragments', 'ip6s_fragdropped',
  'ip6s_fragtimeout', 'ip6s_fragoverflow', 'ip6s_forward', 'ip6s_cantforward', 'ip6s_redirectsent',
  'ip6s_delivered', 'ip6s_localout', 'ip6s_odropped', 'ip6s_reassembled', 'ip6s_atomicfrags',
  'ip6s_fragmented', 'ip6s_ofragments', 'ip6s_cantfrag', 'ip6s_badoptions', 'ip6s_noroute',
  'ip6s_badvers', 'ip6s_rawout', 'ip6s_badscope', 'ip6s_notmember',
  ...indexed('ip6s_nxthist', 256), 'ip6s_m1', ...indexed('ip6s_m2m', 32), 'ip6s_mext1',
  'ip6s_mext2m', 'ip6s_exthdrtoolong', 'ip6s_nogif', 'ip6s_toomanyhdr', 'ip6s_sources_none',
  ...indexed('ip6s_sources_sameif', 16), ...indexed('ip6s_sources_otherif', 16),
  ...indexed('ip6s_sources_samescope', 16), ...indexed('ip6s_sources_otherscope', 16),
  ...indexed('ip6s_sources_deprecated', 16), ...indexed('ip6s_sources_rule', 16),
];

/** struct prison (sys/sys/jail.h), 14.x amd64: the fields the simulator writes. */
export const Prison = { next: 0, prev: 8, id: 16, flags: 28, vnet: 176, name: 288, size: 2176 } as const;
/** MAXHOSTNAMELEN (sys/sys/param.h): pr_name's size, NUL included. */
export const PRISON_NAME_SIZE = 256;
/** PR_VNET (sys/sys/jail.h): the jail has its own network stack. */
export const PR_VNET = 0x10;
/** What free(9) leaves in freed memory on an INVARIANTS kernel (sys/vm/uma_dbg.c). */
export const UMA_JUNK = 0xdeadc0de;
