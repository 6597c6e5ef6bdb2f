/*
 * tap.h - a minimal Test Anything Protocol emitter for our C tests.
 *
 * Each check prints "ok N - name" or "not ok N - name"; tap_done() prints
 * the plan and returns the exit status.  Automake's tap-driver counts every
 * line, so the suite's totals are real checks, not test programs.
 */
#ifndef NEO_TESTS_TAP_H
#define NEO_TESTS_TAP_H

#include <stdbool.h>

/* Records one check; prints a diagnostic when it fails.  Returns cond. */
bool tap_ok(bool cond, const char *name_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A diagnostic line ("# ...") that does not count as a check. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records a skipped check with the reason. */
void tap_skip(const char *reason_fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the plan; returns 0 when every check passed, 1 otherwise. */
int tap_done(void);

/* Number of failed checks so far. */
int tap_failures(void);

#endif
