/*
 * master/recovery.c - the cluster's life: RECOVERING (gather the partition
 * table and ids from storages, decide when to start), VERIFYING (finish
 * transactions left locked by a crash), RUNNING, STOPPING, and what losing
 * a storage does to it.  Follows upstream's neo/master/recovery.py and
 * verification.py in behaviour.
 */
#include "master/master.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "runtime/log.h"

void master_set_state(struct master *m, enum neo_cluster_state state)
{
	struct neo_notify_cluster_information info = { .state = state };

	if (m->state == state)
		return;
	neo_log(NEO_LOG_INFO, "cluster state: %s", neo_enum_name(NEO_ENUM_CLUSTER_STATES, state));
	m->state = state;
	master_broadcast(m, NEO_NOTIFY_CLUSTER_INFORMATION, &info, true, true, true);
}

static size_t connected_storages(struct master *m, bool pending_only)
{
	size_t count = 0;

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn
		    && (!pending_only || node->state == NEO_NODE_PENDING))
			count++;
	}
	return count;
}

/* --- Recovery ------------------------------------------------------------- */

static void answered_partition_table(struct neo_conn *conn, enum neo_ask_status status,
				     struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct neo_node *node;

	if (m->state != NEO_CLUSTER_RECOVERING || !m->primary)
		return;
	node = neo_nodes_by_conn(&m->nodes, conn);
	if (node == NULL || node != m->pt_source)
		return;
	m->pt_source = NULL;
	if (status == NEO_ASK_ANSWERED && answer->code != NEO_ANSWER_PARTITION_TABLE)
		master_node_data(node)->recovery_ptid = 0;	/* refused: not asked again */
	if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_PARTITION_TABLE) {
		const struct neo_answer_partition_table *table = answer->args;

		if (neo_ptable_load(&m->pt, table->ptid, table->num_replicas, &table->rows) < 0) {
			neo_log(NEO_LOG_ERROR, "%s sent a malformed partition table",
				neo_conn_peer(conn));
			master_node_data(node)->recovery_ptid = 0;	/* not asked again */
		} else {
			/* Storages of the table we never met are known as DOWN. */
			int32_t *nids;
			size_t count;

			if (neo_ptable_nodes(&m->pt, &nids, &count) == 0) {
				for (size_t i = 0; i < count; i++)
					if (neo_nodes_by_nid(&m->nodes, nids[i]) == NULL) {
						struct neo_node *down = neo_nodes_add(&m->nodes,
										      NEO_NODE_STORAGE);

						if (down) {
							down->nid = nids[i];
							down->state = NEO_NODE_DOWN;
							master_notify_nodes(m, &down, 1);
						}
					}
				free(nids);
			}
			neo_log(NEO_LOG_INFO, "recovered partition table %lld (%u partitions, %u replicas)",
				(long long)m->pt.ptid, m->pt.num_partitions, m->pt.num_replicas);
		}
	}
	master_recovery_check(m);
}

static void answered_recovery(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct neo_node *node = neo_nodes_by_conn(&m->nodes, conn);
	struct master_node *data;

	if (node == NULL || m->state != NEO_CLUSTER_RECOVERING || !m->primary)
		return;
	data = master_node_data(node);
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_RECOVERY)
		return;
	data->recovery_answered = true;
	{
		const struct neo_answer_recovery *recovery = answer->args;

		data->recovery_ptid = recovery->ptid.has ? recovery->ptid.v : 0;
		data->recovery_backup_tid = recovery->backup_tid.has ? recovery->backup_tid.v : 0;
		data->recovery_truncate_tid =
			recovery->truncate_tid.has ? recovery->truncate_tid.v : 0;
	}
	master_recovery_check(m);
}

/*
 * Asks the connected storage with the newest table for it, if it is newer
 * than the one loaded.  Called after every recovery event, so that a
 * storage lost while it was being asked is replaced by another with the
 * same table, or by itself when it comes back (as upstream), and a newer
 * table announced meanwhile is read after the current one.  Returns
 * whether a table is being read.
 */
static bool recovery_fetch_pt(struct master *m)
{
	struct neo_node *best = NULL;
	int64_t best_ptid = m->pt.num_partitions ? m->pt.ptid : 0;

	if (m->pt_source)
		return true;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct master_node *data = node->owner_data;

		if (node->type == NEO_NODE_STORAGE && node->conn && data && data->recovery_answered
		    && data->recovery_ptid > best_ptid) {
			best = node;
			best_ptid = data->recovery_ptid;
		}
	}
	if (best == NULL)
		return false;
	{
		struct master_node *data = best->owner_data;

		m->recovered_ptid = best_ptid;
		m->backup_tid = data->recovery_backup_tid;
		m->truncate_tid = data->recovery_truncate_tid;
	}
	if (neo_conn_ask(best->conn, NEO_ASK_PARTITION_TABLE, NULL, 0, answered_partition_table, m) < 0)
		return false;
	m->pt_source = best;
	return true;
}

void master_recovery_node(struct master *m, struct neo_node *node)
{
	struct master_node *data = master_node_data(node);

	if (data == NULL || node->conn == NULL)
		return;
	if (m->state == NEO_CLUSTER_VERIFYING) {
		/* Too late for this verification: it waits as pending. */
		master_set_node_state(m, node, NEO_NODE_PENDING);
		return;
	}
	data->recovery_asked = true;
	data->recovery_answered = false;
	neo_conn_ask(node->conn, NEO_ASK_RECOVERY, NULL, 0, answered_recovery, m);
}

void master_recovery_start(struct master *m, bool keep_pt)
{
	m->state = NEO_CLUSTER_RECOVERING;
	neo_log(NEO_LOG_INFO, "cluster state: RECOVERING");
	/* After a loss of operation the table this master last committed is
	 * the newest there is (the storages that died first did not get its
	 * last changes): an older one from them would start the cluster on
	 * cells that miss the last commits.  Only a newer one replaces it. */
	if (!keep_pt || m->pt.num_partitions == 0) {
		neo_ptable_init(&m->pt, 0, 0);
		m->recovered_ptid = 0;
	} else {
		m->recovered_ptid = m->pt.ptid;
	}
	m->pt_source = NULL;
	m->verification_pending = 0;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn) {
			if (node->state == NEO_NODE_RUNNING)
				master_set_node_state(m, node, NEO_NODE_PENDING);
			master_recovery_node(m, node);
		}
	}
}

static bool pending_connected(void *ctx, int32_t nid)
{
	struct master *m = ctx;
	struct neo_node *node = neo_nodes_by_nid(&m->nodes, nid);

	return node && node->conn && node->state == NEO_NODE_PENDING;
}

static bool every_pt_node_connected(struct master *m)
{
	int32_t *nids;
	size_t count;
	bool all = true;

	if (neo_ptable_nodes(&m->pt, &nids, &count) < 0)
		return false;
	for (size_t i = 0; i < count && all; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, nids[i]);
		int state = -1;

		for (uint32_t p = 0; p < m->pt.num_partitions && state < 0; p++) {
			state = neo_ptable_cell_state(&m->pt, p, nids[i]);
			if (state >= 0 && !neo_cell_readable(state))
				state = -1;
		}
		/* Only the nodes with readable cells are awaited. */
		if (state >= 0)
			all = node && node->conn;
	}
	free(nids);
	return all;
}

static bool recovery_answers_pending(struct master *m)
{
	if (m->pt_source)
		return true;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct master_node *data = node->owner_data;

		if (node->type == NEO_NODE_STORAGE && node->conn && data
		    && data->recovery_asked && !data->recovery_answered)
			return true;
	}
	return false;
}

static void verification_start(struct master *m);

/* Moves the chosen storages to RUNNING and goes verifying. */
static void recovery_finish(struct master *m, bool new_table)
{
	int32_t *chosen = calloc(m->nodes.count + 1, sizeof *chosen);
	size_t count = 0;

	if (chosen == NULL)
		return;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type != NEO_NODE_STORAGE || node->conn == NULL
		    || node->state != NEO_NODE_PENDING)
			continue;
		if (!new_table && !neo_ptable_has_node(&m->pt, node->nid))
			continue;
		chosen[count++] = node->nid;
		master_set_node_state(m, node, NEO_NODE_RUNNING);
	}
	if (new_table) {
		if (master_pt_make(m, chosen, count) < 0) {
			free(chosen);
			return;
		}
		neo_log(NEO_LOG_INFO, "new cluster: %u partitions over %zu storage(s), %u replica(s)",
			m->pt.num_partitions, count, m->pt.num_replicas);
	} else {
		/* As upstream: cells of the nodes that did not come back are
		 * out of date, unless they hold the last readable copy. */
		struct neo_ptable before = { 0 };
		int32_t *nids;
		size_t n;

		neo_ptable_copy(&before, &m->pt);
		if (neo_ptable_nodes(&m->pt, &nids, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				if (!master_is_running(m, nids[i]))
					master_pt_outdate(m, nids[i]);
			free(nids);
		}
		master_pt_commit(m, &before);
		neo_ptable_free(&before);
	}
	free(chosen);
	if (m->truncate_tid) {
		/* The storages persist it and cut their history when asked
		 * their last ids, which comes after on the same connection. */
		struct neo_truncate truncate = { .tid = m->truncate_tid };

		for (size_t i = 0; i < m->nodes.count; i++) {
			struct neo_node *node = m->nodes.nodes[i];

			if (node->type == NEO_NODE_STORAGE && node->conn
			    && node->state == NEO_NODE_RUNNING)
				neo_conn_ask(node->conn, NEO_TRUNCATE, &truncate, 0, NULL, NULL);
		}
	}
	verification_start(m);
}

void master_recovery_check(struct master *m)
{
	if (m->state != NEO_CLUSTER_RECOVERING || !m->primary || recovery_fetch_pt(m)
	    || recovery_answers_pending(m))
		return;
	if (m->pt.num_partitions) {
		if (!neo_ptable_operational(&m->pt, pending_connected, m))
			return;
		if (!m->startup_allowed && !every_pt_node_connected(m))
			return;
		recovery_finish(m, false);
		return;
	}
	if (m->recovered_ptid > 0)
		return;		/* a table exists: wait for a storage that has it */
	if (connected_storages(m, true) == 0)
		return;
	if (m->startup_allowed
	    || (m->opts->autostart > 0 && connected_storages(m, true) >= (size_t)m->opts->autostart))
		recovery_finish(m, true);
}

/* --- Verification --------------------------------------------------------- */

struct locked_txn {
	uint64_t tid;			/* 0: voted but not locked here */
	int32_t voters[64];
	uint32_t voter_count;
};

static void verification_done(struct master *m);
static void validate_locked(struct master *m);
static void ask_last_ids(struct master *m);

static void answered_last_ids(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct master *m = arg;

	(void)conn;
	if (m->state != NEO_CLUSTER_VERIFYING)
		return;
	if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_LAST_IDS) {
		const struct neo_answer_last_ids *ids = answer->args;

		if (ids->last_oid.has && ids->last_oid.v > m->last_oid)
			m->last_oid = ids->last_oid.v;
		if (ids->last_tid.has && ids->last_tid.v > m->last_tid)
			m->last_tid = ids->last_tid.v;
		if (ids->first_tid && (m->first_tid == 0 || ids->first_tid < m->first_tid))
			m->first_tid = ids->first_tid;
	}
	if (m->verification_pending && --m->verification_pending == 0)
		verification_done(m);
}

static void ask_last_ids(struct master *m)
{
	m->verification_pending = 0;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn && node->state == NEO_NODE_RUNNING
		    && neo_conn_ask(node->conn, NEO_ASK_LAST_IDS, NULL, 0, answered_last_ids, m) >= 0) {
			m->verification_pending++;
			master_pack_recover(m, node->conn);
		}
	}
	if (m->verification_pending == 0)
		verification_done(m);
}

static void validate_locked(struct master *m)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	while (neo_idmap_next(&m->locked, &index, &ttid, &value)) {
		struct locked_txn *txn = value;
		struct neo_validate_transaction validate = { .ttid = ttid, .tid = txn->tid };
		char tid_text[40];

		if (txn->tid) {
			neo_log(NEO_LOG_INFO, "validating transaction %016llx locked as %016llx (%s)",
				(unsigned long long)ttid, (unsigned long long)txn->tid,
				neo_tid_format_time(txn->tid, tid_text, sizeof tid_text));
			for (uint32_t i = 0; i < txn->voter_count; i++) {
				struct neo_node *node = neo_nodes_by_nid(&m->nodes, txn->voters[i]);

				if (node && node->conn)
					neo_conn_notify(node->conn, NEO_VALIDATE_TRANSACTION, &validate);
			}
		}
		free(txn);
	}
	neo_idmap_free(&m->locked);
}

/* AskFinalTID about one voted ttid, to one storage. */
struct final_tid_ask {
	struct master *m;
	uint64_t ttid;
};

static void answered_final_tid(struct neo_conn *conn, enum neo_ask_status status,
			       struct neo_packet *answer, void *arg)
{
	struct final_tid_ask *ask = arg;
	struct master *m = ask->m;

	(void)conn;
	if (m->state == NEO_CLUSTER_VERIFYING) {
		if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_FINAL_TID) {
			const struct neo_answer_final_tid *final = answer->args;
			struct locked_txn *txn = neo_idmap_get(&m->locked, ask->ttid);

			if (txn && final->tid.has && final->tid.v != NEO_MAX_TID && txn->tid == 0)
				txn->tid = final->tid.v;
		}
		if (m->verification_pending && --m->verification_pending == 0) {
			validate_locked(m);
			ask_last_ids(m);
		}
	}
	free(ask);
}

static bool voted_by(const struct locked_txn *txn, int32_t nid)
{
	for (uint32_t i = 0; i < txn->voter_count; i++)
		if (txn->voters[i] == nid)
			return true;
	return false;
}

/*
 * As upstream: a transaction voted but seen locked nowhere may have been
 * locked and unlocked by a node holding its metadata (a node with only
 * its objects records no lock).  The readable cells of the ttid's
 * partition that did not vote it are asked its final tid: a tid means it
 * committed, and it is validated on the voters.
 */
static void ask_final_tids(struct master *m)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	m->verification_pending = 0;
	while (neo_idmap_next(&m->locked, &index, &ttid, &value)) {
		struct locked_txn *txn = value;
		const struct neo_pt_cells *row;

		if (txn->tid || m->pt.num_partitions == 0)
			continue;
		row = &m->pt.rows[neo_ptable_partition(&m->pt, ttid)];
		for (uint32_t i = 0; i < row->count; i++) {
			struct neo_node *node = neo_nodes_by_nid(&m->nodes, row->cells[i].nid);
			struct neo_ask_final_tid req = { .ttid = ttid };
			struct final_tid_ask *ask;

			if (!neo_cell_readable(row->cells[i].state) || node == NULL || node->conn == NULL
			    || node->state != NEO_NODE_RUNNING || voted_by(txn, node->nid))
				continue;
			if ((ask = malloc(sizeof *ask)) == NULL)
				continue;
			*ask = (struct final_tid_ask){ m, ttid };
			if (neo_conn_ask(node->conn, NEO_ASK_FINAL_TID, &req, 0, answered_final_tid, ask) < 0)
				free(ask);
			else
				m->verification_pending++;
		}
	}
	if (m->verification_pending == 0) {
		validate_locked(m);
		ask_last_ids(m);
	}
}

static void answered_locked(struct neo_conn *conn, enum neo_ask_status status,
			    struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct neo_node *node = neo_nodes_by_conn(&m->nodes, conn);

	if (m->state != NEO_CLUSTER_VERIFYING)
		return;
	if (node && status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_LOCKED_TRANSACTIONS) {
		const struct neo_answer_locked_transactions *locked = answer->args;

		for (uint32_t i = 0; i < locked->locked.count; i++) {
			uint64_t ttid = locked->locked.keys[i];
			struct locked_txn *txn = neo_idmap_get(&m->locked, ttid);

			if (txn == NULL) {
				txn = calloc(1, sizeof *txn);
				if (txn == NULL || neo_idmap_put(&m->locked, ttid, txn) < 0) {
					free(txn);
					continue;
				}
			}
			if (locked->locked.values[i].has)
				txn->tid = locked->locked.values[i].v;
			if (txn->voter_count < 64)
				txn->voters[txn->voter_count++] = node->nid;
		}
	}
	if (m->verification_pending && --m->verification_pending == 0)
		ask_final_tids(m);
}

static void verification_start(struct master *m)
{
	master_set_state(m, NEO_CLUSTER_VERIFYING);
	/* After a truncation the history went back: the last and first tids
	 * are what the storages say (as upstream, which always starts over
	 * from their answers). */
	if (m->truncate_tid)
		m->last_tid = m->first_tid = 0;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->conn && node->type != NEO_NODE_MASTER && node->type != NEO_NODE_CLIENT)
			master_send_pt(m, node->conn);
	}
	neo_idmap_init(&m->locked);
	m->verification_pending = 0;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		/* As upstream: only nodes with readable cells; the staged data
		 * of others is dropped when they start, and replication brings
		 * back what committed. */
		if (node->type == NEO_NODE_STORAGE && node->conn && node->state == NEO_NODE_RUNNING
		    && neo_ptable_has_readable_cell(&m->pt, node->nid)
		    && neo_conn_ask(node->conn, NEO_ASK_LOCKED_TRANSACTIONS, NULL, 0,
				    answered_locked, m) >= 0)
			m->verification_pending++;
	}
	if (m->verification_pending == 0)
		ask_final_tids(m);
}

static void verification_done(struct master *m)
{
	char tid_text[40];

	neo_log(NEO_LOG_INFO, "verified: last tid %016llx (%s), last oid %016llx",
		(unsigned long long)m->last_tid,
		neo_tid_format_time(m->last_tid, tid_text, sizeof tid_text),
		(unsigned long long)m->last_oid);
	master_set_state(m, NEO_CLUSTER_RUNNING);
	m->startup_allowed = false;
	m->truncate_tid = 0;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type != NEO_NODE_STORAGE || node->conn == NULL)
			continue;
		/* as upstream: a storage of the table that came back too late
		 * for this verification runs too (its cells are out of date) */
		if (node->state == NEO_NODE_PENDING && neo_ptable_has_node(&m->pt, node->nid))
			master_set_node_state(m, node, NEO_NODE_RUNNING);
		if (node->state == NEO_NODE_RUNNING)
			master_start_storage(m, node);
	}
}

/* --- Running ---------------------------------------------------------------- */

void master_start_storage(struct master *m, struct neo_node *node)
{
	struct master_node *data = master_node_data(node);
	struct neo_start_operation start = { .backup = false };

	if (data == NULL || node->conn == NULL)
		return;
	data->started = true;
	data->ready = false;
	neo_conn_notify(node->conn, NEO_START_OPERATION, &start);
}

void master_storage_ready(struct master *m, struct neo_node *node)
{
	struct master_node *data = master_node_data(node);
	char nid[16];

	if (data) {
		data->ready = true;
		/* as upstream: a transaction involves only the storages that
		 * were ready when it began (the others may lack its writes) */
		data->readiness = ++m->storage_readiness;
		neo_log(NEO_LOG_INFO, "storage %s ready", neo_nid_format(node->nid, nid, sizeof nid));
	}
}

void master_stop_operation(struct master *m)
{
	neo_log(NEO_LOG_WARNING, "partition table not operational: back to recovery");
	master_broadcast(m, NEO_STOP_OPERATION, NULL, true, true, false);
	master_txn_reset(m);
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_CLIENT && node->conn)
			neo_conn_close(node->conn, "cluster not operational");
	}
	m->startup_allowed = true;
	master_recovery_start(m, true);
	master_broadcast(m, NEO_NOTIFY_CLUSTER_INFORMATION,
			 &(struct neo_notify_cluster_information){ .state = m->state },
			 true, true, true);
	master_recovery_check(m);
}

void master_storage_lost(struct master *m, struct neo_node *node)
{
	struct master_node *data = node->owner_data;
	bool in_pt = neo_ptable_has_node(&m->pt, node->nid);

	if (data) {
		data->ready = false;
		data->started = false;
		data->replication_watch = false;
	}
	switch (m->state) {
	case NEO_CLUSTER_RECOVERING:
		if (m->pt_source == node)
			m->pt_source = NULL;
		if (!in_pt && node->state == NEO_NODE_PENDING) {
			node->state = NEO_NODE_UNKNOWN;
			master_notify_nodes(m, &node, 1);
			free(node->owner_data);
			neo_nodes_remove(&m->nodes, node);
		} else {
			master_set_node_state(m, node, NEO_NODE_DOWN);
		}
		master_recovery_check(m);
		break;
	case NEO_CLUSTER_STOPPING:
		master_set_node_state(m, node, NEO_NODE_DOWN);
		break;
	default:
		if (!in_pt && node->state == NEO_NODE_PENDING) {
			node->state = NEO_NODE_UNKNOWN;
			master_notify_nodes(m, &node, 1);
			free(node->owner_data);
			neo_nodes_remove(&m->nodes, node);
			break;
		}
		master_set_node_state(m, node, NEO_NODE_DOWN);
		{
			struct neo_ptable before = { 0 };

			neo_ptable_copy(&before, &m->pt);
			master_pt_outdate(m, node->nid);
			master_pt_commit(m, &before);
			neo_ptable_free(&before);
		}
		/* As upstream, operation stops before transactions forget the
		 * node: a transaction waiting only for this node's lock must
		 * not be acknowledged as committed when no storage locked it
		 * (verification decides its fate). */
		if (!neo_ptable_operational(&m->pt, master_is_running, m)) {
			master_stop_operation(m);
			break;
		}
		master_txn_storage_lost(m, node->nid);
		break;
	}
}

/* --- Packets from storages ------------------------------------------------ */

void master_handle_storage_packet(struct master *m, struct neo_node *node,
				  struct neo_conn *conn, struct neo_packet *pkt)
{
	switch (pkt->code) {
	case NEO_NOTIFY_READY:
		master_storage_ready(m, node);
		break;
	case NEO_ASK_UNFINISHED_TRANSACTIONS:
		master_answer_unfinished(m, conn, pkt->msg_id, node);
		break;
	case NEO_NOTIFY_REPLICATION_DONE: {
		const struct neo_notify_replication_done *done = pkt->args;

		/* as upstream: only from a storage that asked which
		 * transactions were unfinished (its cells are "updatable") */
		if (done->partition >= 0 && done->partition < m->pt.num_partitions
		    && master_node_data(node) && master_node_data(node)->replication_watch)
			master_pt_replicated(m, (uint32_t)done->partition, node->nid);
		break;
	}
	case NEO_NOTIFY_PARTITION_CORRUPTED: {
		const struct neo_notify_partition_corrupted *bad = pkt->args;
		char nid[16];

		if (bad->uuids.count == 0) {
			neo_log(NEO_LOG_INFO, "check of partition %lld by %s: replicas are equal",
				(long long)bad->partition, neo_nid_format(node->nid, nid, sizeof nid));
			break;
		}
		/* As upstream: corruption is reported, cells are left as is. */
		for (uint32_t i = 0; i < bad->uuids.count; i++)
			neo_log(NEO_LOG_ERROR, "check of partition %lld: cell of %s is corrupted",
				(long long)bad->partition,
				neo_nid_format(bad->uuids.items[i], nid, sizeof nid));
		break;
	}
	case NEO_ASK_PACK_ORDERS:
		master_pack_answer_orders(m, conn, pkt->msg_id,
					  ((const struct neo_ask_pack_orders *)pkt->args)->min_completed_id);
		break;
	case NEO_NOTIFY_PACK_COMPLETED:
		master_pack_completed(m, node,
				      ((const struct neo_notify_pack_completed *)pkt->args)->pack_id);
		break;
	case NEO_ASK_LAST_TRANSACTION:
	case NEO_ASK_FINAL_TID:
		master_handle_client_packet(m, node, conn, pkt);
		break;
	default:
		if (!neo_packet_is_answer(pkt->code))
			neo_log(NEO_LOG_DEBUG, "ignored %s from a storage", pkt->type->name);
		break;
	}
}
