/*
 * master/routes.c - where every packet reaching the master goes: the
 * callbacks of accepted connections, and ONE table keyed by the peer's
 * type (or "not identified yet") and the packet code.  To learn who
 * handles packet X from peer Y, read the table below.
 *
 * The answers any identified peer may ask for (cluster state, primary,
 * node list, partition list, last ids, recovery) are here too: they only
 * read the master's state.
 */
#include "master/master.h"

#include "cluster/nid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* Who may send a packet: one bit per node type, and one for a connection
 * not identified yet. */
#define FROM(type) (1u << (type))
#define FROM_MASTER FROM(NEO_NODE_MASTER)
#define FROM_STORAGE FROM(NEO_NODE_STORAGE)
#define FROM_CLIENT FROM(NEO_NODE_CLIENT)
#define FROM_ADMIN FROM(NEO_NODE_ADMIN)
#define FROM_NOBODY (1u << 8)		/* not identified */
/* A client that identified with read_only (or backup) in its extra: it
 * is also FROM_CLIENT, but the refusals below come first. */
#define FROM_READ_ONLY (1u << 9)
#define FROM_ANYONE (FROM_MASTER | FROM_STORAGE | FROM_CLIENT | FROM_ADMIN)

struct master_route {
	uint16_t code;
	unsigned from;
	master_handler *handler;
};

/* --- Answers for any peer --------------------------------------------------- */

static void ask_cluster_state(struct master *m, struct neo_node *node, struct neo_conn *conn,
			      struct neo_packet *pkt)
{
	struct neo_answer_cluster_state answer = { .state = { true, m->state } };

	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_CLUSTER_STATE, &answer);
}

static void not_identified(struct master *m, struct neo_node *node, struct neo_conn *conn,
			   struct neo_packet *pkt)
{
	neo_log(NEO_LOG_WARNING, "%s: %s before identification", neo_conn_peer(conn),
		pkt->type->name);
	neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "identify first");
	neo_conn_close(conn, "not identified");
}

static void ask_primary(struct master *m, struct neo_node *node, struct neo_conn *conn,
			struct neo_packet *pkt)
{
	struct neo_answer_primary answer = { .primary_uuid = m->nid };

	/* Before identification, only the primary answers. */
	if (node == NULL && !m->primary) {
		not_identified(m, node, conn, pkt);
		return;
	}
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PRIMARY, &answer);
}

static void ask_node_list(struct master *m, struct neo_node *node, struct neo_conn *conn,
			  struct neo_packet *pkt)
{
	const struct neo_ask_node_list *req = pkt->args;
	struct neo_answer_node_list answer = { 0 };
	struct neo_node_info *infos = neo_calloc(m->nodes.count + 1, sizeof *infos);

	if (infos == NULL) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	for (size_t i = 0; i < m->nodes.count; i++)
		if (!req->node_type.has || m->nodes.nodes[i]->type == req->node_type.v)
			neo_node_to_wire(m->nodes.nodes[i], &infos[answer.nodes.count++]);
	answer.nodes.items = infos;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_NODE_LIST, &answer);
	neo_free(infos);
}

static void ask_partition_list(struct master *m, struct neo_node *node, struct neo_conn *conn,
			       struct neo_packet *pkt)
{
	const struct neo_ask_partition_list *req = pkt->args;
	/* as upstream: no ptid (None) until the table exists */
	struct neo_answer_partition_list answer = { .ptid = { m->pt.ptid != 0, m->pt.ptid },
						    .num_replicas = m->pt.num_replicas };
	int64_t max = req->max_offset ? req->max_offset : m->pt.num_partitions;

	/* As the admin node (upstream's): MAX 0 is the end, rows past the end
	 * are an error, an empty range is not. */
	if (req->min_offset < 0 || max < 0 || max > m->pt.num_partitions) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "invalid partition table offset");
		return;
	}
	if (neo_ptable_to_wire(&m->pt, (uint32_t)(req->min_offset < max ? req->min_offset : max),
			       (uint32_t)max, &answer.rows) < 0) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PARTITION_LIST, &answer);
	neo_ptable_wire_free(&answer.rows);
}

static void ask_last_ids(struct master *m, struct neo_node *node, struct neo_conn *conn,
			 struct neo_packet *pkt)
{
	struct neo_answer_last_ids answer = { .last_oid = { true, m->last_oid },
					      .last_tid = { true, m->last_tid },
					      .first_tid = m->first_tid };

	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_LAST_IDS, &answer);
}

static void ask_recovery(struct master *m, struct neo_node *node, struct neo_conn *conn,
			 struct neo_packet *pkt)
{
	struct neo_answer_recovery answer = { .ptid = { true, m->pt.ptid } };

	/* as upstream: in backup mode, the backup tid */
	if (m->has_backup_tid)
		answer.backup_tid = (struct neo_opt_p64){ true, master_backup_tid(m, true) };

	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_RECOVERY, &answer);
}

/* As upstream's ClientReadOnlyServiceHandler: what a read-only client may
 * not do is answered READ_ONLY_ACCESS (the notification AbortTransaction
 * too, with its msg_id). */
static void read_only_access(struct master *m, struct neo_node *node, struct neo_conn *conn,
			     struct neo_packet *pkt)
{
	neo_log(NEO_LOG_DEBUG, "%s: %s refused to a read-only client", neo_conn_peer(conn),
		pkt->type->name);
	/* as upstream's ClientBackupServiceHandler in backup mode */
	neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_READ_ONLY_ACCESS,
			      m->has_backup_tid ? "read-only access because cluster is in backuping mode"
						: "read-only access as requested by the client");
}

/* As upstream's ClientBackupServiceHandler: a client of a cluster backing
 * up reads up to the backup tid every cell has, and its last ids are not
 * known. */
static void client_last_transaction(struct master *m, struct neo_node *node,
				    struct neo_conn *conn, struct neo_packet *pkt)
{
	struct neo_answer_last_transaction answer;

	if (!m->has_backup_tid) {
		master_txn_ask_last_transaction(m, node, conn, pkt);
		return;
	}
	answer.tid = master_backup_tid(m, false);
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_LAST_TRANSACTION, &answer);
}

static void client_last_ids(struct master *m, struct neo_node *node, struct neo_conn *conn,
			    struct neo_packet *pkt)
{
	if (m->has_backup_tid)
		read_only_access(m, node, conn, pkt);
	else
		ask_last_ids(m, node, conn, pkt);
}

static void flush_log(struct master *m, struct neo_node *node, struct neo_conn *conn,
		      struct neo_packet *pkt)
{
	size_t told = 0;

	(void)node;
	(void)pkt;
	/* as upstream: every other connected node is told, then the master
	 * flushes its own log */
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *peer = m->nodes.nodes[i];

		if (peer->conn != NULL && peer->conn != conn
		    && neo_conn_notify(peer->conn, NEO_FLUSH_LOG, NULL) == 0)
			told++;
	}
	neo_log(NEO_LOG_INFO, "flush_log: relayed to %zu nodes; %zu kept log records written",
		told, neo_log_flush());
}

/* --- The table ---------------------------------------------------------------- */

static const struct master_route routes[] = {
	/* before identification */
	{ NEO_REQUEST_IDENTIFICATION, FROM_NOBODY, master_identify },
	{ NEO_ASK_PRIMARY, FROM_NOBODY | FROM_ANYONE, ask_primary },

	/* any identified peer: the master's state, read only */
	{ NEO_ASK_CLUSTER_STATE, FROM_ANYONE, ask_cluster_state },
	{ NEO_ASK_NODE_LIST, FROM_ANYONE, ask_node_list },
	{ NEO_ASK_PARTITION_LIST, FROM_ANYONE, ask_partition_list },
	{ NEO_ASK_LAST_IDS, FROM_CLIENT, client_last_ids },
	{ NEO_ASK_LAST_IDS, FROM_ANYONE, ask_last_ids },
	{ NEO_ASK_RECOVERY, FROM_ANYONE, ask_recovery },

	/* admin nodes: neoctl's requests (master/admin.c) */
	{ NEO_SET_CLUSTER_STATE, FROM_ADMIN, master_admin_set_cluster_state },
	{ NEO_ADD_PENDING_NODES, FROM_ADMIN, master_admin_add_pending },
	{ NEO_TWEAK_PARTITION_TABLE, FROM_ADMIN, master_admin_tweak },
	{ NEO_SET_NODE_STATE, FROM_ADMIN, master_admin_set_node_state },
	{ NEO_SET_NUM_REPLICAS, FROM_ADMIN, master_admin_set_num_replicas },
	{ NEO_CHECK_REPLICAS, FROM_ADMIN, master_admin_check_replicas },
	{ NEO_TRUNCATE, FROM_ADMIN, master_admin_truncate },
	{ NEO_REPAIR, FROM_ADMIN, master_admin_repair },
	{ NEO_FLUSH_LOG, FROM_ADMIN, flush_log },

	/* storages: recovery.c, txn.c, pack.c */
	{ NEO_NOTIFY_READY, FROM_STORAGE, master_storage_notify_ready },
	{ NEO_ASK_UNFINISHED_TRANSACTIONS, FROM_STORAGE, master_txn_ask_unfinished },
	{ NEO_NOTIFY_REPLICATION_DONE, FROM_STORAGE, master_storage_replication_done },
	{ NEO_NOTIFY_PARTITION_CORRUPTED, FROM_STORAGE, master_storage_partition_corrupted },
	{ NEO_NOTIFY_PACK_COMPLETED, FROM_STORAGE, master_pack_notify_completed },

	/* read-only clients (before their FROM_CLIENT entries) */
	{ NEO_ASK_BEGIN_TRANSACTION, FROM_READ_ONLY, read_only_access },
	{ NEO_ASK_NEW_OIDS, FROM_READ_ONLY, read_only_access },
	{ NEO_ASK_FINISH_TRANSACTION, FROM_READ_ONLY, read_only_access },
	{ NEO_ASK_FINAL_TID, FROM_READ_ONLY, read_only_access },
	{ NEO_ABORT_TRANSACTION, FROM_READ_ONLY, read_only_access },

	/* clients (and storages, admins for what they share): txn.c, pack.c */
	{ NEO_ASK_BEGIN_TRANSACTION, FROM_CLIENT, master_txn_begin },
	{ NEO_ASK_FINISH_TRANSACTION, FROM_CLIENT, master_txn_finish },
	{ NEO_ABORT_TRANSACTION, FROM_CLIENT, master_txn_abort },
	{ NEO_FAILED_VOTE, FROM_CLIENT, master_txn_failed_vote },
	{ NEO_ASK_NEW_OIDS, FROM_CLIENT, master_txn_new_oids },
	{ NEO_ASK_LAST_TRANSACTION, FROM_CLIENT, client_last_transaction },
	{ NEO_ASK_LAST_TRANSACTION, FROM_STORAGE | FROM_ADMIN,
	  master_txn_ask_last_transaction },
	{ NEO_ASK_FINAL_TID, FROM_CLIENT | FROM_STORAGE, master_txn_ask_final_tid },
	{ NEO_ASK_PACK_ORDERS, FROM_CLIENT | FROM_STORAGE, master_pack_ask_orders },
	{ NEO_WAIT_FOR_PACK, FROM_CLIENT, master_pack_wait },
};

/* --- What is not in the table --------------------------------------------- */

static void unexpected(struct master *m, struct neo_node *node, struct neo_conn *conn,
		       struct neo_packet *pkt)
{
	if (node == NULL) {
		not_identified(m, node, conn, pkt);
		return;
	}
	if (neo_packet_is_answer(pkt->code))
		return;		/* answers go to their asker's callback */
	switch (node->type) {
	case NEO_NODE_CLIENT:
		neo_log(NEO_LOG_WARNING, "%s: unexpected %s", neo_conn_peer(conn), pkt->type->name);
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "unexpected packet");
		break;
	case NEO_NODE_STORAGE:
		neo_log(NEO_LOG_DEBUG, "ignored %s from a storage", pkt->type->name);
		break;
	default:
		if (pkt->code != NEO_NOTIFY_NODE_INFORMATION)
			neo_log(NEO_LOG_DEBUG, "ignored %s from %s", pkt->type->name,
				neo_conn_peer(conn));
		break;
	}
}

static master_handler *route(const struct neo_node *node, uint16_t code)
{
	unsigned from = node ? FROM(node->type) : FROM_NOBODY;

	if (node && node->type == NEO_NODE_CLIENT && node->owner_data
	    && ((const struct master_node *)node->owner_data)->read_only)
		from |= FROM_READ_ONLY;

	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (routes[i].code == code && (routes[i].from & from))
			return routes[i].handler;
	return unexpected;
}

/* --- Connections ---------------------------------------------------------- */

static void master_conn_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct master *m = arg;
	struct neo_node *node = neo_nodes_by_conn(&m->nodes, conn);

	route(node, pkt->code)(m, node, conn, pkt);
}

void master_node_lost(struct master *m, struct neo_node *node, const char *reason)
{
	char nid[16];

	neo_log(NEO_LOG_INFO, "%s lost: %s", neo_nid_format(node->nid, nid, sizeof nid), reason);
	node->conn = NULL;
	switch (node->type) {
	case NEO_NODE_STORAGE:
		master_storage_lost(m, node);
		break;
	case NEO_NODE_CLIENT:
	case NEO_NODE_ADMIN:
		/* As upstream: clients and admins are forgotten. */
		master_forget_node(m, node);
		break;
	case NEO_NODE_MASTER:
		master_set_node_state(m, node, NEO_NODE_DOWN);
		break;
	}
}

static void master_conn_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct master *m = arg;
	struct neo_node *node = neo_nodes_by_conn(&m->nodes, conn);

	master_txn_client_lost(m, conn);
	master_pack_conn_lost(m, conn);
	master_gc_conn_lost(m, conn);
	if (node)
		master_node_lost(m, node, reason);
	if (m->stopping_exit)
		master_exit_loop(m);
}

static const struct neo_conn_callbacks master_conn_callbacks = {
	.on_packet = master_conn_packet,
	.on_close = master_conn_closed,
};

void master_on_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg)
{
	(void)listener;
	neo_conn_set_callbacks(conn, &master_conn_callbacks, arg);
}
