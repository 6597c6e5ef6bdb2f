/*
 * client_txn.c - transactions (cluster.md section 2.8): begin at the
 * master, stores sent at once to every writable cell, vote once every
 * store is answered (conflicts go back to the caller to resolve), finish
 * at the master, or abort everywhere.
 */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "tid.h"

#define MAX_CELLS 32

struct txn_object {
	uint64_t oid, serial;
	uint8_t *data;			/* uncompressed, for conflict reports */
	size_t size;
	bool deletion, check_only;
	uint32_t generation;		/* answers to older stores are stale */
	uint64_t conflict;		/* 0: none */
	bool reported;
};

struct neo_txn {
	struct neo_client *c;
	uint64_t ttid, tid;
	uint64_t master_generation;
	struct txn_object *objects;
	size_t count, capacity;
	uint32_t pending;		/* store answers awaited */
	uint32_t stored_ok;
	int32_t involved[256];		/* storages written to */
	uint32_t involved_count;
	bool failed;
	char error[200];
};

struct txn_call {
	struct client_call call;
	struct neo_txn *txn;
	size_t index;			/* object being stored */
	uint32_t awaited;
	const void *user, *description, *extension;
	size_t user_size, description_size, extension_size;
	uint64_t requested_tid;
	int status;
};

uint64_t neo_txn_ttid(const struct neo_txn *txn)
{
	return txn->ttid;
}

/* --- Begin -------------------------------------------------------------------- */

static void begun(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		  void *arg)
{
	struct txn_call *tc = arg;
	struct neo_client *c = tc->txn->c;
	char text[200];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		client_call_done(c, &tc->call, NEO_CLIENT_DISCONNECTED, "master lost");
		return;
	}
	if (answer->code != NEO_ANSWER_BEGIN_TRANSACTION) {
		client_error_text(answer, text, sizeof text);
		client_call_done(c, &tc->call, NEO_CLIENT_INVALID, "begin refused: %s", text);
		return;
	}
	tc->txn->ttid = ((const struct neo_answer_begin_transaction *)answer->args)->ttid;
	client_call_done(c, &tc->call, NEO_CLIENT_OK, NULL);
}

static void begin_start(struct neo_client *c, struct client_call *call)
{
	struct txn_call *tc = (struct txn_call *)call;
	struct neo_ask_begin_transaction ask = { .tid = { tc->requested_tid != 0,
							  tc->requested_tid } };

	tc->txn->master_generation = c->master_generation;
	if (!client_master_ask(c, NEO_ASK_BEGIN_TRANSACTION, &ask, begun, tc))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost");
}

int neo_client_begin(struct neo_client *client, uint64_t tid, struct neo_txn **txn)
{
	struct txn_call tc = { 0 };
	int status;

	if (client->read_only)
		return client_fail(NEO_CLIENT_READ_ONLY, "read-only client");
	tc.txn = calloc(1, sizeof *tc.txn);
	if (tc.txn == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	tc.txn->c = client;
	tc.requested_tid = tid;
	tc.call.run = begin_start;
	tc.call.needs_ready = true;
	status = client_call(client, &tc.call);
	if (status != NEO_CLIENT_OK) {
		free(tc.txn);
		return status;
	}
	*txn = tc.txn;
	return NEO_CLIENT_OK;
}

/* --- Stores ------------------------------------------------------------------- */

static void note_involved(struct neo_txn *txn, int32_t nid)
{
	for (uint32_t i = 0; i < txn->involved_count; i++)
		if (txn->involved[i] == nid)
			return;
	if (txn->involved_count < 256)
		txn->involved[txn->involved_count++] = nid;
}

struct store_send {
	struct neo_txn *txn;
	size_t index;
	uint32_t generation;
	uint8_t *wire_data;
	size_t wire_size;
	int compression;
	uint8_t checksum[20];
	uint64_t data_serial;		/* undo */
	uint32_t refs;
};

struct store_answer {
	struct neo_txn *txn;
	size_t index;
	uint32_t generation;
};

static void store_answered(struct neo_conn *conn, enum neo_ask_status status,
			   struct neo_packet *answer, void *arg)
{
	struct store_answer *sa = arg;
	struct neo_txn *txn = sa->txn;
	struct neo_client *c = txn->c;

	(void)conn;
	pthread_mutex_lock(&c->lock);
	if (status == NEO_ASK_ANSWERED
	    && (answer->code == NEO_ANSWER_STORE_OBJECT
		|| answer->code == NEO_ANSWER_CHECK_CURRENT_SERIAL)) {
		const struct neo_answer_store_object *stored = answer->args;
		struct txn_object *object = &txn->objects[sa->index];

		txn->stored_ok++;
		if (stored->conflict.has && stored->conflict.v != 0
		    && sa->generation == object->generation)
			object->conflict = stored->conflict.v;
	} else if (status == NEO_ASK_ANSWERED && answer->code == NEO_ERROR) {
		txn->failed = true;
		client_error_text(answer, txn->error, sizeof txn->error);
	}
	/* A lost storage: the others may be enough (checked at finish). */
	txn->pending--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	free(sa);
}

static void store_to_link(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct store_send *send = arg;
	struct neo_txn *txn = send->txn;
	struct txn_object *object = &txn->objects[send->index];
	struct store_answer *sa = calloc(1, sizeof *sa);
	bool sent = false;

	if (ok && sa) {
		sa->txn = txn;
		sa->index = send->index;
		sa->generation = send->generation;
		if (object->check_only) {
			struct neo_ask_check_current_serial ask = { txn->ttid, object->oid,
								    object->serial };

			sent = neo_conn_ask(link->conn, NEO_ASK_CHECK_CURRENT_SERIAL, &ask, 0,
					    store_answered, sa) >= 0;
		} else {
			struct neo_ask_store_object ask = { .oid = object->oid, .serial = object->serial,
							    .compression = send->compression,
							    .ttid = { true, txn->ttid } };

			ask.checksum = (struct neo_bin){ send->checksum, 20 };
			ask.data = (struct neo_bin){ send->wire_data, (uint32_t)send->wire_size };
			ask.data_serial = (struct neo_opt_p64){ send->data_serial != 0,
								send->data_serial };
			sent = neo_conn_ask(link->conn, NEO_ASK_STORE_OBJECT, &ask, 0, store_answered,
					    sa) >= 0;
		}
		if (sent)
			note_involved(txn, link->nid);
	}
	if (!sent) {
		free(sa);
		pthread_mutex_lock(&c->lock);
		txn->pending--;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	if (--send->refs == 0) {
		free(send->wire_data);
		free(send);
	}
}

static void store_start(struct neo_client *c, struct client_call *call)
{
	struct txn_call *tc = (struct txn_call *)call;
	struct neo_txn *txn = tc->txn;
	struct store_send *send = (struct store_send *)tc->call.ctx;
	int32_t nids[MAX_CELLS];
	uint32_t count;

	if (txn->master_generation != c->master_generation || !c->ready) {
		free(send->wire_data);
		free(send);
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost during transaction");
		return;
	}
	count = client_writable_cells(c, neo_ptable_partition(&c->pt, txn->objects[send->index].oid),
				      nids, MAX_CELLS);
	if (count == 0) {
		free(send->wire_data);
		free(send);
		client_call_done(c, call, NEO_CLIENT_UNAVAILABLE, "no storage for this object");
		return;
	}
	pthread_mutex_lock(&c->lock);
	txn->pending += count;
	pthread_mutex_unlock(&c->lock);
	send->refs = count + 1;
	for (uint32_t i = 0; i < count; i++)
		client_link_get(c, nids[i], store_to_link, send);
	if (--send->refs == 0) {
		free(send->wire_data);
		free(send);
	}
	client_call_done(c, call, NEO_CLIENT_OK, NULL);
}

static struct txn_object *txn_object_for(struct neo_txn *txn, uint64_t oid, size_t *index)
{
	for (size_t i = 0; i < txn->count; i++)
		if (txn->objects[i].oid == oid) {
			*index = i;
			return &txn->objects[i];
		}
	if (txn->count == txn->capacity) {
		size_t capacity = txn->capacity ? txn->capacity * 2 : 64;
		struct txn_object *objects;

		/* Answers index the array: never move it while stores fly. */
		pthread_mutex_lock(&txn->c->lock);
		objects = realloc(txn->objects, capacity * sizeof *objects);
		if (objects) {
			txn->objects = objects;
			txn->capacity = capacity;
		}
		pthread_mutex_unlock(&txn->c->lock);
		if (objects == NULL)
			return NULL;
	}
	memset(&txn->objects[txn->count], 0, sizeof *txn->objects);
	txn->objects[txn->count].oid = oid;
	*index = txn->count;
	return &txn->objects[txn->count++];
}

static int store_any(struct neo_txn *txn, uint64_t oid, uint64_t serial, const void *data,
		     size_t size, bool deletion, bool check_only, uint64_t data_serial)
{
	struct txn_call tc = { 0 };
	struct store_send *send = calloc(1, sizeof *send);
	struct txn_object *object;
	size_t index;

	if (send == NULL || (object = txn_object_for(txn, oid, &index)) == NULL) {
		free(send);
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	}
	pthread_mutex_lock(&txn->c->lock);
	free(object->data);
	object->data = NULL;
	object->size = 0;
	object->serial = serial;
	object->deletion = deletion;
	object->check_only = check_only && !object->data && object->generation == 0;
	object->conflict = 0;
	object->reported = false;
	object->generation++;
	pthread_mutex_unlock(&txn->c->lock);
	if (size) {
		object->data = malloc(size);
		if (object->data == NULL) {
			free(send);
			return client_fail(NEO_CLIENT_NOMEM, "out of memory");
		}
		memcpy(object->data, data, size);
		object->size = size;
	}
	send->txn = txn;
	send->index = index;
	send->generation = object->generation;
	send->data_serial = data_serial;
	if (!check_only && client_encode_data(deletion || data_serial ? 0 : txn->c->compress, data,
					      deletion || data_serial ? 0 : size, &send->wire_data,
					      &send->wire_size, &send->compression,
					      send->checksum) != NEO_CLIENT_OK) {
		free(send);
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	}
	tc.txn = txn;
	tc.call.ctx = send;
	tc.call.run = store_start;
	return client_call(txn->c, &tc.call);
}

int neo_txn_store(struct neo_txn *txn, uint64_t oid, uint64_t serial, const void *data,
		  size_t size)
{
	if (size == 0)
		return client_fail(NEO_CLIENT_INVALID, "empty data: use neo_txn_delete");
	return store_any(txn, oid, serial, data, size, false, false, 0);
}

int neo_txn_delete(struct neo_txn *txn, uint64_t oid, uint64_t serial)
{
	return store_any(txn, oid, serial, NULL, 0, true, false, 0);
}

int neo_txn_store_undo(struct neo_txn *txn, uint64_t oid, uint64_t serial, uint64_t data_serial)
{
	return store_any(txn, oid, serial, NULL, 0, false, false, data_serial);
}

int neo_txn_check_current(struct neo_txn *txn, uint64_t oid, uint64_t serial)
{
	return store_any(txn, oid, serial, NULL, 0, false, true, 0);
}

/* --- Vote ----------------------------------------------------------------------- */

static void wait_stores(struct neo_txn *txn)
{
	pthread_mutex_lock(&txn->c->lock);
	while (txn->pending)
		pthread_cond_wait(&txn->c->cond, &txn->c->lock);
	pthread_mutex_unlock(&txn->c->lock);
}

static int collect_conflicts(struct neo_txn *txn, struct neo_client_conflict **conflicts,
			     size_t *count)
{
	size_t n = 0;

	for (size_t i = 0; i < txn->count; i++)
		if (txn->objects[i].conflict)
			n++;
	*conflicts = NULL;
	*count = 0;
	if (n == 0)
		return NEO_CLIENT_OK;
	*conflicts = calloc(n, sizeof **conflicts);
	if (*conflicts == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	for (size_t i = 0; i < txn->count; i++) {
		struct txn_object *object = &txn->objects[i];
		struct neo_client_conflict *conflict;

		if (!object->conflict)
			continue;
		conflict = &(*conflicts)[(*count)++];
		conflict->oid = object->oid;
		conflict->committed_serial = object->conflict;
		conflict->base_serial = object->serial;
		conflict->read_conflict = object->check_only;
		if (object->size && (conflict->data = malloc(object->size))) {
			memcpy(conflict->data, object->data, object->size);
			conflict->size = object->size;
		}
	}
	return client_fail(NEO_CLIENT_CONFLICT, "%zu conflict(s)", *count);
}

void neo_client_conflicts_free(struct neo_client_conflict *conflicts, size_t count)
{
	for (size_t i = 0; conflicts && i < count; i++)
		free(conflicts[i].data);
	free(conflicts);
}

static void vote_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct txn_call *tc = arg;

	(void)conn;
	if (status != NEO_ASK_ANSWERED || (answer->code != NEO_ANSWER_STORE_TRANSACTION
					   && answer->code != NEO_ANSWER_VOTE_TRANSACTION))
		tc->status = NEO_CLIENT_INCOMPLETE;
	if (--tc->awaited == 0)
		client_call_done(tc->txn->c, &tc->call, tc->status,
				 tc->status ? "vote failed on a storage" : NULL);
}

static void vote_to_link(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct txn_call *tc = arg;
	struct neo_txn *txn = tc->txn;
	uint32_t ttid_partition = neo_ptable_partition(&c->pt, txn->ttid);
	bool metadata = neo_ptable_cell_state(&c->pt, ttid_partition, link ? link->nid : 0) >= 0;
	uint64_t *oids;

	if (!ok) {
		tc->status = NEO_CLIENT_INCOMPLETE;
		if (--tc->awaited == 0)
			client_call_done(c, &tc->call, tc->status, "vote failed on a storage");
		return;
	}
	if (!metadata) {
		struct neo_ask_vote_transaction ask = { txn->ttid };

		neo_conn_ask(link->conn, NEO_ASK_VOTE_TRANSACTION, &ask, 0, vote_answered, tc);
		return;
	}
	oids = calloc(txn->count + 1, sizeof *oids);
	{
		struct neo_ask_store_transaction ask = { .ttid = txn->ttid };
		uint32_t n = 0;

		for (size_t i = 0; oids && i < txn->count; i++)
			if (!txn->objects[i].check_only)
				oids[n++] = txn->objects[i].oid;
		ask.user = (struct neo_bin){ tc->user, (uint32_t)tc->user_size };
		ask.description = (struct neo_bin){ tc->description, (uint32_t)tc->description_size };
		ask.extension = (struct neo_bin){ tc->extension, (uint32_t)tc->extension_size };
		ask.oids = (struct neo_list_p64){ oids, n };
		neo_conn_ask(link->conn, NEO_ASK_STORE_TRANSACTION, &ask, 0, vote_answered, tc);
	}
	free(oids);
}

static void vote_start(struct neo_client *c, struct client_call *call)
{
	struct txn_call *tc = (struct txn_call *)call;
	struct neo_txn *txn = tc->txn;
	int32_t nids[MAX_CELLS];
	uint32_t count;

	if (txn->master_generation != c->master_generation || !c->ready) {
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost during transaction");
		return;
	}
	/* The cells of the ttid's partition keep the metadata. */
	count = client_writable_cells(c, neo_ptable_partition(&c->pt, txn->ttid), nids, MAX_CELLS);
	for (uint32_t i = 0; i < count; i++)
		note_involved(txn, nids[i]);
	tc->awaited = txn->involved_count + 1;
	for (uint32_t i = 0; i < txn->involved_count; i++)
		client_link_get(c, txn->involved[i], vote_to_link, tc);
	if (--tc->awaited == 0)
		client_call_done(c, call, tc->status, tc->status ? "vote failed" : NULL);
}

int neo_txn_vote(struct neo_txn *txn, const void *user, size_t user_size,
		 const void *description, size_t description_size,
		 const void *extension, size_t extension_size,
		 struct neo_client_conflict **conflicts, size_t *count)
{
	struct txn_call tc = { 0 };
	int status;

	*conflicts = NULL;
	*count = 0;
	wait_stores(txn);
	if (txn->failed)
		return client_fail(NEO_CLIENT_PROTOCOL, "store refused: %s", txn->error);
	status = collect_conflicts(txn, conflicts, count);
	if (status != NEO_CLIENT_OK)
		return status;
	tc.txn = txn;
	tc.user = user;
	tc.user_size = user_size;
	tc.description = description;
	tc.description_size = description_size;
	tc.extension = extension;
	tc.extension_size = extension_size;
	tc.call.run = vote_start;
	return client_call(txn->c, &tc.call);
}

/* --- Finish and abort ------------------------------------------------------------ */

static void finished(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg)
{
	struct txn_call *tc = arg;
	struct neo_client *c = tc->txn->c;
	char text[200];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		client_call_done(c, &tc->call, NEO_CLIENT_DISCONNECTED,
				 "master lost during tpc_finish");
		return;
	}
	if (answer->code != NEO_ANSWER_TRANSACTION_FINISHED) {
		client_error_text(answer, text, sizeof text);
		client_call_done(c, &tc->call, NEO_CLIENT_INCOMPLETE, "finish refused: %s", text);
		return;
	}
	tc->txn->tid = ((const struct neo_answer_transaction_finished *)answer->args)->tid;
	pthread_mutex_lock(&c->lock);
	/* Our own writes: what we cached of these objects is old. */
	for (size_t i = 0; i < tc->txn->count; i++)
		client_cache_invalidate(c->cache, tc->txn->objects[i].oid, tc->txn->tid);
	if (tc->txn->tid > c->last_tid)
		c->last_tid = tc->txn->tid;
	pthread_mutex_unlock(&c->lock);
	client_call_done(c, &tc->call, NEO_CLIENT_OK, NULL);
}

static void finish_start(struct neo_client *c, struct client_call *call)
{
	struct txn_call *tc = (struct txn_call *)call;
	struct neo_txn *txn = tc->txn;
	struct neo_ask_finish_transaction ask = { .ttid = txn->ttid };
	uint64_t *oids = calloc(txn->count + 1, sizeof *oids);
	int64_t *deleted = calloc(txn->count + 1, sizeof *deleted);
	int64_t *checked = calloc(txn->count + 1, sizeof *checked);

	if (txn->master_generation != c->master_generation || !oids || !deleted || !checked) {
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost during transaction");
		goto out;
	}
	for (size_t i = 0; i < txn->count; i++) {
		const struct txn_object *object = &txn->objects[i];

		if (object->check_only)
			checked[ask.checked.count++] = neo_ptable_partition(&c->pt, object->oid);
		else
			oids[ask.oids.count++] = object->oid;
	}
	ask.oids.items = oids;
	ask.deleted.items = deleted;
	ask.checked.items = checked;
	if (!client_master_ask(c, NEO_ASK_FINISH_TRANSACTION, &ask, finished, tc))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost");
out:
	free(oids);
	free(deleted);
	free(checked);
}

static void txn_free(struct neo_txn *txn)
{
	for (size_t i = 0; i < txn->count; i++)
		free(txn->objects[i].data);
	free(txn->objects);
	free(txn);
}

int neo_txn_finish(struct neo_txn *txn, uint64_t *tid)
{
	struct txn_call tc = { .txn = txn };
	int status;

	tc.call.run = finish_start;
	status = client_call(txn->c, &tc.call);
	if (status == NEO_CLIENT_OK && tid)
		*tid = txn->tid;
	if (status == NEO_CLIENT_OK)
		txn_free(txn);
	return status;
}

static void abort_start(struct neo_client *c, struct client_call *call)
{
	struct txn_call *tc = (struct txn_call *)call;
	struct neo_txn *txn = tc->txn;
	struct neo_abort_transaction abort_txn = { .ttid = txn->ttid };
	int64_t involved[256];

	for (uint32_t i = 0; i < txn->involved_count; i++) {
		struct client_link *link = neo_idmap_get(&c->links, (uint64_t)(uint32_t)txn->involved[i]);

		involved[i] = txn->involved[i];
		if (link && link->conn && link->identified)
			neo_conn_notify(link->conn, NEO_ABORT_TRANSACTION, &abort_txn);
	}
	abort_txn.involved_uuids = (struct neo_list_int){ involved, txn->involved_count };
	if (c->master && txn->master_generation == c->master_generation && txn->ttid)
		neo_conn_notify(c->master, NEO_ABORT_TRANSACTION, &abort_txn);
	client_call_done(c, call, NEO_CLIENT_OK, NULL);
}

void neo_txn_abort(struct neo_txn *txn)
{
	struct txn_call tc = { .txn = txn };

	if (txn == NULL)
		return;
	wait_stores(txn);
	tc.call.run = abort_start;
	client_call(txn->c, &tc.call);
	txn_free(txn);
}

/* --- Undo ------------------------------------------------------------------------- */

int neo_txn_undo(struct neo_txn *txn, uint64_t undone_tid, uint64_t **oids, size_t *count)
{
	struct neo_client_txn_info info;
	int status;

	*oids = NULL;
	*count = 0;
	status = neo_client_transaction_info(txn->c, undone_tid, &info);
	if (status != NEO_CLIENT_OK)
		return status;
	/* Resolved per object through the storages' undo lookup. */
	for (size_t i = 0; i < info.oid_count; i++) {
		struct neo_client_record current;
		struct neo_client_record before;
		uint64_t oid = info.oids[i];

		status = neo_client_load(txn->c, oid, &current);
		if (status == NEO_CLIENT_NO_DATA) {
			status = NEO_CLIENT_OK;
			current.serial = 0;
		}
		if (status != NEO_CLIENT_OK)
			break;
		if (current.serial != undone_tid) {
			neo_client_record_clear(&current);
			status = client_fail(NEO_CLIENT_UNDO_ERROR,
					     "object %016llx changed since the undone transaction",
					     (unsigned long long)oid);
			break;
		}
		status = neo_client_load_before(txn->c, oid, undone_tid, &before);
		if (status == NEO_CLIENT_OK)
			status = neo_txn_store_undo(txn, oid, undone_tid, before.serial);
		else if (status == NEO_CLIENT_NOT_FOUND || status == NEO_CLIENT_NO_DATA)
			status = neo_txn_delete(txn, oid, undone_tid);
		neo_client_record_clear(&before);
		neo_client_record_clear(&current);
		if (status != NEO_CLIENT_OK)
			break;
	}
	if (status == NEO_CLIENT_OK) {
		*oids = info.oids;
		*count = info.oid_count;
		info.oids = NULL;
	}
	neo_client_txn_info_clear(&info);
	return status;
}

/* --- Storage notifications ----------------------------------------------------- */

void client_handle_storage_packet(struct neo_client *c, struct client_link *link,
				  struct neo_packet *pkt)
{
	(void)c;
	if (pkt->code == NEO_NOTIFY_DEADLOCK) {
		const struct neo_notify_deadlock *deadlock = pkt->args;
		struct neo_ask_relock_object relock = { deadlock->ttid, deadlock->oid };

		/* As upstream: give the lock back and take it again. */
		neo_conn_ask(link->conn, NEO_ASK_RELOCK_OBJECT, &relock, 0, NULL, NULL);
	}
}
