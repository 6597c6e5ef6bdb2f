/*
 * cluster/tid.h - transaction ids in the ZODB TimeStamp layout (as upstream): the
 * high 32 bits count minutes since 1900-01-01 00:00 UTC with 12 months of
 * 31 days, the low 32 bits are the seconds of that minute scaled by
 * 2^32/60.  Ids are compared as unsigned 64-bit numbers.
 */
#ifndef NEO_TID_H
#define NEO_TID_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NEO_ZERO_TID 0ULL
#define NEO_MAX_TID 0x7fffffffffffffffULL	/* SQLite's limit, as upstream */
#define NEO_INVALID_TID 0xffffffffffffffffULL

/* The tid of a time in seconds since the epoch. */
uint64_t neo_tid_from_time(double seconds);
/* The time a tid stands for, in seconds since the epoch. */
double neo_tid_to_time(uint64_t tid);
/* tid + offset in its low part, carrying into minutes (upstream's addTID). */
uint64_t neo_tid_add(uint64_t tid, int64_t offset);

/*
 * A new tid from the clock, strictly above last (last + 1 when the clock
 * is behind).  With divisor > 0 the result is also congruent to ttid
 * modulo divisor, preferring a smaller value (as upstream's _nextTID);
 * the one exception to "strictly above last": when the clock is behind
 * and ttid == last, the result is ttid itself, as upstream's.
 */
uint64_t neo_tid_next(uint64_t last, uint64_t ttid, uint64_t divisor);

/* The calendar fields of a tid read back as packed (upstream's
 * datetimeFromTID: 12 months of 31 days, seconds and microseconds
 * truncated).  tm is UTC; fields other than the date and time are 0. */
void neo_tid_unpack(uint64_t tid, struct tm *tm, long *microseconds);

/* "2026-11-25 12:00:00.123456" into buf; returns buf. */
const char *neo_tid_format_time(uint64_t tid, char *buf, size_t buflen);

/* The same as Python's str(datetime) writes it, as upstream's neoctl and
 * admin print tids: the microseconds only when there are some. */
const char *neo_tid_format_datetime(uint64_t tid, char *buf, size_t buflen);

#endif
