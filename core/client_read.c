/*
 * client_read.c - reads: a request goes to one readable cell of the
 * partition (in random order), and on a lost connection, a refusal or a
 * bad checksum to the next one (as upstream's _askStorageForRead).
 */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "tid.h"

#define INVALID_PARTITION 0xffffffffu
#define MAX_CELLS 32

struct read_op;
typedef int (*read_answer_fn)(struct neo_client *c, struct read_op *op, struct neo_packet *answer);

struct read_op {
	struct client_call call;
	uint32_t partition;
	int32_t nids[MAX_CELLS];
	uint32_t count, index;
	uint16_t code;
	const void *args;
	read_answer_fn on_answer;	/* returns a status; -1: try the next cell */
	void *out;
	uint64_t id;			/* the oid or tid asked */
	uint64_t invalidations;		/* at send time, for the cache */
	bool current;			/* load of the current revision */
	char last_error[128];
};

static void read_try(struct neo_client *c, struct read_op *op);

static void read_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct read_op *op = arg;
	struct neo_client *c = op->call.ctx;
	int result;

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		read_try(c, op);
		return;
	}
	if (answer->code == NEO_ERROR) {
		const struct neo_error *error = answer->args;

		if (error->code == NEO_ERROR_NON_READABLE_CELL || error->code == NEO_ERROR_NOT_READY) {
			read_try(c, op);
			return;
		}
		client_error_text(answer, op->last_error, sizeof op->last_error);
		client_call_done(c, &op->call, client_error_status(answer), "%s", op->last_error);
		return;
	}
	result = op->on_answer(c, op, answer);
	if (result < 0)
		read_try(c, op);
	else
		client_call_done(c, &op->call, result, "%s", op->last_error);
}

static void read_send(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct read_op *op = arg;

	if (!ok || neo_conn_ask(link->conn, op->code, op->args, 0, read_answered, op) < 0)
		read_try(c, op);
}

static void read_try(struct neo_client *c, struct read_op *op)
{
	if (op->index >= op->count) {
		client_call_done(c, &op->call, NEO_CLIENT_UNAVAILABLE,
				 "no storage available for partition %u%s%s", op->partition,
				 op->last_error[0] ? ": " : "", op->last_error);
		return;
	}
	client_link_get(c, op->nids[op->index++], read_send, op);
}

static void read_start(struct neo_client *c, struct client_call *call)
{
	struct read_op *op = (struct read_op *)call;

	op->call.ctx = c;
	if (!c->ready) {
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "not connected to the cluster");
		return;
	}
	op->partition = neo_ptable_partition(&c->pt, op->id);
	op->count = client_readable_cells(c, op->partition, op->nids, MAX_CELLS);
	op->index = 0;
	pthread_mutex_lock(&c->lock);
	op->invalidations = c->invalidations;
	pthread_mutex_unlock(&c->lock);
	read_try(c, op);
}

static int read_run(struct neo_client *c, struct read_op *op)
{
	op->call.run = read_start;
	op->call.needs_ready = true;
	return client_call(c, &op->call);
}

/* --- Loads ------------------------------------------------------------------ */

static int object_answered(struct neo_client *c, struct read_op *op, struct neo_packet *answer)
{
	const struct neo_answer_object *obj = answer->args;
	struct neo_client_record *out = op->out;
	static const uint8_t zero[20];

	if (answer->code != NEO_ANSWER_OBJECT || obj->checksum.size != 20)
		return NEO_CLIENT_PROTOCOL;
	out->oid = obj->oid;
	out->serial = obj->serial;
	out->next_serial = obj->next_serial.has ? obj->next_serial.v : 0;
	if (obj->data.size == 0 && memcmp(obj->checksum.data, zero, 20) == 0) {
		snprintf(op->last_error, sizeof op->last_error, "object deleted");
		return NEO_CLIENT_NO_DATA;
	}
	if (client_decode_data(obj->data.data, obj->data.size,
			       obj->compression.has ? (int)obj->compression.v : 0,
			       obj->checksum.data, &out->data, &out->size) != NEO_CLIENT_OK) {
		snprintf(op->last_error, sizeof op->last_error, "bad data from a storage");
		return -1;	/* as upstream: another cell may have it right */
	}
	pthread_mutex_lock(&c->lock);
	/* A revision loaded as current while an invalidation came in may
	 * already be stale: not cached then. */
	if (!op->current || out->next_serial || op->invalidations == c->invalidations)
		client_cache_put(c->cache, out);
	pthread_mutex_unlock(&c->lock);
	return NEO_CLIENT_OK;
}

static int load(struct neo_client *client, uint64_t oid, struct neo_ask_object *ask,
		bool current, struct neo_client_record *out)
{
	struct read_op op = { 0 };
	int status;

	memset(out, 0, sizeof *out);
	op.id = oid;
	op.code = NEO_ASK_OBJECT;
	op.args = ask;
	op.on_answer = object_answered;
	op.out = out;
	op.current = current;
	status = read_run(client, &op);
	if (status != NEO_CLIENT_OK)
		neo_client_record_clear(out);
	return status;
}

int neo_client_load(struct neo_client *client, uint64_t oid, struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid };
	bool hit;

	pthread_mutex_lock(&client->lock);
	hit = client_cache_get(client->cache, oid, 0, out);
	ask.before = (struct neo_opt_p64){ true, client->last_tid + 1 };
	pthread_mutex_unlock(&client->lock);
	if (hit)
		return NEO_CLIENT_OK;
	return load(client, oid, &ask, true, out);
}

int neo_client_load_serial(struct neo_client *client, uint64_t oid, uint64_t serial,
			   struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid, .at = { true, serial } };

	return load(client, oid, &ask, false, out);
}

int neo_client_load_before(struct neo_client *client, uint64_t oid, uint64_t before,
			   struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid, .before = { true, before } };
	bool hit;

	pthread_mutex_lock(&client->lock);
	hit = client_cache_get(client->cache, oid, before, out);
	pthread_mutex_unlock(&client->lock);
	if (hit)
		return NEO_CLIENT_OK;
	return load(client, oid, &ask, false, out);
}

void neo_client_record_clear(struct neo_client_record *record)
{
	free(record->data);
	memset(record, 0, sizeof *record);
}

/* --- History and transactions ----------------------------------------------- */

struct history_out {
	struct neo_client_history_entry **entries;
	size_t *count;
};

static int history_answered(struct neo_client *c, struct read_op *op, struct neo_packet *answer)
{
	const struct neo_answer_object_history *h = answer->args;
	struct history_out *out = op->out;

	(void)c;
	if (answer->code != NEO_ANSWER_OBJECT_HISTORY)
		return NEO_CLIENT_PROTOCOL;
	*out->entries = calloc(h->history.count + 1, sizeof **out->entries);
	if (*out->entries == NULL)
		return NEO_CLIENT_NOMEM;
	for (uint32_t i = 0; i < h->history.count; i++) {
		(*out->entries)[i].serial = h->history.items[i].serial;
		(*out->entries)[i].size = (uint64_t)h->history.items[i].size;
	}
	*out->count = h->history.count;
	return NEO_CLIENT_OK;
}

int neo_client_history(struct neo_client *client, uint64_t oid, size_t length,
		       struct neo_client_history_entry **entries, size_t *count)
{
	struct neo_ask_object_history ask = { .oid = oid, .first = 0,
					      .last = (int64_t)(length ? length : 1) };
	struct history_out out = { entries, count };
	struct read_op op = { 0 };

	*entries = NULL;
	*count = 0;
	op.id = oid;
	op.code = NEO_ASK_OBJECT_HISTORY;
	op.args = &ask;
	op.on_answer = history_answered;
	op.out = &out;
	return read_run(client, &op);
}

static uint8_t *copy_bin(const struct neo_bin *bin, size_t *size)
{
	uint8_t *copy = malloc(bin->size + 1);

	if (copy) {
		memcpy(copy, bin->data, bin->size);
		copy[bin->size] = 0;
	}
	*size = bin->size;
	return copy;
}

static int info_answered(struct neo_client *c, struct read_op *op, struct neo_packet *answer)
{
	const struct neo_answer_transaction_information *t = answer->args;
	struct neo_client_txn_info *out = op->out;

	(void)c;
	if (answer->code != NEO_ANSWER_TRANSACTION_INFORMATION)
		return NEO_CLIENT_PROTOCOL;
	out->tid = t->tid;
	out->user = copy_bin(&t->user, &out->user_size);
	out->description = copy_bin(&t->description, &out->description_size);
	out->extension = copy_bin(&t->extension, &out->extension_size);
	out->packed = t->packed;
	out->oids = calloc(t->oids.count + 1, sizeof *out->oids);
	if (!out->user || !out->description || !out->extension || !out->oids)
		return NEO_CLIENT_NOMEM;
	memcpy(out->oids, t->oids.items, t->oids.count * sizeof *out->oids);
	out->oid_count = t->oids.count;
	return NEO_CLIENT_OK;
}

int neo_client_transaction_info(struct neo_client *client, uint64_t tid,
				struct neo_client_txn_info *out)
{
	struct neo_ask_transaction_information ask = { .tid = tid };
	struct read_op op = { 0 };
	int status;

	memset(out, 0, sizeof *out);
	op.id = tid;
	op.code = NEO_ASK_TRANSACTION_INFORMATION;
	op.args = &ask;
	op.on_answer = info_answered;
	op.out = out;
	status = read_run(client, &op);
	if (status != NEO_CLIENT_OK)
		neo_client_txn_info_clear(out);
	return status;
}

void neo_client_txn_info_clear(struct neo_client_txn_info *info)
{
	free(info->user);
	free(info->description);
	free(info->extension);
	free(info->oids);
	memset(info, 0, sizeof *info);
}

/* --- Lists over every partition ------------------------------------------------ */

/* Asks one request per partition (or per storage) and merges tid lists. */
struct list_op {
	struct client_call call;
	struct neo_client *c;
	uint16_t code;
	uint64_t start, stop;
	size_t length, first, last;
	uint32_t pending;
	uint64_t *tids;
	size_t count, capacity;
	int status;
};

static void list_finish(struct list_op *op)
{
	if (--op->pending == 0)
		client_call_done(op->c, &op->call, op->status, op->status ? "a storage failed" : NULL);
}

static void list_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct list_op *op = arg;
	const struct neo_list_p64 *tids;

	(void)conn;
	if (status != NEO_ASK_ANSWERED
	    || (answer->code != NEO_ANSWER_TIDS && answer->code != NEO_ANSWER_TIDS_FROM)) {
		op->status = NEO_CLIENT_UNAVAILABLE;
		list_finish(op);
		return;
	}
	tids = answer->code == NEO_ANSWER_TIDS ? &((const struct neo_answer_tids *)answer->args)->tids
					       : &((const struct neo_answer_tids_from *)answer->args)->tids;
	for (uint32_t i = 0; i < tids->count; i++) {
		if (op->count == op->capacity) {
			size_t capacity = op->capacity ? op->capacity * 2 : 256;
			uint64_t *grown = realloc(op->tids, capacity * sizeof *grown);

			if (grown == NULL) {
				op->status = NEO_CLIENT_NOMEM;
				break;
			}
			op->tids = grown;
			op->capacity = capacity;
		}
		op->tids[op->count++] = tids->items[i];
	}
	list_finish(op);
}

struct list_send {
	struct list_op *op;
	uint32_t partition;
};

static void list_send(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct list_send *send = arg;
	struct list_op *op = send->op;

	(void)c;
	if (ok && op->code == NEO_ASK_TIDS) {
		struct neo_ask_tids ask = { 0, (int64_t)op->last, INVALID_PARTITION };

		ok = neo_conn_ask(link->conn, NEO_ASK_TIDS, &ask, 0, list_answered, op) >= 0;
	} else if (ok) {
		struct neo_ask_tids_from ask = { op->start, op->stop, (int64_t)op->length,
						 send->partition };

		ok = neo_conn_ask(link->conn, NEO_ASK_TIDS_FROM, &ask, 0, list_answered, op) >= 0;
	}
	free(send);
	if (!ok) {
		op->status = NEO_CLIENT_UNAVAILABLE;
		list_finish(op);
	}
}

static void list_start(struct neo_client *c, struct client_call *call)
{
	struct list_op *op = (struct list_op *)call;
	int32_t nids[MAX_CELLS];

	op->c = c;
	op->pending = 1;
	if (op->code == NEO_ASK_TIDS) {
		/* undoLog: every storage with a readable cell, all partitions. */
		for (size_t i = 0; i < c->nodes.count; i++) {
			struct neo_node *node = c->nodes.nodes[i];
			struct list_send *send;

			if (node->type != NEO_NODE_STORAGE || node->state != NEO_NODE_RUNNING
			    || (send = calloc(1, sizeof *send)) == NULL)
				continue;
			send->op = op;
			op->pending++;
			client_link_get(c, node->nid, list_send, send);
		}
	} else {
		for (uint32_t p = 0; p < c->pt.num_partitions; p++) {
			struct list_send *send;

			if (client_readable_cells(c, p, nids, MAX_CELLS) == 0) {
				op->status = NEO_CLIENT_UNAVAILABLE;
				continue;
			}
			send = calloc(1, sizeof *send);
			if (send == NULL)
				continue;
			send->op = op;
			send->partition = p;
			op->pending++;
			client_link_get(c, nids[0], list_send, send);
		}
	}
	list_finish(op);
}

static int compare_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y) - (x > y);
}

static size_t sort_unique(uint64_t *ids, size_t count, bool descending)
{
	size_t kept = 0;

	qsort(ids, count, sizeof *ids, compare_desc);
	for (size_t i = 0; i < count; i++)
		if (kept == 0 || ids[kept - 1] != ids[i])
			ids[kept++] = ids[i];
	if (!descending)
		for (size_t i = 0; i < kept / 2; i++) {
			uint64_t tmp = ids[i];

			ids[i] = ids[kept - 1 - i];
			ids[kept - 1 - i] = tmp;
		}
	return kept;
}

int neo_client_undo_log(struct neo_client *client, uint64_t first, uint64_t last,
			uint64_t **tids, size_t *count)
{
	struct list_op op = { .code = NEO_ASK_TIDS, .first = first, .last = last };
	int status;

	*tids = NULL;
	*count = 0;
	if (first >= last)
		return NEO_CLIENT_OK;
	op.call.run = list_start;
	op.call.needs_ready = true;
	status = client_call(client, &op.call);
	if (status == NEO_CLIENT_OK) {
		size_t n = sort_unique(op.tids, op.count, true);

		if (n > first) {
			size_t take = n - first < last - first ? n - first : last - first;

			memmove(op.tids, op.tids + first, take * sizeof *op.tids);
			*tids = op.tids;
			*count = take;
			return NEO_CLIENT_OK;
		}
	}
	free(op.tids);
	return status;
}

int neo_client_tids_from(struct neo_client *client, uint64_t start, uint64_t stop,
			 size_t length, uint64_t **tids, size_t *count)
{
	struct list_op op = { .code = NEO_ASK_TIDS_FROM, .start = start, .stop = stop,
			      .length = length };
	int status;

	op.call.run = list_start;
	op.call.needs_ready = true;
	status = client_call(client, &op.call);
	*tids = NULL;
	*count = 0;
	if (status != NEO_CLIENT_OK) {
		free(op.tids);
		return status;
	}
	*count = sort_unique(op.tids, op.count, false);
	if (length && *count > length)
		*count = length;
	*tids = op.tids;
	return NEO_CLIENT_OK;
}

/* --- From the master ----------------------------------------------------------- */

struct master_op {
	struct client_call call;
	struct neo_client *c;
	size_t count;
	uint64_t *oids;
};

static void oids_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct master_op *op = arg;
	const struct neo_answer_new_oids *new_oids;

	(void)conn;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_NEW_OIDS) {
		client_call_done(op->c, &op->call, NEO_CLIENT_DISCONNECTED, "master lost");
		return;
	}
	new_oids = answer->args;
	for (size_t i = 0; i < op->count && i < new_oids->oids.count; i++)
		op->oids[i] = new_oids->oids.items[i];
	client_call_done(op->c, &op->call, new_oids->oids.count >= op->count ? NEO_CLIENT_OK
									     : NEO_CLIENT_PROTOCOL, NULL);
}

static void oids_start(struct neo_client *c, struct client_call *call)
{
	struct master_op *op = (struct master_op *)call;
	struct neo_ask_new_oids ask = { .count = (int64_t)op->count };

	op->c = c;
	if (!client_master_ask(c, NEO_ASK_NEW_OIDS, &ask, oids_answered, op))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost");
}

int neo_client_new_oids(struct neo_client *client, size_t count, uint64_t *oids)
{
	struct master_op op = { .count = count, .oids = oids };

	if (count == 0 || count > 10000)
		return client_fail(NEO_CLIENT_INVALID, "count must be 1 to 10000");
	op.call.run = oids_start;
	op.call.needs_ready = true;
	return client_call(client, &op.call);
}

int neo_client_last_tid(struct neo_client *client, uint64_t *tid)
{
	pthread_mutex_lock(&client->lock);
	*tid = client->last_tid;
	pthread_mutex_unlock(&client->lock);
	return NEO_CLIENT_OK;
}

static void sync_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct master_op *op = arg;

	(void)conn;
	(void)answer;
	client_call_done(op->c, &op->call,
			 status == NEO_ASK_ANSWERED ? NEO_CLIENT_OK : NEO_CLIENT_DISCONNECTED, NULL);
}

static void sync_start(struct neo_client *c, struct client_call *call)
{
	struct master_op *op = (struct master_op *)call;

	op->c = c;
	/* As upstream: a Ping round trip to the master is a barrier for
	 * the invalidations sent before it. */
	if (!client_master_ask(c, NEO_PING, NULL, sync_answered, op))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "master lost");
}

int neo_client_sync(struct neo_client *client)
{
	struct master_op op = { 0 };

	op.call.run = sync_start;
	op.call.needs_ready = true;
	return client_call(client, &op.call);
}
