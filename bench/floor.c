/*
 * The floor: the least work a program can do through libkvm to produce what
 * one kvm_exporter scrape reads, timed by itself, so the harness can say how
 * far above the floor the exporter's collection is.
 *
 *   floor counters <corefile> <symbol> <count> <iterations>
 *     <symbol> holds <count> counter(9) handles (as kvmsim_extra_counters
 *     does). Untimed: open, nlist, read the handles and the present CPUs,
 *     group the handles by 4 KB page. Timed, per iteration: one
 *     kvm_read_zpcpu per page for every CPU at once (from the page's first
 *     handle through the last present CPU's copy of its last handle: the
 *     copies sit 4 KB apart in one slab, sys/vm/uma_core.c
 *     pcpu_page_alloc), then every counter's per-CPU values and its sum
 *     (modulo 2^64, as counter_u64_fetch) into an output array.
 *
 *   floor processes <corefile> <iterations>
 *     Timed, per iteration: kvm_getprocs(KERN_PROC_PROC) and a count of the
 *     records by ki_stat, then kvm_getprocs(KERN_PROC_PROC |
 *     KERN_PROC_INC_THREAD) and the same count: the two lists the
 *     processes collector reads.
 *
 * Prints one JSON object: the timings in milliseconds (min, median), the
 * simulator's call counts for one iteration (kvm_* and pread), and what was
 * computed (counter sums' checksum, state counts), which the harness checks
 * against the exporter's own output. Built by bench/floor.ts with cc against
 * dist/libkvm-sim/libkvm.so.7 and sim/libkvm/kvm.h; it mirrors nothing
 * but the reads of src/collectors/counters.ts and processes.ts.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvm.h"

#define PAGE 4096u
#define PCPU_STRIDE 4096u
#define KINFO_PROC_SIZE 1088u
#define KI_STAT 388u
#define NSTATES 8 /* ki_stat 1..7, and "unknown" */
#define MAX_ITERATIONS 100000

struct span {
	unsigned long first; /* lowest handle in the page */
	size_t len;          /* bytes from first to the last handle's end */
	int begin, end;      /* its counters: order[begin .. end) */
};

struct member {
	uint64_t handle;
	int index; /* in the symbol's array */
};

struct counters_plan {
	uint64_t *handles;
	struct member *order; /* handles sorted */
	int count;
	int *cpus; /* present CPU ids */
	int ncpus;
	struct span *spans;
	int nspans;
	uint8_t *rows;      /* one span's run: CPU c's copy at c * PCPU_STRIDE */
	uint64_t *percpu;   /* count x ncpus values */
	uint64_t *sums;     /* count values */
};

static void
die(const char *where, const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", where, what);
	exit(1);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static int
compare_members(const void *a, const void *b)
{
	uint64_t x = ((const struct member *)a)->handle;
	uint64_t y = ((const struct member *)b)->handle;

	return ((x > y) - (x < y));
}

static kvm_t *
open_kernel(const char *corefile)
{
	char errbuf[2048] = "";
	kvm_t *kd = kvm_openfiles(NULL, corefile, NULL, O_RDONLY, errbuf);

	if (kd == NULL)
		die("kvm_openfiles", errbuf);
	return (kd);
}

/* A kernel symbol's address; libkvm strips one leading underscore. */
static kvaddr_t
lookup(kvm_t *kd, const char *name)
{
	char aout[256];
	struct kvm_nlist nl[2];

	snprintf(aout, sizeof(aout), "_%s", name);
	memset(nl, 0, sizeof(nl));
	nl[0].n_name = aout;
	if (kvm_nlist2(kd, nl) != 0 || nl[0].n_type == 0)
		die(name, "kvm_nlist2 found no such symbol");
	return (nl[0].n_value);
}

static void
read_exact(kvm_t *kd, kvaddr_t addr, void *buf, size_t len, const char *what)
{
	if (kvm_read2(kd, addr, buf, len) != (ssize_t)len)
		die(what, kvm_geterr(kd));
}

static void
read_present_cpus(kvm_t *kd, struct counters_plan *p)
{
	int maxcpus, cpu;
	uint64_t *table;

	read_exact(kd, lookup(kd, "mp_maxcpus"), &maxcpus, sizeof(maxcpus),
	    "mp_maxcpus");
	table = calloc((size_t)maxcpus, sizeof(*table));
	p->cpus = calloc((size_t)maxcpus, sizeof(*p->cpus));
	if (table == NULL || p->cpus == NULL)
		die("read_present_cpus", "out of memory");
	read_exact(kd, lookup(kd, "cpuid_to_pcpu"), table,
	    (size_t)maxcpus * sizeof(*table), "cpuid_to_pcpu");
	for (cpu = 0; cpu < maxcpus; cpu++)
		if (table[cpu] != 0)
			p->cpus[p->ncpus++] = cpu;
	free(table);
}

/* Bytes of one span's run: through the last present CPU's copy. */
static size_t
run_bytes(const struct counters_plan *p, size_t len)
{
	return ((size_t)p->cpus[p->ncpus - 1] * PCPU_STRIDE + len);
}

/* Handles sorted, then cut into one span per 4 KB page. */
static void
plan_spans(struct counters_plan *p)
{
	size_t widest = 0;
	int i;

	p->order = malloc((size_t)p->count * sizeof(*p->order));
	p->spans = calloc((size_t)p->count, sizeof(*p->spans));
	if (p->order == NULL || p->spans == NULL)
		die("plan_spans", "out of memory");
	for (i = 0; i < p->count; i++) {
		p->order[i].handle = p->handles[i];
		p->order[i].index = i;
	}
	qsort(p->order, (size_t)p->count, sizeof(*p->order), compare_members);
	for (i = 0; i < p->count; i++) {
		uint64_t h = p->order[i].handle;
		struct span *s = &p->spans[p->nspans - 1];

		if (p->nspans == 0 || h / PAGE != s->first / PAGE) {
			s = &p->spans[p->nspans++];
			s->first = h;
			s->begin = i;
		}
		s->len = h - s->first + 8;
		s->end = i + 1;
		if (s->len > widest)
			widest = s->len;
	}
	p->rows = malloc(run_bytes(p, widest));
	if (p->rows == NULL)
		die("plan_spans", "out of memory");
}

static void
plan_counters(kvm_t *kd, const char *symbol, int count,
    struct counters_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->count = count;
	p->handles = malloc((size_t)count * sizeof(*p->handles));
	p->percpu = NULL;
	if (p->handles == NULL)
		die("plan_counters", "out of memory");
	read_exact(kd, lookup(kd, symbol), p->handles,
	    (size_t)count * sizeof(*p->handles), symbol);
	read_present_cpus(kd, p);
	plan_spans(p);
	p->percpu = malloc((size_t)count * (size_t)p->ncpus * sizeof(uint64_t));
	p->sums = malloc((size_t)count * sizeof(uint64_t));
	if (p->percpu == NULL || p->sums == NULL)
		die("plan_counters", "out of memory");
}

/* The per-CPU values and the sum of each counter in span s. */
static void
decode_span(struct counters_plan *p, const struct span *s)
{
	int m, c;

	for (m = s->begin; m < s->end; m++) {
		const struct member *mb = &p->order[m];
		uint64_t *out = p->percpu + (size_t)mb->index * (size_t)p->ncpus;
		size_t at = mb->handle - s->first;
		uint64_t sum = 0, v;

		for (c = 0; c < p->ncpus; c++) {
			memcpy(&v, p->rows + (size_t)p->cpus[c] * PCPU_STRIDE + at,
			    sizeof(v));
			out[c] = v;
			sum += v;
		}
		p->sums[mb->index] = sum;
	}
}

static void
collect_counters(kvm_t *kd, struct counters_plan *p)
{
	int s;

	for (s = 0; s < p->nspans; s++) {
		const struct span *sp = &p->spans[s];
		size_t len = run_bytes(p, sp->len);

		if (kvm_read_zpcpu(kd, sp->first, p->rows, len, 0) !=
		    (ssize_t)len)
			die("kvm_read_zpcpu", kvm_geterr(kd));
		decode_span(p, sp);
	}
}

static uint64_t
checksum(const struct counters_plan *p)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < p->count; i++)
		sum += p->sums[i];
	return (sum);
}

static void
count_states(const uint8_t *recs, int n, uint64_t counts[NSTATES])
{
	int i;

	memset(counts, 0, NSTATES * sizeof(counts[0]));
	for (i = 0; i < n; i++) {
		uint8_t stat = recs[(size_t)i * KINFO_PROC_SIZE + KI_STAT];

		counts[stat >= 1 && stat <= 7 ? stat - 1 : 7]++;
	}
}

struct process_counts {
	uint64_t processes[NSTATES];
	uint64_t threads[NSTATES];
	int nprocs, nthreads;
};

static void
collect_processes(kvm_t *kd, struct process_counts *out)
{
	const void *recs;

	recs = kvm_getprocs(kd, KERN_PROC_PROC, 0, &out->nprocs);
	if (recs == NULL)
		die("kvm_getprocs(KERN_PROC_PROC)", kvm_geterr(kd));
	count_states(recs, out->nprocs, out->processes);
	recs = kvm_getprocs(kd, KERN_PROC_PROC | KERN_PROC_INC_THREAD, 0,
	    &out->nthreads);
	if (recs == NULL)
		die("kvm_getprocs(KERN_PROC_PROC | KERN_PROC_INC_THREAD)",
		    kvm_geterr(kd));
	count_states(recs, out->nthreads, out->threads);
}

static void
print_calls(void)
{
	int n = kvmsim_stats_count(), i, first = 1;
	uint64_t *values = calloc((size_t)n, sizeof(*values));

	if (values == NULL)
		die("print_calls", "out of memory");
	kvmsim_stats_get(values, n);
	printf("\"calls\":{");
	for (i = 0; i < n; i++) {
		if (values[i] == 0)
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",",
		    kvmsim_stats_name(i), values[i]);
		first = 0;
	}
	printf("}");
	free(values);
}

static void
print_timings(double *ms, int n)
{
	qsort(ms, (size_t)n, sizeof(*ms), compare_doubles);
	printf("\"iterations\":%d,\"minMs\":%.6f,\"medianMs\":%.6f", n, ms[0],
	    ms[n / 2]);
}

static void
print_states(const char *key, const uint64_t counts[NSTATES])
{
	int i;

	printf("\"%s\":[", key);
	for (i = 0; i < NSTATES; i++)
		printf("%s%" PRIu64, i == 0 ? "" : ",", counts[i]);
	printf("]");
}

static int
parse_count(const char *text, const char *what, int max)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < 1 || v > max)
		die(what, "must be a whole number from 1 to the limit");
	return ((int)v);
}

static int
run_counters(const char *corefile, const char *symbol, int count,
    int iterations)
{
	kvm_t *kd = open_kernel(corefile);
	struct counters_plan plan;
	double *ms = calloc((size_t)iterations, sizeof(*ms));
	int i;

	if (ms == NULL)
		die("run_counters", "out of memory");
	plan_counters(kd, symbol, count, &plan);
	collect_counters(kd, &plan); /* warm the page cache and libkvm */
	kvmsim_stats_reset();
	collect_counters(kd, &plan);
	printf("{\"mode\":\"counters\",\"cpus\":%d,\"counters\":%d,"
	    "\"pages\":%d,", plan.ncpus, plan.count, plan.nspans);
	print_calls();
	for (i = 0; i < iterations; i++) {
		double t0 = now_ms();

		collect_counters(kd, &plan);
		ms[i] = now_ms() - t0;
	}
	printf(",");
	print_timings(ms, iterations);
	printf(",\"checksum\":\"%" PRIu64 "\"}\n", checksum(&plan));
	kvm_close(kd);
	return (0);
}

static int
run_processes(const char *corefile, int iterations)
{
	kvm_t *kd = open_kernel(corefile);
	struct process_counts counts;
	double *ms = calloc((size_t)iterations, sizeof(*ms));
	int i;

	if (ms == NULL)
		die("run_processes", "out of memory");
	collect_processes(kd, &counts);
	kvmsim_stats_reset();
	collect_processes(kd, &counts);
	printf("{\"mode\":\"processes\",");
	print_calls();
	for (i = 0; i < iterations; i++) {
		double t0 = now_ms();

		collect_processes(kd, &counts);
		ms[i] = now_ms() - t0;
	}
	printf(",");
	print_timings(ms, iterations);
	printf(",\"processes\":%d,\"threads\":%d,", counts.nprocs,
	    counts.nthreads);
	print_states("processStates", counts.processes);
	printf(",");
	print_states("threadStates", counts.threads);
	printf("}\n");
	kvm_close(kd);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "counters") == 0)
		return (run_counters(argv[2], argv[3],
		    parse_count(argv[4], "count", 1 << 24),
		    parse_count(argv[5], "iterations", MAX_ITERATIONS)));
	if (argc == 4 && strcmp(argv[1], "processes") == 0)
		return (run_processes(argv[2],
		    parse_count(argv[3], "iterations", MAX_ITERATIONS)));
	fprintf(stderr, "usage: floor counters <corefile> <symbol> <count> "
	    "<iterations>\n       floor processes <corefile> <iterations>\n");
	return (2);
}
