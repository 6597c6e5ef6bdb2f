/*
 * client_links.c - the client's connections to storage nodes: made on
 * demand, identified with the id and timestamp the master gave us, and
 * dropped when the master says the node is gone.  Also which cells of a
 * partition to read from or write to.
 */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

static void link_fail_waiters(struct neo_client *c, struct client_link *link)
{
	while (link->waiters) {
		struct link_waiter *w = link->waiters;

		link->waiters = w->next;
		w->fn(c, link, w->arg, false);
		free(w);
	}
}

static void link_free(struct neo_client *c, struct client_link *link)
{
	neo_idmap_remove(&c->links, (uint64_t)(uint32_t)link->nid);
	link_fail_waiters(c, link);
	free(link);
}

static void link_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct neo_client *c = arg;
	size_t index = 0;
	uint64_t key;
	void *value;

	while (neo_idmap_next(&c->links, &index, &key, &value))
		if (((struct client_link *)value)->conn == conn) {
			client_handle_storage_packet(c, value, pkt);
			return;
		}
}

static void link_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct neo_client *c = arg;
	size_t index = 0;
	uint64_t key;
	void *value;

	(void)reason;
	while (neo_idmap_next(&c->links, &index, &key, &value)) {
		struct client_link *link = value;

		if (link->conn == conn) {
			link->conn = NULL;
			link_free(c, link);
			return;
		}
	}
}

static void link_identified(struct neo_conn *conn, enum neo_ask_status status,
			    struct neo_packet *answer, void *arg)
{
	struct neo_client *c = arg;
	size_t index = 0;
	uint64_t key;
	void *value;

	while (neo_idmap_next(&c->links, &index, &key, &value)) {
		struct client_link *link = value;

		if (link->conn != conn)
			continue;
		if (status != NEO_ASK_ANSWERED || answer->code != NEO_ACCEPT_IDENTIFICATION) {
			neo_conn_abort(conn, "storage refused us");
			return;
		}
		link->identified = true;
		while (link->waiters) {
			struct link_waiter *w = link->waiters;

			link->waiters = w->next;
			w->fn(c, link, w->arg, true);
			free(w);
		}
		return;
	}
}

static void link_ready(struct neo_conn *conn, void *arg)
{
	struct neo_client *c = arg;
	struct neo_request_identification req = { .node_type = NEO_NODE_CLIENT };

	req.uuid = (struct neo_opt_int){ true, c->nid };
	req.cluster_name = (struct neo_bin){ (const uint8_t *)c->cluster,
					     (uint32_t)strlen(c->cluster) };
	req.id_timestamp = (struct neo_opt_float){ c->id_timestamp != 0, c->id_timestamp };
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 30000, link_identified, c);
}

static const struct neo_conn_callbacks link_callbacks = {
	.on_ready = link_ready,
	.on_packet = link_packet,
	.on_close = link_closed,
};

void client_link_get(struct neo_client *c, int32_t nid, link_ready_fn fn, void *arg)
{
	struct client_link *link = neo_idmap_get(&c->links, (uint64_t)(uint32_t)nid);
	struct neo_node *node = neo_nodes_by_nid(&c->nodes, nid);
	struct link_waiter *w;
	char err[256];

	if (link && link->identified) {
		fn(c, link, arg, true);
		return;
	}
	if (link == NULL) {
		if (node == NULL || !node->has_address || node->state != NEO_NODE_RUNNING
		    || (link = calloc(1, sizeof *link)) == NULL) {
			fn(c, NULL, arg, false);
			return;
		}
		link->nid = nid;
		if (neo_idmap_put(&c->links, (uint64_t)(uint32_t)nid, link) < 0) {
			free(link);
			fn(c, NULL, arg, false);
			return;
		}
		link->conn = neo_conn_connect(c->base, &node->address, c->ssl, &link_callbacks, c, err,
					      sizeof err);
		if (link->conn == NULL) {
			link_free(c, link);
			fn(c, NULL, arg, false);
			return;
		}
	}
	w = calloc(1, sizeof *w);
	if (w == NULL) {
		fn(c, NULL, arg, false);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	w->next = link->waiters;
	link->waiters = w;
}

void client_link_drop(struct neo_client *c, int32_t nid)
{
	struct client_link *link = neo_idmap_get(&c->links, (uint64_t)(uint32_t)nid);

	if (link && link->conn)
		neo_conn_abort(link->conn, "storage left");
}

void client_links_close(struct neo_client *c)
{
	size_t index = 0, count = 0;
	uint64_t key;
	void *value;
	struct neo_conn **conns = calloc(c->links.count + 1, sizeof *conns);

	while (conns && neo_idmap_next(&c->links, &index, &key, &value))
		if (((struct client_link *)value)->conn)
			conns[count++] = ((struct client_link *)value)->conn;
	for (size_t i = 0; i < count; i++)
		neo_conn_abort(conns[i], "closing");
	free(conns);
}

static uint32_t cells(struct neo_client *c, uint32_t partition, int32_t *nids, uint32_t max,
		      bool readable)
{
	uint32_t count = 0;

	if (partition >= c->pt.num_partitions)
		return 0;
	for (uint32_t i = 0; i < c->pt.rows[partition].count && count < max; i++) {
		const struct neo_pt_cell *cell = &c->pt.rows[partition].cells[i];
		struct neo_node *node = neo_nodes_by_nid(&c->nodes, cell->nid);

		if (node == NULL || node->state != NEO_NODE_RUNNING)
			continue;
		if (readable ? neo_cell_readable(cell->state) : neo_cell_writable(cell->state))
			nids[count++] = cell->nid;
	}
	/* Spread reads over the replicas. */
	for (uint32_t i = count; readable && i > 1; i--) {
		uint32_t j = (uint32_t)rand() % i;
		int32_t tmp = nids[i - 1];

		nids[i - 1] = nids[j];
		nids[j] = tmp;
	}
	return count;
}

uint32_t client_readable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max)
{
	return cells(c, partition, nids, max, true);
}

uint32_t client_writable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max)
{
	return cells(c, partition, nids, max, false);
}
