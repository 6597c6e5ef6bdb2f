/* net/signals.c - see net/signals.h. */
#include "net/signals.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/log.h"

struct neo_signals {
	struct event_base *base;
	struct event *term, *interrupt, *hangup;
	void (*on_stop)(int signum, void *arg);
	void *arg;
};

static void stop_requested(evutil_socket_t signum, short what, void *ctx)
{
	struct neo_signals *s = ctx;

	(void)what;
	neo_log(NEO_LOG_INFO, "%s received, stopping", strsignal((int)signum));
	if (s->on_stop != NULL)
		s->on_stop((int)signum, s->arg);
	else
		event_base_loopexit(s->base, NULL);
}

static void reopen_log(evutil_socket_t signum, short what, void *ctx)
{
	(void)signum;
	(void)what;
	(void)ctx;
	if (neo_log_reopen() != 0)
		neo_log(NEO_LOG_ERROR, "SIGHUP: cannot reopen the log file; still writing to the old one");
	else
		neo_log(NEO_LOG_INFO, "SIGHUP: log file reopened");
}

void neo_signals_free(struct neo_signals *s)
{
	if (s == NULL)
		return;
	if (s->term != NULL)
		event_free(s->term);
	if (s->interrupt != NULL)
		event_free(s->interrupt);
	if (s->hangup != NULL)
		event_free(s->hangup);
	neo_free(s);
}

struct neo_signals *neo_signals_install(struct event_base *base,
					void (*on_stop)(int signum, void *arg), void *arg)
{
	struct neo_signals *s = neo_calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	/* A write to a peer that went away must fail with EPIPE (and close
	 * that connection), not kill the node: a node continued after a
	 * SIGSTOP finds its connections closed under it. */
	signal(SIGPIPE, SIG_IGN);
	s->base = base;
	s->on_stop = on_stop;
	s->arg = arg;
	s->term = evsignal_new(base, SIGTERM, stop_requested, s);
	s->interrupt = evsignal_new(base, SIGINT, stop_requested, s);
	s->hangup = evsignal_new(base, SIGHUP, reopen_log, s);
	if (s->term == NULL || s->interrupt == NULL || s->hangup == NULL ||
	    evsignal_add(s->term, NULL) || evsignal_add(s->interrupt, NULL) ||
	    evsignal_add(s->hangup, NULL)) {
		neo_signals_free(s);
		return NULL;
	}
	return s;
}
