/*
 * Error reporting, as lib/libkvm/kvm_private.c does it: with a program name
 * (a kvm_open handle) the message goes to stderr as "program: msg" and the
 * handle's errbuf is left alone; otherwise it is formatted into errbuf.
 * _kvm_syserr appends ": strerror(errno)".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kvm_private.h"

void
_kvm_err(kvm_t *kd, const char *program, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (program != NULL) {
		(void)fprintf(stderr, "%s: ", program);
		(void)vfprintf(stderr, fmt, ap);
		(void)fputc('\n', stderr);
	} else
		(void)vsnprintf(kd->errbuf, sizeof(kd->errbuf), fmt, ap);
	va_end(ap);
}

void
_kvm_syserr(kvm_t *kd, const char *program, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	size_t n;

	va_start(ap, fmt);
	if (program != NULL) {
		(void)fprintf(stderr, "%s: ", program);
		(void)vfprintf(stderr, fmt, ap);
		(void)fprintf(stderr, ": %s\n", strerror(saved));
	} else {
		(void)vsnprintf(kd->errbuf, sizeof(kd->errbuf), fmt, ap);
		n = strlen(kd->errbuf);
		(void)snprintf(kd->errbuf + n, sizeof(kd->errbuf) - n, ": %s",
		    strerror(saved));
	}
	va_end(ap);
	errno = saved;
}
