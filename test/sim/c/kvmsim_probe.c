/*
 * A command interpreter over the simulated libkvm, for test/sim/libkvm.test.ts:
 * it reads one command per line on stdin, calls libkvm exactly as a FreeBSD
 * program would (through kvm.h), and prints one line of observations per
 * command. The test decides what is right; this program only reports.
 *
 * Commands (addresses and handles in hex, "-" for NULL):
 *   openfiles EXEC CORE FLAGS | open EXEC CORE ERRSTR | close | closenull
 *   geterr | geterrnull | native | maxcpu | ncpus | resetcache
 *   nlist NAME... | nlist2pre NAME... | read ADDR LEN | read2 ADDR LEN
 *   zpcpu HANDLE CPU | fetch HANDLE | fetchat HOLDER | getpcpu CPU
 *   setcpu CPU | getprocs OP ARG | procsloop OP SECONDS | loadavg N
 *   structsizes OP ARG (the distinct ki_structsize values of the records)
 *   argv PID NCHR (kvm_getargv of a kinfo_proc with that ki_pid: the arguments
 *   joined by '|', or NULL and the error text)
 *   stats | statsreset | setenv NAME VALUE | unsetenv NAME
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvm.h"

#define MAXARGS 64
#define KINFO_SIZE 1088

static kvm_t *kd;

static const char *
arg_or_null(const char *s)
{
	return (strcmp(s, "-") == 0 ? NULL : s);
}

static uint64_t
hexarg(const char *s)
{
	return (strtoull(s, NULL, 16));
}

static void
print_err(void)
{
	printf(" err=[%s]", kd != NULL ? kvm_geterr(kd) : "");
}

static void
cmd_openfiles(char **av)
{
	char errbuf[2048];

	memset(errbuf, 'X', sizeof(errbuf));
	errbuf[sizeof(errbuf) - 1] = '\0';
	kd = kvm_openfiles(arg_or_null(av[1]), arg_or_null(av[2]), NULL,
	    atoi(av[3]), errbuf);
	printf("openfiles %s errbuf=[%s]", kd != NULL ? "ok" : "NULL",
	    kd != NULL ? "" : errbuf);
}

static void
cmd_open(char **av)
{
	kd = kvm_open(arg_or_null(av[1]), arg_or_null(av[2]), NULL, 0,
	    arg_or_null(av[3]));
	printf("open %s", kd != NULL ? "ok" : "NULL");
}

static void
print_nlist(const struct nlist *nl, int n)
{
	for (int i = 0; i < n; i++)
		printf(" %s:%u:%lx:%d:%d", nl[i].n_name, nl[i].n_type,
		    nl[i].n_value, nl[i].n_other, nl[i].n_desc);
}

/* Entries start with garbage in n_type/n_other/n_desc/n_value. */
static void
cmd_nlist(char **av, int ac)
{
	struct nlist nl[MAXARGS];
	int n = ac - 1, r;

	for (int i = 0; i < n; i++) {
		nl[i].n_name = strcmp(av[i + 1], "''") == 0 ? "" : av[i + 1];
		nl[i].n_type = 0x55;
		nl[i].n_other = 7;
		nl[i].n_desc = 9;
		nl[i].n_value = 0xdead;
	}
	nl[n].n_name = NULL;
	r = kvm_nlist(kd, nl);
	printf("nlist %d", r);
	print_nlist(nl, n);
	print_err();
}

/* kvm_nlist2 with the first entry's n_type preset to N_DATA. */
static void
cmd_nlist2pre(char **av, int ac)
{
	struct kvm_nlist nl[MAXARGS];
	int n = ac - 1, r;

	for (int i = 0; i < n; i++) {
		nl[i].n_name = av[i + 1];
		nl[i].n_type = i == 0 ? N_DATA : N_UNDF;
		nl[i].n_value = 0x1234;
	}
	nl[n].n_name = NULL;
	r = kvm_nlist2(kd, nl);
	printf("nlist2 %d", r);
	for (int i = 0; i < n; i++)
		printf(" %s:%u:%" PRIx64, nl[i].n_name, nl[i].n_type,
		    nl[i].n_value);
	print_err();
}

static void
cmd_read(char **av, int two)
{
	size_t len = strtoul(av[2], NULL, 10);
	unsigned char *buf = calloc(1, len + 1);
	ssize_t r;

	r = two ? kvm_read2(kd, hexarg(av[1]), buf, len) :
	    kvm_read(kd, hexarg(av[1]), buf, len);
	printf("read %zd", r);
	if (r > 0)
		printf(" ");
	for (ssize_t i = 0; i < r; i++)
		printf("%02x", buf[i]);
	print_err();
	free(buf);
}

static void
cmd_zpcpu(char **av)
{
	uint64_t v = 0;
	ssize_t r = kvm_read_zpcpu(kd, hexarg(av[1]), &v, sizeof(v),
	    atoi(av[2]));

	printf("zpcpu %zd %" PRIu64, r, v);
	print_err();
}

static void
cmd_fetchat(char **av)
{
	uint64_t handle = 0;

	if (kvm_read(kd, hexarg(av[1]), &handle, sizeof(handle)) !=
	    sizeof(handle)) {
		printf("fetchat readfail");
		print_err();
		return;
	}
	printf("fetchat %" PRIx64 " %" PRIu64, handle,
	    kvm_counter_u64_fetch(kd, handle));
}

static void
cmd_getpcpu(char **av)
{
	void *p = kvm_getpcpu(kd, atoi(av[1]));
	const unsigned char *pc = p;
	uint32_t cpuid;
	int64_t cp[5];

	if (p == NULL) {
		printf("getpcpu NULL");
		return;
	}
	if (p == (void *)-1) {
		printf("getpcpu ERR");
		print_err();
		return;
	}
	memcpy(&cpuid, pc + 60, sizeof(cpuid));
	memcpy(cp, pc + 80, sizeof(cp));
	printf("getpcpu cpuid=%u cp_time=%" PRId64 ",%" PRId64 ",%" PRId64
	    ",%" PRId64 ",%" PRId64, cpuid, cp[0], cp[1], cp[2], cp[3], cp[4]);
	free(p);
}

static int32_t
ki32(const unsigned char *rec, size_t off)
{
	int32_t v;

	memcpy(&v, rec + off, sizeof(v));
	return (v);
}

static void
cmd_getprocs(char **av)
{
	int cnt = -77;
	const unsigned char *p = (const void *)kvm_getprocs(kd, atoi(av[1]),
	    atoi(av[2]), &cnt);

	if (p == NULL) {
		printf("getprocs NULL cnt=%d", cnt);
		print_err();
		return;
	}
	printf("getprocs cnt=%d pids=", cnt);
	for (int i = 0; i < cnt; i++)
		printf("%s%d/%d", i ? "," : "", ki32(p + (size_t)i * KINFO_SIZE,
		    72), ki32(p + (size_t)i * KINFO_SIZE, 600));
}

static void
cmd_structsizes(char **av)
{
	int cnt = -77, last = -1;
	const unsigned char *p = (const void *)kvm_getprocs(kd, atoi(av[1]),
	    atoi(av[2]), &cnt);

	printf("structsizes%s cnt=%d", p == NULL ? " NULL" : "", cnt);
	for (int i = 0; p != NULL && i < cnt; i++) {
		int size = ki32(p + (size_t)i * KINFO_SIZE, 0);

		if (size != last)
			printf(" %d", size);
		last = size;
	}
}

/*
 * One KERN_PROC_ALL snapshot is consistent if every record has the right
 * size, each process's records are contiguous and as many as its
 * ki_numthreads, and no pid appears twice.
 */
static int
snapshot_consistent(const unsigned char *p, int cnt)
{
	int i = 0;

	while (i < cnt) {
		const unsigned char *first = p + (size_t)i * KINFO_SIZE;
		int pid = ki32(first, 72), n = ki32(first, 596), j;

		for (j = i; j < cnt && ki32(p + (size_t)j * KINFO_SIZE, 72) ==
		    pid; j++)
			if (ki32(p + (size_t)j * KINFO_SIZE, 0) != KINFO_SIZE)
				return (0);
		if (j - i != n)
			return (0);
		for (int k = j; k < cnt; k++)
			if (ki32(p + (size_t)k * KINFO_SIZE, 72) == pid)
				return (0);
		i = j;
	}
	return (1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* FNV-1a over the thread states: the writer changes some every step. */
static uint64_t
states_hash(const unsigned char *p, int cnt)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < cnt; i++) {
		h ^= p[(size_t)i * KINFO_SIZE + 388];
		h *= 0x100000001b3ULL;
	}
	return (h ^ (uint64_t)cnt);
}

static void
cmd_procsloop(char **av)
{
	double until = now_s() + atof(av[2]);
	int snaps = 0, bad = 0, fails = 0, changes = 0;
	uint64_t last = 0;

	while (now_s() < until) {
		int cnt = 0;
		const unsigned char *p = (const void *)kvm_getprocs(kd,
		    atoi(av[1]), 0, &cnt);

		if (p == NULL) {
			fails++;
			continue;
		}
		snaps++;
		bad += !snapshot_consistent(p, cnt);
		changes += snaps > 1 && states_hash(p, cnt) != last;
		last = states_hash(p, cnt);
	}
	printf("procsloop snaps=%d bad=%d fails=%d changes=%d", snaps, bad,
	    fails, changes);
}

static void
cmd_argv(char **av)
{
	unsigned char kp[KINFO_SIZE];
	int32_t pid = (int32_t)atoi(av[1]);
	char **argv;
	int i;

	memset(kp, 0, sizeof(kp));
	memcpy(kp + 72, &pid, sizeof(pid)); /* ki_pid */
	argv = kvm_getargv(kd, (const struct kinfo_proc *)(void *)kp, atoi(av[2]));
	if (argv == NULL) {
		printf("argv NULL");
		print_err();
		return;
	}
	printf("argv ");
	for (i = 0; argv[i] != NULL; i++)
		printf("%s%s", i == 0 ? "" : "|", argv[i]);
}

static void
cmd_loadavg(char **av)
{
	double la[3] = { -1, -1, -1 };
	int r = kvm_getloadavg(kd, la, atoi(av[1]));

	printf("loadavg %d %.6f %.6f %.6f", r, la[0], la[1], la[2]);
}

static void
cmd_stats(void)
{
	int n = kvmsim_stats_count();
	uint64_t v[64];

	kvmsim_stats_get(v, n);
	printf("stats");
	for (int i = 0; i < n; i++)
		printf(" %s=%" PRIu64, kvmsim_stats_name(i), v[i]);
}

static int
dispatch(char **av, int ac)
{
	const char *c = av[0];

	if (strcmp(c, "openfiles") == 0 && ac == 4) cmd_openfiles(av);
	else if (strcmp(c, "open") == 0 && ac == 4) cmd_open(av);
	else if (strcmp(c, "close") == 0) { printf("close %d", kvm_close(kd)); kd = NULL; }
	else if (strcmp(c, "closenull") == 0) { int r = kvm_close(NULL); printf("closenull %d errno=%d", r, errno); }
	else if (strcmp(c, "geterr") == 0) printf("geterr [%s]", kvm_geterr(kd));
	else if (strcmp(c, "geterrnull") == 0) printf("geterrnull [%s]", kvm_geterr(NULL));
	else if (strcmp(c, "native") == 0) printf("native %d", kvm_native(kd));
	else if (strcmp(c, "maxcpu") == 0) printf("maxcpu %d", kvm_getmaxcpu(kd));
	else if (strcmp(c, "ncpus") == 0) printf("ncpus %d", kvm_getncpus(kd));
	else if (strcmp(c, "resetcache") == 0) { kvmsim_reset_pcpu_cache(); printf("resetcache"); }
	else if (strcmp(c, "nlist") == 0) cmd_nlist(av, ac);
	else if (strcmp(c, "nlist2pre") == 0) cmd_nlist2pre(av, ac);
	else if (strcmp(c, "read") == 0 && ac == 3) cmd_read(av, 0);
	else if (strcmp(c, "read2") == 0 && ac == 3) cmd_read(av, 1);
	else if (strcmp(c, "zpcpu") == 0 && ac == 3) cmd_zpcpu(av);
	else if (strcmp(c, "fetch") == 0 && ac == 2) printf("fetch %" PRIu64, kvm_counter_u64_fetch(kd, hexarg(av[1])));
	else if (strcmp(c, "fetchat") == 0 && ac == 2) cmd_fetchat(av);
	else if (strcmp(c, "getpcpu") == 0 && ac == 2) cmd_getpcpu(av);
	else if (strcmp(c, "setcpu") == 0 && ac == 2) { printf("setcpu %d", kvm_dpcpu_setcpu(kd, (unsigned)atoi(av[1]))); print_err(); }
	else if (strcmp(c, "getprocs") == 0 && ac == 3) cmd_getprocs(av);
	else if (strcmp(c, "structsizes") == 0 && ac == 3) cmd_structsizes(av);
	else if (strcmp(c, "procsloop") == 0 && ac == 3) cmd_procsloop(av);
	else if (strcmp(c, "loadavg") == 0 && ac == 2) cmd_loadavg(av);
	else if (strcmp(c, "argv") == 0 && ac == 3) cmd_argv(av);
	else if (strcmp(c, "stats") == 0) cmd_stats();
	else if (strcmp(c, "statsreset") == 0) { kvmsim_stats_reset(); printf("statsreset"); }
	else if (strcmp(c, "setenv") == 0 && ac == 3) { setenv(av[1], av[2], 1); printf("setenv"); }
	else if (strcmp(c, "unsetenv") == 0 && ac == 2) { unsetenv(av[1]); printf("unsetenv"); }
	else return (-1);
	return (0);
}

int
main(void)
{
	char line[8192];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *av[MAXARGS + 1];
		int ac = 0;

		for (char *tok = strtok(line, " \t\n"); tok != NULL &&
		    ac < MAXARGS; tok = strtok(NULL, " \t\n"))
			av[ac++] = tok;
		if (ac == 0)
			continue;
		av[ac] = NULL;
		if (dispatch(av, ac) != 0)
			printf("unknown command %s", av[0]);
		printf("\n");
		fflush(stdout);
	}
	return (0);
}
