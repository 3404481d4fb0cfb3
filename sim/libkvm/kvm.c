/*
 * Opening and closing handles, kvm_geterr and kvm_native, mirroring
 * lib/libkvm/kvm.c (_kvm_open, kvm_openfiles, kvm_open, kvm_close).
 *
 * Where FreeBSD opens /dev/mem, /dev/kmem or a vmcore, the simulator opens
 * an image file (../README.md, "Opening"): a path names an image, NULL and
 * "/dev/mem" name the image in $KVM_SIM_MEM, "/dev/null" is a live handle
 * without memory access. The real /dev/mem of the host is never touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_private.h"

/* strlcpy into a caller's _POSIX2_LINE_MAX buffer, as libkvm does. */
static void
copy_errout(char *errout, const char *msg)
{
	size_t n;

	if (errout == NULL)
		return;
	n = strlen(msg);
	if (n >= KVMSIM_ERRBUF_SIZE)
		n = KVMSIM_ERRBUF_SIZE - 1;
	memcpy(errout, msg, n);
	errout[n] = '\0';
}

static int
load_image(kvm_t *kd, const char *path)
{
	char err[KVMSIM_ERRBUF_SIZE];

	if (kvmsim_image_open(path, &kd->img, err, sizeof(err)) != 0) {
		_kvm_err(kd, kd->program, "%s", err);
		return (-1);
	}
	return (0);
}

/*
 * The control file's open_errno makes opening fail as open(2) would, with
 * the name the caller passed ("/dev/mem" for the live kernel).
 */
static int
check_open_fault(kvm_t *kd, const char *image_path, const char *shown)
{
	char err[KVMSIM_ERRBUF_SIZE];
	uint32_t open_errno;

	if (kvmsim_ctl_probe(image_path, &open_errno, err, sizeof(err)) != 0) {
		_kvm_err(kd, kd->program, "%s", err);
		return (-1);
	}
	if (open_errno != 0) {
		errno = (int)open_errno;
		_kvm_syserr(kd, kd->program, "%s", shown);
		return (-1);
	}
	return (0);
}

/* "/dev/null": a live handle whose reads return 0 (kvm_open(3)). */
static int
open_devnull(kvm_t *kd)
{
	const char *mem = getenv(KVMSIM_MEM_ENV);

	kd->nullfd = open(KVMSIM_PATH_DEVNULL, O_RDONLY | O_CLOEXEC);
	if (kd->nullfd < 0) {
		_kvm_syserr(kd, kd->program, "%s", KVMSIM_PATH_DEVNULL);
		return (-1);
	}
	kd->live = 1;
	kd->devnull = 1;
	/* Symbols and sysctls need no privilege: they come from the image. */
	if (mem != NULL && mem[0] != '\0')
		return (load_image(kd, mem));
	return (0);
}

/* NULL or "/dev/mem": the running kernel, simulated by $KVM_SIM_MEM. */
static int
open_sim_mem(kvm_t *kd, const char *mf)
{
	const char *mem = getenv(KVMSIM_MEM_ENV);

	if (mem == NULL || mem[0] == '\0') {
		errno = ENOENT;
		_kvm_syserr(kd, kd->program, "%s", mf);
		return (-1);
	}
	if (check_open_fault(kd, mem, mf) != 0 || load_image(kd, mem) != 0)
		return (-1);
	kd->live = 1;
	return (0);
}

/* A path: a live image, or a crash dump that needs a readable exec file. */
static int
open_core(kvm_t *kd, const char *uf, const char *mf)
{
	if (check_open_fault(kd, mf, mf) != 0 || load_image(kd, mf) != 0)
		return (-1);
	if (kd->img->flags & KVMSIM_FLAG_LIVE) {
		kd->live = 1;
		return (0);
	}
	kd->nlfd = open(uf, O_RDONLY | O_CLOEXEC);
	if (kd->nlfd < 0) {
		_kvm_syserr(kd, kd->program, "%s", uf);
		return (-1);
	}
	return (0);
}

static int
kvm_close_impl(kvm_t *kd)
{
	int error = 0;

	if (kd->nullfd >= 0)
		error |= close(kd->nullfd);
	if (kd->nlfd >= 0)
		error |= close(kd->nlfd);
	kvmsim_image_close(kd->img);
	free(kd->procbase);
	kvmsim_argv_cache_free(kd->argv_cache);
	free(kd->dpcpu_off);
	free(kd);
	return (error);
}

static kvm_t *
_kvm_open(kvm_t *kd, const char *uf, const char *mf, int flag, char *errout)
{
	int rc;

	kd->nullfd = -1;
	kd->nlfd = -1;
	if (uf == NULL)
		uf = KVMSIM_BOOTFILE; /* getbootfile(3) without kern.bootfile */
	else if (strlen(uf) >= KVMSIM_MAXPATHLEN) {
		_kvm_err(kd, kd->program, "exec file name too long");
		goto failed;
	}
	if (flag & ~O_RDWR) {
		_kvm_err(kd, kd->program, "bad flags arg");
		goto failed;
	}
	if (mf == NULL)
		mf = KVMSIM_PATH_MEM;
	if (strcmp(mf, KVMSIM_PATH_DEVNULL) == 0)
		rc = open_devnull(kd);
	else if (strcmp(mf, KVMSIM_PATH_MEM) == 0)
		rc = open_sim_mem(kd, mf);
	else
		rc = open_core(kd, uf, mf);
	if (rc == 0)
		return (kd);
failed:
	copy_errout(errout, kd->errbuf);
	(void)kvm_close_impl(kd);
	return (NULL);
}

KVM_EXPORT kvm_t *
kvm_openfiles(const char *uf, const char *mf, const char *sf, int flag,
    char *errout)
{
	kvm_t *kd;

	(void)sf; /* swapfile is ignored, as in libkvm */
	KVMSIM_COUNT_CALL(kvm_openfiles);
	if ((kd = calloc(1, sizeof(*kd))) == NULL) {
		copy_errout(errout, strerror(errno));
		return (NULL);
	}
	kd->program = NULL;
	return (_kvm_open(kd, uf, mf, flag, errout));
}

KVM_EXPORT kvm_t *
kvm_open(const char *uf, const char *mf, const char *sf, int flag,
    const char *errstr)
{
	kvm_t *kd;

	(void)sf;
	KVMSIM_COUNT_CALL(kvm_open);
	if ((kd = calloc(1, sizeof(*kd))) == NULL) {
		if (errstr != NULL)
			(void)fprintf(stderr, "%s: %s\n", errstr,
			    strerror(errno));
		return (NULL);
	}
	kd->program = errstr;
	return (_kvm_open(kd, uf, mf, flag, NULL));
}

KVM_EXPORT int
kvm_close(kvm_t *kd)
{
	KVMSIM_COUNT_CALL(kvm_close);
	if (kd == NULL) {
		errno = EINVAL;
		return (-1);
	}
	return (kvm_close_impl(kd));
}

KVM_EXPORT char *
kvm_geterr(kvm_t *kd)
{
	static char empty[] = "";

	KVMSIM_COUNT_CALL(kvm_geterr);
	if (kd == NULL)
		return (empty);
	return (kd->errbuf);
}

/* Every simulated kernel is amd64, so every handle is native. */
int
kvmsim_native_impl(kvm_t *kd)
{
	if (kd == NULL)
		return (0);
	return (1);
}

KVM_EXPORT int
kvm_native(kvm_t *kd)
{
	KVMSIM_COUNT_CALL(kvm_native);
	return (kvmsim_native_impl(kd));
}
