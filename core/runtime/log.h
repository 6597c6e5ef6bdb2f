/*
 * runtime/log.h - the log of a node: one line per event, to stderr or a file.
 *
 * A line reads "2026-11-25 12:00:00.123 WARNING M1: message".  The name is
 * the program's until the node learns its id (neo_log_set_name).  One log
 * per process; the functions are not meant for several threads at once
 * except neo_log itself, which writes each line with one call.
 */
#ifndef NEO_LOG_H
#define NEO_LOG_H

enum neo_log_level {
	NEO_LOG_DEBUG,
	NEO_LOG_INFO,
	NEO_LOG_WARNING,
	NEO_LOG_ERROR
};

/*
 * Starts logging to `path` (appended to), or to stderr when path is NULL.
 * Returns 0, or -1 with errno set and logging left to stderr.
 */
int neo_log_open(const char *path, enum neo_log_level min_level, const char *name)
	__attribute__((warn_unused_result));

/* The name shown on each line (copied), e.g. "S1" once the id is known. */
void neo_log_set_name(const char *name);
void neo_log_set_level(enum neo_log_level min_level);

void neo_log(enum neo_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Reopens the file at the same path, so that a rotated log (renamed by
 * logrotate) is followed by a new file.  Call it from the event loop's
 * SIGHUP callback, never from an asynchronous signal handler.  Returns 0,
 * or -1 (and keeps writing to the old file).
 */
int neo_log_reopen(void)
	__attribute__((warn_unused_result));

/* Closes the file; later lines go to stderr. */
void neo_log_close(void);

/* "debug", "INFO", "warning", "error" (any case) -> level; -1 if unknown. */
int neo_log_level_parse(const char *text);
const char *neo_log_level_name(enum neo_log_level level);

#endif
