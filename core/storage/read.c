/*
 * storage/read.c - what clients read from a storage: object revisions,
 * history, transaction metadata and lists, and the undo lookup
 * (core/cluster/cluster.md section 11.1, core/neo/backend.md section 13).  A
 * read of an object whose new revision is being locked waits for the unlock.
 */
#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/tid.h"
#include "proto/codec.h"
#include "runtime/log.h"

#define INVALID_PARTITION 0xffffffffu

static bool refuse_unreadable(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
			      uint32_t partition)
{
	if (storage_readable(s, partition))
		return false;
	storage_send_error(conn, msg_id, NEO_ERROR_NON_READABLE_CELL, "partition %u not readable",
			   partition);
	return true;
}

/* AskObject; false when the load waits for a lock (delayed: it comes
 * back through storage_ask_object). */
static bool serve_object(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_object *req = pkt->args;
	uint32_t partition = neo_ptable_partition(&s->pt, req->oid);
	struct neo_answer_object answer = { .oid = req->oid };
	struct neo_object object = { 0 };
	enum neo_backend_obj_at at = NEO_BACKEND_OBJ_LATEST;
	uint64_t tid = 0, last;
	int rc;

	if (refuse_unreadable(s, conn, pkt->msg_id, partition))
		return true;
	if (storage_oid_read_locked(s, req->oid)) {
		storage_delay(s, conn, pkt);
		return false;
	}
	if (req->at.has) {
		at = NEO_BACKEND_OBJ_EXACT;
		tid = req->at.v;
	} else if (req->before.has) {
		at = NEO_BACKEND_OBJ_BEFORE;
		tid = req->before.v;
	}
	/* As upstream, in backup mode reads stop at the backup tid: a
	 * revision after it is not found, a load is before backup_tid + 1. */
	if (s->backup_mode) {
		if (at == NEO_BACKEND_OBJ_EXACT && tid > s->backup_tid) {
			tid = 0;
		} else if (at == NEO_BACKEND_OBJ_LATEST
			   || (at == NEO_BACKEND_OBJ_BEFORE && tid > s->backup_tid + 1)) {
			at = NEO_BACKEND_OBJ_BEFORE;
			tid = s->backup_tid + 1;
		}
	}
	rc = s->be->obj_get(s->db, partition, req->oid, at, tid, &object);
	if (rc == NEO_BACKEND_NOTFOUND) {
		/* As upstream: OidNotFound when other revisions exist. */
		bool exists = at != NEO_BACKEND_OBJ_LATEST
			      && s->be->obj_last_serial(s->db, partition, req->oid, &last)
				 == NEO_BACKEND_OK;

		storage_send_error(conn, pkt->msg_id, exists ? NEO_ERROR_OID_NOT_FOUND
							     : NEO_ERROR_OID_DOES_NOT_EXIST,
				   "%016llx", (unsigned long long)req->oid);
		return true;
	}
	if (rc != NEO_BACKEND_OK) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "backend error: %s",
				   s->be->errmsg(s->db));
		return true;
	}
	answer.serial = object.serial;
	answer.next_serial = (struct neo_opt_p64){ object.next_serial.has, object.next_serial.id };
	answer.compression = (struct neo_opt_int){ true, object.compression };
	answer.checksum = (struct neo_bin){ object.checksum, 20 };
	if (!object.has_data)
		memset(object.checksum, 0, sizeof object.checksum);
	answer.data = (struct neo_bin){ object.has_data ? object.data.data : NULL,
					object.has_data ? (uint32_t)object.data.size : 0 };
	answer.data_serial = (struct neo_opt_p64){ object.data_serial.has, object.data_serial.id };
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_OBJECT, &answer);
	return true;
}

void storage_ask_object(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	double started = storage_metrics_clock();

	if (serve_object(s, conn, pkt))
		storage_metrics_load(s, started);
}

struct history_list {
	struct neo_history_entry *items;
	uint32_t count;
	size_t capacity;
};

static int history_add(void *ctx, uint64_t serial, uint64_t size)
{
	struct history_list *list = ctx;

	if (neo_grow(&list->items, &list->capacity, (size_t)list->count + 1,
		     sizeof *list->items) < 0)
		return -1;
	list->items[list->count].serial = serial;
	list->items[list->count].size = (int64_t)size;
	list->count++;
	return 0;
}

void storage_ask_history(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_object_history *req = pkt->args;
	uint32_t partition = neo_ptable_partition(&s->pt, req->oid);
	struct neo_answer_object_history answer = { .oid = req->oid };
	struct history_list list = { 0 };

	if (!storage_backend_require(s, conn, pkt->msg_id, obj_history, "object history"))
		return;
	if (req->first < 0 || req->first >= req->last) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "invalid offsets");
		return;
	}
	if (refuse_unreadable(s, conn, pkt->msg_id, partition))
		return;
	if (storage_oid_read_locked(s, req->oid)) {
		storage_delay(s, conn, pkt);
		return;
	}
	s->be->obj_history(s->db, partition, req->oid, (uint64_t)req->first,
			   (uint64_t)(req->last - req->first), history_add, &list);
	if (list.count == 0) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_OID_NOT_FOUND, "%016llx",
				   (unsigned long long)req->oid);
	} else {
		answer.history.items = list.items;
		answer.history.count = list.count;
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_OBJECT_HISTORY, &answer);
	}
	neo_free(list.items);
}

void storage_ask_transaction(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_transaction_information *req = pkt->args;
	uint32_t partition = neo_ptable_partition(&s->pt, req->tid);
	struct neo_answer_transaction_information answer = { .tid = req->tid };
	struct neo_trans trans = { 0 };
	uint64_t *oids;
	int rc;

	if (refuse_unreadable(s, conn, pkt->msg_id, partition))
		return;
	if (s->backup_mode && req->tid > s->backup_tid) {
		/* as upstream */
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_TID_NOT_FOUND,
				   "tids > %016llx are not fully fetched yet",
				   (unsigned long long)s->backup_tid);
		return;
	}
	rc = s->be->trans_get(s->db, partition, req->tid, false, &trans);
	if (rc != NEO_BACKEND_OK) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_TID_NOT_FOUND, "%016llx",
				   (unsigned long long)req->tid);
		return;
	}
	oids = neo_calloc(trans.oids.size / 8 + 1, sizeof *oids);
	if (oids == NULL)
		return;
	for (size_t i = 0; i < trans.oids.size / 8; i++)
		oids[i] = neo_p64_read(trans.oids.data + 8 * i);
	answer.user = (struct neo_bin){ trans.user.data, (uint32_t)trans.user.size };
	answer.description = (struct neo_bin){ trans.description.data,
					       (uint32_t)trans.description.size };
	answer.extension = (struct neo_bin){ trans.extension.data, (uint32_t)trans.extension.size };
	answer.packed = trans.packed;
	answer.oids.items = oids;
	answer.oids.count = (uint32_t)(trans.oids.size / 8);
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_TRANSACTION_INFORMATION, &answer);
	neo_free(oids);
}

void storage_ask_tids(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_tids *req = pkt->args;
	uint32_t *partitions = neo_calloc(s->pt.num_partitions + 1, sizeof *partitions);
	struct neo_answer_tids answer = { 0 };
	struct neo_id_list tids = { 0 };
	size_t count = 0;

	if (!storage_backend_require(s, conn, pkt->msg_id, tid_list_desc, "transaction list")) {
		neo_free(partitions);
		return;
	}
	if (partitions == NULL || req->first < 0 || req->first >= req->last) {
		neo_free(partitions);
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "invalid offsets");
		return;
	}
	/* As upstream: INVALID_PARTITION means every readable one. */
	for (uint32_t p = 0; p < s->pt.num_partitions; p++)
		if (storage_readable(s, p)
		    && ((uint32_t)req->partition == INVALID_PARTITION || (int64_t)p == req->partition))
			partitions[count++] = p;
	if (count)
		s->be->tid_list_desc(s->db, partitions, count, (uint64_t)req->first,
				     (uint64_t)(req->last - req->first), neo_id_list_add, &tids);
	if (s->backup_mode) {
		/* as upstream: only what the backup tid covers */
		uint32_t kept = 0;

		for (uint32_t i = 0; i < tids.count; i++)
			if (tids.ids[i] <= s->backup_tid)
				tids.ids[kept++] = tids.ids[i];
		tids.count = kept;
	}
	answer.tids.items = tids.ids;
	answer.tids.count = tids.count;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_TIDS, &answer);
	neo_free(tids.ids);
	neo_free(partitions);
}

void storage_ask_tids_from(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_tids_from *req = pkt->args;
	struct neo_answer_tids_from answer = { 0 };
	struct neo_id_list tids = { 0 };

	if (req->partition < 0 || refuse_unreadable(s, conn, pkt->msg_id, (uint32_t)req->partition))
		return;
	if (storage_tid_locked_upto(s, req->max_tid)) {
		storage_delay(s, conn, pkt);
		return;
	}
	s->be->tid_range(s->db, (uint32_t)req->partition, req->min_tid,
			 s->backup_mode && req->max_tid > s->backup_tid ? s->backup_tid : req->max_tid,
			 req->length > 0 ? (uint64_t)req->length : 0, neo_id_list_add, &tids);
	answer.tids.items = tids.ids;
	answer.tids.count = tids.count;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_TIDS_FROM, &answer);
	neo_free(tids.ids);
}

void storage_ask_oids_from(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_oids_from *req = pkt->args;
	struct neo_answer_oids_from answer = { 0 };
	struct neo_id_list oids = { 0 };
	uint32_t kept = 0;

	if (!storage_backend_require(s, conn, pkt->msg_id, oid_range, "object list"))
		return;
	if (req->partition < 0)
		return;
	/* our master's garbage collection also lists a replicated cell not
	 * readable yet (core/cluster/cluster.md section 14.3) */
	if (!(conn == s->master_conn && storage_replication_complete(s, (uint32_t)req->partition))
	    && refuse_unreadable(s, conn, pkt->msg_id, (uint32_t)req->partition))
		return;
	s->be->oid_range(s->db, (uint32_t)req->partition, req->min_oid, req->tid,
			 req->length > 0 ? (uint64_t)req->length : 0, neo_id_list_add, &oids);
	if (req->length > 0 && oids.count == (uint32_t)req->length)
		answer.next_oid = (struct neo_opt_p64){ true,
							oids.ids[oids.count - 1] + s->pt.num_partitions };
	/* Only the objects alive at tid. */
	for (uint32_t i = 0; i < oids.count; i++) {
		struct neo_object object = { 0 };

		if (s->be->obj_get(s->db, (uint32_t)req->partition, oids.ids[i],
				   NEO_BACKEND_OBJ_BEFORE, req->tid + 1, &object) == NEO_BACKEND_OK
		    && object.has_data)
			oids.ids[kept++] = oids.ids[i];
	}
	answer.oids.items = oids.ids;
	answer.oids.count = kept;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_OIDS_FROM, &answer);
	neo_free(oids.ids);
}

/* --- Undo ----------------------------------------------------------------- */

struct undo_history {
	uint64_t *serials, *value_tids;
	uint32_t count;
	size_t capacity;
};

static int undo_history_add(void *ctx, uint64_t serial, uint64_t value_tid)
{
	struct undo_history *h = ctx;

	if (storage_grow_pair(&h->serials, sizeof *h->serials, &h->value_tids, sizeof *h->value_tids,
			      &h->capacity, (size_t)h->count + 1) < 0)
		return -1;
	h->serials[h->count] = serial;
	h->value_tids[h->count] = value_tid;
	h->count++;
	return 0;
}

/*
 * findUndoTID (core/neo/backend.md section 13): returns 1 with the answer
 * filled, 0 when there is nothing to undo for oid, -1 for OidNotFound.
 */
static int find_undo(struct storage *s, uint64_t oid, uint64_t ltid, uint64_t undo_tid,
		     uint64_t current_tid, struct neo_undo_serial *out)
{
	uint32_t partition = neo_ptable_partition(&s->pt, oid);
	struct undo_history h = { 0 };
	struct neo_object before = { 0 };
	uint64_t restore = 0, current = 0;
	bool has_restore, is_current;

	s->be->obj_undo_history(s->db, partition, oid, undo_tid, undo_history_add, &h);
	if (h.count == 0 || h.serials[0] != undo_tid) {
		neo_free(h.serials);
		neo_free(h.value_tids);
		return 0;
	}
	has_restore = s->be->obj_get(s->db, partition, oid, NEO_BACKEND_OBJ_BEFORE, undo_tid,
				     &before) == NEO_BACKEND_OK;
	restore = has_restore ? before.serial : 0;
	if (current_tid) {
		current = current_tid;
	} else {
		for (uint32_t i = 1; i < h.count; i++)
			if (h.serials[i] < ltid)
				current = h.serials[i];
		if (current == 0) {
			if (ltid <= undo_tid) {
				neo_free(h.serials);
				neo_free(h.value_tids);
				return -1;
			}
			current = undo_tid;
		}
	}
	is_current = current == undo_tid;
	for (uint32_t i = 1; i < h.count; i++) {
		uint64_t value = h.value_tids[i];

		if (value == UINT64_MAX)
			continue;
		if (has_restore && value == restore) {
			restore = h.serials[i];
		} else if (value == undo_tid) {
			if (h.serials[i] == current)
				is_current = true;
			else
				undo_tid = h.serials[i];
		}
	}
	out->current_serial = current;
	out->undo_serial = (struct neo_opt_p64){ has_restore, restore };
	out->is_current = is_current;
	neo_free(h.serials);
	neo_free(h.value_tids);
	return 1;
}

void storage_ask_undo_serial(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_object_undo_serial *req = pkt->args;
	struct neo_answer_object_undo_serial answer = { 0 };
	uint64_t *keys = neo_calloc(req->oids.count + 1, sizeof *keys);
	struct neo_undo_serial *values = neo_calloc(req->oids.count + 1, sizeof *values);
	struct storage_txn *txn = neo_idmap_get(&s->txns, req->ttid);

	if (!storage_backend_require(s, conn, pkt->msg_id, obj_undo_history, "undo"))
		goto out;
	if (keys == NULL || values == NULL)
		goto out;
	for (uint32_t i = 0; i < req->oids.count; i++) {
		uint64_t oid = req->oids.items[i], current = 0;
		int found;

		if (txn)
			for (size_t k = 0; k < txn->object_count; k++)
				if (txn->objects[k].oid == oid && !txn->objects[k].check_only)
					current = txn->objects[k].value_tid.has
							  ? txn->objects[k].value_tid.id : req->ttid;
		found = find_undo(s, oid, req->ltid, req->undone_tid, current,
				  &values[answer.serials.count]);
		if (found < 0) {
			storage_send_error(conn, pkt->msg_id, NEO_ERROR_OID_NOT_FOUND, "%016llx",
					   (unsigned long long)oid);
			goto out;
		}
		if (found > 0)
			keys[answer.serials.count++] = oid;
	}
	answer.serials.keys = keys;
	answer.serials.values = values;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_OBJECT_UNDO_SERIAL, &answer);
out:
	neo_free(keys);
	neo_free(values);
}

void storage_ask_final_tid(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_final_tid *req = pkt->args;
	struct neo_answer_final_tid answer = { 0 };
	uint64_t tid;

	/* as upstream: None when the transaction is not (yet) committed here */
	if (s->be->final_tid(s->db, neo_ptable_partition(&s->pt, req->ttid), req->ttid, &tid)
	    == NEO_BACKEND_OK)
		answer.tid = (struct neo_opt_p64){ true, tid };
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_FINAL_TID, &answer);
}
