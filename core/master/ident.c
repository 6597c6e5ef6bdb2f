/*
 * master/ident.c - who is connected to the master: identifying nodes,
 * assigning ids, welcoming them (what they must know), and the election
 * between masters (the primary, the secondaries).
 */
#include "master/master.h"

#include <string.h>

#include "cluster/nid.h"
#include "daemon/daemon.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* --- Identification ------------------------------------------------------- */

static void refuse(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
		   const char *why)
{
	neo_log(NEO_LOG_WARNING, "refused %s: %s", neo_conn_peer(conn), why);
	neo_conn_answer_error(conn, msg_id, code, why);
	neo_conn_close(conn, why);
}

/* Where the primary is, for a node that reached a secondary. */
static void answer_not_primary(struct master *m, struct neo_conn *conn)
{
	struct neo_not_primary_master answer = { 0 };
	struct neo_wire_address *known = neo_calloc(m->master_count + 1, sizeof *known);

	if (known == NULL) {
		neo_conn_close(conn, "out of memory");
		return;
	}
	neo_address_to_wire(&m->address, &known[0]);
	for (size_t i = 0; i < m->master_count; i++) {
		neo_address_to_wire(&m->masters[i], &known[i + 1]);
		if (m->primary_conn && m->masters[i].port == m->primary_address.port
		    && strcmp(m->masters[i].host, m->primary_address.host) == 0) {
			answer.primary.has = true;
			answer.primary.v = (int64_t)i + 1;
		}
	}
	answer.known_masters.items = known;
	answer.known_masters.count = (uint32_t)m->master_count + 1;
	neo_conn_notify(conn, NEO_NOT_PRIMARY_MASTER, &answer);
	neo_conn_close(conn, "not the primary master");
	neo_free(known);
}

static bool address_less(const struct neo_address *a, const struct neo_address *b)
{
	int c = strcmp(a->host, b->host);

	return c < 0 || (c == 0 && a->port < b->port);
}

static void become_secondary(struct master *m, const struct neo_address *primary,
			     struct neo_conn *keep);

/*
 * Election, as upstream: a candidate meeting a candidate that started
 * earlier (the smaller key; the address breaks ties) gives up and
 * follows it.  Returns true when the identification may go on.
 */
static bool election_allows(struct master *m, const struct neo_request_identification *req,
			    const struct neo_address *peer)
{
	double key;

	if (m->state != NEO_CLUSTER_RECOVERING)
		return true;
	key = req->id_timestamp.has ? req->id_timestamp.v : 0;
	if (key < m->election_key
	    || (key == m->election_key && address_less(peer, &m->address))) {
		neo_log(NEO_LOG_INFO, "master %s:%u started earlier: following it",
			peer->host, peer->port);
		become_secondary(m, peer, NULL);
		return false;
	}
	return true;
}

static int32_t choose_nid(struct master *m, const struct neo_request_identification *req,
			  const struct neo_address *address)
{
	/* a master that lost the election may come with our own id */
	if (req->uuid.has && req->uuid.v && (int32_t)req->uuid.v != m->nid &&
	    neo_nid_type((int32_t)req->uuid.v) == (int)req->node_type) {
		struct neo_node *holder = neo_nodes_by_nid(&m->nodes, (int32_t)req->uuid.v);

		if (holder == NULL || holder->conn == NULL
		    || (address && holder->has_address
			&& holder->address.port == address->port
			&& strcmp(holder->address.host, address->host) == 0))
			return (int32_t)req->uuid.v;
		if (req->node_type == NEO_NODE_STORAGE)
			return 0;	/* clone protection: refused */
	}
	return neo_nodes_free_nid(&m->nodes, req->node_type);
}

/* As upstream: a client is read-only when its extra says read_only (a
 * true value), or, without read_only, when it has a backup key. */
static bool wants_read_only(const struct neo_request_identification *req)
{
	bool backup = false;

	for (uint32_t i = 0; i < req->extra.count; i++) {
		const struct neo_bin *key = &req->extra.keys[i];
		const msgpack_object *value = &req->extra.values[i];

		if (key->size == 9 && memcmp(key->data, "read_only", 9) == 0) {
			switch (value->type) {
			case MSGPACK_OBJECT_NIL: return false;
			case MSGPACK_OBJECT_BOOLEAN: return value->via.boolean;
			case MSGPACK_OBJECT_POSITIVE_INTEGER: return value->via.u64 != 0;
			case MSGPACK_OBJECT_NEGATIVE_INTEGER: return true;
			case MSGPACK_OBJECT_FLOAT32:
			case MSGPACK_OBJECT_FLOAT64: return value->via.f64 != 0;
			case MSGPACK_OBJECT_STR: return value->via.str.size != 0;
			case MSGPACK_OBJECT_BIN: return value->via.bin.size != 0;
			case MSGPACK_OBJECT_ARRAY: return value->via.array.size != 0;
			case MSGPACK_OBJECT_MAP: return value->via.map.size != 0;
			default: return true;
			}
		}
		if (key->size == 6 && memcmp(key->data, "backup", 6) == 0)
			backup = true;
	}
	return backup;
}

/* Copies a name to out ("" when it is not one or too long).  As upstream,
 * where names are bytes: only a bin matches (a str never equals them). */
static bool copy_name(const msgpack_object *o, char *out, size_t size)
{
	const char *data = o->type == MSGPACK_OBJECT_BIN ? o->via.bin.ptr : NULL;
	uint32_t len = o->type == MSGPACK_OBJECT_BIN ? o->via.bin.size : 0;

	out[0] = '\0';
	if (data == NULL || len == 0 || len >= size || memchr(data, '\0', len))
		return false;
	memcpy(out, data, len);
	out[len] = '\0';
	return true;
}

/* The backup key of the extra: a backup master's cluster name, or the
 * list of backups an admin watches (as upstream's BootstrapManager). */
static void note_backup_names(struct neo_node *node, const struct neo_request_identification *req)
{
	struct master_node *data = master_node_data(node);

	data->backup_name[0] = '\0';
	data->watched[0] = '\0';
	for (uint32_t i = 0; i < req->extra.count; i++) {
		const msgpack_object *value = &req->extra.values[i];
		size_t used = 0;

		if (req->extra.keys[i].size != 6 || memcmp(req->extra.keys[i].data, "backup", 6) != 0)
			continue;
		if (node->type == NEO_NODE_CLIENT)
			copy_name(value, data->backup_name, sizeof data->backup_name);
		if (node->type != NEO_NODE_ADMIN || value->type != MSGPACK_OBJECT_ARRAY)
			continue;
		for (uint32_t k = 0; k < value->via.array.size; k++) {
			char name[sizeof data->watched];

			if (!copy_name(&value->via.array.ptr[k], name, sizeof name)
			    || used + strlen(name) + 2 > sizeof data->watched) {
				neo_log(NEO_LOG_WARNING, "an admin's watched backup name is not "
					"usable (not text, or too long), ignored");
				continue;
			}
			memcpy(data->watched + used, name, strlen(name) + 1);
			used += strlen(name) + 1;
		}
		data->watched[used] = '\0';
	}
}

/* As upstream: the master of a backup cluster identifies as a client
 * with a backup key in its extra (its cluster's name). */
static bool is_backup_master(const struct neo_request_identification *req)
{
	for (uint32_t i = 0; i < req->extra.count; i++)
		if (req->extra.keys[i].size == 6 && memcmp(req->extra.keys[i].data, "backup", 6) == 0)
			return true;
	return false;
}

static enum neo_node_state initial_state(struct master *m, enum neo_node_type type, int32_t nid)
{
	if (type != NEO_NODE_STORAGE)
		return NEO_NODE_RUNNING;
	if (m->state == NEO_CLUSTER_RECOVERING)
		return NEO_NODE_PENDING;
	return neo_ptable_has_node(&m->pt, nid) ? NEO_NODE_RUNNING : NEO_NODE_PENDING;
}

static struct neo_node *register_node(struct master *m, const struct neo_request_identification *req,
				      const struct neo_address *address, int32_t nid,
				      struct neo_conn *conn)
{
	struct neo_node *node = neo_nodes_by_nid(&m->nodes, nid);

	if (node == NULL && address)
		node = neo_nodes_by_address(&m->nodes, address);
	if (node && node->conn) {
		/* A temporary-id node taking a fresh id: forget the old one. */
		node = NULL;
	}
	if (node == NULL && (node = neo_nodes_add(&m->nodes, req->node_type)) == NULL)
		return NULL;
	if (master_node_data(node) == NULL)
		return NULL;
	node->type = req->node_type;
	node->nid = nid;
	node->has_address = address != NULL;
	if (address)
		node->address = *address;
	node->conn = conn;
	node->has_id_timestamp = true;
	node->id_timestamp = master_next_clock(m);
	master_change_node_state(m, node, initial_state(m, req->node_type, nid));
	memset(node->owner_data, 0, sizeof(struct master_node));
	((struct master_node *)node->owner_data)->recovery_ptid = -1;
	return node;
}

static void welcome(struct master *m, struct neo_node *node, uint32_t msg_id)
{
	struct neo_accept_identification accept = { 0 };
	char nid[16];

	accept.node_type = NEO_NODE_MASTER;
	accept.my_uuid.has = true;
	accept.my_uuid.v = m->nid;
	accept.your_uuid.has = true;
	accept.your_uuid.v = node->nid;
	neo_conn_set_name(node->conn, neo_nid_format(node->nid, nid, sizeof nid));
	neo_conn_answer(node->conn, msg_id, NEO_ACCEPT_IDENTIFICATION, &accept);
	neo_conn_identified(node->conn);
	neo_log(NEO_LOG_INFO, "%s %s identified from %s (%s)", neo_enum_name(NEO_ENUM_NODE_TYPES, node->type),
		neo_nid_format(node->nid, nid, sizeof nid), neo_conn_peer(node->conn),
		neo_enum_name(NEO_ENUM_NODE_STATES, node->state));
	/* As upstream: the node's own entry first, then all it should know. */
	master_send_node_list(m, node, node, m->nodes.nodes, m->nodes.count);
	if (node->type != NEO_NODE_MASTER
	    && !(node->type == NEO_NODE_STORAGE && m->state == NEO_CLUSTER_RECOVERING))
		master_send_pt(m, node->conn);
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *peer = m->nodes.nodes[i];

		if (peer->conn && peer != node && peer->type != NEO_NODE_MASTER
		    && master_node_news_for(peer, node))
			master_send_node_list(m, peer, NULL, &node, 1);
	}
	/* Not to the master of a backup cluster: upstream's master does not
	 * send it at identification, and upstream's backup master refuses it
	 * there (its BackupHandler has no handler for it). */
	if (node->type != NEO_NODE_MASTER && !(node->type == NEO_NODE_CLIENT
					       && master_node_data(node)->backup)) {
		struct neo_notify_cluster_information info = { .state = m->state };

		neo_conn_notify(node->conn, NEO_NOTIFY_CLUSTER_INFORMATION, &info);
	}
}

/* Whether key is true in the extra: a storage of ours says "gc" (it
 * serves pack's garbage collection, core/cluster/cluster.md section 14.2),
 * a storage or an admin of ours "progress" (it answers AskProgress, or
 * takes NotifyProgress: master/progress.c). */
static bool extra_true(const struct neo_request_identification *req, const char *key)
{
	size_t len = strlen(key);

	for (uint32_t i = 0; i < req->extra.count; i++)
		if (req->extra.keys[i].size == len && memcmp(req->extra.keys[i].data, key, len) == 0)
			return req->extra.values[i].type == MSGPACK_OBJECT_BOOLEAN
			       && req->extra.values[i].via.boolean;
	return false;
}

/* The "new_nid" entry of a storage's extra (--new-nid): its array of
 * partitions, or NULL. */
static const msgpack_object *new_nid_offer(const struct neo_request_identification *req)
{
	for (uint32_t i = 0; i < req->extra.count; i++)
		if (req->extra.keys[i].size == 7
		    && memcmp(req->extra.keys[i].data, "new_nid", 7) == 0)
			return req->extra.values[i].type == MSGPACK_OBJECT_ARRAY
				       ? &req->extra.values[i] : NULL;
	return NULL;
}

/*
 * As upstream (core/cluster/cluster.md section 1.2), a storage started
 * with --new-nid (a copy of another's database) comes without id and
 * address, listing the partitions of the copy: it gets a fresh id, state
 * DOWN (it exits once the id is saved), and OUT_OF_DATE cells for those
 * partitions, so that started again it replicates what it misses.
 * Returns 0, or -1 with *why set.
 */
static int take_new_nid(struct master *m, struct neo_node *node, const msgpack_object *offer,
			const char **why)
{
	struct neo_ptable before = { 0 };

	if (neo_ptable_copy(&before, &m->pt) < 0) {
		*why = "out of memory";
		return -1;
	}
	for (uint32_t i = 0; i < offer->via.array.size; i++) {
		const msgpack_object *o = &offer->via.array.ptr[i];

		/* checked by master_identify */
		if (neo_ptable_set_cell(&m->pt, (uint32_t)o->via.u64, node->nid,
					NEO_CELL_OUT_OF_DATE) < 0) {
			*why = "out of memory";
			goto undo;
		}
	}
	master_change_node_state(m, node, NEO_NODE_DOWN);
	if (master_pt_commit(m, &before) < 0) {
		*why = "out of memory";
		neo_ptable_free(&before);
		return -1;
	}
	neo_ptable_free(&before);
	return 0;
undo:
	neo_ptable_free(&m->pt);
	m->pt = before;
	return -1;
}

void master_identify(struct master *m, struct neo_node *unidentified, struct neo_conn *conn,
		     struct neo_packet *pkt)
{
	const msgpack_object *new_nid = NULL;
	const struct neo_request_identification *req = pkt->args;
	struct neo_address address, *has_address = NULL;
	struct neo_node *node;
	int32_t nid;

	if (req->cluster_name.size != strlen(m->cluster)
	    || memcmp(req->cluster_name.data, m->cluster, req->cluster_name.size) != 0) {
		refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "wrong cluster name");
		return;
	}
	if (!m->primary) {
		answer_not_primary(m, conn);
		return;
	}
	if (req->address.has) {
		if (!neo_address_from_wire(&req->address.v, &address)) {
			refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "bad address");
			return;
		}
		has_address = &address;
	}
	switch (req->node_type) {
	case NEO_NODE_MASTER:
		if (has_address == NULL) {
			refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "master without address");
			return;
		}
		neo_master_list_note(has_address);	/* -D, as upstream */
		if (!election_allows(m, req, has_address)) {
			neo_conn_close(conn, "lost the election");
			return;
		}
		break;
	case NEO_NODE_CLIENT:
		/* as upstream: while backing up, read-only clients only */
		if (m->state == NEO_CLUSTER_BACKINGUP && !wants_read_only(req)) {
			refuse(conn, pkt->msg_id, NEO_ERROR_READ_ONLY_ACCESS,
			       "read-write access requested but cluster is backing up");
			return;
		}
		if (m->state != NEO_CLUSTER_RUNNING && m->state != NEO_CLUSTER_BACKINGUP) {
			refuse(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "cluster not operational");
			return;
		}
		break;
	case NEO_NODE_STORAGE:
		new_nid = has_address ? NULL : new_nid_offer(req);
		if (new_nid && m->state == NEO_CLUSTER_RECOVERING) {
			/* as upstream: the table is not known yet */
			refuse(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "cluster is recovering");
			return;
		}
		for (uint32_t i = 0; new_nid && i < new_nid->via.array.size; i++)
			if (new_nid->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER
			    || new_nid->via.array.ptr[i].via.u64 >= m->pt.num_partitions) {
				refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				       "new_nid: not a partition of this cluster");
				return;
			}
		if (has_address == NULL && (new_nid == NULL || (req->uuid.has && req->uuid.v))) {
			/* as upstream: only a --new-nid request comes without */
			refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "storage without address");
			return;
		}
		if (m->state == NEO_CLUSTER_STOPPING) {
			refuse(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "cluster is stopping");
			return;
		}
		/* as upstream: not while leaving backup mode */
		if (m->state == NEO_CLUSTER_STOPPING_BACKUP) {
			refuse(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "cluster is leaving backup mode");
			return;
		}
		break;
	case NEO_NODE_ADMIN:
		break;
	}
	nid = choose_nid(m, req, has_address);
	if (nid == 0) {
		refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
		       "a node with this id is already connected");
		return;
	}
	node = register_node(m, req, has_address, nid, conn);
	if (node == NULL) {
		refuse(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	if (new_nid) {
		const char *why = NULL;

		if (take_new_nid(m, node, new_nid, &why) < 0) {
			node->conn = NULL;
			master_forget_node(m, node);
			refuse(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, why);
			return;
		}
		welcome(m, node, pkt->msg_id);
		return;
	}
	if (node->type == NEO_NODE_CLIENT) {
		((struct master_node *)node->owner_data)->read_only = wants_read_only(req);
		((struct master_node *)node->owner_data)->backup = is_backup_master(req);
	}
	note_backup_names(node, req);
	if (node->type == NEO_NODE_STORAGE)
		((struct master_node *)node->owner_data)->gc_capable = extra_true(req, "gc");
	if (node->type == NEO_NODE_STORAGE || node->type == NEO_NODE_ADMIN)
		((struct master_node *)node->owner_data)->progress = extra_true(req, "progress");
	welcome(m, node, pkt->msg_id);
	/* as upstream: a new admin of a backup cluster hears of the upstream
	 * cluster's admin at once */
	if (node->type == NEO_NODE_ADMIN)
		master_backup_admin_joined(m);
	if (node->type == NEO_NODE_STORAGE) {
		if (m->state == NEO_CLUSTER_RECOVERING)
			master_recovery_node(m, node);
		else if ((m->state == NEO_CLUSTER_RUNNING || m->state == NEO_CLUSTER_STARTING_BACKUP
			  || m->state == NEO_CLUSTER_BACKINGUP) && node->state == NEO_NODE_RUNNING)
			master_start_storage(m, node);	/* as upstream, in backup mode too */
		else if (m->state == NEO_CLUSTER_VERIFYING && node->state == NEO_NODE_RUNNING)
			master_recovery_node(m, node);
	}
}

/* --- Candidate and secondary roles ---------------------------------------- */

static void close_all_nodes(struct master *m, struct neo_conn *keep)
{
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->conn && node->conn != keep) {
			struct neo_conn *conn = node->conn;

			node->conn = NULL;
			neo_conn_abort(conn, "master role changed");
		}
		neo_free(node->owner_data);
		node->owner_data = NULL;
	}
	neo_nodes_free(&m->nodes);
	neo_nodes_init(&m->nodes);
}

static void drop_master_links(struct master *m)
{
	for (size_t i = 0; i < m->master_count; i++)
		if (m->master_links[i]) {
			struct neo_conn *link = m->master_links[i];

			m->master_links[i] = NULL;
			neo_conn_abort(link, "election over");
		}
}

static void link_ready(struct neo_conn *conn, void *arg);
static void link_closed(struct neo_conn *conn, const char *reason, void *arg);
static void link_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg);

static const struct neo_conn_callbacks link_callbacks = {
	.on_ready = link_ready,
	.on_packet = link_packet,
	.on_close = link_closed,
};

static void identify_to_master(struct master *m, struct neo_conn *conn);

static void link_answer(struct neo_conn *conn, enum neo_ask_status status,
			struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct neo_address peer;

	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ACCEPT_IDENTIFICATION)
		return;		/* refused: the link closes and is retried */
	if (m->primary_conn == conn)
		return;		/* already following it */
	for (size_t i = 0; i < m->master_count; i++)
		if (m->master_links[i] == conn) {
			/* It accepted a candidate: it is the primary. */
			peer = m->masters[i];
			m->master_links[i] = NULL;
			become_secondary(m, &peer, conn);
			return;
		}
}

static void identify_to_master(struct master *m, struct neo_conn *conn)
{
	struct neo_request_identification req;

	neo_identification_init(&req, NEO_NODE_MASTER, m->nid, &m->address, m->cluster);
	req.id_timestamp.has = true;
	req.id_timestamp.v = m->election_key;
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 0, link_answer, m);
}

static void link_ready(struct neo_conn *conn, void *arg)
{
	identify_to_master(arg, conn);
}

static void follow_hint(struct master *m, const struct neo_not_primary_master *hint)
{
	struct neo_address primary;

	neo_master_list_note_wire(&hint->known_masters);	/* -D, as upstream */
	if (!hint->primary.has || hint->primary.v < 0
	    || hint->primary.v >= hint->known_masters.count)
		return;
	if (!neo_address_from_wire(&hint->known_masters.items[hint->primary.v], &primary))
		return;
	if (primary.port == m->address.port && strcmp(primary.host, m->address.host) == 0)
		return;
	if (m->primary && m->state == NEO_CLUSTER_RECOVERING)
		become_secondary(m, &primary, NULL);
}

static void link_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct master *m = arg;

	if (pkt->code == NEO_NOT_PRIMARY_MASTER) {
		follow_hint(m, pkt->args);
		return;
	}
	if (conn != m->primary_conn)
		return;
	if (pkt->code == NEO_NOTIFY_CLUSTER_INFORMATION) {
		const struct neo_notify_cluster_information *info = pkt->args;

		if (info->state == NEO_CLUSTER_STOPPING) {
			neo_log(NEO_LOG_INFO, "the cluster is stopping: exiting");
			master_exit_loop(m);
		}
	} else if (pkt->code == NEO_NOTIFY_NODE_INFORMATION) {
		const struct neo_notify_node_information *info = pkt->args;

		neo_master_list_note_nodes(&info->nodes);	/* -D, as upstream */
		for (uint32_t i = 0; i < info->nodes.count; i++)
			if (info->nodes.items[i].uuid.has && info->nodes.items[i].uuid.v == m->nid
			    && m->nid && info->nodes.items[i].state == NEO_NODE_DOWN) {
				neo_log(NEO_LOG_INFO, "told to stop by the primary: exiting");
				master_exit_loop(m);
			}
	} else if (pkt->code == NEO_ACCEPT_IDENTIFICATION) {
		/* handled by link_answer */
	}
}

static void link_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct master *m = arg;

	for (size_t i = 0; i < m->master_count; i++)
		if (m->master_links[i] == conn)
			m->master_links[i] = NULL;
	if (conn == m->primary_conn) {
		m->primary_conn = NULL;
		neo_log(NEO_LOG_WARNING, "lost the primary master (%s): running for primary", reason);
		master_start_candidacy(m);
	}
}

static void connect_links(struct master *m)
{
	char err[256];

	for (size_t i = 0; i < m->master_count; i++) {
		if (m->master_links[i])
			continue;
		m->master_links[i] = neo_conn_connect(m->base, &m->masters[i], m->ssl,
						      &link_callbacks, m, err, sizeof err);
	}
}

static void retry_tick(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	if (m->primary && m->state == NEO_CLUSTER_RECOVERING)
		connect_links(m);
	else if (!m->primary && m->primary_conn == NULL)
		master_start_candidacy(m);
}

static void become_secondary(struct master *m, const struct neo_address *primary,
			     struct neo_conn *keep)
{
	char err[256];

	m->primary = false;
	drop_master_links(m);
	close_all_nodes(m, keep);
	master_txn_reset(m);
	neo_ptable_clear(&m->pt);	/* a secondary keeps no table */
	m->primary_address = *primary;
	m->nid = 0;
	neo_log_set_name("neomaster");
	if (keep) {
		m->primary_conn = keep;
		neo_conn_set_callbacks(keep, &link_callbacks, m);
		neo_log(NEO_LOG_INFO, "secondary master, following %s:%u", primary->host,
			primary->port);
		return;
	}
	m->primary_conn = neo_conn_connect(m->base, primary, m->ssl, &link_callbacks, m, err,
					   sizeof err);
	if (m->primary_conn == NULL)
		neo_log(NEO_LOG_WARNING, "cannot reach %s:%u: %s", primary->host, primary->port, err);
}

/* As upstream, the primary lists itself among the nodes: the others see
 * it in their node lists, and no secondary gets its id. */
static void add_self(struct master *m)
{
	struct neo_node *self;
	char nid[16];

	neo_log_set_name(neo_nid_format(m->nid, nid, sizeof nid));
	if (neo_nodes_by_nid(&m->nodes, m->nid) != NULL)
		return;
	self = neo_nodes_add(&m->nodes, NEO_NODE_MASTER);
	if (self == NULL)
		return;
	self->nid = m->nid;
	self->has_address = true;
	self->address = m->address;
	master_change_node_state(m, self, NEO_NODE_RUNNING);
	/* as upstream (master/app.py, playPrimaryRole): the primary's own
	 * entry has no id_timestamp (neoctl shows None) */
	self->has_id_timestamp = false;
}

void master_start_candidacy(struct master *m)
{
	struct timeval second = { 1, 0 };

	m->primary = true;
	m->election_key = master_next_clock(m);
	if (m->masters && m->master_links == NULL)
		m->master_links = neo_calloc(m->master_count, sizeof *m->master_links);
	if (m->nid == 0)
		m->nid = m->opts->has_nid ? (int32_t)m->opts->nid : neo_nid_make(NEO_NODE_MASTER, 1);
	add_self(m);
	master_recovery_start(m, false);
	connect_links(m);
	if (m->retry_event == NULL) {
		m->retry_event = event_new(m->base, -1, EV_PERSIST, retry_tick, m);
		if (m->retry_event)
			event_add(m->retry_event, &second);
	}
}
