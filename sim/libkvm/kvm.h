/*
 * Public interface of the simulated libkvm: the prototypes and the structs
 * that cross the ABI, as FreeBSD 13+ declares them in lib/libkvm/kvm.h,
 * sys/sys/nlist_aout.h and sys/sys/sysctl.h (amd64, LP64). Programs built
 * against FreeBSD's kvm.h call this library unchanged.
 *
 * Plus the simulator's own kvmsim_* instrumentation (see ../README.md).
 */
#ifndef KVMSIM_KVM_H
#define KVMSIM_KVM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint64_t kvaddr_t;
typedef int64_t kssize_t;

typedef struct __kvm kvm_t;

/* struct kinfo_proc (sys/sys/user.h) is 1088 opaque bytes to this library. */
struct kinfo_proc;

/* sys/sys/nlist_aout.h: 24 bytes on amd64. */
struct nlist {
	const char *n_name;
	unsigned char n_type;
	char n_other;
	short n_desc;
	unsigned long n_value;
};

/* lib/libkvm/kvm.h: 24 bytes on amd64. */
struct kvm_nlist {
	const char *n_name;
	unsigned char n_type;
	kvaddr_t n_value;
};

#define N_UNDF 0x00
#define N_ABS 0x02
#define N_TEXT 0x04
#define N_DATA 0x06
#define N_BSS 0x08
#define N_EXT 0x01

/* sys/sys/sysctl.h */
#define KERN_PROC_ALL 0
#define KERN_PROC_PID 1
#define KERN_PROC_PGRP 2
#define KERN_PROC_SESSION 3
#define KERN_PROC_UID 5
#define KERN_PROC_RUID 6
#define KERN_PROC_PROC 8
#define KERN_PROC_RGID 10
#define KERN_PROC_GID 11
#define KERN_PROC_INC_THREAD 0x10

/* lib/libkvm/kvm.h: 52 bytes. */
struct kvm_swap {
	char ksw_devname[32];
	unsigned int ksw_used;
	unsigned int ksw_total;
	int ksw_flags;
	int ksw_reserved1;
	int ksw_reserved2;
};

#define SWIF_DEV_PREFIX 0x0002

#define VNET_SYMPREFIX "vnet_entry_"
#define DPCPU_SYMPREFIX "pcpu_entry_"

int kvm_close(kvm_t *);
int kvm_dpcpu_setcpu(kvm_t *, unsigned int);
char *kvm_geterr(kvm_t *);
int kvm_getloadavg(kvm_t *, double[], int);
int kvm_getmaxcpu(kvm_t *);
int kvm_getncpus(kvm_t *);
void *kvm_getpcpu(kvm_t *, int);
uint64_t kvm_counter_u64_fetch(kvm_t *, unsigned long);
int kvm_getswapinfo(kvm_t *, struct kvm_swap *, int, int);
char **kvm_getargv(kvm_t *, const struct kinfo_proc *, int);
struct kinfo_proc *kvm_getprocs(kvm_t *, int, int, int *);
int kvm_native(kvm_t *);
int kvm_nlist(kvm_t *, struct nlist *);
int kvm_nlist2(kvm_t *, struct kvm_nlist *);
kvm_t *kvm_open(const char *, const char *, const char *, int, const char *);
kvm_t *kvm_openfiles(const char *, const char *, const char *, int, char *);
ssize_t kvm_read(kvm_t *, unsigned long, void *, size_t);
ssize_t kvm_read_zpcpu(kvm_t *, unsigned long, void *, size_t, int);
ssize_t kvm_read2(kvm_t *, kvaddr_t, void *, size_t);

/* Simulator instrumentation: process-wide call counts and the pcpu cache. */
int kvmsim_stats_count(void);
const char *kvmsim_stats_name(int);
int kvmsim_stats_get(uint64_t *, int);
void kvmsim_stats_reset(void);
void kvmsim_reset_pcpu_cache(void);

#endif /* KVMSIM_KVM_H */
