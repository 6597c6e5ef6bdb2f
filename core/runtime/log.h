/*
 * runtime/log.h - the log of a node: one line per event, to stderr or a file.
 *
 * A line reads "2026-11-25 12:00:00.123 WARNING M1: message".  The name is
 * the program's until the node learns its id (neo_log_set_name).  One log
 * per process; the functions are not meant for several threads at once
 * except neo_log and neo_log_flush: neo_log writes each line with one
 * call, and the backlog has its own lock.
 *
 * The backlog (neo_log_set_backlog): as upstream, a daemon keeps the
 * records below its level (the DEBUG lines, the packet trace) in memory,
 * the newest max_bytes of them, and writes them on demand (neo_log_flush:
 * SIGRTMIN, neoctl flush_log), so that what led to a problem can be had
 * from a running node without running it at DEBUG.  Upstream also writes
 * its backlog when a WARNING comes; a text log would then get every
 * packet of a cluster that warns often, so ours waits to be asked.
 */
#ifndef NEO_LOG_H
#define NEO_LOG_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * Keeps the newest max_bytes (about) of the records below the level in
 * memory, for neo_log_flush; 0 (the default) keeps none and frees what
 * was kept.  Returns 0, or -1 when the memory cannot be had (then none).
 */
int neo_log_set_backlog(size_t max_bytes)
	__attribute__((warn_unused_result));

/* Whether a record at level would be written or kept: a caller that
 * spends much on a record (the packet trace) asks first. */
bool neo_log_wanted(enum neo_log_level level);
enum neo_log_level neo_log_get_level(void);

/*
 * Writes the kept records, oldest first with the time each was made,
 * between two lines saying how many (and how many older ones were
 * dropped for room), then flushes the file.  Returns the number of
 * records written.  Any thread; never from an asynchronous signal
 * handler.
 */
size_t neo_log_flush(void);

/* Closes the file; later lines go to stderr.  The backlog is dropped. */
void neo_log_close(void);

/* "debug", "INFO", "warning", "error" (any case) -> level; -1 if unknown. */
int neo_log_level_parse(const char *text);
const char *neo_log_level_name(enum neo_log_level level);

#endif
