/*
 * master/decide.c - decisions the master takes from its own state alone:
 * when recovery reads a table, starts, or makes a new cluster; whose lock
 * answer counts and which transaction commits next.  Nothing here sends a
 * packet or needs the event loop, so that tests/unit/test_master checks
 * them without processes.  Calls only master/nodes.c.
 */
#include "master/master.h"

#include "runtime/alloc.h"

/* --- Recovery ------------------------------------------------------------- */

bool master_pending_connected(void *ctx, int32_t nid)
{
	struct master *m = ctx;
	struct neo_node *node = neo_nodes_by_nid(&m->nodes, nid);

	return node && node->conn && node->state == NEO_NODE_PENDING;
}

size_t master_connected_storages(const struct master *m, bool pending_only)
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

/*
 * The connected storage with the newest table, if newer than the one
 * loaded.  Asked after every recovery event, so that a storage lost while
 * it was being asked is replaced by another with the same table, or by
 * itself when it comes back (as upstream), and a newer table announced
 * meanwhile is read after the current one.
 */
struct neo_node *master_recovery_pt_source(const struct master *m, int64_t *ptid)
{
	struct neo_node *best = NULL;
	int64_t best_ptid = m->pt.num_partitions ? m->pt.ptid : 0;

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct master_node *data = node->owner_data;

		if (node->type == NEO_NODE_STORAGE && node->conn && data && data->recovery_answered
		    && data->recovery_ptid > best_ptid) {
			best = node;
			best_ptid = data->recovery_ptid;
		}
	}
	*ptid = best_ptid;
	return best;
}

/* Whether every node with a readable cell is connected. */
static bool every_pt_node_connected(const struct master *m)
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
	neo_free(nids);
	return all;
}

static bool recovery_answers_pending(const struct master *m)
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

enum master_recovery_step master_recovery_decide(const struct master *m)
{
	if (m->state != NEO_CLUSTER_RECOVERING || !m->primary || recovery_answers_pending(m))
		return MASTER_RECOVERY_WAIT;
	if (m->pt.num_partitions) {
		/* as upstream: the table must be operational on the storages
		 * connected; without neoctl start, all of them must be back */
		if (!neo_ptable_operational(&m->pt, master_pending_connected, (void *)m))
			return MASTER_RECOVERY_WAIT;
		if (!m->startup_allowed && !every_pt_node_connected(m))
			return MASTER_RECOVERY_WAIT;
		return MASTER_RECOVERY_START;
	}
	/* a table exists: wait for a storage that has it */
	if (m->recovered_ptid > 0)
		return MASTER_RECOVERY_WAIT;
	if (master_connected_storages(m, true) == 0)
		return MASTER_RECOVERY_WAIT;
	if (m->startup_allowed
	    || (m->opts->autostart > 0
		&& master_connected_storages(m, true) >= (size_t)m->opts->autostart))
		return MASTER_RECOVERY_CREATE;
	return MASTER_RECOVERY_WAIT;
}

/* --- The commit queue ------------------------------------------------------ */

bool master_txn_lock_counted(struct master_txn *txn, int32_t nid)
{
	/* An answer counts once, whatever comes after (a second answer, the
	 * storage lost afterwards). */
	for (uint32_t i = 0; i < txn->locks_pending; i++)
		if (txn->lock_waiting[i] == nid) {
			txn->lock_waiting[i] = txn->lock_waiting[--txn->locks_pending];
			return true;
		}
	return false;
}

struct master_txn *master_txn_next_commit(const struct master *m)
{
	/* As upstream: in tid order; a later transaction whose locks are
	 * all in waits for the earlier ones. */
	if (m->commit_count && m->commit_queue[0]->locks_pending == 0)
		return m->commit_queue[0];
	return NULL;
}

int master_txn_queue_push(struct master *m, struct master_txn *txn)
{
	if (neo_grow(&m->commit_queue, &m->commit_capacity, m->commit_count + 1,
		     sizeof *m->commit_queue) < 0)
		return -1;
	m->commit_queue[m->commit_count++] = txn;
	return 0;
}
