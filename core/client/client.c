/*
 * client/client.c - libneoclient's lifecycle, its network thread, how user
 * threads hand calls to it, and the link to the primary master: finding
 * it among the configured masters, identification, node list, partition
 * table, cluster state, invalidations and reconnection
 * (core/cluster/cluster.md section 12).
 */
#include "client/internal.h"

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/thread.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "net/ssl.h"
#include "runtime/log.h"

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

static void use_pthreads(void)
{
	evthread_use_pthreads();
}

#define DEFAULT_CACHE_SIZE (20u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 30000
/* How long a call may block: long enough for a master failover and a
 * storage dropped for not answering pings (15 s) on a loaded machine,
 * short enough that an application is not stuck for good. */
#define DEFAULT_CALL_TIMEOUT_MS 60000
/* A call still running this long after its deadline means a step that
 * was not bounded: the connections are dropped so that it ends. */
#define OVERDUE_GRACE_MS 2000
#define OVERDUE_CHECK_MS 1000
#define IDENTIFICATION_TIMEOUT_MS 30000
#define NOT_READY_RETRY_MS 1000		/* as upstream: retry a busy master each second */
#define PARK_CHECK_MS 200

static _Thread_local char client_errmsg[256];

const char *neo_client_errmsg(void)
{
	return client_errmsg;
}

void neo_client_free(void *pointer)
{
	free(pointer);
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

/* --- Calls from user threads ------------------------------------------------------ */

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

int client_call(struct neo_client *c, struct client_call *call)
{
	struct client_call **tail;
	pthread_condattr_t attr;

	pthread_mutex_lock(&c->lock);
	if (c->stopping) {
		pthread_mutex_unlock(&c->lock);
		return client_fail(NEO_CLIENT_INVALID, "client closed");
	}
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
	for (tail = &c->queue; *tail; tail = &(*tail)->next)
		;
	*tail = call;
	event_active(c->wakeup, EV_READ, 0);
	wait_done(c, call);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&call->cond);
	if (call->status != NEO_CLIENT_OK)
		snprintf(client_errmsg, sizeof client_errmsg, "%s", call->err);
	else
		client_errmsg[0] = '\0';
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

unsigned client_ask_timeout(struct neo_client *c, const struct client_call *call)
{
	uint64_t now = client_now_ms();

	if (call == NULL)
		return c->call_timeout_ms;
	return call->deadline_ms > now ? (unsigned)(call->deadline_ms - now) : 1;
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

static void park_tick(evutil_socket_t fd, short what, void *arg)
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

static void run_parked(struct neo_client *c)
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

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
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

/* --- The primary master ------------------------------------------------------------- */

static void master_lost(struct neo_client *c, const char *why, bool next_master,
			unsigned delay_ms);

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

static bool node_running(void *ctx, int32_t nid)
{
	return client_node_running(ctx, nid);
}

static void set_open_ready(struct neo_client *c, bool ready)
{
	pthread_mutex_lock(&c->lock);
	c->open_ready = ready;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Ready: identified, last tid known, the cluster serving clients (RUNNING,
 * or BACKINGUP for a read-only client), every partition readable. */
static void update_ready(struct neo_client *c)
{
	bool serving = c->cluster_state == NEO_CLUSTER_RUNNING
		       || c->cluster_state == NEO_CLUSTER_BACKINGUP;
	bool ready = c->master && c->identified && c->have_last_tid && serving
		     && neo_ptable_operational(&c->pt, node_running, c);

	if (ready == c->ready)
		return;
	c->ready = ready;
	set_open_ready(c, ready);
	if (ready) {
		c->refusal[0] = '\0';
		neo_log(NEO_LOG_INFO, "connected to the cluster, ready");
		run_parked(c);
	}
}

static void answered_last_tid(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct neo_client *c = arg;
	uint64_t tid;
	bool missed = false;

	if (conn != c->master || status == NEO_ASK_CLOSED)
		return;
	if (status == NEO_ASK_TIMEOUT) {
		master_lost(c, "no answer to AskLastTransaction", true, 0);
		return;
	}
	if (answer->code != NEO_ANSWER_LAST_TRANSACTION) {
		master_lost(c, "bad answer to AskLastTransaction", true, 0);
		return;
	}
	tid = ((const struct neo_answer_last_transaction *)answer->args)->tid;
	pthread_mutex_lock(&c->lock);
	/* As upstream: after a reconnection, what changed meanwhile is
	 * unknown; newer transactions stale the current revisions, an older
	 * last tid (truncation) stales everything. */
	if (tid != c->last_tid && c->last_tid != 0) {
		missed = true;
		if (tid > c->last_tid)
			client_cache_clear_current(c->cache);
		else
			client_cache_clear(c->cache);
	}
	c->last_tid = tid;
	pthread_mutex_unlock(&c->lock);
	if (missed && c->on_invalidate)
		c->on_invalidate(c->invalidate_arg, tid, NULL, 0);
	c->have_last_tid = true;
	update_ready(c);
}

static void take_nodes(struct neo_client *c, const struct neo_notify_node_information *info)
{
	for (uint32_t i = 0; i < info->nodes.count; i++) {
		const struct neo_node_info *entry = &info->nodes.items[i];
		struct neo_node *gone = NULL, *node;

		if (entry->uuid.has && entry->uuid.v == c->nid && entry->id_timestamp.has)
			c->id_timestamp = entry->id_timestamp.v;
		node = neo_nodes_update(&c->nodes, entry, &gone);
		if (gone) {
			if (gone->type == NEO_NODE_STORAGE)
				client_link_drop(c, gone->nid, "storage left the cluster");
			neo_node_free(gone);
		} else if (node && node->type == NEO_NODE_STORAGE && node->state != NEO_NODE_RUNNING) {
			/* As upstream: a storage that stops running is let go. */
			client_link_drop(c, node->nid, "storage no longer running");
		}
	}
}

static void invalidate(struct neo_client *c, const struct neo_invalidate_objects *inv)
{
	/* As upstream: invalidations before the last tid is known are
	 * covered by it. */
	if (!c->have_last_tid)
		return;
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < inv->oids.count; i++) {
		client_cache_invalidate(c->cache, inv->oids.items[i], inv->tid);
		client_loads_invalidate(c, inv->oids.items[i], inv->tid);
	}
	pthread_mutex_unlock(&c->lock);
	if (c->on_invalidate)
		c->on_invalidate(c->invalidate_arg, inv->tid, inv->oids.items, inv->oids.count);
	/* As upstream (ZODB >= 5): last tid moves after the callback, so
	 * that nobody reads at tid before hearing of its changes. */
	pthread_mutex_lock(&c->lock);
	if (inv->tid > c->last_tid)
		c->last_tid = inv->tid;
	pthread_mutex_unlock(&c->lock);
}

static size_t master_index_of(struct neo_client *c, const struct neo_address *address)
{
	struct neo_address *grown;

	for (size_t i = 0; i < c->master_count; i++)
		if (c->masters[i].port == address->port
		    && strcmp(c->masters[i].host, address->host) == 0)
			return i;
	/* A master we were not told of: remembered for later tries. */
	grown = realloc(c->masters, (c->master_count + 1) * sizeof *grown);
	if (grown == NULL)
		return c->master_index;
	c->masters = grown;
	c->masters[c->master_count] = *address;
	return c->master_count++;
}

static void not_primary(struct neo_client *c, const struct neo_not_primary_master *hint)
{
	struct neo_address primary;
	int64_t index = hint->primary.has ? hint->primary.v : -1;

	if (index < 0 || index >= hint->known_masters.count
	    || !neo_address_from_wire(&hint->known_masters.items[index], &primary)) {
		snprintf(c->refusal, sizeof c->refusal, "%.150s:%u is not the primary master",
			 c->masters[c->master_index].host, c->masters[c->master_index].port);
		return;
	}
	/* The next try goes there (master_lost moves to the next index). */
	index = (int64_t)master_index_of(c, &primary);
	c->master_index = ((size_t)index + c->master_count - 1) % c->master_count;
	neo_log(NEO_LOG_INFO, "the primary master is %s:%u", primary.host, primary.port);
}

static void master_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct neo_client *c = arg;

	if (conn != c->master)
		return;
	switch (pkt->code) {
	case NEO_NOTIFY_NODE_INFORMATION:
		take_nodes(c, pkt->args);
		update_ready(c);
		break;
	case NEO_SEND_PARTITION_TABLE: {
		const struct neo_send_partition_table *send = pkt->args;

		if (neo_ptable_load(&c->pt, send->ptid.has ? send->ptid.v : 0, send->num_replicas,
				    &send->rows) < 0) {
			master_lost(c, "malformed partition table", true, 0);
			return;
		}
		update_ready(c);
		break;
	}
	case NEO_NOTIFY_PARTITION_CHANGES: {
		const struct neo_notify_partition_changes *changes = pkt->args;

		if (neo_ptable_apply(&c->pt, changes->ptid, changes->num_replicas,
				     &changes->changes) < 0) {
			master_lost(c, "partition change outside the table", true, 0);
			return;
		}
		update_ready(c);
		break;
	}
	case NEO_NOTIFY_CLUSTER_INFORMATION:
		c->cluster_state = ((const struct neo_notify_cluster_information *)pkt->args)->state;
		update_ready(c);
		break;
	case NEO_INVALIDATE_OBJECTS:
		invalidate(c, pkt->args);
		break;
	case NEO_STOP_OPERATION:
		neo_log(NEO_LOG_WARNING, "the master stops operation");
		c->cluster_state = NEO_CLUSTER_STOPPING;
		update_ready(c);
		break;
	case NEO_NOT_PRIMARY_MASTER:
		not_primary(c, pkt->args);
		break;
	default:
		neo_log(NEO_LOG_DEBUG, "ignored %s from the master", pkt->type->name);
		break;
	}
}

static void identified(struct neo_conn *conn, enum neo_ask_status status,
		       struct neo_packet *answer, void *arg)
{
	struct neo_client *c = arg;
	const struct neo_accept_identification *accept;

	if (conn != c->master)
		return;
	if (status != NEO_ASK_ANSWERED) {
		snprintf(c->refusal, sizeof c->refusal, "identification: %s",
			 client_ask_status_text(status));
		master_lost(c, c->refusal, true, 0);
		return;
	}
	if (answer->code == NEO_ERROR) {
		const struct neo_error *error = answer->args;

		client_error_text(answer, c->refusal, sizeof c->refusal);
		/* As upstream: a master not ready (cluster not running) is
		 * asked again a bit later. */
		if (error->code == NEO_ERROR_NOT_READY)
			master_lost(c, c->refusal, false, NOT_READY_RETRY_MS);
		else
			master_lost(c, c->refusal, true, NOT_READY_RETRY_MS);
		return;
	}
	accept = answer->args;
	if (answer->code != NEO_ACCEPT_IDENTIFICATION || accept->node_type != NEO_NODE_MASTER
	    || !accept->your_uuid.has) {
		snprintf(c->refusal, sizeof c->refusal, "not a master");
		master_lost(c, c->refusal, true, NOT_READY_RETRY_MS);
		return;
	}
	c->nid = (int32_t)accept->your_uuid.v;
	c->identified = true;
	/* Accepted clients are told of state changes only: it serves. */
	c->cluster_state = NEO_CLUSTER_RUNNING;
	{
		char name[16];

		neo_log(NEO_LOG_INFO, "identified as %s by %s", neo_nid_format(c->nid, name, sizeof name),
			neo_conn_peer(conn));
	}
	if (neo_conn_ask(conn, NEO_ASK_LAST_TRANSACTION, NULL, IDENTIFICATION_TIMEOUT_MS,
			 answered_last_tid, c) < 0)
		master_lost(c, "cannot ask the last transaction", true, 0);
}

static void master_ready(struct neo_conn *conn, void *arg)
{
	struct neo_client *c = arg;
	struct neo_request_identification req;
	struct neo_bin key = { (const uint8_t *)"read_only", 9 };
	msgpack_object yes = { .type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = true };

	/* As upstream: our previous id is proposed again, no address. */
	neo_identification_init(&req, NEO_NODE_CLIENT, c->nid, NULL, c->cluster);
	if (c->read_only) {
		req.extra.keys = &key;
		req.extra.values = &yes;
		req.extra.count = 1;
	}
	if (neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, IDENTIFICATION_TIMEOUT_MS,
			 identified, c) < 0)
		master_lost(c, "cannot identify", true, 0);
}

static void master_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct neo_client *c = arg;

	if (conn != c->master)
		return;
	c->master = NULL;
	if (!c->identified && !c->refusal[0])
		snprintf(c->refusal, sizeof c->refusal, "%s", reason);
	master_lost(c, reason, true, 0);
}

static const struct neo_conn_callbacks master_callbacks = {
	.on_ready = master_ready,
	.on_packet = master_packet,
	.on_close = master_closed,
};

static void connect_master(struct neo_client *c)
{
	char err[200];

	if (c->master || c->stopping)
		return;
	c->master = neo_conn_connect(c->base, &c->masters[c->master_index], c->ssl,
				     &master_callbacks, c, err, sizeof err);
	if (c->master == NULL) {
		snprintf(c->refusal, sizeof c->refusal, "%s", err);
		master_lost(c, err, true, 0);
	}
}

static void reconnect_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_master(arg);
}

/* Forgets the cluster as the lost master described it.  The generation
 * moves first, so that whatever the closing connections call back knows
 * the master is gone. */
static void forget_cluster(struct neo_client *c, const char *why)
{
	struct neo_conn *conn = c->master;

	if (c->identified)
		neo_log(NEO_LOG_WARNING, "lost the primary master: %s", why);
	c->identified = false;
	c->have_last_tid = false;
	c->generation++;
	c->master = NULL;
	if (conn)
		neo_conn_abort(conn, why);
	neo_ptable_free(&c->pt);
	neo_ptable_init(&c->pt, 0, 0);
	client_links_close(c);
	neo_nodes_free(&c->nodes);
	neo_nodes_init(&c->nodes);
	update_ready(c);
}

static void master_lost(struct neo_client *c, const char *why, bool next_master,
			unsigned delay_ms)
{
	struct timeval delay;

	forget_cluster(c, why);
	if (next_master)
		c->master_index = (c->master_index + 1) % c->master_count;
	if (c->stopping)
		return;
	/* A single master is not hammered: one try per second at most. */
	if (delay_ms == 0)
		delay_ms = c->master_count > 1 ? 200 : 1000;
	delay.tv_sec = delay_ms / 1000;
	delay.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(c->reconnect, &delay);
}

/* --- Overdue calls ---------------------------------------------------------------- */

/*
 * Every step of a call is bounded (requests time out, parks end at the
 * deadline), so this should never fire; it is the backstop that keeps
 * the promise that no call blocks for good, should some step not be.
 * Dropping the connections fails whatever the call waits for: it then
 * ends, or parks and ends at its (past) deadline.
 */
static void check_overdue(evutil_socket_t fd, short what, void *arg)
{
	struct neo_client *c = arg;
	uint64_t now = client_now_ms();
	struct timeval tick = { OVERDUE_CHECK_MS / 1000, (OVERDUE_CHECK_MS % 1000) * 1000 };

	(void)fd;
	(void)what;
	for (struct client_call *call = c->active; call; call = call->next_active)
		if (!call->parked && now >= call->deadline_ms + OVERDUE_GRACE_MS) {
			neo_log(NEO_LOG_ERROR, "a call is %llu ms past its deadline: "
				"dropping the connections to end it",
				(unsigned long long)(now - call->deadline_ms));
			master_lost(c, "a call is past its deadline", false, 0);
			break;
		}
	if (!c->stopping)
		evtimer_add(c->overdue_timer, &tick);
}

/* --- Lifecycle ---------------------------------------------------------------------- */

static void *network_thread(void *arg)
{
	struct neo_client *c = arg;
	sigset_t pipe;

	/* A write to a storage or master that went away must fail with EPIPE,
	 * not kill the application: SIGPIPE is blocked in this thread (which
	 * does all the writes), without changing the process's handling. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);

	connect_master(c);
	check_overdue(-1, 0, c);
	event_base_loop(c->base, EVLOOP_NO_EXIT_ON_EMPTY);
	/* Connections free themselves from the loop: one last turn. */
	event_base_loop(c->base, EVLOOP_NONBLOCK);
	return NULL;
}

static void stop_loop(struct neo_client *c, struct client_call *call)
{
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	evtimer_del(c->reconnect);
	evtimer_del(c->park_timer);
	evtimer_del(c->overdue_timer);
	master_lost(c, "client closing", false, 0);
	client_txns_close(c);
	while (c->parked) {
		struct client_call *parked = c->parked;

		c->parked = parked->next;
		client_call_done(c, parked, NEO_CLIENT_INVALID, "client closed");
	}
	event_base_loopexit(c->base, NULL);
	/* Why the cluster could not be reached, for a failed open. */
	client_call_done(c, call, NEO_CLIENT_OK, "%s", c->refusal);
}

/*
 * The log is one per process and not made to change while other threads
 * write to it: the first client opened sets it up, quiet (errors only, to
 * stderr) unless given a log file, and later clients share it.
 */
static void setup_log(const char *logfile)
{
	static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
	static bool done;

	pthread_mutex_lock(&once_lock);
	if (!done) {
		if (logfile)
			neo_log_open(logfile, NEO_LOG_INFO, "client");
		else
			neo_log_set_level(NEO_LOG_ERROR);
		done = true;
	}
	pthread_mutex_unlock(&once_lock);
}

static int client_configure(struct neo_client *c, const struct neo_client_config *config)
{
	char err[256];

	/* Callers built before call_timeout_ms existed pass a shorter struct. */
	if (config == NULL || config->struct_size < offsetof(struct neo_client_config, call_timeout_ms)
	    || config->cluster == NULL
	    || config->masters == NULL || config->cluster[0] == '\0')
		return client_fail(NEO_CLIENT_INVALID, "cluster and masters are required");
	if (config->compress < -1 || config->compress > 9)
		return client_fail(NEO_CLIENT_INVALID, "compress must be -1 to 9");
	c->cluster = strdup(config->cluster);
	if (c->cluster == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (neo_address_list_parse(config->masters, 10000, &c->masters, &c->master_count, err,
				   sizeof err) < 0)
		return client_fail(NEO_CLIENT_INVALID, "masters: %s", err);
	if (c->master_count == 0)
		return client_fail(NEO_CLIENT_INVALID, "masters: no address");
	if (config->ca || config->cert || config->key) {
		if (!config->ca || !config->cert || !config->key)
			return client_fail(NEO_CLIENT_INVALID, "SSL needs ca, cert and key");
		c->ssl = neo_ssl_context_new(config->ca, config->cert, config->key, err, sizeof err);
		if (c->ssl == NULL)
			return client_fail(NEO_CLIENT_INVALID, "%s", err);
	}
	setup_log(config->logfile);
	c->read_only = config->read_only;
	c->compress = config->compress;
	c->connect_timeout_ms = config->connect_timeout_ms ? config->connect_timeout_ms
							   : DEFAULT_CONNECT_TIMEOUT_MS;
	c->call_timeout_ms = DEFAULT_CALL_TIMEOUT_MS;
	if (config->struct_size >= offsetof(struct neo_client_config, call_timeout_ms)
				   + sizeof config->call_timeout_ms && config->call_timeout_ms)
		c->call_timeout_ms = config->call_timeout_ms;
	c->on_invalidate = config->on_invalidate;
	c->invalidate_arg = config->invalidate_arg;
	c->cache = client_cache_new(config->cache_size ? config->cache_size : DEFAULT_CACHE_SIZE);
	return c->cache ? NEO_CLIENT_OK : client_fail(NEO_CLIENT_NOMEM, "out of memory");
}

static void client_destroy(struct neo_client *c)
{
	if (c->wakeup)
		event_free(c->wakeup);
	if (c->reconnect)
		event_free(c->reconnect);
	if (c->park_timer)
		event_free(c->park_timer);
	if (c->overdue_timer)
		event_free(c->overdue_timer);
	if (c->base)
		event_base_free(c->base);
	client_cache_free(c->cache);
	neo_nodes_free(&c->nodes);
	neo_ptable_free(&c->pt);
	neo_idmap_free(&c->links);
	neo_idmap_free(&c->txns);
	free(c->failures);
	if (c->ssl)
		SSL_CTX_free(c->ssl);
	free(c->masters);
	free(c->cluster);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

static bool wait_ready(struct neo_client *c)
{
	struct timespec deadline;
	bool ready;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->connect_timeout_ms / 1000;
	deadline.tv_nsec += (long)(c->connect_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->open_ready)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
			break;
	ready = c->open_ready;
	pthread_mutex_unlock(&c->lock);
	return ready;
}

static int client_start(struct neo_client *c)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	neo_nodes_init(&c->nodes);
	neo_ptable_init(&c->pt, 0, 0);
	neo_idmap_init(&c->links);
	neo_idmap_init(&c->txns);
	/* Calls come from other threads through event_active.  libevent's
	 * locking is set up once per process: two clients opened at the same
	 * time from two threads made libevent abort. */
	pthread_once(&evthread_once, use_pthreads);
	c->base = event_base_new();
	if (c->base == NULL)
		return -1;
	c->wakeup = event_new(c->base, -1, EV_PERSIST | EV_READ, on_wakeup, c);
	c->reconnect = evtimer_new(c->base, reconnect_tick, c);
	c->park_timer = evtimer_new(c->base, park_tick, c);
	c->overdue_timer = evtimer_new(c->base, check_overdue, c);
	return c->wakeup && c->reconnect && c->park_timer && c->overdue_timer ? 0 : -1;
}

/* Stops the network thread and frees c; why gets the last refusal. */
static void client_stop(struct neo_client *c, char *why, size_t len)
{
	struct client_call call = { .run = stop_loop };

	client_call(c, &call);
	if (why)
		snprintf(why, len, "%.*s", (int)(len ? len - 1 : 0), call.err);
	pthread_join(c->thread, NULL);
	client_destroy(c);
}

int neo_client_open(const struct neo_client_config *config, struct neo_client **client)
{
	struct neo_client *c = calloc(1, sizeof *c);
	char refusal[sizeof c->refusal];
	unsigned timeout_ms;
	int status;

	*client = NULL;
	if (c == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (client_start(c) < 0) {
		client_destroy(c);
		return client_fail(NEO_CLIENT_NOMEM, "cannot set up the event loop");
	}
	status = client_configure(c, config);
	if (status != NEO_CLIENT_OK) {
		client_destroy(c);
		return status;
	}
	if (pthread_create(&c->thread, NULL, network_thread, c) != 0) {
		client_destroy(c);
		return client_fail(NEO_CLIENT_NOMEM, "cannot start the network thread");
	}
	timeout_ms = c->connect_timeout_ms;
	if (!wait_ready(c)) {
		client_stop(c, refusal, sizeof refusal);
		return client_fail(NEO_CLIENT_TIMEOUT,
				   "no operational cluster '%s' reached in %u ms%s%s",
				   config->cluster, timeout_ms, refusal[0] ? ": " : "",
				   refusal);
	}
	*client = c;
	return NEO_CLIENT_OK;
}

void neo_client_close(struct neo_client *c)
{
	if (c)
		client_stop(c, NULL, 0);
}

/* --- Data encoding ---------------------------------------------------------------- */

bool client_checksum_is_zero(const struct neo_bin *checksum)
{
	for (uint32_t i = 0; i < checksum->size; i++)
		if (checksum->data[i])
			return false;
	return true;
}

static int inflate_all(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size)
{
	for (size_t capacity = size * 4 + 64;; capacity *= 2) {
		uLongf length = capacity;
		uint8_t *buffer = malloc(capacity);
		int rc;

		if (buffer == NULL)
			return NEO_CLIENT_NOMEM;
		rc = uncompress(buffer, &length, data, size);
		if (rc == Z_OK) {
			*out = buffer;
			*out_size = length;
			return NEO_CLIENT_OK;
		}
		free(buffer);
		if (rc != Z_BUF_ERROR || capacity > (1u << 30))
			return NEO_CLIENT_PROTOCOL;
	}
}

int client_decode_data(const uint8_t *data, size_t size, int compression,
		       const uint8_t checksum[20], uint8_t **out, size_t *out_size,
		       char *err, size_t errlen)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int digest_size = 0;

	*out = NULL;
	*out_size = 0;
	if (!EVP_Digest(data, size, digest, &digest_size, EVP_sha1(), NULL) || digest_size != 20
	    || memcmp(digest, checksum, 20) != 0) {
		snprintf(err, errlen, "wrong checksum");
		return NEO_CLIENT_PROTOCOL;
	}
	if (compression == 0) {
		*out = malloc(size ? size : 1);
		if (*out == NULL)
			return NEO_CLIENT_NOMEM;
		if (size)
			memcpy(*out, data, size);
		*out_size = size;
		return NEO_CLIENT_OK;
	}
	if (compression != 1) {
		snprintf(err, errlen, "unknown compression %d", compression);
		return NEO_CLIENT_PROTOCOL;
	}
	if (inflate_all(data, size, out, out_size) != NEO_CLIENT_OK) {
		snprintf(err, errlen, "cannot decompress data");
		return NEO_CLIENT_PROTOCOL;
	}
	return NEO_CLIENT_OK;
}

int client_encode_data(int level, const void *data, size_t size, uint8_t **out,
		       size_t *out_size, int *compression, uint8_t checksum[20])
{
	unsigned int digest_size = 0;
	uint8_t digest[EVP_MAX_MD_SIZE];

	*compression = 0;
	*out = NULL;
	if (level != 0 && size > 0) {
		uLongf length = compressBound(size);
		uint8_t *buffer = malloc(length);

		/* As upstream: compressed only when it makes data smaller. */
		if (buffer && compress2(buffer, &length, data, size, level < 0 ? Z_DEFAULT_COMPRESSION
										: level) == Z_OK
		    && length < size) {
			*out = buffer;
			*out_size = length;
			*compression = 1;
		} else {
			free(buffer);
		}
	}
	if (*out == NULL) {
		*out = malloc(size ? size : 1);
		if (*out == NULL)
			return NEO_CLIENT_NOMEM;
		if (size)
			memcpy(*out, data, size);
		*out_size = size;
	}
	if (!EVP_Digest(*out, *out_size, digest, &digest_size, EVP_sha1(), NULL)
	    || digest_size != 20) {
		free(*out);
		*out = NULL;
		return NEO_CLIENT_NOMEM;
	}
	memcpy(checksum, digest, 20);
	return NEO_CLIENT_OK;
}
