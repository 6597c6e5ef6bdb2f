/* net/signals.c - see net/signals.h. */
#include "net/signals.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/log.h"

enum { SIG_TERM, SIG_INT, SIG_HUP, SIG_FLUSH, SIG_REOPEN, SIG_DUMP, SIG_DEBUG, SIG_COUNT };

struct neo_signals {
	struct event_base *base;
	struct event *events[SIG_COUNT];
	void (*on_stop)(int signum, void *arg);
	void *arg;
	void (*dump)(void *arg);
	void *dump_arg;
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

/* "SIGHUP" or "SIGRTMIN+1", for the log lines. */
static const char *signal_name(int signum, char *buf, size_t size)
{
	if (signum == SIGHUP)
		return "SIGHUP";
	if (signum == SIGRTMIN)
		return "SIGRTMIN";
	snprintf(buf, size, "SIGRTMIN+%d", signum - SIGRTMIN);
	return buf;
}

static void reopen_log(evutil_socket_t signum, short what, void *ctx)
{
	char buf[32];
	const char *name = signal_name((int)signum, buf, sizeof buf);

	(void)what;
	(void)ctx;
	/* What was kept goes to the old file, with the lines around it. */
	neo_log_flush();
	if (neo_log_reopen() != 0)
		neo_log(NEO_LOG_ERROR, "%s: cannot reopen the log file; still writing to the old one",
			name);
	else
		neo_log(NEO_LOG_INFO, "%s: log file reopened", name);
}

static void flush_log(evutil_socket_t signum, short what, void *ctx)
{
	size_t n;

	(void)signum;
	(void)what;
	(void)ctx;
	/* as upstream: SIGRTMIN writes what the logger keeps in memory */
	n = neo_log_flush();
	neo_log(NEO_LOG_INFO, "SIGRTMIN: log flushed (%zu kept records written)", n);
}

static void dump_state(evutil_socket_t signum, short what, void *ctx)
{
	struct neo_signals *s = ctx;

	(void)signum;
	(void)what;
	if (s->dump == NULL) {
		neo_log(NEO_LOG_INFO, "SIGRTMIN+2: this node has no state to dump");
		return;
	}
	neo_log(NEO_LOG_INFO, "SIGRTMIN+2: the node's state follows");
	s->dump(s->dump_arg);
}

static void no_debug_module(evutil_socket_t signum, short what, void *ctx)
{
	(void)signum;
	(void)what;
	(void)ctx;
	neo_log(NEO_LOG_WARNING, "SIGRTMIN+3 ignored: it loads upstream's Python debug module, "
		"which NEO in C has no equivalent of");
}

void neo_signals_set_dump(struct neo_signals *s, void (*dump)(void *arg), void *arg)
{
	s->dump = dump;
	s->dump_arg = arg;
}

void neo_signals_free(struct neo_signals *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < SIG_COUNT; i++)
		if (s->events[i] != NULL)
			event_free(s->events[i]);
	neo_free(s);
}

struct neo_signals *neo_signals_install(struct event_base *base,
					void (*on_stop)(int signum, void *arg), void *arg)
{
	struct neo_signals *s = neo_calloc(1, sizeof(*s));
	struct {
		int signum;
		event_callback_fn cb;
	} table[SIG_COUNT] = {
		[SIG_TERM] = { SIGTERM, stop_requested },
		[SIG_INT] = { SIGINT, stop_requested },
		[SIG_HUP] = { SIGHUP, reopen_log },
		/* as upstream: the logger's SIGRTMIN and SIGRTMIN+1, the
		 * debugger's SIGRTMIN+2 and SIGRTMIN+3 */
		[SIG_FLUSH] = { SIGRTMIN, flush_log },
		[SIG_REOPEN] = { SIGRTMIN + 1, reopen_log },
		[SIG_DUMP] = { SIGRTMIN + 2, dump_state },
		[SIG_DEBUG] = { SIGRTMIN + 3, no_debug_module },
	};

	if (s == NULL)
		return NULL;
	/* A write to a peer that went away must fail with EPIPE (and close
	 * that connection), not kill the node: a node continued after a
	 * SIGSTOP finds its connections closed under it. */
	signal(SIGPIPE, SIG_IGN);
	s->base = base;
	s->on_stop = on_stop;
	s->arg = arg;
	for (int i = 0; i < SIG_COUNT; i++) {
		s->events[i] = evsignal_new(base, table[i].signum, table[i].cb, s);
		if (s->events[i] == NULL || evsignal_add(s->events[i], NULL) != 0) {
			neo_signals_free(s);
			return NULL;
		}
	}
	return s;
}
