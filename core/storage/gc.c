/*
 * storage/gc.c - a storage's part of pack's garbage collection
 * (core/cluster/cluster.md section 14.2): the primary master, which
 * holds the marks, asks; the storage reads and deletes its own rows.
 * Each request is one short backend pass over the oids or tids it names,
 * answered at once: memory is bounded by the request.
 *
 * - AskGCReferences: the strong persistent references (core/pickle/refs.h)
 *   of each oid's revision at the pack tid, or (future) of every revision
 *   after it, a blob object's chunks included (core/client/blobs.md).
 *   A record that is no pickle the scanner reads is an error:
 *   the master then abandons the collection rather than guess.
 * - AskGCSweep: every revision up to the pack tid of oids found
 *   unreachable goes, with the data nothing else uses.
 * - AskGCTransactions, AskGCRevisionsKept, AskGCDropTransactions: the
 *   transactions up to the pack tid with their oids, whether a revision
 *   survives the pack, and the deletion of transactions left empty (the
 *   others are flagged packed: undo stops there, as FileStorage's).
 * - AskGCSwept: the master records, at the end of a collection, which
 *   own cells it swept (config key gc_swept_<partition>: the last order
 *   whose garbage left them); the answer gives, per partition, that id
 *   (0 where none or no own cell), and gc_settled, the last approved
 *   order the master listed to this node (AskPackOrders lists an order
 *   only once its collection is over): from them a master finds the
 *   cells that missed a collection and the orders whose collection a
 *   restart interrupted (core/cluster/cluster.md section 14.3).
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "blob/record.h"
#include "pickle/refs.h"
#include "proto/codec.h"
#include "runtime/log.h"

#define GC_MAX_TRANSACTIONS 1000	/* per AskGCTransactions page */

/* The record as pickled: data, or its zlib inflation in *owned. */
static int record_bytes(const struct neo_object *object, uint8_t **owned, const uint8_t **data,
			size_t *size)
{
	*owned = NULL;
	*data = object->data.data;
	*size = object->data.size;
	if (object->compression == 0)
		return 0;
	if (object->compression != 1)
		return -1;
	for (size_t capacity = object->data.size * 4 + 64; capacity < (1u << 30); capacity *= 2) {
		uLongf length = capacity;
		int rc;

		*owned = neo_malloc(capacity);
		if (*owned == NULL)
			return -1;
		rc = uncompress(*owned, &length, object->data.data, object->data.size);
		if (rc == Z_OK) {
			*data = *owned;
			*size = length;
			return 0;
		}
		neo_free(*owned);
		*owned = NULL;
		if (rc != Z_BUF_ERROR)
			return -1;
	}
	return -1;
}

/*
 * Our clients keep a blob in ordinary records (core/client/blobs.md): the
 * blob object's record is its pickles followed by a manifest naming its
 * chunks, and a chunk is raw bytes.  The chunks of a reachable blob
 * object are reachable through it: they count among its references
 * (its pickles are read without the manifest), and a chunk refers to
 * nothing.
 */
static int blob_aware_refs(const uint8_t *data, size_t size, struct neo_id_list *refs)
{
	struct neo_blob_manifest manifest;
	int rc;

	if (neo_blob_is_chunk(data, size))
		return PICKLE_REFS_OK;
	if (!neo_blob_manifest_parse(data, size, &manifest))
		return pickle_refs_oids(data, size, neo_id_list_add, refs);
	rc = manifest.data_size ? pickle_refs_oids(data, manifest.data_size, neo_id_list_add, refs)
				: PICKLE_REFS_OK;
	for (uint32_t i = 0; rc == PICKLE_REFS_OK && i < manifest.count; i++)
		if (neo_id_list_add(refs, neo_blob_manifest_oid(&manifest, i)) < 0)
			rc = PICKLE_REFS_ENOMEM;
	return rc;
}

/* Appends the strong references of one revision to refs. */
static int revision_refs(const struct neo_object *object, struct neo_id_list *refs)
{
	uint8_t *owned;
	const uint8_t *data;
	size_t size;
	int rc;

	if (!object->has_data || object->data.size == 0)
		return 0;	/* a deletion, or an undone creation */
	if (record_bytes(object, &owned, &data, &size) < 0)
		return PICKLE_REFS_EINVAL;
	rc = blob_aware_refs(data, size, refs);
	neo_free(owned);
	return rc;
}

/* The references of oid at pack_tid, or of its revisions after it. */
static int oid_refs(struct storage *s, uint64_t oid, uint64_t pack_tid, bool future,
		    struct neo_id_list *refs, const char **why)
{
	uint32_t partition = neo_ptable_partition(&s->pt, oid);
	enum neo_backend_obj_at at = future ? NEO_BACKEND_OBJ_LATEST : NEO_BACKEND_OBJ_BEFORE;
	uint64_t tid = pack_tid + 1;

	*why = "backend error";
	if (!storage_readable(s, partition)) {
		*why = "partition not readable here";
		return -1;
	}
	for (;;) {
		struct neo_object object = { 0 };
		int rc = s->be->obj_get(s->db, partition, oid, at, tid, &object);

		if (rc == NEO_BACKEND_NOTFOUND)
			return 0;
		if (rc != NEO_BACKEND_OK)
			return -1;
		if (future && object.serial <= pack_tid)
			return 0;
		rc = revision_refs(&object, refs);
		if (rc != PICKLE_REFS_OK) {
			*why = rc == PICKLE_REFS_ENOMEM ? "out of memory" : "not a ZODB record";
			return -1;
		}
		if (!future)
			return 0;
		at = NEO_BACKEND_OBJ_BEFORE;
		tid = object.serial;
	}
}

void storage_gc_references(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_gc_references *req = pkt->args;
	struct neo_id_list refs = { 0 };
	struct neo_answer_gc_references answer;
	const char *why = NULL;

	for (uint32_t i = 0; i < req->oids.count; i++)
		if (oid_refs(s, req->oids.items[i], req->pack_tid, req->future, &refs, &why) < 0) {
			neo_log(NEO_LOG_WARNING, "GC: references of %016" PRIx64 " not read: %s",
				req->oids.items[i], why);
			storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY,
					   "references of %016" PRIx64 ": %s", req->oids.items[i],
					   why);
			neo_id_list_free(&refs);
			return;
		}
	answer.refs = (struct neo_list_p64){ refs.ids, refs.count };
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_GC_REFERENCES, &answer);
	neo_id_list_free(&refs);
}

/* Deletes every revision of oid up to pack_tid; *removed counts them. */
static int sweep_oid(struct storage *s, uint32_t partition, uint64_t oid, uint64_t pack_tid,
		     struct neo_id_list *data_ids, int64_t *removed)
{
	for (;;) {
		struct neo_object object = { 0 };
		struct neo_opt_id serial;
		int rc = s->be->obj_get(s->db, partition, oid, NEO_BACKEND_OBJ_BEFORE, pack_tid + 1,
					&object);

		if (rc == NEO_BACKEND_NOTFOUND)
			return NEO_BACKEND_OK;
		if (rc != NEO_BACKEND_OK)
			return rc;
		serial = (struct neo_opt_id){ true, object.serial };
		rc = s->be->obj_delete(s->db, partition, oid, &serial, neo_id_list_add, data_ids);
		if (rc != NEO_BACKEND_OK)
			return rc;
		(*removed)++;
	}
}

void storage_gc_sweep(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_gc_sweep *req = pkt->args;
	struct neo_answer_gc_sweep answer = { 0 };
	struct neo_id_list data_ids = { 0 };
	uint32_t partition = (uint32_t)req->partition;
	int rc = NEO_BACKEND_OK;

	if (req->partition < 0 || partition >= s->pt.num_partitions ||
	    storage_cell_state(s, partition) < 0) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				   "no cell of partition %" PRId64 " here", req->partition);
		return;
	}
	for (uint32_t i = 0; i < req->oids.count && rc == NEO_BACKEND_OK; i++)
		if (neo_ptable_partition(&s->pt, req->oids.items[i]) == partition)
			rc = sweep_oid(s, partition, req->oids.items[i], req->pack_tid, &data_ids,
				       &answer.removed);
	if (rc == NEO_BACKEND_OK)
		rc = storage_prune_unheld(s, &data_ids);
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	neo_id_list_free(&data_ids);
	if (storage_db_failed(s, rc, "sweeping unreachable objects"))
		return;
	neo_log(NEO_LOG_DEBUG, "GC: %" PRId64 " revision(s) of %u unreachable oid(s) removed",
		answer.removed, req->oids.count);
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_GC_SWEEP, &answer);
}

void storage_gc_transactions(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_gc_transactions *req = pkt->args;
	struct neo_answer_gc_transactions answer = { 0 };
	struct neo_id_list tids = { 0 };
	struct neo_list_p64 *oid_lists = NULL;
	uint32_t partition = (uint32_t)req->partition;
	uint64_t length = req->length > 0 && req->length < GC_MAX_TRANSACTIONS
				  ? (uint64_t)req->length : GC_MAX_TRANSACTIONS;
	int rc;

	/* readable, or replicated and held back until swept (section 14.3) */
	if (req->partition < 0 || partition >= s->pt.num_partitions ||
	    !(storage_readable(s, partition) || storage_replication_complete(s, partition))) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				   "partition %" PRId64 " not readable here", req->partition);
		return;
	}
	rc = s->be->tid_range(s->db, partition, req->min_tid, req->pack_tid, length,
			      neo_id_list_add, &tids);
	if (rc == NEO_BACKEND_OK)
		oid_lists = neo_calloc(tids.count + 1, sizeof *oid_lists);
	for (uint32_t i = 0; rc == NEO_BACKEND_OK && oid_lists && i < tids.count; i++) {
		struct neo_trans trans = { 0 };
		uint32_t count;

		rc = s->be->trans_get(s->db, partition, tids.ids[i], false, &trans);
		if (rc == NEO_BACKEND_NOTFOUND) {
			rc = NEO_BACKEND_OK;
			continue;
		}
		count = (uint32_t)(trans.oids.size / 8);
		oid_lists[i].items = neo_malloc(((size_t)count + 1) * sizeof(uint64_t));
		if (oid_lists[i].items == NULL)
			break;
		for (uint32_t k = 0; k < count; k++)
			oid_lists[i].items[k] = neo_p64_read(trans.oids.data + 8 * k);
		oid_lists[i].count = count;
	}
	if (rc == NEO_BACKEND_OK && oid_lists) {
		answer.tids = (struct neo_list_p64){ tids.ids, tids.count };
		answer.oids = (struct neo_list_list_p64){ oid_lists, tids.count };
		if (tids.count == length)
			answer.next_tid = (struct neo_opt_p64){ true, tids.ids[tids.count - 1] + 1 };
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_GC_TRANSACTIONS, &answer);
	} else {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY,
				   "cannot list transactions");
	}
	for (uint32_t i = 0; oid_lists && i < tids.count; i++)
		neo_free(oid_lists[i].items);
	neo_free(oid_lists);
	neo_id_list_free(&tids);
}

/* As pack leaves it: the revision is the last one up to the pack tid and
 * not a deletion. */
static bool revision_kept(struct storage *s, uint64_t oid, uint64_t serial, uint64_t pack_tid)
{
	struct neo_object object = { 0 };
	uint32_t partition = neo_ptable_partition(&s->pt, oid);

	if (s->be->obj_get(s->db, partition, oid, NEO_BACKEND_OBJ_BEFORE, pack_tid + 1, &object)
	    != NEO_BACKEND_OK)
		return false;
	return object.serial == serial && object.has_data;
}

void storage_gc_revisions_kept(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_gc_revisions_kept *req = pkt->args;
	struct neo_answer_gc_revisions_kept answer = { 0 };
	bool *kept;

	if (req->oids.count != req->serials.count) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				   "as many serials as oids");
		return;
	}
	for (uint32_t i = 0; i < req->oids.count; i++)
		if (!storage_readable(s, neo_ptable_partition(&s->pt, req->oids.items[i]))) {
			storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY,
					   "%016" PRIx64 " not readable here", req->oids.items[i]);
			return;
		}
	kept = neo_calloc(req->oids.count + 1, sizeof *kept);
	if (kept == NULL) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < req->oids.count; i++)
		kept[i] = revision_kept(s, req->oids.items[i], req->serials.items[i],
					req->pack_tid);
	answer.kept = (struct neo_list_bool){ kept, req->oids.count };
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_GC_REVISIONS_KEPT, &answer);
	neo_free(kept);
}

static void copy_bytes(uint8_t *to, const struct neo_bytes *from)
{
	if (from->size)
		memcpy(to, from->data, from->size);
}

/* Flags transaction tid packed (a copy put back in its place). */
static int mark_packed(struct storage *s, uint32_t partition, uint64_t tid)
{
	struct neo_trans trans = { 0 };
	uint8_t *copy;
	size_t sizes[4];
	int rc = s->be->trans_get(s->db, partition, tid, false, &trans);

	if (rc == NEO_BACKEND_NOTFOUND || (rc == NEO_BACKEND_OK && trans.packed))
		return NEO_BACKEND_OK;
	if (rc != NEO_BACKEND_OK)
		return rc;
	sizes[0] = trans.oids.size;
	sizes[1] = trans.user.size;
	sizes[2] = trans.description.size;
	sizes[3] = trans.extension.size;
	copy = neo_malloc(sizes[0] + sizes[1] + sizes[2] + sizes[3] + 1);
	if (copy == NULL)
		return STORAGE_ENOMEM;
	copy_bytes(copy, &trans.oids);
	copy_bytes(copy + sizes[0], &trans.user);
	copy_bytes(copy + sizes[0] + sizes[1], &trans.description);
	copy_bytes(copy + sizes[0] + sizes[1] + sizes[2], &trans.extension);
	trans.oids = (struct neo_bytes){ copy, sizes[0] };
	trans.user = (struct neo_bytes){ copy + sizes[0], sizes[1] };
	trans.description = (struct neo_bytes){ copy + sizes[0] + sizes[1], sizes[2] };
	trans.extension = (struct neo_bytes){ copy + sizes[0] + sizes[1] + sizes[2], sizes[3] };
	trans.packed = true;
	rc = s->be->trans_delete(s->db, partition, tid);
	if (rc == NEO_BACKEND_OK)
		rc = s->be->trans_put(s->db, &trans, false);
	neo_free(copy);
	return rc;
}

void storage_gc_drop_transactions(struct storage *s, struct neo_conn *conn,
				  struct neo_packet *pkt)
{
	const struct neo_ask_gc_drop_transactions *req = pkt->args;
	struct neo_answer_gc_drop_transactions answer = { 0 };
	uint32_t partition = (uint32_t)req->partition;
	int rc = NEO_BACKEND_OK;

	if (req->partition < 0 || partition >= s->pt.num_partitions ||
	    storage_cell_state(s, partition) < 0) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				   "no cell of partition %" PRId64 " here", req->partition);
		return;
	}
	for (uint32_t i = 0; i < req->tids.count && rc == NEO_BACKEND_OK; i++) {
		rc = s->be->trans_delete(s->db, partition, req->tids.items[i]);
		if (rc == NEO_BACKEND_NOTFOUND)
			rc = NEO_BACKEND_OK;
		else if (rc == NEO_BACKEND_OK)
			answer.dropped++;
	}
	for (uint32_t i = 0; i < req->packed.count && rc == NEO_BACKEND_OK; i++)
		rc = mark_packed(s, partition, req->packed.items[i]);
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	if (storage_db_failed(s, rc, "dropping emptied transactions"))
		return;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_GC_DROP_TRANSACTIONS, &answer);
}

/* The config key of an own cell's last collection. */
static void swept_key(char *key, size_t size, uint32_t partition)
{
	snprintf(key, size, "gc_swept_%u", partition);
}

void storage_gc_swept(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_gc_swept *req = pkt->args;
	uint32_t np = s->pt.num_partitions;
	uint64_t *swept = neo_calloc((size_t)np + 1, sizeof *swept);
	struct neo_answer_gc_swept answer = { { swept, np }, 0 };
	char key[32];
	int rc = 0;

	if (swept == NULL) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < req->partitions.count && rc == 0; i++) {
		int64_t p = req->partitions.items[i];

		if (p < 0 || (uint64_t)p >= np || storage_cell_state(s, (uint32_t)p) < 0)
			continue;
		swept_key(key, sizeof key, (uint32_t)p);
		rc = storage_config_set_tid(s, key, req->pack_id, true);
	}
	if (rc == 0 && req->partitions.count)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK ? 0 : -1;
	for (uint32_t p = 0; p < np && rc == 0; p++) {
		if (storage_cell_state(s, p) < 0)
			continue;
		swept_key(key, sizeof key, p);
		if (storage_config_get_tid(s, key, &swept[p]) != 0)
			swept[p] = 0;
	}
	if (storage_config_get_tid(s, "gc_settled", &answer.settled) != 0)
		answer.settled = 0;
	if (rc != 0)
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY,
				   "recording the garbage collection failed");
	else
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_GC_SWEPT, &answer);
out:
	neo_free(swept);
}

/* Whether this database took part in a collection (a gc_swept_ key on an
 * own cell) or already records gc_settled. */
static bool gc_recorded(struct storage *s)
{
	uint64_t tid;
	char key[32];

	if (storage_config_get_tid(s, "gc_settled", &tid) == 0)
		return true;
	for (uint32_t p = 0; p < s->pt.num_partitions; p++) {
		if (storage_cell_state(s, p) < 0)
			continue;
		swept_key(key, sizeof key, p);
		if (storage_config_get_tid(s, key, &tid) == 0)
			return true;
	}
	return false;
}

/* gc_settled is kept only once the database took part in a collection:
 * before that, every order listed was a pack without GC, which the master
 * decides again from its extension after a restart at no cost; so a
 * cluster that never collects keeps exactly upstream's configuration keys
 * (an upstream storage can take the database back). */
void storage_gc_settled(struct storage *s, const struct neo_answer_pack_orders *orders)
{
	uint64_t last = 0, settled = 0;

	if (!gc_recorded(s))
		return;

	for (uint32_t i = 0; i < orders->orders.count; i++)
		if (orders->orders.items[i].approved.has && orders->orders.items[i].approved.v &&
		    orders->orders.items[i].id > last)
			last = orders->orders.items[i].id;
	if (last == 0 || (storage_config_get_tid(s, "gc_settled", &settled) == 0 && settled >= last))
		return;
	if (storage_config_set_tid(s, "gc_settled", last, true) != 0 ||
	    s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC) != NEO_BACKEND_OK)
		neo_log(NEO_LOG_WARNING, "recording the last pack order listed failed");
}
