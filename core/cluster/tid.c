/*
 * cluster/tid.c - converting between clock time and tids.
 */
#include "cluster/tid.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define TID_LOW_OVERFLOW 4294967296.0	/* 2^32 */

static uint32_t tid_minutes_of(const struct tm *tm)
{
	return (uint32_t)(((((tm->tm_year) * 12 + tm->tm_mon) * 31 + tm->tm_mday - 1) * 24
			   + tm->tm_hour) * 60 + tm->tm_min);
}

void neo_tid_unpack(uint64_t tid, struct tm *tm, long *microseconds)
{
	uint32_t minutes = (uint32_t)(tid >> 32);
	uint64_t scaled = (uint64_t)(uint32_t)tid * 60;

	memset(tm, 0, sizeof *tm);
	tm->tm_min = (int)(minutes % 60);
	minutes /= 60;
	tm->tm_hour = (int)(minutes % 24);
	minutes /= 24;
	tm->tm_mday = (int)(minutes % 31) + 1;
	minutes /= 31;
	tm->tm_mon = (int)(minutes % 12);
	tm->tm_year = (int)(minutes / 12);
	tm->tm_sec = (int)(scaled >> 32);
	*microseconds = (long)((double)(scaled & 0xffffffffu) * 1e6 / TID_LOW_OVERFLOW);
}

/* Back from packed minutes to a UTC time_t of that minute. */
static time_t tid_time_of_minutes(uint32_t minutes)
{
	struct tm tm;
	long micro;

	neo_tid_unpack((uint64_t)minutes << 32, &tm, &micro);
	return timegm(&tm);
}

uint64_t neo_tid_from_time(double seconds)
{
	time_t whole = (time_t)floor(seconds);
	struct tm tm;
	double low;

	gmtime_r(&whole, &tm);
	low = ((double)tm.tm_sec + (seconds - (double)whole)) * (TID_LOW_OVERFLOW / 60.0);
	/* A leap second would overflow the low part: clamp, as upstream. */
	if (low > TID_LOW_OVERFLOW - 1)
		low = TID_LOW_OVERFLOW - 1;
	return ((uint64_t)tid_minutes_of(&tm) << 32) | (uint64_t)low;
}

double neo_tid_to_time(uint64_t tid)
{
	time_t minute = tid_time_of_minutes((uint32_t)(tid >> 32));

	return (double)minute + (double)(uint32_t)tid * 60.0 / TID_LOW_OVERFLOW;
}

uint64_t neo_tid_add(uint64_t tid, int64_t offset)
{
	int64_t low = (int64_t)(uint32_t)tid + offset;
	int64_t carry = low >= 0 ? low / (int64_t)TID_LOW_OVERFLOW
				 : -((-low + (int64_t)TID_LOW_OVERFLOW - 1) / (int64_t)TID_LOW_OVERFLOW);
	time_t minute;
	struct tm tm;

	low -= carry * (int64_t)TID_LOW_OVERFLOW;
	if (carry == 0)
		return (tid & 0xffffffff00000000ULL) | (uint64_t)low;
	/* Minutes overflow through the calendar, since months have 28 to
	 * 31 days while the packing counts 31 for each. */
	minute = tid_time_of_minutes((uint32_t)(tid >> 32)) + (time_t)(carry * 60);
	gmtime_r(&minute, &tm);
	return ((uint64_t)tid_minutes_of(&tm) << 32) | (uint64_t)low;
}

uint64_t neo_tid_next(uint64_t last, uint64_t ttid, uint64_t divisor)
{
	struct timeval now;
	uint64_t tid;

	gettimeofday(&now, NULL);
	tid = neo_tid_from_time((double)now.tv_sec + (double)now.tv_usec / 1e6);
	if (tid <= last) {
		if (divisor && ttid == last)
			return ttid;
		tid = neo_tid_add(last, 1);
	}
	if (divisor) {
		int64_t delta = (int64_t)(ttid % divisor) - (int64_t)(tid % divisor);

		if (delta) {
			tid = neo_tid_add(tid, delta);
			if (tid <= last)
				tid = neo_tid_add(tid, (int64_t)divisor);
		}
	}
	return tid;
}

const char *neo_tid_format_time(uint64_t tid, char *buf, size_t buflen)
{
	struct tm tm;
	long micro;

	neo_tid_unpack(tid, &tm, &micro);
	snprintf(buf, buflen, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro);
	return buf;
}

const char *neo_tid_format_datetime(uint64_t tid, char *buf, size_t buflen)
{
	struct tm tm;
	long micro;

	neo_tid_unpack(tid, &tm, &micro);
	if (micro)
		return neo_tid_format_time(tid, buf, buflen);
	snprintf(buf, buflen, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}
