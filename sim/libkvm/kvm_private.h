/*
 * Private state of the simulated libkvm: the handle (FreeBSD's struct __kvm
 * in lib/libkvm/kvm_private.h, reduced to what the simulator needs), the
 * loaded image, and the internal entry points shared between the files.
 *
 * Internal callers use the kvmsim_*_impl functions so that the call counts
 * in kvm_stats.c record only the calls a program makes.
 */
#ifndef KVMSIM_KVM_PRIVATE_H
#define KVMSIM_KVM_PRIVATE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvm.h"

#define KVM_EXPORT __attribute__((visibility("default")))

#ifndef _POSIX2_LINE_MAX
#define _POSIX2_LINE_MAX 2048
#endif
#define KVMSIM_ERRBUF_SIZE 2048 /* _POSIX2_LINE_MAX on FreeBSD */
#define KVMSIM_MAXPATHLEN 1024  /* MAXPATHLEN on FreeBSD */
#define KVMSIM_PATH_MEM "/dev/mem"
#define KVMSIM_PATH_DEVNULL "/dev/null"
#define KVMSIM_BOOTFILE "/boot/kernel/kernel"
#define KVMSIM_MEM_ENV "KVM_SIM_MEM"

/* Image format version 1 (../README.md). */
#define KVMSIM_MAGIC "KVMSIM01"
#define KVMSIM_VERSION 1
#define KVMSIM_HEADER_SIZE 4096
#define KVMSIM_FLAG_LIVE 0x1u
#define KVMSIM_SYM_SIZE 24
#define KVMSIM_SEG_SIZE 32
#define KVMSIM_KINFO_PROC_SIZE 1088
#define KVMSIM_PAGE_SIZE 4096
/* Argument area: one (u32 heap offset, u32 length) per record, then the heap. */
#define KVMSIM_ARGS_INDEX_SIZE 8

/* Control file (<image>.ctl). */
#define KVMSIM_CTL_MAGIC "KVMSCTL1"
#define KVMSIM_CTL_SIZE 4096
#define CTL_SEQ 8
#define CTL_OPEN_ERRNO 16
#define CTL_READ_DELAY_US 20
#define CTL_EFAULT_LO 24
#define CTL_EFAULT_HI 32
#define CTL_SHORT_LO 40
#define CTL_SHORT_HI 48
#define CTL_KINFO_STRUCTSIZE 56
#define CTL_GETPROCS_ERRNO 60
#define CTL_HIDE_OTHER_UIDS 64
#define CTL_OBSERVER_RUID 68

/* amd64: sizeof(struct pcpu) == UMA_PCPU_ALLOC_SIZE == PAGE_SIZE. */
#define KVMSIM_SIZEOF_PCPU 4096

struct kvmsim_sym {
	const char *name; /* points into the image's string table */
	uint64_t value;
	uint64_t size;
	uint8_t n_type;
};

struct kvmsim_seg {
	uint64_t kva;
	uint64_t size;
	uint64_t file_off;
};

struct kvmsim_image {
	char path[KVMSIM_MAXPATHLEN + 8];
	int fd;
	uint32_t flags;
	uint32_t nsyms;
	struct kvmsim_sym *syms; /* sorted by name */
	char *strtab;
	uint32_t nsegs;
	struct kvmsim_seg *segs; /* sorted by kva, disjoint */
	uint32_t kinfo_size;
	uint64_t procs_off;
	uint32_t proc_capacity;
	uint64_t args_off;  /* the argument area (../README.md), or 0 */
	uint64_t args_size; /* its size in bytes; 0 when there is none */
	volatile uint8_t *ctl; /* MAP_SHARED read-only mapping, or NULL */
};

struct __kvm {
	const char *program; /* kvm_open's errstr: errors go to stderr */
	int live;	     /* ISALIVE(kd) */
	int devnull;	     /* live handle on /dev/null: reads return 0 */
	int nullfd;	     /* the /dev/null descriptor of such a handle */
	int nlfd;	     /* the exec file of a crash dump */
	struct kvmsim_image *img; /* NULL only for /dev/null without an image */
	char errbuf[KVMSIM_ERRBUF_SIZE];
	void *procbase; /* kvm_getprocs result, owned by the handle */
	struct kvmsim_argv_cache *argv_cache; /* kvm_getargv.c, per handle */

	/* DPCPU (kvm_pcpu.c keeps these per handle). */
	int dpcpu_initialized;
	uint64_t dpcpu_start;
	uint64_t dpcpu_stop;
	unsigned int dpcpu_maxcpus;
	uint64_t *dpcpu_off;
	unsigned int dpcpu_curcpu;
	uint64_t dpcpu_curoff;

	/* VNET (kvm_vnet.c). */
	int vnet_initialized;
	uint64_t vnet_start;
	uint64_t vnet_stop;
	uint64_t vnet_current;
	uint64_t vnet_base;
};

/* kvm_private.c: error reporting exactly as libkvm's _kvm_err/_kvm_syserr. */
void _kvm_err(kvm_t *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void _kvm_syserr(kvm_t *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* kvm_image.c */
int kvmsim_image_open(const char *path, struct kvmsim_image **out,
    char *err, size_t errlen);
void kvmsim_image_close(struct kvmsim_image *);

/* kvm_control.c */
int kvmsim_ctl_map(const char *image_path, volatile uint8_t **ctl, char *err,
    size_t errlen);
void kvmsim_ctl_unmap(volatile uint8_t *ctl);
int kvmsim_ctl_probe(const char *image_path, uint32_t *open_errno,
    char *err, size_t errlen);
const struct kvmsim_sym *kvmsim_image_lookup(const struct kvmsim_image *,
    const char *name);
const struct kvmsim_seg *kvmsim_image_segment(const struct kvmsim_image *,
    uint64_t kva);
ssize_t kvmsim_image_pread(const struct kvmsim_image *, void *, size_t,
    uint64_t file_off);
int kvmsim_image_read_direct(const struct kvmsim_image *, uint64_t kva,
    void *buf, size_t len);
uint64_t kvmsim_ctl_u64(const struct kvmsim_image *, size_t off);
uint32_t kvmsim_ctl_u32(const struct kvmsim_image *, size_t off);

/* kvm_read.c */
ssize_t kvmsim_read_impl(kvm_t *, kvaddr_t, void *, size_t);

/* kvm_proc.c: a consistent copy of the process records (seqlock). */
struct proc_snapshot {
	uint8_t *recs;
	uint32_t n;
	uint64_t seq; /* the control file's seq the copy was taken at */
};
int kvmsim_snapshot_procs(kvm_t *, struct proc_snapshot *);
int kvmsim_live_cansee(const kvm_t *, const uint8_t *first_record);

/* kvm_getargv.c */
struct kvmsim_argv_cache;
void kvmsim_argv_cache_free(struct kvmsim_argv_cache *);

/* kvm_nlist.c */
int _kvm_nlist(kvm_t *, struct kvm_nlist *, int initialize);
int kvmsim_nlist_impl(kvm_t *, struct nlist *);

/* kvm_vnet.c */
int _kvm_vnet_initialized(kvm_t *, int initialize);
kvaddr_t _kvm_vnet_validaddr(kvm_t *, kvaddr_t);

/* kvm_pcpu.c */
int _kvm_dpcpu_initialized(kvm_t *, int initialize);
kvaddr_t _kvm_dpcpu_validaddr(kvm_t *, kvaddr_t);
ssize_t kvmsim_read_zpcpu_impl(kvm_t *, unsigned long, void *, size_t, int);

/* kvm.c */
int kvmsim_native_impl(kvm_t *);

/* kvm_stats.c */
enum kvmsim_stat {
	KVMSIM_STAT_kvm_close,
	KVMSIM_STAT_kvm_counter_u64_fetch,
	KVMSIM_STAT_kvm_dpcpu_setcpu,
	KVMSIM_STAT_kvm_getargv,
	KVMSIM_STAT_kvm_geterr,
	KVMSIM_STAT_kvm_getloadavg,
	KVMSIM_STAT_kvm_getmaxcpu,
	KVMSIM_STAT_kvm_getncpus,
	KVMSIM_STAT_kvm_getpcpu,
	KVMSIM_STAT_kvm_getprocs,
	KVMSIM_STAT_kvm_getswapinfo,
	KVMSIM_STAT_kvm_native,
	KVMSIM_STAT_kvm_nlist,
	KVMSIM_STAT_kvm_nlist2,
	KVMSIM_STAT_kvm_open,
	KVMSIM_STAT_kvm_openfiles,
	KVMSIM_STAT_kvm_read,
	KVMSIM_STAT_kvm_read2,
	KVMSIM_STAT_kvm_read_zpcpu,
	KVMSIM_STAT_pread,
	KVMSIM_STAT_COUNT
};
void kvmsim_stat_bump(enum kvmsim_stat);
#define KVMSIM_COUNT_CALL(fn) kvmsim_stat_bump(KVMSIM_STAT_##fn)

/* Little-endian loads from a byte buffer (the image is little-endian). */
static inline uint32_t
kvmsim_le32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static inline uint64_t
kvmsim_le64(const uint8_t *p)
{
	return ((uint64_t)kvmsim_le32(p) | (uint64_t)kvmsim_le32(p + 4) << 32);
}

#endif /* KVMSIM_KVM_PRIVATE_H */
