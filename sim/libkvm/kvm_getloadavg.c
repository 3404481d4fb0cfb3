/*
 * kvm_getloadavg, mirroring lib/libkvm/kvm_getloadavg.c: a live kernel
 * answers through getloadavg(3) (the vm.loadavg sysctl, so no /dev/kmem and
 * no injected read faults); a crash dump reads struct loadavg at
 * _averunnable with kvm_read, and _fscale if the kernel has one.
 */
#include "kvm_private.h"

/* struct loadavg (sys/sys/resource.h) on amd64: fixpt_t ldavg[3]; long fscale. */
#define LOADAVG_SIZE 24
#define LOADAVG_FSCALE_OFF 16
#define LOADAVG_NELEM 3

static int
fill_loadavg(const uint8_t *la, double loadavg[], int nelem)
{
	int64_t fscale = (int64_t)kvmsim_le64(la + LOADAVG_FSCALE_OFF);
	int i;

	if (nelem > LOADAVG_NELEM)
		nelem = LOADAVG_NELEM;
	for (i = 0; i < nelem; i++)
		loadavg[i] = (double)kvmsim_le32(la + 4 * i) / (double)fscale;
	return (nelem);
}

/* getloadavg(3): -1 if the sysctl fails. */
static int
live_loadavg(kvm_t *kd, double loadavg[], int nelem)
{
	const struct kvmsim_sym *sym;
	uint8_t la[LOADAVG_SIZE];

	if (nelem < 0)
		return (-1);
	sym = kvmsim_image_lookup(kd->img, "averunnable");
	if (sym == NULL ||
	    kvmsim_image_read_direct(kd->img, sym->value, la, sizeof(la)) != 0)
		return (-1);
	return (fill_loadavg(la, loadavg, nelem));
}

static int
dead_loadavg(kvm_t *kd, double loadavg[], int nelem)
{
	struct nlist nl[] = {
#define X_AVERUNNABLE 0
		{ .n_name = "_averunnable" },
#define X_FSCALE 1
		{ .n_name = "_fscale" },
		{ .n_name = "" },
	};
	uint8_t la[LOADAVG_SIZE];
	int fscale;

	if (kvmsim_nlist_impl(kd, nl) != 0 && nl[X_AVERUNNABLE].n_type == 0) {
		_kvm_err(kd, kd->program, "%s: no such symbol",
		    nl[X_AVERUNNABLE].n_name);
		return (-1);
	}
	if (kvmsim_read_impl(kd, nl[X_AVERUNNABLE].n_value, la, sizeof(la)) !=
	    sizeof(la)) {
		_kvm_err(kd, kd->program, "can't read averunnable");
		return (-1);
	}
	/* Old kernels keep fscale apart; if it is absent use the struct's. */
	if (kvmsim_read_impl(kd, nl[X_FSCALE].n_value, &fscale,
	    sizeof(fscale)) == sizeof(fscale)) {
		int64_t wide = fscale;

		for (int b = 0; b < 8; b++)
			la[LOADAVG_FSCALE_OFF + b] = (uint8_t)(wide >> (8 * b));
	}
	return (fill_loadavg(la, loadavg, nelem));
}

KVM_EXPORT int
kvm_getloadavg(kvm_t *kd, double loadavg[], int nelem)
{
	KVMSIM_COUNT_CALL(kvm_getloadavg);
	if (kd == NULL)
		return (-1);
	if (kd->live)
		return (kd->img != NULL ? live_loadavg(kd, loadavg, nelem) : -1);
	return (dead_loadavg(kd, loadavg, nelem));
}
