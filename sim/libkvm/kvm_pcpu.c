/*
 * Per-CPU data, mirroring lib/libkvm/kvm_pcpu.c of FreeBSD 13+ on amd64:
 * kvm_getpcpu, kvm_getmaxcpu, kvm_getncpus, kvm_read_zpcpu,
 * kvm_counter_u64_fetch and kvm_dpcpu_setcpu.
 *
 * Faithful quirks (../README.md): the cache of cpuid_to_pcpu[], maxcpu,
 * mp_ncpus and __pcpu is process-wide static data shared by all handles;
 * kvm_getmaxcpu(NULL) and kvm_getpcpu(NULL, ...) clear only maxcpu and the
 * pcpu array, never mp_ncpus or __pcpu; kvm_counter_u64_fetch sums CPUs
 * 0 .. mp_ncpus-1 and returns 0 on any failure; kvm_read_zpcpu returns 0
 * when the cache cannot be initialised. DPCPU state is per handle. As long
 * as FreeBSD's own kvm_pcpu.c, which it follows function by function.
 */
#include <stdlib.h>

#include "kvm_private.h"

static struct nlist kvm_pcpu_nl[] = {
	{ .n_name = "_cpuid_to_pcpu" },
	{ .n_name = "_mp_maxcpus" },
	{ .n_name = "_mp_ncpus" },
	{ .n_name = "___pcpu" }, /* amd64 __OFFSET_BY_PCPU */
	{ .n_name = NULL },
};
#define NL_CPUID_TO_PCPU 0
#define NL_MP_MAXCPUS 1
#define NL_MP_NCPUS 2
#define NL___PCPU 3

/*
 * Process-wide, as in FreeBSD (its own XXXRW comment says it should be per
 * handle). kvmsim_reset_pcpu_cache() is the simulator's way to clear it.
 */
static uint64_t *pcpu_data;
static int maxcpu;
static int mp_ncpus;
static unsigned long pcpu_base; /* the value of the kernel's __pcpu */

static int
read_int_symbol(kvm_t *kd, int idx, void *out, const char *missing,
    const char *unreadable)
{
	if (kvm_pcpu_nl[idx].n_value == 0) {
		_kvm_err(kd, kd->program, "%s", missing);
		return (-1);
	}
	if (kvmsim_read_impl(kd, kvm_pcpu_nl[idx].n_value, out, 4) != 4) {
		_kvm_err(kd, kd->program, "%s", unreadable);
		return (-1);
	}
	return (0);
}

static int
_kvm_pcpu_init(kvm_t *kd)
{
	size_t len;
	int max;
	void *data;

	if (kvmsim_nlist_impl(kd, kvm_pcpu_nl) < 0)
		return (-1);
	if (kvm_pcpu_nl[NL_CPUID_TO_PCPU].n_value == 0) {
		_kvm_err(kd, kd->program, "unable to find cpuid_to_pcpu");
		return (-1);
	}
	if (read_int_symbol(kd, NL_MP_MAXCPUS, &max,
	    "unable to find mp_maxcpus", "cannot read mp_maxcpus") != 0 ||
	    read_int_symbol(kd, NL_MP_NCPUS, &mp_ncpus,
	    "unable to find mp_ncpus", "cannot read mp_ncpus") != 0)
		return (-1);
	if (kvm_pcpu_nl[NL___PCPU].n_value == 0) {
		_kvm_err(kd, kd->program, "unable to find __pcpu");
		return (-1);
	}
	if (kvmsim_read_impl(kd, kvm_pcpu_nl[NL___PCPU].n_value, &pcpu_base,
	    sizeof(pcpu_base)) != sizeof(pcpu_base)) {
		_kvm_err(kd, kd->program, "cannot read __pcpu");
		return (-1);
	}
	/* FreeBSD mallocs max * sizeof(void *) without checking max. */
	len = (size_t)(unsigned int)max * sizeof(uint64_t);
	data = max > 0 ? malloc(len) : NULL;
	if (data == NULL) {
		_kvm_err(kd, kd->program, "out of memory");
		return (-1);
	}
	if (kvmsim_read_impl(kd, kvm_pcpu_nl[NL_CPUID_TO_PCPU].n_value, data,
	    len) != (ssize_t)len) {
		_kvm_err(kd, kd->program, "cannot read cpuid_to_pcpu array");
		free(data);
		return (-1);
	}
	pcpu_data = data;
	maxcpu = max;
	return (0);
}

static void
_kvm_pcpu_clear(void)
{
	maxcpu = 0;
	free(pcpu_data);
	pcpu_data = NULL;
}

KVM_EXPORT void
kvmsim_reset_pcpu_cache(void)
{
	_kvm_pcpu_clear();
	mp_ncpus = 0;
	pcpu_base = 0;
}

KVM_EXPORT void *
kvm_getpcpu(kvm_t *kd, int cpu)
{
	char *buf;

	KVMSIM_COUNT_CALL(kvm_getpcpu);
	if (kd == NULL) {
		_kvm_pcpu_clear();
		return (NULL);
	}
	if (maxcpu == 0)
		if (_kvm_pcpu_init(kd) < 0)
			return ((void *)-1);
	/* FreeBSD does not check cpu < 0; the simulator will not crash. */
	if (cpu < 0 || cpu >= maxcpu || pcpu_data[cpu] == 0)
		return (NULL);
	buf = malloc(KVMSIM_SIZEOF_PCPU);
	if (buf == NULL) {
		_kvm_err(kd, kd->program, "out of memory");
		return ((void *)-1);
	}
	if (kvmsim_read_impl(kd, pcpu_data[cpu], buf, KVMSIM_SIZEOF_PCPU) !=
	    KVMSIM_SIZEOF_PCPU) {
		_kvm_err(kd, kd->program, "unable to read per-CPU data");
		free(buf);
		return ((void *)-1);
	}
	return (buf);
}

KVM_EXPORT int
kvm_getmaxcpu(kvm_t *kd)
{
	KVMSIM_COUNT_CALL(kvm_getmaxcpu);
	if (kd == NULL) {
		_kvm_pcpu_clear();
		return (0);
	}
	if (maxcpu == 0)
		if (_kvm_pcpu_init(kd) < 0)
			return (-1);
	return (maxcpu);
}

KVM_EXPORT int
kvm_getncpus(kvm_t *kd)
{
	KVMSIM_COUNT_CALL(kvm_getncpus);
	/* FreeBSD would dereference NULL here before initialisation. */
	if (mp_ncpus == 0 && kd == NULL)
		return (-1);
	if (mp_ncpus == 0)
		if (_kvm_pcpu_init(kd) < 0)
			return (-1);
	return (mp_ncpus);
}

ssize_t
kvmsim_read_zpcpu_impl(kvm_t *kd, unsigned long base, void *buf, size_t size,
    int cpu)
{
	if (!kvmsim_native_impl(kd))
		return (-1);
	if (mp_ncpus == 0)
		if (_kvm_pcpu_init(kd) < 0)
			return (0);
	base += pcpu_base;
	return (kvmsim_read_impl(kd,
	    base + (unsigned long)KVMSIM_SIZEOF_PCPU * (unsigned long)cpu, buf,
	    size));
}

KVM_EXPORT ssize_t
kvm_read_zpcpu(kvm_t *kd, unsigned long base, void *buf, size_t size, int cpu)
{
	KVMSIM_COUNT_CALL(kvm_read_zpcpu);
	return (kvmsim_read_zpcpu_impl(kd, base, buf, size, cpu));
}

KVM_EXPORT uint64_t
kvm_counter_u64_fetch(kvm_t *kd, unsigned long base)
{
	uint64_t r, c;
	int i;

	KVMSIM_COUNT_CALL(kvm_counter_u64_fetch);
	if (kd == NULL)
		return (0);
	if (mp_ncpus == 0)
		if (_kvm_pcpu_init(kd) < 0)
			return (0);
	r = 0;
	for (i = 0; i < mp_ncpus; i++) {
		if (kvmsim_read_zpcpu_impl(kd, base, &c, sizeof(c), i) !=
		    sizeof(c))
			return (0);
		r += c;
	}
	return (r);
}

static int
_kvm_dpcpu_setcpu(kvm_t *kd, unsigned int cpu, int report_error)
{
	if (!kd->dpcpu_initialized) {
		if (report_error)
			_kvm_err(kd, kd->program, "%s: not initialized",
			    __func__);
		return (-1);
	}
	if (cpu >= kd->dpcpu_maxcpus) {
		if (report_error)
			_kvm_err(kd, kd->program, "%s: CPU %u too big",
			    __func__, cpu);
		return (-1);
	}
	if (kd->dpcpu_off[cpu] == 0) {
		if (report_error)
			_kvm_err(kd, kd->program, "%s: CPU %u not found",
			    __func__, cpu);
		return (-1);
	}
	kd->dpcpu_curcpu = cpu;
	kd->dpcpu_curoff = kd->dpcpu_off[cpu];
	return (0);
}

static int
_kvm_dpcpu_init(kvm_t *kd)
{
	struct kvm_nlist nl[] = {
#define NLIST_START_SET_PCPU 0
		{ .n_name = "___start_set_pcpu" },
#define NLIST_STOP_SET_PCPU 1
		{ .n_name = "___stop_set_pcpu" },
#define NLIST_DPCPU_OFF 2
		{ .n_name = "_dpcpu_off" },
#define NLIST_MP_MAXCPUS 3
		{ .n_name = "_mp_maxcpus" },
		{ .n_name = NULL },
	};
	uint64_t *dpcpu_off_buf;
	unsigned int dpcpu_maxcpus;
	size_t len;

	if (!kvmsim_native_impl(kd))
		return (-1);
	/* Internal lookup without initialisation, to avoid recursion. */
	if (_kvm_nlist(kd, nl, 0) != 0)
		return (-1);
	if (kvmsim_read_impl(kd, nl[NLIST_MP_MAXCPUS].n_value, &dpcpu_maxcpus,
	    sizeof(dpcpu_maxcpus)) != sizeof(dpcpu_maxcpus))
		return (-1);
	len = (size_t)dpcpu_maxcpus * sizeof(*dpcpu_off_buf);
	dpcpu_off_buf = len > 0 ? malloc(len) : NULL;
	if (dpcpu_off_buf == NULL)
		return (-1);
	if (kvmsim_read_impl(kd, nl[NLIST_DPCPU_OFF].n_value, dpcpu_off_buf,
	    len) != (ssize_t)len) {
		free(dpcpu_off_buf);
		return (-1);
	}
	kd->dpcpu_start = nl[NLIST_START_SET_PCPU].n_value;
	kd->dpcpu_stop = nl[NLIST_STOP_SET_PCPU].n_value;
	kd->dpcpu_maxcpus = dpcpu_maxcpus;
	kd->dpcpu_off = dpcpu_off_buf;
	kd->dpcpu_initialized = 1;
	(void)_kvm_dpcpu_setcpu(kd, 0, 0);
	return (0);
}

int
_kvm_dpcpu_initialized(kvm_t *kd, int initialize)
{
	if (kd->dpcpu_initialized || !initialize)
		return (kd->dpcpu_initialized);
	(void)_kvm_dpcpu_init(kd);
	return (kd->dpcpu_initialized);
}

kvaddr_t
_kvm_dpcpu_validaddr(kvm_t *kd, kvaddr_t value)
{
	if (value == 0)
		return (value);
	if (!kd->dpcpu_initialized)
		return (value);
	if (value < kd->dpcpu_start || value >= kd->dpcpu_stop)
		return (value);
	return (kd->dpcpu_curoff + value);
}

KVM_EXPORT int
kvm_dpcpu_setcpu(kvm_t *kd, unsigned int cpu)
{
	int ret;

	KVMSIM_COUNT_CALL(kvm_dpcpu_setcpu);
	if (kd == NULL)
		return (-1);
	if (!kd->dpcpu_initialized) {
		ret = _kvm_dpcpu_init(kd);
		if (ret != 0) {
			_kvm_err(kd, kd->program, "%s: init failed", __func__);
			return (ret);
		}
	}
	return (_kvm_dpcpu_setcpu(kd, cpu, 1));
}
