/*
 * storage/gc.c - a storage's part of pack's garbage collection
 * (core/cluster/cluster.md section 14.2): the primary master, which
 * holds the marks, asks; the storage reads and deletes its own rows.
 * Each request is one short backend pass over the oids or tids it names,
 * answered at once: memory is bounded by the request.
 *
 * - AskGCReferences: the strong persistent references (core/pickle/refs.h)
 *   of each oid's revision at the pack tid, or (future) of every revision
 *   after it.  A record that is no pickle the scanner reads is an error:
 *   the master then abandons the collection rather than guess.
 * - AskGCSweep: every revision up to the pack tid of oids found
 *   unreachable goes, with the data nothing else uses.
 * - AskGCTransactions, AskGCRevisionsKept, AskGCDropTransactions: the
 *   transactions up to the pack tid with their oids, whether a revision
 *   survives the pack, and the deletion of transactions left empty (the
 *   others are flagged packed: undo stops there, as FileStorage's).
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <string.h>
#include <zlib.h>

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
	rc = pickle_refs_oids(data, size, neo_id_list_add, refs);
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

	if (req->partition < 0 || partition >= s->pt.num_partitions ||
	    !storage_readable(s, partition)) {
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
