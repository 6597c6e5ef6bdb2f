/* runtime/log.c - see runtime/log.h. */
#include "runtime/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"

static FILE *log_file;		/* NULL: stderr */
static char *log_path;		/* owned; NULL for stderr */
static char log_name[64] = "neo";
static enum neo_log_level log_min = NEO_LOG_INFO;

/* The backlog: a ring of records, each a struct held then its text
 * ("DEBUG M1: message", no time, no newline), wrapping at the end. */
struct held {
	struct timeval when;
	uint32_t len;
};

static pthread_mutex_t backlog_lock = PTHREAD_MUTEX_INITIALIZER;
static char *ring;
static size_t ring_size, ring_head, ring_used;
static size_t held_count, held_dropped;

static const char *const level_names[] = { "DEBUG", "INFO", "WARNING", "ERROR" };

const char *neo_log_level_name(enum neo_log_level level)
{
	if ((unsigned)level > NEO_LOG_ERROR)
		return "?";
	return level_names[level];
}

int neo_log_level_parse(const char *text)
{
	for (int i = 0; i <= NEO_LOG_ERROR; i++)
		if (text != NULL && strcasecmp(text, level_names[i]) == 0)
			return i;
	return -1;
}

void neo_log_set_name(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name ? name : "neo");
}

void neo_log_set_level(enum neo_log_level min_level)
{
	log_min = min_level;
}

enum neo_log_level neo_log_get_level(void)
{
	return log_min;
}

bool neo_log_wanted(enum neo_log_level level)
{
	return level >= log_min || ring_size != 0;
}

static void ring_put(size_t at, const void *src, size_t n)
{
	size_t first;

	at %= ring_size;
	first = ring_size - at < n ? ring_size - at : n;
	memcpy(ring + at, src, first);
	memcpy(ring, (const char *)src + first, n - first);
}

static void ring_get(size_t at, void *dst, size_t n)
{
	size_t first;

	at %= ring_size;
	first = ring_size - at < n ? ring_size - at : n;
	memcpy(dst, ring + at, first);
	memcpy((char *)dst + first, ring, n - first);
}

/* Takes the oldest record out into text (NUL-terminated, cut to size). */
static void ring_take(struct held *h, char *text, size_t size)
{
	size_t n;

	ring_get(ring_head, h, sizeof *h);
	n = h->len < size ? h->len : size - 1;
	ring_get(ring_head + sizeof *h, text, n);
	text[n] = '\0';
	ring_head = (ring_head + sizeof *h + h->len) % ring_size;
	ring_used -= sizeof *h + h->len;
	held_count--;
}

/* Called with backlog_lock held. */
static void hold(const struct timeval *when, const char *text, size_t len)
{
	struct held h = { *when, (uint32_t)len };
	char skip[1];

	if (sizeof h + len > ring_size) {
		held_dropped++;
		return;
	}
	while (ring_size - ring_used < sizeof h + len) {
		struct held old;

		ring_take(&old, skip, sizeof skip);
		held_dropped++;
	}
	ring_put(ring_head + ring_used, &h, sizeof h);
	ring_put(ring_head + ring_used + sizeof h, text, len);
	ring_used += sizeof h + len;
	held_count++;
}

int neo_log_set_backlog(size_t max_bytes)
{
	char *fresh = NULL;

	if (max_bytes != 0) {
		fresh = neo_malloc(max_bytes);
		if (fresh == NULL)
			return -1;
	}
	pthread_mutex_lock(&backlog_lock);
	neo_free(ring);
	ring = fresh;
	ring_size = max_bytes;
	ring_head = ring_used = held_count = held_dropped = 0;
	pthread_mutex_unlock(&backlog_lock);
	return 0;
}

/* "2026-11-25 12:00:00.123 " into line (at least 32 bytes); its length. */
static size_t format_time(const struct timeval *when, char *line, size_t size)
{
	struct tm tm;
	size_t n;

	gmtime_r(&when->tv_sec, &tm);
	n = strftime(line, size, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, size - n, ".%03d ", (int)(when->tv_usec / 1000));
	return n;
}

/* One line, with one write so that lines of concurrent writers never mix. */
static void write_line(char *line, size_t n, size_t size)
{
	FILE *out = log_file ? log_file : stderr;

	if (n >= size - 1)
		n = size - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, out);
}

size_t neo_log_flush(void)
{
	char line[4096], text[4000];
	struct timeval now;
	struct held h;
	size_t n, written = 0;

	pthread_mutex_lock(&backlog_lock);
	if (held_count != 0 || held_dropped != 0) {
		gettimeofday(&now, NULL);
		n = format_time(&now, line, sizeof line);
		n += (size_t)snprintf(line + n, sizeof line - n,
				      "INFO %s: flushing %zu kept records (%zu older ones dropped for room)",
				      log_name, held_count, held_dropped);
		write_line(line, n, sizeof line);
		while (held_count != 0) {
			ring_take(&h, text, sizeof text);
			n = format_time(&h.when, line, sizeof line);
			n += (size_t)snprintf(line + n, sizeof line - n, "%s", text);
			write_line(line, n, sizeof line);
			written++;
		}
		n = format_time(&now, line, sizeof line);
		n += (size_t)snprintf(line + n, sizeof line - n,
				      "INFO %s: end of the %zu kept records", log_name, written);
		write_line(line, n, sizeof line);
		held_dropped = 0;
	}
	pthread_mutex_unlock(&backlog_lock);
	fflush(log_file ? log_file : stderr);
	return written;
}

void neo_log_close(void)
{
	pthread_mutex_lock(&backlog_lock);
	neo_free(ring);
	ring = NULL;
	ring_size = ring_head = ring_used = held_count = held_dropped = 0;
	pthread_mutex_unlock(&backlog_lock);
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	neo_free(log_path);
	log_path = NULL;
}

int neo_log_open(const char *path, enum neo_log_level min_level, const char *name)
{
	FILE *f = NULL;
	char *copy = NULL;

	if (path != NULL) {
		f = fopen(path, "a");
		copy = f ? neo_strdup(path) : NULL;
		if (f == NULL || copy == NULL) {
			int saved = errno;

			if (f != NULL)
				fclose(f);
			errno = saved ? saved : ENOMEM;
			return -1;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	neo_log_close();
	log_file = f;
	log_path = copy;
	log_min = min_level;
	neo_log_set_name(name);
	return 0;
}

int neo_log_reopen(void)
{
	FILE *f;

	if (log_path == NULL)
		return 0;
	f = fopen(log_path, "a");
	if (f == NULL)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	fclose(log_file);
	log_file = f;
	return 0;
}

void neo_log(enum neo_log_level level, const char *fmt, ...)
{
	char line[4096];
	struct timeval now;
	size_t n, start;
	va_list ap;

	if (!neo_log_wanted(level))
		return;
	gettimeofday(&now, NULL);
	/* A kept record gets its time formatted when it is written. */
	start = level >= log_min ? format_time(&now, line, sizeof line) : 0;
	n = start + (size_t)snprintf(line + start, sizeof(line) - start, "%s %s: ",
				     neo_log_level_name(level), log_name);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	n = strlen(line);
	if (level >= log_min) {
		write_line(line, n, sizeof line);
		fflush(log_file ? log_file : stderr);
		return;
	}
	/* Below the level: kept for neo_log_flush, without the time (the
	 * record's own is kept beside it). */
	pthread_mutex_lock(&backlog_lock);
	if (ring_size != 0)
		hold(&now, line + start, n - start);
	pthread_mutex_unlock(&backlog_lock);
}
