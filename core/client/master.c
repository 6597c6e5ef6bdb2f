/*
 * client/master.c - the link to the primary master: finding it among the
 * configured masters, identification, node list, partition table, cluster
 * state, invalidations, readiness and reconnection (core/cluster/cluster.md
 * section 12), and the backstop that drops the connections of a call past its
 * deadline.  Calls client/util.c, calls.c (parked calls run once ready),
 * links.c (storages let go) and read.c (loads told of invalidations).
 */
#include "client/internal.h"

#include <stdio.h>
#include <string.h>

#include "cluster/nid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define IDENTIFICATION_TIMEOUT_MS 30000
#define NOT_READY_RETRY_MS 1000		/* as upstream: retry a busy master each second */

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
		client_run_parked(c);
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
		client_master_lost(c, "no answer to AskLastTransaction", true, 0);
		return;
	}
	if (answer->code != NEO_ANSWER_LAST_TRANSACTION) {
		client_master_lost(c, "bad answer to AskLastTransaction", true, 0);
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
	if (missed && c->on_invalidate) {
		unsigned depth = client_net_suspend(c);

		c->on_invalidate(c->invalidate_arg, tid, NULL, 0);
		client_net_resume(c, depth);
	}
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
	if (c->on_invalidate) {
		/* Not under the network lock: the application's callback may
		 * wait (for the GIL) on a thread that waits for the lock. */
		unsigned depth = client_net_suspend(c);

		c->on_invalidate(c->invalidate_arg, inv->tid, inv->oids.items, inv->oids.count);
		client_net_resume(c, depth);
	}
	/* As upstream (ZODB >= 5): last tid moves after the callback, so
	 * that nobody reads at tid before hearing of its changes. */
	pthread_mutex_lock(&c->lock);
	if (inv->tid > c->last_tid)
		c->last_tid = inv->tid;
	pthread_mutex_unlock(&c->lock);
}

static size_t master_index_of(struct neo_client *c, const struct neo_address *address)
{
	for (size_t i = 0; i < c->master_count; i++)
		if (c->masters[i].port == address->port
		    && strcmp(c->masters[i].host, address->host) == 0)
			return i;
	/* A master we were not told of: remembered for later tries. */
	if (neo_grow(&c->masters, &c->masters_capacity, c->master_count + 1,
		     sizeof *c->masters) < 0)
		return c->master_index;
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
			client_master_lost(c, "malformed partition table", true, 0);
			return;
		}
		update_ready(c);
		break;
	}
	case NEO_NOTIFY_PARTITION_CHANGES: {
		const struct neo_notify_partition_changes *changes = pkt->args;

		if (neo_ptable_apply(&c->pt, changes->ptid, changes->num_replicas,
				     &changes->changes) < 0) {
			client_master_lost(c, "partition change outside the table", true, 0);
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
	case NEO_FLUSH_LOG:
		/* as upstream: neoctl flush_log reaches clients too */
		neo_log_flush();
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
		client_master_lost(c, c->refusal, true, 0);
		return;
	}
	if (answer->code == NEO_ERROR) {
		const struct neo_error *error = answer->args;

		client_error_text(answer, c->refusal, sizeof c->refusal);
		/* As upstream: a master not ready (cluster not running) is
		 * asked again a bit later. */
		if (error->code == NEO_ERROR_NOT_READY)
			client_master_lost(c, c->refusal, false, NOT_READY_RETRY_MS);
		else
			client_master_lost(c, c->refusal, true, NOT_READY_RETRY_MS);
		return;
	}
	accept = answer->args;
	if (answer->code != NEO_ACCEPT_IDENTIFICATION || accept->node_type != NEO_NODE_MASTER
	    || !accept->your_uuid.has) {
		snprintf(c->refusal, sizeof c->refusal, "not a master");
		client_master_lost(c, c->refusal, true, NOT_READY_RETRY_MS);
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
		client_master_lost(c, "cannot ask the last transaction", true, 0);
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
		client_master_lost(c, "cannot identify", true, 0);
}

static void master_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct neo_client *c = arg;

	if (conn != c->master)
		return;
	c->master = NULL;
	if (!c->identified && !c->refusal[0])
		snprintf(c->refusal, sizeof c->refusal, "%s", reason);
	client_master_lost(c, reason, true, 0);
}

static const struct neo_conn_callbacks master_callbacks = {
	.on_ready = master_ready,
	.on_packet = master_packet,
	.on_close = master_closed,
};

void client_connect_master(struct neo_client *c)
{
	char err[200];

	if (c->master || c->stopping)
		return;
	c->master = client_connect(c, &c->masters[c->master_index], &master_callbacks, c, err,
				   sizeof err);
	if (c->master == NULL) {
		snprintf(c->refusal, sizeof c->refusal, "%s", err);
		client_master_lost(c, err, true, 0);
	}
}

void client_reconnect_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_connect_master(arg);
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
	neo_ptable_clear(&c->pt);
	client_links_close(c);
	neo_nodes_free(&c->nodes);
	neo_nodes_init(&c->nodes);
	update_ready(c);
}

void client_master_lost(struct neo_client *c, const char *why, bool next_master,
			unsigned delay_ms)
{
	struct timeval delay;

	forget_cluster(c, why);
	client_spare_oids_drop(c);
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
void client_check_overdue(evutil_socket_t fd, short what, void *arg)
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
			client_master_lost(c, "a call is past its deadline", false, 0);
			break;
		}
	if (!c->stopping)
		evtimer_add(c->overdue_timer, &tick);
}
