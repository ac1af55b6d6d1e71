/*
 * tap: a tiny TAP producer for the C unit tests (after redis testhelp.h and git's t/unit-tests).
 * ok(cond, fmt, ...), is_int(got, want, name), is_near(got, want, tol, name), is_str(got, want, name),
 * done_testing() returns the exit status. Output is "ok N - name" / "not ok N - name" lines.
 */
#ifndef XF_TAP_H
#define XF_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define is_int(got, want, name) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, "%s", name)) \
		printf("#   got %lld, want %lld (%s:%d)\n", g_, w_, __FILE__, __LINE__); \
} while (0)

#define is_near(got, want, tol, name) do { \
	double g_ = (double)(got), w_ = (double)(want); \
	if (!ok(fabs(g_ - w_) <= (tol) || (isnan(g_) && isnan(w_)), "%s", name)) \
		printf("#   got %.17g, want %.17g (%s:%d)\n", g_, w_, __FILE__, __LINE__); \
} while (0)

#define is_str(got, want, name) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!ok(g_ && w_ && !strcmp(g_, w_), "%s", name)) \
		printf("#   got '%s', want '%s' (%s:%d)\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)", \
		       __FILE__, __LINE__); \
} while (0)

__attribute__((unused))
static int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
