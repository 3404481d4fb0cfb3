/*
 * Symbol lookup: kvm_nlist, kvm_nlist2 and _kvm_nlist, mirroring
 * lib/libkvm/kvm.c and lib/libkvm/kvm_private.c.
 *
 * Live kernels look each name up as kldsym(2) does, after stripping one
 * leading '_', and report n_type N_TEXT. Crash dumps look names up as
 * libc's __elf_fdnlist does (matching both "name+1" and "name"), and report
 * the symbol's stored n_type. Names still missing are retried with the
 * "vnet_entry_" and then "pcpu_entry_" prefix in place of the leading '_',
 * and the result is translated into the current vnet or CPU's copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_private.h"

#define SYMNAME_MAX 1024 /* libkvm's symname[1024] */

typedef kvaddr_t (*validate_fn_t)(kvm_t *, kvaddr_t);

static int
is_last(const struct kvm_nlist *p)
{
	return (p->n_name == NULL || p->n_name[0] == '\0');
}

/* prefix + name, the prefix replacing one leading '_'; -1 if too long. */
static int
prefixed_name(char *out, size_t outlen, const char *prefix, const char *name)
{
	int n;

	n = snprintf(out, outlen, "%s%s", prefix,
	    (prefix[0] != '\0' && name[0] == '_') ? name + 1 : name);
	return (n < 0 || (size_t)n >= outlen ? -1 : 0);
}

/* __elf_fdnlist matching: "_x" matches symbol x, and any name itself. */
static const struct kvmsim_sym *
lookup_dead(const kvm_t *kd, const char *name)
{
	const struct kvmsim_sym *s = NULL;

	if (name[0] == '_')
		s = kvmsim_image_lookup(kd->img, name + 1);
	if (s == NULL)
		s = kvmsim_image_lookup(kd->img, name);
	return (s);
}

/* kldsym(2) after libkvm strips one leading '_'. */
static const struct kvmsim_sym *
lookup_live(const kvm_t *kd, const char *symname)
{
	if (symname[0] == '_')
		symname++;
	return (kvmsim_image_lookup(kd->img, symname));
}

/* Crash dump: every entry is cleared, then looked up; returns misses. */
static int
fdnlist(kvm_t *kd, struct kvm_nlist *nl)
{
	struct kvm_nlist *p;
	int nfail = 0;

	for (p = nl; !is_last(p); p++) {
		const struct kvmsim_sym *s = lookup_dead(kd, p->n_name);

		p->n_type = s != NULL ? s->n_type : N_UNDF;
		p->n_value = s != NULL ? s->value : 0;
		if (p->n_type == N_UNDF)
			nfail++;
	}
	return (nfail);
}

/* Crash dump: retry the misses with a prefix; returns the misses left. */
static int
fdnlist_prefix(kvm_t *kd, struct kvm_nlist *nl, int missing,
    const char *prefix, validate_fn_t validate)
{
	char symname[SYMNAME_MAX];
	struct kvm_nlist *p;

	for (p = nl; !is_last(p); p++) {
		const struct kvmsim_sym *s;

		if (p->n_type != N_UNDF ||
		    prefixed_name(symname, sizeof(symname), prefix,
		    p->n_name) != 0)
			continue;
		s = lookup_dead(kd, symname);
		if (s == NULL || s->n_type == N_UNDF)
			continue;
		p->n_type = s->n_type;
		p->n_value = validate(kd, s->value);
		missing--;
	}
	return (missing);
}

static int
nlist_dead(kvm_t *kd, struct kvm_nlist *nl, int initialize)
{
	int error;

	error = fdnlist(kd, nl);
	if (error <= 0)
		return (error);
	if (_kvm_vnet_initialized(kd, initialize))
		error = fdnlist_prefix(kd, nl, error, VNET_SYMPREFIX,
		    _kvm_vnet_validaddr);
	if (error > 0 && _kvm_dpcpu_initialized(kd, initialize))
		error = fdnlist_prefix(kd, nl, error, DPCPU_SYMPREFIX,
		    _kvm_dpcpu_validaddr);
	return (error);
}

/*
 * One live lookup of an N_UNDF entry. As in libkvm, asking whether vnet or
 * dpcpu is initialised (which initialises it on demand) happens on every
 * hit, whatever the prefix.
 */
static int
lookup_live_entry(kvm_t *kd, struct kvm_nlist *p, const char *prefix,
    int initialize)
{
	char symname[SYMNAME_MAX];
	const struct kvmsim_sym *s;

	if (prefixed_name(symname, sizeof(symname), prefix, p->n_name) != 0)
		return (0);
	s = lookup_live(kd, symname);
	if (s == NULL)
		return (0);
	p->n_type = N_TEXT;
	if (_kvm_vnet_initialized(kd, initialize) &&
	    strcmp(prefix, VNET_SYMPREFIX) == 0)
		p->n_value = _kvm_vnet_validaddr(kd, s->value);
	else if (_kvm_dpcpu_initialized(kd, initialize) &&
	    strcmp(prefix, DPCPU_SYMPREFIX) == 0)
		p->n_value = _kvm_dpcpu_validaddr(kd, s->value);
	else
		p->n_value = s->value;
	return (1);
}

static int
nlist_live(kvm_t *kd, struct kvm_nlist *nl, int initialize)
{
	const char *prefix = "";
	int nvalid = 0, tried_vnet = 0, tried_dpcpu = 0, error;
	struct kvm_nlist *p;

again:
	for (p = nl; !is_last(p); p++) {
		if (p->n_type != N_UNDF)
			continue;
		nvalid += lookup_live_entry(kd, p, prefix, initialize);
	}
	error = (int)(p - nl) - nvalid;
	if (error && _kvm_vnet_initialized(kd, initialize) && !tried_vnet) {
		tried_vnet = 1;
		prefix = VNET_SYMPREFIX;
		goto again;
	}
	if (error && _kvm_dpcpu_initialized(kd, initialize) && !tried_dpcpu) {
		tried_dpcpu = 1;
		prefix = DPCPU_SYMPREFIX;
		goto again;
	}
	error = (int)(p - nl) - nvalid;
	if (error) {
		errno = ENOENT; /* what kldsym(2) leaves for a missing name */
		_kvm_syserr(kd, kd->program, "kvm_nlist");
	}
	return (error);
}

int
_kvm_nlist(kvm_t *kd, struct kvm_nlist *nl, int initialize)
{
	if (!kd->live)
		return (nlist_dead(kd, nl, initialize));
	return (nlist_live(kd, nl, initialize));
}

int
kvmsim_nlist_impl(kvm_t *kd, struct nlist *nl)
{
	struct kvm_nlist *kl;
	int count, i, nfail;

	if (kd == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (!kvmsim_native_impl(kd)) {
		_kvm_err(kd, kd->program, "kvm_nlist of non-native vmcore");
		return (-1);
	}
	for (count = 0; nl[count].n_name != NULL &&
	    nl[count].n_name[0] != '\0'; count++)
		;
	if (count == 0)
		return (0);
	kl = calloc((size_t)count + 1, sizeof(*kl));
	if (kl == NULL) {
		_kvm_err(kd, kd->program, "cannot allocate memory");
		return (-1);
	}
	for (i = 0; i < count; i++)
		kl[i].n_name = nl[i].n_name;
	nfail = _kvm_nlist(kd, kl, 1);
	for (i = 0; i < count; i++) {
		nl[i].n_type = kl[i].n_type;
		nl[i].n_other = 0;
		nl[i].n_desc = 0;
		nl[i].n_value = kl[i].n_value;
	}
	free(kl);
	return (nfail);
}

KVM_EXPORT int
kvm_nlist(kvm_t *kd, struct nlist *nl)
{
	KVMSIM_COUNT_CALL(kvm_nlist);
	return (kvmsim_nlist_impl(kd, nl));
}

KVM_EXPORT int
kvm_nlist2(kvm_t *kd, struct kvm_nlist *nl)
{
	KVMSIM_COUNT_CALL(kvm_nlist2);
	if (kd == NULL) {
		errno = EINVAL;
		return (-1);
	}
	return (_kvm_nlist(kd, nl, 1));
}
