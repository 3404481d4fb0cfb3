/*
 * Simulator instrumentation: process-wide counts of the calls a program
 * makes into each exported kvm_* function, plus every pread(2) of image
 * data. Benchmarks and tests read them through kvmsim_stats_*; nothing in
 * FreeBSD's libkvm corresponds. Calls between the library's own functions
 * (kvm_counter_u64_fetch reading through kvm_read_zpcpu) are not counted.
 */
#include <string.h>

#include "kvm_private.h"

static const char *const kvmsim_stat_names[KVMSIM_STAT_COUNT] = {
	[KVMSIM_STAT_kvm_close] = "kvm_close",
	[KVMSIM_STAT_kvm_counter_u64_fetch] = "kvm_counter_u64_fetch",
	[KVMSIM_STAT_kvm_dpcpu_setcpu] = "kvm_dpcpu_setcpu",
	[KVMSIM_STAT_kvm_getargv] = "kvm_getargv",
	[KVMSIM_STAT_kvm_geterr] = "kvm_geterr",
	[KVMSIM_STAT_kvm_getloadavg] = "kvm_getloadavg",
	[KVMSIM_STAT_kvm_getmaxcpu] = "kvm_getmaxcpu",
	[KVMSIM_STAT_kvm_getncpus] = "kvm_getncpus",
	[KVMSIM_STAT_kvm_getpcpu] = "kvm_getpcpu",
	[KVMSIM_STAT_kvm_getprocs] = "kvm_getprocs",
	[KVMSIM_STAT_kvm_getswapinfo] = "kvm_getswapinfo",
	[KVMSIM_STAT_kvm_native] = "kvm_native",
	[KVMSIM_STAT_kvm_nlist] = "kvm_nlist",
	[KVMSIM_STAT_kvm_nlist2] = "kvm_nlist2",
	[KVMSIM_STAT_kvm_open] = "kvm_open",
	[KVMSIM_STAT_kvm_openfiles] = "kvm_openfiles",
	[KVMSIM_STAT_kvm_read] = "kvm_read",
	[KVMSIM_STAT_kvm_read2] = "kvm_read2",
	[KVMSIM_STAT_kvm_read_zpcpu] = "kvm_read_zpcpu",
	[KVMSIM_STAT_pread] = "pread",
};

static uint64_t kvmsim_stat_counts[KVMSIM_STAT_COUNT];

void
kvmsim_stat_bump(enum kvmsim_stat which)
{
	__atomic_fetch_add(&kvmsim_stat_counts[which], 1, __ATOMIC_RELAXED);
}

KVM_EXPORT int
kvmsim_stats_count(void)
{
	return (KVMSIM_STAT_COUNT);
}

KVM_EXPORT const char *
kvmsim_stats_name(int i)
{
	if (i < 0 || i >= KVMSIM_STAT_COUNT)
		return (NULL);
	return (kvmsim_stat_names[i]);
}

/* Copies min(n, count) counts into out and returns how many it copied. */
KVM_EXPORT int
kvmsim_stats_get(uint64_t *out, int n)
{
	int i;

	if (out == NULL || n < 0)
		return (-1);
	if (n > KVMSIM_STAT_COUNT)
		n = KVMSIM_STAT_COUNT;
	for (i = 0; i < n; i++)
		out[i] = __atomic_load_n(&kvmsim_stat_counts[i],
		    __ATOMIC_RELAXED);
	return (n);
}

KVM_EXPORT void
kvmsim_stats_reset(void)
{
	int i;

	for (i = 0; i < KVMSIM_STAT_COUNT; i++)
		__atomic_store_n(&kvmsim_stat_counts[i], 0, __ATOMIC_RELAXED);
}
