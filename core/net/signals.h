/*
 * net/signals.h - the signals every daemon handles, delivered through the
 * event loop (so handlers run as ordinary callbacks, never inside an
 * asynchronous signal handler):
 *
 *   SIGTERM, SIGINT  stop: the owner's on_stop runs, or the loop ends;
 *   SIGHUP           the log file is reopened (for logrotate);
 *   SIGPIPE          ignored: a write to a closed peer fails with EPIPE.
 */
#ifndef NEO_SIGNALS_H
#define NEO_SIGNALS_H

#include <event2/event.h>

struct neo_signals;

/* on_stop may be NULL: the loop is then asked to exit.  NULL on failure. */
struct neo_signals *neo_signals_install(struct event_base *base,
					void (*on_stop)(int signum, void *arg), void *arg)
	__attribute__((warn_unused_result));
void neo_signals_free(struct neo_signals *signals);

#endif
