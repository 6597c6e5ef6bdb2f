/*
 * test_master.c - the master's decisions, without processes: built from
 * core/master/nodes.c, decide.c and pt.c, the files that hold them.
 *
 *   - the state setters: legal transitions change and tell, illegal ones
 *     are refused (nothing changes, nothing is told);
 *   - forgetting a node;
 *   - the partition table: make, outdate (the last readable copy stays),
 *     commit (ptid + 1, one notification; nothing when nothing changed),
 *     tweak (balance, new cells OUT_OF_DATE, FEEDING sources, dry run);
 *   - recovery: which storage's table is read, when to start or create;
 *   - lock handover: an answer counts once, the commit order.
 *
 * Connections are fakes: this file defines neo_conn_notify, which counts
 * what the master would send (no other function of net/conn.c is used by
 * these files, so the real one is not linked).
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "master/master.h"
#include "runtime/log.h"
#include "tap.h"

/* --- Fake connections ------------------------------------------------------ */

static char fake_conn_storage[8];
#define CONN(i) ((struct neo_conn *)&fake_conn_storage[i])

static unsigned sent_total, sent_cluster_info, sent_node_info, sent_pt_changes;
static int64_t last_pt_changes_ptid;

int neo_conn_notify(struct neo_conn *conn, uint16_t code, const void *args)
{
	(void)conn;
	sent_total++;
	if (code == NEO_NOTIFY_CLUSTER_INFORMATION)
		sent_cluster_info++;
	else if (code == NEO_NOTIFY_NODE_INFORMATION)
		sent_node_info++;
	else if (code == NEO_NOTIFY_PARTITION_CHANGES) {
		sent_pt_changes++;
		last_pt_changes_ptid = ((const struct neo_notify_partition_changes *)args)->ptid;
	}
	return 0;
}

static void sent_reset(void)
{
	sent_total = sent_cluster_info = sent_node_info = sent_pt_changes = 0;
}

/* --- A master without a loop ------------------------------------------------ */

static struct neo_options opts;

static void master_setup(struct master *m, long partitions, long replicas)
{
	memset(m, 0, sizeof *m);
	memset(&opts, 0, sizeof opts);
	opts.partitions = partitions;
	opts.replicas = replicas;
	m->opts = &opts;
	m->primary = true;
	m->state = NEO_CLUSTER_RECOVERING;
	neo_nodes_init(&m->nodes);
}

static void master_teardown(struct master *m)
{
	for (size_t i = 0; i < m->nodes.count; i++)
		free(m->nodes.nodes[i]->owner_data);
	neo_nodes_free(&m->nodes);
	neo_ptable_free(&m->pt);
	free(m->commit_queue);
}

/* Storage number n (its nid is neo_nid_make(STORAGE, n)); connected when
 * conn_slot >= 0. */
static struct neo_node *add_node(struct master *m, enum neo_node_type type, uint32_t n,
				 enum neo_node_state state, int conn_slot)
{
	struct neo_node *node = neo_nodes_add(&m->nodes, type);

	node->nid = neo_nid_make(type, n);
	node->conn = conn_slot >= 0 ? CONN(conn_slot) : NULL;
	master_node_data(node);
	master_change_node_state(m, node, state);
	return node;
}

static int32_t S(uint32_t n)
{
	return neo_nid_make(NEO_NODE_STORAGE, n);
}

static uint32_t cells_of(const struct neo_ptable *pt, int32_t nid, int state)
{
	uint32_t count = 0;

	for (uint32_t p = 0; p < pt->num_partitions; p++) {
		int s = neo_ptable_cell_state(pt, p, nid);

		if (s >= 0 && (state < 0 || s == state))
			count++;
	}
	return count;
}

/* --- State setters ------------------------------------------------------------- */

static void test_cluster_states(void)
{
	struct master m;
	static const struct {
		enum neo_cluster_state from, to;
		bool legal;
	} cases[] = {
		{ NEO_CLUSTER_RECOVERING, NEO_CLUSTER_VERIFYING, true },
		{ NEO_CLUSTER_VERIFYING, NEO_CLUSTER_RUNNING, true },
		{ NEO_CLUSTER_RUNNING, NEO_CLUSTER_RECOVERING, true },
		{ NEO_CLUSTER_VERIFYING, NEO_CLUSTER_RECOVERING, true },
		{ NEO_CLUSTER_RECOVERING, NEO_CLUSTER_STOPPING, true },
		{ NEO_CLUSTER_RUNNING, NEO_CLUSTER_STOPPING, true },
		{ NEO_CLUSTER_RECOVERING, NEO_CLUSTER_RUNNING, false },
		{ NEO_CLUSTER_RUNNING, NEO_CLUSTER_VERIFYING, false },
		{ NEO_CLUSTER_STOPPING, NEO_CLUSTER_RECOVERING, false },
		{ NEO_CLUSTER_STOPPING, NEO_CLUSTER_RUNNING, false },
		{ NEO_CLUSTER_RECOVERING, NEO_CLUSTER_BACKINGUP, false },
		{ NEO_CLUSTER_RUNNING, (enum neo_cluster_state)42, false },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *from = neo_enum_name(NEO_ENUM_CLUSTER_STATES, cases[i].from);
		const char *to = neo_enum_name(NEO_ENUM_CLUSTER_STATES, cases[i].to);
		bool done;

		master_setup(&m, 1, 0);
		add_node(&m, NEO_NODE_STORAGE, 1, NEO_NODE_RUNNING, 0);
		add_node(&m, NEO_NODE_CLIENT, 1, NEO_NODE_RUNNING, 1);
		add_node(&m, NEO_NODE_ADMIN, 1, NEO_NODE_RUNNING, 2);
		m.state = cases[i].from;
		sent_reset();
		done = master_set_state(&m, cases[i].to);
		tap_ok(done == cases[i].legal
		       && m.state == (cases[i].legal ? cases[i].to : cases[i].from)
		       && sent_cluster_info == (cases[i].legal ? 3u : 0u),
		       "cluster state %s -> %s: %s", from ? from : "?", to ? to : "?",
		       cases[i].legal ? "changed and told to the 3 nodes" : "refused, nothing told");
		master_teardown(&m);
	}
	master_setup(&m, 1, 0);
	add_node(&m, NEO_NODE_STORAGE, 1, NEO_NODE_RUNNING, 0);
	sent_reset();
	tap_ok(master_set_state(&m, NEO_CLUSTER_RECOVERING) && sent_total == 0,
	       "cluster state set to itself: nothing to tell");
	tap_ok(master_change_state(&m, NEO_CLUSTER_VERIFYING) && m.state == NEO_CLUSTER_VERIFYING
	       && sent_total == 0, "master_change_state changes without telling");
	master_teardown(&m);
}

static void test_node_states(void)
{
	struct master m;
	struct neo_node *storage, *client, *master_peer;

	master_setup(&m, 1, 0);
	storage = add_node(&m, NEO_NODE_STORAGE, 1, NEO_NODE_RUNNING, 0);
	client = add_node(&m, NEO_NODE_CLIENT, 1, NEO_NODE_RUNNING, 1);
	master_peer = add_node(&m, NEO_NODE_MASTER, 2, NEO_NODE_RUNNING, 2);

	sent_reset();
	tap_ok(master_set_node_state(&m, storage, NEO_NODE_PENDING)
	       && storage->state == NEO_NODE_PENDING && sent_node_info == 2,
	       "storage RUNNING -> PENDING: changed, told to the storage and the client "
	       "(not to masters)");
	sent_reset();
	tap_ok(!master_set_node_state(&m, client, NEO_NODE_PENDING)
	       && client->state == NEO_NODE_RUNNING && sent_total == 0,
	       "client -> PENDING (storages only): refused, nothing told");
	tap_ok(!master_set_node_state(&m, master_peer, NEO_NODE_PENDING)
	       && master_peer->state == NEO_NODE_RUNNING, "master -> PENDING: refused");
	tap_ok(!master_set_node_state(&m, storage, (enum neo_node_state)9)
	       && storage->state == NEO_NODE_PENDING, "storage -> state 9 (no such state): refused");
	sent_reset();
	tap_ok(master_set_node_state(&m, storage, NEO_NODE_PENDING) && sent_total == 0,
	       "a state set to itself: nothing told");
	tap_ok(master_set_node_state(&m, storage, NEO_NODE_RUNNING)
	       && storage->state == NEO_NODE_RUNNING, "storage PENDING -> RUNNING");
	tap_ok(master_set_node_state(&m, storage, NEO_NODE_DOWN)
	       && master_set_node_state(&m, storage, NEO_NODE_RUNNING),
	       "storage RUNNING -> DOWN -> RUNNING (identified again)");
	tap_ok(master_node_transition_ok(NEO_NODE_STORAGE, NEO_NODE_UNKNOWN, NEO_NODE_DOWN)
	       && master_node_transition_ok(NEO_NODE_CLIENT, NEO_NODE_RUNNING, NEO_NODE_UNKNOWN)
	       && !master_node_transition_ok(NEO_NODE_ADMIN, NEO_NODE_RUNNING, NEO_NODE_PENDING),
	       "transition rules: UNKNOWN -> DOWN, -> UNKNOWN legal; PENDING for storages only");

	/* forgetting */
	sent_reset();
	master_forget_node(&m, client);
	tap_ok(m.nodes.count == 2 && neo_nodes_by_nid(&m.nodes, neo_nid_make(NEO_NODE_CLIENT, 1))
					  == NULL && sent_node_info == 1,
	       "a forgotten client is told UNKNOWN to the others, then removed");
	master_teardown(&m);
}

/* --- Partition table ----------------------------------------------------------- */

static void test_pt_make_outdate_commit(void)
{
	struct master m;
	struct neo_ptable before = { 0 };
	int32_t nids[3] = { S(1), S(2), S(3) };
	struct neo_node *s3;
	bool balanced = true, rows_ok = true;

	master_setup(&m, 6, 1);
	add_node(&m, NEO_NODE_STORAGE, 1, NEO_NODE_RUNNING, 0);
	add_node(&m, NEO_NODE_STORAGE, 2, NEO_NODE_RUNNING, 1);
	s3 = add_node(&m, NEO_NODE_STORAGE, 3, NEO_NODE_RUNNING, 2);
	tap_ok(master_pt_make(&m, nids, 0) < 0, "make: no storage, no table");
	tap_ok(master_pt_make(&m, nids, 3) == 0 && m.pt.ptid == 1 && m.pt.num_partitions == 6,
	       "make: 6 partitions, ptid 1");
	for (uint32_t p = 0; p < 6; p++)
		rows_ok &= m.pt.rows[p].count == 2;
	for (int i = 0; i < 3; i++)
		balanced &= cells_of(&m.pt, nids[i], NEO_CELL_UP_TO_DATE) == 4;
	tap_ok(rows_ok && balanced, "make: 2 cells a row (1 replica), 4 UP_TO_DATE cells a node");

	/* storage 3 lost: its cells are outdated, but for a last copy */
	s3->conn = NULL;
	master_change_node_state(&m, s3, NEO_NODE_DOWN);
	tap_ok(neo_ptable_copy(&before, &m.pt) == 0, "copy before a change");
	master_pt_outdate(&m, S(3));
	tap_ok(cells_of(&m.pt, S(3), NEO_CELL_OUT_OF_DATE) == 4
	       && cells_of(&m.pt, S(3), NEO_CELL_UP_TO_DATE) == 0,
	       "outdate: the lost storage's 4 cells are OUT_OF_DATE");
	sent_reset();
	tap_ok(master_pt_commit(&m, &before) == 0 && m.pt.ptid == 2 && sent_pt_changes == 2
	       && last_pt_changes_ptid == 2,
	       "commit: ptid 2, one NotifyPartitionChanges to each connected storage");
	neo_ptable_free(&before);

	tap_ok(neo_ptable_copy(&before, &m.pt) == 0, "copy before no change");
	sent_reset();
	tap_ok(master_pt_commit(&m, &before) == 0 && m.pt.ptid == 2 && sent_total == 0,
	       "commit without change: same ptid, nothing told");
	neo_ptable_free(&before);

	/* storage 2 lost too: where it holds the last readable copy, it stays */
	{
		struct neo_node *s2 = neo_nodes_by_nid(&m.nodes, S(2));
		uint32_t last_copies = 0;

		for (uint32_t p = 0; p < 6; p++)
			if (neo_ptable_cell_state(&m.pt, p, S(1)) < 0
			    && neo_ptable_cell_state(&m.pt, p, S(2)) == NEO_CELL_UP_TO_DATE)
				last_copies++;
		s2->conn = NULL;
		master_change_node_state(&m, s2, NEO_NODE_DOWN);
		master_pt_outdate(&m, S(2));
		tap_ok(cells_of(&m.pt, S(2), NEO_CELL_UP_TO_DATE) == last_copies && last_copies > 0,
		       "outdate: the last readable copy of a partition stays UP_TO_DATE (%u)",
		       last_copies);
	}
	master_teardown(&m);
}

static void test_pt_tweak(void)
{
	struct master m;
	struct neo_ptable result = { 0 }, saved = { 0 };
	int32_t nids[2] = { S(1), S(2) };
	int32_t all[3] = { S(1), S(2), S(3) };
	bool changed = false, within_one = true, same = true;
	uint32_t min = UINT32_MAX, max = 0;

	master_setup(&m, 6, 1);
	add_node(&m, NEO_NODE_STORAGE, 1, NEO_NODE_RUNNING, 0);
	add_node(&m, NEO_NODE_STORAGE, 2, NEO_NODE_RUNNING, 1);
	tap_ok(master_pt_make(&m, nids, 2) == 0, "tweak: a table over 2 storages");
	add_node(&m, NEO_NODE_STORAGE, 3, NEO_NODE_RUNNING, 2);
	tap_ok(neo_ptable_copy(&saved, &m.pt) == 0, "tweak: table saved");

	/* dry run: the table does not change */
	tap_ok(master_pt_tweak(&m, NULL, 0, true, &result, &changed) == 0 && changed
	       && m.pt.ptid == 1, "tweak dry run: a change is proposed, none made");
	for (uint32_t p = 0; p < 6; p++)
		for (uint32_t i = 0; i < saved.rows[p].count; i++)
			same &= neo_ptable_cell_state(&m.pt, p, saved.rows[p].cells[i].nid)
				== (int)saved.rows[p].cells[i].state;
	tap_ok(same, "tweak dry run: cells as they were");
	tap_ok(cells_of(&result, S(3), NEO_CELL_OUT_OF_DATE) > 0
	       && cells_of(&result, S(3), NEO_CELL_UP_TO_DATE) == 0,
	       "tweak: the new storage gets OUT_OF_DATE cells only");
	neo_ptable_free(&result);

	sent_reset();
	tap_ok(master_pt_tweak(&m, NULL, 0, false, &result, &changed) == 0 && changed
	       && m.pt.ptid == 2 && sent_pt_changes == 3,
	       "tweak: made, ptid 2, told to the 3 storages");
	for (int i = 0; i < 3; i++) {
		uint32_t n = cells_of(&m.pt, all[i], -1) - cells_of(&m.pt, all[i], NEO_CELL_FEEDING);

		min = n < min ? n : min;
		max = n > max ? n : max;
	}
	within_one = max - min <= 1;
	tap_ok(within_one, "tweak: cells per storage within one (%u to %u)", min, max);
	neo_ptable_free(&result);

	/* excluding storage 1: its cells that are the only UP_TO_DATE copy
	 * stay as FEEDING sources */
	tap_ok(master_pt_tweak(&m, &all[0], 1, true, &result, &changed) == 0 && changed
	       && cells_of(&result, S(1), NEO_CELL_UP_TO_DATE) == 0
	       && cells_of(&result, S(1), NEO_CELL_FEEDING) > 0,
	       "tweak excluding a storage: its last up-to-date copies become FEEDING");
	neo_ptable_free(&result);
	tap_ok(master_pt_tweak(&m, all, 3, true, &result, &changed) == -2,
	       "tweak excluding every storage: refused (-2)");
	neo_ptable_free(&result);
	neo_ptable_free(&saved);
	master_teardown(&m);
}

/* --- Recovery ----------------------------------------------------------------- */

static void answered(struct neo_node *node, int64_t ptid)
{
	struct master_node *data = master_node_data(node);

	data->recovery_asked = data->recovery_answered = true;
	data->recovery_ptid = ptid;
}

static void test_recovery(void)
{
	struct master m;
	struct neo_node *a, *b, *source;
	int32_t nids[2] = { S(1), S(2) };
	int64_t ptid = 0;

	master_setup(&m, 4, 1);
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT, "recovery: no storage: wait");
	a = add_node(&m, NEO_NODE_STORAGE, 1, NEO_NODE_PENDING, 0);
	master_node_data(a)->recovery_asked = true;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: an answer awaited: wait");
	answered(a, 0);
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: no table anywhere, no autostart, no start: wait");
	opts.autostart = 2;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: autostart 2, one storage: wait");
	b = add_node(&m, NEO_NODE_STORAGE, 2, NEO_NODE_PENDING, 1);
	answered(b, 0);
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_CREATE,
	       "recovery: autostart 2, two storages: create a table");
	opts.autostart = 0;
	m.startup_allowed = true;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_CREATE,
	       "recovery: neoctl start: create a table");
	m.startup_allowed = false;
	m.recovered_ptid = 3;
	opts.autostart = 1;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: a table announced but not read: wait for it");
	m.recovered_ptid = 0;

	/* which table is read: the newest announced, if newer than ours */
	answered(a, 3);
	answered(b, 5);
	source = master_recovery_pt_source(&m, &ptid);
	tap_ok(source == b && ptid == 5, "recovery: the newest table (ptid 5) is read first");
	b->conn = NULL;
	source = master_recovery_pt_source(&m, &ptid);
	tap_ok(source == a && ptid == 3, "recovery: its storage gone, the next newest (ptid 3)");
	b->conn = CONN(1);
	tap_ok(master_pt_make(&m, nids, 2) == 0, "recovery: a table loaded");
	m.pt.ptid = 5;
	tap_ok(master_recovery_pt_source(&m, &ptid) == NULL,
	       "recovery: no storage has a newer table: none read");

	/* starting from the table */
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_START,
	       "recovery: table operational on the pending storages, all back: start");
	b->conn = NULL;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: a storage of the table missing: wait for it");
	m.startup_allowed = true;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_START,
	       "recovery: missing storage, but neoctl start and the table operational: start");
	a->conn = NULL;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: table not operational: wait, even when started");
	a->conn = CONN(0);
	m.state = NEO_CLUSTER_RUNNING;
	tap_ok(master_recovery_decide(&m) == MASTER_RECOVERY_WAIT,
	       "recovery: not recovering: nothing to decide");
	master_teardown(&m);
}

/* --- Lock handover ------------------------------------------------------------ */

static void test_locks(void)
{
	struct master m;
	int32_t waiting1[2], waiting2[1];
	struct master_txn t1 = { .ttid = 1, .tid = 10, .lock_waiting = waiting1 };
	struct master_txn t2 = { .ttid = 2, .tid = 11, .lock_waiting = waiting2 };
	struct master_txn many[100];
	bool pushed = true;

	master_setup(&m, 1, 0);
	waiting1[0] = S(1);
	waiting1[1] = S(2);
	t1.locks_pending = 2;
	waiting2[0] = S(1);
	t2.locks_pending = 1;
	tap_ok(master_txn_next_commit(&m) == NULL, "locks: empty queue: nothing commits");
	tap_ok(master_txn_queue_push(&m, &t1) == 0 && master_txn_queue_push(&m, &t2) == 0,
	       "locks: two transactions queued in tid order");
	tap_ok(master_txn_lock_counted(&t1, S(1)) && t1.locks_pending == 1,
	       "locks: storage 1's answer counts");
	tap_ok(!master_txn_lock_counted(&t1, S(1)) && t1.locks_pending == 1,
	       "locks: a second answer from storage 1 does not count again");
	tap_ok(!master_txn_lock_counted(&t1, S(3)) && t1.locks_pending == 1,
	       "locks: an answer from a storage not asked does not count");
	tap_ok(master_txn_lock_counted(&t2, S(1)) && t2.locks_pending == 0
	       && master_txn_next_commit(&m) == NULL,
	       "locks: the later transaction locked everywhere waits for the earlier");
	tap_ok(master_txn_lock_counted(&t1, S(2)) && master_txn_next_commit(&m) == &t1,
	       "locks: the earlier one locked everywhere commits first");
	memmove(&m.commit_queue[0], &m.commit_queue[1], sizeof m.commit_queue[0]);
	m.commit_count--;
	tap_ok(master_txn_next_commit(&m) == &t2, "locks: then the later one");
	m.commit_count = 0;
	for (int i = 0; i < 100; i++) {
		many[i] = (struct master_txn){ .ttid = (uint64_t)i + 100 };
		pushed &= master_txn_queue_push(&m, &many[i]) == 0;
	}
	tap_ok(pushed && m.commit_count == 100 && m.commit_capacity >= 100
	       && m.commit_queue[99] == &many[99], "locks: the queue grows (100 transactions)");
	master_teardown(&m);
}

int main(void)
{
	/* refusals are logged as errors, on stderr (the test log) */
	neo_log_set_level(NEO_LOG_ERROR);
	test_cluster_states();
	test_node_states();
	test_pt_make_outdate_commit();
	test_pt_tweak();
	test_recovery();
	test_locks();
	return tap_done();
}
