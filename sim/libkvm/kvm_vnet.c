/*
 * Virtual network stack symbols, mirroring lib/libkvm/kvm_vnet.c: find the
 * vnet, remember the bounds of the set_vnet linker set and the vnet's
 * vnet_data_base, and translate vnet_entry_* addresses into that vnet.
 *
 * FreeBSD's _kvm_vnet_selectpid nlists __start_set_vnet, __stop_set_vnet,
 * vnet_head, allproc, dumptid and proc0 and gives up silently if any is
 * missing (a kernel without options VIMAGE has no set_vnet and no
 * vnet_head). On a crash dump (dumptid > 0) it takes proc0's credential,
 * otherwise it walks allproc to the calling process; then cr_prison, then
 * pr_vnet. The simulator has no struct proc: both proc0 and the calling
 * process (which runs on the host) belong to prison0, so it reads prison0's
 * pr_vnet. The errors are libkvm's.
 */
#include "kvm_private.h"

/* struct vnet (sys/net/vnet.h) and struct prison (sys/sys/jail.h, 14.x) on amd64. */
#define VNET_MAGIC_N 0x5e4a6f28u
#define VNET_OFF_MAGIC_N 16
#define VNET_OFF_DATA_BASE 40
#define VNET_READ_SIZE 48
#define PRISON_OFF_VNET 176

static int
_kvm_vnet_selectpid(kvm_t *kd)
{
	struct kvm_nlist nl[] = {
		/* kvm_nlist strips one '_', hence three. */
#define NLIST_START_VNET 0
		{ .n_name = "___start_set_vnet" },
#define NLIST_STOP_VNET 1
		{ .n_name = "___stop_set_vnet" },
#define NLIST_VNET_HEAD 2
		{ .n_name = "vnet_head" },
#define NLIST_ALLPROC 3
		{ .n_name = "allproc" },
#define NLIST_DUMPTID 4
		{ .n_name = "dumptid" },
#define NLIST_PROC0 5
		{ .n_name = "proc0" },
#define NLIST_PRISON0 6
		{ .n_name = "prison0" },
		{ .n_name = NULL },
	};
	uint8_t vnet[VNET_READ_SIZE];
	uint64_t vnetp;
	int32_t dumptid;

	/* Internal lookup without initialisation, to avoid recursion. */
	if (_kvm_nlist(kd, nl, 0) != 0)
		return (-1);
	if (kvmsim_read_impl(kd, nl[NLIST_DUMPTID].n_value, &dumptid,
	    sizeof(dumptid)) != sizeof(dumptid)) {
		_kvm_err(kd, kd->program, "%s: dumptid", __func__);
		return (-1);
	}
	/* proc0 (dumptid > 0) and the caller are both prison0's. */
	if (kvmsim_read_impl(kd, nl[NLIST_PRISON0].n_value + PRISON_OFF_VNET,
	    &vnetp, sizeof(vnetp)) != sizeof(vnetp)) {
		_kvm_err(kd, kd->program, "%s: prison", __func__);
		return (-1);
	}
	if (vnetp == 0) {
		_kvm_err(kd, kd->program, "%s: no vnet", __func__);
		return (-1);
	}
	if (kvmsim_read_impl(kd, vnetp, vnet, sizeof(vnet)) != sizeof(vnet)) {
		_kvm_err(kd, kd->program, "%s: vnet", __func__);
		return (-1);
	}
	if (kvmsim_le32(vnet + VNET_OFF_MAGIC_N) != VNET_MAGIC_N) {
		_kvm_err(kd, kd->program, "%s: invalid vnet magic#", __func__);
		return (-1);
	}
	kd->vnet_initialized = 1;
	kd->vnet_start = nl[NLIST_START_VNET].n_value;
	kd->vnet_stop = nl[NLIST_STOP_VNET].n_value;
	kd->vnet_current = vnetp;
	kd->vnet_base = kvmsim_le64(vnet + VNET_OFF_DATA_BASE);
	return (0);
}

int
_kvm_vnet_initialized(kvm_t *kd, int initialize)
{
	if (kd->vnet_initialized || !initialize)
		return (kd->vnet_initialized);
	(void)_kvm_vnet_selectpid(kd);
	return (kd->vnet_initialized);
}

kvaddr_t
_kvm_vnet_validaddr(kvm_t *kd, kvaddr_t value)
{
	if (value == 0)
		return (value);
	if (!kd->vnet_initialized)
		return (value);
	if (value < kd->vnet_start || value >= kd->vnet_stop)
		return (value);
	return (kd->vnet_base + value);
}
