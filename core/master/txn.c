/*
 * master/txn.c - the primary's part of transactions: temporary ids at
 * begin, oids, the final tid at finish, locking on the storages, and
 * committing in tid order (answer, invalidations, unlock), as described in
 * core/cluster/cluster.md section 9 and upstream's neo/master/transactions.py.
 */
#include "master/master.h"

#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static uint64_t last_used_tid(const struct master *m)
{
	uint64_t last = m->last_tid;

	for (const struct master_txn *txn = m->txns; txn; txn = txn->next) {
		if (txn->ttid > last)
			last = txn->ttid;
		if (txn->tid > last)
			last = txn->tid;
	}
	return last;
}

uint64_t master_txn_min_pending(const struct master *m)
{
	uint64_t min = 0;

	for (const struct master_txn *txn = m->txns; txn; txn = txn->next)
		if (min == 0 || txn->ttid < min)
			min = txn->ttid;
	return min;
}

static void txn_unlink(struct master *m, struct master_txn *txn)
{
	for (struct master_txn **at = &m->txns; *at; at = &(*at)->next)
		if (*at == txn) {
			*at = txn->next;
			break;
		}
	neo_idmap_remove(&m->txn_by_ttid, txn->ttid);
	for (size_t i = 0; i < m->commit_count; i++)
		if (m->commit_queue[i] == txn) {
			memmove(&m->commit_queue[i], &m->commit_queue[i + 1],
				(m->commit_count - i - 1) * sizeof *m->commit_queue);
			m->commit_count--;
			break;
		}
}

/* Answers the client that asked AskFinalTID while txn was pending. */
static void answer_final_waiter(struct master_txn *txn, bool committed)
{
	struct neo_answer_final_tid answer = { .tid = { committed, txn->tid } };

	if (txn->final_waiter == NULL)
		return;
	neo_conn_answer(txn->final_waiter, txn->final_waiter_msg_id, NEO_ANSWER_FINAL_TID,
			&answer);
	txn->final_waiter = NULL;
}

/* Frees txn; a client still waiting for its outcome learns it did not
 * commit (committed ones are answered by commit_one). */
static void txn_free(struct master_txn *txn)
{
	answer_final_waiter(txn, false);
	neo_free(txn->pack_oids);
	neo_free(txn->failed);
	neo_free(txn->oids);
	neo_free(txn->deleted);
	neo_free(txn->involved);
	neo_free(txn->lock_waiting);
	neo_free(txn->watchers);
	neo_free(txn);
}

void master_txn_reset(struct master *m)
{
	master_gc_reset(m);
	while (m->txns) {
		struct master_txn *txn = m->txns;

		/* leaving operation: the outcome is not known here (verification
		 * decides), and client connections are closed */
		txn->final_waiter = NULL;
		txn_unlink(m, txn);
		txn_free(txn);
	}
	neo_idmap_free(&m->txn_by_ttid);
	neo_free(m->commit_queue);
	m->commit_queue = NULL;
	m->commit_count = m->commit_capacity = 0;
}

/* --- Begin and abort ------------------------------------------------------ */

void master_txn_begin(struct master *m, struct neo_node *node, struct neo_conn *conn,
		      struct neo_packet *pkt)
{
	const struct neo_ask_begin_transaction *req = pkt->args;
	struct neo_answer_begin_transaction answer;
	struct master_txn *txn;
	uint64_t last = last_used_tid(m);

	if (m->state != NEO_CLUSTER_RUNNING) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "cluster not running");
		return;
	}
	/* the sweep of a page of pack's GC waits for no open transaction */
	if (master_gc_hold_begin(m, node, conn, pkt))
		return;
	if (req->tid.has && (req->tid.v <= last || m->txns)) {
		/* As upstream: a chosen tid must be new, and alone. */
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "invalid tid for a new transaction");
		return;
	}
	txn = neo_calloc(1, sizeof *txn);
	if (txn == NULL) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	txn->fixed_tid = req->tid.has;
	txn->ttid = req->tid.has ? req->tid.v : neo_tid_next(last, 0, 0);
	txn->client = conn;
	txn->client_nid = node->nid;
	txn->storage_readiness = m->storage_readiness;
	if (neo_idmap_put(&m->txn_by_ttid, txn->ttid, txn) < 0) {
		neo_free(txn);
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	/* Kept in begin order: append. */
	{
		struct master_txn **at = &m->txns;

		while (*at)
			at = &(*at)->next;
		*at = txn;
	}
	answer.ttid = txn->ttid;
	neo_metric_inc(m->metrics.txns_begun);
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_BEGIN_TRANSACTION, &answer);
}

static void notify_abort(struct master *m, uint64_t ttid, const int64_t *nids, size_t count)
{
	struct neo_abort_transaction abort_txn = { .ttid = ttid };

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		bool listed = nids == NULL;

		for (size_t k = 0; k < count && !listed; k++)
			listed = nids[k] == node->nid;
		/* as upstream: storages waiting for unfinished transactions
		 * learn of the abort too (they may have joined after the
		 * client chose whom to write to) */
		if (node->owner_data && ((struct master_node *)node->owner_data)->replication_watch)
			listed = true;
		if (node->type == NEO_NODE_STORAGE && node->conn && listed)
			neo_conn_notify(node->conn, NEO_ABORT_TRANSACTION, &abort_txn);
	}
}

void master_txn_abort(struct master *m, struct neo_node *node, struct neo_conn *conn,
		      struct neo_packet *pkt)
{
	const struct neo_abort_transaction *req = pkt->args;
	struct master_txn *txn = neo_idmap_get(&m->txn_by_ttid, req->ttid);

	if (txn && txn->finishing) {
		neo_log(NEO_LOG_WARNING, "%s: abort after finish of %016llx ignored",
			neo_conn_peer(conn), (unsigned long long)req->ttid);
		return;
	}
	if (txn) {
		neo_metric_inc(m->metrics.txns_aborted);
		txn_unlink(m, txn);
		txn_free(txn);
	}
	notify_abort(m, req->ttid, req->involved_uuids.items, req->involved_uuids.count);
}

void master_txn_client_lost(struct master *m, struct neo_conn *conn)
{
	struct master_txn *txn = m->txns, *next;

	for (; txn; txn = next) {
		next = txn->next;
		if (txn->final_waiter == conn)
			txn->final_waiter = NULL;
		if (txn->client != conn)
			continue;
		txn->client = NULL;
		if (txn->finishing)
			continue;	/* orphaned, but completes */
		neo_metric_inc(m->metrics.txns_aborted);
		notify_abort(m, txn->ttid, NULL, 0);
		txn_unlink(m, txn);
		txn_free(txn);
	}
}

/* --- Finish --------------------------------------------------------------- */

static bool nid_in(const int32_t *list, uint32_t count, int32_t nid)
{
	for (uint32_t i = 0; i < count; i++)
		if (list[i] == nid)
			return true;
	return false;
}

static bool ready_at_begin(const struct master_txn *txn, const struct master_node *data)
{
	return data->ready && data->readiness <= txn->storage_readiness;
}

static void add_partition_nodes(struct master *m, struct master_txn *txn, uint32_t partition)
{
	const struct neo_pt_cells *row;

	if (partition >= m->pt.num_partitions)
		return;
	row = &m->pt.rows[partition];
	for (uint32_t i = 0; i < row->count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, row->cells[i].nid);
		struct master_node *data = node ? node->owner_data : NULL;

		if (node && node->conn && data && ready_at_begin(txn, data)
		    && !nid_in(txn->involved, txn->involved_count, node->nid))
			txn->involved[txn->involved_count++] = node->nid;
	}
}

static int collect_involved(struct master *m, struct master_txn *txn,
			    const struct neo_ask_finish_transaction *req)
{
	size_t storages = 0;

	for (size_t i = 0; i < m->nodes.count; i++)
		if (m->nodes.nodes[i]->type == NEO_NODE_STORAGE)
			storages++;
	txn->involved = neo_calloc(storages + 1, sizeof *txn->involved);
	txn->lock_waiting = neo_calloc(storages + 1, sizeof *txn->lock_waiting);
	if (txn->involved == NULL || txn->lock_waiting == NULL)
		return -1;
	add_partition_nodes(m, txn, neo_ptable_partition(&m->pt, txn->ttid));
	for (uint32_t i = 0; i < req->oids.count; i++)
		add_partition_nodes(m, txn, neo_ptable_partition(&m->pt, req->oids.items[i]));
	for (uint32_t i = 0; i < req->deleted.count; i++)
		if (req->deleted.items[i] >= 0)
			add_partition_nodes(m, txn, (uint32_t)req->deleted.items[i]);
	for (uint32_t i = 0; i < req->checked.count; i++)
		if (req->checked.items[i] >= 0)
			add_partition_nodes(m, txn, (uint32_t)req->checked.items[i]);
	return 0;
}

static void commit_ready(struct master *m);
static bool operational_without(struct master *m, const int32_t *nids, uint32_t count);
static void drop_failed_storages(struct master *m, struct master_txn *txn);

static void lock_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct neo_node *node = neo_nodes_by_conn(&m->nodes, conn);
	uint64_t ttid;

	if (status != NEO_ASK_ANSWERED || node == NULL)
		return;		/* a lost storage is handled by master_txn_storage_lost */
	if (answer->code != NEO_ANSWER_INFORMATION_LOCKED) {
		neo_log(NEO_LOG_ERROR, "%s could not lock a transaction", neo_conn_peer(conn));
		neo_conn_abort(conn, "failed to lock");
		return;
	}
	ttid = ((const struct neo_answer_information_locked *)answer->args)->ttid;
	master_txn_lock_answered(m, node->nid, ttid);
}

void master_txn_lock_answered(struct master *m, int32_t storage_nid, uint64_t ttid)
{
	struct master_txn *txn = neo_idmap_get(&m->txn_by_ttid, ttid);

	if (txn == NULL || !txn->finishing)
		return;
	master_txn_lock_counted(txn, storage_nid);
	commit_ready(m);
}

/* A finish refused ends the transaction here: its client, which sent the
 * finish, aborts nothing after it (as upstream's, whose master forgets the
 * transaction on the ProtocolError that closes the client's connection, or
 * aborts it itself on IncompleteTransaction).  Left in the table, it would
 * be listed as unfinished to every storage replicating
 * (AskUnfinishedTransactions) until the client disconnects, keeping their
 * cells OUT_OF_DATE. */
static void finish_refused(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			   struct master_txn *txn, enum neo_error_code code, const char *why)
{
	uint64_t ttid = txn->ttid;

	neo_conn_answer_error(conn, msg_id, code, why);
	neo_log(NEO_LOG_INFO, "%s: finish of %016llx refused (%s): aborted", neo_conn_peer(conn),
		(unsigned long long)ttid, why);
	neo_metric_inc(m->metrics.txns_aborted);
	txn_unlink(m, txn);
	txn_free(txn);
	notify_abort(m, ttid, NULL, 0);
}

void master_txn_finish(struct master *m, struct neo_node *client, struct neo_conn *conn,
		       struct neo_packet *pkt)
{
	const struct neo_ask_finish_transaction *req = pkt->args;
	struct master_txn *txn = neo_idmap_get(&m->txn_by_ttid, req->ttid);
	struct neo_ask_lock_information lock;

	if (txn == NULL || txn->client != conn || txn->finishing) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "unknown transaction");
		return;
	}
	if (master_pack_check(m, &req->pack) < 0) {
		finish_refused(m, conn, pkt->msg_id, txn, NEO_ERROR_PROTOCOL_ERROR,
			       "invalid pack time");
		return;
	}
	if (txn->failed_count) {
		uint64_t ttid = txn->ttid;

		if (!operational_without(m, txn->failed, txn->failed_count)) {
			/* as upstream: answered, and aborted for the client */
			neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_INCOMPLETE_TRANSACTION,
					      "not enough storages left for this transaction");
			neo_metric_inc(m->metrics.txns_aborted);
			notify_abort(m, ttid, NULL, 0);
			txn_unlink(m, txn);
			txn_free(txn);
			return;
		}
		drop_failed_storages(m, txn);
		/* losing them may have changed everything (it should not
		 * stop operation: the table is operational without them) */
		txn = neo_idmap_get(&m->txn_by_ttid, ttid);
		if (txn == NULL || m->state != NEO_CLUSTER_RUNNING)
			return;
	}
	if (master_pack_copy(&req->pack, txn) < 0) {
		finish_refused(m, conn, pkt->msg_id, txn, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	txn->oids = neo_malloc((req->oids.count + 1) * sizeof *txn->oids);
	if (txn->oids == NULL || collect_involved(m, txn, req) < 0 || master_txn_queue_push(m, txn) < 0) {
		finish_refused(m, conn, pkt->msg_id, txn, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	memcpy(txn->oids, req->oids.items, req->oids.count * sizeof *txn->oids);
	txn->oid_count = req->oids.count;
	/* as upstream: InvalidatePartitions names them too, so that a backup
	 * replicates a partition whose only change is a deletion */
	txn->deleted = neo_malloc((req->deleted.count + 1) * sizeof *txn->deleted);
	if (txn->deleted == NULL) {
		finish_refused(m, conn, pkt->msg_id, txn, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	memcpy(txn->deleted, req->deleted.items, req->deleted.count * sizeof *txn->deleted);
	txn->deleted_count = req->deleted.count;
	txn->finishing = true;
	txn->finish_msg_id = pkt->msg_id;
	txn->finish_started = master_metrics_clock();
	txn->tid = txn->fixed_tid ? txn->ttid
				  : neo_tid_next(last_used_tid(m), txn->ttid, m->pt.num_partitions);
	lock.ttid = txn->ttid;
	lock.tid = txn->tid;
	/* as upstream: the pack order is approved at lock (automatic signing) */
	lock.pack = txn->has_pack;
	for (uint32_t i = 0; i < txn->involved_count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, txn->involved[i]);

		if (node && node->conn
		    && neo_conn_ask(node->conn, NEO_ASK_LOCK_INFORMATION, &lock, 0, lock_answered, m) >= 0)
			txn->lock_waiting[txn->locks_pending++] = node->nid;
	}
	commit_ready(m);
}

static void add_partition_once(int64_t *partitions, uint32_t *count, int64_t p)
{
	for (uint32_t k = 0; k < *count; k++)
		if (partitions[k] == p)
			return;
	partitions[(*count)++] = p;
}

/* InvalidatePartitions: the commit's tid and the partitions of its
 * objects, stored or deleted, as upstream (the backup master adds the
 * tid's own partition). */
static void notify_partitions(struct master *m, struct neo_conn *conn, struct master_txn *txn)
{
	struct neo_invalidate_partitions invalidate = { .tid = txn->tid };
	int64_t *partitions = neo_calloc(txn->oid_count + txn->deleted_count + 1,
					 sizeof *partitions);
	uint32_t count = 0;

	if (partitions == NULL || m->pt.num_partitions == 0) {
		neo_free(partitions);
		return;
	}
	for (uint32_t i = 0; i < txn->oid_count; i++)
		add_partition_once(partitions, &count, neo_ptable_partition(&m->pt, txn->oids[i]));
	for (uint32_t i = 0; i < txn->deleted_count; i++)
		if (txn->deleted[i] >= 0 && txn->deleted[i] < (int64_t)m->pt.num_partitions)
			add_partition_once(partitions, &count, txn->deleted[i]);
	invalidate.partitions = (struct neo_list_int){ partitions, count };
	neo_conn_notify(conn, NEO_INVALIDATE_PARTITIONS, &invalidate);
	neo_free(partitions);
}

static void commit_one(struct master *m, struct master_txn *txn)
{
	struct neo_answer_transaction_finished finished = { .ttid = txn->ttid, .tid = txn->tid };
	struct neo_invalidate_objects invalidate = { .tid = txn->tid };
	struct neo_notify_unlock_information unlock = { .ttid = txn->ttid };
	struct neo_notify_transaction_finished done = { .ttid = txn->ttid, .max_tid = txn->tid };

	invalidate.oids.items = txn->oids;
	invalidate.oids.count = txn->oid_count;
	if (txn->client)
		neo_conn_answer(txn->client, txn->finish_msg_id, NEO_ANSWER_TRANSACTION_FINISHED,
				&finished);
	answer_final_waiter(txn, true);
	/* As upstream: invalidations in tid order, always before the unlock. */
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type != NEO_NODE_CLIENT || node->conn == NULL || node->conn == txn->client)
			continue;
		/* as upstream: the master of a backup cluster is told the
		 * partitions the commit touched */
		if (master_node_data(node)->backup)
			notify_partitions(m, node->conn, txn);
		else
			neo_conn_notify(node->conn, NEO_INVALIDATE_OBJECTS, &invalidate);
	}
	for (uint32_t i = 0; i < txn->involved_count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, txn->involved[i]);

		if (node && node->conn)
			neo_conn_notify(node->conn, NEO_NOTIFY_UNLOCK_INFORMATION, &unlock);
	}
	/* As upstream: only the storages that were told of this transaction
	 * as unfinished (AskUnfinishedTransactions) hear that it finished;
	 * an upstream storage stops on the end of a transaction it was not
	 * waiting for. */
	for (uint32_t i = 0; i < txn->watcher_count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, txn->watchers[i]);

		if (node && node->type == NEO_NODE_STORAGE && node->conn)
			neo_conn_notify(node->conn, NEO_NOTIFY_TRANSACTION_FINISHED, &done);
	}
	m->last_tid = txn->tid;
	neo_metric_inc(m->metrics.txns_finished);
	(void)neo_metric_observe(m->metrics.finish_seconds, NULL,
				 master_metrics_clock() - txn->finish_started);
	/* as upstream: the first tid follows commits too (truncate checks it) */
	if (m->first_tid == 0 || txn->tid < m->first_tid)
		m->first_tid = txn->tid;
	for (uint32_t i = 0; i < txn->oid_count; i++)
		if (txn->oids[i] > m->last_oid)
			m->last_oid = txn->oids[i];
	master_gc_committed(m, txn->oids, txn->oid_count);
	master_pack_committed(m, txn);
}

static void commit_ready(struct master *m)
{
	struct master_txn *txn;

	while ((txn = master_txn_next_commit(m)) != NULL) {
		commit_one(m, txn);
		txn_unlink(m, txn);
		txn_free(txn);
	}
}

void master_txn_storage_lost(struct master *m, int32_t nid)
{
	for (size_t i = 0; i < m->commit_count; i++) {
		struct master_txn *txn = m->commit_queue[i];

		for (uint32_t k = 0; k < txn->involved_count; k++)
			if (txn->involved[k] == nid) {
				/* Not waited for any more; its cells get outdated. */
				txn->involved[k] = txn->involved[--txn->involved_count];
				master_txn_lock_counted(txn, nid);
				break;
			}
	}
	commit_ready(m);
}

/* --- Unfinished transactions for replication ------------------------------ */

void master_txn_ask_unfinished(struct master *m, struct neo_node *node, struct neo_conn *conn,
			       struct neo_packet *pkt)
{
	uint32_t msg_id = pkt->msg_id;
	struct neo_answer_unfinished_transactions answer = { .max_tid = m->last_tid };
	size_t count = 0;
	uint64_t *ttids;
	struct master_node *data = master_node_data(node);

	/* as upstream: in backup mode, up to the backup tid every readable
	 * cell has, and nothing is pending */
	if (m->has_backup_tid) {
		answer.max_tid = master_backup_tid(m, false);
		if (data)
			data->replication_watch = true;
		neo_conn_answer(conn, msg_id, NEO_ANSWER_UNFINISHED_TRANSACTIONS, &answer);
		return;
	}

	for (struct master_txn *txn = m->txns; txn; txn = txn->next)
		count++;
	ttids = neo_calloc(count + 1, sizeof *ttids);
	if (ttids == NULL || data == NULL) {
		neo_free(ttids);
		neo_conn_answer_error(conn, msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	count = 0;
	for (struct master_txn *txn = m->txns; txn; txn = txn->next) {
		bool known = false;

		ttids[count++] = txn->ttid;
		for (uint32_t i = 0; i < txn->watcher_count && !known; i++)
			known = txn->watchers[i] == node->nid;
		if (known)
			continue;
		if (neo_grow(&txn->watchers, &txn->watcher_capacity, txn->watcher_count + 1,
			     sizeof *txn->watchers) < 0) {
			neo_free(ttids);
			neo_conn_answer_error(conn, msg_id, NEO_ERROR_NOT_READY, "out of memory");
			return;
		}
		txn->watchers[txn->watcher_count++] = node->nid;
	}
	answer.ttids.items = ttids;
	answer.ttids.count = (uint32_t)count;
	data->replication_watch = true;
	neo_conn_answer(conn, msg_id, NEO_ANSWER_UNFINISHED_TRANSACTIONS, &answer);
	neo_free(ttids);
}

/* --- New oids, last transaction -------------------------------------------- */

void master_txn_new_oids(struct master *m, struct neo_node *node, struct neo_conn *conn,
			 struct neo_packet *pkt)
{
	const struct neo_ask_new_oids *req = pkt->args;
	struct neo_answer_new_oids answer = { 0 };
	uint32_t count = req->count > 0 && req->count <= 10000 ? (uint32_t)req->count : 0;

	if (count == 0) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "bad oid count");
		return;
	}
	answer.oids.items = neo_malloc(count * sizeof *answer.oids.items);
	if (answer.oids.items == NULL) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < count; i++)
		answer.oids.items[i] = ++m->last_oid;
	answer.oids.count = count;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_NEW_OIDS, &answer);
	neo_free(answer.oids.items);
}

/* Whether the table stays operational without the storages listed. */
static bool operational_without(struct master *m, const int32_t *nids, uint32_t count)
{
	struct neo_ptable without = { 0 };
	bool operational;

	if (neo_ptable_copy(&without, &m->pt) < 0)
		return false;
	for (uint32_t i = 0; i < count; i++)
		neo_ptable_drop_node(&without, nids[i]);
	operational = neo_ptable_operational(&without, master_is_running, m);
	neo_ptable_free(&without);
	return operational;
}

static int txn_add_failed(struct master_txn *txn, int32_t nid)
{
	if (nid_in(txn->failed, txn->failed_count, nid))
		return 0;
	if (neo_grow(&txn->failed, &txn->failed_capacity, txn->failed_count + 1,
		     sizeof *txn->failed) < 0)
		return -1;
	txn->failed[txn->failed_count++] = nid;
	return 0;
}

/*
 * As upstream: the client could not write to some storages.  Those that
 * were not ready when the transaction began were not expected to get it
 * in full and do not count.  The vote may go on if the table stays
 * operational without the others: they are disconnected at finish, before
 * the lock, so that their cells are outdated and catch up by replication
 * (locking the transaction there would commit it incomplete).
 */
void master_txn_failed_vote(struct master *m, struct neo_node *client, struct neo_conn *conn,
			    struct neo_packet *pkt)
{
	const struct neo_failed_vote *req = pkt->args;
	struct master_txn *txn = neo_idmap_get(&m->txn_by_ttid, req->ttid);

	if (txn == NULL || txn->client != conn || txn->finishing) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "unknown transaction");
		return;
	}
	for (uint32_t i = 0; i < req->failed_uuids.count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, (int32_t)req->failed_uuids.items[i]);
		struct master_node *data = node ? node->owner_data : NULL;

		if (node == NULL || node->type != NEO_NODE_STORAGE || data == NULL
		    || !ready_at_begin(txn, data))
			continue;
		if (txn_add_failed(txn, node->nid) < 0) {
			neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
			return;
		}
	}
	if (operational_without(m, txn->failed, txn->failed_count))
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_ACK, "");
	else
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_INCOMPLETE_TRANSACTION,
				      "not enough storages left for this transaction");
}

/* Disconnects the storages a write of txn failed to (see failed_vote). */
static void drop_failed_storages(struct master *m, struct master_txn *txn)
{
	for (uint32_t i = 0; i < txn->failed_count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, txn->failed[i]);
		char nid[16];

		if (node == NULL || node->conn == NULL)
			continue;
		neo_log(NEO_LOG_WARNING, "%s missed writes of %016llx: disconnected to catch up",
			neo_nid_format(node->nid, nid, sizeof nid), (unsigned long long)txn->ttid);
		neo_conn_abort(node->conn, "a write failed there");
	}
}

/*
 * As upstream: a ttid newer than any tid given out is unknown or aborted
 * (None); a transaction still pending gets its answer when it commits
 * (or None if it goes away); anything else committed, and MAX_TID sends
 * the client to the storages to learn its tid.
 */
void master_txn_ask_final_tid(struct master *m, struct neo_node *node, struct neo_conn *conn,
			      struct neo_packet *pkt)
{
	const struct neo_ask_final_tid *req = pkt->args;
	struct master_txn *txn = neo_idmap_get(&m->txn_by_ttid, req->ttid);
	struct neo_answer_final_tid answer = { .tid = { true, NEO_MAX_TID } };

	if (txn) {
		answer_final_waiter(txn, false);	/* one client at a time */
		txn->final_waiter = conn;
		txn->final_waiter_msg_id = pkt->msg_id;
		return;
	}
	if (req->ttid > last_used_tid(m))
		answer.tid.has = false;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_FINAL_TID, &answer);
}

void master_txn_ask_last_transaction(struct master *m, struct neo_node *node,
				     struct neo_conn *conn, struct neo_packet *pkt)
{
	struct neo_answer_last_transaction answer = { .tid = m->last_tid };

	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_LAST_TRANSACTION, &answer);
}
