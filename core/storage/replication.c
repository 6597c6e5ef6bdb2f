/*
 * storage/replication.c - bringing OUT_OF_DATE cells up to date from a
 * readable peer, and serving peers that do the same from us
 * (core/cluster/cluster.md section 8, upstream's neo/storage/replicator.py).
 *
 * Outdated cells are writable: once the master has answered which
 * transactions were unfinished when we asked, every transaction that
 * begins afterwards reaches us in full.  So a cell is up to date when:
 *   1. it holds, from a readable peer, every transaction up to the last
 *      tid the master had committed when it answered;
 *   2. the transactions unfinished at that answer have all ended, and
 *      what they committed was replicated too (each one that commits
 *      moves the partition's target to its tid: a pass more);
 *   3. no write taken without a lock (lockless, while the cell could not
 *      check conflicts) is left: from then on the cell takes locks.
 * Only then is the master told (NotifyReplicationDone).
 *
 * One partition at a time: transactions, then objects, in chunks of
 * FETCH_COUNT; each chunk carries what we already have so that the
 * source sends only what is missing and tells what to delete.  After a
 * pass the cell's stored tid records how far it is complete, so that a
 * restart resumes there.
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/tid.h"
#include "proto/codec.h"
#include "runtime/log.h"

/* Rows per fetch request.  Upstream asks 1000; a source serves the
 * length it is asked (ours and upstream's alike), and bigger chunks make
 * fewer round trips per MB.  But a chunk is built by the source in one
 * turn of its event loop and stored by us in one read callback, before
 * either answers a ping (10 s): with 10000 rows on a loaded machine at 1M
 * objects, pings went unanswered and passes were aborted.  2000 rows are
 * about 2 MB of 1 KiB objects. */
#define FETCH_COUNT 2000
#define DRAIN_POLL_MS 50

/* Where one of our OUT_OF_DATE cells stands (see the comment above). */
enum rep_phase {
	REP_IDLE,		/* not an OUT_OF_DATE cell of ours */
	REP_ASK,		/* the master is to be asked its unfinished txns */
	REP_ASKED,		/* asked: answer awaited */
	REP_TRACKED,		/* answered: passes until nothing is left */
	REP_DRAINING,		/* complete: lockless writes still pending */
	REP_NOTIFIED		/* NotifyReplicationDone sent */
};

struct rep_partition {
	enum rep_phase phase;
	bool waiting;		/* a transaction up to max_ttid may still commit */
	uint64_t max_ttid;
	bool has_target;	/* a pass up to target is due */
	uint64_t target;
	uint64_t done_tid;	/* complete up to (after the last pass) */
};

/* Backup mode (core/cluster/cluster.md section 16): one of our readable
 * cells follows the upstream cluster, on the master's orders. */
struct rep_backup {
	bool due;		/* an order: replicate up to target from source */
	uint64_t target;
	struct neo_address source;
	bool upstream;		/* the source is in the upstream cluster */
	uint64_t next;		/* complete below this tid */
};

struct replication {
	struct rep_partition *parts;
	struct rep_backup *backup;	/* per partition */
	char upstream_name[128];	/* of the last order with an upstream source */
	bool backup_pass;		/* the current pass is a backup order's */
	/* As upstream, the connection of the last backup pass stays open for
	 * the next one from the same source (the source never changes while
	 * backing up, but for a random upstream cell) */
	struct neo_conn *kept;
	struct neo_address kept_address;
	bool kept_upstream;
	uint32_t part_count;
	bool asking;		/* an AskUnfinishedTransactions is in flight */
	struct neo_id_list unfinished;	/* ttids the master said were pending */

	int64_t partition;		/* being replicated, or -1 */
	struct neo_conn *source;
	bool source_borrowed;		/* the source's own connection to us */
	uint64_t max_tid;		/* this pass replicates up to this tid */
	uint64_t first_tid;		/* where the partition's pass starts */
	uint64_t next_tid, next_oid;	/* where the current chunk starts */
	bool fetching_objects;		/* the pass's second half */
	/* progress of a catch-up (storage_replication_progress): since when
	 * own cells are OUT_OF_DATE (0: none was seen), the bytes replicated
	 * and the most cells seen OUT_OF_DATE since then */
	double catchup_since;
	uint64_t bytes, bytes_at_since;
	uint32_t cells_at_since;
	struct event *retry;
	struct event *drain;
};

static int ignore_id(void *ctx, uint64_t id)
{
	(void)ctx;
	(void)id;
	return 0;
}

/* --- Destination side ------------------------------------------------------ */

static void replication_next(struct storage *s);
static void drain_check(struct storage *s);
static struct replication *replication_get(struct storage *s);

static void schedule(struct event *ev, long ms)
{
	struct timeval delay = { ms / 1000, (ms % 1000) * 1000 };

	if (ev && !evtimer_pending(ev, NULL))
		evtimer_add(ev, &delay);
}

static void retry_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	storage_replication_update(arg);
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_check(arg);
}

static void close_source(struct replication *r, const char *why)
{
	if (r->source) {
		struct neo_conn *conn = r->source;

		r->source = NULL;
		if (!r->source_borrowed)
			neo_conn_close(conn, why);
	}
}

/* The current pass stops; its target stays due (unless a newer one came). */
static void replication_abort(struct storage *s, const char *why)
{
	struct replication *r = s->replication;

	if (r->partition >= 0) {
		struct rep_partition *p = &r->parts[r->partition];

		neo_log(NEO_LOG_WARNING, "replication of partition %" PRId64 " aborted: %s",
			r->partition, why);
		if (p->phase == REP_TRACKED && !p->has_target) {
			p->has_target = true;
			p->target = r->max_tid;
		}
		if (r->backup_pass) {
			struct rep_backup *b = &r->backup[r->partition];

			if (!b->due || b->target < r->max_tid) {
				b->due = true;
				b->target = r->max_tid;
			}
		}
	}
	r->backup_pass = false;
	r->partition = -1;
	close_source(r, "replication aborted");
	schedule(r->retry, 1000);
}

/* Records that an own OUT_OF_DATE cell is complete up to tid, so that a
 * restart resumes after it (as upstream's updateCellTID). */
static bool save_progress(struct storage *s, uint32_t partition, uint64_t tid)
{
	struct neo_pt_row row = { .partition = partition, .nid = s->nid, .tid = (int64_t)tid };

	if (storage_cell_state(s, partition) != NEO_CELL_OUT_OF_DATE)
		return true;
	return !storage_db_failed(s, s->be->pt_apply(s->db, &row, 1, false),
				  "saving replication progress");
}

static void pass_done(struct storage *s);
static void fetch_transactions(struct storage *s, bool ask_pack_info);
static void fetch_objects(struct storage *s);

static void answered_fetch_transactions(struct neo_conn *conn, enum neo_ask_status status,
					struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct replication *r = s->replication;
	const struct neo_answer_fetch_transactions *fetched;
	int rc = NEO_BACKEND_OK;

	if (r == NULL || conn != r->source || r->partition < 0)
		return;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_FETCH_TRANSACTIONS) {
		replication_abort(s, "source refused or lost");
		return;
	}
	fetched = answer->args;
	for (uint32_t i = 0; rc == NEO_BACKEND_OK && i < fetched->tids_to_delete.count; i++)
		rc = storage_write_rc(s->be->trans_delete(s->db, (uint32_t)r->partition,
					 fetched->tids_to_delete.items[i]));
	/* as upstream: the source's last completed pack, when it is older
	 * than ours, becomes ours (packs it did not do are redone here) */
	if (rc == NEO_BACKEND_OK && fetched->completed_pack.has)
		rc = storage_pack_replicated(s, (uint32_t)r->partition, fetched->completed_pack.v);
	/* LAZY: a chunk lost in a crash is fetched again, since the cell's
	 * progress (save_progress) moves only at the end of the pass, by a
	 * SYNC commit that makes every chunk before it durable too */
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	if (storage_db_failed(s, rc, "replicating transactions"))
		return;
	if (fetched->next_tid.has) {
		r->next_tid = fetched->next_tid.v;
		fetch_transactions(s, false);
		return;
	}
	r->next_tid = r->first_tid;
	r->next_oid = 0;
	r->fetching_objects = true;
	fetch_objects(s);
}

/* as upstream: the first request of a partition's pass asks for the
 * source's completed pack, the next chunks do not. */
static void fetch_transactions(struct storage *s, bool ask_pack_info)
{
	s->replication->fetching_objects = false;
	struct replication *r = s->replication;
	struct neo_ask_fetch_transactions ask = { .partition = r->partition, .length = FETCH_COUNT,
						  .min_tid = r->next_tid, .max_tid = r->max_tid,
						  .ask_pack_info = ask_pack_info };
	struct neo_id_list have = { 0 };

	s->be->tid_range(s->db, (uint32_t)r->partition, r->next_tid, r->max_tid, FETCH_COUNT,
			 neo_id_list_add, &have);
	ask.tids_we_have = (struct neo_list_p64){ have.ids, have.count };
	neo_conn_ask(r->source, NEO_ASK_FETCH_TRANSACTIONS, &ask, 0, answered_fetch_transactions, s);
	neo_id_list_free(&have);
}

/* {serial: [oids]} as the fetch packets carry it. */
struct object_map {
	uint64_t *serials;
	struct neo_id_list *oids;	/* per serial */
	struct neo_list_p64 *views;	/* the wire's view of oids */
	uint32_t count;
	size_t capacity;
};

static int object_map_add(void *ctx, uint64_t serial, uint64_t oid)
{
	struct object_map *m = ctx;
	uint32_t i;

	/* Rows come in (serial, oid) order: the serial is usually the last. */
	for (i = m->count; i > 0 && m->serials[i - 1] != serial; i--)
		;
	if (i == 0) {
		if (storage_grow_pair(&m->serials, sizeof *m->serials, &m->oids, sizeof *m->oids,
				      &m->capacity, (size_t)m->count + 1) < 0)
			return -1;
		m->serials[m->count] = serial;
		m->oids[m->count] = (struct neo_id_list){ 0 };
		i = ++m->count;
	}
	return neo_id_list_add(&m->oids[i - 1], oid);
}

/* The map as a packet argument; valid until the map changes or goes. */
static struct neo_map_p64_list_p64 object_map_wire(struct object_map *m)
{
	struct neo_map_p64_list_p64 wire = { m->serials, NULL, 0 };

	neo_free(m->views);
	m->views = neo_calloc(m->count + 1, sizeof *m->views);
	if (m->views == NULL)
		return wire;
	for (uint32_t i = 0; i < m->count; i++)
		m->views[i] = (struct neo_list_p64){ m->oids[i].ids, m->oids[i].count };
	wire.values = m->views;
	wire.count = m->count;
	return wire;
}

static void object_map_free(struct object_map *m)
{
	for (uint32_t i = 0; i < m->count; i++)
		neo_id_list_free(&m->oids[i]);
	neo_free(m->serials);
	neo_free(m->oids);
	neo_free(m->views);
	memset(m, 0, sizeof *m);
}

static void answered_fetch_objects(struct neo_conn *conn, enum neo_ask_status status,
				   struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct replication *r = s->replication;
	const struct neo_answer_fetch_objects *fetched;
	int rc = NEO_BACKEND_OK;

	if (r == NULL || conn != r->source || r->partition < 0)
		return;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_FETCH_OBJECTS) {
		replication_abort(s, "source refused or lost");
		return;
	}
	fetched = answer->args;
	for (uint32_t i = 0; rc == NEO_BACKEND_OK && i < fetched->objects_to_delete.count; i++)
		for (uint32_t k = 0; rc == NEO_BACKEND_OK
				     && k < fetched->objects_to_delete.values[i].count; k++) {
			struct neo_opt_id serial = { true, fetched->objects_to_delete.keys[i] };

			rc = storage_write_rc(s->be->obj_delete(s->db, (uint32_t)r->partition,
					       fetched->objects_to_delete.values[i].items[k], &serial,
					       ignore_id, NULL));
		}
	if (rc == NEO_BACKEND_OK)	/* LAZY: see answered_fetch_transactions */
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	if (storage_db_failed(s, rc, "replicating objects"))
		return;
	if (fetched->next_tid.has) {
		r->next_tid = fetched->next_tid.v;
		r->next_oid = fetched->next_oid.has ? fetched->next_oid.v : 0;
		fetch_objects(s);
		return;
	}
	pass_done(s);
}

static void fetch_objects(struct storage *s)
{
	struct replication *r = s->replication;
	struct neo_ask_fetch_objects ask = { .partition = r->partition, .length = FETCH_COUNT,
					     .min_tid = r->next_tid, .max_tid = r->max_tid,
					     .min_oid = r->next_oid };
	struct object_map have = { 0 };

	s->be->obj_range(s->db, (uint32_t)r->partition, r->next_tid, r->next_oid, r->max_tid,
			 FETCH_COUNT, object_map_add, &have);
	ask.objects_we_have = object_map_wire(&have);
	neo_conn_ask(r->source, NEO_ASK_FETCH_OBJECTS, &ask, 0, answered_fetch_objects, s);
	object_map_free(&have);
}

/* Nothing more can commit here that we could lack: wait for the lockless
 * writes to end, then tell the master. */
static void partition_complete(struct storage *s, uint32_t partition)
{
	struct rep_partition *p = &s->replication->parts[partition];

	p->phase = REP_DRAINING;
	neo_log(NEO_LOG_INFO, "partition %u complete up to %016" PRIx64, partition, p->done_tid);
	drain_check(s);
}

static void backup_pass_done(struct storage *s);

static void pass_done(struct storage *s)
{
	struct replication *r = s->replication;
	uint32_t partition = (uint32_t)r->partition;
	struct rep_partition *p = &r->parts[partition];

	if (r->backup_pass) {
		backup_pass_done(s);
		return;
	}
	if (!save_progress(s, partition, r->max_tid)
	    || storage_db_failed(s, s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC),
				 "saving replication progress"))
		return;
	neo_log(NEO_LOG_INFO, "partition %u replicated up to %016" PRIx64, partition, r->max_tid);
	p->done_tid = r->max_tid;
	r->partition = -1;
	close_source(r, "replication pass done");
	if (p->phase == REP_TRACKED && !p->waiting && !p->has_target)
		partition_complete(s, partition);
	replication_next(s);
}

static void drain_check(struct storage *s)
{
	struct replication *r = s->replication;
	bool draining = false;

	if (r == NULL)
		return;
	for (uint32_t i = 0; i < r->part_count; i++) {
		struct rep_partition *p = &r->parts[i];

		if (p->phase != REP_DRAINING)
			continue;
		if (storage_has_lockless(s, i) || s->master_conn == NULL) {
			draining = true;
			continue;
		}
		neo_log(NEO_LOG_INFO, "partition %u up to date (replicated up to %016" PRIx64 ")",
			i, p->done_tid);
		neo_conn_notify(s->master_conn, NEO_NOTIFY_REPLICATION_DONE,
				&(struct neo_notify_replication_done){ .partition = i,
								       .tid = p->done_tid });
		p->phase = REP_NOTIFIED;
	}
	if (draining)
		schedule(r->drain, DRAIN_POLL_MS);
}

bool storage_replication_complete(const struct storage *s, uint32_t partition)
{
	const struct replication *r = s->replication;

	return r && partition < r->part_count
	       && (r->parts[partition].phase == REP_DRAINING
		   || r->parts[partition].phase == REP_NOTIFIED);
}

/* As upstream: an own OUT_OF_DATE cell complete up to tid T (pt.tid, set
 * when it left a readable state and after each pass) resumes at T + 1;
 * 0 means from scratch. */
static uint64_t resume_tid(struct storage *s, uint32_t partition)
{
	int64_t *own = storage_own_cell_tids(s, s->pt.num_partitions);
	uint64_t first = 0;

	if (own && partition < s->pt.num_partitions && own[partition] > 0)
		first = (uint64_t)own[partition] + 1;
	neo_free(own);
	if (first)
		neo_log(NEO_LOG_INFO, "partition %u is complete up to %016" PRIx64
			": replicating what follows", partition, first - 1);
	return first;
}

/* Where a pass starts: a backup order's after what the cell holds, an
 * OUT_OF_DATE cell's where it stopped. */
static uint64_t pass_first_tid(struct storage *s)
{
	struct replication *r = s->replication;

	if (r->backup_pass)
		return r->backup[r->partition].next;
	return resume_tid(s, (uint32_t)r->partition);
}

static void source_identified(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct replication *r = s->replication;

	if (r == NULL || conn != r->source || r->partition < 0)
		return;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ACCEPT_IDENTIFICATION) {
		replication_abort(s, "source refused us");
		return;
	}
	r->first_tid = pass_first_tid(s);
	r->next_tid = r->first_tid;
	fetch_transactions(s, true);
}

static void source_ready(struct neo_conn *conn, void *arg)
{
	struct storage *s = arg;
	struct replication *r = s->replication;
	struct neo_request_identification req;

	storage_peer_identification(s, &req);
	/* as upstream: to a storage of the upstream cluster, without id and
	 * under that cluster's name */
	if (r && r->backup_pass && r->partition >= 0 && r->backup[r->partition].upstream) {
		req.uuid.has = false;
		req.cluster_name = neo_bin_str(r->upstream_name);
	}
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 30000, source_identified, s);
}

static void source_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg);

static void source_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct storage *s = arg;
	struct replication *r = s->replication;

	if (r && conn == r->kept)
		r->kept = NULL;		/* idle: nothing to abort */
	if (r && conn == r->source) {
		r->source = NULL;
		replication_abort(s, reason);
	}
}

static const struct neo_conn_callbacks source_callbacks = {
	.on_ready = source_ready,
	.on_packet = source_packet,
	.on_close = source_closed,
};

static void add_transaction(struct storage *s, uint32_t partition,
			    const struct neo_add_transaction *add)
{
	struct neo_trans trans = { .partition = partition, .tid = add->tid, .ttid = add->ttid,
				   .packed = add->packed };
	uint8_t *oids = neo_malloc((size_t)add->oids.count * 8 + 1);
	int rc;

	if (oids == NULL) {
		replication_abort(s, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < add->oids.count; i++)
		neo_p64_write(add->oids.items[i], oids + 8 * i);
	trans.oids = (struct neo_bytes){ oids, (size_t)add->oids.count * 8 };
	trans.user = (struct neo_bytes){ add->user.data, add->user.size };
	trans.description = (struct neo_bytes){ add->description.data, add->description.size };
	trans.extension = (struct neo_bytes){ add->extension.data, add->extension.size };
	rc = s->be->trans_put(s->db, &trans, false);
	/* Already here: the source sends what lies past the end of the
	 * list we sent when our chunk ended earlier than its own. */
	if (rc == NEO_BACKEND_EDUP)
		rc = NEO_BACKEND_OK;
	else if (rc == NEO_BACKEND_OK && add->pack.has)
		rc = storage_pack_order_replicated(s, partition, add->tid, &add->pack.v);
	storage_db_failed(s, rc, "replicating a transaction");
	neo_free(oids);
}

static void add_object(struct storage *s, uint32_t partition, const struct neo_add_object *add)
{
	struct neo_obj_row row = { .partition = partition, .oid = add->oid, .tid = add->serial };
	uint64_t data_id;
	int rc;

	if (add->data.size && add->checksum.size == 20) {
		if (storage_db_failed(s, s->be->data_put(s->db, row.partition, add->checksum.data,
					(uint8_t)add->compression,
					(struct neo_bytes){ add->data.data, add->data.size },
					&data_id), "replicating data"))
			return;
		row.data_id = (struct neo_opt_id){ true, data_id };
	} else if (add->data_serial.has) {
		/* an undo pointer to a revision the source packed away: none */
		rc = s->be->obj_data_id(s->db, row.partition, add->oid, add->data_serial.v,
					&row.data_id);
		if (rc != NEO_BACKEND_NOTFOUND
		    && storage_db_failed(s, rc, "finding an undone revision's data"))
			return;
	}
	row.value_tid = (struct neo_opt_id){ add->data_serial.has, add->data_serial.v };
	rc = s->be->obj_put(s->db, &row, 1, false);
	if (rc != NEO_BACKEND_EDUP)	/* already here: see add_transaction */
		storage_db_failed(s, rc, "replicating an object");
}

/* The source's notifications, for the partition being replicated. */
void storage_source_transaction(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	struct replication *r = s->replication;

	const struct neo_add_transaction *add = pkt->args;

	if (r != NULL && conn == r->source && r->partition >= 0) {
		add_transaction(s, (uint32_t)r->partition, add);
		neo_metric_inc(s->metrics.replicated_transactions);
		r->bytes += add->user.size + add->description.size + add->extension.size
			    + 8 * (uint64_t)add->oids.count;
		(void)neo_metric_add(s->metrics.replicated_bytes, NULL,
				     (double)add->user.size + add->description.size
				     + add->extension.size + 8.0 * add->oids.count);
	}
}

void storage_source_object(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	struct replication *r = s->replication;

	const struct neo_add_object *add = pkt->args;

	if (r != NULL && conn == r->source && r->partition >= 0) {
		add_object(s, (uint32_t)r->partition, add);
		r->bytes += add->data.size;
		(void)neo_metric_add(s->metrics.replicated_bytes, NULL, (double)add->data.size);
	}
}

static void source_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct storage *s = arg;

	/* As upstream, the source may use this connection for its own
	 * requests (it replicates from or checks against us over it). */
	if (!s->route(s, STORAGE_FROM_SOURCE | STORAGE_FROM_STORAGE, conn, pkt)
	    && !neo_packet_is_answer(pkt->code))
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "unexpected packet");
}

void storage_replication_conn_closed(struct storage *s, struct neo_conn *conn, const char *reason)
{
	source_closed(conn, reason, s);
}

bool storage_replication_uses(const struct storage *s, const struct neo_conn *conn)
{
	return s->replication && s->replication->source == conn;
}

/* A running storage with a readable cell of the partition. */
static struct neo_node *pick_source(struct storage *s, uint32_t partition)
{
	const struct neo_pt_cells *row = &s->pt.rows[partition];
	uint32_t start = (uint32_t)rand();

	for (uint32_t k = 0; k < row->count; k++) {
		const struct neo_pt_cell *cell = &row->cells[(start + k) % row->count];
		struct neo_node *node = neo_nodes_by_nid(&s->nodes, cell->nid);

		if (cell->nid != s->nid && neo_cell_readable(cell->state) && node
		    && node->state == NEO_NODE_RUNNING && node->has_address)
			return node;
	}
	return NULL;
}

static bool id_in(const struct neo_id_list *list, uint64_t id)
{
	for (uint32_t i = 0; i < list->count; i++)
		if (list->ids[i] == id)
			return true;
	return false;
}

static void ask_unfinished(struct storage *s);

static void answered_unfinished(struct neo_conn *conn, enum neo_ask_status status,
				struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct replication *r = s->replication;
	const struct neo_answer_unfinished_transactions *unfinished;
	uint64_t max_ttid = 0;

	(void)conn;
	if (r == NULL)
		return;
	r->asking = false;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_UNFINISHED_TRANSACTIONS) {
		for (uint32_t i = 0; i < r->part_count; i++)
			if (r->parts[i].phase == REP_ASKED)
				r->parts[i].phase = REP_ASK;
		schedule(r->retry, 1000);
		return;
	}
	unfinished = answer->args;
	for (uint32_t i = 0; i < unfinished->ttids.count; i++) {
		uint64_t ttid = unfinished->ttids.items[i];

		if (ttid > max_ttid)
			max_ttid = ttid;
		if (!id_in(&r->unfinished, ttid) && neo_id_list_add(&r->unfinished, ttid) < 0) {
			/* a forgotten ttid could let a cell be declared up to
			 * date too early: better stop */
			neo_log(NEO_LOG_ERROR, "out of memory while replicating: stopping");
			storage_exit(s, 1);
			return;
		}
	}
	for (uint32_t i = 0; i < r->part_count; i++) {
		struct rep_partition *p = &r->parts[i];

		if (p->phase != REP_ASKED)
			continue;
		p->phase = REP_TRACKED;
		p->waiting = unfinished->ttids.count > 0;
		p->max_ttid = max_ttid;
		p->has_target = true;
		p->target = unfinished->max_tid;
	}
	storage_metrics_tid(s, unfinished->max_tid);
	ask_unfinished(s);
	replication_next(s);
}

/* Asks the master which transactions are unfinished, for the cells that
 * became OUT_OF_DATE since the last answer. */
static void ask_unfinished(struct storage *s)
{
	struct replication *r = s->replication;
	struct neo_ask_unfinished_transactions ask = { 0 };

	if (r->asking || s->master_conn == NULL)
		return;
	ask.offsets.items = neo_calloc(r->part_count + 1, sizeof *ask.offsets.items);
	if (ask.offsets.items == NULL)
		return;
	for (uint32_t i = 0; i < r->part_count; i++)
		if (r->parts[i].phase == REP_ASK)
			ask.offsets.items[ask.offsets.count++] = i;
	if (ask.offsets.count
	    && neo_conn_ask(s->master_conn, NEO_ASK_UNFINISHED_TRANSACTIONS, &ask, 0,
			    answered_unfinished, s) >= 0) {
		r->asking = true;
		for (uint32_t k = 0; k < ask.offsets.count; k++)
			r->parts[ask.offsets.items[k]].phase = REP_ASKED;
	}
	neo_free(ask.offsets.items);
}

static struct neo_node *node_at(struct storage *s, const struct neo_address *address)
{
	for (size_t i = 0; i < s->nodes.count; i++) {
		struct neo_node *node = s->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->has_address
		    && node->address.port == address->port
		    && strcmp(node->address.host, address->host) == 0)
			return node;
	}
	return NULL;
}

/* As upstream: the backup order of the partition furthest behind. */
static void backup_next_pass(struct storage *s)
{
	struct replication *r = s->replication;
	int64_t chosen = -1;
	struct rep_backup *b;
	struct neo_node *node;
	char err[256];

	if (!s->backup_mode)
		return;
	for (uint32_t i = 0; i < r->part_count; i++)
		if (r->backup[i].due && storage_readable(s, i)
		    && (chosen < 0 || r->backup[i].next < r->backup[chosen].next))
			chosen = i;
	if (chosen < 0)
		return;
	b = &r->backup[chosen];
	b->due = false;
	r->partition = chosen;
	r->backup_pass = true;
	r->max_tid = b->target;
	neo_log(NEO_LOG_DEBUG, "backup: partition %" PRId64 " from %016" PRIx64 " up to %016"
		PRIx64 " from %s:%u", chosen, b->next, b->target, b->source.host, b->source.port);
	r->source = NULL;
	if (r->kept && r->kept_upstream == b->upstream && r->kept_address.port == b->source.port
	    && strcmp(r->kept_address.host, b->source.host) == 0) {
		/* the last pass's connection, identified already */
		r->source = r->kept;
		r->kept = NULL;
		r->source_borrowed = false;
		r->first_tid = b->next;
		r->next_tid = r->first_tid;
		fetch_transactions(s, true);
		return;
	}
	if (r->kept) {
		struct neo_conn *kept = r->kept;

		r->kept = NULL;
		neo_conn_close(kept, "another source");
	}
	if (!b->upstream && (node = node_at(s, &b->source)) != NULL)
		r->source = storage_peer_storage_conn(s, node->nid);
	r->source_borrowed = r->source != NULL;
	if (r->source_borrowed) {
		r->first_tid = b->next;
		r->next_tid = r->first_tid;
		fetch_transactions(s, true);
		return;
	}
	r->source = neo_conn_connect(s->base, &b->source, s->ssl, &source_callbacks, s, err,
				     sizeof err);
	if (r->source == NULL)
		replication_abort(s, err);
}

/* The storage's backup tid (upstream's getBackupTID): what every
 * readable cell of ours holds. */
static uint64_t backup_tid_of(struct storage *s)
{
	struct replication *r = s->replication;
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; i < r->part_count; i++)
		if (storage_readable(s, i) && r->backup[i].next < next)
			next = r->backup[i].next;
	if (next == UINT64_MAX || next == 0)
		return s->backup_tid;
	return next - 1;
}

/* Persists the storage's backup tid when it moved (as upstream's
 * updateBackupTID). */
static void backup_tid_update(struct storage *s)
{
	uint64_t tid = backup_tid_of(s);
	int rc;

	if (!s->backup_mode || tid == s->backup_tid)
		return;
	rc = storage_config_set_tid(s, "backup_tid", tid, true) < 0
		     ? NEO_BACKEND_EIO : s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	if (!storage_db_failed(s, rc, "saving the backup tid"))
		s->backup_tid = tid;
}

static void backup_pass_done(struct storage *s)
{
	struct replication *r = s->replication;
	uint32_t partition = (uint32_t)r->partition;
	struct rep_backup *b = &r->backup[partition];
	uint64_t tid = r->max_tid;

	if (storage_db_failed(s, s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC),
			      "saving a backup pass"))
		return;
	if (tid + 1 > b->next)
		b->next = tid + 1;
	r->partition = -1;
	r->backup_pass = false;
	if (r->source && !r->source_borrowed && r->kept == NULL) {
		r->kept = r->source;
		r->kept_address = b->source;
		r->kept_upstream = b->upstream;
		r->source = NULL;
	}
	close_source(r, "backup pass done");
	backup_tid_update(s);
	storage_pack_backup_moved(s);
	if (s->master_conn)
		neo_conn_notify(s->master_conn, NEO_NOTIFY_REPLICATION_DONE,
				&(struct neo_notify_replication_done){ .partition = partition,
								       .tid = tid });
	replication_next(s);
}

bool storage_replication_packable(const struct storage *s, uint32_t partition, uint64_t id)
{
	const struct replication *r = s->replication;

	if (!s->backup_mode)
		return true;
	/* as upstream: the pass that fetches past the order must be over */
	return r && partition < r->part_count && r->backup[partition].next > id;
}

void storage_replication_backup_start(struct storage *s)
{
	struct replication *r = replication_get(s);

	if (r == NULL)
		return;
	for (uint32_t i = 0; i < r->part_count; i++)
		if (r->backup[i].next == 0 || r->backup[i].next < s->backup_tid + 1)
			r->backup[i].next = s->backup_tid + 1;
}

/* Replicate, from the master (upstream's replicator.backup): partitions
 * with a source replicate from it up to tid; those without had nothing
 * new up to tid. */
void storage_replicate_order(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_replicate *order = pkt->args;
	struct replication *r;
	bool moved = false;

	(void)conn;
	if (!s->operational || (r = replication_get(s)) == NULL)
		return;
	if (order->upstream_name.size && order->upstream_name.size < sizeof r->upstream_name) {
		memcpy(r->upstream_name, order->upstream_name.data, order->upstream_name.size);
		r->upstream_name[order->upstream_name.size] = '\0';
	}
	for (uint32_t i = 0; i < order->sources.count; i++) {
		int64_t p = order->sources.keys[i];
		struct rep_backup *b;

		if (p < 0 || p >= r->part_count)
			continue;
		b = &r->backup[p];
		if (order->sources.values[i].has) {
			if (!neo_address_from_wire(&order->sources.values[i].v, &b->source))
				continue;
			b->due = true;
			b->target = order->tid;
			b->upstream = order->upstream_name.size != 0;
		} else if (!(r->backup_pass && r->partition == p) && !b->due
			   && b->next < order->tid + 1) {
			/* as upstream: nothing to do while replicating it */
			b->next = order->tid + 1;
			moved = true;
		}
	}
	if (moved) {
		backup_tid_update(s);
		storage_pack_backup_moved(s);
	}
	replication_next(s);
}

/* Starts a pass on a partition that has one due, preferring those with no
 * transaction left to wait for. */
static void replication_next(struct storage *s)
{
	struct replication *r = s->replication;
	int64_t chosen = -1;
	struct neo_node *source = NULL;
	char err[256];

	if (r == NULL || !s->operational || r->partition >= 0 || s->master_conn == NULL)
		return;
	for (uint32_t i = 0; i < r->part_count; i++) {
		struct rep_partition *p = &r->parts[i];
		struct neo_node *node;

		if (p->phase != REP_TRACKED || !p->has_target)
			continue;
		if ((node = pick_source(s, i)) == NULL)
			continue;
		if (chosen < 0 || (r->parts[chosen].waiting && !p->waiting)) {
			chosen = i;
			source = node;
		}
	}
	if (chosen < 0) {
		backup_next_pass(s);
		return;
	}
	r->partition = chosen;
	r->max_tid = r->parts[chosen].target;
	r->parts[chosen].has_target = false;
	neo_log(NEO_LOG_INFO, "replicating partition %" PRId64 " up to %016" PRIx64 " from %s:%u",
		chosen, r->max_tid, source->address.host, source->address.port);
	/* As upstream: over the source's connection to us if it has one. */
	r->source = storage_peer_storage_conn(s, source->nid);
	r->source_borrowed = r->source != NULL;
	if (r->source_borrowed) {
		r->first_tid = pass_first_tid(s);
		r->next_tid = r->first_tid;
		fetch_transactions(s, true);
		return;
	}
	r->source = neo_conn_connect(s->base, &source->address, s->ssl, &source_callbacks, s,
				     err, sizeof err);
	if (r->source == NULL)
		replication_abort(s, err);
}

static struct replication *replication_get(struct storage *s)
{
	struct replication *r = s->replication;

	if (r && r->part_count != s->pt.num_partitions) {
		storage_replication_stop(s);
		r = NULL;
	}
	if (r)
		return r;
	r = neo_calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->parts = neo_calloc(s->pt.num_partitions + 1, sizeof *r->parts);
	r->backup = neo_calloc(s->pt.num_partitions + 1, sizeof *r->backup);
	r->retry = evtimer_new(s->base, retry_tick, s);
	r->drain = evtimer_new(s->base, drain_tick, s);
	if (r->parts == NULL || r->backup == NULL || r->retry == NULL || r->drain == NULL) {
		s->replication = r;
		storage_replication_stop(s);
		return NULL;
	}
	r->part_count = s->pt.num_partitions;
	r->partition = -1;
	s->replication = r;
	return r;
}

void storage_replication_update(struct storage *s)
{
	struct replication *r;

	if (!s->operational || s->master_conn == NULL)
		return;
	if ((r = replication_get(s)) == NULL) {
		neo_log(NEO_LOG_ERROR, "out of memory: replication postponed");
		return;
	}
	for (uint32_t i = 0; i < r->part_count; i++) {
		struct rep_partition *p = &r->parts[i];
		bool outdated = storage_cell_state(s, i) == NEO_CELL_OUT_OF_DATE;

		if (outdated && p->phase == REP_IDLE) {
			p->phase = REP_ASK;
		} else if (!outdated && p->phase != REP_IDLE) {
			/* readable now, or no longer ours; in backup mode an
			 * OUT_OF_DATE cell caught up to the backup tid */
			if (p->done_tid && r->backup[i].next < p->done_tid + 1)
				r->backup[i].next = p->done_tid + 1;
			memset(p, 0, sizeof *p);
			if (r->partition == (int64_t)i && !r->backup_pass) {
				r->partition = -1;
				close_source(r, "partition no longer replicated");
			}
		}
	}
	ask_unfinished(s);
	replication_next(s);
	drain_check(s);
}

void storage_replication_txn_finished(struct storage *s, uint64_t ttid, bool committed,
				      uint64_t max_tid)
{
	struct replication *r = s->replication;
	uint64_t min_ttid = UINT64_MAX;
	bool found = false;

	if (r == NULL)
		return;
	for (uint32_t i = 0; i < r->unfinished.count; i++)
		if (r->unfinished.ids[i] == ttid) {
			r->unfinished.ids[i] = r->unfinished.ids[--r->unfinished.count];
			found = true;
			break;
		}
	if (!found)
		return;
	for (uint32_t i = 0; i < r->unfinished.count; i++)
		if (r->unfinished.ids[i] < min_ttid)
			min_ttid = r->unfinished.ids[i];
	for (uint32_t i = 0; i < r->part_count; i++) {
		struct rep_partition *p = &r->parts[i];

		if (p->phase != REP_TRACKED || !p->waiting)
			continue;
		/* As upstream: what committed may have missed us: one pass more,
		 * up to it. */
		if (committed)
			storage_metrics_tid(s, max_tid);
		if (committed && (!p->has_target || max_tid > p->target)) {
			p->has_target = true;
			p->target = max_tid;
		}
		if (p->max_ttid < min_ttid) {
			p->waiting = false;
			if (!p->has_target && r->partition != (int64_t)i)
				partition_complete(s, i);	/* the rest aborted */
		}
	}
	replication_next(s);
}

void storage_replication_stop(struct storage *s)
{
	struct replication *r = s->replication;

	if (r == NULL)
		return;
	s->replication = NULL;
	if (r->source && !r->source_borrowed)
		neo_conn_abort(r->source, "replication stopped");
	if (r->kept)
		neo_conn_abort(r->kept, "replication stopped");
	if (r->retry)
		event_free(r->retry);
	if (r->drain)
		event_free(r->drain);
	neo_id_list_free(&r->unfinished);
	neo_free(r->parts);
	neo_free(r->backup);
	neo_free(r);
}

/* --- Source side ---------------------------------------------------------- */

static bool serve_refused(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt,
			  int64_t partition)
{
	if (partition >= 0 && partition < s->pt.num_partitions
	    && storage_readable(s, (uint32_t)partition))
		return false;
	storage_send_error(conn, pkt->msg_id, NEO_ERROR_REPLICATION_ERROR,
			   "partition %" PRId64 " not readable", partition);
	return true;
}

static bool id_listed(const struct neo_list_p64 *list, uint64_t id, bool *used)
{
	for (uint32_t i = 0; i < list->count; i++)
		if (list->items[i] == id) {
			used[i] = true;
			return true;
		}
	return false;
}

void storage_serve_transactions(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_fetch_transactions *ask = pkt->args;
	struct neo_answer_fetch_transactions answer = { 0 };
	struct neo_id_list tids = { 0 }, deleted = { 0 };
	bool *used;

	if (serve_refused(s, conn, pkt, ask->partition))
		return;
	if (storage_tid_locked_upto(s, ask->max_tid)) {
		storage_delay(s, conn, pkt);
		return;
	}
	/* as upstream: asked on the first request of a pass, our completed
	 * pack of the partition */
	if (ask->ask_pack_info) {
		struct neo_opt_id packed;

		if (storage_db_failed(s, storage_pack_completed_of(s, (uint32_t)ask->partition,
								   &packed),
				      "reading the completed pack"))
			return;
		answer.completed_pack = (struct neo_opt_p64){ packed.has, packed.id };
	}
	used = neo_calloc(ask->tids_we_have.count + 1, sizeof *used);
	if (used == NULL)
		return;
	s->be->tid_range(s->db, (uint32_t)ask->partition, ask->min_tid, ask->max_tid,
			 (uint64_t)ask->length + 1, neo_id_list_add, &tids);
	if (tids.count > (uint32_t)ask->length)
		answer.next_tid = (struct neo_opt_p64){ true, tids.ids[--tids.count] };
	for (uint32_t i = 0; i < tids.count; i++) {
		struct neo_trans trans = { 0 };
		struct neo_add_transaction add = { .tid = tids.ids[i] };
		struct neo_id_list oids = { 0 };
		uint64_t *pack_oids = NULL;

		if (id_listed(&ask->tids_we_have, tids.ids[i], used))
			continue;
		/* as upstream: a pack transaction's order goes with it (read
		 * first: trans_get's output lasts until the next call) */
		if (storage_db_failed(s, storage_pack_order_of(s, (uint32_t)ask->partition,
							       tids.ids[i], &add.pack, &pack_oids),
				      "reading a pack order")) {
			neo_free(pack_oids);
			goto done;
		}
		if (s->be->trans_get(s->db, (uint32_t)ask->partition, tids.ids[i], false, &trans)
		    != NEO_BACKEND_OK) {
			neo_free(pack_oids);
			continue;
		}
		for (size_t k = 0; k + 8 <= trans.oids.size; k += 8)
			if (neo_id_list_add(&oids, neo_p64_read(trans.oids.data + k)) < 0) {
				neo_id_list_free(&oids);
				neo_free(pack_oids);
				goto out_of_memory;
			}
		add.user = (struct neo_bin){ trans.user.data, (uint32_t)trans.user.size };
		add.description = (struct neo_bin){ trans.description.data,
						     (uint32_t)trans.description.size };
		add.extension = (struct neo_bin){ trans.extension.data, (uint32_t)trans.extension.size };
		add.packed = trans.packed;
		add.ttid = trans.ttid;
		add.oids = (struct neo_list_p64){ oids.ids, oids.count };
		/* as upstream: with the request's msg_id, without which an
		 * upstream replicator ignores it */
		neo_conn_notify_for(conn, pkt->msg_id, NEO_ADD_TRANSACTION, &add);
		neo_id_list_free(&oids);
		neo_free(pack_oids);
	}
	/* What the asker has and we do not: to delete. */
	for (uint32_t i = 0; i < ask->tids_we_have.count; i++)
		if (!used[i] && neo_id_list_add(&deleted, ask->tids_we_have.items[i]) < 0)
			goto out_of_memory;
	answer.tids_to_delete = (struct neo_list_p64){ deleted.ids, deleted.count };
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_FETCH_TRANSACTIONS, &answer);
	goto done;
out_of_memory:
	neo_log(NEO_LOG_ERROR, "out of memory serving transactions: closing the connection");
	neo_conn_close(conn, "out of memory");
done:
	neo_id_list_free(&deleted);
	neo_id_list_free(&tids);
	neo_free(used);
}

struct pair_list {
	uint64_t *tids, *oids;
	uint32_t count;
	size_t capacity;
};

static int pair_collect(void *ctx, uint64_t tid, uint64_t oid)
{
	struct pair_list *list = ctx;

	if (storage_grow_pair(&list->tids, sizeof *list->tids, &list->oids, sizeof *list->oids,
			      &list->capacity, (size_t)list->count + 1) < 0)
		return -1;
	list->tids[list->count] = tid;
	list->oids[list->count] = oid;
	list->count++;
	return 0;
}

/* Whether the asker has (serial, oid); marks it so it is not deleted. */
static bool object_listed(const struct neo_map_p64_list_p64 *have, bool **used, uint64_t serial,
			  uint64_t oid)
{
	for (uint32_t i = 0; i < have->count; i++)
		if (have->keys[i] == serial)
			return id_listed(&have->values[i], oid, used[i]);
	return false;
}

void storage_serve_objects(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_fetch_objects *ask = pkt->args;
	struct neo_answer_fetch_objects answer = { 0 };
	struct pair_list rows = { 0 };
	struct object_map remove = { 0 };
	bool **used = neo_calloc(ask->objects_we_have.count + 1, sizeof *used);

	if (used == NULL || serve_refused(s, conn, pkt, ask->partition)) {
		neo_free(used);
		return;
	}
	/* Objects of a transaction locked here are not in place until its
	 * unlock: the asker would miss them (or be told to delete them). */
	if (storage_tid_locked_upto(s, ask->max_tid)) {
		neo_free(used);
		storage_delay(s, conn, pkt);
		return;
	}
	for (uint32_t i = 0; i < ask->objects_we_have.count; i++)
		used[i] = neo_calloc(ask->objects_we_have.values[i].count + 1, sizeof **used);
	s->be->obj_range(s->db, (uint32_t)ask->partition, ask->min_tid, ask->min_oid, ask->max_tid,
			 (uint64_t)ask->length + 1, pair_collect, &rows);
	if (rows.count > (uint32_t)ask->length) {
		rows.count--;
		answer.next_tid = (struct neo_opt_p64){ true, rows.tids[rows.count] };
		answer.next_oid = (struct neo_opt_p64){ true, rows.oids[rows.count] };
	}
	for (uint32_t i = 0; i < rows.count; i++) {
		struct neo_object object = { 0 };
		struct neo_add_object add = { .oid = rows.oids[i], .serial = rows.tids[i] };
		static const uint8_t zero[20];

		if (object_listed(&ask->objects_we_have, used, rows.tids[i], rows.oids[i]))
			continue;
		if (s->be->obj_get(s->db, (uint32_t)ask->partition, rows.oids[i], NEO_BACKEND_OBJ_EXACT,
				   rows.tids[i], &object) != NEO_BACKEND_OK)
			continue;
		add.compression = object.has_data ? object.compression : 0;
		add.checksum = (struct neo_bin){ object.has_data ? object.checksum : zero, 20 };
		add.data = (struct neo_bin){ object.has_data ? object.data.data : NULL,
					     object.has_data ? (uint32_t)object.data.size : 0 };
		add.data_serial = (struct neo_opt_p64){ object.data_serial.has, object.data_serial.id };
		neo_conn_notify_for(conn, pkt->msg_id, NEO_ADD_OBJECT, &add);	/* as above */
	}
	for (uint32_t i = 0; i < ask->objects_we_have.count; i++)
		for (uint32_t k = 0; k < ask->objects_we_have.values[i].count; k++)
			if (used[i] && !used[i][k])
				object_map_add(&remove, ask->objects_we_have.keys[i],
					       ask->objects_we_have.values[i].items[k]);
	answer.objects_to_delete = object_map_wire(&remove);
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_FETCH_OBJECTS, &answer);
	object_map_free(&remove);
	for (uint32_t i = 0; i < ask->objects_we_have.count; i++)
		neo_free(used[i]);
	neo_free(used);
	neo_free(rows.tids);
	neo_free(rows.oids);
}

/* --- Progress (ours: AskProgress, storage/progress.c) -------------------- */

static uint32_t own_out_of_date(struct storage *s)
{
	uint32_t n = 0;

	for (uint32_t p = 0; p < s->pt.num_partitions; p++)
		n += storage_cell_state(s, p) == NEO_CELL_OUT_OF_DATE;
	return n;
}

/* How far the current pass is through its tids: transactions first, then
 * objects, each over the same tid range. */
static double pass_fraction(const struct replication *r)
{
	double span, within;

	if (r->max_tid <= r->first_tid || r->next_tid <= r->first_tid)
		return r->fetching_objects ? 0.5 : 0;
	span = neo_tid_to_time(r->max_tid) - neo_tid_to_time(r->first_tid);
	within = span > 0 ? (neo_tid_to_time(r->next_tid) - neo_tid_to_time(r->first_tid)) / span
			  : 1;
	within = within < 0 ? 0 : within > 1 ? 1 : within;
	return (r->fetching_objects ? 0.5 : 0) + within / 2;
}

/* A catch-up of our OUT_OF_DATE cells (not backup passes, which have
 * their own lag): cells done of those seen behind since it began, the
 * partition being replicated, bytes replicated, pace and time left. */
bool storage_replication_progress(struct storage *s, struct neo_progress *out)
{
	struct replication *r = s->replication;
	uint32_t behind = own_out_of_date(s), total;
	double now = storage_metrics_clock(), elapsed, fraction;

	if (r == NULL || behind == 0) {
		if (r != NULL)
			r->catchup_since = 0;
		return false;
	}
	if (r->catchup_since == 0) {
		r->catchup_since = now;
		r->bytes_at_since = r->bytes;
		r->cells_at_since = 0;
	}
	if (behind > r->cells_at_since)
		r->cells_at_since = behind;
	if (r->backup_pass)
		return false;
	total = r->cells_at_since;
	elapsed = now - r->catchup_since;
	fraction = (total - behind + (r->partition >= 0 ? pass_fraction(r) : 0)) / total;
	memset(out, 0, sizeof *out);
	out->task = neo_bin_str("replicate");
	out->nid = s->nid;
	out->phase = neo_bin_str(r->partition < 0 ? "waiting"
				 : r->fetching_objects ? "objects" : "transactions");
	out->partition = (struct neo_opt_int){ r->partition >= 0, r->partition };
	out->done = (int64_t)(r->bytes - r->bytes_at_since);
	out->unit = neo_bin_str("bytes");
	out->count = total - behind;
	out->count_total = (struct neo_opt_int){ true, total };
	out->count_unit = neo_bin_str("partitions");
	out->rate = elapsed > 0 ? (double)out->done / elapsed : 0;
	if (fraction > 0.01 && elapsed > 0)
		out->left = (struct neo_opt_float){ true, elapsed * (1 - fraction) / fraction };
	return true;
}
