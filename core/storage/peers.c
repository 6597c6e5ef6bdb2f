/*
 * storage/peers.c - connections from clients and other storages:
 * identification (only once operational, as upstream), then their
 * requests go through the routing table (storage/routes.c).
 */
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "runtime/log.h"

static void peer_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg);
static void peer_closed(struct neo_conn *conn, const char *reason, void *arg);

static const struct neo_conn_callbacks peer_callbacks = {
	.on_packet = peer_packet,
	.on_close = peer_closed,
};

void storage_on_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg)
{
	struct storage *s = arg;
	struct storage_peer *peer = neo_calloc(1, sizeof *peer);

	(void)listener;
	if (peer == NULL || neo_idmap_put(&s->peers, (uintptr_t)conn, peer) < 0) {
		neo_free(peer);
		neo_conn_abort(conn, "out of memory");
		return;
	}
	peer->conn = conn;
	neo_conn_set_callbacks(conn, &peer_callbacks, s);
}

void storage_close_peers(struct storage *s)
{
	size_t index = 0;
	uint64_t key;
	void *value;
	struct neo_conn **conns = neo_calloc(s->peers.count + 1, sizeof *conns);
	size_t count = 0;

	while (conns && neo_idmap_next(&s->peers, &index, &key, &value))
		conns[count++] = ((struct storage_peer *)value)->conn;
	for (size_t i = 0; i < count; i++)
		neo_conn_abort(conns[i], "operation stopped");
	neo_free(conns);
}

/*
 * As upstream (NodeManager.getByUUID): we know nodes only from the
 * master's lists, so a peer naming itself with an id and id_timestamp
 * must match one of them.  A newer id_timestamp than our last list means
 * the master's notification is still on its way: the identification is
 * held until the next list.  An older or unknown one is a node the master
 * no longer has (it lost the master): refused NOT_READY.  A request
 * without id_timestamp (our clients before they know theirs) is not
 * checked.
 */
static bool known_by_master(struct storage *s, struct storage_peer *peer,
			    struct neo_packet *pkt)
{
	const struct neo_request_identification *req = pkt->args;
	const struct neo_node *node;

	if (!req->uuid.has || !req->id_timestamp.has)
		return true;
	node = neo_nodes_by_nid(&s->nodes, (int32_t)req->uuid.v);
	if (node && node->has_id_timestamp && node->id_timestamp == req->id_timestamp.v)
		return true;
	if (s->nodes_timestamp < req->id_timestamp.v) {
		neo_packet_take(pkt, &peer->held_ident);
		peer->ident_held = true;
		return false;
	}
	neo_log(NEO_LOG_INFO, "refused %s: unknown by master", neo_conn_peer(peer->conn));
	neo_conn_answer_error(peer->conn, pkt->msg_id, NEO_ERROR_NOT_READY, "unknown by master");
	neo_conn_close(peer->conn, "unknown by master");
	return false;
}

static void identify(struct storage *s, struct storage_peer *peer, struct neo_packet *pkt)
{
	const struct neo_request_identification *req = pkt->args;
	struct neo_accept_identification accept = { .node_type = NEO_NODE_STORAGE };

	if (req->cluster_name.size != strlen(s->cluster)
	    || memcmp(req->cluster_name.data, s->cluster, req->cluster_name.size) != 0) {
		neo_log(NEO_LOG_WARNING, "refused %s: wrong cluster name", neo_conn_peer(peer->conn));
		neo_conn_answer_error(peer->conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "wrong cluster name");
		neo_conn_close(peer->conn, "wrong cluster name");
		return;
	}
	if (!s->operational || (req->node_type != NEO_NODE_CLIENT
				&& req->node_type != NEO_NODE_STORAGE)) {
		neo_conn_answer_error(peer->conn, pkt->msg_id, NEO_ERROR_NOT_READY,
				      s->operational ? "only clients and storages" : "not operational");
		neo_conn_close(peer->conn, "not ready");
		return;
	}
	/* as upstream: only a storage may come without an id (one that
	 * replicates from another cluster), and never with ours */
	if (!req->uuid.has && req->node_type != NEO_NODE_STORAGE) {
		neo_conn_answer_error(peer->conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "reject anonymous non-storage node");
		neo_conn_close(peer->conn, "anonymous");
		return;
	}
	if (req->uuid.has && req->uuid.v == s->nid) {
		neo_conn_answer_error(peer->conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "uuid conflict or loopback connection");
		neo_conn_close(peer->conn, "loopback");
		return;
	}
	if (!known_by_master(s, peer, pkt))
		return;
	peer->identified = true;
	peer->type = req->node_type;
	peer->nid = req->uuid.has ? (int32_t)req->uuid.v : 0;
	if (peer->nid != 0) {
		char nid[16];

		neo_conn_set_name(peer->conn, neo_nid_format(peer->nid, nid, sizeof nid));
	}
	/* as upstream: to an anonymous storage (of a backup cluster), no id
	 * either way; upstream's refuses an answer with ours ("invalid
	 * uuids") */
	accept.my_uuid.has = req->uuid.has;
	accept.my_uuid.v = s->nid;
	accept.your_uuid = req->uuid;
	neo_conn_answer(peer->conn, pkt->msg_id, NEO_ACCEPT_IDENTIFICATION, &accept);
	neo_conn_identified(peer->conn);
	/* two storages that connected to each other at once: we are left
	 * with the connection kept between us (unlike upstream, which
	 * refuses the second one "already connected" unless its own is idle,
	 * we accept it and close ours once we no longer use it) */
	if (peer->type == NEO_NODE_STORAGE && peer->nid) {
		storage_peers_prune(s, peer->nid);
		storage_check_peer_arrived(s, peer->nid, peer->conn);
	}
}

void storage_peers_nodes_changed(struct storage *s)
{
	size_t index = 0, count = 0;
	uint64_t key;
	void *value;
	struct neo_conn **held = neo_calloc(s->peers.count + 1, sizeof *held);

	/* collected first: answering may close a connection, which changes
	 * the map */
	while (held && neo_idmap_next(&s->peers, &index, &key, &value))
		if (((struct storage_peer *)value)->ident_held)
			held[count++] = ((struct storage_peer *)value)->conn;
	for (size_t i = 0; i < count; i++) {
		struct storage_peer *peer = neo_idmap_get(&s->peers, (uintptr_t)held[i]);
		struct neo_packet pkt;

		if (peer == NULL || !peer->ident_held)
			continue;
		peer->ident_held = false;
		neo_packet_take(&peer->held_ident, &pkt);
		identify(s, peer, &pkt);
		neo_packet_release(&pkt);
	}
	neo_free(held);
}

void storage_peers_prune(struct storage *s, int32_t nid)
{
	size_t index = 0;
	uint64_t key;
	void *value;
	struct neo_conn *kept = NULL, *drop[8];
	size_t count = 0;

	while (neo_idmap_next(&s->peers, &index, &key, &value)) {
		const struct storage_peer *peer = value;

		if (peer->type == NEO_NODE_STORAGE && peer->nid == nid && peer->identified
		    && storage_peer_kept(s, peer))
			kept = peer->conn;
	}
	if (kept == NULL)
		return;
	/* only our own connections: the peer may have requests in flight on
	 * those it opened, and closes them itself */
	index = 0;
	while (neo_idmap_next(&s->peers, &index, &key, &value) && count < 8) {
		const struct storage_peer *peer = value;

		if (peer->type == NEO_NODE_STORAGE && peer->nid == nid && peer->outgoing
		    && peer->conn != kept && !storage_replication_uses(s, peer->conn)
		    && storage_check_release(s, peer->conn, kept))
			drop[count++] = peer->conn;
	}
	for (size_t i = 0; i < count; i++)
		neo_conn_close(drop[i], "the peer's connection is kept");
}

static void peer_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct storage *s = arg;
	struct storage_peer *peer = neo_idmap_get(&s->peers, (uintptr_t)conn);

	if (peer == NULL)
		return;
	if (!peer->identified && !peer->outgoing) {
		if (pkt->code == NEO_REQUEST_IDENTIFICATION && !peer->ident_held) {
			identify(s, peer, pkt);
			return;
		}
		neo_log(NEO_LOG_WARNING, "%s: %s before identification", neo_conn_peer(conn),
			pkt->type->name);
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "identify first");
		neo_conn_close(conn, "not identified");
		return;
	}
	if (storage_retry_pending(s) && !neo_packet_is_answer(pkt->code)) {
		storage_delay(s, conn, pkt);	/* behind the requests waiting */
		return;
	}
	/* a storage's connection may also be the one we replicate from
	 * (the handlers check it is the current source) */
	if (s->route(s, peer->type == NEO_NODE_CLIENT
				? STORAGE_FROM_CLIENT
				: STORAGE_FROM_STORAGE | STORAGE_FROM_SOURCE, conn, pkt))
		return;
	if (!neo_packet_is_answer(pkt->code)) {
		neo_log(NEO_LOG_WARNING, "%s: unexpected %s", neo_conn_peer(conn), pkt->type->name);
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "unexpected packet");
	}
}

static void peer_closed(struct neo_conn *conn, const char *reason, void *arg);

/* --- Our own connections to other storages --------------------------------
 * As upstream (one connection per pair of storages, used by both sides and
 * kept after the check that opened it): once identified, the peer may send
 * its own requests over it, routed as over one it opened.  (A replication
 * pass still opens, and closes, its own when there is none to borrow.) */

static bool refused_already_connected(const struct neo_error *error)
{
	static const char text[] = "already connected";

	return error && error->code == NEO_ERROR_PROTOCOL_ERROR
	       && error->message.size == sizeof text - 1
	       && memcmp(error->message.data, text, sizeof text - 1) == 0;
}

static void out_identified(struct neo_conn *conn, enum neo_ask_status status,
			   struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct storage_peer *peer = neo_idmap_get(&s->peers, (uintptr_t)conn);
	bool accepted = status == NEO_ASK_ANSWERED && answer->code == NEO_ACCEPT_IDENTIFICATION;

	if (peer == NULL)
		return;
	if (!accepted) {
		const struct neo_error *error = status == NEO_ASK_ANSWERED
						&& answer->code == NEO_ERROR ? answer->args : NULL;

		neo_log(NEO_LOG_WARNING, "%s refused us%s%.*s", neo_conn_peer(conn),
			error ? ": " : "", error ? (int)error->message.size : 0,
			error ? (const char *)error->message.data : "");
		if (!(refused_already_connected(error) && storage_check_await_peer(s, conn)))
			storage_check_peer_identified(s, conn, false);
		neo_conn_close(conn, "identification refused");
		return;
	}
	peer->identified = true;
	storage_check_peer_identified(s, conn, true);
}

static void out_ready(struct neo_conn *conn, void *arg)
{
	struct storage *s = arg;
	struct neo_request_identification req;

	const struct storage_peer *peer = neo_idmap_get(&s->peers, (uintptr_t)conn);

	storage_peer_identification(s, &req);
	if (peer && peer->upstream) {
		/* as upstream: to the upstream cluster, anonymous */
		req.uuid.has = false;
		req.cluster_name = neo_bin_str(peer->upstream);
	}
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 30000, out_identified, s);
}

static const struct neo_conn_callbacks out_callbacks = {
	.on_ready = out_ready,
	.on_packet = peer_packet,
	.on_close = peer_closed,
};

struct neo_conn *storage_peer_connect(struct storage *s, const struct neo_node *node, char *err,
				      size_t errlen)
{
	struct storage_peer *peer = neo_calloc(1, sizeof *peer);
	char nid[16];

	if (peer == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	peer->outgoing = true;
	peer->type = NEO_NODE_STORAGE;
	peer->nid = node->nid;
	peer->conn = neo_conn_connect(s->base, &node->address, s->ssl, &out_callbacks, s, err,
				      errlen);
	if (peer->conn == NULL || neo_idmap_put(&s->peers, (uintptr_t)peer->conn, peer) < 0) {
		if (peer->conn)
			neo_conn_abort(peer->conn, "out of memory");
		neo_free(peer);
		return NULL;
	}
	neo_conn_set_name(peer->conn, neo_nid_format(node->nid, nid, sizeof nid));
	return peer->conn;
}

struct neo_conn *storage_peer_connect_upstream(struct storage *s, const struct neo_address *address,
					       const char *name, char *err, size_t errlen)
{
	struct storage_peer *peer = neo_calloc(1, sizeof *peer);

	if (peer == NULL || (peer->upstream = neo_strdup(name)) == NULL) {
		neo_free(peer);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	peer->outgoing = true;
	peer->type = NEO_NODE_STORAGE;
	peer->conn = neo_conn_connect(s->base, address, s->ssl, &out_callbacks, s, err, errlen);
	if (peer->conn == NULL || neo_idmap_put(&s->peers, (uintptr_t)peer->conn, peer) < 0) {
		if (peer->conn)
			neo_conn_abort(peer->conn, "out of memory");
		neo_free(peer->upstream);
		neo_free(peer);
		return NULL;
	}
	neo_conn_set_name(peer->conn, "upstream");
	return peer->conn;
}

static void peer_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct storage *s = arg;
	struct storage_peer *peer = neo_idmap_remove(&s->peers, (uintptr_t)conn);

	storage_txn_conn_closed(s, conn);
	if (peer && peer->type == NEO_NODE_STORAGE) {
		storage_replication_conn_closed(s, conn, reason);
		storage_check_conn_closed(s, conn, reason);
	}
	if (peer && peer->ident_held)
		neo_packet_release(&peer->held_ident);
	if (peer)
		neo_free(peer->upstream);
	neo_free(peer);
}
