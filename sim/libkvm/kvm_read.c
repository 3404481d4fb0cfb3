/*
 * Reading kernel memory: kvm_read and kvm_read2, mirroring lib/libkvm/kvm.c
 * on a live kernel (lseek + read of /dev/kmem, which fails with EFAULT for
 * an unmapped address and may come back short).
 *
 * A read inside one segment is one pread(2) of the image; a read crossing
 * segments is one pread per segment. Before reading, the control file may
 * delay the read or make it fail or come back short (../README.md).
 */
#include <errno.h>
#include <time.h>

#include "kvm_private.h"

/* True if [kva, kva + len) touches [lo, hi). */
static int
touches(uint64_t kva, size_t len, uint64_t lo, uint64_t hi)
{
	uint64_t end = kva + len;

	if (len == 0 || lo >= hi)
		return (0);
	if (end < kva) /* the range wraps past 2^64 */
		end = UINT64_MAX;
	return (kva < hi && end > lo);
}

static void
apply_read_delay(const struct kvmsim_image *img)
{
	uint32_t us = kvmsim_ctl_u32(img, CTL_READ_DELAY_US);

	struct timespec ts;

	if (us != 0) {
		ts.tv_sec = us / 1000000;
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		/* A slow device read is not cut short by a signal: sleep out the rest. */
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
}

/* kvm_read's failure for an unmapped or faulted address. */
static ssize_t
bad_address(kvm_t *kd)
{
	errno = EFAULT;
	_kvm_syserr(kd, NULL, "kvm_read");
	return (-1);
}

/*
 * Copies [kva, kva + len) from the segments, one pread per segment.
 * Returns the bytes read (short only if the file shrank), or -1.
 */
static ssize_t
read_segments(kvm_t *kd, uint64_t kva, uint8_t *cp, size_t len)
{
	size_t done = 0;

	while (done < len) {
		const struct kvmsim_seg *s;
		uint64_t avail;
		size_t n;
		ssize_t got;

		s = kvmsim_image_segment(kd->img, kva + done);
		if (s == NULL)
			return (bad_address(kd));
		avail = s->size - (kva + done - s->kva);
		n = avail < len - done ? (size_t)avail : len - done;
		got = kvmsim_image_pread(kd->img, cp + done, n,
		    s->file_off + (kva + done - s->kva));
		if (got < 0) {
			_kvm_syserr(kd, NULL, "kvm_read");
			return (-1);
		}
		done += (size_t)got;
		if ((size_t)got < n)
			break;
	}
	return ((ssize_t)done);
}

ssize_t
kvmsim_read_impl(kvm_t *kd, kvaddr_t kva, void *buf, size_t len)
{
	const struct kvmsim_image *img;
	size_t want = len;
	ssize_t got;

	if (kd == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (kd->devnull) {
		/* read(2) of /dev/null: end of file at once. */
		if (len > 0)
			_kvm_err(kd, kd->program, "short read");
		return (0);
	}
	img = kd->img;
	apply_read_delay(img);
	if (touches(kva, len, kvmsim_ctl_u64(img, CTL_EFAULT_LO),
	    kvmsim_ctl_u64(img, CTL_EFAULT_HI)))
		return (bad_address(kd));
	if (touches(kva, len, kvmsim_ctl_u64(img, CTL_SHORT_LO),
	    kvmsim_ctl_u64(img, CTL_SHORT_HI))) {
		uint64_t lo = kvmsim_ctl_u64(img, CTL_SHORT_LO);

		want = kva < lo ? (size_t)(lo - kva) : 0;
	}
	got = read_segments(kd, kva, buf, want);
	if (got >= 0 && (size_t)got < len)
		_kvm_err(kd, kd->program, "short read");
	return (got);
}

KVM_EXPORT ssize_t
kvm_read(kvm_t *kd, unsigned long kva, void *buf, size_t len)
{
	KVMSIM_COUNT_CALL(kvm_read);
	return (kvmsim_read_impl(kd, kva, buf, len));
}

KVM_EXPORT ssize_t
kvm_read2(kvm_t *kd, kvaddr_t kva, void *buf, size_t len)
{
	KVMSIM_COUNT_CALL(kvm_read2);
	return (kvmsim_read_impl(kd, kva, buf, len));
}
