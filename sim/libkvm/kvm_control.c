/*
 * The control file, <image>.ctl (../README.md, "The control file"): mapped
 * MAP_SHARED read-only at open so that reading a fault or the seqlock costs
 * no system call. It is the simulator's own channel for tests and writers;
 * FreeBSD has no counterpart.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm_private.h"

#define IMG_ERR(...) (void)snprintf(err, errlen, __VA_ARGS__)

/*
 * Maps <image>.ctl if it exists. Returns 0 with *ctl NULL when there is no
 * control file, -1 with a message when it exists but is unusable.
 */
int
kvmsim_ctl_map(const char *image_path, volatile uint8_t **ctl, char *err,
    size_t errlen)
{
	char path[KVMSIM_MAXPATHLEN + 16];
	struct stat st;
	void *p;
	int fd;

	*ctl = NULL;
	(void)snprintf(path, sizeof(path), "%s.ctl", image_path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return (0);
		IMG_ERR("%s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) != 0 || st.st_size < KVMSIM_CTL_SIZE) {
		(void)close(fd);
		IMG_ERR("%s: not a simulated kernel control file (shorter "
		    "than %d bytes)", path, KVMSIM_CTL_SIZE);
		return (-1);
	}
	p = mmap(NULL, KVMSIM_CTL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	(void)close(fd);
	if (p == MAP_FAILED) {
		IMG_ERR("%s: mmap: %s", path, strerror(errno));
		return (-1);
	}
	if (memcmp(p, KVMSIM_CTL_MAGIC, 8) != 0) {
		(void)munmap(p, KVMSIM_CTL_SIZE);
		IMG_ERR("%s: not a simulated kernel control file (bad magic)",
		    path);
		return (-1);
	}
	*ctl = p;
	return (0);
}

/* Reads open_errno from <image>.ctl; 0 if there is no control file. */
int
kvmsim_ctl_probe(const char *image_path, uint32_t *open_errno, char *err,
    size_t errlen)
{
	volatile uint8_t *ctl;

	*open_errno = 0;
	if (kvmsim_ctl_map(image_path, &ctl, err, errlen) != 0)
		return (-1);
	if (ctl != NULL) {
		*open_errno = __atomic_load_n(
		    (volatile uint32_t *)(ctl + CTL_OPEN_ERRNO),
		    __ATOMIC_ACQUIRE);
		kvmsim_ctl_unmap(ctl);
	}
	return (0);
}

void
kvmsim_ctl_unmap(volatile uint8_t *ctl)
{
	if (ctl != NULL)
		(void)munmap((void *)ctl, KVMSIM_CTL_SIZE);
}

uint64_t
kvmsim_ctl_u64(const struct kvmsim_image *img, size_t off)
{
	if (img == NULL || img->ctl == NULL)
		return (0);
	return (__atomic_load_n((volatile uint64_t *)(img->ctl + off),
	    __ATOMIC_ACQUIRE));
}

uint32_t
kvmsim_ctl_u32(const struct kvmsim_image *img, size_t off)
{
	if (img == NULL || img->ctl == NULL)
		return (0);
	return (__atomic_load_n((volatile uint32_t *)(img->ctl + off),
	    __ATOMIC_ACQUIRE));
}
