/* test_tid.c - transaction ids (cluster/tid.h): the TimeStamp packing
 * (minutes since 1900 with months of 31 days, then the seconds scaled by
 * 2^32/60), time <-> tid, tid arithmetic carrying through the calendar,
 * the next tid of the master, and the text forms.  Expected values are
 * packed here from their calendar fields, independently of tid.c. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cluster/tid.h"
#include "tap.h"

#define LOW_MAX 0xffffffffULL

/* The high 32 bits of a tid, as upstream's packTID. */
static uint64_t pack(int year, int month, int day, int hour, int minute)
{
	uint64_t minutes = ((((uint64_t)(year - 1900) * 12 + (uint64_t)(month - 1)) * 31
			     + (uint64_t)(day - 1)) * 24 + (uint64_t)hour) * 60 + (uint64_t)minute;

	return minutes << 32;
}

static double epoch(int year, int month, int day, int hour, int minute, double seconds)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	return (double)timegm(&tm) + seconds;
}

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void test_from_time(void)
{
	double t = epoch(2026, 11, 25, 12, 0, 0);

	tap_ok(neo_tid_from_time(0) == pack(1970, 1, 1, 0, 0), "the epoch: 1970-01-01 00:00, low 0");
	tap_ok(neo_tid_from_time(t) == pack(2026, 11, 25, 12, 0), "2026-11-25 12:00:00");
	tap_ok(neo_tid_from_time(t + 30) == (pack(2026, 11, 25, 12, 0) | 0x80000000ULL),
	       "30 s is half the low part");
	tap_ok(neo_tid_from_time(t + 15) == (pack(2026, 11, 25, 12, 0) | 0x40000000ULL),
	       "15 s is a quarter of it");
	tap_ok((neo_tid_from_time(t + 59.999) >> 32) == pack(2026, 11, 25, 12, 0) >> 32,
	       "59.999 s is still that minute");
	tap_ok(neo_tid_from_time(t + 60) == pack(2026, 11, 25, 12, 1), "60 s is the next minute");
	tap_ok(neo_tid_from_time(epoch(2027, 3, 1, 0, 0, 0)) == pack(2027, 3, 1, 0, 0)
	       && neo_tid_from_time(epoch(2028, 2, 29, 23, 59, 0)) == pack(2028, 2, 29, 23, 59),
	       "month ends: 2027-03-01, leap day 2028-02-29");
	tap_ok(neo_tid_from_time(epoch(2027, 2, 28, 23, 59, 59.9)) < neo_tid_from_time(epoch(2027, 3, 1, 0, 0, 0)),
	       "tids grow across the end of February (its packing skips days 29 to 31)");
	{
		bool grows = true;
		uint64_t prev = 0;

		/* Every 7 h 13 min 7.3 s over two years. */
		for (double s = epoch(2026, 1, 1, 0, 0, 0); s < epoch(2028, 1, 1, 0, 0, 0) && grows;
		     s += 7 * 3600 + 13 * 60 + 7.3) {
			uint64_t tid = neo_tid_from_time(s);

			grows = tid > prev;
			prev = tid;
		}
		tap_ok(grows, "tids grow with time over two years");
	}
}

static void test_round_trip(void)
{
	const double times[] = {
		0,
		epoch(2026, 11, 25, 12, 0, 0.123456),
		epoch(2028, 2, 29, 23, 59, 59.75),
		epoch(2027, 12, 31, 23, 59, 59.999),
		epoch(2000, 3, 1, 0, 0, 0.5),
		epoch(2106, 2, 7, 6, 28, 15),
		now(),
	};
	bool close = true;
	double worst = 0;

	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		double back = neo_tid_to_time(neo_tid_from_time(times[i]));
		double err = times[i] - back;

		/* Truncated to 60/2^32 s (14 ns), then rounded to a double. */
		close = close && fabs(err) < 1e-6;
		worst = fmax(worst, fabs(err));
	}
	tap_ok(close, "to_time(from_time(t)) is t to within a microsecond (worst %.3g s)",
	       worst);
	tap_ok(neo_tid_to_time(pack(1970, 1, 1, 0, 0) | 0x80000000ULL) == 30.0,
	       "to_time of the epoch's minute plus half the low part: 30 s");
	tap_ok(neo_tid_to_time(pack(2027, 3, 1, 0, 0)) == epoch(2027, 3, 1, 0, 0, 0),
	       "to_time of a minute right after a short month");
}

static void test_add(void)
{
	uint64_t t = pack(2026, 11, 25, 12, 0) | 1000;

	tap_ok(neo_tid_add(t, 0) == t, "add 0: the same tid");
	tap_ok(neo_tid_add(t, 1) == t + 1 && neo_tid_add(t, -1) == t - 1,
	       "add +-1 within the minute: the low part moves");
	tap_ok(neo_tid_add(neo_tid_add(t, 5000000000LL), -5000000000LL) == t,
	       "adding and taking back more than a minute's worth is the same tid");
	tap_ok(neo_tid_add(pack(2026, 11, 25, 12, 0) | LOW_MAX, 1) == pack(2026, 11, 25, 12, 1),
	       "carry into the next minute");
	tap_ok(neo_tid_add(pack(2026, 11, 25, 12, 1), -1) == (pack(2026, 11, 25, 12, 0) | LOW_MAX),
	       "borrow from the previous minute");
	tap_ok(neo_tid_add(pack(2027, 2, 28, 23, 59) | LOW_MAX, 1) == pack(2027, 3, 1, 0, 0),
	       "carry through the calendar: 2027-02-28 23:59 -> 2027-03-01 00:00");
	tap_ok(neo_tid_add(pack(2028, 2, 28, 23, 59) | LOW_MAX, 1) == pack(2028, 2, 29, 0, 0),
	       "a leap year has its 29 February");
	tap_ok(neo_tid_add(pack(2027, 3, 1, 0, 0), -1) == (pack(2027, 2, 28, 23, 59) | LOW_MAX),
	       "borrow through the calendar: back to 2027-02-28 23:59");
	tap_ok(neo_tid_add(pack(2026, 12, 31, 23, 59) | LOW_MAX, 1) == pack(2027, 1, 1, 0, 0),
	       "carry into a new year");
	tap_ok(neo_tid_add(pack(2026, 4, 30, 23, 0) | 77, 60LL * 0x100000000LL)
	       == (pack(2026, 5, 1, 0, 0) | 77),
	       "add an hour's worth: the next hour, across a 30-day month, same low part");
}

static void test_next(void)
{
	double t = now();
	uint64_t tid, last, ttid;

	tid = neo_tid_next(0, 0, 0);
	tap_ok(tid > 0 && fabs(neo_tid_to_time(tid) - t) < 5, "next: the clock's tid");
	last = neo_tid_from_time(t + 3600);
	tap_ok(neo_tid_next(last, 0, 0) == neo_tid_add(last, 1),
	       "next with the clock behind the last tid: last + 1");
	{
		double minute = floor((t + 3600) / 60) * 60;

		last = neo_tid_from_time(minute) | LOW_MAX;
		tap_ok(neo_tid_next(last, 0, 0) == neo_tid_from_time(minute + 60),
		       "last + 1 carries into the next minute");
	}

	/* With a divisor (the partition count at finish): tid % divisor ==
	 * ttid % divisor, the tid stays above last and as small as it can. */
	last = neo_tid_from_time(t + 3600);
	ttid = last - 100;
	tid = neo_tid_next(last, ttid, 12);
	tap_ok(tid > last && tid % 12 == ttid % 12 && tid <= last + 12,
	       "clock behind: the first tid above last in ttid's residue class");
	last = neo_tid_from_time(t - 3600);
	ttid = last;
	tid = neo_tid_next(last, ttid, 12);
	tap_ok(tid > last && tid % 12 == ttid % 12 && fabs(neo_tid_to_time(tid) - t) < 5,
	       "clock ahead: the clock's tid moved by less than the divisor into ttid's class");
	ttid = neo_tid_from_time(t + 3600);
	tap_ok(neo_tid_next(ttid, ttid, 12) == ttid,
	       "clock behind and ttid the last tid: ttid itself (upstream's shortcut)");
	{
		bool all = true;

		last = (neo_tid_from_time(t + 7200) & ~LOW_MAX) | 0x10000000ULL;
		for (uint64_t d = 1; d <= 40 && all; d++)
			for (uint64_t r = 0; r < d && all; r++) {
				tid = neo_tid_next(last, last - d + r - 50, d);
				all = tid > last && tid % d == (last - d + r - 50) % d && tid <= last + d;
			}
		tap_ok(all, "every divisor 1..40 and every residue: above last, in class, within a divisor");
	}
}

static bool text_is(uint64_t tid, const char *time_text, const char *datetime_text)
{
	char a[64], b[64];

	return strcmp(neo_tid_format_time(tid, a, sizeof a), time_text) == 0
	       && strcmp(neo_tid_format_datetime(tid, b, sizeof b), datetime_text) == 0;
}

static void test_text(void)
{
	struct tm tm;
	long micro = -1;
	/* 30 s + 60 * 2^24 / 2^32 s = 30.234375 s exactly. */
	uint64_t t = pack(2026, 11, 25, 12, 34) | 0x81000000ULL;

	neo_tid_unpack(t, &tm, &micro);
	tap_ok(tm.tm_year == 126 && tm.tm_mon == 10 && tm.tm_mday == 25 && tm.tm_hour == 12
	       && tm.tm_min == 34 && tm.tm_sec == 30 && micro == 234375,
	       "unpack: the calendar fields, seconds and microseconds");
	tap_ok(tm.tm_wday == 0 && tm.tm_yday == 0 && tm.tm_isdst == 0,
	       "unpack leaves the other fields 0");
	neo_tid_unpack(pack(2026, 2, 31, 0, 0), &tm, &micro);
	tap_ok(tm.tm_mon == 1 && tm.tm_mday == 31,
	       "unpack reads 31 February back as packed (no calendar)");
	neo_tid_unpack(pack(2026, 1, 1, 0, 0) | 1, &tm, &micro);
	tap_ok(tm.tm_sec == 0 && micro == 0, "microseconds are truncated (low part 1 is 14 ns)");
	neo_tid_unpack(pack(2026, 1, 1, 0, 0) | LOW_MAX, &tm, &micro);
	tap_ok(tm.tm_sec == 59 && micro == 999999, "the last low value: 59.999999 s");

	tap_ok(text_is(t, "2026-11-25 12:34:30.234375", "2026-11-25 12:34:30.234375"),
	       "format_time and format_datetime with microseconds");
	tap_ok(text_is(pack(2026, 11, 25, 12, 34) | 0x80000000ULL, "2026-11-25 12:34:30.000000",
		       "2026-11-25 12:34:30"),
	       "format_datetime writes no microseconds when there are none, as str(datetime)");
	tap_ok(text_is(NEO_ZERO_TID, "1900-01-01 00:00:00.000000", "1900-01-01 00:00:00"),
	       "the zero tid is 1900-01-01 00:00:00");
	{
		char small[11];

		neo_tid_format_time(t, small, sizeof small);
		tap_ok(strcmp(small, "2026-11-25") == 0, "format_time truncates to the buffer");
	}
}

int main(void)
{
	test_from_time();
	test_round_trip();
	test_add();
	test_next();
	test_text();
	return tap_done();
}
