/*
 * kvm_getprocs, mirroring lib/libkvm/kvm_proc.c on a live kernel, where it
 * is a sysctl {CTL_KERN, KERN_PROC, op, arg} answered by sys/kern/kern_proc.c:
 *
 * - KERN_PROC_ALL returns one record per thread; every other op returns one
 *   record per process unless KERN_PROC_INC_THREAD is or-ed in.
 * - Embryonic processes (ki_stat SIDL, p_state PRS_NEW) are never returned;
 *   KERN_PROC_PID on a missing or embryonic pid fails with ESRCH.
 * - The array belongs to the handle and is freed by the next call or by
 *   kvm_close; on error NULL is returned and *cnt is left untouched.
 * - libkvm checks the first record's ki_structsize against
 *   sizeof(struct kinfo_proc).
 *
 * The records come from the image's process area, nprocs_records of them,
 * copied under the control file's seqlock so the snapshot is consistent
 * while a writer replaces the table. On a crash dump the area is read with
 * kvm_read (so injected read faults apply); on a live kernel it is read
 * directly, as the kernel answers a sysctl without /dev/kmem.
 *
 * A crash dump is answered as lib/libkvm/kvm_proc.c's kvm_deadprocs walks
 * allproc (dump_* below): no p_cansee filter, ki_structsize 0 on every
 * record, at most nprocs records (10 x nprocs when threads are asked for),
 * and NULL with *cnt 0 when nothing matched. A live kernel's sysctl filters
 * with p_cansee (live_* below).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvm_private.h"

/* struct kinfo_proc offsets on amd64 (sys/sys/user.h). */
#define KI_STRUCTSIZE 0
#define KI_PID 72
#define KI_PGID 80
#define KI_SID 88
#define KI_UID 168
#define KI_RUID 172
#define KI_RGID 180
#define KI_GROUPS 192 /* ki_groups[0] is cr_gid */
#define KI_STAT 388
#define SIDL 1

/* kvm_getprocs on a dump: "no more than 10 threads per process" (XXX). */
#define DUMP_THREADS_PER_PROC 10

/* How long a reader waits for a writer that holds the seqlock. */
#define SEQLOCK_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)

static int32_t
ki_i32(const uint8_t *rec, size_t off)
{
	int32_t v;

	memcpy(&v, rec + off, sizeof(v));
	return (v);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

/* Reads kernel memory as this handle's kind of kernel would for a sysctl. */
static int
read_kernel(kvm_t *kd, uint64_t kva, void *buf, size_t len)
{
	if (kd->live)
		return (kvmsim_image_read_direct(kd->img, kva, buf, len));
	return (kvmsim_read_impl(kd, kva, buf, len) == (ssize_t)len ? 0 : -1);
}

static int
fail_errno(kvm_t *kd, int error)
{
	errno = error;
	_kvm_syserr(kd, kd->program, "kvm_getprocs");
	return (-1);
}

/* One unlocked copy of the table; -1 with errbuf set on error. */
static int
copy_table(kvm_t *kd, struct proc_snapshot *snap)
{
	const struct kvmsim_image *img = kd->img;
	const struct kvmsim_sym *sym;
	uint32_t n;
	size_t len;

	sym = kvmsim_image_lookup(img, "nprocs_records");
	if (sym == NULL) {
		_kvm_err(kd, kd->program, "kvm_getprocs: %s has no "
		    "nprocs_records symbol", img->path);
		return (-1);
	}
	if (read_kernel(kd, sym->value, &n, sizeof(n)) != 0) {
		_kvm_err(kd, kd->program, "kvm_getprocs: cannot read "
		    "nprocs_records at 0x%jx", (uintmax_t)sym->value);
		return (-1);
	}
	if (n > img->proc_capacity) {
		_kvm_err(kd, kd->program, "kvm_getprocs: nprocs_records %u "
		    "exceeds the process area capacity %u of %s", n,
		    img->proc_capacity, img->path);
		return (-1);
	}
	len = (size_t)n * img->kinfo_size;
	free(snap->recs);
	snap->recs = malloc(len > 0 ? len : 1);
	if (snap->recs == NULL)
		return (fail_errno(kd, ENOMEM));
	if (len > 0 && kvmsim_image_pread(img, snap->recs, len,
	    img->procs_off) != (ssize_t)len) {
		_kvm_err(kd, kd->program, "kvm_getprocs: cannot read %zu bytes "
		    "of process records at offset %ju of %s", len,
		    (uintmax_t)img->procs_off, img->path);
		return (-1);
	}
	snap->n = n;
	return (0);
}

/*
 * Seqlock reader: copy while seq is even and unchanged across the copy.
 * Without a control file there is no writer to wait for.
 */
int
kvmsim_snapshot_procs(kvm_t *kd, struct proc_snapshot *snap)
{
	const struct timespec backoff = { 0, 50 * 1000 };
	uint64_t deadline = now_ns() + SEQLOCK_TIMEOUT_NS, seq;

	snap->seq = 0;
	if (kd->img->ctl == NULL)
		return (copy_table(kd, snap));
	for (;;) {
		seq = kvmsim_ctl_u64(kd->img, CTL_SEQ);
		if ((seq & 1) == 0) {
			if (copy_table(kd, snap) != 0)
				return (-1);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (kvmsim_ctl_u64(kd->img, CTL_SEQ) == seq) {
				snap->seq = seq;
				return (0);
			}
		}
		if (now_ns() > deadline) {
			errno = EAGAIN;
			_kvm_syserr(kd, kd->program, "kvm_getprocs: %s.ctl seq "
			    "%ju: the process table kept changing for 2 s",
			    kd->img->path, (uintmax_t)seq);
			return (-1);
		}
		(void)nanosleep(&backoff, NULL);
	}
}

/* Does the process whose first record is rec match (op, arg)? */
static int
process_matches(const uint8_t *rec, int op, int arg)
{
	switch (op) {
	case KERN_PROC_ALL:
	case KERN_PROC_PROC:
		return (1);
	case KERN_PROC_PID:
		return (ki_i32(rec, KI_PID) == arg);
	case KERN_PROC_PGRP:
		return (ki_i32(rec, KI_PGID) == arg);
	case KERN_PROC_SESSION:
		return (ki_i32(rec, KI_SID) == arg);
	case KERN_PROC_UID:
		return ((uint32_t)ki_i32(rec, KI_UID) == (uint32_t)arg);
	case KERN_PROC_RUID:
		return ((uint32_t)ki_i32(rec, KI_RUID) == (uint32_t)arg);
	case KERN_PROC_RGID:
		return ((uint32_t)ki_i32(rec, KI_RGID) == (uint32_t)arg);
	case KERN_PROC_GID:
		return ((uint32_t)ki_i32(rec, KI_GROUPS) == (uint32_t)arg);
	default:
		return (0);
	}
}

static int
op_supported(int op)
{
	switch (op) {
	case KERN_PROC_ALL:
	case KERN_PROC_PID:
	case KERN_PROC_PGRP:
	case KERN_PROC_SESSION:
	case KERN_PROC_UID:
	case KERN_PROC_RUID:
	case KERN_PROC_PROC:
	case KERN_PROC_RGID:
	case KERN_PROC_GID:
		return (1);
	default:
		return (0);
	}
}

/* Length of the run of records belonging to the process at rec i. */
static uint32_t
process_length(const struct proc_snapshot *snap, size_t recsize, uint32_t i)
{
	int32_t pid = ki_i32(snap->recs + (size_t)i * recsize, KI_PID);
	uint32_t j = i + 1;

	while (j < snap->n &&
	    ki_i32(snap->recs + (size_t)j * recsize, KI_PID) == pid)
		j++;
	return (j - i);
}

/*
 * p_cansee as sys/kern/kern_prot.c's cr_canseeotheruids applies it with
 * security.bsd.see_other_uids=0: another real uid's process is invisible
 * unless the observer holds PRIV_SEEOTHERUIDS (root). The control file's
 * hide_other_uids arms the sysctl, observer_ruid is the caller's cr_ruid.
 */
int
kvmsim_live_cansee(const kvm_t *kd, const uint8_t *first)
{
	uint32_t observer;

	if (!kd->live || kvmsim_ctl_u32(kd->img, CTL_HIDE_OTHER_UIDS) == 0)
		return (1);
	observer = kvmsim_ctl_u32(kd->img, CTL_OBSERVER_RUID);
	return (observer == 0 ||
	    (uint32_t)ki_i32(first, KI_RUID) == observer);
}

/*
 * kvm_getprocs' buffer size on a dump: nprocs records, or 10 x nprocs with
 * threads (lib/libkvm/kvm_proc.c); kvm_proclist stops silently when it is
 * full. A live sysctl has no such cap (UINT32_MAX).
 */
static int
dump_maxcnt(kvm_t *kd, int op, uint32_t *maxcnt)
{
	const struct kvmsim_sym *sym;
	int32_t nprocs;

	*maxcnt = UINT32_MAX;
	if (kd->live)
		return (0);
	sym = kvmsim_image_lookup(kd->img, "nprocs");
	if (sym == NULL || kvmsim_read_impl(kd, sym->value, &nprocs,
	    sizeof(nprocs)) != (ssize_t)sizeof(nprocs)) {
		_kvm_err(kd, kd->program, "can't read nprocs");
		return (-1);
	}
	if (nprocs < 0)
		nprocs = 0;
	*maxcnt = (uint32_t)nprocs;
	if (op == KERN_PROC_ALL || (op & KERN_PROC_INC_THREAD))
		*maxcnt *= DUMP_THREADS_PER_PROC;
	return (0);
}

/*
 * kvm_proclist sets ki_structsize once and then memsets the record for
 * every process, so each record of a dump reports 0.
 */
static void
dump_clear_structsize(uint8_t *recs, size_t recsize, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		memset(recs + (size_t)i * recsize + KI_STRUCTSIZE, 0,
		    sizeof(int32_t));
}

/*
 * Compacts the matching records to the front of snap->recs in place and
 * returns their number, at most maxcnt.
 */
static uint32_t
select_records(const kvm_t *kd, struct proc_snapshot *snap, size_t recsize,
    int op, int arg, int threads, uint32_t maxcnt)
{
	uint32_t i = 0, out = 0, len, take;

	while (i < snap->n && out < maxcnt) {
		const uint8_t *first = snap->recs + (size_t)i * recsize;

		len = process_length(snap, recsize, i);
		if (first[KI_STAT] != SIDL && kvmsim_live_cansee(kd, first) &&
		    process_matches(first, op, arg)) {
			take = threads ? len : 1;
			if (take > maxcnt - out)
				take = maxcnt - out;
			memmove(snap->recs + (size_t)out * recsize, first,
			    (size_t)take * recsize);
			out += take;
		}
		i += len;
	}
	return (out);
}

/* libkvm's check of the live sysctl's records (lib/libkvm/kvm_proc.c). */
static int
live_check_structsize(kvm_t *kd, const uint8_t *recs)
{
	int32_t structsize;

	structsize = (int32_t)kvmsim_ctl_u32(kd->img, CTL_KINFO_STRUCTSIZE);
	if (structsize == 0)
		structsize = ki_i32(recs, KI_STRUCTSIZE);
	if (structsize != KVMSIM_KINFO_PROC_SIZE) {
		_kvm_err(kd, kd->program, "kinfo_proc size mismatch "
		    "(expected %zu, got %d)", (size_t)KVMSIM_KINFO_PROC_SIZE,
		    structsize);
		return (-1);
	}
	return (0);
}

static void *
getprocs(kvm_t *kd, int op, int arg, int *cnt)
{
	struct proc_snapshot snap = { NULL, 0, 0 };
	int base_op = op & ~KERN_PROC_INC_THREAD, threads;
	uint32_t n, fault, maxcnt;
	size_t recsize;

	threads = base_op == KERN_PROC_ALL || (op & KERN_PROC_INC_THREAD);
	fault = kvmsim_ctl_u32(kd->img, CTL_GETPROCS_ERRNO);
	if (fault != 0)
		return (fail_errno(kd, (int)fault), NULL);
	if (!op_supported(base_op))
		return (fail_errno(kd, EINVAL), NULL);
	if (dump_maxcnt(kd, op, &maxcnt) != 0)
		return (NULL);
	if (kvmsim_snapshot_procs(kd, &snap) != 0) {
		free(snap.recs);
		return (NULL);
	}
	recsize = kd->img->kinfo_size;
	n = select_records(kd, &snap, recsize, base_op, arg, threads, maxcnt);
	if (!kd->live) {
		/* kvm_getprocs: "if (nprocs <= 0) _kvm_freeprocs(kd)". */
		*cnt = (int)n;
		if (n == 0) {
			free(snap.recs);
			return (NULL);
		}
		dump_clear_structsize(snap.recs, recsize, n);
		kd->procbase = snap.recs;
		return (kd->procbase);
	}
	if (n == 0 && base_op == KERN_PROC_PID) {
		free(snap.recs);
		return (fail_errno(kd, ESRCH), NULL);
	}
	kd->procbase = snap.recs;
	if (n > 0 && live_check_structsize(kd, snap.recs) != 0)
		return (NULL);
	*cnt = (int)n;
	return (kd->procbase);
}

KVM_EXPORT struct kinfo_proc *
kvm_getprocs(kvm_t *kd, int op, int arg, int *cnt)
{
	KVMSIM_COUNT_CALL(kvm_getprocs);
	if (kd == NULL) {
		errno = EINVAL;
		return (NULL);
	}
	free(kd->procbase);
	/* Cleared in case this call fails; kvm_close would free it again. */
	kd->procbase = NULL;
	if (kd->img == NULL) {
		/* /dev/null without $KVM_SIM_MEM: there is no kernel to ask. */
		errno = ENOENT;
		_kvm_syserr(kd, kd->program, "kvm_getprocs");
		return (NULL);
	}
	return (getprocs(kd, op, arg, cnt));
}
