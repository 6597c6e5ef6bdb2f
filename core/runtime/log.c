/* runtime/log.c - see runtime/log.h. */
#include "runtime/log.h"

#include <errno.h>
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

void neo_log_close(void)
{
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
	struct tm tm;
	size_t n;
	va_list ap;

	if (level < log_min)
		return;
	gettimeofday(&now, NULL);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d %s %s: ",
			      (int)(now.tv_usec / 1000), neo_log_level_name(level), log_name);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	n = strlen(line);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line, so lines of concurrent writers never mix. */
	fwrite(line, 1, n, log_file ? log_file : stderr);
	fflush(log_file ? log_file : stderr);
}
