/*
 * net/signals.h - the signals every daemon handles, delivered through the
 * event loop (so handlers run as ordinary callbacks, never inside an
 * asynchronous signal handler):
 *
 *   SIGTERM, SIGINT  stop: the owner's on_stop runs, or the loop ends;
 *   SIGHUP           the log file is reopened (for logrotate);
 *   SIGPIPE          ignored: a write to a closed peer fails with EPIPE;
 *
 * and upstream's (neo/lib/logger.py, neo/lib/debug.py), which logrotate
 * configurations written for upstream send:
 *
 *   SIGRTMIN         the log is flushed: the records kept below the level
 *                    (runtime/log.h's backlog, the packet trace) are
 *                    written, then the file is flushed;
 *   SIGRTMIN+1       the log file is reopened, as SIGHUP;
 *   SIGRTMIN+2       the node's state is written to the log (the owner's
 *                    dump callback, neo_signals_set_dump), as upstream's
 *                    "dump information to logs";
 *   SIGRTMIN+3       upstream (re)loads its Python module neo.debug; there
 *                    is no such thing here: a log line says it is ignored.
 *
 * None of them ends the node.
 */
#ifndef NEO_SIGNALS_H
#define NEO_SIGNALS_H

#include <event2/event.h>

struct neo_signals;

/* on_stop may be NULL: the loop is then asked to exit.  NULL on failure. */
struct neo_signals *neo_signals_install(struct event_base *base,
					void (*on_stop)(int signum, void *arg), void *arg)
	__attribute__((warn_unused_result));
/* What SIGRTMIN+2 runs (NULL: a line says there is nothing to dump). */
void neo_signals_set_dump(struct neo_signals *signals, void (*dump)(void *arg), void *arg);
void neo_signals_free(struct neo_signals *signals);

#endif
