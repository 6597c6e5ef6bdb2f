/*
 * client/links.c - the client's connections to storage nodes: made on
 * demand, identified as CLIENT with the id and id_timestamp the master
 * gave us (as upstream), dropped when the master says the node left or
 * stopped running.  Also which cells of a partition to read from (random
 * order, nodes that failed us in the last 600 s last) or write to.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "runtime/log.h"
#include "runtime/alloc.h"

/* As upstream (MAX_FAILURE_AGE): how long a node that failed us is
 * tried last. */
#define FAILURE_AGE_MS 600000u
#define IDENTIFICATION_TIMEOUT_MS 30000

static uint64_t link_key(int32_t nid)
{
	return (uint64_t)(uint32_t)nid;
}

static void link_run_waiters(struct neo_client *c, struct client_link *link, bool ok)
{
	while (link->waiters) {
		struct link_waiter *w = link->waiters;

		link->waiters = w->next;
		w->fn(c, ok ? link : NULL, w->arg, ok);
		neo_free(w);
	}
}

static void link_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct client_link *link = arg;

	(void)conn;
	if (pkt->code == NEO_NOTIFY_DEADLOCK)
		link->c->on_deadlock(link->c, link, pkt->args);
	else
		neo_log(NEO_LOG_DEBUG, "ignored %s from a storage", pkt->type->name);
}

static void link_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct client_link *link = arg;
	struct neo_client *c = link->c;

	(void)conn;
	if (!link->identified) {
		char name[16];

		neo_log(NEO_LOG_WARNING, "cannot reach storage %s: %s",
			neo_nid_format(link->nid, name, sizeof name), reason);
		client_note_failure(c, link->nid);
	}
	link->conn = NULL;
	neo_idmap_remove(&c->links, link_key(link->nid));
	link_run_waiters(c, link, false);
	neo_free(link);
}

static void link_identified(struct neo_conn *conn, enum neo_ask_status status,
			    struct neo_packet *answer, void *arg)
{
	struct client_link *link = arg;
	const struct neo_accept_identification *accept;

	if (status == NEO_ASK_TIMEOUT)
		neo_conn_abort(conn, "no answer to identification");
	if (status != NEO_ASK_ANSWERED)
		return;		/* the close callback fails the waiters */
	accept = answer->args;
	if (answer->code != NEO_ACCEPT_IDENTIFICATION || accept->node_type != NEO_NODE_STORAGE) {
		char text[160];

		/* NOT_READY included: as upstream, the node is tried last
		 * for a while. */
		client_error_text(answer, text, sizeof text);
		neo_conn_abort(conn, text);
		return;
	}
	link->identified = true;
	link_run_waiters(link->c, link, true);
}

static void link_ready(struct neo_conn *conn, void *arg)
{
	struct client_link *link = arg;
	struct neo_client *c = link->c;
	struct neo_request_identification req;

	neo_identification_init(&req, NEO_NODE_CLIENT, c->nid, NULL, c->cluster);
	/* Lets the storage tell this incarnation of us from a previous one. */
	req.id_timestamp = (struct neo_opt_float){ c->id_timestamp != 0, c->id_timestamp };
	if (neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, IDENTIFICATION_TIMEOUT_MS,
			 link_identified, link) < 0)
		neo_conn_abort(conn, "cannot identify");
}

static const struct neo_conn_callbacks link_callbacks = {
	.on_ready = link_ready,
	.on_packet = link_packet,
	.on_close = link_closed,
};

static struct client_link *link_new(struct neo_client *c, int32_t nid)
{
	struct neo_node *node = neo_nodes_by_nid(&c->nodes, nid);
	struct client_link *link;
	char err[200];

	if (c->stopping || !c->identified || node == NULL || !node->has_address
	    || node->type != NEO_NODE_STORAGE || node->state != NEO_NODE_RUNNING)
		return NULL;
	link = neo_calloc(1, sizeof *link);
	if (link == NULL)
		return NULL;
	link->c = c;
	link->nid = nid;
	if (neo_idmap_put(&c->links, link_key(nid), link) < 0) {
		neo_free(link);
		return NULL;
	}
	link->conn = client_connect(c, &node->address, &link_callbacks, link, err, sizeof err);
	if (link->conn == NULL) {
		neo_log(NEO_LOG_WARNING, "cannot connect to %s:%u: %s", node->address.host,
			node->address.port, err);
		client_note_failure(c, nid);
		neo_idmap_remove(&c->links, link_key(nid));
		neo_free(link);
		return NULL;
	}
	return link;
}

void client_link_get(struct neo_client *c, int32_t nid, link_ready_fn fn, void *arg)
{
	struct client_link *link = neo_idmap_get(&c->links, link_key(nid));
	struct link_waiter *w;

	if (link && link->identified) {
		fn(c, link, arg, true);
		return;
	}
	if (link == NULL && (link = link_new(c, nid)) == NULL) {
		fn(c, NULL, arg, false);
		return;
	}
	w = neo_malloc(sizeof *w);
	if (w == NULL) {
		fn(c, NULL, arg, false);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	w->next = NULL;
	/* In order: the first asked is the first sent. */
	{
		struct link_waiter **tail = &link->waiters;

		while (*tail)
			tail = &(*tail)->next;
		*tail = w;
	}
}

struct client_link *client_link_identified(struct neo_client *c, int32_t nid)
{
	struct client_link *link = neo_idmap_get(&c->links, link_key(nid));

	return link && link->identified && link->conn ? link : NULL;
}

void client_link_drop(struct neo_client *c, int32_t nid, const char *why)
{
	struct client_link *link = neo_idmap_get(&c->links, link_key(nid));

	if (link && link->conn)
		neo_conn_abort(link->conn, why);
}

void client_links_close(struct neo_client *c)
{
	size_t index = 0, count = 0;
	uint64_t key;
	void *value;
	int32_t *nids = neo_malloc((c->links.count + 1) * sizeof *nids);

	/* Closing calls back into the map: collect first. */
	while (nids && neo_idmap_next(&c->links, &index, &key, &value))
		nids[count++] = ((struct client_link *)value)->nid;
	for (size_t i = 0; i < count; i++)
		client_link_drop(c, nids[i], "closing");
	neo_free(nids);
}

/* --- Failures ------------------------------------------------------------------ */

void client_note_failure(struct neo_client *c, int32_t nid)
{
	uint64_t until = client_now_ms() + FAILURE_AGE_MS;

	for (size_t i = 0; i < c->failure_count; i++)
		if (c->failures[i].nid == nid) {
			c->failures[i].until_ms = until;
			return;
		}
	if (neo_grow(&c->failures, &c->failures_capacity, c->failure_count + 1,
		     sizeof *c->failures) < 0)
		return;
	c->failures[c->failure_count++] = (struct node_failure){ nid, until };
}

/* When nid last failed us (its failure's end), 0 if not lately. */
static uint64_t failed_until(struct neo_client *c, int32_t nid, uint64_t now)
{
	for (size_t i = 0; i < c->failure_count; i++)
		if (c->failures[i].nid == nid) {
			if (c->failures[i].until_ms > now)
				return c->failures[i].until_ms;
			c->failures[i] = c->failures[--c->failure_count];
			return 0;
		}
	return 0;
}

/* --- Cells ------------------------------------------------------------------------ */

static uint32_t cells(struct neo_client *c, uint32_t partition, int32_t *nids, uint32_t max,
		      bool readable)
{
	uint32_t count = 0;

	if (partition >= c->pt.num_partitions)
		return 0;
	for (uint32_t i = 0; i < c->pt.rows[partition].count && count < max; i++) {
		const struct neo_pt_cell *cell = &c->pt.rows[partition].cells[i];

		if (!client_node_running(c, cell->nid))
			continue;
		if (readable ? neo_cell_readable(cell->state) : neo_cell_writable(cell->state))
			nids[count++] = cell->nid;
	}
	return count;
}

uint32_t client_readable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max)
{
	uint32_t count = cells(c, partition, nids, max, true);
	uint64_t now = client_now_ms(), keys[CLIENT_MAX_CELLS];

	/* As upstream: a random order spreads the load; nodes that failed
	 * lately come last, oldest failure first. */
	for (uint32_t i = 0; i < count; i++) {
		uint64_t until = failed_until(c, nids[i], now);

		keys[i] = until ? 1ull << 63 | until : (uint64_t)rand();
	}
	for (uint32_t i = 1; i < count; i++)
		for (uint32_t j = i; j > 0 && keys[j - 1] > keys[j]; j--) {
			uint64_t key = keys[j];
			int32_t nid = nids[j];

			keys[j] = keys[j - 1];
			nids[j] = nids[j - 1];
			keys[j - 1] = key;
			nids[j - 1] = nid;
		}
	return count;
}

uint32_t client_writable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max)
{
	return cells(c, partition, nids, max, false);
}

size_t client_readable_nodes(struct neo_client *c, int32_t **out)
{
	int32_t *all = NULL, *nids;
	size_t all_count = 0, count = 0;

	*out = NULL;
	if (neo_ptable_nodes(&c->pt, &all, &all_count) < 0)
		return 0;
	nids = neo_malloc((all_count + 1) * sizeof *nids);
	for (size_t i = 0; nids && i < all_count; i++) {
		bool readable = false;

		if (!client_node_running(c, all[i]))
			continue;
		for (uint32_t p = 0; p < c->pt.num_partitions && !readable; p++) {
			int state = neo_ptable_cell_state(&c->pt, p, all[i]);

			readable = state >= 0 && neo_cell_readable((enum neo_cell_state)state);
		}
		if (readable)
			nids[count++] = all[i];
	}
	neo_free(all);
	*out = nids;
	return nids ? count : 0;
}
