/*
 * client/txn.c - transactions (core/cluster/cluster.md section 9), as
 * upstream's neo/client/app.py and transactions.py:
 *
 *   begin   AskBeginTransaction to the master gives the ttid;
 *   store   AskStoreObject (or AskCheckCurrentSerial) sent at once to
 *           every writable cell of the oid's partition; answers are
 *           collected as they come: nil = locked, ZERO_TID = stored
 *           without a lock (replicating cell), another tid = conflict;
 *   vote    waits for every answer, hands conflicts back to the caller,
 *           then AskStoreTransaction (metadata) to the cells of the ttid's
 *           partition and AskVoteTransaction to the other storages written
 *           to; storages lost meanwhile are reported with FailedVote;
 *   finish  AskFinishTransaction to the master, then the cache learns
 *           the new revisions; a master lost then is asked again, once
 *           reconnected, with AskFinalTID;
 *   abort   AbortTransaction to the storages and the master.
 *
 * Round trips of a 1-object commit (new oids come 100 at a time, as
 * upstream's, client/read.c): five, and two fsyncs on the storage.
 *   begin   client - master: every store carries the ttid it gives;
 *   store   client - storage: the vote waits for the store's answer, as
 *           upstream's does.  Sending the vote right behind the stores is
 *           not wire safe: an upstream storage delays a store that waits
 *           for another transaction's lock but answers the vote at once,
 *           making durable a transaction without that object, and a voted
 *           transaction is no longer asked to relock (deadlock avoidance):
 *           two such transactions would wait for each other for good;
 *   vote    client - storage, and the vote's fsync;
 *   finish  client - master - storage (the lock and its fsync) - master -
 *           client: two; the unlock is a notification, not synced.
 * A store is written at once when no other store to its storage is in
 * flight (client/internal.h), so that a 1-object commit wakes no thread
 * before the vote.
 *
 * All of a transaction's state is under the network lock: user calls
 * prepare data (compression, checksums) without it.  A
 * transaction released (finished or aborted) while requests are still in
 * flight is freed when their answers are in.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "runtime/log.h"
#include "runtime/alloc.h"

static const uint8_t zero_checksum[20];
/* Stores waiting in a connection's output go once they reach this much
 * (the storage starts on them while the application makes the next). */
#define STORE_BATCH_BYTES (64u * 1024)

enum txn_kind { TXN_STORE, TXN_DELETE, TXN_UNDO, TXN_CHECK };

struct txn_object {
	uint64_t oid;
	uint64_t serial;		/* the base of the last store */
	enum txn_kind kind;
	uint8_t *data;			/* uncompressed; NULL once not needed */
	size_t size;
	uint32_t generation;		/* of the last store: older answers are stale */
	uint32_t awaiting;		/* answers to it still awaited */
	uint64_t conflict;		/* newest conflicting serial; 0: none */
	bool uncached;			/* a blob chunk: not kept for the cache */
};

/* A storage written to (upstream's conn_dict). */
struct txn_node {
	int32_t nid;
	bool failed;			/* a write to it was lost */
	bool metadata;			/* holds the ttid's partition */
};

/* A cell that took a write without a lock (replicating). */
struct lockless_cell {
	uint32_t partition;
	int32_t nid;
};

enum txn_wait { WAIT_NONE, WAIT_IDLE, WAIT_ROOM };

struct neo_txn {
	struct neo_client *c;
	uint64_t ttid;
	uint64_t generation;		/* the master's, at begin */
	struct neo_idmap objects;	/* oid -> txn_object */
	struct txn_object **list;	/* in first-store order */
	size_t count, capacity;
	struct txn_node *nodes;
	size_t node_count, node_capacity;
	struct lockless_cell *lockless;
	size_t lockless_count, lockless_capacity;
	size_t kept_bytes;		/* data kept to fill the cache at finish */
	size_t inflight_bytes;		/* store data sent, not yet answered */
	uint32_t pending;		/* requests to storages in flight */
	/* A call waiting, and for what: no request in flight, or room. */
	struct client_call *waiter;
	enum txn_wait wait;
	void (*resume)(struct neo_txn *txn, struct client_call *call);
	/* The vote's requests. */
	struct neo_ask_store_transaction meta;
	uint64_t *meta_oids;
	struct neo_opt_pack_info pack;	/* a pack transaction's order */
	uint64_t *pack_oids;
	bool stored;			/* vote is past the stores: deadlocks ignored */
	bool voted, finishing, released;
	int error;			/* a store or vote failed: vote reports it */
	char error_text[200];
};

/* One request to a storage for a transaction. */
struct txn_ask {
	struct neo_txn *txn;
	struct txn_object *object;	/* NULL for votes */
	uint32_t generation;
	int32_t nid;
	uint16_t code;
	struct store_blob *blob;	/* what a store sends, until sent */
	size_t bytes;			/* counted in inflight_bytes */
	bool counted;			/* a store written: counted in its link */
};

/* What one store sends, shared by the cells it goes to. */
struct store_blob {
	uint32_t refs;
	bool check_only;
	struct neo_ask_store_object store;
	struct neo_ask_check_current_serial check;
	uint8_t checksum[20];
	uint8_t *wire;			/* compressed data */
	size_t wire_size;
};

uint64_t neo_txn_ttid(const struct neo_txn *txn)
{
	return txn->ttid;
}

struct neo_client *client_txn_owner(const struct neo_txn *txn)
{
	return txn->c;
}

/* --- Bookkeeping (network thread) ---------------------------------------------------- */

static void blob_unref(struct store_blob *blob)
{
	if (blob && --blob->refs == 0) {
		neo_free(blob->wire);
		neo_free(blob);
	}
}

static void txn_free(struct neo_txn *txn)
{
	for (size_t i = 0; i < txn->count; i++) {
		neo_free(txn->list[i]->data);
		neo_free(txn->list[i]);
	}
	neo_free(txn->list);
	neo_idmap_free(&txn->objects);
	neo_free(txn->nodes);
	neo_free(txn->lockless);
	neo_free(txn->meta_oids);
	neo_free(txn->pack_oids);
	neo_free(txn);
}

/* Finished or aborted: forgotten by the client, freed once idle. */
static void txn_release(struct neo_txn *txn)
{
	struct neo_client *c = txn->c;

	if (txn->ttid && neo_idmap_get(&c->txns, txn->ttid) == txn)
		neo_idmap_remove(&c->txns, txn->ttid);
	txn->released = true;
	if (txn->pending == 0)
		txn_free(txn);
}

static void txn_set_error(struct neo_txn *txn, int status, const char *text)
{
	if (txn->error)
		return;
	txn->error = status;
	snprintf(txn->error_text, sizeof txn->error_text, "%s", text);
}

static size_t store_room(struct neo_txn *txn)
{
	/* As upstream: data on its way is bounded by the cache size. */
	return client_cache_max_bytes(txn->c->cache);
}

/* Something changed: wakes the call waiting, if its wait is over. */
static void txn_poke(struct neo_txn *txn)
{
	struct client_call *waiter = txn->waiter;

	if (txn->released) {
		if (txn->pending == 0)
			txn_free(txn);
		return;
	}
	if (waiter == NULL)
		return;
	if (txn->wait == WAIT_IDLE && txn->pending == 0) {
		txn->waiter = NULL;
		txn->wait = WAIT_NONE;
		txn->resume(txn, waiter);
	} else if (txn->wait == WAIT_ROOM && txn->inflight_bytes <= store_room(txn)) {
		txn->waiter = NULL;
		txn->wait = WAIT_NONE;
		client_call_done(txn->c, waiter, NEO_CLIENT_OK, NULL);
	}
}

static void txn_wait(struct neo_txn *txn, struct client_call *call, enum txn_wait wait,
		     void (*resume)(struct neo_txn *txn, struct client_call *call))
{
	txn->waiter = call;
	txn->wait = wait;
	txn->resume = resume;
	txn_poke(txn);
}

static struct txn_node *txn_node_find(struct neo_txn *txn, int32_t nid)
{
	for (size_t i = 0; i < txn->node_count; i++)
		if (txn->nodes[i].nid == nid)
			return &txn->nodes[i];
	return NULL;
}

/* The node, added to those written to if new. */
static struct txn_node *txn_node(struct neo_txn *txn, int32_t nid)
{
	struct txn_node *node = txn_node_find(txn, nid);

	if (node)
		return node;
	if (neo_grow(&txn->nodes, &txn->node_capacity, txn->node_count + 1,
		     sizeof *txn->nodes) < 0)
		return NULL;
	txn->nodes[txn->node_count] = (struct txn_node){ .nid = nid };
	return &txn->nodes[txn->node_count++];
}

static void node_failed(struct neo_txn *txn, int32_t nid)
{
	struct txn_node *node = txn_node(txn, nid);

	if (node == NULL) {
		txn_set_error(txn, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	if (!node->failed) {
		char name[16];

		neo_log(NEO_LOG_WARNING, "transaction %016llx: write to %s lost",
			(unsigned long long)txn->ttid, neo_nid_format(nid, name, sizeof name));
	}
	node->failed = true;
}

static void note_lockless(struct neo_txn *txn, uint32_t partition, int32_t nid)
{
	for (size_t i = 0; i < txn->lockless_count; i++)
		if (txn->lockless[i].partition == partition && txn->lockless[i].nid == nid)
			return;
	if (neo_grow(&txn->lockless, &txn->lockless_capacity, txn->lockless_count + 1,
		     sizeof *txn->lockless) < 0) {
		txn_set_error(txn, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	txn->lockless[txn->lockless_count++] = (struct lockless_cell){ partition, nid };
}

static bool is_lockless(const struct neo_txn *txn, uint32_t partition, int32_t nid)
{
	for (size_t i = 0; i < txn->lockless_count; i++)
		if (txn->lockless[i].partition == partition && txn->lockless[i].nid == nid)
			return true;
	return false;
}

static struct txn_object *txn_object(struct neo_txn *txn, uint64_t oid, bool create)
{
	struct txn_object *object = neo_idmap_get(&txn->objects, oid);

	if (object || !create)
		return object;
	if (neo_grow(&txn->list, &txn->capacity, txn->count + 1, sizeof *txn->list) < 0)
		return NULL;
	object = neo_calloc(1, sizeof *object);
	if (object == NULL || neo_idmap_put(&txn->objects, oid, object) < 0) {
		neo_free(object);
		return NULL;
	}
	object->oid = oid;
	txn->list[txn->count++] = object;
	return object;
}

static struct txn_ask *ask_new(struct neo_txn *txn, struct txn_object *object, int32_t nid,
			       uint16_t code)
{
	struct txn_ask *ask = neo_calloc(1, sizeof *ask);

	if (ask == NULL)
		return NULL;
	ask->txn = txn;
	ask->object = object;
	ask->generation = object ? object->generation : 0;
	ask->nid = nid;
	ask->code = code;
	txn->pending++;
	return ask;
}

static void ask_finish(struct txn_ask *ask)
{
	struct neo_txn *txn = ask->txn;

	blob_unref(ask->blob);
	txn->inflight_bytes -= ask->bytes;
	txn->pending--;
	neo_free(ask);
	txn_poke(txn);
}

/* True (and the call ended) when the transaction cannot go on. */
static bool txn_broken(struct neo_client *c, struct neo_txn *txn, struct client_call *call)
{
	if (txn->generation != c->generation) {
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED,
				 "lost the primary master during the transaction");
		return true;
	}
	if (txn->error) {
		client_call_done(c, call, txn->error, "%s", txn->error_text);
		return true;
	}
	return false;
}

/* --- Begin ---------------------------------------------------------------------------- */

struct begin_call {
	struct client_call call;
	struct neo_txn *txn;
	uint64_t tid;
};

static void begun(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		  void *arg)
{
	struct begin_call *bc = arg;
	struct neo_txn *txn = bc->txn;
	struct neo_client *c = txn->c;
	char text[200];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		client_call_unanswered(c, &bc->call, status);
		return;
	}
	if (answer->code != NEO_ANSWER_BEGIN_TRANSACTION) {
		client_error_text(answer, text, sizeof text);
		client_call_done(c, &bc->call, client_error_status(answer), "begin refused: %s", text);
		return;
	}
	txn->ttid = ((const struct neo_answer_begin_transaction *)answer->args)->ttid;
	if ((bc->tid && txn->ttid != bc->tid) || neo_idmap_put(&c->txns, txn->ttid, txn) < 0) {
		struct neo_abort_transaction abort_txn = { .ttid = txn->ttid };

		/* Not ours to use: the master forgets it. */
		if (c->master)
			neo_conn_notify(c->master, NEO_ABORT_TRANSACTION, &abort_txn);
		txn->ttid = 0;
		client_call_done(c, &bc->call, NEO_CLIENT_PROTOCOL, "begin: unexpected ttid");
		return;
	}
	client_call_done(c, &bc->call, NEO_CLIENT_OK, NULL);
}

static void begin_run(struct neo_client *c, struct client_call *call)
{
	struct begin_call *bc = (struct begin_call *)call;
	struct neo_ask_begin_transaction ask = { .tid = { bc->tid != 0, bc->tid } };

	bc->txn->generation = c->generation;
	if (!client_master_ask(c, call, NEO_ASK_BEGIN_TRANSACTION, &ask, begun, bc))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "lost the primary master");
}

int neo_client_begin(struct neo_client *client, uint64_t tid, struct neo_txn **txn)
{
	struct begin_call bc = { .tid = tid };
	int status;

	*txn = NULL;
	if (client->read_only)
		return client_fail(NEO_CLIENT_READ_ONLY, "read-only client");
	bc.txn = neo_calloc(1, sizeof *bc.txn);
	if (bc.txn == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	bc.txn->c = client;
	neo_idmap_init(&bc.txn->objects);
	bc.call.run = begin_run;
	bc.call.needs_ready = true;
	status = client_call(client, &bc.call);
	if (status != NEO_CLIENT_OK) {
		txn_free(bc.txn);
		return status;
	}
	*txn = bc.txn;
	return NEO_CLIENT_OK;
}

/* --- Stores ----------------------------------------------------------------------------- */

struct store_call {
	struct client_call call;
	struct neo_txn *txn;
	uint64_t oid, serial, data_serial;
	enum txn_kind kind;
	uint8_t *data;			/* uncompressed, handed to the object */
	size_t size;
	bool uncached;
	struct store_blob *blob;
};

/* A store written is answered (or lost): the stores waiting behind it
 * in the output go when this read ends (net/conn.c flushes then). */
static void store_landed(struct neo_client *c, struct txn_ask *ask)
{
	struct client_link *link;

	if (!ask->counted)
		return;
	link = neo_idmap_get(&c->links, (uint64_t)(uint32_t)ask->nid);
	if (link && link->stores_in_flight)
		link->stores_in_flight--;
	ask->counted = false;
}

static void store_answered(struct neo_conn *conn, enum neo_ask_status status,
			   struct neo_packet *answer, void *arg)
{
	struct txn_ask *ask = arg;
	struct neo_txn *txn = ask->txn;
	struct txn_object *object = ask->object;
	bool current = ask->generation == object->generation;
	char text[200];

	(void)conn;
	store_landed(txn->c, ask);
	if (txn->released) {
		ask_finish(ask);
		return;
	}
	if (status != NEO_ASK_ANSWERED) {
		node_failed(txn, ask->nid);
	} else if (answer->code == NEO_ANSWER_STORE_OBJECT
		   || answer->code == NEO_ANSWER_CHECK_CURRENT_SERIAL) {
		/* Both answers are one optional tid. */
		const struct neo_opt_p64 *conflict = answer->args;

		if (!current || !conflict->has)
			;	/* stale, or stored and locked */
		else if (conflict->v == NEO_ZERO_TID)
			note_lockless(txn, neo_ptable_partition(&txn->c->pt, object->oid), ask->nid);
		else if (conflict->v > object->conflict)
			object->conflict = conflict->v;
	} else {
		client_error_text(answer, text, sizeof text);
		txn_set_error(txn, client_error_status(answer), text);
	}
	if (current && object->awaiting && --object->awaiting == 0 && object->conflict == 0
	    && object->data) {
		/* Blob chunks never go to the cache (client/blob.c). */
		bool keep = !object->uncached;

		/* Written everywhere: keep the data only as far as the cache
		 * will take it at finish (as upstream). */
		if (keep && txn->kept_bytes + object->size < client_cache_max_bytes(txn->c->cache)) {
			txn->kept_bytes += object->size;
		} else {
			neo_free(object->data);
			object->data = NULL;
			object->size = 0;
		}
	}
	ask_finish(ask);
}

static void store_to_link(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct txn_ask *ask = arg;
	struct neo_txn *txn = ask->txn;
	struct store_blob *blob = ask->blob;
	int64_t sent = -1;

	(void)c;
	if (txn->released) {
		ask_finish(ask);
		return;
	}
	/* Written at once when no store to this storage is in flight, else
	 * left in the output until their answers come (as Nagle's
	 * algorithm): stores go in batches, and none waits for long, as a
	 * store must reach the storage about when it is made, its lock
	 * ordering it against other transactions (an application that
	 * stores, then waits for another transaction, relies on that:
	 * test_client's crossed stores).  See client/internal.h. */
	if (ok && blob->check_only)
		sent = neo_conn_ask_queued(link->conn, NEO_ASK_CHECK_CURRENT_SERIAL, &blob->check,
					   client_ask_timeout(c, NULL), store_answered, ask);
	else if (ok)
		sent = neo_conn_ask_queued(link->conn, NEO_ASK_STORE_OBJECT, &blob->store,
					   client_ask_timeout(c, NULL), store_answered, ask);
	if (sent >= 0) {
		ask->counted = true;
		if (link->stores_in_flight++ == 0
		    || neo_conn_output_size(link->conn) >= STORE_BATCH_BYTES)
			neo_conn_flush(link->conn);
		else
			c->stores_queued = true;
	}
	/* Encoded at once: the blob is no longer needed by this one. */
	ask->blob = NULL;
	blob_unref(blob);
	if (sent < 0) {
		node_failed(txn, ask->nid);
		store_answered(NULL, NEO_ASK_CLOSED, NULL, ask);
	}
}

/* Takes over the prepared store in the object. */
static void object_replace(struct txn_object *object, struct store_call *sc)
{
	neo_free(object->data);
	object->data = sc->data;
	object->size = sc->size;
	sc->data = NULL;
	object->kind = sc->kind;
	object->uncached = sc->uncached;
	object->serial = sc->serial;
	object->generation++;
	object->awaiting = 0;
	object->conflict = 0;
}

static void store_send(struct neo_client *c, struct store_call *sc, struct store_blob *blob)
{
	struct client_call *call = &sc->call;
	struct neo_txn *txn = sc->txn;
	struct txn_object *object;
	int32_t nids[CLIENT_MAX_CELLS];
	uint32_t partition, count, sent = 0;

	if (txn_broken(c, txn, call))
		return;
	if (txn->voted || txn->stored) {
		client_call_done(c, call, NEO_CLIENT_INVALID, "the transaction is already voted");
		return;
	}
	object = txn_object(txn, sc->oid, true);
	if (object == NULL) {
		client_call_done(c, call, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	if (sc->kind == TXN_CHECK && object->generation && object->kind != TXN_CHECK) {
		/* As upstream: checks come for objects not stored. */
		client_call_done(c, call, NEO_CLIENT_INVALID, "oid already stored in this transaction");
		return;
	}
	object_replace(object, sc);
	partition = neo_ptable_partition(&c->pt, object->oid);
	count = client_writable_cells(c, partition, nids, CLIENT_MAX_CELLS);
	for (uint32_t i = 0; i < count; i++) {
		struct txn_node *node = txn_node(txn, nids[i]);
		struct txn_ask *ask;

		if (node == NULL || node->failed)
			continue;
		ask = ask_new(txn, object, nids[i], 0);
		if (ask == NULL)
			continue;
		ask->blob = blob;
		blob->refs++;
		ask->bytes = blob->wire_size;
		txn->inflight_bytes += ask->bytes;
		object->awaiting++;
		sent++;
		client_link_get(c, nids[i], store_to_link, ask);
	}
	if (sent == 0) {
		/* As upstream: the transaction cannot commit without it. */
		char text[100];

		snprintf(text, sizeof text, "no storage available for write to partition %u",
			 partition);
		txn_set_error(txn, NEO_CLIENT_UNAVAILABLE, text);
		client_call_done(c, call, NEO_CLIENT_UNAVAILABLE, "%s", text);
		return;
	}
	/* As upstream: the data on its way is bounded; wait for answers. */
	txn_wait(txn, call, WAIT_ROOM, NULL);
}

static void store_run(struct neo_client *c, struct client_call *call)
{
	struct store_call *sc = (struct store_call *)call;
	struct store_blob *blob = sc->blob;

	/* From here the blob is the network thread's (its count is not
	 * shared between threads). */
	sc->blob = NULL;
	store_send(c, sc, blob);
	blob_unref(blob);
}

/* Prepares what a store sends (compression, checksum) in the caller's
 * thread, then hands it to the network thread.  data is copied. */
static int store_any(struct neo_txn *txn, uint64_t oid, uint64_t serial, enum txn_kind kind,
		     const void *data, size_t size, uint64_t data_serial, bool uncached,
		     int level)
{
	struct store_call sc = { .txn = txn, .oid = oid, .serial = serial, .kind = kind,
				 .data_serial = data_serial, .size = size, .uncached = uncached };
	struct store_blob *blob = neo_calloc(1, sizeof *blob);
	int compression = 0, status;

	if (blob == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	blob->refs = 1;
	if (kind == TXN_CHECK) {
		blob->check_only = true;
		blob->check = (struct neo_ask_check_current_serial){ txn->ttid, oid, serial };
	} else if (data) {
		sc.data = neo_malloc(size ? size : 1);
		if (sc.data == NULL
		    || client_encode_data(level, data, size, &blob->wire, &blob->wire_size,
					  &compression, blob->checksum) != NEO_CLIENT_OK) {
			neo_free(sc.data);
			blob_unref(blob);
			return client_fail(NEO_CLIENT_NOMEM, "out of memory");
		}
		memcpy(sc.data, data, size);
	} else {
		/* A deletion, or an undo whose revision has no data: empty data
		 * and a zero checksum (with data_serial for an undo). */
		memcpy(blob->checksum, zero_checksum, sizeof blob->checksum);
	}
	blob->store = (struct neo_ask_store_object){
		.oid = oid, .serial = serial, .compression = compression,
		.checksum = { blob->checksum, 20 },
		.data = { blob->wire, (uint32_t)blob->wire_size },
		.data_serial = { kind == TXN_UNDO, data_serial },
		.ttid = { true, txn->ttid } };
	sc.blob = blob;
	sc.call.run = store_run;
	sc.call.batchable = true;
	status = client_call(txn->c, &sc.call);
	/* Still ours if the call did not run. */
	neo_free(sc.data);
	blob_unref(sc.blob);
	return status;
}

int neo_txn_store(struct neo_txn *txn, uint64_t oid, uint64_t serial, const void *data,
		  size_t size)
{
	if (data == NULL || size == 0)
		return client_fail(NEO_CLIENT_INVALID, "no data: use neo_txn_delete");
	if (size > UINT32_MAX)
		return client_fail(NEO_CLIENT_INVALID, "record too big");
	return store_any(txn, oid, serial, TXN_STORE, data, size, 0, false, txn->c->compress);
}

int client_txn_store_uncached(struct neo_txn *txn, uint64_t oid, uint64_t serial,
			      const void *data, size_t size, bool compress)
{
	if (data == NULL || size == 0 || size > UINT32_MAX)
		return client_fail(NEO_CLIENT_INVALID, "bad chunk");
	return store_any(txn, oid, serial, TXN_STORE, data, size, 0, true,
			 compress ? txn->c->compress : 0);
}

int neo_txn_delete(struct neo_txn *txn, uint64_t oid, uint64_t serial)
{
	return store_any(txn, oid, serial, TXN_DELETE, NULL, 0, 0, false, 0);
}

/* The data of revision data_serial, which an undo also sends (as
 * upstream: for cells that lack it, and for conflict resolution). */
static int undo_data(struct neo_txn *txn, uint64_t oid, uint64_t data_serial,
		     struct neo_client_record *record)
{
	int status = neo_client_load_serial(txn->c, oid, data_serial, record);

	if (status == NEO_CLIENT_NO_DATA)
		return NEO_CLIENT_OK;	/* that revision undid a creation: no data */
	return status;
}

int neo_txn_store_undo(struct neo_txn *txn, uint64_t oid, uint64_t serial, uint64_t data_serial)
{
	struct neo_client_record record;
	int status;

	if (data_serial == 0)
		return client_fail(NEO_CLIENT_INVALID, "no revision to undo to");
	status = undo_data(txn, oid, data_serial, &record);
	if (status == NEO_CLIENT_OK)
		status = store_any(txn, oid, serial, TXN_UNDO, record.data, record.size, data_serial,
				   false, txn->c->compress);
	neo_client_record_clear(&record);
	return status;
}

int neo_txn_check_current(struct neo_txn *txn, uint64_t oid, uint64_t serial)
{
	return store_any(txn, oid, serial, TXN_CHECK, NULL, 0, 0, false, 0);
}

/* --- Deadlock avoidance ------------------------------------------------------------------ */

static void relock_answered(struct neo_conn *conn, enum neo_ask_status status,
			    struct neo_packet *answer, void *arg)
{
	struct txn_ask *ask = arg;
	struct neo_txn *txn = ask->txn;
	struct txn_object *object = ask->object;
	const struct neo_answer_relock_object *relock;
	char text[200];

	(void)conn;
	if (txn->released) {
		ask_finish(ask);
		return;
	}
	if (status != NEO_ASK_ANSWERED) {
		node_failed(txn, ask->nid);
		ask_finish(ask);
		return;
	}
	if (answer->code != NEO_ANSWER_RELOCK_OBJECT) {
		client_error_text(answer, text, sizeof text);
		txn_set_error(txn, client_error_status(answer), text);
		ask_finish(ask);
		return;
	}
	relock = answer->args;
	/* As upstream: a conflict found at relock counts unless a newer
	 * store already resolved it; the storage sends our data back in
	 * case we dropped it. */
	if (relock->result.has && ask->generation == object->generation
	    && relock->result.v.conflict_serial > object->serial
	    && relock->result.v.conflict_serial > object->conflict) {
		const struct neo_relock_result *r = &relock->result.v;

		object->conflict = r->conflict_serial;
		if (object->data == NULL && r->data.has && r->data.v.checksum.size == 20
		    && client_decode_data(r->data.v.data.data, r->data.v.data.size,
					  (int)r->data.v.compression, r->data.v.checksum.data,
					  &object->data, &object->size, text, sizeof text)
			       != NEO_CLIENT_OK)
			txn_set_error(txn, NEO_CLIENT_PROTOCOL,
				      "wrong data back from a storage (deadlock avoidance)");
	}
	ask_finish(ask);
}

void client_txn_deadlock(struct neo_client *c, struct client_link *link,
			 const struct neo_notify_deadlock *deadlock)
{
	struct neo_txn *txn = neo_idmap_get(&c->txns, deadlock->ttid);
	struct neo_ask_relock_object relock = { deadlock->ttid, deadlock->oid };
	struct txn_object *object;
	struct txn_ask *ask;

	/* As upstream: ignored once the vote is past the stores. */
	if (txn == NULL || txn->stored || txn->released
	    || (object = txn_object(txn, deadlock->oid, false)) == NULL)
		return;
	neo_log(NEO_LOG_INFO, "deadlock avoidance for oid %016llx in %016llx",
		(unsigned long long)deadlock->oid, (unsigned long long)deadlock->ttid);
	ask = ask_new(txn, object, link->nid, NEO_ASK_RELOCK_OBJECT);
	if (ask == NULL) {
		txn_set_error(txn, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	if (neo_conn_ask(link->conn, NEO_ASK_RELOCK_OBJECT, &relock, client_ask_timeout(c, NULL),
			 relock_answered, ask) < 0)
		relock_answered(NULL, NEO_ASK_CLOSED, NULL, ask);
}

/* --- Vote ----------------------------------------------------------------------------------- */

struct vote_call {
	struct client_call call;
	struct neo_txn *txn;
	struct neo_bin user, description, extension;
	struct neo_client_conflict *conflicts;
	size_t conflict_count;
};

static int collect_conflicts(struct neo_txn *txn, struct vote_call *vc)
{
	size_t n = 0;

	for (size_t i = 0; i < txn->count; i++)
		n += txn->list[i]->conflict != 0;
	if (n == 0)
		return 0;
	vc->conflicts = neo_calloc(n, sizeof *vc->conflicts);
	if (vc->conflicts == NULL)
		return -1;
	for (size_t i = 0; i < txn->count; i++) {
		struct txn_object *object = txn->list[i];
		struct neo_client_conflict *conflict;

		if (!object->conflict)
			continue;
		conflict = &vc->conflicts[vc->conflict_count++];
		conflict->oid = object->oid;
		conflict->committed_serial = object->conflict;
		conflict->base_serial = object->serial;
		conflict->read_conflict = object->kind == TXN_CHECK;
		if (object->data && (conflict->data = neo_malloc(object->size ? object->size : 1))) {
			memcpy(conflict->data, object->data, object->size);
			conflict->size = object->size;
		}
	}
	return (int)n;
}

static void vote_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct txn_ask *ask = arg;
	struct neo_txn *txn = ask->txn;
	char text[200];

	(void)conn;
	if (txn->released) {
		ask_finish(ask);
		return;
	}
	if (status != NEO_ASK_ANSWERED) {
		node_failed(txn, ask->nid);
	} else if (answer->code != NEO_ANSWER_STORE_TRANSACTION
		   && answer->code != NEO_ANSWER_VOTE_TRANSACTION) {
		client_error_text(answer, text, sizeof text);
		txn_set_error(txn, client_error_status(answer), text);
	}
	ask_finish(ask);
}

static void vote_to_link(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct txn_ask *ask = arg;
	struct neo_txn *txn = ask->txn;
	struct neo_ask_vote_transaction vote = { txn->ttid };
	const void *args = ask->code == NEO_ASK_STORE_TRANSACTION ? (const void *)&txn->meta
								  : (const void *)&vote;

	(void)c;
	if (txn->released) {
		ask_finish(ask);
		return;
	}
	if (!ok || neo_conn_ask(link->conn, ask->code, args, client_ask_timeout(c, NULL),
				vote_answered, ask) < 0)
		vote_answered(NULL, NEO_ASK_CLOSED, NULL, ask);
}

static void vote_send(struct neo_txn *txn, int32_t nid, uint16_t code)
{
	struct txn_ask *ask = ask_new(txn, NULL, nid, code);

	if (ask == NULL)
		txn_set_error(txn, NEO_CLIENT_NOMEM, "out of memory");
	else
		client_link_get(txn->c, nid, vote_to_link, ask);
}

static void vote_finish(struct neo_txn *txn, struct vote_call *vc)
{
	struct neo_client *c = txn->c;

	if (txn_broken(c, txn, &vc->call))
		return;
	txn->voted = true;
	client_call_done(c, &vc->call, NEO_CLIENT_OK, NULL);
}

static void failed_vote_answered(struct neo_conn *conn, enum neo_ask_status status,
				 struct neo_packet *answer, void *arg)
{
	struct vote_call *vc = arg;
	struct neo_txn *txn = vc->txn;
	char text[200];

	(void)conn;
	/* As upstream: a lost master is noticed by the finish. */
	if (status == NEO_ASK_ANSWERED
	    && !(answer->code == NEO_ERROR
		 && ((const struct neo_error *)answer->args)->code == NEO_ERROR_ACK)) {
		client_error_text(answer, text, sizeof text);
		if (client_error_status(answer) == NEO_CLIENT_INCOMPLETE)
			snprintf(text, sizeof text, "storages for which the vote failed cannot be "
				 "disconnected without making the cluster non-operational");
		txn_set_error(txn, client_error_status(answer), text);
	}
	vote_finish(txn, vc);
}

/* Some writes were lost: every partition written without a lock must
 * still have a locking cell (as upstream), and the master must agree to
 * drop the failed storages. */
static void vote_failures(struct neo_txn *txn, struct vote_call *vc)
{
	struct neo_client *c = txn->c;
	int64_t *failed = neo_calloc(txn->node_count + 1, sizeof *failed);
	struct neo_failed_vote ask = { .ttid = txn->ttid, .failed_uuids = { failed, 0 } };

	if (failed == NULL) {
		txn_set_error(txn, NEO_CLIENT_NOMEM, "out of memory");
		vote_finish(txn, vc);
		return;
	}
	for (size_t i = 0; i < txn->lockless_count; i++) {
		uint32_t p = txn->lockless[i].partition;
		bool locked = false;

		/* As upstream, a cell we did not lose counts as locking. */
		for (uint32_t j = 0; p < c->pt.num_partitions && j < c->pt.rows[p].count; j++) {
			int32_t nid = c->pt.rows[p].cells[j].nid;
			struct txn_node *node = txn_node_find(txn, nid);

			locked |= !(node && node->failed) && !is_lockless(txn, p, nid);
		}
		if (!locked) {
			char text[100];

			snprintf(text, sizeof text, "partition %u not fully write-locked", p);
			txn_set_error(txn, NEO_CLIENT_INCOMPLETE, text);
			neo_free(failed);
			vote_finish(txn, vc);
			return;
		}
	}
	for (size_t i = 0; i < txn->node_count; i++)
		if (txn->nodes[i].failed && client_node_running(c, txn->nodes[i].nid))
			failed[ask.failed_uuids.count++] = txn->nodes[i].nid;
	if (ask.failed_uuids.count == 0
	    || !client_master_ask(c, &vc->call, NEO_FAILED_VOTE, &ask, failed_vote_answered, vc))
		vote_finish(txn, vc);
	neo_free(failed);
}

static void vote_after_votes(struct neo_txn *txn, struct client_call *call)
{
	struct vote_call *vc = (struct vote_call *)call;
	bool failures = false;

	if (txn_broken(txn->c, txn, call))
		return;
	for (size_t i = 0; i < txn->node_count; i++)
		failures |= txn->nodes[i].failed;
	if (failures)
		vote_failures(txn, vc);
	else
		vote_finish(txn, vc);
}

/* Every store answered: conflicts go back to the caller, or the
 * metadata and votes go out. */
static void vote_after_stores(struct neo_txn *txn, struct client_call *call)
{
	struct vote_call *vc = (struct vote_call *)call;
	struct neo_client *c = txn->c;
	int32_t nids[CLIENT_MAX_CELLS];
	uint32_t partition, count, sent = 0, n = 0;
	int conflicts;

	if (txn_broken(c, txn, call))
		return;
	conflicts = collect_conflicts(txn, vc);
	if (conflicts < 0) {
		client_call_done(c, call, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	if (conflicts > 0) {
		bool read_conflict = false;

		for (size_t i = 0; i < vc->conflict_count; i++)
			read_conflict |= vc->conflicts[i].read_conflict;
		/* As upstream: a failed check cannot be resolved. */
		client_call_done(c, call, read_conflict ? NEO_CLIENT_READ_CONFLICT : NEO_CLIENT_CONFLICT,
				 "%zu conflict(s)%s", vc->conflict_count,
				 read_conflict ? ", on an object checked" : "");
		return;
	}
	neo_free(txn->meta_oids);
	txn->meta_oids = neo_malloc((txn->count + 1) * sizeof *txn->meta_oids);
	if (txn->meta_oids == NULL) {
		client_call_done(c, call, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	/* Checked oids are not part of the transaction's changes. */
	for (size_t i = 0; i < txn->count; i++)
		if (txn->list[i]->kind != TXN_CHECK)
			txn->meta_oids[n++] = txn->list[i]->oid;
	txn->meta = (struct neo_ask_store_transaction){
		.ttid = txn->ttid, .user = vc->user, .description = vc->description,
		.extension = vc->extension, .oids = { txn->meta_oids, n }, .pack = txn->pack };
	txn->stored = true;
	partition = neo_ptable_partition(&c->pt, txn->ttid);
	count = client_writable_cells(c, partition, nids, CLIENT_MAX_CELLS);
	for (uint32_t i = 0; i < count; i++) {
		struct txn_node *node = txn_node(txn, nids[i]);

		if (node == NULL || node->failed)
			continue;
		node->metadata = true;
		vote_send(txn, nids[i], NEO_ASK_STORE_TRANSACTION);
		sent++;
	}
	if (sent == 0) {
		client_call_done(c, call, NEO_CLIENT_UNAVAILABLE,
				 "no storage available for write to partition %u", partition);
		return;
	}
	for (size_t i = 0; i < txn->node_count; i++)
		if (!txn->nodes[i].failed && !txn->nodes[i].metadata)
			vote_send(txn, txn->nodes[i].nid, NEO_ASK_VOTE_TRANSACTION);
	txn_wait(txn, call, WAIT_IDLE, vote_after_votes);
}

static void vote_run(struct neo_client *c, struct client_call *call)
{
	struct vote_call *vc = (struct vote_call *)call;
	struct neo_txn *txn = vc->txn;

	if (txn->voted) {
		client_call_done(c, call, NEO_CLIENT_INVALID, "the transaction is already voted");
		return;
	}
	txn_wait(txn, call, WAIT_IDLE, vote_after_stores);
}

static struct neo_bin bin_of(const void *data, size_t size)
{
	return (struct neo_bin){ size ? data : (const uint8_t *)"", (uint32_t)size };
}

int neo_txn_vote(struct neo_txn *txn, const void *user, size_t user_size,
		 const void *description, size_t description_size,
		 const void *extension, size_t extension_size,
		 struct neo_client_conflict **conflicts, size_t *count)
{
	struct vote_call vc = { .txn = txn };
	int status;

	*conflicts = NULL;
	*count = 0;
	if ((user_size && !user) || (description_size && !description)
	    || (extension_size && !extension) || user_size > UINT32_MAX
	    || description_size > UINT32_MAX || extension_size > UINT32_MAX)
		return client_fail(NEO_CLIENT_INVALID, "bad metadata");
	vc.user = bin_of(user, user_size);
	vc.description = bin_of(description, description_size);
	vc.extension = bin_of(extension, extension_size);
	vc.call.run = vote_run;
	status = client_call(txn->c, &vc.call);
	if (status == NEO_CLIENT_CONFLICT || status == NEO_CLIENT_READ_CONFLICT) {
		*conflicts = vc.conflicts;
		*count = vc.conflict_count;
	} else {
		neo_client_conflicts_free(vc.conflicts, vc.conflict_count);
	}
	return status;
}

void neo_client_conflicts_free(struct neo_client_conflict *conflicts, size_t count)
{
	for (size_t i = 0; conflicts && i < count; i++)
		neo_free(conflicts[i].data);
	neo_free(conflicts);
}

/* --- Finish ----------------------------------------------------------------------------- */

enum finish_phase { FINISH_ASK, FINISH_FINAL_TID };

struct finish_call {
	struct client_call call;
	struct neo_txn *txn;
	enum finish_phase phase;
	uint64_t tid;
	struct neo_ask_final_tid final;
	struct read_req req;
};

/* Committed as tid: the cache learns the new revisions (as upstream's
 * answerTransactionFinished), unless the commit was only learnt after a
 * reconnection, which already dropped what may be stale. */
static void finish_commit(struct finish_call *fc, uint64_t tid, bool update_cache)
{
	struct neo_txn *txn = fc->txn;
	struct neo_client *c = txn->c;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; update_cache && i < txn->count; i++) {
		struct txn_object *object = txn->list[i];

		if (object->kind == TXN_CHECK)
			continue;
		client_cache_invalidate(c->cache, object->oid, tid);
		client_loads_invalidate(c, object->oid, tid);
		if (object->data && (object->kind == TXN_STORE || object->kind == TXN_UNDO))
			client_cache_store(c->cache, object->oid, tid, 0, object->data,
					   object->size);
	}
	if (tid > c->last_tid)
		c->last_tid = tid;
	pthread_mutex_unlock(&c->lock);
	fc->tid = tid;
	txn_release(txn);
	client_call_done(c, &fc->call, NEO_CLIENT_OK, NULL);
}

static void finish_not_committed(struct finish_call *fc)
{
	client_call_done(fc->txn->c, &fc->call, NEO_CLIENT_DISCONNECTED,
			 "lost the primary master during finish: the transaction was not committed");
}

static void final_tid_stored(struct read_req *req, int status)
{
	struct finish_call *fc = req->ctx;

	if (status == NEO_CLIENT_DISCONNECTED) {
		client_call_park(req->c, &fc->call, true);
		return;
	}
	if (status != NEO_CLIENT_OK) {
		client_call_done(req->c, &fc->call, status, "cannot learn the outcome: %s", req->err);
		return;
	}
	if (fc->tid == 0)
		finish_not_committed(fc);
	else
		finish_commit(fc, fc->tid, false);
}

static int final_tid_answered_by_storage(struct read_req *req, struct neo_packet *answer)
{
	struct finish_call *fc = req->ctx;

	if (answer->code != NEO_ANSWER_FINAL_TID) {
		client_error_text(answer, req->err, sizeof req->err);
		return READ_NEXT;
	}
	fc->tid = ((const struct neo_answer_final_tid *)answer->args)->tid.has
			  ? ((const struct neo_answer_final_tid *)answer->args)->tid.v : 0;
	return NEO_CLIENT_OK;
}

static void final_tid_answered(struct neo_conn *conn, enum neo_ask_status status,
			       struct neo_packet *answer, void *arg)
{
	struct finish_call *fc = arg;
	struct neo_client *c = fc->txn->c;
	uint64_t tid;
	char text[200];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		client_call_park(c, &fc->call, true);
		return;
	}
	if (answer->code != NEO_ANSWER_FINAL_TID) {
		client_error_text(answer, text, sizeof text);
		client_call_done(c, &fc->call, client_error_status(answer),
				 "cannot learn the outcome: %s", text);
		return;
	}
	/* None (or, from older nodes of ours, 0): not committed */
	tid = ((const struct neo_answer_final_tid *)answer->args)->tid.has
		      ? ((const struct neo_answer_final_tid *)answer->args)->tid.v : NEO_ZERO_TID;
	if (tid == NEO_ZERO_TID || tid == NEO_INVALID_TID) {
		finish_not_committed(fc);
	} else if (tid == NEO_MAX_TID) {
		/* As upstream: committed, the storages know as which tid. */
		fc->final.ttid = fc->txn->ttid;
		fc->req = (struct read_req){ .c = c, .code = NEO_ASK_FINAL_TID, .args = &fc->final,
					     .on_answer = final_tid_answered_by_storage,
					     .on_done = final_tid_stored, .ctx = fc };
		fc->req.partition = neo_ptable_partition(&c->pt, fc->txn->ttid);
		client_read_start(&fc->req);
	} else {
		finish_commit(fc, tid, false);
	}
}

static void finished(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg)
{
	struct finish_call *fc = arg;
	struct neo_client *c = fc->txn->c;
	char text[200];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		/* As upstream: the outcome is asked again, for as long as it
		 * takes to reach a master. */
		neo_log(NEO_LOG_WARNING, "%s during finish of %016llx",
			status == NEO_ASK_TIMEOUT ? "no answer from the master"
						  : "lost the master",
			(unsigned long long)fc->txn->ttid);
		fc->phase = FINISH_FINAL_TID;
		fc->call.timeout_note = "the outcome of the transaction is unknown";
		client_call_park(c, &fc->call, true);
		return;
	}
	if (answer->code != NEO_ANSWER_TRANSACTION_FINISHED) {
		client_error_text(answer, text, sizeof text);
		client_call_done(c, &fc->call, client_error_status(answer), "finish refused: %s",
				 text);
		return;
	}
	finish_commit(fc, ((const struct neo_answer_transaction_finished *)answer->args)->tid,
		      true);
}

/* Adds p to a list of distinct partitions. */
static void add_partition(struct neo_list_int *list, uint32_t p)
{
	for (uint32_t i = 0; i < list->count; i++)
		if (list->items[i] == p)
			return;
	list->items[list->count++] = p;
}

static void finish_ask(struct neo_client *c, struct finish_call *fc)
{
	struct neo_txn *txn = fc->txn;
	struct neo_ask_finish_transaction ask = { .ttid = txn->ttid, .pack = txn->pack };
	uint64_t *oids = neo_malloc((txn->count + 1) * sizeof *oids);
	int64_t *deleted = neo_malloc((txn->count + 1) * sizeof *deleted);
	int64_t *checked = neo_malloc((txn->count + 1) * sizeof *checked);

	ask.oids.items = oids;
	ask.deleted.items = deleted;
	ask.checked.items = checked;
	if (!oids || !deleted || !checked) {
		client_call_done(c, &fc->call, NEO_CLIENT_NOMEM, "out of memory");
		goto out;
	}
	/* As upstream: stored oids, and the partitions of deleted and of
	 * checked ones. */
	for (size_t i = 0; i < txn->count; i++) {
		const struct txn_object *object = txn->list[i];
		uint32_t p = neo_ptable_partition(&c->pt, object->oid);

		if (object->kind == TXN_CHECK)
			add_partition(&ask.checked, p);
		else if (object->kind == TXN_DELETE)
			add_partition(&ask.deleted, p);
		else
			oids[ask.oids.count++] = object->oid;
	}
	if (!client_master_ask(c, &fc->call, NEO_ASK_FINISH_TRANSACTION, &ask, finished, fc)) {
		client_call_done(c, &fc->call, NEO_CLIENT_DISCONNECTED,
				 "lost the primary master before finish");
		goto out;
	}
	txn->finishing = true;
out:
	neo_free(oids);
	neo_free(deleted);
	neo_free(checked);
}

static void finish_run(struct neo_client *c, struct client_call *call)
{
	struct finish_call *fc = (struct finish_call *)call;
	struct neo_txn *txn = fc->txn;
	struct neo_ask_final_tid final = { txn->ttid };

	if (fc->phase == FINISH_FINAL_TID) {
		if (!client_master_ask(c, call, NEO_ASK_FINAL_TID, &final, final_tid_answered, fc))
			client_call_park(c, call, true);
		return;
	}
	if (!txn->voted) {
		client_call_done(c, call, NEO_CLIENT_INVALID, "the transaction is not voted");
		return;
	}
	if (txn_broken(c, txn, call))
		return;
	finish_ask(c, fc);
}

int neo_txn_finish(struct neo_txn *txn, uint64_t *tid)
{
	struct finish_call fc = { .txn = txn };
	int status;

	fc.call.run = finish_run;
	status = client_call(txn->c, &fc.call);
	if (status == NEO_CLIENT_OK && tid)
		*tid = fc.tid;
	return status;
}

/* --- Abort ---------------------------------------------------------------------------------- */

struct abort_call {
	struct client_call call;
	struct neo_txn *txn;
};

static void abort_run(struct neo_client *c, struct client_call *call)
{
	struct neo_txn *txn = ((struct abort_call *)call)->txn;
	struct neo_abort_transaction to_storage = { .ttid = txn->ttid };
	struct neo_abort_transaction to_master = { .ttid = txn->ttid };
	int64_t *involved = neo_malloc((txn->node_count + 1) * sizeof *involved);

	/* After a finish was sent, the master ends the transaction itself
	 * (as upstream, whose finish forgets it). */
	if (txn->ttid && !txn->finishing) {
		/* As upstream: storages first, so that the abort follows every
		 * write on each connection; then the master, which tells those
		 * we may have missed. */
		for (size_t i = 0; i < txn->node_count; i++) {
			struct client_link *link = client_link_identified(c, txn->nodes[i].nid);

			if (link)
				neo_conn_notify(link->conn, NEO_ABORT_TRANSACTION, &to_storage);
			if (involved)
				involved[to_master.involved_uuids.count++] = txn->nodes[i].nid;
		}
		to_master.involved_uuids.items = involved;
		if (c->master && c->identified && txn->generation == c->generation)
			neo_conn_notify(c->master, NEO_ABORT_TRANSACTION, &to_master);
	}
	neo_free(involved);
	txn_release(txn);
	client_call_done(c, call, NEO_CLIENT_OK, NULL);
}

void neo_txn_abort(struct neo_txn *txn)
{
	struct abort_call ac = { .txn = txn };

	if (txn == NULL)
		return;
	ac.call.run = abort_run;
	client_call(txn->c, &ac.call);
}

void client_txns_close(struct neo_client *c)
{
	size_t index = 0, count = 0;
	uint64_t key;
	void *value;
	struct neo_txn **txns = neo_malloc((c->txns.count + 1) * sizeof *txns);

	while (txns && neo_idmap_next(&c->txns, &index, &key, &value))
		txns[count++] = value;
	for (size_t i = 0; i < count; i++) {
		if (txns[i]->waiter) {
			client_call_done(c, txns[i]->waiter, NEO_CLIENT_INVALID, "client closed");
			txns[i]->waiter = NULL;
		}
		txn_release(txns[i]);
	}
	neo_free(txns);
}

/* --- Undo --------------------------------------------------------------------------------- */

struct undo_entry {
	uint64_t oid;
	uint64_t current_serial, undo_serial;	/* undo_serial 0: creation undone */
	bool is_current, answered;
};

struct undo_part {
	struct read_req req;
	struct neo_ask_object_undo_serial ask;
	struct undo_call *uc;
};

struct undo_call {
	struct client_call call;
	struct neo_txn *txn;
	uint64_t undone_tid;
	struct undo_entry *entries;	/* sorted by oid */
	size_t count;
	struct undo_part *parts;
	uint64_t *part_oids;
	int32_t *exclude;
	uint32_t pending;
	int status;
	char err[200];
};

static int compare_entries(const void *a, const void *b)
{
	uint64_t x = ((const struct undo_entry *)a)->oid, y = ((const struct undo_entry *)b)->oid;

	return (x > y) - (x < y);
}

static struct undo_entry *undo_entry(struct undo_call *uc, uint64_t oid)
{
	struct undo_entry key = { .oid = oid };

	return bsearch(&key, uc->entries, uc->count, sizeof key, compare_entries);
}

static int undo_answered(struct read_req *req, struct neo_packet *answer)
{
	struct undo_part *part = req->ctx;
	const struct neo_answer_object_undo_serial *serials = answer->args;

	if (answer->code == NEO_ERROR) {
		/* As upstream: an object gone means a pack went by. */
		if (((const struct neo_error *)answer->args)->code == NEO_ERROR_OID_NOT_FOUND) {
			snprintf(req->err, sizeof req->err, "non-undoable transaction");
			return NEO_CLIENT_UNDO_ERROR;
		}
		client_error_text(answer, req->err, sizeof req->err);
		return client_error_status(answer);
	}
	if (answer->code != NEO_ANSWER_OBJECT_UNDO_SERIAL) {
		client_error_text(answer, req->err, sizeof req->err);
		return READ_NEXT;
	}
	for (uint32_t i = 0; i < serials->serials.count; i++) {
		struct undo_entry *entry = undo_entry(part->uc, serials->serials.keys[i]);
		const struct neo_undo_serial *value = &serials->serials.values[i];

		if (entry == NULL)
			continue;
		entry->current_serial = value->current_serial;
		entry->undo_serial = value->undo_serial.has ? value->undo_serial.v : 0;
		entry->is_current = value->is_current;
		entry->answered = true;
	}
	return NEO_CLIENT_OK;
}

static void undo_release(struct neo_client *c, struct undo_call *uc)
{
	if (--uc->pending)
		return;
	neo_free(uc->parts);
	neo_free(uc->part_oids);
	neo_free(uc->exclude);
	client_call_done(c, &uc->call, uc->status, "%s", uc->err);
}

static void undo_part_done(struct read_req *req, int status)
{
	struct undo_part *part = req->ctx;
	struct undo_call *uc = part->uc;

	if (status != NEO_CLIENT_OK && uc->status == NEO_CLIENT_OK) {
		uc->status = status;
		snprintf(uc->err, sizeof uc->err, "%s", req->err);
	}
	undo_release(req->c, uc);
}

/* One AskObjectUndoSerial per partition (as upstream), on cells the
 * transaction did not lose. */
static void undo_run(struct neo_client *c, struct client_call *call)
{
	struct undo_call *uc = (struct undo_call *)call;
	struct neo_txn *txn = uc->txn;
	uint32_t partitions = c->pt.num_partitions, parts = 0;
	size_t excluded = 0, used = 0;

	if (txn_broken(c, txn, call))
		return;
	uc->parts = neo_calloc(partitions ? partitions : 1, sizeof *uc->parts);
	uc->part_oids = neo_malloc((uc->count + 1) * sizeof *uc->part_oids);
	uc->exclude = neo_malloc((txn->node_count + 1) * sizeof *uc->exclude);
	if (!uc->parts || !uc->part_oids || !uc->exclude) {
		uc->pending = 1;
		uc->status = NEO_CLIENT_NOMEM;
		snprintf(uc->err, sizeof uc->err, "out of memory");
		undo_release(c, uc);
		return;
	}
	for (size_t i = 0; i < txn->node_count; i++)
		if (txn->nodes[i].failed)
			uc->exclude[excluded++] = txn->nodes[i].nid;
	for (uint32_t p = 0; p < partitions; p++) {
		struct undo_part *part = &uc->parts[parts];
		size_t first = used;

		for (size_t i = 0; i < uc->count; i++)
			if (neo_ptable_partition(&c->pt, uc->entries[i].oid) == p)
				uc->part_oids[used++] = uc->entries[i].oid;
		if (used == first)
			continue;
		part->uc = uc;
		part->ask = (struct neo_ask_object_undo_serial){
			.ttid = txn->ttid, .ltid = c->last_tid + 1, .undone_tid = uc->undone_tid,
			.oids = { uc->part_oids + first, (uint32_t)(used - first) } };
		part->req = (struct read_req){ .c = c, .partition = p,
					       .code = NEO_ASK_OBJECT_UNDO_SERIAL, .args = &part->ask,
					       .on_answer = undo_answered, .on_done = undo_part_done,
					       .ctx = part, .exclude = uc->exclude,
					       .exclude_count = excluded };
		parts++;
	}
	/* Every part may end at once: count them all first (and one more,
	 * for the loop itself). */
	uc->pending = parts + 1;
	for (uint32_t i = 0; i < parts; i++)
		client_read_start(&uc->parts[i].req);
	undo_release(c, uc);
}

/* The objects that changed since undone_tid, as the result of an undo
 * that cannot be done without conflict resolution. */
static int undo_refused(struct undo_call *uc, uint64_t **oids, size_t *count)
{
	for (size_t i = 0; i < uc->count; i++)
		if (uc->entries[i].answered && !uc->entries[i].is_current)
			(*oids)[(*count)++] = uc->entries[i].oid;
	if (*count == 0)
		return NEO_CLIENT_OK;
	return client_fail(NEO_CLIENT_UNDO_ERROR,
			   "%zu object(s) modified by a later transaction, such as %016llx", *count,
			   (unsigned long long)(*oids)[0]);
}

/* Stores the undo of each object: a back-pointer with its data, or a
 * deletion when the undone transaction created it. */
static int undo_store(struct neo_txn *txn, const struct undo_entry *entry)
{
	struct neo_client_record record = { 0 };
	int status = NEO_CLIENT_OK;

	if (entry->undo_serial == 0)
		return neo_txn_delete(txn, entry->oid, entry->current_serial);
	status = undo_data(txn, entry->oid, entry->undo_serial, &record);
	if (status == NEO_CLIENT_OK)
		status = store_any(txn, entry->oid, entry->current_serial, TXN_UNDO, record.data,
				   record.size, entry->undo_serial, false, txn->c->compress);
	neo_client_record_clear(&record);
	return status;
}

/* Asks the storages what undoing undone_tid means for each of its
 * objects (uc->entries, sorted by oid, to free by the caller). */
static int undo_lookup(struct neo_txn *txn, uint64_t undone_tid, struct undo_call *uc)
{
	struct neo_client_txn_info info;
	int status;

	*uc = (struct undo_call){ .txn = txn, .undone_tid = undone_tid };
	status = neo_client_transaction_info(txn->c, undone_tid, &info);
	if (status != NEO_CLIENT_OK)
		return status;
	uc->count = info.oid_count;
	uc->entries = neo_calloc(uc->count + 1, sizeof *uc->entries);
	if (uc->entries == NULL) {
		neo_client_txn_info_clear(&info);
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < uc->count; i++)
		uc->entries[i].oid = info.oids[i];
	neo_client_txn_info_clear(&info);
	qsort(uc->entries, uc->count, sizeof *uc->entries, compare_entries);
	uc->call.run = undo_run;
	return client_call(txn->c, &uc->call);
}

int neo_txn_undo(struct neo_txn *txn, uint64_t undone_tid, uint64_t **oids, size_t *count)
{
	struct undo_call uc;
	int status;

	*oids = NULL;
	*count = 0;
	status = undo_lookup(txn, undone_tid, &uc);
	if (status == NEO_CLIENT_OK || status == NEO_CLIENT_UNDO_ERROR) {
		*oids = neo_malloc((uc.count + 1) * sizeof **oids);
		if (*oids == NULL)
			status = client_fail(NEO_CLIENT_NOMEM, "out of memory");
	}
	if (status == NEO_CLIENT_OK)
		status = undo_refused(&uc, oids, count);
	/* As upstream: only objects the storages know of are undone. */
	for (size_t i = 0; status == NEO_CLIENT_OK && i < uc.count; i++)
		if (uc.entries[i].answered) {
			status = undo_store(txn, &uc.entries[i]);
			(*oids)[(*count)++] = uc.entries[i].oid;
		}
	if (status != NEO_CLIENT_OK && status != NEO_CLIENT_UNDO_ERROR) {
		neo_free(*oids);
		*oids = NULL;
		*count = 0;
	}
	neo_free(uc.entries);
	return status;
}

int neo_txn_undo_serials(struct neo_txn *txn, uint64_t undone_tid,
			 struct neo_client_undo_serial **serials, size_t *count)
{
	struct undo_call uc;
	int status;

	*serials = NULL;
	*count = 0;
	status = undo_lookup(txn, undone_tid, &uc);
	if (status == NEO_CLIENT_OK) {
		*serials = neo_malloc((uc.count + 1) * sizeof **serials);
		if (*serials == NULL)
			status = client_fail(NEO_CLIENT_NOMEM, "out of memory");
	}
	for (size_t i = 0; status == NEO_CLIENT_OK && i < uc.count; i++)
		if (uc.entries[i].answered)
			(*serials)[(*count)++] = (struct neo_client_undo_serial){
				.oid = uc.entries[i].oid,
				.current_serial = uc.entries[i].current_serial,
				.undo_serial = uc.entries[i].undo_serial,
				.is_current = uc.entries[i].is_current };
	neo_free(uc.entries);
	return status;
}

static int compare_oids(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int client_txn_set_pack(struct neo_txn *txn, uint64_t pack_tid, const uint64_t *oids,
			size_t count)
{
	neo_free(txn->pack_oids);
	txn->pack_oids = NULL;
	txn->pack = (struct neo_opt_pack_info){ true, { .pack_tid = pack_tid } };
	if (oids == NULL)
		return NEO_CLIENT_OK;
	txn->pack_oids = neo_malloc((count + 1) * sizeof *txn->pack_oids);
	if (txn->pack_oids == NULL)
		return NEO_CLIENT_NOMEM;
	memcpy(txn->pack_oids, oids, count * sizeof *oids);
	/* as upstream: the order's oids are sorted */
	qsort(txn->pack_oids, count, sizeof *oids, compare_oids);
	txn->pack.v.oids = (struct neo_opt_list_p64){ true, { txn->pack_oids, (uint32_t)count } };
	return NEO_CLIENT_OK;
}
