/*
 * kvm_getswapinfo, mirroring lib/libkvm/kvm_getswapinfo.c on FreeBSD 13+:
 *
 * - A live kernel answers through sysctls: vm.dmmax, which 13+ points at
 *   swap_pager.c's nsw_cluster_max, then vm.swap_info.<n> for each device
 *   of swtailq (struct xswdev, read directly, so no injected read faults).
 * - A crash dump nlists _swtailq and _dmmax and walks the list with
 *   kvm_read. 13+ kernels have no dmmax variable any more (the sysctl
 *   reads nsw_cluster_max), so a dump fails with "unable to find dmmax",
 *   exactly as libkvm does.
 *
 * Entries 0..n-1 describe the devices (at most swap_max - 1 of them), entry
 * n is the total with an empty name, and n is returned; every size is in
 * pages, a device's total being sw_nblks - dmmax. devname(3) of sw_dev is
 * answered from the name the simulated kernel keeps after each struct
 * swdevt (its cdev's si_name, which the kern.devname sysctl returns).
 */
#include <string.h>

#include "kvm_private.h"

/* struct swdevt (sys/vm/swap_pager.h) on amd64, and the simulator's name. */
#define SW_FLAGS 0
#define SW_NBLKS 4
#define SW_USED 8
#define SW_LIST_NEXT 64
#define SWDEVT_SIZE 96
#define SW_SIM_DEVNAME 96
#define SW_SIM_DEVNAME_SIZE 32
#define SW_SIM_SLOT (SWDEVT_SIZE + SW_SIM_DEVNAME_SIZE)

typedef int (*swap_reader)(kvm_t *, uint64_t, void *, size_t);

static int
read_live(kvm_t *kd, uint64_t kva, void *buf, size_t len)
{
	return (kvmsim_image_read_direct(kd->img, kva, buf, len));
}

static int
read_dump(kvm_t *kd, uint64_t kva, void *buf, size_t len)
{
	return (kvmsim_read_impl(kd, kva, buf, len) == (ssize_t)len ? 0 : -1);
}

/* Walks swtailq from its head at `head`, filling swap_ary as libkvm does. */
static int
walk_swtailq(kvm_t *kd, swap_reader rd, uint64_t head, int dmmax,
    struct kvm_swap *swap_ary, int swap_max)
{
	struct kvm_swap tot;
	uint8_t sw[SW_SIM_SLOT];
	uint64_t sp;
	int i, ttl;

	memset(&tot, 0, sizeof(tot));
	if (rd(kd, head, &sp, sizeof(sp)) != 0) {
		_kvm_err(kd, kd->program, "cannot read %s", "_swtailq");
		return (-1);
	}
	for (i = 0; sp != 0; i++) {
		if (rd(kd, sp, sw, sizeof(sw)) != 0) {
			_kvm_err(kd, kd->program, "cannot read %s", "swinfo");
			return (-1);
		}
		ttl = (int)kvmsim_le32(sw + SW_NBLKS) - dmmax;
		if (i < swap_max - 1) {
			memset(&swap_ary[i], 0, sizeof(swap_ary[i]));
			swap_ary[i].ksw_total = (u_int)ttl;
			swap_ary[i].ksw_used = kvmsim_le32(sw + SW_USED);
			swap_ary[i].ksw_flags = (int)kvmsim_le32(sw + SW_FLAGS);
			memcpy(swap_ary[i].ksw_devname, sw + SW_SIM_DEVNAME,
			    sizeof(swap_ary[i].ksw_devname) - 1);
		}
		tot.ksw_total += (u_int)ttl;
		tot.ksw_used += kvmsim_le32(sw + SW_USED);
		sp = kvmsim_le64(sw + SW_LIST_NEXT);
	}
	if (i >= swap_max)
		i = swap_max - 1;
	if (i >= 0)
		swap_ary[i] = tot;
	return (i);
}

static int
live_swapinfo(kvm_t *kd, struct kvm_swap *swap_ary, int swap_max)
{
	const struct kvmsim_sym *head, *cluster;
	int dmmax;

	head = kvmsim_image_lookup(kd->img, "swtailq");
	cluster = kvmsim_image_lookup(kd->img, "nsw_cluster_max");
	if (cluster == NULL || read_live(kd, cluster->value, &dmmax,
	    sizeof(dmmax)) != 0) {
		_kvm_err(kd, kd->program, "cannot read sysctl %s:%s",
		    "vm.dmmax", "No such file or directory");
		return (-1);
	}
	if (head == NULL) {
		_kvm_err(kd, kd->program, "sysctlnametomib failed: %s",
		    "No such file or directory");
		return (-1);
	}
	return (walk_swtailq(kd, read_live, head->value, dmmax, swap_ary,
	    swap_max));
}

static int
dump_swapinfo(kvm_t *kd, struct kvm_swap *swap_ary, int swap_max)
{
	struct nlist nl[] = {
		{ .n_name = "_swtailq" },
		{ .n_name = "_dmmax" },
		{ .n_name = NULL },
	};
	int dmmax;

	if (kvmsim_nlist_impl(kd, nl) < 0)
		return (-1);
	if (nl[0].n_value == 0) {
		_kvm_err(kd, kd->program, "unable to find swtailq");
		return (-1);
	}
	if (nl[1].n_value == 0) {
		_kvm_err(kd, kd->program, "unable to find dmmax");
		return (-1);
	}
	if (read_dump(kd, nl[1].n_value, &dmmax, sizeof(dmmax)) != 0) {
		_kvm_err(kd, kd->program, "cannot read %s", "_dmmax");
		return (-1);
	}
	return (walk_swtailq(kd, read_dump, nl[0].n_value, dmmax, swap_ary,
	    swap_max));
}

KVM_EXPORT int
kvm_getswapinfo(kvm_t *kd, struct kvm_swap *swap_ary, int swap_max,
    int flags)
{
	(void)flags; /* SWIF_DEV_PREFIX: the simulator's names have no /dev/ */
	KVMSIM_COUNT_CALL(kvm_getswapinfo);
	if (kd == NULL)
		return (0); /* clears libkvm's nlist cache */
	if (kd->img == NULL) {
		_kvm_err(kd, kd->program, "cannot read sysctl %s:%s",
		    "vm.dmmax", "No such file or directory");
		return (-1);
	}
	if (kd->live)
		return (live_swapinfo(kd, swap_ary, swap_max));
	return (dump_swapinfo(kd, swap_ary, swap_max));
}
