/*
 * kvm_getargv, mirroring lib/libkvm/kvm_proc.c's kvm_argv (FreeBSD 13+):
 *
 * - Only a live kernel: on a crash dump it fails with "cannot read user
 *   space from dead kernel" and returns NULL.
 * - nchr 0 (or more than ARG_MAX) means ARG_MAX. The buffer and the
 *   returned vector are static, process-wide storage: the buffer is
 *   allocated with the first call's nchr and grows only when a later call
 *   asks for more, and each call overwrites what the last one returned.
 * - The arguments come from the sysctl {CTL_KERN, KERN_PROC, KERN_PROC_ARGS,
 *   pid}, answered as sys/kern/kern_proc.c's sysctl_kern_proc_args answers
 *   it: pget(pid, PGET_CANSEE) (a missing, embryonic or p_cansee-hidden
 *   process is ESRCH), then the process's p_args. A process without
 *   arguments (a kernel process, a zombie whose p_args exit1 freed) gives
 *   0 bytes. A failed sysctl, or 0 bytes, makes libkvm return NULL without
 *   an error text, so the caller learns only that there is no command line.
 * - A buffer too small for the arguments is filled and the sysctl fails
 *   with ENOMEM and a length equal to the buffer's (userland_sysctl reports
 *   validlen); libkvm then ends the last string at the buffer's last byte.
 *
 * The image keeps each process's p_args in its argument area (../README.md):
 * one (offset, length) index entry per kinfo_proc record, then a heap of
 * NUL-terminated strings. A handle keeps a copy of the process records and
 * the area, taken under the seqlock, until the control file's seq moves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_private.h"

#define KI_PID 72
#define KI_STAT 388
#define SIDL 1

/*
 * ARG_MAX (sys/sys/syslimits.h): 262144 in the 13.x headers the simulator
 * follows. Every argument list the image holds is far shorter.
 */
#define KVMSIM_ARG_MAX 262144

#define REFRESH_TRIES 1000

struct argv_slot {
	int32_t pid;
	uint32_t rec; /* the process's first record */
};

struct kvmsim_argv_cache {
	int valid;
	struct proc_snapshot snap;
	struct argv_slot *bypid; /* sorted by pid */
	uint32_t nprocs;
	uint8_t *area; /* the whole argument area, or NULL */
};

static int32_t
rec_pid(const uint8_t *rec)
{
	int32_t pid;

	memcpy(&pid, rec + KI_PID, sizeof(pid));
	return (pid);
}

static int
cmp_slot(const void *a, const void *b)
{
	int32_t x = ((const struct argv_slot *)a)->pid;
	int32_t y = ((const struct argv_slot *)b)->pid;

	return ((x > y) - (x < y));
}

void
kvmsim_argv_cache_free(struct kvmsim_argv_cache *c)
{
	if (c == NULL)
		return;
	free(c->snap.recs);
	free(c->bypid);
	free(c->area);
	free(c);
}

/* One slot per process (its first record), sorted by pid, as pget finds them. */
static int
index_processes(struct kvmsim_argv_cache *c, size_t recsize)
{
	uint32_t i, n = 0;

	free(c->bypid);
	c->bypid = malloc(((size_t)c->snap.n + 1) * sizeof(*c->bypid));
	if (c->bypid == NULL)
		return (ENOMEM);
	for (i = 0; i < c->snap.n; i++) {
		const uint8_t *rec = c->snap.recs + (size_t)i * recsize;

		if (i > 0 && rec_pid(rec) == rec_pid(rec - recsize))
			continue;
		c->bypid[n].pid = rec_pid(rec);
		c->bypid[n].rec = i;
		n++;
	}
	qsort(c->bypid, n, sizeof(*c->bypid), cmp_slot);
	c->nprocs = n;
	return (0);
}

/* Copies the records and the argument area again unless seq says they are current. */
static int
refresh_cache(kvm_t *kd, struct kvmsim_argv_cache *c)
{
	const struct kvmsim_image *img = kd->img;
	uint64_t seq;

	seq = img->ctl == NULL ? 1 : kvmsim_ctl_u64(img, CTL_SEQ);
	if (c->valid && img->ctl != NULL && c->snap.seq == seq)
		return (0);
	c->valid = 0;
	if (kvmsim_snapshot_procs(kd, &c->snap) != 0)
		return (EIO);
	free(c->area);
	c->area = NULL;
	if (img->args_size != 0) {
		c->area = malloc(img->args_size);
		if (c->area == NULL)
			return (ENOMEM);
		if (kvmsim_image_pread(img, c->area, img->args_size,
		    img->args_off) != (ssize_t)img->args_size)
			return (EIO);
	}
	/* A writer that moved seq during the area's copy: take both again next time. */
	if (img->ctl != NULL && kvmsim_ctl_u64(img, CTL_SEQ) != c->snap.seq)
		return (EAGAIN);
	if (index_processes(c, img->kinfo_size) != 0)
		return (ENOMEM);
	c->valid = 1;
	return (0);
}

/* p_args of the process at record rec: its bytes and length (0: none). */
static const uint8_t *
process_args(const struct kvmsim_image *img, const struct kvmsim_argv_cache *c,
    uint32_t rec, uint32_t *len)
{
	uint64_t index = (uint64_t)img->proc_capacity * KVMSIM_ARGS_INDEX_SIZE;
	const uint8_t *entry;
	uint32_t off;

	*len = 0;
	if (c->area == NULL || rec >= img->proc_capacity)
		return (NULL);
	entry = c->area + (size_t)rec * KVMSIM_ARGS_INDEX_SIZE;
	off = kvmsim_le32(entry);
	*len = kvmsim_le32(entry + 4);
	if (*len == 0 || index + off + *len > img->args_size) {
		*len = 0;
		return (NULL);
	}
	return (c->area + index + off);
}

/*
 * The sysctl kern.proc.args.<pid> into buf (*bufsz bytes); returns 0 or an
 * errno, and sets *bufsz to the length returned, as sysctl(3) does.
 */
static int
sysctl_proc_args(kvm_t *kd, int32_t pid, char *buf, size_t *bufsz)
{
	struct kvmsim_argv_cache *c;
	const struct argv_slot *slot;
	struct argv_slot key = { pid, 0 };
	const uint8_t *first, *args;
	uint32_t len;
	int error, tries;

	if (kd->img == NULL)
		return (ENOENT);
	if (kd->argv_cache == NULL) {
		kd->argv_cache = calloc(1, sizeof(*kd->argv_cache));
		if (kd->argv_cache == NULL)
			return (ENOMEM);
	}
	c = kd->argv_cache;
	/* A writer between the two copies: copy both again, as the seqlock reader does. */
	for (tries = 0; (error = refresh_cache(kd, c)) == EAGAIN &&
	    tries < REFRESH_TRIES; tries++)
		;
	if (error != 0)
		return (error);
	slot = bsearch(&key, c->bypid, c->nprocs, sizeof(*slot), cmp_slot);
	if (slot == NULL)
		return (ESRCH);
	first = c->snap.recs + (size_t)slot->rec * kd->img->kinfo_size;
	/* pget: PRS_NEW is ESRCH, and so is what p_cansee refuses. */
	if (first[KI_STAT] == SIDL || !kvmsim_live_cansee(kd, first))
		return (ESRCH);
	args = process_args(kd->img, c, slot->rec, &len);
	if (len > *bufsz) {
		memcpy(buf, args, *bufsz);
		return (ENOMEM);
	}
	if (len > 0)
		memcpy(buf, args, len);
	*bufsz = len;
	return (0);
}

KVM_EXPORT char **
kvm_getargv(kvm_t *kd, const struct kinfo_proc *kp, int nchr)
{
	static int buflen;
	static char *buf, *p;
	static char **bufp;
	static int argc;
	char **nbufp;
	size_t bufsz;
	int32_t pid;
	int i, error;

	KVMSIM_COUNT_CALL(kvm_getargv);
	/* FreeBSD would dereference NULL; the simulator will not crash. */
	if (kd == NULL || kp == NULL)
		return (NULL);
	if (!kd->live) {
		_kvm_err(kd, kd->program,
		    "cannot read user space from dead kernel");
		return (NULL);
	}
	if (nchr == 0 || nchr > KVMSIM_ARG_MAX)
		nchr = KVMSIM_ARG_MAX;
	if (buflen == 0) {
		buf = malloc((size_t)nchr);
		if (buf == NULL) {
			_kvm_err(kd, kd->program, "cannot allocate memory");
			return (NULL);
		}
		argc = 32;
		bufp = malloc(sizeof(char *) * (size_t)argc);
		if (bufp == NULL) {
			free(buf);
			buf = NULL;
			_kvm_err(kd, kd->program, "cannot allocate memory");
			return (NULL);
		}
		buflen = nchr;
	} else if (nchr > buflen) {
		p = realloc(buf, (size_t)nchr);
		if (p != NULL) {
			buf = p;
			buflen = nchr;
		}
	}
	memcpy(&pid, (const uint8_t *)kp + KI_PID, sizeof(pid));
	bufsz = (size_t)buflen;
	error = sysctl_proc_args(kd, pid, buf, &bufsz);
	if (error != 0) {
		errno = error;
		if (errno != ENOMEM || bufsz != (size_t)buflen)
			return (NULL);
		buf[bufsz - 1] = '\0';
		errno = 0;
	} else if (bufsz == 0) {
		return (NULL);
	}
	i = 0;
	p = buf;
	do {
		bufp[i++] = p;
		p += strlen(p) + 1;
		if (i >= argc) {
			argc += argc;
			nbufp = realloc(bufp, sizeof(char *) * (size_t)argc);
			if (nbufp == NULL)
				return (NULL);
			bufp = nbufp;
		}
	} while (p < buf + bufsz);
	bufp[i++] = NULL;
	return (bufp);
}
