/*
 * storage/state.c - the helpers every file of the storage calls: the
 * persistent state (configuration keys, the partition table in the
 * database, own cells' states and replication progress) and error
 * answers.  A leaf: it calls the backend, cluster/, net/ and runtime/,
 * never another file of core/storage, so that any of them can call it.
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/tid.h"
#include "runtime/log.h"

void storage_send_error(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
			const char *fmt, ...)
{
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	neo_conn_answer_error(conn, msg_id, code, message);
}

/* --- Identification to another storage ----------------------------------- */

void storage_peer_identification(const struct storage *s, struct neo_request_identification *req)
{
	const struct neo_node *self = s->nid ? neo_nodes_by_nid(&s->nodes, s->nid) : NULL;

	neo_identification_init(req, NEO_NODE_STORAGE, s->nid, &s->address, s->cluster);
	/* As upstream (replicator.py, checker.py): the id_timestamp the
	 * master gave us in its node list, by which the peer tells this
	 * incarnation of us from an older one (and an upstream peer fails
	 * on a nil one: core/cluster/cluster.md section 1.2); extra empty. */
	if (self && self->has_id_timestamp) {
		req->id_timestamp.has = true;
		req->id_timestamp.v = self->id_timestamp;
	}
}

/* When two storages connected to each other at once, the connection kept
 * is the one the storage with the greater id opened (as upstream, where
 * the smaller one lets the greater one's replace its own). */
bool storage_peer_kept(const struct storage *s, const struct storage_peer *peer)
{
	return peer->outgoing == (s->nid > peer->nid);
}

static struct neo_conn *pick_storage_conn(struct storage *s, int32_t nid, bool identified_only,
					  bool *identified)
{
	size_t index = 0;
	uint64_t key;
	void *value;
	struct neo_conn *best = NULL;
	int best_score = -1;

	*identified = false;
	while (nid && neo_idmap_next(&s->peers, &index, &key, &value)) {
		const struct storage_peer *peer = value;
		int score;

		if (peer->type != NEO_NODE_STORAGE || peer->nid != nid
		    || !(peer->identified || (peer->outgoing && !identified_only)))
			continue;
		/* the kept one first (even still identifying), then any
		 * identified one */
		score = (storage_peer_kept(s, peer) ? 2 : 0) + (peer->identified ? 1 : 0);
		if (score > best_score) {
			best_score = score;
			best = peer->conn;
			*identified = peer->identified;
		}
	}
	return best;
}

struct neo_conn *storage_peer_storage_any(struct storage *s, int32_t nid, bool *identified)
{
	return pick_storage_conn(s, nid, false, identified);
}

struct neo_conn *storage_peer_storage_conn(struct storage *s, int32_t nid)
{
	bool identified;

	return pick_storage_conn(s, nid, true, &identified);
}

/* --- Persistent state ----------------------------------------------------- */

int storage_config_get_u64(struct storage *s, const char *key, uint64_t *value)
{
	struct neo_bytes bytes = { 0 };
	char text[32];

	if (s->be->config_get(s->db, key, &bytes) != NEO_BACKEND_OK || bytes.size == 0
	    || bytes.size >= sizeof text)
		return -1;
	memcpy(text, bytes.data, bytes.size);
	text[bytes.size] = '\0';
	*value = strtoull(text, NULL, 10);
	return 0;
}

int storage_config_set_u64(struct storage *s, const char *key, uint64_t value, bool present)
{
	char text[32];
	struct neo_bytes bytes;

	snprintf(text, sizeof text, "%" PRIu64, value);
	bytes.data = (const uint8_t *)text;
	bytes.size = strlen(text);
	return s->be->config_set(s->db, key, present ? &bytes : NULL) == NEO_BACKEND_OK ? 0 : -1;
}

/*
 * As upstream: the tids kept as configuration keys (truncate_tid,
 * backup_tid) are the 8 bytes of the tid in hex, 16 characters, not
 * decimal (upstream reads them back as bytes: a decimal value would be a
 * wrong tid, or an error).  Our earlier versions wrote decimal, always
 * longer than 16 digits for a real tid: still read.
 */
int storage_config_get_tid(struct storage *s, const char *key, uint64_t *tid)
{
	struct neo_bytes bytes = { 0 };
	char text[32];
	char *end;

	if (s->be->config_get(s->db, key, &bytes) != NEO_BACKEND_OK || bytes.size == 0
	    || bytes.size >= sizeof text)
		return -1;
	memcpy(text, bytes.data, bytes.size);
	text[bytes.size] = '\0';
	*tid = strtoull(text, &end, bytes.size == 16 ? 16 : 10);
	return *end == '\0' ? 0 : -1;
}

int storage_config_set_tid(struct storage *s, const char *key, uint64_t tid, bool present)
{
	char text[32];
	struct neo_bytes bytes = { (const uint8_t *)text, 16 };

	snprintf(text, sizeof text, "%016" PRIx64, tid);
	return s->be->config_set(s->db, key, present ? &bytes : NULL) == NEO_BACKEND_OK ? 0 : -1;
}

int storage_cell_state(const struct storage *s, uint32_t partition)
{
	return neo_ptable_cell_state(&s->pt, partition, s->nid);
}

bool storage_readable(const struct storage *s, uint32_t partition)
{
	int state = storage_cell_state(s, partition);

	return state >= 0 && neo_cell_readable(state);
}

struct pt_load {
	struct neo_ptable *pt;
	uint32_t partitions;		/* greatest partition seen plus one */
};

static int count_pt_row(void *ctx, const struct neo_pt_row *row)
{
	struct pt_load *load = ctx;

	if (row->partition >= load->partitions)
		load->partitions = row->partition + 1;
	return 0;
}

static int load_pt_row(void *ctx, const struct neo_pt_row *row)
{
	struct pt_load *load = ctx;
	enum neo_cell_state state = row->tid < 0 ? (enum neo_cell_state)(-row->tid)
						 : NEO_CELL_OUT_OF_DATE;

	/* Only a row outside the stored table's size fails (memory running
	 * out stops the daemon first): the master's table replaces this one
	 * at identification anyway, so say so and go on. */
	if (neo_ptable_set_cell(load->pt, row->partition, row->nid, state) < 0)
		neo_log(NEO_LOG_WARNING, "stored partition table: cell of node %d in partition %u "
			"ignored (outside the table)", (int)row->nid, (unsigned)row->partition);
	return 0;
}

/*
 * As upstream (schema version 4): the number of partitions is not a
 * configuration key but the pt table's, its greatest partition plus one
 * (every partition has cells).  Our earlier versions stored it as the
 * key `partitions`, which upstream's migration to version 4 deletes: so
 * do we, with a log line (core/neo/backend.md section 9.1).
 */
void storage_load_pt(struct storage *s)
{
	uint64_t nr = 0, ptid = 0, old_np = 0;
	struct pt_load load = { &s->pt, 0 };

	if (storage_config_get_u64(s, "partitions", &old_np) == 0) {
		neo_log(NEO_LOG_INFO, "configuration key 'partitions' (%llu) removed: the number "
			"of partitions is the stored partition table's, as upstream",
			(unsigned long long)old_np);
		if (storage_config_set_u64(s, "partitions", 0, false) < 0
		    || s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC) != NEO_BACKEND_OK)
			neo_log(NEO_LOG_WARNING, "configuration key 'partitions' not removed");
	}
	storage_config_get_u64(s, "replicas", &nr);
	storage_config_get_u64(s, "ptid", &ptid);
	if (s->be->pt_scan(s->db, count_pt_row, &load) != NEO_BACKEND_OK)
		load.partitions = 0;
	if (neo_ptable_init(&s->pt, load.partitions, (uint32_t)nr) < 0) {
		neo_log(NEO_LOG_WARNING, "stored partition table (%u partitions) not loaded: "
			"the master's will be used", (unsigned)load.partitions);
		return;
	}
	if (load.partitions && s->be->pt_scan(s->db, load_pt_row, &load) == NEO_BACKEND_OK)
		s->pt.ptid = (int64_t)ptid;
}

struct own_tids {
	int32_t nid;
	uint32_t count;
	int64_t *tids;
};

static int take_own_tid(void *ctx, const struct neo_pt_row *row)
{
	struct own_tids *own = ctx;

	if (row->nid == own->nid && row->partition < own->count)
		own->tids[row->partition] = row->tid;
	return 0;
}

int64_t *storage_own_cell_tids(struct storage *s, uint32_t partitions)
{
	struct own_tids own = { s->nid, partitions, neo_calloc(partitions + 1, sizeof(int64_t)) };

	if (own.tids == NULL)
		return NULL;
	for (uint32_t p = 0; p < partitions; p++)
		own.tids[p] = STORAGE_NO_CELL;
	if (s->be->pt_scan(s->db, take_own_tid, &own) != NEO_BACKEND_OK) {
		neo_free(own.tids);
		return NULL;
	}
	return own.tids;
}

/*
 * As upstream: an own cell always has a pack id.  A readable one that is
 * new has never been packed (0); one that is to be replicated starts at
 * the last pack order approved that this node heard of, since replication
 * brings the source's completed pack, which only ever lowers it
 * (storage_pack_replicated): so only packs the source has not done are
 * redone here.
 */
struct neo_opt_id storage_new_cell_pack(const struct storage *s, enum neo_cell_state state)
{
	bool readable = state == NEO_CELL_UP_TO_DATE || state == NEO_CELL_FEEDING;

	return (struct neo_opt_id){ true, readable ? 0 : s->last_pack_id };
}

/*
 * The pt.tid of an own cell becoming (or staying) OUT_OF_DATE, given the
 * stored one: as upstream, it says up to which tid the cell is complete,
 * so that a storage back from a short absence replicates only what it
 * missed.  Already out of date: its progress stays.  Readable until now:
 * the greatest tid it holds for the partition.  New or corrupted: 0, from
 * scratch.
 */
int64_t storage_outdated_cell_tid(struct storage *s, uint32_t partition, int64_t stored)
{
	uint64_t obj_tid = 0, oid = 0, trans_tid = 0;

	if (stored >= 0)
		return stored;
	if (stored != -(int64_t)NEO_CELL_UP_TO_DATE && stored != -(int64_t)NEO_CELL_FEEDING)
		return 0;
	if (s->be->last_obj_ids(s->db, partition, &obj_tid, &oid) != NEO_BACKEND_OK)
		obj_tid = 0;
	if (s->be->last_trans_tid(s->db, partition, NEO_MAX_TID, &trans_tid) != NEO_BACKEND_OK)
		trans_tid = 0;
	return (int64_t)(obj_tid > trans_tid ? obj_tid : trans_tid);
}

/* Writes the whole table (reset) or its current cells. */
int storage_persist_pt(struct storage *s, bool reset)
{
	size_t count = 0;
	struct neo_pt_row *rows;
	int64_t *own_tids;
	int rc;

	for (uint32_t p = 0; p < s->pt.num_partitions; p++)
		count += s->pt.rows[p].count;
	rows = neo_calloc(count + 1, sizeof *rows);
	if (rows == NULL)
		return -1;
	own_tids = storage_own_cell_tids(s, s->pt.num_partitions);
	if (own_tids == NULL) {
		neo_free(rows);
		return -1;
	}
	count = 0;
	for (uint32_t p = 0; p < s->pt.num_partitions; p++)
		for (uint32_t i = 0; i < s->pt.rows[p].count; i++) {
			const struct neo_pt_cell *cell = &s->pt.rows[p].cells[i];
			struct neo_pt_row *row = &rows[count++];

			row->partition = p;
			row->nid = cell->nid;
			row->tid = cell->nid == s->nid && cell->state == NEO_CELL_OUT_OF_DATE
					   ? storage_outdated_cell_tid(s, p, own_tids[p])
					   : -(int64_t)cell->state;
			if (cell->nid == s->nid)
				row->pack = storage_new_cell_pack(s, cell->state);
		}
	rc = s->be->pt_apply(s->db, rows, count, reset);
	neo_free(own_tids);
	neo_free(rows);
	/* as upstream: no key for the number of partitions (storage_load_pt) */
	if (rc != NEO_BACKEND_OK
	    || storage_config_set_u64(s, "replicas", s->pt.num_replicas, true) < 0
	    || storage_config_set_u64(s, "ptid", (uint64_t)s->pt.ptid, true) < 0)
		return -1;
	return s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK ? 0 : -1;
}

/* --- Stopping on a database failure ----------------------------------------- */

static void storage_quit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Leaves the loop soon, so that queued packets go out first. */
void storage_exit(struct storage *s, int status)
{
	struct timeval soon = { 0, 100000 };

	if (s->exiting)
		return;
	s->exiting = true;
	s->exit_status = status;
	event_base_once(s->base, -1, EV_TIMEOUT, storage_quit, s->base, &soon);
}

/* Cuts every connection at once: to its peers the node is gone, as if it
 * had crashed, so clients go on with the other cells and the master
 * outdates ours (an error answer would fail their transactions). */
static void drop_connections(struct storage *s, const char *why)
{
	size_t index = 0, count = 0;
	uint64_t key;
	void *value;
	struct neo_conn **conns = neo_calloc(s->peers.count + 2, sizeof *conns);

	if (conns == NULL)
		return;
	while (neo_idmap_next(&s->peers, &index, &key, &value))
		conns[count++] = ((struct storage_peer *)value)->conn;
	if (s->master_conn)
		conns[count++] = s->master_conn;
	for (size_t i = 0; i < count; i++)
		neo_conn_abort(conns[i], why);
	neo_free(conns);
}

/* A backend failure on a write (or STORAGE_ENOMEM in the middle of one):
 * committed data must never be lost, so the node stops rather than go on
 * with a database in doubt.  Writes that may find nothing to change pass
 * their rc through storage_write_rc first. */
int storage_write_rc(int rc)
{
	return rc == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : rc;
}

bool storage_db_failed(struct storage *s, int rc, const char *what)
{
	if (rc == NEO_BACKEND_OK)
		return false;
	if (rc == STORAGE_ENOMEM)
		neo_log(NEO_LOG_ERROR, "out of memory while %s", what);
	else
		neo_log(NEO_LOG_ERROR, "backend error while %s: %s", what, s->be->errmsg(s->db));
	if (rc == STORAGE_ENOMEM || rc == NEO_BACKEND_EIO || rc == NEO_BACKEND_ECORRUPT
	    || rc == NEO_BACKEND_ETRANSIENT) {
		if (!s->exiting)
			neo_log(NEO_LOG_ERROR, "stopping: %s", rc == STORAGE_ENOMEM
				? "what was half done is rolled back"
				: "the database cannot be trusted any more");
		s->be->rollback(s->db);
		storage_exit(s, 1);
		drop_connections(s, "database failure");
	}
	return true;
}

/* --- Pack orders ------------------------------------------------------------ */

int storage_pack_order_put(struct storage *s, uint32_t partition, struct neo_pack_order *order,
			   const struct neo_opt_list_p64 *oids)
{
	uint8_t *packed = NULL;
	int rc;

	if (oids->has) {
		packed = neo_malloc((size_t)oids->v.count * 8 + 1);
		if (packed == NULL)
			return STORAGE_ENOMEM;
		for (uint32_t i = 0; i < oids->v.count; i++)
			neo_p64_write(oids->v.items[i], packed + 8 * i);
		order->oids = (struct neo_bytes){ packed, (size_t)oids->v.count * 8 };
	}
	rc = s->be->pack_order_put(s->db, partition, order);
	order->oids = (struct neo_bytes){ NULL, 0 };
	neo_free(packed);
	return rc;
}
