/**
 * What the simulated FreeBSD 13+ amd64 kernel holds and where: the field
 * names of the counter(9) structs it exports (sys/sys/vmmeter.h,
 * sys/netinet/udp_var.h, sys/netinet/ip_var.h, sys/sys/sf_buf.h) and the
 * kernel virtual addresses of its regions. The numbers mirror FreeBSD's own
 * headers named above and sys/amd64/include/vmparam.h; the addresses are plausible
 * amd64 KVAs (kernel image at 0xffffffff8..., direct map at 0xfffff8...,
 * kmem at 0xfffffe...), chosen so that no two regions can overlap.
 */

/** struct vmmeter's 36 counter_u64_t fields in 13.0 order (sizeof 328). */
export const VMMETER_COUNTERS = [
  'v_swtch', 'v_trap', 'v_syscall', 'v_intr', 'v_soft', 'v_vm_faults',
  'v_io_faults', 'v_cow_faults', 'v_cow_optim', 'v_zfod', 'v_ozfod', 'v_swapin',
  'v_swapout', 'v_swappgsin', 'v_swappgsout', 'v_vnodein', 'v_vnodeout', 'v_vnodepgsin',
  'v_vnodepgsout', 'v_intrans', 'v_reactivated', 'v_pdwakeups', 'v_pdpages', 'v_pdshortfalls',
  'v_dfree', 'v_pfree', 'v_tfree', 'v_forks', 'v_vforks', 'v_rforks',
  'v_kthreads', 'v_forkpages', 'v_vforkpages', 'v_rforkpages', 'v_kthreadpages', 'v_wire_count',
] as const;

/** struct vmmeter's u_int fields after the counters, with plausible values for 8 GiB. */
export const VMMETER_UINTS: ReadonlyArray<readonly [string, number]> = [
  ['v_page_size', 4096],
  ['v_page_count', 2_031_616],
  ['v_free_reserved', 12_711],
  ['v_free_target', 43_137],
  ['v_free_min', 12_711],
  ['v_inactive_target', 64_705],
  ['v_pageout_free_min', 34],
  ['v_interrupt_free_min', 2],
  ['v_free_severe', 6_727],
];
export const VMMETER_SIZE = 328;
export const VMMETER_UINTS_OFFSET = 288;

/** struct udpstat, 14 uint64_t fields. */
export const UDPSTAT_FIELDS = [
  'udps_ipackets', 'udps_hdrops', 'udps_badsum', 'udps_nosum', 'udps_badlen',
  'udps_noport', 'udps_noportbcast', 'udps_fullsock', 'udpps_pcbcachemiss',
  'udpps_pcbhashmiss', 'udps_opackets', 'udps_fastout', 'udps_noportmcast',
  'udps_filtermcast',
] as const;

/** struct ipstat, 29 uint64_t fields. */
export const IPSTAT_FIELDS = [
  'ips_total', 'ips_badsum', 'ips_tooshort', 'ips_toosmall', 'ips_badhlen',
  'ips_badlen', 'ips_fragments', 'ips_fragdropped', 'ips_fragtimeout', 'ips_forward',
  'ips_fastforward', 'ips_cantforward', 'ips_redirectsent', 'ips_noproto', 'ips_delivered',
  'ips_localout', 'ips_odropped', 'ips_reassembled', 'ips_fragmented', 'ips_ofragments',
  'ips_cantfrag', 'ips_badoptions', 'ips_noroute', 'ips_badvers', 'ips_rawout',
  'ips_toolong', 'ips_notmember', 'ips_nogif', 'ips_badaddr',
] as const;

/** struct sfstat, 11 uint64_t fields. */
export const SFSTAT_FIELDS = [
  'sf_syscalls', 'sf_noiocnt', 'sf_iocnt', 'sf_pages_read', 'sf_pages_valid',
  'sf_rhpages_requested', 'sf_rhpages_read', 'sf_busy', 'sf_allocfail',
  'sf_allocwait', 'sf_pages_bogus',
] as const;

/** Kernel virtual addresses of the regions. */
export const Kva = {
  /** The set_pcpu linker set (the DPCPU template). */
  setPcpu: 0xffff_ffff_81a0_0000n,
  /** The set_vnet linker set (the VNET template). */
  setVnet: 0xffff_ffff_81b0_0000n,
  /** .data, immediately followed by .bss. */
  data: 0xffff_ffff_81c0_0000n,
  /** vnet0's struct vnet and its data area, from malloc (direct map). */
  vnet0: 0xffff_f800_03a0_0000n,
  vnet0Data: 0xffff_f800_03b0_0000n,
  /** Per-CPU DPCPU areas, one page each with a page between them. */
  dpcpuAreas: 0xffff_fe00_0000_0000n,
  dpcpuStride: 0x2000n,
  /**
   * The struct pcpu array (the value of __pcpu). On amd64 it is part of the
   * kernel image's address range (sys/amd64/amd64/machdep.c allocates it
   * with the boot pages, past KERNBASE), above kmem.
   */
  pcpu: 0xffff_ffff_8300_0000n,
  /**
   * First counter(9) slab. UMA's pcpu zones take their pages from kmem
   * (sys/vm/uma_core.c, pcpu_page_alloc), below the kernel image, so a
   * handle (slab address minus __pcpu) is negative: 2^63 or more as the
   * unsigned u_long kvm_read_zpcpu takes.
   */
  firstCounterSlabKva: 0xffff_fe00_0200_0000n,
  /** struct swdevt of each swap device (malloc, direct map), one 128-byte slot each. */
  swdevs: 0xffff_f800_0500_0000n,
  /** Threads of the idle and current threads of each CPU (struct thread in the direct map). */
  threads: 0xffff_f800_0400_0000n,
  threadStride: 0x800n,
} as const;

/** The two boot-time static counters (COUNTER_U64_DEFINE_EARLY, file-local symbols). */
export const STATIC_COUNTERS = ['pqstate_commit_retries', 'object_collapses'] as const;

/** Boot-time clock rates of an amd64 GENERIC kernel. */
export const HZ = 1000;
export const STATHZ = 127;
/** cpu_ticks() rate used for pc_switchtime (a 2.4 GHz TSC). */
export const CPU_TICK_FREQUENCY = 2_400_000_000;

/** nsw_cluster_max (sys/vm/swap_pager.c): MAXPHYS / PAGE_SIZE capped at 32; 13+ answers vm.dmmax with it. */
export const NSW_CLUSTER_MAX = 32;

/**
 * The kernel's `version` string as sys/conf/newvers.sh writes it into
 * vers.c for a reproducible 13+ build (`char version[sizeof(VERSTR) > 256 ?
 * sizeof(VERSTR) : 256] = VERSTR;`), which uname -v and kern.version show
 * (sys/kern/kern_mib.c).
 */
export const KERNEL_VERSION = 'FreeBSD 14.1-RELEASE releng/14.1-n267679-10e31f0946d8 GENERIC amd64\n';
/** sizeof(version): VERSTR padded to at least 256 bytes. */
export const KERNEL_VERSION_SIZE = 256;

/** struct swdevt (sys/vm/swap_pager.h) on amd64, and the slot the simulator keeps per device. */
export const Swdevt = { flags: 0, nblks: 4, used: 8, dev: 16, listNext: 64, listPrev: 72, size: 96, simDevname: 96, slot: 128 } as const;
