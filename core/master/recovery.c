/*
 * master/recovery.c - the cluster's life: RECOVERING (gather the partition
 * table and ids from storages, decide when to start), VERIFYING (finish
 * transactions left locked by a crash), RUNNING, STOPPING, and what losing
 * a storage does to it.  Follows upstream's neo/master/recovery.py and
 * verification.py in behaviour.
 */
#include "master/master.h"

#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

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
							master_set_node_state(m, down,
									      NEO_NODE_DOWN);
						}
					}
				neo_free(nids);
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
		data->recovery_has_backup_tid = recovery->backup_tid.has;
		data->recovery_truncate_tid =
			recovery->truncate_tid.has ? recovery->truncate_tid.v : 0;
	}
	master_recovery_check(m);
}

/* Asks the storage with the newest table for it (master_recovery_pt_source
 * decides which).  Returns whether a table is being read. */
static bool recovery_fetch_pt(struct master *m)
{
	int64_t ptid;
	struct neo_node *best;

	if (m->pt_source)
		return true;
	if ((best = master_recovery_pt_source(m, &ptid)) == NULL)
		return false;
	{
		struct master_node *data = best->owner_data;

		m->recovered_ptid = ptid;
		m->backup_tid = data->recovery_backup_tid;
		m->has_backup_tid = data->recovery_has_backup_tid;
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
	/* told to the nodes by the caller, when there are any */
	if (!master_change_state(m, NEO_CLUSTER_RECOVERING))
		return;
	/* After a loss of operation the table this master last committed is
	 * the newest there is (the storages that died first did not get its
	 * last changes): an older one from them would start the cluster on
	 * cells that miss the last commits.  Only a newer one replaces it. */
	if (!keep_pt || m->pt.num_partitions == 0) {
		neo_ptable_clear(&m->pt);
		m->recovered_ptid = 0;
	} else {
		m->recovered_ptid = m->pt.ptid;
	}
	m->pt_source = NULL;
	m->verification_pending = 0;
	m->has_backup_tid = false;
	master_backup_stop(m);
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn) {
			if (node->state == NEO_NODE_RUNNING)
				master_set_node_state(m, node, NEO_NODE_PENDING);
			master_recovery_node(m, node);
		}
	}
}

static void verification_start(struct master *m);

/* Outdates the cells of the storages of the table that did not come back;
 * false (the table and the nodes as they were) if that cannot be done. */
static bool recovery_outdate_missing(struct master *m, const int32_t *chosen, size_t count)
{
	struct neo_ptable before = { 0 };
	int32_t *nids;
	size_t n;

	if (neo_ptable_copy(&before, &m->pt) < 0)
		return false;
	for (size_t i = 0; i < count; i++)
		master_set_node_state(m, neo_nodes_by_nid(&m->nodes, chosen[i]), NEO_NODE_RUNNING);
	/* As upstream: cells of the nodes that did not come back are out of
	 * date, unless they hold the last readable copy. */
	if (neo_ptable_nodes(&m->pt, &nids, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!master_is_running(m, nids[i]))
				master_pt_outdate(m, nids[i]);
		neo_free(nids);
	}
	if (master_pt_commit(m, &before) < 0) {
		for (size_t i = 0; i < count; i++)
			master_set_node_state(m, neo_nodes_by_nid(&m->nodes, chosen[i]),
					      NEO_NODE_PENDING);
		neo_ptable_free(&before);
		return false;
	}
	neo_ptable_free(&before);
	return true;
}

/* Moves the chosen storages to RUNNING and goes verifying. */
static void recovery_finish(struct master *m, bool new_table)
{
	int32_t *chosen = neo_calloc(m->nodes.count + 1, sizeof *chosen);
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
	}
	if (new_table) {
		for (size_t i = 0; i < count; i++)
			master_set_node_state(m, neo_nodes_by_nid(&m->nodes, chosen[i]),
					      NEO_NODE_RUNNING);
		if (master_pt_make(m, chosen, count) < 0) {
			neo_log(NEO_LOG_ERROR, "cannot make the partition table: still recovering");
			neo_free(chosen);
			return;
		}
		neo_log(NEO_LOG_INFO, "new cluster: %u partitions over %zu storage(s), %u replica(s)",
			m->pt.num_partitions, count, m->pt.num_replicas);
	} else if (!recovery_outdate_missing(m, chosen, count)) {
		/* a later recovery event tries again */
		neo_log(NEO_LOG_ERROR, "cannot outdate the cells of missing storages: "
			"still recovering");
		neo_free(chosen);
		return;
	}
	/* As upstream, backup mode is what the storages say: the table's
	 * source, or (the table kept after a loss of operation) any of the
	 * storages starting. */
	for (size_t i = 0; i < count && !m->has_backup_tid; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, chosen[i]);
		struct master_node *data = node ? node->owner_data : NULL;

		if (data && data->recovery_has_backup_tid) {
			m->has_backup_tid = true;
			m->backup_tid = data->recovery_backup_tid;
		}
	}
	neo_free(chosen);
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
	if (m->state != NEO_CLUSTER_RECOVERING || !m->primary || recovery_fetch_pt(m))
		return;
	switch (master_recovery_decide(m)) {
	case MASTER_RECOVERY_WAIT:
		break;
	case MASTER_RECOVERY_START:
		recovery_finish(m, false);
		break;
	case MASTER_RECOVERY_CREATE:
		recovery_finish(m, true);
		break;
	}
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
		neo_free(txn);
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
	neo_free(ask);
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
			if ((ask = neo_malloc(sizeof *ask)) == NULL)
				continue;
			*ask = (struct final_tid_ask){ m, ttid };
			if (neo_conn_ask(node->conn, NEO_ASK_FINAL_TID, &req, 0, answered_final_tid, ask) < 0)
				neo_free(ask);
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
				txn = neo_calloc(1, sizeof *txn);
				if (txn == NULL || neo_idmap_put(&m->locked, ttid, txn) < 0) {
					neo_free(txn);
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
	if (!master_backup_after_verification(m))
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
	/* as upstream: in backup mode, the storages are told */
	struct neo_start_operation start = { .backup = m->has_backup_tid };

	if (data == NULL || node->conn == NULL)
		return;
	data->started = true;
	data->ready = false;
	neo_conn_notify(node->conn, NEO_START_OPERATION, &start);
}

void master_storage_notify_ready(struct master *m, struct neo_node *node, struct neo_conn *conn,
				 struct neo_packet *pkt)
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
	master_backup_storage_ready(m);
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

/* Outdates the cells of a lost storage; false (the table as it was) if
 * that cannot be done. */
static bool storage_lost_outdate(struct master *m, int32_t nid)
{
	struct neo_ptable before = { 0 };
	int rc;

	if (neo_ptable_copy(&before, &m->pt) < 0)
		return false;
	master_pt_outdate(m, nid);
	rc = master_pt_commit(m, &before);
	neo_ptable_free(&before);
	return rc == 0;
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
			master_forget_node(m, node);
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
			master_forget_node(m, node);
			break;
		}
		master_set_node_state(m, node, NEO_NODE_DOWN);
		master_backup_node_lost(m, node);
		if (!storage_lost_outdate(m, node->nid)) {
			/* Its cells would stay readable while it misses writes:
			 * recovery outdates them when it starts the cluster. */
			char nid[16];

			neo_log(NEO_LOG_ERROR, "cannot outdate the cells of %s: back to recovery",
				neo_nid_format(node->nid, nid, sizeof nid));
			master_stop_operation(m);
			break;
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

/* --- Packets from storages (routed by master/routes.c) ---------------------- */

void master_storage_replication_done(struct master *m, struct neo_node *node,
				     struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_notify_replication_done *done = pkt->args;

	if (m->has_backup_tid) {
		if (done->partition >= 0 && done->partition < m->pt.num_partitions)
			master_backup_replication_done(m, node, (uint32_t)done->partition, done->tid);
		return;
	}
	/* as upstream: only from a storage that asked which transactions
	 * were unfinished (its cells are "updatable") */
	if (done->partition >= 0 && done->partition < m->pt.num_partitions
	    && master_node_data(node) && master_node_data(node)->replication_watch
	    && !master_gc_hold_replicated(m, (uint32_t)done->partition, node->nid))
		master_pt_replicated(m, (uint32_t)done->partition, node->nid);
}

void master_storage_partition_corrupted(struct master *m, struct neo_node *node,
					struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_notify_partition_corrupted *bad = pkt->args;
	char nid[16];

	if (bad->uuids.count == 0) {
		neo_log(NEO_LOG_INFO, "check of partition %lld by %s: replicas are equal",
			(long long)bad->partition, neo_nid_format(node->nid, nid, sizeof nid));
		return;
	}
	/* As upstream: corruption is reported, cells are left as is. */
	for (uint32_t i = 0; i < bad->uuids.count; i++)
		neo_log(NEO_LOG_ERROR, "check of partition %lld: cell of %s is corrupted",
			(long long)bad->partition, neo_nid_format(bad->uuids.items[i], nid, sizeof nid));
}
