/*
 * storage/txn.c - the storage's side of commits (core/cluster/cluster.md
 * section 9): per-object write locks keyed by ttid, staging data at store
 * time, the vote (staged rows made durable), lock (the commit bit, and reads
 * of the objects held until unlock), unlock (rows moved to their final place)
 * and abort.  Requests that must wait for a lock are kept in a queue and
 * retried whenever a lock goes.
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "cluster/tid.h"
#include "proto/codec.h"
#include "runtime/log.h"

static const uint8_t zero_checksum[20];

/* --- Transactions and locks ---------------------------------------------- */

static struct storage_txn *txn_get(struct storage *s, uint64_t ttid, struct neo_conn *client)
{
	struct storage_txn *txn = neo_idmap_get(&s->txns, ttid);

	if (txn)
		return txn;
	txn = neo_calloc(1, sizeof *txn);
	if (txn == NULL || neo_idmap_put(&s->txns, ttid, txn) < 0) {
		neo_free(txn);
		return NULL;
	}
	txn->ttid = ttid;
	txn->client = client;
	return txn;
}

static struct staged_object *txn_object(struct storage_txn *txn, uint64_t oid, bool create)
{
	for (size_t i = 0; i < txn->object_count; i++)
		if (txn->objects[i].oid == oid)
			return &txn->objects[i];
	if (!create)
		return NULL;
	if (neo_grow(&txn->objects, &txn->object_capacity, txn->object_count + 1,
		     sizeof *txn->objects) < 0)
		return NULL;
	memset(&txn->objects[txn->object_count], 0, sizeof *txn->objects);
	txn->objects[txn->object_count].oid = oid;
	return &txn->objects[txn->object_count++];
}

/* Releases every lock of txn and forgets it. */
static void txn_forget(struct storage *s, struct storage_txn *txn)
{
	for (size_t i = 0; i < txn->object_count; i++) {
		uint64_t oid = txn->objects[i].oid;

		if (neo_idmap_get(&s->write_locks, oid) == txn)
			neo_idmap_remove(&s->write_locks, oid);
		if (neo_idmap_get(&s->read_locks, oid) == txn)
			neo_idmap_remove(&s->read_locks, oid);
	}
	neo_idmap_remove(&s->txns, txn->ttid);
	neo_free(txn->objects);
	neo_free(txn);
}

/* Data stored for a transaction that will not commit; returns the
 * backend's status. */
static int prune_staged_data(struct storage *s, struct storage_txn *txn)
{
	struct neo_id_list ids = { 0 };
	size_t pruned;
	int rc = NEO_BACKEND_OK;

	for (size_t i = 0; rc == NEO_BACKEND_OK && i < txn->object_count; i++)
		if (txn->objects[i].data_id.has && !txn->objects[i].value_tid.has
		    && neo_id_list_add(&ids, txn->objects[i].data_id.id) < 0)
			rc = STORAGE_ENOMEM;
	if (rc == NEO_BACKEND_OK && ids.count)
		rc = storage_write_rc(s->be->data_prune(s->db, ids.ids, ids.count, &pruned));
	neo_id_list_free(&ids);
	return rc;
}

bool storage_data_held(struct storage *s, uint64_t data_id)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	while (neo_idmap_next(&s->txns, &index, &ttid, &value)) {
		const struct storage_txn *txn = value;

		for (size_t i = 0; i < txn->object_count; i++)
			if (txn->objects[i].data_id.has && txn->objects[i].data_id.id == data_id)
				return true;
	}
	return false;
}

int storage_prune_unheld(struct storage *s, struct neo_id_list *ids)
{
	uint32_t kept = 0;
	size_t pruned;

	for (uint32_t i = 0; i < ids->count; i++)
		if (!storage_data_held(s, ids->ids[i]))
			ids->ids[kept++] = ids->ids[i];
	return kept ? s->be->data_prune(s->db, ids->ids, kept, &pruned) : NEO_BACKEND_OK;
}

bool storage_oid_read_locked(struct storage *s, uint64_t oid)
{
	return neo_idmap_get(&s->read_locks, oid) != NULL;
}

bool storage_tid_locked_upto(struct storage *s, uint64_t max_tid)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	while (neo_idmap_next(&s->txns, &index, &ttid, &value)) {
		struct storage_txn *txn = value;

		if (txn->locked && txn->tid <= max_tid)
			return true;
	}
	return false;
}

bool storage_has_lockless(struct storage *s, uint32_t partition)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	while (neo_idmap_next(&s->txns, &index, &ttid, &value)) {
		struct storage_txn *txn = value;

		for (size_t i = 0; i < txn->object_count; i++)
			if (txn->objects[i].lockless
			    && neo_ptable_partition(&s->pt, txn->objects[i].oid) == partition)
				return true;
	}
	return false;
}

void storage_lockless_done(struct storage *s, uint32_t partition)
{
	(void)s;
	(void)partition;
}

/* --- Delayed requests ------------------------------------------------------ */

void storage_delay(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	struct delayed_request *request = neo_calloc(1, sizeof *request), **tail = &s->delayed;

	if (request == NULL) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	request->conn = conn;
	neo_packet_take(pkt, &request->pkt);
	while (*tail)
		tail = &(*tail)->next;
	*tail = request;
}

static void retry_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct storage *s = arg;
	struct delayed_request *queue = s->delayed;

	(void)fd;
	(void)what;
	/* Each request either completes or is delayed again, in order. */
	s->delayed = NULL;
	while (queue) {
		struct delayed_request *request = queue;

		queue = request->next;
		/* every kind of request may have been delayed (replication
		 * and checks wait for locked transactions too) */
		if (!s->route(s, STORAGE_FROM_PEER, request->conn, &request->pkt))
			neo_conn_answer_error(request->conn, request->pkt.msg_id,
					      NEO_ERROR_PROTOCOL_ERROR, "unexpected packet");
		neo_packet_release(&request->pkt);
		neo_free(request);
	}
}

/* Called where a lock goes (unlock, abort, vote...): the queue is retried
 * from a deferred event, once the handler that released the lock has
 * returned, never re-entering a request handler from inside it. */
void storage_retry_delayed(struct storage *s)
{
	if (s->delayed == NULL)
		return;
	if (s->retry_event == NULL) {
		s->retry_event = event_new(s->base, -1, 0, retry_delayed, s);
		if (s->retry_event == NULL) {
			neo_log(NEO_LOG_ERROR, "cannot retry delayed requests: stopping");
			storage_exit(s, 1);
			return;
		}
	}
	if (!event_pending(s->retry_event, EV_TIMEOUT, NULL))
		event_active(s->retry_event, EV_TIMEOUT, 0);
}

bool storage_retry_pending(const struct storage *s)
{
	return s->delayed != NULL && s->retry_event != NULL
	       && event_pending(s->retry_event, EV_TIMEOUT, NULL);
}

static void drop_delayed_of(struct storage *s, struct neo_conn *conn)
{
	struct delayed_request **at = &s->delayed;

	while (*at) {
		struct delayed_request *request = *at;

		if (conn == NULL || request->conn == conn) {
			*at = request->next;
			neo_packet_release(&request->pkt);
			neo_free(request);
		} else {
			at = &request->next;
		}
	}
}

/* --- Stores --------------------------------------------------------------- */

static void answer_store(struct neo_conn *conn, uint32_t msg_id, uint16_t code, bool has,
			 uint64_t conflict)
{
	struct neo_answer_store_object answer = { .conflict = { has, conflict } };

	/* AnswerStoreObject and AnswerCheckCurrentSerial share one shape. */
	neo_conn_answer(conn, msg_id, code, &answer);
}

enum write_lock {
	WRITE_LOCKED,		/* txn holds the lock now */
	WRITE_LOCKLESS,		/* taken without a lock (replicating cell) */
	WRITE_CONFLICT,		/* the object changed since serial */
	WRITE_DELAYED,		/* queued until the lock is released */
	WRITE_FAILED		/* answered with an error */
};

/* Someone else holds oid's lock: as upstream, if the holder is younger and
 * has not voted, its client is told once to relock (deadlock avoidance);
 * the request waits in the queue either way. */
static void wait_for_lock(struct storage *s, struct storage_txn *txn,
			  struct storage_txn *holder, uint64_t oid, struct neo_conn *conn,
			  struct neo_packet *pkt)
{
	struct staged_object *held = txn_object(holder, oid, false);

	if (holder->ttid > txn->ttid && !holder->voted && holder->client && held &&
	    !held->deadlock_notified) {
		struct neo_notify_deadlock deadlock = { .ttid = holder->ttid, .oid = oid };

		held->deadlock_notified = true;
		neo_log(NEO_LOG_INFO, "deadlock avoidance on %016" PRIx64 ": %016" PRIx64
			" waits for %016" PRIx64, oid, txn->ttid, holder->ttid);
		neo_conn_notify(holder->client, NEO_NOTIFY_DEADLOCK, &deadlock);
	}
	storage_delay(s, conn, pkt);
}

/* The lock decision for (txn, oid) stored on serial; *last gets the
 * committed serial on a conflict. */
static enum write_lock take_write_lock(struct storage *s, struct storage_txn *txn, uint64_t oid,
				       uint64_t serial, struct neo_conn *conn,
				       struct neo_packet *pkt, uint64_t *last)
{
	uint32_t partition = neo_ptable_partition(&s->pt, oid);
	int state = storage_cell_state(s, partition);
	struct storage_txn *holder;

	if (state < 0)
		return WRITE_LOCKLESS;	/* not ours (any more): accepted, unused */
	if (state == NEO_CELL_OUT_OF_DATE) {
		const struct staged_object *previous = txn_object(txn, oid, false);

		/* As upstream: a replicating cell takes the write without a
		 * lock (a readable cell does the check), until it holds all
		 * it should: then it locks, so that lockless writes drain. */
		if (!storage_replication_complete(s, partition) || (previous && previous->lockless))
			return WRITE_LOCKLESS;
	}
	holder = neo_idmap_get(&s->write_locks, oid);
	if (holder && holder != txn) {
		wait_for_lock(s, txn, holder, oid, conn, pkt);
		return WRITE_DELAYED;
	}
	if (holder == txn) {
		/* As upstream: storing again what we hold needs no check,
		 * except that after an undo the next store must be based on
		 * the undo's target. */
		const struct staged_object *previous = txn_object(txn, oid, false);

		if (previous && !previous->check_only) {
			if (previous->value_tid.has && previous->value_tid.id != serial) {
				*last = previous->value_tid.id;
				return WRITE_CONFLICT;
			}
			return WRITE_LOCKED;
		}
	}
	*last = 0;
	if (s->be->obj_last_serial(s->db, partition, oid, last) != NEO_BACKEND_OK)
		*last = 0;
	if (*last != serial)
		return WRITE_CONFLICT;
	if (neo_idmap_put(&s->write_locks, oid, txn) < 0) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return WRITE_FAILED;
	}
	return WRITE_LOCKED;
}

/* take_write_lock for a store or check: a conflict is answered. */
static enum write_lock lock_for_store(struct storage *s, struct storage_txn *txn, uint64_t oid,
				      uint64_t serial, struct neo_conn *conn,
				      struct neo_packet *pkt, uint16_t answer_code)
{
	uint64_t last;
	enum write_lock lock = take_write_lock(s, txn, oid, serial, conn, pkt, &last);

	if (lock == WRITE_CONFLICT) {
		neo_metric_inc(s->metrics.conflicts);
		answer_store(conn, pkt->msg_id, answer_code, true, last);
	}
	return lock;
}

static bool checksum_valid(const struct neo_ask_store_object *req)
{
	uint8_t digest[SHA_DIGEST_LENGTH];

	if (req->checksum.size != 20)
		return false;
	if (req->data.size == 0)
		return true;
	SHA1(req->data.data, req->data.size, digest);
	return memcmp(digest, req->checksum.data, 20) == 0;
}

/* Where the data of this store lives: a new data row, an undo target, or
 * none (deletion).  Returns 0, or -1 after answering an error. */
static int stage_data(struct storage *s, const struct neo_ask_store_object *req,
		      struct neo_conn *conn, uint32_t msg_id, struct staged_object *object)
{
	uint32_t partition = neo_ptable_partition(&s->pt, req->oid);
	uint64_t data_id;
	int rc;

	object->data_id.has = false;
	object->value_tid = (struct neo_opt_id){ req->data_serial.has, req->data_serial.v };
	if (req->data_serial.has) {
		rc = s->be->obj_data_id(s->db, partition, req->oid, req->data_serial.v,
					&object->data_id);
		if (rc == NEO_BACKEND_NOTFOUND && storage_readable(s, partition)) {
			neo_conn_answer_error(conn, msg_id, NEO_ERROR_UNDO_PACK_ERROR,
					      "undo target was packed away");
			return -1;
		}
		if (rc == NEO_BACKEND_OK || req->data.size == 0)
			return 0;
	}
	if (req->data.size == 0 && memcmp(req->checksum.data, zero_checksum, 20) == 0)
		return 0;	/* deletion, or undone creation */
	rc = s->be->data_put(s->db, partition, req->checksum.data, (uint8_t)req->compression,
			     (struct neo_bytes){ req->data.data, req->data.size }, &data_id);
	if (storage_db_failed(s, rc, "storing data")) {
		neo_conn_answer_error(conn, msg_id, NEO_ERROR_NOT_READY, "backend error");
		return -1;
	}
	object->data_id = (struct neo_opt_id){ true, data_id };
	return 0;
}

/* Staged data rows are committed (lazily) every STAGED_COMMIT_BYTES:
 * an abort prunes them as before, a crash leaves them as orphan data
 * (neoctl prune_orphan). */
#define STAGED_COMMIT_BYTES (64u << 20)

static void commit_staged_if_large(struct storage *s, uint32_t size)
{
	s->staged_bytes += size;
	if (s->staged_bytes < STAGED_COMMIT_BYTES)
		return;
	s->staged_bytes = 0;
	storage_db_failed(s, s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY), "committing staged data");
}

void storage_store_object(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_store_object *req = pkt->args;
	struct storage_txn *txn;
	struct staged_object *object;
	enum write_lock lock;

	if (!req->ttid.has || req->compression < 0 || req->compression > 1 || !checksum_valid(req)) {
		neo_log(NEO_LOG_WARNING, "%s: store of %016" PRIx64 " with a bad checksum or "
			"compression: protocol error, closing", neo_conn_peer(conn), req->oid);
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "bad checksum or compression");
		neo_conn_close(conn, "protocol error");
		return;
	}
	txn = txn_get(s, req->ttid.v, conn);
	if (txn == NULL || txn->voted) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      txn ? "store after vote" : "out of memory");
		return;
	}
	lock = lock_for_store(s, txn, req->oid, req->serial, conn, pkt, NEO_ANSWER_STORE_OBJECT);
	if (lock != WRITE_LOCKED && lock != WRITE_LOCKLESS)
		return;
	object = txn_object(txn, req->oid, true);
	if (object == NULL || stage_data(s, req, conn, pkt->msg_id, object) < 0)
		return;
	commit_staged_if_large(s, req->data.size);
	object->serial = req->serial;
	object->lockless = lock == WRITE_LOCKLESS;
	object->check_only = false;
	/* As upstream: ZERO_TID tells the client the write took no lock. */
	answer_store(conn, pkt->msg_id, NEO_ANSWER_STORE_OBJECT, object->lockless, 0);
}

void storage_check_current(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_check_current_serial *req = pkt->args;
	struct storage_txn *txn = txn_get(s, req->ttid, conn);
	struct staged_object *object;
	enum write_lock lock;

	if (txn == NULL || txn->voted) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "check after vote");
		return;
	}
	lock = lock_for_store(s, txn, req->oid, req->serial, conn, pkt,
			      NEO_ANSWER_CHECK_CURRENT_SERIAL);
	if (lock != WRITE_LOCKED && lock != WRITE_LOCKLESS)
		return;
	object = txn_object(txn, req->oid, true);
	if (object && !object->data_id.has && !object->value_tid.has) {
		object->check_only = true;
		object->serial = req->serial;
		object->lockless = lock == WRITE_LOCKLESS;
	}
	answer_store(conn, pkt->msg_id, NEO_ANSWER_CHECK_CURRENT_SERIAL,
		     lock == WRITE_LOCKLESS, 0);
}

/* --- Vote ----------------------------------------------------------------- */

/* A pack transaction's order, staged under the ttid (as upstream): signed
 * at lock, renamed to the final tid at unlock. */
static int stage_pack_order(struct storage *s, struct storage_txn *txn, uint32_t partition,
			    const struct neo_pack_info *pack)
{
	struct neo_pack_order order = { .id = txn->ttid, .approved = -1,
					.partial = pack->oids.has, .has_oids = pack->oids.has,
					.pack_tid = pack->pack_tid };
	int rc = storage_pack_order_put(s, partition, &order, &pack->oids);

	txn->has_pack = rc == NEO_BACKEND_OK;
	return rc;
}

static int write_staged_rows(struct storage *s, struct storage_txn *txn)
{
	struct neo_obj_row *rows = neo_calloc(txn->object_count + 1, sizeof *rows);
	size_t count = 0;
	int rc;

	if (rows == NULL)
		return STORAGE_ENOMEM;
	for (size_t i = 0; i < txn->object_count; i++) {
		const struct staged_object *object = &txn->objects[i];

		if (object->check_only)
			continue;
		rows[count].partition = neo_ptable_partition(&s->pt, object->oid);
		rows[count].oid = object->oid;
		rows[count].tid = txn->ttid;
		rows[count].data_id = object->data_id;
		rows[count].value_tid = object->value_tid;
		count++;
	}
	rc = count ? s->be->obj_put(s->db, rows, count, true) : NEO_BACKEND_OK;
	neo_free(rows);
	return rc;
}

void storage_vote(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	bool with_metadata = pkt->code == NEO_ASK_STORE_TRANSACTION;
	uint64_t ttid = with_metadata ? ((const struct neo_ask_store_transaction *)pkt->args)->ttid
				      : ((const struct neo_ask_vote_transaction *)pkt->args)->ttid;
	struct storage_txn *txn = txn_get(s, ttid, conn);
	int rc;

	if (txn == NULL) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	if (with_metadata && ((const struct neo_ask_store_transaction *)pkt->args)->pack.has
	    && !storage_backend_check(s, conn, pkt->msg_id, storage_backend_can_pack(s),
				      "pack_order_put", "pack order"))
		return;
	rc = write_staged_rows(s, txn);
	if (rc == NEO_BACKEND_OK && with_metadata) {
		const struct neo_ask_store_transaction *req = pkt->args;
		struct neo_trans trans = { 0 };
		uint8_t *oids = neo_malloc((size_t)req->oids.count * 8 + 1);

		if (oids == NULL) {
			rc = STORAGE_ENOMEM;
		} else {
			for (uint32_t i = 0; i < req->oids.count; i++)
				neo_p64_write(req->oids.items[i], oids + 8 * i);
			trans.partition = neo_ptable_partition(&s->pt, ttid);
			trans.ttid = ttid;
			trans.oids = (struct neo_bytes){ oids, (size_t)req->oids.count * 8 };
			trans.user = (struct neo_bytes){ req->user.data, req->user.size };
			trans.description = (struct neo_bytes){ req->description.data,
								req->description.size };
			trans.extension = (struct neo_bytes){ req->extension.data, req->extension.size };
			rc = s->be->trans_put(s->db, &trans, true);
			neo_free(oids);
			txn->has_metadata = true;
			if (rc == NEO_BACKEND_OK && req->pack.has)
				rc = stage_pack_order(s, txn, trans.partition, &req->pack.v);
		}
	}
	/* Durable before the answer, with the other votes and locks of this
	 * turn (group commit, storage/sync.c). */
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	if (storage_db_failed(s, rc, "voting")) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "backend error");
		return;
	}
	txn->voted = true;
	storage_sync_answer(s, conn, pkt->msg_id, with_metadata ? NEO_ANSWER_STORE_TRANSACTION
								: NEO_ANSWER_VOTE_TRANSACTION, ttid);
	storage_retry_delayed(s);
}

/* --- Lock, unlock, abort -------------------------------------------------- */

void storage_lock_txn(struct storage *s, struct neo_conn *master, struct neo_packet *pkt)
{
	const struct neo_ask_lock_information *req = pkt->args;
	struct neo_answer_information_locked answer = { .ttid = req->ttid };
	struct storage_txn *txn = txn_get(s, req->ttid, NULL);
	int rc;

	if (txn == NULL) {
		neo_conn_answer_error(master, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	rc = storage_write_rc(s->be->txn_lock(s->db, req->ttid, req->tid));
	/* as upstream: the master approves a pack order at lock */
	if (rc == NEO_BACKEND_OK && req->pack && txn->has_pack)
		rc = s->be->pack_order_sign(s->db, req->ttid, true);
	/* Durable before the answer, grouped (storage/sync.c). */
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	if (storage_db_failed(s, rc, "locking a transaction")) {
		neo_conn_answer_error(master, pkt->msg_id, NEO_ERROR_NOT_READY, "backend error");
		return;
	}
	txn->tid = req->tid;
	txn->locked = true;
	/* Reads of these objects wait for the unlock (as upstream). */
	for (size_t i = 0; i < txn->object_count; i++)
		if (!txn->objects[i].check_only &&
		    neo_idmap_put(&s->read_locks, txn->objects[i].oid, txn) < 0)
			neo_log(NEO_LOG_ERROR, "out of memory: reads of an object do not wait "
				"for its transaction");
	storage_sync_answer(s, master, pkt->msg_id, NEO_ANSWER_INFORMATION_LOCKED, answer.ttid);
}

static int ignore_data_id(void *ctx, uint64_t id)
{
	(void)ctx;
	(void)id;
	return 0;
}

void storage_unlock_txn(struct storage *s, uint64_t ttid)
{
	struct storage_txn *txn = neo_idmap_get(&s->txns, ttid);
	int rc;

	if (txn == NULL || !txn->locked)
		return;
	rc = storage_write_rc(s->be->txn_unlock(s->db, ttid, txn->tid, ignore_data_id, NULL));
	if (rc == NEO_BACKEND_OK && txn->has_pack)
		rc = storage_write_rc(s->be->pack_order_rename(s->db, ttid, txn->tid));
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	if (storage_db_failed(s, rc, "unlocking a transaction"))
		return;
	neo_metric_inc(s->metrics.commits);
	storage_metrics_tid(s, txn->tid);
	txn_forget(s, txn);
	storage_retry_delayed(s);
}

void storage_validate_txn(struct storage *s, uint64_t ttid, uint64_t tid)
{
	int rc = storage_write_rc(s->be->txn_lock(s->db, ttid, tid));

	if (rc == NEO_BACKEND_OK)
		rc = storage_write_rc(s->be->txn_unlock(s->db, ttid, tid, ignore_data_id, NULL));
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	if (!storage_db_failed(s, rc, "validating a transaction"))
		neo_log(NEO_LOG_INFO, "transaction %016" PRIx64 " validated as %016" PRIx64, ttid, tid);
}

/* Its locks go in any case; a backend failure stops the node (the staged
 * rows left would be taken for an unfinished transaction). */
static void abort_one(struct storage *s, struct storage_txn *txn)
{
	int rc = storage_write_rc(s->be->txn_abort(s->db, txn->ttid, ignore_data_id, NULL));

	if (rc == NEO_BACKEND_OK)
		rc = prune_staged_data(s, txn);
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	txn_forget(s, txn);
	neo_metric_inc(s->metrics.aborts);
	storage_db_failed(s, rc, "aborting a transaction");
}

void storage_abort_txn(struct storage *s, uint64_t ttid)
{
	struct storage_txn *txn = neo_idmap_get(&s->txns, ttid);

	if (txn == NULL || txn->locked)
		return;		/* a locked transaction is committed */
	abort_one(s, txn);
	storage_retry_delayed(s);
}

/* The first transaction of conn not yet voted, after marking every
 * transaction of conn as having lost its client; NULL if none. */
static struct storage_txn *next_orphan(struct storage *s, struct neo_conn *conn)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	while (neo_idmap_next(&s->txns, &index, &ttid, &value)) {
		struct storage_txn *txn = value;

		if (txn->client != conn)
			continue;
		txn->client = NULL;
		/* As upstream: a voted transaction is the master's to abort. */
		if (!txn->voted)
			return txn;
	}
	return NULL;
}

/* Nothing is allocated here: a client that vanishes always leaves its
 * locks (a list of victims that could not be allocated once left them
 * held). */
void storage_txn_conn_closed(struct storage *s, struct neo_conn *conn)
{
	struct storage_txn *txn;
	size_t count = 0;

	drop_delayed_of(s, conn);
	storage_sync_drop(s, conn);
	while ((txn = next_orphan(s, conn)) != NULL) {
		abort_one(s, txn);
		count++;
	}
	if (count)
		storage_retry_delayed(s);
}

void storage_txn_reset(struct storage *s)
{
	size_t index = 0;
	uint64_t ttid;
	void *value;

	drop_delayed_of(s, NULL);
	storage_sync_drop(s, NULL);
	/* Staged rows stay in the database: verification decides. */
	while (index = 0, neo_idmap_next(&s->txns, &index, &ttid, &value))
		txn_forget(s, value);
}

static int collect_unfinished(void *ctx, uint64_t ttid, uint64_t tid)
{
	(void)tid;
	return neo_id_list_add(ctx, ttid);
}

/* As upstream: when operation starts, every staged transaction is dropped,
 * locked ones too.  Verification already committed what the cluster
 * committed (ValidateTransaction); a storage joining a running cluster
 * has its cells out of date, and replication brings back anything
 * committed elsewhere.  Kept, a locked one would be committed twice:
 * by replication, then by the next verification. */
void storage_drop_unfinished(struct storage *s)
{
	struct neo_id_list ttids = { 0 };

	int rc = s->be->txn_unfinished(s->db, collect_unfinished, &ttids);

	/* a failed listing or abort leaves staged rows that the next start
	 * would commit: the node stops (storage_db_failed) */
	if (rc != NEO_BACKEND_OK) {
		storage_db_failed(s, rc == STORAGE_ENOMEM ? rc : NEO_BACKEND_EIO,
				  "listing unfinished transactions");
		neo_id_list_free(&ttids);
		return;
	}
	for (size_t i = 0; rc == NEO_BACKEND_OK && i < ttids.count; i++)
		rc = storage_write_rc(s->be->txn_abort(s->db, ttids.ids[i], ignore_data_id, NULL));
	if (storage_db_failed(s, rc == NEO_BACKEND_OK || rc == STORAGE_ENOMEM ? rc : NEO_BACKEND_EIO,
			      "dropping unfinished transactions")) {
		neo_id_list_free(&ttids);
		return;
	}
	if (ttids.count) {
		neo_log(NEO_LOG_INFO, "dropped %u unfinished transaction(s)", ttids.count);
		storage_db_failed(s, s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC),
				  "dropping unfinished transactions");
	}
	neo_id_list_free(&ttids);
}

/* --- Dispatch ------------------------------------------------------------- */

/* Takes object out of txn (a conflict found at relock goes back to the
 * client for resolution, as upstream): its data, for the answer, in
 * *data (malloc'ed copy, or none). */
static uint8_t *unstore(struct storage *s, struct storage_txn *txn,
			struct staged_object *object, struct neo_opt_object_data *data,
			uint8_t checksum[20])
{
	uint8_t *copy = NULL;
	struct neo_bytes bytes = { 0 };
	uint8_t compression = 0;

	data->has = false;
	if (object->data_id.has &&
	    s->be->data_get(s->db, object->data_id.id, &compression, checksum, &bytes) ==
		    NEO_BACKEND_OK) {
		copy = neo_malloc(bytes.size + 1);
		if (copy) {
			memcpy(copy, bytes.data, bytes.size);
			data->has = true;
			data->v.compression = compression;
			data->v.checksum = (struct neo_bin){ checksum, 20 };
			data->v.data = (struct neo_bin){ copy, bytes.size };
		}
		if (!object->value_tid.has) {
			size_t pruned;
			int rc = storage_write_rc(s->be->data_prune(s->db, &object->data_id.id, 1, &pruned));

			if (rc == NEO_BACKEND_OK)
				rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
			storage_db_failed(s, rc, "pruning the data of a forgotten store");
		}
	}
	*object = txn->objects[--txn->object_count];
	return copy;
}

/*
 * AskRelockObject, the younger transaction's answer to NotifyDeadlock (as
 * upstream): its lock on oid goes, so that the older transaction waiting
 * in the queue takes it, then it locks again, waiting its turn.  Locking
 * again may find the object changed: the answer then gives the base
 * serial, the committed one and the data, and the store is forgotten
 * here; the client resolves the conflict and stores again.
 */
void storage_relock(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_relock_object *req = pkt->args;
	struct storage_txn *txn = neo_idmap_get(&s->txns, req->ttid);
	struct neo_answer_relock_object answer = { 0 };
	struct staged_object *object = txn ? txn_object(txn, req->oid, false) : NULL;
	uint8_t checksum[20], *data;
	uint64_t last;

	if (object == NULL || object->lockless || txn->voted) {
		neo_log(NEO_LOG_INFO, "nothing to relock for %016" PRIx64 " on %016" PRIx64,
			req->ttid, req->oid);
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_RELOCK_OBJECT, &answer);
		return;
	}
	if (neo_idmap_get(&s->write_locks, req->oid) == txn) {
		neo_idmap_remove(&s->write_locks, req->oid);
		object->deadlock_notified = false;
		storage_retry_delayed(s);
	}
	/* the waiting (older) transactions take the lock first: this relock
	 * waits its turn behind them */
	if (storage_retry_pending(s)) {
		storage_delay(s, conn, pkt);
		return;
	}
	switch (take_write_lock(s, txn, req->oid, object->serial, conn, pkt, &last)) {
	case WRITE_CONFLICT:
		neo_metric_inc(s->metrics.conflicts);
		answer.result.has = true;
		answer.result.v.serial = object->serial;
		answer.result.v.conflict_serial = last;
		data = unstore(s, txn, object, &answer.result.v.data, checksum);
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_RELOCK_OBJECT, &answer);
		neo_free(data);
		return;
	case WRITE_LOCKLESS:
		object->lockless = true;
		/* fall through */
	case WRITE_LOCKED:
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_RELOCK_OBJECT, &answer);
		return;
	default:	/* delayed (retried through here) or answered */
		return;
	}
}

void storage_client_abort(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	(void)conn;
	storage_abort_txn(s, ((const struct neo_abort_transaction *)pkt->args)->ttid);
}
