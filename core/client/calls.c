/*
 * client/calls.c - how user threads run their calls: under the network
 * lock in their own thread (or queued to the network thread over TLS
 * and to close), waiting for a call's end (bounded by its deadline),
 * ending it, and parking it until the cluster is ready again.  Calls
 * only client/util.c.
 */
#include "client/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define PARK_CHECK_MS 200
/* How long stores may wait in the output for the next ones: a loop of
 * stores makes one write, and a store followed by nothing (the
 * application waits on something else) still reaches the storages and
 * takes its locks at once, as far as the others can tell. */
#define BATCH_DELAY_US 500

static struct timespec deadline_timespec(uint64_t deadline_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ms / 1000),
			       .tv_nsec = (long)(deadline_ms % 1000) * 1000000L };

	return ts;
}

/*
 * The caller waits for the network thread, which ends every call by its
 * deadline: parked calls at it, requests time out by it, and a call
 * still running after it makes the network thread drop its connections
 * (check_overdue).  The call lives on the caller's stack, so the caller
 * cannot leave before the network thread lets go of it; past the
 * deadline it only prods the network thread, in case its timer is late.
 */
static void wait_done(struct neo_client *c, struct client_call *call)
{
	uint64_t next = call->deadline_ms + OVERDUE_GRACE_MS;

	while (!call->done) {
		struct timespec ts = deadline_timespec(next);

		if (pthread_cond_timedwait(&call->cond, &c->lock, &ts) == 0 || call->done)
			continue;
		if (client_now_ms() >= next) {
			event_active(c->overdue_timer, EV_TIMEOUT, 0);
			next = client_now_ms() + OVERDUE_CHECK_MS;
		}
	}
}

/* Under lock. */
static void call_init(struct neo_client *c, struct client_call *call)
{
	pthread_condattr_t attr;

	call->done = false;
	call->parked = false;
	call->timeout_note = NULL;
	call->next = NULL;
	call->next_active = NULL;
	call->deadline_ms = client_now_ms() + c->call_timeout_ms;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&call->cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* Under lock: the call goes to the network thread. */
static void call_queue(struct neo_client *c, struct client_call *call)
{
	struct client_call **tail;

	for (tail = &c->queue; *tail; tail = &(*tail)->next)
		;
	*tail = call;
	event_active(c->wakeup, EV_READ, 0);
}

/* Under net: the caller runs its call's network part itself, as the
 * network thread would (client_on_wakeup). */
static void call_run_here(struct neo_client *c, struct client_call *call)
{
	call->next_active = c->active;
	c->active = call;
	if (call->needs_ready && !c->ready)
		client_call_park(c, call, false);
	else
		call->run(c, call);
	if (call->batchable && call->done) {
		/* Stores left in the output: the answers in flight, the next
		 * call, or the batch timer writes them.  None left: no timer
		 * (arming it from here would wake the network thread). */
		if (c->stores_queued && !c->batch_armed) {
			struct timeval delay = { 0, BATCH_DELAY_US };

			c->batch_armed = evtimer_add(c->batch_timer, &delay) == 0;
			if (!c->batch_armed)
				client_flush_output(c);
		}
		return;
	}
	/* A call that waits needs its requests out (and the stores before
	 * them); so does what was sent while the network thread was
	 * reading (during an invalidation callback). */
	client_flush_output(c);
}

void client_batch_tick(evutil_socket_t fd, short what, void *arg)
{
	struct neo_client *c = arg;

	(void)fd;
	(void)what;
	c->batch_armed = false;
	client_flush_output(c);
}

int client_call(struct neo_client *c, struct client_call *call)
{
	bool here = c->direct && !call->in_loop;

	if (here)
		client_net_lock(c);
	pthread_mutex_lock(&c->lock);
	if (c->stopping) {
		pthread_mutex_unlock(&c->lock);
		if (here)
			client_net_unlock(c);
		return client_fail(NEO_CLIENT_INVALID, "client closed");
	}
	call_init(c, call);
	if (here) {
		pthread_mutex_unlock(&c->lock);
		call_run_here(c, call);
		client_net_unlock(c);
		pthread_mutex_lock(&c->lock);
	} else {
		call_queue(c, call);
	}
	wait_done(c, call);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&call->cond);
	client_set_errmsg(call->status != NEO_CLIENT_OK ? call->err : "");
	return call->status;
}

void client_call_done(struct neo_client *c, struct client_call *call, int status,
		      const char *fmt, ...)
{
	va_list ap;

	for (struct client_call **link = &c->active; *link; link = &(*link)->next_active)
		if (*link == call) {
			*link = call->next_active;
			break;
		}
	pthread_mutex_lock(&c->lock);
	call->status = status;
	call->err[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(call->err, sizeof call->err, fmt, ap);
		va_end(ap);
	}
	call->done = true;
	pthread_cond_signal(&call->cond);
	pthread_mutex_unlock(&c->lock);
}

void client_call_unanswered(struct neo_client *c, struct client_call *call,
			    enum neo_ask_status status)
{
	if (status == NEO_ASK_TIMEOUT)
		client_call_done(c, call, NEO_CLIENT_TIMEOUT,
				 "no answer from the primary master within the call timeout (%u ms)",
				 c->call_timeout_ms);
	else
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "lost the primary master");
}

static void arm_park_timer(struct neo_client *c)
{
	struct timeval tick = { 0, PARK_CHECK_MS * 1000 };

	if (c->parked && !evtimer_pending(c->park_timer, NULL))
		evtimer_add(c->park_timer, &tick);
}

void client_call_park(struct neo_client *c, struct client_call *call, bool forever)
{
	struct client_call **tail;
	uint64_t until = client_now_ms() + c->connect_timeout_ms;

	if (c->stopping) {
		client_call_done(c, call, NEO_CLIENT_INVALID, "client closed");
		return;
	}
	call->park_until_ms = forever || until > call->deadline_ms ? call->deadline_ms : until;
	call->parked = true;
	call->next = NULL;
	for (tail = &c->parked; *tail; tail = &(*tail)->next)
		;
	*tail = call;
	arm_park_timer(c);
}

void client_park_tick(evutil_socket_t fd, short what, void *arg)
{
	struct neo_client *c = arg;
	uint64_t now = client_now_ms();
	struct client_call **link = &c->parked;

	(void)fd;
	(void)what;
	while (*link) {
		struct client_call *call = *link;

		if (call->park_until_ms <= now) {
			*link = call->next;
			call->parked = false;
			if (call->park_until_ms >= call->deadline_ms)
				client_call_done(c, call, NEO_CLIENT_TIMEOUT,
						 "no answer within the call timeout (%u ms)%s%s%s%s",
						 c->call_timeout_ms, c->refusal[0] ? ": " : "",
						 c->refusal, call->timeout_note ? "; " : "",
						 call->timeout_note ? call->timeout_note : "");
			else
				client_call_done(c, call, NEO_CLIENT_DISCONNECTED,
						 "no operational cluster within %u ms%s%s",
						 c->connect_timeout_ms, c->refusal[0] ? ": " : "",
						 c->refusal);
		} else {
			link = &call->next;
		}
	}
	arm_park_timer(c);
}

void client_run_parked(struct neo_client *c)
{
	struct client_call *list = c->parked;

	c->parked = NULL;
	while (list && c->ready) {
		struct client_call *call = list;

		list = call->next;
		call->next = NULL;
		call->parked = false;
		call->run(c, call);
	}
	/* Lost again meanwhile: the rest waits on. */
	while (list) {
		struct client_call *call = list;

		list = call->next;
		call->next = c->parked;
		c->parked = call;
	}
}

void client_on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct neo_client *c = arg;
	struct client_call *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->lock);
	list = c->queue;
	c->queue = NULL;
	pthread_mutex_unlock(&c->lock);
	while (list) {
		struct client_call *call = list;

		list = call->next;
		call->next = NULL;
		call->next_active = c->active;
		c->active = call;
		if (call->needs_ready && !c->ready)
			client_call_park(c, call, false);
		else
			call->run(c, call);
	}
}
