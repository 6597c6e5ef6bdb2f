/*
 * client/read.c - reads (core/cluster/cluster.md section 11.2): a request
 * goes to a readable cell of its partition and fails over to the next one
 * (the engine below, as upstream's _askStorageForRead); loads go through the
 * cache; lists ask every partition or every storage and merge.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "runtime/log.h"
#include "runtime/alloc.h"

#define INVALID_PARTITION 0xffffffffu
/* Rounds over the cells before giving up when cells refuse to serve
 * (upstream retries as long as the table says they are readable). */
#define MAX_ROUNDS 10
/* Undo back-pointers followed by a load. */
#define MAX_BACK_POINTERS 8
/* AskTIDsFrom without a bound still needs one on the wire. */
#define NO_LENGTH_BOUND 0x7fffffff

/* --- The failover engine ------------------------------------------------------------ */

enum { READ_RESTART = -3 };

static void read_next(struct read_req *req);

static void read_done(struct read_req *req, int status)
{
	req->on_done(req, status);
}

static bool excluded(const struct read_req *req, int32_t nid)
{
	for (size_t i = 0; i < req->exclude_count; i++)
		if (req->exclude[i] == nid)
			return true;
	return false;
}

static bool read_master_lost(struct read_req *req)
{
	if (req->generation == req->c->generation)
		return false;
	snprintf(req->err, sizeof req->err, "lost the primary master");
	read_done(req, NEO_CLIENT_DISCONNECTED);
	return true;
}

static void read_round(struct read_req *req)
{
	uint32_t count, kept = 0;

	if (read_master_lost(req))
		return;
	count = client_readable_cells(req->c, req->partition, req->nids, CLIENT_MAX_CELLS);
	for (uint32_t i = 0; i < count; i++)
		if (!excluded(req, req->nids[i]))
			req->nids[kept++] = req->nids[i];
	req->count = kept;
	req->index = 0;
	read_next(req);
}

static void read_synced(struct neo_conn *conn, enum neo_ask_status status,
			struct neo_packet *answer, void *arg)
{
	(void)conn;
	(void)status;
	(void)answer;
	read_round(arg);
}

static void read_answered(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct read_req *req = arg;
	int result;

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		snprintf(req->err, sizeof req->err, "%s", client_ask_status_text(status));
		result = READ_NEXT;
	} else if (answer->code == NEO_ERROR
		   && ((const struct neo_error *)answer->args)->code == NEO_ERROR_NON_READABLE_CELL) {
		/* As upstream: the table changes, the cell no longer serves. */
		result = READ_NEXT_UNCOUNTED;
	} else if (answer->code == NEO_ERROR
		   && ((const struct neo_error *)answer->args)->code == NEO_ERROR_NOT_READY) {
		client_error_text(answer, req->err, sizeof req->err);
		result = READ_NEXT;
	} else {
		result = req->on_answer(req, answer);
	}
	switch (result) {
	case READ_NEXT:
		req->failures++;
		/* fall through */
	case READ_NEXT_UNCOUNTED:
		read_next(req);
		break;
	case READ_RESTART:
		req->failures = req->rounds = 0;
		read_round(req);
		break;
	default:
		read_done(req, result);
		break;
	}
}

static void read_send(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct read_req *req = arg;
	char name[16];

	(void)c;
	if (ok && neo_conn_ask(link->conn, req->code, req->args, client_ask_timeout(c, NULL),
				read_answered, req) >= 0)
		return;
	snprintf(req->err, sizeof req->err, "cannot reach %s",
		 neo_nid_format(req->current, name, sizeof name));
	req->failures++;
	read_next(req);
}

static void read_next(struct read_req *req)
{
	struct neo_client *c = req->c;

	if (read_master_lost(req))
		return;
	if (req->index < req->count) {
		req->current = req->nids[req->index++];
		client_link_get(c, req->current, read_send, req);
		return;
	}
	/* As upstream: give up once failures outnumber the cells. */
	if (req->failures > req->count || ++req->rounds >= MAX_ROUNDS) {
		char why[sizeof req->err];

		snprintf(why, sizeof why, "%s", req->err);
		snprintf(req->err, sizeof req->err, "no storage available for partition %u%s%.150s",
			 req->partition, why[0] ? ": " : "", why);
		read_done(req, req->bad_checksum ? NEO_CLIENT_PROTOCOL : NEO_CLIENT_UNAVAILABLE);
		return;
	}
	/* As upstream: sync with the master (its table may be on its way)
	 * before another round. */
	if (!client_master_ask(c, NULL, NEO_PING, NULL, read_synced, req))
		read_round(req);	/* reports the lost master */
}

void client_read_start(struct read_req *req)
{
	req->generation = req->c->generation;
	req->failures = req->rounds = 0;
	req->bad_checksum = false;
	req->err[0] = '\0';
	read_round(req);
}

/* The status of an Error answer, its text in req->err. */
static int read_error(struct read_req *req, struct neo_packet *answer)
{
	client_error_text(answer, req->err, sizeof req->err);
	return client_error_status(answer);
}

/* --- Loads -------------------------------------------------------------------------- */

struct load_op {
	struct client_call call;
	struct read_req req;
	struct neo_ask_object ask;
	bool current;			/* before the last tid + 1, set at send time */
	struct load_watch watch;
	uint64_t serial, next_serial;	/* of the revision asked for */
	uint64_t data_serial;		/* its back-pointer, 0: none */
	int hops;			/* back-pointers followed */
	bool uncached;			/* the answer is not cached */
	struct neo_client_record *out;
};

void client_loads_invalidate(struct neo_client *c, uint64_t oid, uint64_t tid)
{
	for (struct load_watch *w = c->loads; w; w = w->next)
		if (w->oid == oid && w->invalidated == 0)
			w->invalidated = tid;
}

static void watch_remove(struct neo_client *c, struct load_watch *watch)
{
	for (struct load_watch **link = &c->loads; *link; link = &(*link)->next)
		if (*link == watch) {
			*link = watch->next;
			return;
		}
}

static int object_answered(struct read_req *req, struct neo_packet *answer)
{
	struct load_op *op = req->ctx;
	const struct neo_answer_object *obj = answer->args;
	int status;

	if (answer->code == NEO_ERROR)
		return read_error(req, answer);
	if (answer->code != NEO_ANSWER_OBJECT || obj->checksum.size != 20
	    || obj->oid != op->ask.oid) {
		client_error_text(answer, req->err, sizeof req->err);
		return READ_NEXT;
	}
	if (op->hops == 0) {
		op->serial = obj->serial;
		op->next_serial = obj->next_serial.has ? obj->next_serial.v : 0;
		op->data_serial = obj->data_serial.has ? obj->data_serial.v : 0;
	}
	if (obj->data.size == 0 && client_checksum_is_zero(&obj->checksum)) {
		/* An undo back-pointer: the data is that of an older revision. */
		if (obj->data_serial.has && op->hops < MAX_BACK_POINTERS) {
			op->hops++;
			op->ask = (struct neo_ask_object){ .oid = op->ask.oid,
							   .at = { true, obj->data_serial.v } };
			return READ_RESTART;
		}
		snprintf(req->err, sizeof req->err, "no data: deleted, or creation undone");
		return NEO_CLIENT_NO_DATA;
	}
	status = client_decode_data(obj->data.data, obj->data.size,
				    obj->compression.has ? (int)obj->compression.v : 0,
				    obj->checksum.data, &op->out->data, &op->out->size, req->err,
				    sizeof req->err);
	if (status == NEO_CLIENT_PROTOCOL) {
		/* As upstream: another cell may have it right. */
		char name[16];

		neo_log(NEO_LOG_ERROR, "%s from %s for oid %016llx", req->err,
			neo_nid_format(req->current, name, sizeof name),
			(unsigned long long)op->ask.oid);
		req->bad_checksum = true;
		return READ_NEXT;
	}
	return status;
}

static void load_done(struct read_req *req, int status)
{
	struct load_op *op = req->ctx;
	struct neo_client *c = req->c;
	struct neo_client_record *out = op->out;

	watch_remove(c, &op->watch);
	if (status == NEO_CLIENT_OK) {
		uint64_t next = op->next_serial;

		/* As upstream: an invalidation that came while loading closes
		 * the revision the storage thought current. */
		if (next == 0 && op->watch.invalidated && op->serial < op->watch.invalidated)
			next = op->watch.invalidated;
		out->oid = op->ask.oid;
		out->serial = op->serial;
		out->next_serial = next;
		pthread_mutex_lock(&c->lock);
		if (req->generation == c->generation && !op->uncached)
			client_cache_store(c->cache, out->oid, out->serial, next, out->data, out->size);
		pthread_mutex_unlock(&c->lock);
	}
	client_call_done(c, &op->call, status, "%s", req->err);
}

static void load_run(struct neo_client *c, struct client_call *call)
{
	struct load_op *op = (struct load_op *)call;

	/* Never newer than the last invalidation received. */
	if (op->current)
		op->ask.before = (struct neo_opt_p64){ true, c->last_tid + 1 };
	op->watch = (struct load_watch){ .oid = op->ask.oid, .next = c->loads };
	c->loads = &op->watch;
	op->req = (struct read_req){ .c = c, .code = NEO_ASK_OBJECT, .args = &op->ask,
				     .on_answer = object_answered, .on_done = load_done,
				     .ctx = op };
	op->req.partition = neo_ptable_partition(&c->pt, op->ask.oid);
	client_read_start(&op->req);
}

static int load(struct neo_client *client, struct neo_ask_object *ask, bool current,
		bool uncached, struct neo_client_record *out, uint64_t *data_serial)
{
	struct load_op op = { .ask = *ask, .current = current, .out = out,
			      .uncached = uncached };
	int status;

	op.call.run = load_run;
	op.call.needs_ready = true;
	status = client_call(client, &op.call);
	if (status != NEO_CLIENT_OK)
		neo_client_record_clear(out);
	if (status == NEO_CLIENT_NO_DATA && op.serial != 0) {
		/* A revision without data (deletion, creation undone): say
		 * which, to tell it from no revision at all (serial 0). */
		out->oid = ask->oid;
		out->serial = op.serial;
		out->next_serial = op.next_serial;
	}
	if (data_serial)
		*data_serial = op.data_serial;
	return status;
}

int client_load_uncached(struct neo_client *client, uint64_t oid, uint64_t before,
			 struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid, .before = { true, before } };

	memset(out, 0, sizeof *out);
	return load(client, &ask, false, true, out, NULL);
}

int neo_client_load(struct neo_client *client, uint64_t oid, struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid };
	bool hit;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&client->lock);
	hit = client_cache_load(client->cache, oid, 0, out);
	pthread_mutex_unlock(&client->lock);
	return hit ? NEO_CLIENT_OK : load(client, &ask, true, false, out, NULL);
}

int neo_client_load_serial(struct neo_client *client, uint64_t oid, uint64_t serial,
			   struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid, .at = { true, serial } };
	bool hit;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&client->lock);
	hit = client_cache_load_serial(client->cache, oid, serial, out);
	pthread_mutex_unlock(&client->lock);
	return hit ? NEO_CLIENT_OK : load(client, &ask, false, false, out, NULL);
}

int neo_client_load_before(struct neo_client *client, uint64_t oid, uint64_t before,
			   struct neo_client_record *out)
{
	struct neo_ask_object ask = { .oid = oid, .before = { true, before } };
	bool hit;

	memset(out, 0, sizeof *out);
	if (before == 0)
		return client_fail(NEO_CLIENT_INVALID, "nothing is before tid 0");
	pthread_mutex_lock(&client->lock);
	hit = client_cache_load(client->cache, oid, before, out);
	pthread_mutex_unlock(&client->lock);
	return hit ? NEO_CLIENT_OK : load(client, &ask, false, false, out, NULL);
}

int neo_client_load_serial_ex(struct neo_client *client, uint64_t oid, uint64_t serial,
			      struct neo_client_record *out, uint64_t *data_serial)
{
	struct neo_ask_object ask = { .oid = oid, .at = { true, serial } };

	/* Not from the cache, which keeps the data but not where it came
	 * from. */
	memset(out, 0, sizeof *out);
	*data_serial = 0;
	return load(client, &ask, false, false, out, data_serial);
}

void neo_client_record_clear(struct neo_client_record *record)
{
	neo_free(record->data);
	memset(record, 0, sizeof *record);
}

/* --- One request, one answer ------------------------------------------------------------ */

/* A read of one partition whose answer is turned into the caller's
 * result by on_answer. */
struct single_op {
	struct client_call call;
	struct read_req req;
	uint64_t id;			/* the oid or tid: its partition */
	void *out;
};

static void single_done(struct read_req *req, int status)
{
	struct single_op *op = req->ctx;

	client_call_done(req->c, &op->call, status, "%s", req->err);
}

static void single_run(struct neo_client *c, struct client_call *call)
{
	struct single_op *op = (struct single_op *)call;

	op->req.c = c;
	op->req.ctx = op;
	op->req.on_done = single_done;
	op->req.partition = neo_ptable_partition(&c->pt, op->id);
	client_read_start(&op->req);
}

static int single_read(struct neo_client *client, uint64_t id, uint16_t code, const void *args,
		       read_answer_fn on_answer, void *out)
{
	struct single_op op = { .id = id, .out = out };

	op.req.code = code;
	op.req.args = args;
	op.req.on_answer = on_answer;
	op.call.run = single_run;
	op.call.needs_ready = true;
	return client_call(client, &op.call);
}

struct history_out {
	struct neo_client_history_entry *entries;
	size_t count;
};

static int history_answered(struct read_req *req, struct neo_packet *answer)
{
	const struct neo_answer_object_history *h = answer->args;
	struct history_out *out = ((struct single_op *)req->ctx)->out;

	if (answer->code == NEO_ERROR) {
		int status = read_error(req, answer);

		/* No revision at all: the object does not exist. */
		return status == NEO_CLIENT_NO_DATA ? NEO_CLIENT_NOT_FOUND : status;
	}
	if (answer->code != NEO_ANSWER_OBJECT_HISTORY) {
		client_error_text(answer, req->err, sizeof req->err);
		return READ_NEXT;
	}
	out->entries = neo_calloc(h->history.count + 1, sizeof *out->entries);
	if (out->entries == NULL)
		return NEO_CLIENT_NOMEM;
	for (uint32_t i = 0; i < h->history.count; i++) {
		out->entries[i].serial = h->history.items[i].serial;
		out->entries[i].size = h->history.items[i].size > 0
				       ? (uint64_t)h->history.items[i].size : 0;
	}
	out->count = h->history.count;
	return NEO_CLIENT_OK;
}

int neo_client_history(struct neo_client *client, uint64_t oid, size_t length,
		       struct neo_client_history_entry **entries, size_t *count)
{
	struct neo_ask_object_history ask = { .oid = oid, .first = 0,
					      .last = (int64_t)(length ? length : 1) };
	struct history_out out = { NULL, 0 };
	int status;

	*entries = NULL;
	*count = 0;
	if (length > INT32_MAX)
		return client_fail(NEO_CLIENT_INVALID, "length too big");
	status = single_read(client, oid, NEO_ASK_OBJECT_HISTORY, &ask, history_answered, &out);
	if (status != NEO_CLIENT_OK) {
		neo_free(out.entries);
		return status;
	}
	*entries = out.entries;
	*count = out.count;
	return NEO_CLIENT_OK;
}

static uint8_t *copy_bin(const struct neo_bin *bin, size_t *size)
{
	uint8_t *copy = neo_malloc(bin->size + 1);

	if (copy) {
		if (bin->size)
			memcpy(copy, bin->data, bin->size);
		copy[bin->size] = 0;
	}
	*size = bin->size;
	return copy;
}

static int info_answered(struct read_req *req, struct neo_packet *answer)
{
	const struct neo_answer_transaction_information *t = answer->args;
	struct neo_client_txn_info *out = ((struct single_op *)req->ctx)->out;

	if (answer->code == NEO_ERROR)
		return read_error(req, answer);
	if (answer->code != NEO_ANSWER_TRANSACTION_INFORMATION) {
		client_error_text(answer, req->err, sizeof req->err);
		return READ_NEXT;
	}
	out->tid = t->tid;
	out->user = copy_bin(&t->user, &out->user_size);
	out->description = copy_bin(&t->description, &out->description_size);
	out->extension = copy_bin(&t->extension, &out->extension_size);
	out->packed = t->packed;
	out->oids = neo_malloc((t->oids.count + 1) * sizeof *out->oids);
	if (!out->user || !out->description || !out->extension || !out->oids)
		return NEO_CLIENT_NOMEM;
	if (t->oids.count)
		memcpy(out->oids, t->oids.items, t->oids.count * sizeof *out->oids);
	out->oid_count = t->oids.count;
	return NEO_CLIENT_OK;
}

int neo_client_transaction_info(struct neo_client *client, uint64_t tid,
				struct neo_client_txn_info *out)
{
	struct neo_ask_transaction_information ask = { .tid = tid };
	int status;

	memset(out, 0, sizeof *out);
	status = single_read(client, tid, NEO_ASK_TRANSACTION_INFORMATION, &ask, info_answered,
			     out);
	if (status != NEO_CLIENT_OK)
		neo_client_txn_info_clear(out);
	return status;
}

void neo_client_txn_info_clear(struct neo_client_txn_info *info)
{
	neo_free(info->user);
	neo_free(info->description);
	neo_free(info->extension);
	neo_free(info->oids);
	memset(info, 0, sizeof *info);
}

/* --- Lists of tids --------------------------------------------------------------------- */

struct tid_list {
	uint64_t *tids;
	size_t count, capacity;
};

static int tid_list_add(struct tid_list *list, const struct neo_list_p64 *tids)
{
	if (tids->count == 0)
		return 0;
	if (neo_grow(&list->tids, &list->capacity, list->count + tids->count,
		     sizeof *list->tids) < 0)
		return -1;
	memcpy(list->tids + list->count, tids->items, tids->count * sizeof *tids->items);
	list->count += tids->count;
	return 0;
}

static int compare_ascending(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts, drops duplicates (replicas answer the same tids), then keeps at
 * most `keep` (0: all) from the end that comes first. */
static void tid_list_finish(struct tid_list *list, bool descending, size_t keep)
{
	size_t kept = 0;

	if (list->count)
		qsort(list->tids, list->count, sizeof *list->tids, compare_ascending);
	for (size_t i = 0; i < list->count; i++)
		if (kept == 0 || list->tids[kept - 1] != list->tids[i])
			list->tids[kept++] = list->tids[i];
	if (descending)
		for (size_t i = 0; i < kept / 2; i++) {
			uint64_t tmp = list->tids[i];

			list->tids[i] = list->tids[kept - 1 - i];
			list->tids[kept - 1 - i] = tmp;
		}
	list->count = keep && kept > keep ? keep : kept;
}

/* tids_from: AskTIDsFrom to every partition at once, each with failover. */
struct range_part {
	struct read_req req;
	struct neo_ask_tids_from ask;
	struct range_op *op;
};

struct range_op {
	struct client_call call;
	uint64_t start, stop;
	size_t length;
	struct range_part *parts;
	uint32_t pending;
	int status;
	char err[200];
	struct tid_list list;
};

static int range_answered(struct read_req *req, struct neo_packet *answer)
{
	struct range_part *part = req->ctx;

	if (answer->code == NEO_ERROR)
		return read_error(req, answer);
	if (answer->code != NEO_ANSWER_TIDS_FROM) {
		client_error_text(answer, req->err, sizeof req->err);
		return READ_NEXT;
	}
	if (tid_list_add(&part->op->list, &((const struct neo_answer_tids_from *)answer->args)->tids)
	    < 0)
		return NEO_CLIENT_NOMEM;
	return NEO_CLIENT_OK;
}

static void range_part_done(struct read_req *req, int status)
{
	struct range_part *part = req->ctx;
	struct range_op *op = part->op;
	struct neo_client *c = req->c;

	if (status != NEO_CLIENT_OK && op->status == NEO_CLIENT_OK) {
		op->status = status;
		snprintf(op->err, sizeof op->err, "%s", req->err);
	}
	if (--op->pending == 0) {
		neo_free(op->parts);	/* req with them */
		client_call_done(c, &op->call, op->status, "%s", op->err);
	}
}

static void range_run(struct neo_client *c, struct client_call *call)
{
	struct range_op *op = (struct range_op *)call;
	uint32_t partitions = c->pt.num_partitions;

	if (partitions == 0) {
		client_call_done(c, call, NEO_CLIENT_UNAVAILABLE, "no partition table");
		return;
	}
	op->parts = neo_calloc(partitions, sizeof *op->parts);
	if (op->parts == NULL) {
		client_call_done(c, call, NEO_CLIENT_NOMEM, "out of memory");
		return;
	}
	/* Every part may end at once: count them all first. */
	op->pending = partitions;
	for (uint32_t p = 0; p < partitions; p++) {
		struct range_part *part = &op->parts[p];

		part->op = op;
		part->ask = (struct neo_ask_tids_from){ op->start, op->stop,
							op->length ? (int64_t)op->length
								   : NO_LENGTH_BOUND, p };
		part->req = (struct read_req){ .c = c, .partition = p, .code = NEO_ASK_TIDS_FROM,
					       .args = &part->ask, .on_answer = range_answered,
					       .on_done = range_part_done, .ctx = part };
		client_read_start(&part->req);
	}
}

int neo_client_tids_from(struct neo_client *client, uint64_t start, uint64_t stop,
			 size_t length, uint64_t **tids, size_t *count)
{
	struct range_op op = { .start = start, .stop = stop, .length = length };
	int status;

	*tids = NULL;
	*count = 0;
	if (length > NO_LENGTH_BOUND)
		return client_fail(NEO_CLIENT_INVALID, "length too big");
	if (start > stop)
		return NEO_CLIENT_OK;
	op.call.run = range_run;
	op.call.needs_ready = true;
	status = client_call(client, &op.call);
	if (status != NEO_CLIENT_OK) {
		neo_free(op.list.tids);
		return status;
	}
	tid_list_finish(&op.list, false, length);
	*tids = op.list.tids;
	*count = op.list.count;
	return NEO_CLIENT_OK;
}

/* undoLog: AskTIDs to every storage with a readable cell, merged (as
 * upstream: each applies the offsets to its own cells, so only the first
 * page is exact). */
struct log_op {
	struct client_call call;
	struct neo_client *c;
	struct neo_ask_tids ask;
	uint32_t pending, answered;
	bool nomem;
	char refusal[200];	/* the last storage's error, e.g. an operation its
				 * backend module does not implement */
	struct tid_list list;
};

static void log_finish(struct log_op *op)
{
	if (--op->pending)
		return;
	if (op->nomem)
		client_call_done(op->c, &op->call, NEO_CLIENT_NOMEM, "out of memory");
	else if (op->answered == 0 && op->refusal[0])
		client_call_done(op->c, &op->call, NEO_CLIENT_UNAVAILABLE, "no storage could answer: %s",
				 op->refusal);
	else if (op->answered == 0)
		client_call_done(op->c, &op->call, NEO_CLIENT_UNAVAILABLE, "no storage answered");
	else
		client_call_done(op->c, &op->call, NEO_CLIENT_OK, NULL);
}

static void log_answered(struct neo_conn *conn, enum neo_ask_status status,
			 struct neo_packet *answer, void *arg)
{
	struct log_op *op = arg;

	(void)conn;
	if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_TIDS) {
		op->answered++;
		if (tid_list_add(&op->list, &((const struct neo_answer_tids *)answer->args)->tids) < 0)
			op->nomem = true;
	} else if (status == NEO_ASK_ANSWERED && answer->code == NEO_ERROR) {
		client_error_text(answer, op->refusal, sizeof op->refusal);
	}
	log_finish(op);
}

static void log_send(struct neo_client *c, struct client_link *link, void *arg, bool ok)
{
	struct log_op *op = arg;

	(void)c;
	if (!ok || neo_conn_ask(link->conn, NEO_ASK_TIDS, &op->ask, client_ask_timeout(c, NULL),
				 log_answered, op) < 0)
		log_finish(op);
}

static void log_run(struct neo_client *c, struct client_call *call)
{
	struct log_op *op = (struct log_op *)call;
	int32_t *nids;
	size_t count = client_readable_nodes(c, &nids);

	op->c = c;
	op->pending = (uint32_t)count + 1;
	for (size_t i = 0; i < count; i++)
		client_link_get(c, nids[i], log_send, op);
	neo_free(nids);
	log_finish(op);
}

int neo_client_undo_log(struct neo_client *client, uint64_t first, uint64_t last,
			uint64_t **tids, size_t *count)
{
	struct log_op op = { .ask = { (int64_t)first, (int64_t)last, INVALID_PARTITION } };
	int status;

	*tids = NULL;
	*count = 0;
	if (last > INT64_MAX || first >= last)
		return first > last || last > INT64_MAX
		       ? client_fail(NEO_CLIENT_INVALID, "bad offsets") : NEO_CLIENT_OK;
	op.call.run = log_run;
	op.call.needs_ready = true;
	status = client_call(client, &op.call);
	if (status != NEO_CLIENT_OK) {
		neo_free(op.list.tids);
		return status;
	}
	tid_list_finish(&op.list, true, last - first);
	*tids = op.list.tids;
	*count = op.list.count;
	return NEO_CLIENT_OK;
}

/* --- From the master ------------------------------------------------------------------- */

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
	char text[160];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		client_call_unanswered(op->c, &op->call, status);
		return;
	}
	if (answer->code != NEO_ANSWER_NEW_OIDS) {
		client_error_text(answer, text, sizeof text);
		client_call_done(op->c, &op->call, client_error_status(answer), "%s", text);
		return;
	}
	new_oids = answer->args;
	if (new_oids->oids.count < op->count) {
		client_call_done(op->c, &op->call, NEO_CLIENT_PROTOCOL, "the master gave %u oids",
				 new_oids->oids.count);
		return;
	}
	memcpy(op->oids, new_oids->oids.items, op->count * sizeof *op->oids);
	client_call_done(op->c, &op->call, NEO_CLIENT_OK, NULL);
}

static void oids_run(struct neo_client *c, struct client_call *call)
{
	struct master_op *op = (struct master_op *)call;
	struct neo_ask_new_oids ask = { .count = (int64_t)op->count };

	op->c = c;
	if (!client_master_ask(c, &op->call, NEO_ASK_NEW_OIDS, &ask, oids_answered, op))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "lost the primary master");
}

static int ask_new_oids(struct neo_client *client, size_t count, uint64_t *oids)
{
	struct master_op op = { .count = count, .oids = oids };

	op.call.run = oids_run;
	op.call.needs_ready = true;
	return client_call(client, &op.call);
}

/* Takes count oids from those asked ahead, if there are as many. */
static bool take_spare_oids(struct neo_client *c, size_t count, uint64_t *oids)
{
	bool enough;

	pthread_mutex_lock(&c->lock);
	enough = CLIENT_OID_BATCH - c->spare_oid_first >= count;
	if (enough) {
		memcpy(oids, c->spare_oids + c->spare_oid_first, count * sizeof *oids);
		c->spare_oid_first += count;
	}
	pthread_mutex_unlock(&c->lock);
	return enough;
}

void client_spare_oids_drop(struct neo_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->spare_oid_first = CLIENT_OID_BATCH;
	pthread_mutex_unlock(&c->lock);
}

/*
 * As upstream: a few oids come from a batch asked ahead, which saves a
 * round trip to the master per new object (and per 1-object commit).  A
 * thread that finds the batch empty asks a new one and keeps what it does
 * not use; oids left over are lost, which is harmless (as upstream).
 */
int neo_client_new_oids(struct neo_client *client, size_t count, uint64_t *oids)
{
	uint64_t batch[CLIENT_OID_BATCH];
	int status;

	if (count == 0 || count > 10000)
		return client_fail(NEO_CLIENT_INVALID, "count must be 1 to 10000");
	if (count >= CLIENT_OID_BATCH)
		return ask_new_oids(client, count, oids);
	if (take_spare_oids(client, count, oids))
		return NEO_CLIENT_OK;
	status = ask_new_oids(client, CLIENT_OID_BATCH, batch);
	if (status != NEO_CLIENT_OK)
		return status;
	memcpy(oids, batch, count * sizeof *oids);
	pthread_mutex_lock(&client->lock);
	memcpy(client->spare_oids, batch, sizeof batch);
	client->spare_oid_first = count;
	pthread_mutex_unlock(&client->lock);
	return NEO_CLIENT_OK;
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
	if (status == NEO_ASK_ANSWERED)
		client_call_done(op->c, &op->call, NEO_CLIENT_OK, NULL);
	else
		client_call_unanswered(op->c, &op->call, status);
}

static void sync_run(struct neo_client *c, struct client_call *call)
{
	struct master_op *op = (struct master_op *)call;

	op->c = c;
	/* As upstream: the master answers Ping after every invalidation it
	 * sent before, so the round trip is a barrier. */
	if (!client_master_ask(c, &op->call, NEO_PING, NULL, sync_answered, op))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "lost the primary master");
}

int neo_client_sync(struct neo_client *client)
{
	struct master_op op = { 0 };

	op.call.run = sync_run;
	op.call.needs_ready = true;
	return client_call(client, &op.call);
}
