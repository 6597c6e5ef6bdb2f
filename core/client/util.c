/*
 * client/util.c - what every file of libneoclient calls: the calling
 * thread's error message, the clock, the text and status of an answer,
 * a node's state, a request to the primary master with what is left
 * of a call's time, and the network lock.  A leaf: it calls no other
 * file of client/.
 */
#include "client/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "runtime/alloc.h"

static _Thread_local char client_errmsg[256];
/* The client whose network lock this thread holds, and how many times
 * (the lock is taken again by a thread that holds it: a callback that
 * connects, a call from inside a callback). */
static _Thread_local const struct neo_client *net_holder;
static _Thread_local unsigned net_depth;

const char *neo_client_errmsg(void)
{
	return client_errmsg;
}

void neo_client_free(void *pointer)
{
	neo_free(pointer);
}

int client_fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(client_errmsg, sizeof client_errmsg, fmt, ap);
	va_end(ap);
	return status;
}

uint64_t client_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

void client_set_errmsg(const char *text)
{
	snprintf(client_errmsg, sizeof client_errmsg, "%s", text);
}

unsigned client_ask_timeout(struct neo_client *c, const struct client_call *call)
{
	uint64_t now = client_now_ms();

	if (call == NULL)
		return c->call_timeout_ms;
	return call->deadline_ms > now ? (unsigned)(call->deadline_ms - now) : 1;
}

/* --- Answers ------------------------------------------------------------------------ */

int client_error_status(const struct neo_packet *answer)
{
	const struct neo_error *error;

	if (answer == NULL || answer->code != NEO_ERROR)
		return NEO_CLIENT_PROTOCOL;
	error = answer->args;
	switch (error->code) {
	case NEO_ERROR_OID_DOES_NOT_EXIST: return NEO_CLIENT_NOT_FOUND;
	case NEO_ERROR_OID_NOT_FOUND: return NEO_CLIENT_NO_DATA;
	case NEO_ERROR_TID_NOT_FOUND: return NEO_CLIENT_TID_NOT_FOUND;
	case NEO_ERROR_READ_ONLY_ACCESS: return NEO_CLIENT_READ_ONLY;
	case NEO_ERROR_INCOMPLETE_TRANSACTION: return NEO_CLIENT_INCOMPLETE;
	case NEO_ERROR_UNDO_PACK_ERROR: return NEO_CLIENT_UNDO_ERROR;
	case NEO_ERROR_NOT_READY:
	case NEO_ERROR_NON_READABLE_CELL: return NEO_CLIENT_UNAVAILABLE;
	default: return NEO_CLIENT_PROTOCOL;
	}
}

void client_error_text(const struct neo_packet *answer, char *buf, size_t len)
{
	if (answer && answer->code == NEO_ERROR) {
		const struct neo_error *error = answer->args;

		snprintf(buf, len, "%.*s", (int)error->message.size,
			 (const char *)error->message.data);
	} else {
		snprintf(buf, len, "unexpected answer %s", answer ? answer->type->name : "(none)");
	}
}

const char *client_ask_status_text(enum neo_ask_status status)
{
	return status == NEO_ASK_TIMEOUT ? "no answer in time" : "connection lost";
}

/* --- The primary master, as others ask it -------------------------------------------- */

bool client_master_ask(struct neo_client *c, const struct client_call *call, uint16_t code,
		       const void *args, neo_answer_cb cb, void *arg)
{
	return c->master && c->identified
	       && neo_conn_ask(c->master, code, args, client_ask_timeout(c, call), cb, arg) >= 0;
}

bool client_node_running(struct neo_client *c, int32_t nid)
{
	struct neo_node *node = neo_nodes_by_nid(&c->nodes, nid);

	return node && node->state == NEO_NODE_RUNNING;
}

/* --- The network lock -------------------------------------------------------------- */

void client_net_lock(struct neo_client *c)
{
	if (net_holder == c) {
		net_depth++;
		return;
	}
	pthread_mutex_lock(&c->net);
	net_holder = c;
	net_depth = 1;
}

void client_net_unlock(struct neo_client *c)
{
	if (net_holder != c || --net_depth > 0)
		return;
	net_holder = NULL;
	pthread_mutex_unlock(&c->net);
}

unsigned client_net_suspend(struct neo_client *c)
{
	unsigned depth = net_depth;

	if (net_holder != c)
		return 0;
	net_holder = NULL;
	net_depth = 0;
	pthread_mutex_unlock(&c->net);
	return depth;
}

void client_net_resume(struct neo_client *c, unsigned depth)
{
	if (depth == 0)
		return;
	pthread_mutex_lock(&c->net);
	net_holder = c;
	net_depth = depth;
}

static void guard_lock(void *arg)
{
	client_net_lock(arg);
}

static void guard_unlock(void *arg)
{
	client_net_unlock(arg);
}

struct neo_conn *client_connect(struct neo_client *c, const struct neo_address *addr,
				const struct neo_conn_callbacks *callbacks, void *arg, char *err,
				size_t errlen)
{
	struct neo_conn_guard guard = { guard_lock, guard_unlock, c };

	if (c->direct)
		return neo_conn_connect_guarded(c->base, addr, callbacks, arg, &guard, err,
						errlen);
	return neo_conn_connect(c->base, addr, c->ssl, callbacks, arg, err, errlen);
}

void client_flush_output(struct neo_client *c)
{
	size_t index = 0;
	uint64_t key;
	void *value;

	c->stores_queued = false;
	if (c->master && c->identified)
		neo_conn_flush(c->master);
	while (neo_idmap_next(&c->links, &index, &key, &value)) {
		struct client_link *link = value;

		if (link->conn && link->identified)
			neo_conn_flush(link->conn);
	}
}
