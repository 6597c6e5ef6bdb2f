/*
 * master/backup.c - backup mode (core/cluster/cluster.md section 16):
 * this cluster follows another one, the upstream cluster, as upstream's
 * neo/master/backup_app.py does.
 *
 * The master links to the upstream primary as a client whose extra says
 * {"backup": our cluster name}; it keeps the upstream partition table and
 * node list, learns the upstream last tid (AskLastTransaction) and every
 * commit (InvalidatePartitions: its tid and the partitions it touched).
 * Our storages replicate each partition from an upstream storage
 * (Replicate with the upstream cluster's name and a source address per
 * partition); a partition a commit did not touch is only told the new
 * tid (Replicate without source).  Every readable cell has a backup tid:
 * how far it holds the upstream history; the cluster's backup tid is,
 * over the partitions, the least of the best cell of each.
 *
 * Unlike upstream, every readable cell replicates from the upstream
 * cluster itself (upstream picks one "primary" cell per partition and the
 * others copy it), and leaving backup mode truncates at the backup tid
 * that every readable cell reached (upstream waits for the others to copy
 * the primary cells up to the best one).
 */
#include "master/master.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "proto/codec.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* How far one of our readable cells holds the upstream history. */
struct backup_cell {
	uint64_t backup_tid;
	uint64_t replicating;	/* the last order sent to it */
};

struct master_backup {
	char *name;			/* the upstream cluster */
	struct neo_address *masters;	/* the upstream masters */
	size_t master_count, master_index;
	struct neo_conn *conn;		/* to the upstream primary */
	bool identified;
	int32_t upstream_nid;		/* our id there */
	struct neo_ptable pt;		/* the upstream table */
	struct neo_node_table nodes;	/* the upstream nodes */
	bool ignore_invalidations;	/* until the upstream last tid is known */
	bool ignore_pack_notifications;	/* until the upstream pack orders are */
	struct neo_id_list *tids;	/* per partition: commits not everywhere yet */
	uint32_t partitions;
	struct neo_idmap cells;		/* (partition << 32 | nid) -> backup_cell */
	struct event *retry;
};

static uint64_t cell_key(uint32_t partition, int32_t nid)
{
	return (uint64_t)partition << 32 | (uint32_t)nid;
}

/* The record of a cell, made with backup tid `initial` when missing. */
static struct backup_cell *cell_get(struct master_backup *b, uint32_t partition, int32_t nid,
				    uint64_t initial)
{
	struct backup_cell *cell = neo_idmap_get(&b->cells, cell_key(partition, nid));

	if (cell)
		return cell;
	if ((cell = neo_calloc(1, sizeof *cell)) == NULL)
		return NULL;
	cell->backup_tid = initial;
	if (neo_idmap_put(&b->cells, cell_key(partition, nid), cell) < 0) {
		neo_free(cell);
		return NULL;
	}
	return cell;
}

static void cells_clear(struct master_backup *b)
{
	size_t index = 0;
	uint64_t key;
	void *value;

	while (neo_idmap_next(&b->cells, &index, &key, &value))
		neo_free(value);
	neo_idmap_free(&b->cells);
	neo_idmap_init(&b->cells);
}

static void tids_clear(struct master_backup *b)
{
	for (uint32_t i = 0; i < b->partitions; i++)
		neo_id_list_free(&b->tids[i]);
	neo_free(b->tids);
	b->tids = NULL;
	b->partitions = 0;
}

/* --- Configuration ---------------------------------------------------------- */

int master_backup_configure(struct master *m)
{
	struct master_backup *b;
	char err[256];

	m->backup_initially = m->opts->backup;
	if (m->opts->upstream_cluster == NULL || *m->opts->upstream_cluster == '\0') {
		if (m->opts->upstream_masters && *m->opts->upstream_masters) {
			neo_log(NEO_LOG_ERROR, "--upstream-masters needs --upstream-cluster");
			return -1;
		}
		return 0;
	}
	/* as upstream */
	if (strcmp(m->opts->upstream_cluster, m->cluster) == 0) {
		neo_log(NEO_LOG_ERROR, "upstream cluster name must be different from cluster name");
		return -1;
	}
	if (m->opts->upstream_masters == NULL || *m->opts->upstream_masters == '\0') {
		neo_log(NEO_LOG_ERROR, "--upstream-cluster needs --upstream-masters");
		return -1;
	}
	if ((b = neo_calloc(1, sizeof *b)) == NULL)
		return -1;
	neo_nodes_init(&b->nodes);
	neo_idmap_init(&b->cells);
	m->backup = b;
	b->name = neo_strdup(m->opts->upstream_cluster);
	if (b->name == NULL)
		return -1;
	if (neo_address_list_parse(m->opts->upstream_masters, 10000, &b->masters, &b->master_count,
				   err, sizeof err) < 0 || b->master_count == 0) {
		neo_log(NEO_LOG_ERROR, "--upstream-masters: %s", b->master_count ? err : "empty");
		return -1;
	}
	neo_log(NEO_LOG_INFO, "upstream cluster '%s' (%zu master(s)) for backup mode", b->name,
		b->master_count);
	return 0;
}

static void link_close(struct master *m, const char *why);

void master_backup_free(struct master *m)
{
	struct master_backup *b = m->backup;

	if (b == NULL)
		return;
	if (b->conn)
		link_close(m, "master exiting");
	if (b->retry)
		event_free(b->retry);
	tids_clear(b);
	cells_clear(b);
	neo_idmap_free(&b->cells);
	neo_ptable_free(&b->pt);
	neo_nodes_free(&b->nodes);
	neo_free(b->masters);
	neo_free(b->name);
	neo_free(b);
	m->backup = NULL;
}

/* --- The backup tid -------------------------------------------------------- */

/* As upstream's pt.getBackupTid: per partition the best (use_max) or the
 * worst readable cell, and the least of those over the partitions. */
uint64_t master_backup_tid(struct master *m, bool use_max)
{
	struct master_backup *b = m->backup;
	uint64_t result = UINT64_MAX;

	if (b == NULL || m->pt.num_partitions == 0)
		return m->backup_tid;
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		const struct neo_pt_cells *row = &m->pt.rows[p];
		uint64_t best = 0, worst = UINT64_MAX;
		bool any = false;

		for (uint32_t i = 0; i < row->count; i++) {
			struct backup_cell *cell;

			if (!neo_cell_readable(row->cells[i].state))
				continue;
			cell = neo_idmap_get(&b->cells, cell_key(p, row->cells[i].nid));
			if (cell == NULL)
				continue;
			any = true;
			if (cell->backup_tid > best)
				best = cell->backup_tid;
			if (cell->backup_tid < worst)
				worst = cell->backup_tid;
		}
		if (!any)
			return m->backup_tid;
		if ((use_max ? best : worst) < result)
			result = use_max ? best : worst;
	}
	return result == UINT64_MAX ? m->backup_tid : result;
}

/* --- Orders to our storages -------------------------------------------------- */

/* A Replicate being built for one storage. */
struct order {
	int64_t *keys;
	struct neo_opt_wire_address *values;
	uint32_t count;
};

static void order_add(struct order *o, uint32_t partition, const struct neo_address *source)
{
	o->keys[o->count] = partition;
	o->values[o->count].has = source != NULL;
	if (source)
		neo_address_to_wire(source, &o->values[o->count].v);
	o->count++;
}

static void order_send(struct master *m, struct neo_node *node, uint64_t tid, struct order *o,
		       bool upstream)
{
	struct neo_replicate replicate = { .tid = tid };

	if (o->count == 0 || node->conn == NULL)
		return;
	replicate.upstream_name = upstream ? neo_bin_str(m->backup->name) : neo_bin_str("");
	replicate.sources = (struct neo_map_int_opt_wire_address){ o->keys, o->values, o->count };
	neo_conn_notify(node->conn, NEO_REPLICATE, &replicate);
}

static void order_free(struct order *o)
{
	neo_free(o->keys);
	neo_free(o->values);
	*o = (struct order){ 0 };
}

/* Room for every partition; false (nothing held) on ENOMEM. */
static bool order_init(struct master *m, struct order *o)
{
	o->count = 0;
	o->keys = neo_calloc(m->pt.num_partitions + 1, sizeof *o->keys);
	o->values = neo_calloc(m->pt.num_partitions + 1, sizeof *o->values);
	if (o->keys && o->values)
		return true;
	order_free(o);
	return false;
}

static bool storage_ready(struct neo_node *node)
{
	struct master_node *data = node ? node->owner_data : NULL;

	return node && node->conn && node->type == NEO_NODE_STORAGE
	       && node->state == NEO_NODE_RUNNING && data && data->ready;
}

/* The address of a running upstream storage with a readable cell of the
 * partition, picked at random, or NULL. */
static const struct neo_address *upstream_source(struct master_backup *b, uint32_t partition)
{
	const struct neo_pt_cells *row;
	uint32_t start;

	if (partition >= b->pt.num_partitions)
		return NULL;
	row = &b->pt.rows[partition];
	start = row->count ? (uint32_t)rand() % row->count : 0;
	for (uint32_t k = 0; k < row->count; k++) {
		const struct neo_pt_cell *cell = &row->cells[(start + k) % row->count];
		struct neo_node *node = neo_nodes_by_nid(&b->nodes, cell->nid);

		if (neo_cell_readable(cell->state) && node && node->has_address
		    && node->state == NEO_NODE_RUNNING)
			return &node->address;
	}
	return NULL;
}

const struct neo_address *master_backup_check_source(struct master *m, uint32_t partition,
						     const char **name)
{
	if (m->backup == NULL || !m->backup->identified)
		return NULL;
	*name = m->backup->name;
	return upstream_source(m->backup, partition);
}

static uint64_t last_of(const struct neo_id_list *list)
{
	return list->ids[list->count - 1];
}

/* As upstream's triggerBackup: the cells of node that lack commits are
 * told to replicate them from the upstream cluster, up to its last tid. */
static void trigger(struct master *m, struct neo_node *node)
{
	struct master_backup *b = m->backup;
	struct order o = { 0 };

	if (!storage_ready(node) || b->tids == NULL || !order_init(m, &o))
		return;
	for (uint32_t p = 0; p < m->pt.num_partitions && p < b->partitions; p++) {
		int state = neo_ptable_cell_state(&m->pt, p, node->nid);
		const struct neo_address *source;
		struct backup_cell *cell;

		if (state < 0 || !neo_cell_readable(state) || b->tids[p].count == 0)
			continue;
		cell = cell_get(b, p, node->nid, 0);
		if (cell == NULL || (cell->backup_tid > cell->replicating ? cell->backup_tid
					     : cell->replicating) >= last_of(&b->tids[p]))
			continue;
		if ((source = upstream_source(b, p)) == NULL)
			continue;
		cell->replicating = m->last_tid;
		order_add(&o, p, source);
	}
	order_send(m, node, m->last_tid, &o, true);
	order_free(&o);
}

static bool in_list(const struct neo_list_int *list, uint32_t partition)
{
	for (uint32_t i = 0; i < list->count; i++)
		if (list->items[i] == (int64_t)partition)
			return true;
	return false;
}

/*
 * As upstream's invalidatePartitions: tid committed upstream, touching
 * `touched` (NULL: every partition), after prev_tid.  The touched
 * partitions remember tid and their up-to-date cells now lack it; the
 * others' cells that had everything still have everything, up to tid.
 */
static void invalidate(struct master *m, uint64_t tid, uint64_t prev_tid, uint32_t extra,
		       const struct neo_list_int *touched)
{
	struct master_backup *b = m->backup;
	struct order *untouched = neo_calloc(m->nodes.count + 1, sizeof *untouched);
	bool *to_trigger = neo_calloc(m->nodes.count + 1, sizeof *to_trigger);

	if (untouched == NULL || to_trigger == NULL)
		goto out;
	m->last_tid = tid;
	for (uint32_t p = 0; p < m->pt.num_partitions && p < b->partitions; p++) {
		const struct neo_pt_cells *row = &m->pt.rows[p];
		uint64_t last_max = b->tids[p].count ? last_of(&b->tids[p]) : prev_tid;
		bool is_touched = touched == NULL || p == extra || in_list(touched, p);
		bool any_ready = false;

		for (uint32_t i = 0; i < row->count; i++) {
			struct neo_node *node = neo_nodes_by_nid(&m->nodes, row->cells[i].nid);
			struct backup_cell *cell;
			size_t n;

			if (!neo_cell_readable(row->cells[i].state) || node == NULL)
				continue;
			if ((cell = cell_get(b, p, node->nid, m->backup_tid)) == NULL)
				continue;
			for (n = 0; n < m->nodes.count && m->nodes.nodes[n] != node; n++)
				;
			if (is_touched) {
				/* as upstream: the highest tid it may be complete
				 * up to is the one before this commit */
				if (cell->backup_tid == prev_tid && prev_tid != tid)
					cell->backup_tid = tid - 1;
				/* as upstream: tracked when a ready cell lacks it */
				if (storage_ready(node) && cell->backup_tid < tid) {
					any_ready = true;
					to_trigger[n] = true;
				}
				continue;
			}
			if (last_max <= cell->backup_tid) {
				cell->backup_tid = tid;
				if (storage_ready(node)) {
					if (untouched[n].keys == NULL && !order_init(m, &untouched[n]))
						continue;
					order_add(&untouched[n], p, NULL);
				}
			} else if (last_max <= cell->replicating) {
				cell->replicating = tid;
			}
		}
		if (is_touched && any_ready && neo_id_list_add(&b->tids[p], tid) < 0)
			neo_log(NEO_LOG_ERROR, "out of memory: partition %u misses a backup order", p);
	}
	for (size_t n = 0; n < m->nodes.count; n++) {
		if (untouched[n].keys)
			order_send(m, m->nodes.nodes[n], tid, &untouched[n], false);
		order_free(&untouched[n]);
	}
	for (size_t n = 0; n < m->nodes.count; n++)
		if (to_trigger[n])
			trigger(m, m->nodes.nodes[n]);
out:
	neo_free(untouched);
	neo_free(to_trigger);
}

/* Index of the first tid of list greater than tid (bisect_right). */
static uint32_t bisect(const struct neo_id_list *list, uint64_t tid)
{
	uint32_t lo = 0, hi = list->count;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (list->ids[mid] <= tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A cell replicated up to tid (NotifyReplicationDone), as upstream's
 * notifyReplicationDone. */
static void replication_done(struct master *m, struct neo_node *node, uint32_t p, uint64_t tid)
{
	struct master_backup *b = m->backup;
	struct neo_id_list *list = b->tids && p < b->partitions ? &b->tids[p] : NULL;
	struct backup_cell *cell = cell_get(b, p, node->nid, 0);
	const struct neo_pt_cells *row = &m->pt.rows[p];
	uint64_t least = UINT64_MAX;
	uint32_t drop;
	char nid[16];

	if (cell == NULL)
		return;
	if (list && list->count) {
		if (tid < list->ids[0]) {
			cell->replicating = tid;
		} else {
			uint32_t next = bisect(list, tid);

			if (next < list->count) {
				tid = list->ids[next] - 1;
			} else if (tid < m->last_tid) {
				struct order o = { 0 };

				tid = m->last_tid;
				if (order_init(m, &o)) {
					order_add(&o, p, NULL);
					order_send(m, node, tid, &o, false);
				}
				order_free(&o);
			}
		}
	}
	neo_log(NEO_LOG_DEBUG, "partition %u: backup tid of %s is %016" PRIx64, p,
		neo_nid_format(node->nid, nid, sizeof nid), tid);
	cell->backup_tid = tid;
	/* as upstream: the tids every readable cell has are forgotten */
	for (uint32_t i = 0; i < row->count; i++) {
		struct backup_cell *other;

		if (!neo_cell_readable(row->cells[i].state))
			continue;
		other = neo_idmap_get(&b->cells, cell_key(p, row->cells[i].nid));
		if (other && other->backup_tid < least)
			least = other->backup_tid;
	}
	if (list && least != UINT64_MAX && (drop = bisect(list, least)) > 0) {
		memmove(list->ids, list->ids + drop, (list->count - drop) * sizeof *list->ids);
		list->count -= drop;
	}
	if (m->state == NEO_CLUSTER_BACKINGUP)
		trigger(m, node);
}

void master_backup_replication_done(struct master *m, struct neo_node *node, uint32_t partition,
				    uint64_t tid)
{
	int state = neo_ptable_cell_state(&m->pt, partition, node->nid);

	if (m->backup == NULL || state < 0)
		return;
	/* An OUT_OF_DATE cell caught up from the other cells of this
	 * cluster (internal replication, up to the backup tid). */
	if (state == NEO_CELL_OUT_OF_DATE)
		master_pt_replicated(m, partition, node->nid);
	replication_done(m, node, partition, tid);
}

/* --- The link to the upstream primary ---------------------------------------- */

static void link_ready(struct neo_conn *conn, void *arg);
static void link_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg);
static void link_closed(struct neo_conn *conn, const char *reason, void *arg);

static const struct neo_conn_callbacks link_callbacks = {
	.on_ready = link_ready,
	.on_packet = link_packet,
	.on_close = link_closed,
};

static void link_connect(struct master *m);

static void retry_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_connect(arg);
}

static void schedule_retry(struct master *m)
{
	struct master_backup *b = m->backup;
	struct timeval delay = { 1, 0 };

	if (b->retry == NULL)
		b->retry = evtimer_new(m->base, retry_tick, m);
	if (b->retry)
		evtimer_add(b->retry, &delay);
}

/* Our clients go (as upstream): they read at a backup tid that stops
 * moving while the link is down. */
static void close_clients(struct master *m)
{
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_CLIENT && node->conn)
			neo_conn_close(node->conn, "backup link lost");
	}
}

static void link_forget(struct master *m)
{
	struct master_backup *b = m->backup;
	size_t index = 0;
	uint64_t key;
	void *value;

	b->identified = false;
	tids_clear(b);
	while (neo_idmap_next(&b->cells, &index, &key, &value))
		((struct backup_cell *)value)->replicating = 0;
	neo_ptable_clear(&b->pt);
	neo_nodes_free(&b->nodes);
	neo_nodes_init(&b->nodes);
}

static void link_close(struct master *m, const char *why)
{
	struct master_backup *b = m->backup;
	struct neo_conn *conn = b->conn;

	b->conn = NULL;
	link_forget(m);
	if (conn)
		neo_conn_abort(conn, why);
}

static void link_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct master *m = arg;
	struct master_backup *b = m->backup;

	if (b == NULL || conn != b->conn)
		return;
	b->conn = NULL;
	if (b->identified)
		neo_log(NEO_LOG_ERROR, "upstream master is down: %s", reason);
	link_forget(m);
	b->master_index = (b->master_index + 1) % b->master_count;
	if (m->state == NEO_CLUSTER_BACKINGUP || m->state == NEO_CLUSTER_STARTING_BACKUP) {
		/* as upstream: back to STARTING_BACKUP, and again */
		master_set_state(m, NEO_CLUSTER_STARTING_BACKUP);
		close_clients(m);
		schedule_retry(m);
	}
}

static void answered_last_transaction(struct neo_conn *conn, enum neo_ask_status status,
				      struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct master_backup *b = m->backup;
	uint64_t tid;

	if (b == NULL || conn != b->conn || m->state != NEO_CLUSTER_BACKINGUP)
		return;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_LAST_TRANSACTION) {
		link_close(m, "no upstream last tid");
		master_set_state(m, NEO_CLUSTER_STARTING_BACKUP);
		schedule_retry(m);
		return;
	}
	tid = ((const struct neo_answer_last_transaction *)answer->args)->tid;
	if (tid < m->last_tid) {
		/* as upstream */
		neo_log(NEO_LOG_ERROR, "Upstream DB truncated. Leaving backup mode in case this "
			"backup DB needs to be truncated.");
		master_backup_leave(m);
		return;
	}
	/* As upstream: what changed while we were away is not known, so
	 * every partition is to be checked up to the upstream last tid. */
	invalidate(m, tid, tid, 0, NULL);
	b->ignore_invalidations = false;
}

/* As upstream's BackupHandler.answerPackOrders: the upstream orders are
 * ours (master/pack.c) and our storages follow them; from now on
 * NotifyPackSigned on the link is followed. */
static void answered_pack_orders(struct neo_conn *conn, enum neo_ask_status status,
				 struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct master_backup *b = m->backup;

	if (b == NULL || conn != b->conn || status != NEO_ASK_ANSWERED
	    || answer->code != NEO_ANSWER_PACK_ORDERS)
		return;
	master_pack_learn(m, answer->args);
	b->ignore_pack_notifications = false;
}

static void ask_pack_orders(struct master *m, uint64_t min_id)
{
	struct neo_ask_pack_orders ask = { .min_completed_id = min_id };

	neo_conn_ask(m->backup->conn, NEO_ASK_PACK_ORDERS, &ask, 0, answered_pack_orders, m);
}

/* As upstream's BackupHandler.notifyPackSigned: an order signed upstream.
 * Ours are approved once known, so only unknown ones matter: their
 * orders are asked (from the least), kept and passed on when answered;
 * a rejection is passed on to our storages at once. */
static void pack_signed(struct master *m, const struct neo_notify_pack_signed *signed_orders)
{
	uint64_t ask = 0;

	if (m->backup->ignore_pack_notifications)
		return;
	for (uint32_t i = 0; i < signed_orders->approved.count; i++) {
		uint64_t id = signed_orders->approved.items[i];

		if (!master_pack_known(m, id) && (ask == 0 || id < ask))
			ask = id;
	}
	if (ask)
		ask_pack_orders(m, ask);
	if (signed_orders->rejected.count) {
		struct neo_notify_pack_signed rejected = { .rejected = signed_orders->rejected };

		master_broadcast(m, NEO_NOTIFY_PACK_SIGNED, &rejected, true, false, false);
	}
}

static void link_identified(struct neo_conn *conn, enum neo_ask_status status,
			    struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	struct master_backup *b = m->backup;
	const struct neo_accept_identification *accept;
	char nid[16];

	if (b == NULL || conn != b->conn || status != NEO_ASK_ANSWERED)
		return;
	if (answer->code != NEO_ACCEPT_IDENTIFICATION) {
		if (answer->code == NEO_ERROR) {
			const struct neo_error *error = answer->args;

			neo_log(NEO_LOG_WARNING, "upstream master %s refused us: %.*s",
				neo_conn_peer(conn), (int)error->message.size,
				(const char *)error->message.data);
		}
		return;		/* it closes; we retry */
	}
	accept = answer->args;
	if (accept->node_type != NEO_NODE_MASTER || !accept->your_uuid.has) {
		neo_conn_abort(conn, "not a master");
		return;
	}
	if (b->upstream_nid != (int32_t)accept->your_uuid.v)
		neo_log(NEO_LOG_INFO, "Upstream Node ID: %s",
			neo_nid_format((int32_t)accept->your_uuid.v, nid, sizeof nid));
	b->upstream_nid = (int32_t)accept->your_uuid.v;
	b->identified = true;
	b->ignore_invalidations = true;
	b->ignore_pack_notifications = true;
	tids_clear(b);
	b->tids = neo_calloc(m->pt.num_partitions + 1, sizeof *b->tids);
	if (b->tids == NULL) {
		link_close(m, "out of memory");
		schedule_retry(m);
		return;
	}
	b->partitions = m->pt.num_partitions;
	master_set_state(m, NEO_CLUSTER_BACKINGUP);
	neo_conn_ask(conn, NEO_ASK_LAST_TRANSACTION, NULL, 0, answered_last_transaction, m);
	/* as upstream: the orders after the backup tid (those before came
	 * with the records, and from our storages at recovery); from the
	 * worst cell's rather than the best's, asking more being harmless */
	ask_pack_orders(m, master_backup_tid(m, false) + 1);
}

static void link_ready(struct neo_conn *conn, void *arg)
{
	struct master *m = arg;
	struct master_backup *b = m->backup;
	struct neo_request_identification req;
	msgpack_object value;
	struct neo_bin key = neo_bin_str("backup");

	/* as upstream: a client of the upstream cluster, without address,
	 * with the id it had there, and {"backup": our name} */
	neo_identification_init(&req, NEO_NODE_CLIENT, b->upstream_nid, NULL, b->name);
	/* as upstream (str2bytes): bin, so that the upstream master matches
	 * it with the names its admins watch (--monitor-backup) */
	value.type = MSGPACK_OBJECT_BIN;
	value.via.bin.ptr = m->cluster;
	value.via.bin.size = (uint32_t)strlen(m->cluster);
	req.extra.keys = &key;
	req.extra.values = &value;
	req.extra.count = 1;
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 30000, link_identified, m);
}

static void follow_primary(struct master *m, const struct neo_not_primary_master *hint)
{
	struct master_backup *b = m->backup;
	struct neo_address primary;

	if (!hint->primary.has || hint->primary.v < 0 || hint->primary.v >= hint->known_masters.count
	    || !neo_address_from_wire(&hint->known_masters.items[hint->primary.v], &primary))
		return;
	for (size_t i = 0; i < b->master_count; i++)
		if (b->masters[i].port == primary.port && strcmp(b->masters[i].host, primary.host) == 0) {
			/* link_closed moves on by one: land on it */
			b->master_index = (i + b->master_count - 1) % b->master_count;
			return;
		}
}

/* As upstream's notifyUpstreamAdmin: a running admin of the upstream
 * cluster is made known to our admin with the least id, so that it can
 * report to it (upstream admins monitor their backups). */
static void notify_upstream_admin(struct master *m, const struct neo_wire_address *address)
{
	struct neo_notify_upstream_admin notify = { .address = *address };
	struct neo_node *chosen = NULL;

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_ADMIN && node->conn && (chosen == NULL || node->nid < chosen->nid))
			chosen = node;
	}
	if (chosen)
		neo_conn_notify(chosen->conn, NEO_NOTIFY_UPSTREAM_ADMIN, &notify);
}

void master_backup_admin_joined(struct master *m)
{
	struct master_backup *b = m->backup;

	if (b == NULL || !b->identified)
		return;
	for (size_t i = 0; i < b->nodes.count; i++) {
		const struct neo_node *node = b->nodes.nodes[i];
		struct neo_wire_address wire;

		if (node->type != NEO_NODE_ADMIN || node->state != NEO_NODE_RUNNING
		    || !node->has_address)
			continue;
		neo_address_to_wire(&node->address, &wire);
		notify_upstream_admin(m, &wire);
		return;
	}
}

static void upstream_nodes(struct master *m, const struct neo_notify_node_information *info)
{
	struct master_backup *b = m->backup;

	for (uint32_t i = 0; i < info->nodes.count; i++) {
		const struct neo_node_info *node = &info->nodes.items[i];
		struct neo_node *gone = NULL;

		neo_nodes_update(&b->nodes, node, &gone);
		if (gone)
			neo_node_free(gone);
		if (node->type == NEO_NODE_ADMIN && node->state == NEO_NODE_RUNNING
		    && node->address.has)
			notify_upstream_admin(m, &node->address.v);
	}
}

static void link_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct master *m = arg;
	struct master_backup *b = m->backup;

	if (b == NULL || conn != b->conn)
		return;
	switch (pkt->code) {
	case NEO_NOT_PRIMARY_MASTER:
		follow_primary(m, pkt->args);
		return;
	case NEO_NOTIFY_NODE_INFORMATION:
		upstream_nodes(m, pkt->args);
		return;
	case NEO_SEND_PARTITION_TABLE: {
		const struct neo_send_partition_table *t = pkt->args;

		if (neo_ptable_load(&b->pt, t->ptid.has ? t->ptid.v : 0, t->num_replicas,
				    &t->rows) < 0 || b->pt.num_partitions != m->pt.num_partitions) {
			/* as upstream */
			neo_log(NEO_LOG_ERROR, "upstream: inconsistent number of partitions "
				"(%u here)", m->pt.num_partitions);
			link_close(m, "inconsistent number of partitions");
			master_set_state(m, NEO_CLUSTER_STARTING_BACKUP);
			schedule_retry(m);
		}
		return;
	}
	case NEO_NOTIFY_PARTITION_CHANGES: {
		const struct neo_notify_partition_changes *c = pkt->args;

		if (neo_ptable_apply(&b->pt, c->ptid, c->num_replicas, &c->changes) < 0)
			neo_log(NEO_LOG_WARNING, "upstream: bad partition change ignored");
		return;
	}
	case NEO_INVALIDATE_PARTITIONS: {
		const struct neo_invalidate_partitions *inv = pkt->args;

		if (b->ignore_invalidations || !b->identified || m->pt.num_partitions == 0)
			return;
		/* as upstream: the commit's own partition counts too */
		invalidate(m, inv->tid, m->last_tid, neo_ptable_partition(&m->pt, inv->tid),
			   &inv->partitions);
		return;
	}
	case NEO_NOTIFY_PACK_SIGNED:
		if (b->identified)
			pack_signed(m, pkt->args);
		return;
	default:
		/* NotifyClusterInformation, ...: nothing to do here */
		if (!neo_packet_is_answer(pkt->code))
			neo_log(NEO_LOG_DEBUG, "upstream: ignored %s", pkt->type->name);
		return;
	}
}

static void link_connect(struct master *m)
{
	struct master_backup *b = m->backup;
	const struct neo_address *address;
	char err[256];

	if (b == NULL || b->conn || m->state != NEO_CLUSTER_STARTING_BACKUP)
		return;
	address = &b->masters[b->master_index];
	b->conn = neo_conn_connect(m->base, address, m->ssl, &link_callbacks, m, err, sizeof err);
	if (b->conn == NULL) {
		neo_log(NEO_LOG_WARNING, "cannot reach upstream master %s:%u: %s", address->host,
			address->port, err);
		b->master_index = (b->master_index + 1) % b->master_count;
		schedule_retry(m);
	}
}

/* --- The states ---------------------------------------------------------------- */

/* As upstream: the link is made once every storage with readable cells
 * is ready. */
void master_backup_storage_ready(struct master *m)
{
	if (m->backup == NULL || m->state != NEO_CLUSTER_STARTING_BACKUP || m->backup->conn)
		return;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && neo_ptable_has_readable_cell(&m->pt, node->nid)
		    && !storage_ready(node))
			return;
	}
	link_connect(m);
}

/* Every cell's backup tid: the one its storage recovered with (none: the
 * cluster-wide one). */
static void cells_init(struct master *m, bool from_storages, uint64_t tid)
{
	struct master_backup *b = m->backup;

	cells_clear(b);
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		const struct neo_pt_cells *row = &m->pt.rows[p];

		for (uint32_t i = 0; i < row->count; i++) {
			struct neo_node *node = neo_nodes_by_nid(&m->nodes, row->cells[i].nid);
			struct master_node *data = node ? node->owner_data : NULL;
			uint64_t initial = tid;

			if (from_storages && data && data->recovery_has_backup_tid)
				initial = data->recovery_backup_tid;
			cell_get(b, p, row->cells[i].nid, initial);
		}
	}
}

bool master_backup_after_verification(struct master *m)
{
	if (!m->has_backup_tid && !(m->backup_initially && m->last_tid == 0))
		return false;
	if (m->backup == NULL) {
		/* as upstream */
		neo_log(NEO_LOG_ERROR, "No upstream cluster to backup defined in configuration");
		exit(1);
	}
	if (!m->has_backup_tid) {
		/* -B on an empty cluster */
		m->backup_tid = 0;
		m->has_backup_tid = true;
		cells_init(m, false, 0);
	} else {
		cells_init(m, true, m->backup_tid);
		m->backup_tid = master_backup_tid(m, true);
	}
	/* upstream's last tid is ours from now on */
	m->last_tid = m->backup_tid > m->last_tid ? m->backup_tid : m->last_tid;
	master_set_state(m, NEO_CLUSTER_STARTING_BACKUP);
	return true;
}

const char *master_backup_start(struct master *m)
{
	if (m->backup == NULL)
		return "No upstream cluster to backup defined in configuration";
	if (m->state != NEO_CLUSTER_RUNNING)
		return "Can not switch to this state";
	if (m->txns || m->commit_count)
		return "Can not switch to STARTING_BACKUP state with pending transactions or "
		       "connected clients";
	for (size_t i = 0; i < m->nodes.count; i++)
		if (m->nodes.nodes[i]->type == NEO_NODE_CLIENT && m->nodes.nodes[i]->conn)
			return "Can not switch to STARTING_BACKUP state with pending transactions "
			       "or connected clients";
	/* as upstream: every cell has what this cluster committed */
	m->backup_tid = m->last_tid;
	m->has_backup_tid = true;
	cells_init(m, false, m->last_tid);
	master_set_state(m, NEO_CLUSTER_STARTING_BACKUP);
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn && node->state == NEO_NODE_RUNNING) {
			struct neo_start_operation start = { .backup = true };

			neo_conn_notify(node->conn, NEO_START_OPERATION, &start);
		}
	}
	master_backup_storage_ready(m);
	return NULL;
}

/*
 * STOPPING_BACKUP: the link goes, and the cluster is cut at the backup
 * tid every readable cell reached, so that what remains is a consistent
 * snapshot of the upstream history; then recovery, verification and
 * RUNNING, as after neoctl truncate.
 */
void master_backup_leave(struct master *m)
{
	uint64_t tid = master_backup_tid(m, false);
	struct neo_truncate truncate = { .tid = tid };
	char text[40];

	if (m->backup && m->backup->conn)
		link_close(m, "leaving backup mode");
	master_set_state(m, NEO_CLUSTER_STOPPING_BACKUP);
	if (tid < m->last_tid)
		neo_log(NEO_LOG_WARNING, "Truncating at %016" PRIx64 " (%s), last tid was %016" PRIx64,
			tid, neo_tid_format_time(tid, text, sizeof text), m->last_tid);
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn)
			neo_conn_ask(node->conn, NEO_TRUNCATE, &truncate, 0, NULL, NULL);
	}
	m->truncate_tid = tid;
	m->has_backup_tid = false;
	m->backup_tid = 0;
	master_stop_operation(m);
	m->startup_allowed = true;
	master_recovery_check(m);
}

/* Operation stopped (a storage lost, leaving backup mode): the link goes;
 * recovery finds out again whether we are in backup mode. */
void master_backup_stop(struct master *m)
{
	if (m->backup == NULL)
		return;
	if (m->backup->retry)
		evtimer_del(m->backup->retry);
	if (m->backup->conn)
		link_close(m, "operation stopped");
	link_forget(m);
}

/* A storage with readable cells lost while backing up: orders in flight
 * to it are forgotten (the others go on). */
void master_backup_node_lost(struct master *m, struct neo_node *node)
{
	struct master_backup *b = m->backup;

	if (b == NULL)
		return;
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		struct backup_cell *cell = neo_idmap_get(&b->cells, cell_key(p, node->nid));

		if (cell)
			cell->replicating = 0;
	}
}
