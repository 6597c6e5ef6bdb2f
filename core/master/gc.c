/*
 * master/gc.c - pack's garbage collection, driven by the primary master
 * over the storages (core/cluster/cluster.md section 14.2).
 *
 * One pack order at a time, in id order.  The master keeps the marks as
 * bitmaps over the oid space [0, last oid] (2 bits an oid, plus 1 for the
 * oids committed meanwhile); the storages read and delete their own rows
 * on request (storage/gc.c), a bounded batch per request:
 *
 *   decide  the pack transaction's extension says gc or not; none: the
 *           cluster's default (pack-gc);
 *   future  references of every revision after the pack tid are roots;
 *   mark    from the root (oid 0) at the pack tid, breadth by batches of
 *           marked-but-unread oids;
 *   sweep   per page of a partition's oids alive at the pack tid: begins
 *           are held until no transaction is open, the oids committed
 *           since the collection started give their references, marking
 *           runs to its fixpoint again, then the page's unmarked oids go
 *           on every cell of the partition, and begins resume;
 *   trans   the transactions up to the pack tid none of whose revisions
 *           survive the pack go too.
 *
 *   record  the cells swept are recorded on their storages (AskGCSwept).
 *
 * Only readable cells on running storages are swept: a partition needs
 * one such cell (a replica may be down).  A survey (AskGCSwept to every
 * storage, whenever the table or the running storages change) finds the
 * cells that missed the last collection, which is then made again for
 * them alone (redo); a cell that caught up by replication is held
 * OUT_OF_DATE until then.  After a restart, the survey also finds which
 * recovered orders no storage was given yet: they are collected again
 * (core/cluster/cluster.md section 14.3).
 *
 * A lost storage or connection starts the order over later (the result
 * does not depend on how far a previous attempt went); a storage's error
 * (a record that is not a ZODB pickle) abandons garbage collection for
 * that order.  The order is given to the storages (AskPackOrders) only
 * once this is done, so that WaitForPack returns after both.
 */
#include "master/master.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/log.h"

#define GC_BATCH 1000			/* oids per request */
#define GC_RETRY_MS 200			/* waiting for storages or for commits */
#define GC_POLL_MS 1000			/* idle: has the table changed? */
#define GC_MAX_OIDS (1ull << 33)	/* 3 GiB of bitmaps: beyond, no GC */

/* The pack transaction's extension our client writes (client/pack.c):
 * pickles of {'neo_pack_gc': True} and {'neo_pack_gc': False}. */
static const uint8_t gc_true_ext[] = "\x80\x03}q\x00X\x0b\x00\x00\x00neo_pack_gcq\x01\x88s.";
static const uint8_t gc_false_ext[] = "\x80\x03}q\x00X\x0b\x00\x00\x00neo_pack_gcq\x01\x89s.";

enum gc_phase { GC_IDLE, GC_DECIDING, GC_SURVEY, GC_FUTURE, GC_MARK, GC_BARRIER, GC_SWEEP,
		GC_TRANS, GC_RECORD };

/* A cell (partition, storage) and the last collection that swept it. */
struct gc_cell {
	uint32_t partition;
	int32_t nid;
	uint64_t swept;
	bool active;		/* held: swept by an attempt (one begun after) */
};

struct held_begin {
	struct neo_node *node;
	struct neo_conn *conn;
	uint32_t msg_id;
	struct neo_opt_p64 tid;
	struct held_begin *next;
};

struct master_gc {
	enum gc_phase phase;
	uint64_t epoch;			/* answers of an earlier attempt are ignored */
	uint64_t id, pack_tid;
	uint64_t limit;			/* oids [0, limit) have marks */
	uint8_t *marked, *expanded;
	uint64_t to_expand, marked_count, mark_cursor;
	uint8_t *dirty;			/* oids committed since the start */
	uint64_t dirty_limit, dirty_count;
	uint32_t partition;
	uint32_t cell;			/* sweep, trans: each cell lists its own rows */
	uint64_t cursor;
	bool cursor_done;		/* the partition's pages are all done */
	uint64_t *page;			/* future: the oids whose refs are asked */
	uint32_t page_count;
	uint32_t pending;		/* requests out */
	bool failed, abandon;
	bool holding;			/* begins held */
	struct held_begin *held;
	uint64_t *trans_tids;		/* trans: the page's transactions */
	uint8_t *trans_kept;		/* TRANS_* */
	uint32_t trans_count;
	uint64_t removed, dropped;
	int64_t ptid;			/* the partition table the attempt started on */
	struct event *timer;
	uint64_t told_waiting;		/* the order whose wait was logged */
	/* progress (master_gc_progress): the phase it last saw, since when */
	enum gc_phase seen_phase;
	uint64_t seen_id, seen_epoch;
	double phase_started;
	/* survey: readable cells and their last collection */
	uint64_t survey_sig;		/* of the table and storages surveyed */
	uint64_t survey_next_sig;	/* of the survey under way */
	struct gc_cell *seen;
	uint32_t seen_count, seen_cap;
	uint64_t last_packed, last_swept;	/* last_packed: settled orders */
	uint64_t last_collection;		/* last_swept of the last survey done */
	/* redo: the last collection again, for the cells that missed it */
	bool redo;
	struct gc_cell *owed;
	uint32_t owed_count;
	uint64_t owed_id;
	uint64_t redo_given_up;		/* a redo abandoned (a record no pickle) */
	/* replicated cells kept OUT_OF_DATE until the survey says they do
	 * not owe the last collection, or it swept them */
	struct gc_cell *deferred;
	uint32_t deferred_count, deferred_cap;
	int page_delay_ms;		/* NEO_TEST_GC_PAGE_DELAY_MS, tests only */
};

/* What becomes of a transaction up to the pack tid. */
enum { TRANS_EMPTY, TRANS_KEPT, TRANS_NO_OIDS };

struct gc_ask {
	struct master *m;
	uint64_t epoch;
	int32_t nid;			/* the storage asked */
	uint32_t *index;		/* revisions kept: the page index of each pair */
};

static void step(struct master *m);
static void timer_fired(evutil_socket_t fd, short what, void *arg);

/* --- Bitmaps --------------------------------------------------------------------- */

static bool bit(const uint8_t *map, uint64_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}

static void set_bit(uint8_t *map, uint64_t i)
{
	map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static void mark(struct master_gc *g, uint64_t oid)
{
	if (oid >= g->limit || bit(g->marked, oid))
		return;
	set_bit(g->marked, oid);
	g->marked_count++;
	g->to_expand++;
}

/* --- State ------------------------------------------------------------------------- */

static struct master_gc *gc_of(struct master *m)
{
	if (m->gc == NULL) {
		m->gc = neo_calloc(1, sizeof *m->gc);
		if (m->gc) {
			const char *delay = getenv("NEO_TEST_GC_PAGE_DELAY_MS");

			m->gc->timer = evtimer_new(m->base, timer_fired, m);
			/* tests only (core/cluster/cluster.md section 14.3): a
			 * pause after each page swept, to interrupt a collection */
			m->gc->page_delay_ms = delay ? atoi(delay) : 0;
		}
	}
	return m->gc;
}

static void release_begins(struct master *m)
{
	struct master_gc *g = m->gc;

	g->holding = false;
	while (g->held) {
		struct held_begin *h = g->held;
		struct neo_ask_begin_transaction args = { h->tid };
		struct neo_packet pkt = { .msg_id = h->msg_id, .code = NEO_ASK_BEGIN_TRANSACTION,
					  .args = &args };

		g->held = h->next;
		master_txn_begin(m, h->node, h->conn, &pkt);
		neo_free(h);
	}
}

static void free_marks(struct master_gc *g)
{
	neo_free(g->marked);
	neo_free(g->expanded);
	neo_free(g->dirty);
	neo_free(g->page);
	neo_free(g->trans_tids);
	neo_free(g->trans_kept);
	g->marked = g->expanded = g->dirty = NULL;
	g->page = g->trans_tids = NULL;
	g->trans_kept = NULL;
	g->page_count = g->trans_count = 0;
	g->dirty_limit = g->dirty_count = 0;
}

/* The attempt ends: done, abandoned, or to be made again later. */
static void finish(struct master *m, bool over)
{
	struct master_gc *g = m->gc;

	free_marks(g);
	g->epoch++;
	g->pending = 0;
	g->phase = GC_IDLE;
	release_begins(m);
	if (over && !g->redo)
		master_pack_gc_set(m, g->id, g->abandon ? MASTER_GC_NONE : MASTER_GC_DONE);
	if (over && g->redo && g->abandon)
		g->redo_given_up = g->id;	/* not tried again and again */
	if (over) {
		/* survey again: which cells the collection reached */
		g->abandon = false;
		g->survey_sig = 0;
		g->owed_count = 0;
	}
	g->redo = false;
	g->failed = false;
	for (uint32_t i = 0; i < g->deferred_count; i++)
		g->deferred[i].active = true;
}

/* For tests that must see a collection in progress: with
 * NEO_GC_THROTTLE_MS=N in the environment, each step (each round of
 * requests) waits N ms more. */
static void later(struct master *m, int ms)
{
	const char *throttle = getenv("NEO_GC_THROTTLE_MS");
	struct timeval tv;

	if (throttle && atoi(throttle) > 0 && atoi(throttle) < 60000)
		ms += atoi(throttle);
	tv = (struct timeval){ ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(m->gc->timer, &tv);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

/* --- Storages ---------------------------------------------------------------------- */

static bool node_usable(struct neo_node *node)
{
	struct master_node *data = node ? node->owner_data : NULL;

	return node && node->conn && node->state == NEO_NODE_RUNNING && data && data->gc_capable;
}

/* A storage with a readable cell of partition, ours and running. */
static struct neo_node *reader(struct master *m, uint32_t partition)
{
	const struct neo_pt_cells *row = &m->pt.rows[partition];

	for (uint32_t i = 0; i < row->count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, row->cells[i].nid);

		if (neo_cell_readable(row->cells[i].state) && node_usable(node))
			return node;
	}
	return NULL;
}

/* Every partition has a readable cell on a running storage of ours (a
 * replica may be down: the cells that miss the sweep are swept when
 * back, section 14.3 of core/cluster/cluster.md); foreign: a storage in
 * the table is not ours. */
static bool cluster_ready(struct master *m, bool *foreign)
{
	bool ready = m->state == NEO_CLUSTER_RUNNING && m->pt.num_partitions > 0;

	*foreign = false;
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		const struct neo_pt_cells *row = &m->pt.rows[p];

		for (uint32_t i = 0; i < row->count; i++) {
			struct neo_node *node = neo_nodes_by_nid(&m->nodes, row->cells[i].nid);
			struct master_node *data = node ? node->owner_data : NULL;

			if (node && node->conn && data && !data->gc_capable)
				*foreign = true;
		}
		if (reader(m, p) == NULL)
			ready = false;
	}
	return ready;
}

/* Whether the cell is held; active: held since before the attempt under
 * way, whose sweep (and record) includes it. */
static bool deferred(const struct master_gc *g, uint32_t partition, int32_t nid, bool active)
{
	for (uint32_t i = 0; i < g->deferred_count; i++)
		if (g->deferred[i].partition == partition && g->deferred[i].nid == nid)
			return !active || g->deferred[i].active;
	return false;
}

static bool owed(const struct master_gc *g, uint32_t partition, int32_t nid)
{
	for (uint32_t i = 0; i < g->owed_count; i++)
		if (g->owed[i].partition == partition && g->owed[i].nid == nid)
			return true;
	return false;
}

/* Whether cell index of partition is swept: readable (or replicated and
 * deferred) on a running storage of ours, and, redoing, one that missed
 * the collection. */
static bool cell_included(struct master *m, uint32_t partition, uint32_t index)
{
	const struct neo_pt_cells *row = &m->pt.rows[partition];
	struct neo_node *node;

	if (index >= row->count || !(neo_cell_readable(row->cells[index].state) ||
				     deferred(m->gc, partition, row->cells[index].nid, true)))
		return false;
	node = neo_nodes_by_nid(&m->nodes, row->cells[index].nid);
	return node_usable(node) && (!m->gc->redo || owed(m->gc, partition, node->nid));
}

/* The table and the running storages of ours: a survey is due when it
 * changes. */
static uint64_t signature(struct master *m)
{
	uint64_t sig = (uint64_t)m->pt.ptid * 1000003u;

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node_usable(node))
			sig += (uint64_t)(uint32_t)node->nid * 2654435761u;
	}
	return sig ? sig : 1;
}

static void answered(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg);

static bool ask(struct master *m, struct neo_node *node, uint16_t code, const void *args,
		uint32_t *index)
{
	struct gc_ask *a = neo_calloc(1, sizeof *a);

	if (a == NULL || node == NULL || node->conn == NULL) {
		neo_free(a);
		neo_free(index);
		m->gc->failed = true;
		return false;
	}
	*a = (struct gc_ask){ m, m->gc->epoch, node->nid, index };
	if (neo_conn_ask(node->conn, code, args, 0, answered, a) < 0) {
		neo_free(index);
		neo_free(a);
		m->gc->failed = true;
		return false;
	}
	m->gc->pending++;
	return true;
}

/* Asks the references of oids, each from a reader of its partition: one
 * request per storage. */
static void ask_references(struct master *m, const uint64_t *oids, uint32_t count, bool future)
{
	struct master_gc *g = m->gc;
	uint32_t np = m->pt.num_partitions;
	struct neo_node **readers = neo_calloc(np, sizeof *readers);
	struct neo_node **nodes = neo_calloc((size_t)count + 1, sizeof *nodes);
	uint64_t *batch = neo_malloc(((size_t)count + 1) * sizeof *batch);
	uint32_t done = 0;

	if (readers == NULL || nodes == NULL || batch == NULL) {
		g->failed = true;
		goto out;
	}
	for (uint32_t p = 0; p < np; p++)
		readers[p] = reader(m, p);
	for (uint32_t i = 0; i < count; i++) {
		nodes[i] = readers[neo_ptable_partition(&m->pt, oids[i])];
		if (nodes[i] == NULL) {
			g->failed = true;
			goto out;
		}
	}
	while (done < count) {
		struct neo_node *node = NULL;
		struct neo_ask_gc_references req = { g->pack_tid, future, { batch, 0 } };

		for (uint32_t i = 0; i < count; i++) {
			if (nodes[i] == NULL || (node && nodes[i] != node))
				continue;
			node = nodes[i];
			batch[req.oids.count++] = oids[i];
			nodes[i] = NULL;
			done++;
		}
		ask(m, node, NEO_ASK_GC_REFERENCES, &req, NULL);
	}
out:
	neo_free(readers);
	neo_free(nodes);
	neo_free(batch);
}

/* --- Phases ------------------------------------------------------------------------- */

static void decide(struct master *m)
{
	struct master_gc *g = m->gc;
	struct neo_ask_transaction_information req = { g->id };

	g->phase = GC_DECIDING;
	ask(m, reader(m, neo_ptable_partition(&m->pt, g->id)), NEO_ASK_TRANSACTION_INFORMATION,
	    &req, NULL);
}

static void decided(struct master *m, const struct neo_answer_transaction_information *info)
{
	struct master_gc *g = m->gc;
	bool gc = m->opts->pack_gc;

	if (info->extension.size == sizeof gc_true_ext - 1 &&
	    memcmp(info->extension.data, gc_true_ext, sizeof gc_true_ext - 1) == 0)
		gc = true;
	else if (info->extension.size == sizeof gc_false_ext - 1 &&
		 memcmp(info->extension.data, gc_false_ext, sizeof gc_false_ext - 1) == 0)
		gc = false;
	neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": %s", g->id,
		gc ? "with garbage collection" : "without garbage collection");
	master_pack_gc_set(m, g->id, gc ? MASTER_GC_PENDING : MASTER_GC_NONE);
	g->phase = GC_IDLE;
}

static bool start_marks(struct master *m)
{
	struct master_gc *g = m->gc;

	g->limit = m->last_oid + 1;
	if (g->limit > GC_MAX_OIDS) {
		neo_log(NEO_LOG_ERROR, "pack %016" PRIx64 ": %" PRIu64 " oids is too many to "
			"collect garbage: packed without", g->id, g->limit);
		g->abandon = true;
		return false;
	}
	g->marked = neo_calloc(g->limit / 8 + 1, 1);
	g->expanded = neo_calloc(g->limit / 8 + 1, 1);
	if (g->marked == NULL || g->expanded == NULL) {
		g->abandon = true;
		return false;
	}
	g->marked_count = g->to_expand = g->mark_cursor = 0;
	g->ptid = m->pt.ptid;
	g->removed = g->dropped = 0;
	mark(g, 0);
	g->phase = GC_FUTURE;
	g->partition = g->cell = 0;
	g->cursor = 0;
	g->cursor_done = false;
	neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": garbage collection up to %016" PRIx64
		" started (%" PRIu64 " oids)", g->id, g->pack_tid, g->limit);
	return true;
}

/* The storage of the current cell (sweep, trans), or a reader of the
 * partition (future). */
static struct neo_node *page_node(struct master *m, bool per_cell)
{
	struct master_gc *g = m->gc;
	const struct neo_pt_cells *row = &m->pt.rows[g->partition];

	if (!per_cell)
		return reader(m, g->partition);
	return g->cell < row->count ? neo_nodes_by_nid(&m->nodes, row->cells[g->cell].nid) : NULL;
}

/* Asks a page of oids alive at tid: of a partition, or of the current
 * cell (a replica that missed an earlier attempt's sweep lists what it
 * still has). */
static void ask_page(struct master *m, uint64_t tid, bool per_cell)
{
	struct master_gc *g = m->gc;
	struct neo_ask_oids_from req = { .partition = g->partition, .length = GC_BATCH,
					 .min_oid = g->cursor, .tid = tid };

	ask(m, page_node(m, per_cell), NEO_ASK_OIDS_FROM, &req, NULL);
}

/* On to the next partition (or cell) once the current one's pages are
 * done; false after the last. */
static bool next_partition(struct master *m, bool per_cell)
{
	struct master_gc *g = m->gc;

	for (;;) {
		/* a cell not swept (down, not readable, not owed) is skipped
		 * before its first page */
		if (!g->cursor_done &&
		    (!per_cell || g->cursor != 0 || cell_included(m, g->partition, g->cell)))
			return true;
		g->cursor = 0;
		g->cursor_done = false;
		if (per_cell && ++g->cell < m->pt.rows[g->partition].count)
			continue;
		g->cell = 0;
		if (++g->partition >= m->pt.num_partitions)
			return false;
	}
}

static void mark_batch(struct master *m)
{
	struct master_gc *g = m->gc;
	uint64_t *batch = neo_malloc(GC_BATCH * sizeof *batch);
	uint32_t count = 0;

	if (batch == NULL) {
		g->failed = true;
		return;
	}
	for (uint64_t seen = 0; seen < g->limit && count < GC_BATCH; seen++) {
		uint64_t oid = g->mark_cursor;

		g->mark_cursor = (g->mark_cursor + 1) % g->limit;
		if (bit(g->marked, oid) && !bit(g->expanded, oid)) {
			set_bit(g->expanded, oid);
			g->to_expand--;
			batch[count++] = oid;
		}
	}
	ask_references(m, batch, count, false);
	neo_free(batch);
}

/* The oids committed since the start: their new revisions' references. */
static void dirty_batch(struct master *m)
{
	struct master_gc *g = m->gc;
	uint64_t *batch = neo_malloc(GC_BATCH * sizeof *batch);
	uint32_t count = 0;

	if (batch == NULL) {
		g->failed = true;
		return;
	}
	for (uint64_t oid = 0; oid < g->dirty_limit && count < GC_BATCH; oid++)
		if (bit(g->dirty, oid)) {
			g->dirty[oid >> 3] &= (uint8_t)~(1u << (oid & 7));
			g->dirty_count--;
			batch[count++] = oid;
		}
	ask_references(m, batch, count, true);
	neo_free(batch);
}

/* Asks every running storage of ours its cells' last collection and
 * completed pack (AskGCSwept); with swept, records that the cells
 * included were swept by this collection. */
static void ask_storages(struct master *m, bool record)
{
	struct master_gc *g = m->gc;
	uint32_t np = m->pt.num_partitions;
	int64_t *partitions = neo_malloc(((size_t)np + 1) * sizeof *partitions);

	if (partitions == NULL) {
		g->failed = true;
		return;
	}
	for (size_t i = 0; i < m->nodes.count && !g->failed; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct neo_ask_gc_swept req = { record ? g->id : 0, { partitions, 0 } };

		if (node->type != NEO_NODE_STORAGE || !node_usable(node))
			continue;
		for (uint32_t p = 0; record && p < np; p++) {
			const struct neo_pt_cells *row = &m->pt.rows[p];

			for (uint32_t k = 0; k < row->count; k++)
				if (row->cells[k].nid == node->nid && cell_included(m, p, k))
					partitions[req.partitions.count++] = p;
		}
		if (!record || req.partitions.count)
			ask(m, node, NEO_ASK_GC_SWEPT, &req, NULL);
	}
	neo_free(partitions);
}

static void survey(struct master *m)
{
	struct master_gc *g = m->gc;

	g->phase = GC_SURVEY;
	g->survey_next_sig = signature(m);
	g->seen_count = 0;
	g->last_packed = g->last_swept = 0;
	ask_storages(m, false);
	if (g->pending == 0)
		later(m, 0);
}

/* A storage's cells: the last order whose collection was over (listed
 * to a storage), the last collection any cell had, and the readable cells
 * with theirs. */
static void survey_answered(struct master *m, int32_t nid, const struct neo_answer_gc_swept *a)
{
	struct master_gc *g = m->gc;

	if (a->settled > g->last_packed)
		g->last_packed = a->settled;
	for (uint32_t p = 0; p < a->swept.count && p < m->pt.num_partitions; p++) {
		const struct neo_pt_cells *row = &m->pt.rows[p];

		for (uint32_t k = 0; k < row->count; k++) {
			if (row->cells[k].nid != nid)
				continue;
			if (a->swept.items[p] > g->last_swept)
				g->last_swept = a->swept.items[p];
			if (!neo_cell_readable(row->cells[k].state) && !deferred(g, p, nid, false))
				continue;
			if (g->seen_count == g->seen_cap) {
				uint32_t cap = g->seen_cap ? g->seen_cap * 2 : 64;
				struct gc_cell *grown = neo_realloc(g->seen, cap * sizeof *grown);

				if (grown == NULL) {
					g->failed = true;
					return;
				}
				g->seen = grown;
				g->seen_cap = cap;
			}
			g->seen[g->seen_count++] = (struct gc_cell){ p, nid, a->swept.items[p], true };
		}
	}
}

/* Deferred cells (replicated, held OUT_OF_DATE) that do not owe the last
 * collection, or all, become UP_TO_DATE; those of a storage gone are
 * forgotten (it replicates and tells again). */
static void release_deferred(struct master *m, bool all)
{
	struct master_gc *g = m->gc;
	uint32_t kept = 0, count = g->deferred_count;
	struct gc_cell *cells = g->deferred;

	/* master_pt_replicated may come back here: the list is detached */
	g->deferred = NULL;
	g->deferred_count = g->deferred_cap = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, cells[i].nid);

		if (!node_usable(node))
			continue;
		if (!all && owed(g, cells[i].partition, cells[i].nid) &&
		    g->owed_id != g->redo_given_up) {
			cells[kept++] = cells[i];
			continue;
		}
		master_pt_replicated(m, cells[i].partition, cells[i].nid);
	}
	if (g->deferred == NULL) {
		g->deferred = cells;
		g->deferred_count = kept;
		g->deferred_cap = count;
	} else {
		neo_free(cells);
	}
}

/* The survey is complete: recovered orders are settled and the readable
 * (or deferred) cells that missed the last collection are owed it. */
static void survey_done(struct master *m)
{
	struct master_gc *g = m->gc;

	master_pack_gc_recovered(m, g->last_packed, false);
	neo_free(g->owed);
	g->owed = NULL;
	g->owed_count = 0;
	g->owed_id = g->last_swept;
	if (g->last_swept) {
		g->owed = neo_calloc((size_t)g->seen_count + 1, sizeof *g->owed);
		if (g->owed == NULL) {
			g->failed = true;
			return;
		}
		for (uint32_t i = 0; i < g->seen_count; i++)
			if (g->seen[i].swept < g->last_swept)
				g->owed[g->owed_count++] = g->seen[i];
	}
	g->survey_sig = g->survey_next_sig;
	g->last_collection = g->last_swept;
	g->phase = GC_IDLE;
	release_deferred(m, false);
}

/* The next thing to do when idle: an order to decide or collect, or the
 * last collection again for the cells that missed it. */
static void idle_step(struct master *m)
{
	struct master_gc *g = m->gc;
	enum master_gc_state state;
	bool foreign, ready = cluster_ready(m, &foreign), next;

	if (m->state != NEO_CLUSTER_RUNNING) {
		later(m, GC_POLL_MS);
		return;
	}
	/* no collection possible now: replicated cells are not held back */
	if ((foreign || !ready) && g->deferred_count)
		release_deferred(m, true);
	next = master_pack_gc_next(m, &g->id, &g->pack_tid, &state);
	if (foreign) {
		master_pack_gc_recovered(m, 0, true);
		if (next) {
			neo_log(NEO_LOG_WARNING, "pack %016" PRIx64 ": a storage does not collect "
				"garbage (upstream's, or --disable-pack): packed without garbage "
				"collection", g->id);
			master_pack_gc_set(m, g->id, MASTER_GC_NONE);
		}
		later(m, next ? 0 : GC_POLL_MS);
		return;
	}
	if (!ready) {
		/* said once per order: a synchronous pack waits here while a
		 * partition has no readable cell on a running storage */
		if (next && g->told_waiting != g->id)
			neo_log(NEO_LOG_WARNING, "pack %016" PRIx64 ": garbage collection waits "
				"until every partition has a readable cell on a running storage",
				g->id);
		if (next)
			g->told_waiting = g->id;
		later(m, next ? GC_RETRY_MS : GC_POLL_MS);
		return;
	}
	if (g->survey_sig != signature(m)) {
		survey(m);
		return;
	}
	g->redo = false;
	if (next && state == MASTER_GC_UNDECIDED) {
		decide(m);
		return;
	}
	if (!next && g->owed_count && g->owed_id != g->redo_given_up &&
	    master_pack_tid_of(m, g->owed_id, &g->pack_tid)) {
		g->redo = true;
		g->id = g->owed_id;
		neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": %u cell(s) missed its garbage collection: "
			"collected again for them", g->id, g->owed_count);
	} else if (!next) {
		later(m, GC_POLL_MS);
		return;
	}
	if (start_marks(m))
		later(m, 0);
	else
		finish(m, true);
}

static void trans_page_done(struct master *m)
{
	struct master_gc *g = m->gc;
	struct neo_ask_gc_drop_transactions req = { .partition = g->partition };
	uint64_t *empty = neo_malloc(((size_t)g->trans_count + 1) * sizeof *empty);
	uint64_t *packed = neo_malloc(((size_t)g->trans_count + 1) * sizeof *packed);

	if (empty == NULL || packed == NULL) {
		neo_free(empty);
		neo_free(packed);
		g->failed = true;
		return;
	}
	/* emptied ones go, the others are flagged packed (undo stops there) */
	for (uint32_t i = 0; i < g->trans_count; i++)
		if (g->trans_kept[i] == TRANS_EMPTY)
			empty[req.tids.count++] = g->trans_tids[i];
		else if (g->trans_kept[i] == TRANS_KEPT)
			packed[req.packed.count++] = g->trans_tids[i];
	req.tids.items = empty;
	req.packed.items = packed;
	if (req.tids.count || req.packed.count)
		ask(m, page_node(m, true), NEO_ASK_GC_DROP_TRANSACTIONS, &req, NULL);
	g->dropped += req.tids.count;
	neo_free(empty);
	neo_free(packed);
	neo_free(g->trans_tids);
	neo_free(g->trans_kept);
	g->trans_tids = NULL;
	g->trans_kept = NULL;
	g->trans_count = 0;
}

static void step(struct master *m)
{
	struct master_gc *g = m->gc;

	if (g == NULL || g->pending)
		return;
	/* cells moved meanwhile (a tweak, a storage lost): a cell may have
	 * missed pages, so the attempt starts over on the new table */
	if (g->phase != GC_IDLE && g->phase != GC_DECIDING && g->phase != GC_SURVEY &&
	    g->ptid != m->pt.ptid)
		g->failed = true;
	if (g->failed) {
		if (g->phase == GC_SURVEY)
			g->survey_sig = 0;
		else
			neo_log(NEO_LOG_WARNING, "pack %016" PRIx64 ": garbage collection %s",
				g->id, g->abandon ? "abandoned" : "interrupted: started over later");
		finish(m, g->abandon);
		later(m, GC_RETRY_MS);
		return;
	}
	switch (g->phase) {
	case GC_IDLE:
		idle_step(m);
		return;
	case GC_SURVEY:
		survey_done(m);
		later(m, 0);
		return;
	case GC_RECORD:
		neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": garbage collection done (%" PRIu64
			" transaction(s) left empty removed)", g->id, g->dropped);
		finish(m, true);
		later(m, 0);
		return;
	case GC_DECIDING:
		later(m, 0);
		return;
	case GC_FUTURE:
		if (g->page_count) {
			ask_references(m, g->page, g->page_count, true);
			g->page_count = 0;
		} else if (next_partition(m, false)) {
			/* every oid alive now (tids stay below 2^63, which
			 * SQL backends store signed) */
			ask_page(m, INT64_MAX - 1, false);
		} else {
			g->phase = GC_MARK;
			later(m, 0);
		}
		break;
	case GC_MARK:
		if (g->to_expand) {
			mark_batch(m);
			break;
		}
		neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": %" PRIu64 " reachable oid(s) marked",
			g->id, g->marked_count);
		g->phase = GC_BARRIER;
		g->partition = g->cell = 0;
		g->cursor = 0;
		g->cursor_done = false;
		later(m, 0);
		break;
	case GC_BARRIER:
		g->holding = true;
		if (m->txns) {
			later(m, 5);
			return;
		}
		if (g->dirty_count)
			dirty_batch(m);
		else if (g->to_expand)
			mark_batch(m);
		else if (next_partition(m, true)) {
			g->phase = GC_SWEEP;
			ask_page(m, g->pack_tid, true);
		} else {
			release_begins(m);
			neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": %" PRIu64 " unreachable "
				"revision(s) removed", g->id, g->removed);
			g->phase = GC_TRANS;
			g->partition = g->cell = 0;
			g->cursor = 0;
			g->cursor_done = false;
			later(m, 0);
		}
		break;
	case GC_SWEEP:
		/* the page is swept: let commits in, then the next one */
		release_begins(m);
		g->phase = GC_BARRIER;
		later(m, g->page_delay_ms);
		break;
	case GC_TRANS:
		if (g->trans_tids) {
			trans_page_done(m);
			if (g->pending)
				break;
		}
		if (next_partition(m, true)) {
			struct neo_ask_gc_transactions req = { g->partition, g->pack_tid, g->cursor,
							       GC_BATCH };

			ask(m, page_node(m, true), NEO_ASK_GC_TRANSACTIONS, &req, NULL);
		} else {
			/* the cells swept are recorded (section 14.3) */
			g->phase = GC_RECORD;
			ask_storages(m, true);
			if (g->pending == 0 && !g->failed)
				later(m, 0);
		}
		break;
	}
	if (g->failed && !g->pending)
		later(m, 0);
}

/* --- Answers ------------------------------------------------------------------------- */

static void page_answered(struct master *m, const struct neo_answer_oids_from *a)
{
	struct master_gc *g = m->gc;
	struct neo_ask_gc_sweep req = { .partition = g->partition, .pack_tid = g->pack_tid };
	uint64_t *unmarked;

	g->cursor_done = !a->next_oid.has;
	if (a->next_oid.has)
		g->cursor = a->next_oid.v;
	if (g->phase == GC_FUTURE) {
		neo_free(g->page);
		g->page = neo_malloc(((size_t)a->oids.count + 1) * sizeof *g->page);
		if (g->page == NULL) {
			g->failed = true;
			return;
		}
		if (a->oids.count)
			memcpy(g->page, a->oids.items, a->oids.count * sizeof *g->page);
		g->page_count = a->oids.count;
		return;
	}
	unmarked = neo_malloc(((size_t)a->oids.count + 1) * sizeof *unmarked);
	if (unmarked == NULL) {
		g->failed = true;
		return;
	}
	for (uint32_t i = 0; i < a->oids.count; i++)
		if (a->oids.items[i] < g->limit && !bit(g->marked, a->oids.items[i]))
			unmarked[req.oids.count++] = a->oids.items[i];
	req.oids.items = unmarked;
	if (req.oids.count)
		ask(m, page_node(m, true), NEO_ASK_GC_SWEEP, &req, NULL);
	neo_free(unmarked);
}

static void trans_answered(struct master *m, struct neo_node *from,
			   const struct neo_answer_gc_transactions *a)
{
	struct master_gc *g = m->gc;
	uint32_t pairs = 0, np = m->pt.num_partitions;
	uint64_t *oids, *serials;
	uint32_t *index;

	(void)from;
	g->cursor_done = !a->next_tid.has;
	if (a->next_tid.has)
		g->cursor = a->next_tid.v;
	g->trans_count = a->tids.count;
	g->trans_tids = neo_malloc(((size_t)a->tids.count + 1) * sizeof *g->trans_tids);
	g->trans_kept = neo_calloc((size_t)a->tids.count + 1, sizeof *g->trans_kept);
	for (uint32_t i = 0; i < a->oids.count; i++)
		pairs += a->oids.items[i].count;
	oids = neo_malloc(((size_t)pairs + 1) * sizeof *oids);
	serials = neo_malloc(((size_t)pairs + 1) * sizeof *serials);
	if (g->trans_tids == NULL || g->trans_kept == NULL || oids == NULL || serials == NULL ||
	    a->oids.count != a->tids.count) {
		g->failed = true;
		goto out;
	}
	if (a->tids.count)
		memcpy(g->trans_tids, a->tids.items, a->tids.count * sizeof *g->trans_tids);
	for (uint32_t i = 0; i < a->tids.count; i++)
		/* no object at all (a pack transaction): left as it is */
		g->trans_kept[i] = a->oids.items[i].count == 0 ? TRANS_NO_OIDS : TRANS_EMPTY;
	/* per partition of the oids: one request to a reader */
	for (uint32_t p = 0; p < np && !g->failed; p++) {
		struct neo_ask_gc_revisions_kept req = { g->pack_tid, { oids, 0 }, { serials, 0 } };

		index = neo_malloc(((size_t)pairs + 1) * sizeof *index);
		if (index == NULL) {
			g->failed = true;
			break;
		}
		for (uint32_t i = 0; i < a->tids.count; i++)
			for (uint32_t k = 0; k < a->oids.items[i].count; k++)
				if (neo_ptable_partition(&m->pt, a->oids.items[i].items[k]) == p) {
					index[req.oids.count] = i;
					oids[req.oids.count] = a->oids.items[i].items[k];
					serials[req.oids.count++] = a->tids.items[i];
				}
		req.serials.count = req.oids.count;
		if (req.oids.count)
			ask(m, reader(m, p), NEO_ASK_GC_REVISIONS_KEPT, &req, index);
		else
			neo_free(index);
	}
out:
	neo_free(oids);
	neo_free(serials);
}

static void answered(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg)
{
	struct gc_ask *a = arg;
	struct master *m = a->m;
	struct master_gc *g = m->gc;

	(void)conn;
	if (g == NULL || a->epoch != g->epoch) {
		neo_free(a->index);
		neo_free(a);
		return;
	}
	g->pending--;
	if (status != NEO_ASK_ANSWERED) {
		g->failed = true;
	} else if (answer->code == NEO_ERROR) {
		const struct neo_error *e = answer->args;

		neo_log(NEO_LOG_ERROR, "pack %016" PRIx64 ": a storage refused: %.*s", g->id,
			(int)e->message.size, (const char *)e->message.data);
		g->failed = true;
		/* only what the storage cannot read: a lost one is retried */
		g->abandon = g->phase != GC_DECIDING && g->phase != GC_SURVEY &&
			     g->phase != GC_RECORD;
	} else {
		switch (answer->code) {
		case NEO_ANSWER_TRANSACTION_INFORMATION:
			decided(m, answer->args);
			break;
		case NEO_ANSWER_OIDS_FROM:
			page_answered(m, answer->args);
			break;
		case NEO_ANSWER_GC_REFERENCES: {
			const struct neo_answer_gc_references *r = answer->args;

			for (uint32_t i = 0; i < r->refs.count; i++)
				mark(g, r->refs.items[i]);
			break;
		}
		case NEO_ANSWER_GC_SWEEP:
			g->removed += (uint64_t)((const struct neo_answer_gc_sweep *)answer->args)
					      ->removed;
			break;
		case NEO_ANSWER_GC_TRANSACTIONS:
			trans_answered(m, NULL, answer->args);
			break;
		case NEO_ANSWER_GC_SWEPT:
			if (g->phase == GC_SURVEY)
				survey_answered(m, a->nid, answer->args);
			break;
		case NEO_ANSWER_GC_REVISIONS_KEPT: {
			const struct neo_answer_gc_revisions_kept *r = answer->args;

			for (uint32_t i = 0; i < r->kept.count; i++)
				if (r->kept.items[i] && a->index[i] < g->trans_count)
					g->trans_kept[a->index[i]] = TRANS_KEPT;
			break;
		}
		default:
			break;
		}
	}
	neo_free(a->index);
	neo_free(a);
	/* throttled (later()): every round of requests waits too */
	if (g->pending == 0 && getenv("NEO_GC_THROTTLE_MS"))
		later(m, 0);
	else if (g->pending == 0)
		step(m);
}

/* --- Progress ----------------------------------------------------------------------- */

static const char *const phase_names[] = {
	[GC_IDLE] = "", [GC_DECIDING] = "deciding", [GC_FUTURE] = "future",
	[GC_MARK] = "mark", [GC_BARRIER] = "sweep", [GC_SWEEP] = "sweep",
	[GC_TRANS] = "transactions", [GC_SURVEY] = "survey", [GC_RECORD] = "recording",
};

/* How far the partitions of a phase that goes partition by partition (cell
 * by cell) have gone, its cursor an oid (or, for transactions, a tid). */
static double partitions_fraction(struct master *m)
{
	struct master_gc *g = m->gc;
	uint32_t np = m->pt.num_partitions, cells = 1;
	double within = 0;

	if (np == 0 || g->partition >= np)
		return 1;
	if (g->phase != GC_FUTURE && m->pt.rows[g->partition].count)
		cells = m->pt.rows[g->partition].count;
	if (g->phase == GC_TRANS)
		within = g->pack_tid > m->first_tid && g->cursor > m->first_tid
			 ? (double)(g->cursor - m->first_tid) / (double)(g->pack_tid - m->first_tid) : 0;
	else if (g->limit)
		within = (double)g->cursor / (double)g->limit;
	within = within > 1 ? 1 : within;
	if (g->phase != GC_FUTURE)
		within = ((g->cell < cells ? g->cell : cells) + within) / cells;
	return (g->partition + within) / np;
}

static enum gc_phase phase_group(enum gc_phase phase)
{
	return phase == GC_SWEEP ? GC_BARRIER : phase;
}

bool master_gc_progress(struct master *m, struct neo_progress *out)
{
	struct master_gc *g = m->gc;
	double now = master_metrics_clock(), elapsed, fraction = -1;
	bool by_partition;

	/* a survey of the storages' records is a short query between
	 * collections, not a collection: nothing to show */
	if (g == NULL || g->phase == GC_IDLE || g->phase == GC_SURVEY)
		return false;
	/* a new phase, order or attempt: its pace starts now (the barrier
	 * and the sweep of pages alternate: one phase) */
	if (phase_group(g->seen_phase) != phase_group(g->phase) || g->seen_id != g->id
	    || g->seen_epoch != g->epoch)
		g->phase_started = now;
	g->seen_phase = g->phase;
	g->seen_id = g->id;
	g->seen_epoch = g->epoch;
	elapsed = now - g->phase_started;
	by_partition = g->phase == GC_FUTURE || g->phase == GC_BARRIER || g->phase == GC_SWEEP
		       || g->phase == GC_TRANS;
	memset(out, 0, sizeof *out);
	out->task = neo_bin_str("gc");
	out->nid = m->nid;
	out->id = (struct neo_opt_p64){ true, g->id };
	out->phase = neo_bin_str(phase_names[g->phase]);
	switch (g->phase) {
	case GC_MARK:
		/* oids whose references are read, of those marked so far */
		out->done = (int64_t)(g->marked_count - g->to_expand);
		out->total = (struct neo_opt_int){ true, (int64_t)g->marked_count };
		out->unit = neo_bin_str("oids");
		break;
	case GC_BARRIER:
	case GC_SWEEP:
		out->done = (int64_t)g->removed;
		out->unit = neo_bin_str("revisions removed");
		break;
	case GC_TRANS:
		out->done = (int64_t)g->dropped;
		out->unit = neo_bin_str("transactions removed");
		break;
	default:
		out->done = (int64_t)g->marked_count;
		out->unit = neo_bin_str("oids marked");
		break;
	}
	out->rate = elapsed > 0 ? (double)out->done / elapsed : 0;
	if (by_partition) {
		out->partition = (struct neo_opt_int){ g->partition < m->pt.num_partitions,
						       g->partition };
		out->count = g->partition;
		out->count_total = (struct neo_opt_int){ true, m->pt.num_partitions };
		out->count_unit = neo_bin_str("partitions");
		fraction = partitions_fraction(m);
	} else if (g->phase == GC_MARK && g->marked_count) {
		/* a lower bound: more may be marked */
		fraction = (double)(g->marked_count - g->to_expand) / (double)g->marked_count;
	}
	if (fraction > 0 && elapsed > 0)
		out->left = (struct neo_opt_float){ true, elapsed * (1 - fraction) / fraction };
	return true;
}

/* --- What the rest of the master calls ------------------------------------------------- */

void master_gc_kick(struct master *m)
{
	struct master_gc *g = gc_of(m);

	if (g == NULL || g->timer == NULL)
		return;
	if (g->phase == GC_IDLE && g->pending == 0)
		later(m, 0);
}

bool master_gc_hold_begin(struct master *m, struct neo_node *node, struct neo_conn *conn,
			  struct neo_packet *pkt)
{
	struct master_gc *g = m->gc;
	struct held_begin *h, **tail;

	if (g == NULL || !g->holding)
		return false;
	h = neo_calloc(1, sizeof *h);
	if (h == NULL)
		return false;
	*h = (struct held_begin){ node, conn, pkt->msg_id,
				  ((const struct neo_ask_begin_transaction *)pkt->args)->tid, NULL };
	for (tail = &g->held; *tail; tail = &(*tail)->next)
		;
	*tail = h;
	return true;
}

bool master_gc_hold_replicated(struct master *m, uint32_t partition, int32_t nid)
{
	struct master_gc *g = m->gc;

	/* not a storage of ours, or no collection ever seen (a survey
	 * found none) */
	if (g == NULL || g->timer == NULL || m->state != NEO_CLUSTER_RUNNING ||
	    !node_usable(neo_nodes_by_nid(&m->nodes, nid)) ||
	    (g->survey_sig != 0 && g->last_collection == 0))
		return false;
	if (deferred(g, partition, nid, false))
		return true;
	if (g->deferred_count == g->deferred_cap) {
		uint32_t cap = g->deferred_cap ? g->deferred_cap * 2 : 16;
		struct gc_cell *grown = neo_realloc(g->deferred, cap * sizeof *grown);

		if (grown == NULL)
			return false;
		g->deferred = grown;
		g->deferred_cap = cap;
	}
	/* an attempt under way may have passed its partition already */
	g->deferred[g->deferred_count++] = (struct gc_cell){
		partition, nid, 0,
		g->phase == GC_IDLE || g->phase == GC_SURVEY || g->phase == GC_DECIDING };
	neo_log(NEO_LOG_INFO, "partition %u replicated: up to date once its garbage collection "
		"is known to be done", partition);
	/* the survey says whether it missed the last collection */
	g->survey_sig = 0;
	if (g->phase == GC_IDLE && g->pending == 0)
		later(m, 0);
	return true;
}

void master_gc_committed(struct master *m, const uint64_t *oids, uint32_t count)
{
	struct master_gc *g = m->gc;

	if (g == NULL || g->marked == NULL)
		return;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t oid = oids[i];

		if (oid >= g->dirty_limit) {
			uint64_t limit = oid + 1 > g->dirty_limit * 2 ? oid + 1 : g->dirty_limit * 2;
			uint8_t *grown;

			if (limit > GC_MAX_OIDS) {
				g->failed = g->abandon = true;
				continue;
			}
			grown = neo_realloc(g->dirty, limit / 8 + 1);
			if (grown == NULL) {
				g->failed = true;
				continue;
			}
			memset(grown + (g->dirty ? g->dirty_limit / 8 + 1 : 0), 0,
			       limit / 8 + 1 - (g->dirty ? g->dirty_limit / 8 + 1 : 0));
			g->dirty = grown;
			g->dirty_limit = limit;
		}
		if (!bit(g->dirty, oid)) {
			set_bit(g->dirty, oid);
			g->dirty_count++;
		}
	}
}

void master_gc_conn_lost(struct master *m, struct neo_conn *conn)
{
	struct master_gc *g = m->gc;
	struct held_begin **at;
	uint32_t kept = 0;

	if (g == NULL)
		return;
	/* a storage gone: its held cells replicate again and tell again */
	for (uint32_t i = 0; i < g->deferred_count; i++) {
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, g->deferred[i].nid);

		if (node == NULL || node->conn != conn)
			g->deferred[kept++] = g->deferred[i];
	}
	g->deferred_count = kept;
	at = &g->held;
	while (*at) {
		struct held_begin *h = *at;

		if (h->conn != conn) {
			at = &h->next;
			continue;
		}
		*at = h->next;
		neo_free(h);
	}
}

void master_gc_stop(struct master *m)
{
	struct master_gc *g = m->gc;

	if (g == NULL)
		return;
	free_marks(g);
	while (g->held) {
		struct held_begin *h = g->held;

		g->held = h->next;
		neo_free(h);
	}
	if (g->timer)
		event_free(g->timer);
	neo_free(g->seen);
	neo_free(g->owed);
	neo_free(g->deferred);
	neo_free(g);
	m->gc = NULL;
}

void master_gc_reset(struct master *m)
{
	struct master_gc *g = m->gc;

	if (g == NULL)
		return;
	/* operation stopped: answers will not come, begins are refused */
	free_marks(g);
	g->epoch++;
	g->pending = 0;
	g->phase = GC_IDLE;
	g->failed = g->abandon = false;
	g->holding = false;
	g->redo = false;
	g->survey_sig = 0;
	/* the storages replicate again and tell */
	g->deferred_count = 0;
	/* surveyed and resumed once running again */
	if (g->timer)
		later(m, GC_POLL_MS);
	while (g->held) {
		struct held_begin *h = g->held;

		g->held = h->next;
		neo_conn_answer_error(h->conn, h->msg_id, NEO_ERROR_NOT_READY, "cluster not running");
		neo_free(h);
	}
}
