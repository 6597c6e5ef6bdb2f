/*
 * storage/pack.c - packing in the background
 * (core/cluster/cluster.md section 14), as upstream: the orders come from
 * the master (AskPackOrders, from the one after the last this node
 * completed); approved ones are applied in id order to every readable cell
 * here whose pt.pack is behind, oid by oid (pack_oid keeps, per oid, the
 * last revision at the pack tid unless it is a deletion), in small steps
 * from the event loop; each partition done gets pt.pack, and the node
 * reports the order done with NotifyPackCompleted.  Pack is deterministic,
 * so replicas stay equal and doing a partition again after a restart is
 * harmless.
 *
 * Cells still replicating are left for later: they are packed once
 * readable (the next order, or the next time the node starts).
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "runtime/log.h"

#define PACK_BATCH 100		/* oids per step */

struct packer {
	bool asking;			/* AskPackOrders out */
	bool working;			/* an order being applied */
	uint64_t id, pack_tid;		/* the order */
	uint64_t *oids;			/* partial pack: its oids, else NULL */
	uint32_t oid_count;
	uint32_t partition;		/* being packed */
	uint64_t next_oid;		/* where its next step starts */
	uint32_t next_index;		/* partial pack: index in oids */
	uint64_t reported;		/* last NotifyPackCompleted sent */
	uint64_t skipped;		/* --disable-pack: last order approved */
	bool deferred;			/* backup mode: a cell not replicated past
					 * the order yet (storage_replication_packable) */
	struct neo_id_list later_approved, later_rejected;	/* storage_pack_sign_later */
	struct event *step;
	/* progress (storage_pack_progress) */
	double started;			/* storage_metrics_clock() at the order's start */
	uint64_t oids_done;		/* oids packed for the order */
	uint32_t parts_done, parts_total;	/* own partitions packed, to pack */
	uint64_t oid_end;		/* the partition's last oid + 1: its pages end there */
};

struct own_packed {
	int32_t nid;
	uint32_t count;
	uint64_t *packed;		/* per partition: pt.pack, 0 if NULL */
};

static int take_packed(void *ctx, const struct neo_pt_row *row)
{
	struct own_packed *own = ctx;

	if (row->nid == own->nid && row->partition < own->count)
		own->packed[row->partition] = row->pack.has ? row->pack.id : 0;
	return 0;
}

/* pt.pack of every own cell (0 where none); malloc'ed. */
static uint64_t *own_packed_ids(struct storage *s)
{
	struct own_packed own = { s->nid, s->pt.num_partitions,
				  neo_calloc(s->pt.num_partitions + 1, sizeof(uint64_t)) };

	if (own.packed && s->be->pt_scan(s->db, take_packed, &own) != NEO_BACKEND_OK) {
		neo_free(own.packed);
		return NULL;
	}
	return own.packed;
}

/* The last order done on every readable cell here; -1 without any. */
static int64_t completed_id(struct storage *s, const uint64_t *packed)
{
	int64_t min = -1;

	for (uint32_t p = 0; p < s->pt.num_partitions; p++)
		if (storage_readable(s, p) && (min < 0 || packed[p] < (uint64_t)min))
			min = (int64_t)packed[p];
	return min;
}

static void report(struct storage *s, struct packer *k, uint64_t id)
{
	struct neo_notify_pack_completed done = { .pack_id = id };

	if (s->master_conn == NULL || id == k->reported)
		return;
	k->reported = id;
	neo_conn_notify(s->master_conn, NEO_NOTIFY_PACK_COMPLETED, &done);
}

/* For tests that must see a pack in progress: with NEO_PACK_THROTTLE_MS=N
 * in the environment, N ms between two steps (of PACK_BATCH oids). */
static void schedule(struct packer *k)
{
	const char *throttle = getenv("NEO_PACK_THROTTLE_MS");
	long ms = throttle ? atol(throttle) : 0;
	struct timeval delay = { 0, 0 };

	if (ms > 0 && ms < 60000) {
		delay.tv_sec = ms / 1000;
		delay.tv_usec = ms % 1000 * 1000;
	}
	event_add(k->step, &delay);
}

/* Where a partition's oids end, for the progress through its pages (0:
 * not known). */
static uint64_t partition_oid_end(struct storage *s, uint32_t partition)
{
	uint64_t tid = 0, oid = 0;

	if (s->be->last_obj_ids(s->db, partition, &tid, &oid) != NEO_BACKEND_OK)
		return 0;
	return oid + 1;
}

/* The next readable partition here still behind the order, or false. */
static bool next_partition(struct storage *s, struct packer *k, uint32_t from)
{
	uint64_t *packed = own_packed_ids(s);
	bool found = false;

	for (uint32_t p = from; packed && p < s->pt.num_partitions && !found; p++)
		if (storage_readable(s, p) && packed[p] < k->id) {
			if (!storage_replication_packable(s, p, k->id)) {
				k->deferred = true;
				continue;
			}
			k->partition = p;
			k->next_oid = 0;
			k->next_index = 0;
			k->oid_end = partition_oid_end(s, p);
			found = true;
		}
	neo_free(packed);
	return found;
}

static void order_done(struct storage *s, struct packer *k)
{
	neo_log(NEO_LOG_INFO, "pack %016" PRIx64 " (up to %016" PRIx64 ") done", k->id,
		k->pack_tid);
	neo_free(k->oids);
	k->oids = NULL;
	k->working = false;
	storage_pack_update(s);
}

/* The oids of this step: a page of the partition, or of the partial
 * order's oids that belong to it. */
static int step_oids(struct storage *s, struct packer *k, struct neo_id_list *oids, bool *last)
{
	if (k->oids) {
		while (k->next_index < k->oid_count && oids->count < PACK_BATCH) {
			uint64_t oid = k->oids[k->next_index++];

			if (neo_ptable_partition(&s->pt, oid) == k->partition &&
			    neo_id_list_add(oids, oid) < 0)
				return STORAGE_ENOMEM;
		}
		*last = k->next_index >= k->oid_count;
		return NEO_BACKEND_OK;
	}
	{
		int rc = s->be->oid_range(s->db, k->partition, k->next_oid, k->pack_tid,
					  PACK_BATCH, neo_id_list_add, oids);

		*last = oids->count < PACK_BATCH;
		if (oids->count)
			k->next_oid = oids->ids[oids->count - 1] + 1;
		return rc;
	}
}

/* The log's progress line, one per partition packed. */
static void partition_done(struct storage *s, struct packer *k)
{
	double elapsed = storage_metrics_clock() - k->started;

	k->parts_done++;
	neo_log(NEO_LOG_INFO, "pack %016" PRIx64 ": partition %u packed (%u of %u), %" PRIu64
		" oids in %.1f s, %.0f oids/s", k->id, k->partition, k->parts_done, k->parts_total,
		k->oids_done, elapsed, elapsed > 0 ? (double)k->oids_done / elapsed : 0);
}

static void pack_step(evutil_socket_t fd, short what, void *arg)
{
	struct storage *s = arg;
	struct packer *k = s->packer;
	struct neo_id_list oids = { 0 }, data_ids = { 0 };
	bool last = false;
	int rc;

	(void)fd;
	(void)what;
	if (!k->working || !s->operational)
		return;
	if (!storage_readable(s, k->partition)
	    || !storage_replication_packable(s, k->partition, k->id)) {
		/* lost or replicating meanwhile: the others first */
		if (!next_partition(s, k, k->partition + 1))
			order_done(s, k);
		else
			schedule(k);
		return;
	}
	rc = step_oids(s, k, &oids, &last);
	for (uint32_t i = 0; rc == NEO_BACKEND_OK && i < oids.count; i++)
		rc = s->be->pack_oid(s->db, k->partition, oids.ids[i], k->pack_tid,
				     neo_id_list_add, &data_ids);
	/* data of deleted revisions that nothing pending uses goes too */
	if (rc == NEO_BACKEND_OK)
		rc = storage_prune_unheld(s, &data_ids);
	if (rc == NEO_BACKEND_OK && last)
		rc = s->be->pt_set_packed(s->db, k->partition, s->nid, k->id);
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	k->oids_done += oids.count;
	neo_id_list_free(&oids);
	neo_id_list_free(&data_ids);
	if (storage_db_failed(s, rc, "packing"))
		return;
	if (last)
		partition_done(s, k);
	if (last && !next_partition(s, k, k->partition + 1)) {
		order_done(s, k);
		return;
	}
	schedule(k);
}

/* Own readable partitions still behind order id. */
static uint32_t partitions_behind(struct storage *s, uint64_t id)
{
	uint64_t *packed = own_packed_ids(s);
	uint32_t count = 0;

	for (uint32_t p = 0; packed && p < s->pt.num_partitions; p++)
		count += storage_readable(s, p) && packed[p] < id;
	neo_free(packed);
	return count;
}

static void start_order(struct storage *s, struct packer *k,
			const struct neo_pack_order_entry *order)
{
	k->id = order->id;
	k->pack_tid = order->pack_tid;
	k->deferred = false;
	k->oids = NULL;
	k->oid_count = 0;
	if (order->oids.has) {
		k->oids = neo_malloc((order->oids.v.count + 1) * sizeof *k->oids);
		if (k->oids == NULL)
			return;
		memcpy(k->oids, order->oids.v.items, order->oids.v.count * sizeof *k->oids);
		k->oid_count = order->oids.v.count;
	}
	if (!next_partition(s, k, 0)) {
		neo_free(k->oids);
		k->oids = NULL;
		return;
	}
	k->working = true;
	k->started = storage_metrics_clock();
	k->oids_done = 0;
	k->parts_done = 0;
	k->parts_total = partitions_behind(s, k->id);
	neo_log(NEO_LOG_INFO, "packing %016" PRIx64 " up to %016" PRIx64 "%s", k->id, k->pack_tid,
		k->oids ? " (partial)" : "");
	schedule(k);
}

static void orders_answered(struct neo_conn *conn, enum neo_ask_status status,
			    struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct packer *k = s->packer;
	const struct neo_answer_pack_orders *orders;
	uint64_t *packed;
	int64_t completed;

	(void)conn;
	if (k == NULL)
		return;
	k->asking = false;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_PACK_ORDERS ||
	    !s->operational)
		return;
	orders = answer->args;
	storage_gc_settled(s, orders);
	if (s->opts->disable_pack) {
		for (uint32_t i = 0; i < orders->orders.count; i++)
			if (orders->orders.items[i].approved.has && orders->orders.items[i].approved.v
			    && orders->orders.items[i].id > k->skipped)
				k->skipped = orders->orders.items[i].id;
		if (k->skipped)
			report(s, k, k->skipped);
		return;
	}
	packed = own_packed_ids(s);
	completed = packed ? completed_id(s, packed) : -1;
	neo_free(packed);
	/* the master lists approved orders in id order */
	for (uint32_t i = 0; i < orders->orders.count; i++) {
		const struct neo_pack_order_entry *order = &orders->orders.items[i];

		if (!order->approved.has || !order->approved.v || (int64_t)order->id <= completed)
			continue;
		start_order(s, k, order);
		if (k->working)
			return;
		if (k->deferred) {
			/* backup mode: resumed when the cells have caught up
			 * (storage_pack_backup_moved) */
			break;
		}
		/* nothing of ours behind it: done as far as we are concerned */
		completed = (int64_t)order->id;
	}
	if (completed >= 0)
		report(s, k, (uint64_t)completed);
}

/* The packer, made on first use; NULL when out of memory. */
static struct packer *packer_get(struct storage *s)
{
	struct packer *k = s->packer;

	if (k == NULL) {
		k = s->packer = neo_calloc(1, sizeof *k);
		if (k == NULL)
			return NULL;
		k->step = evtimer_new(s->base, pack_step, s);
		k->reported = UINT64_MAX;
	}
	return k;
}

/*
 * --disable-pack, as upstream: orders are neither signed nor applied
 * here, but the last approved one is reported done at once, so that the
 * cluster (and a client waiting for its pack) does not wait for this
 * node.  The rows stay as they are.
 */
void storage_pack_skip(struct storage *s, const struct neo_list_p64 *approved)
{
	struct packer *k = packer_get(s);

	if (k == NULL)
		return;
	for (uint32_t i = 0; i < approved->count; i++)
		if (approved->items[i] > k->skipped)
			k->skipped = approved->items[i];
	if (approved->count)
		neo_log(NEO_LOG_INFO, "pack %016" PRIx64 " not done here (--disable-pack)",
			k->skipped);
	if (s->operational && k->skipped)
		report(s, k, k->skipped);
}

void storage_pack_update(struct storage *s)
{
	struct packer *k = s->packer;
	struct neo_ask_pack_orders ask = { .min_completed_id = 1 };
	uint64_t *packed;
	int64_t completed;

	if (!s->operational || s->master_conn == NULL)
		return;
	if (s->opts->disable_pack) {
		/* what was skipped is done; after a start, the master's list
		 * says what was approved meanwhile (orders_answered) */
		k = packer_get(s);
		if (k == NULL || k->asking)
			return;
		if (k->skipped)
			report(s, k, k->skipped);
		else
			k->asking = neo_conn_ask(s->master_conn, NEO_ASK_PACK_ORDERS, &ask, 0,
						 orders_answered, s) >= 0;
		return;
	}
	if (!storage_backend_check(s, NULL, 0, storage_backend_can_pack(s), "pack operations",
				   "packing"))
		return;
	k = packer_get(s);
	if (k == NULL)
		return;
	if (k->asking || k->working)
		return;
	packed = own_packed_ids(s);
	if (packed == NULL)
		return;
	completed = completed_id(s, packed);
	neo_free(packed);
	/* as upstream (the id after the last done, so never 0): upstream's
	 * master, asked for orders from 0, fails computing the id before it */
	ask.min_completed_id = completed > 0 ? (uint64_t)completed + 1 : 1;
	k->asking = neo_conn_ask(s->master_conn, NEO_ASK_PACK_ORDERS, &ask, 0, orders_answered,
				 s) >= 0;
}

void storage_pack_stop(struct storage *s)
{
	struct packer *k = s->packer;

	if (k == NULL)
		return;
	if (k->step)
		event_free(k->step);
	neo_id_list_free(&k->later_approved);
	neo_id_list_free(&k->later_rejected);
	neo_free(k->oids);
	neo_free(k);
	s->packer = NULL;
}

struct order_list {
	struct neo_pack_order_entry *entries;
	uint64_t **oid_lists;
	uint32_t count;
	size_t capacity;
};

static int take_order(void *ctx, const struct neo_pack_order *order)
{
	struct order_list *list = ctx;
	struct neo_pack_order_entry *e;
	uint64_t *oids = NULL;
	uint32_t oid_count = (uint32_t)(order->oids.size / 8);

	if (storage_grow_pair(&list->entries, sizeof *list->entries, &list->oid_lists,
			      sizeof *list->oid_lists, &list->capacity, (size_t)list->count + 1) < 0)
		return STORAGE_ENOMEM;
	if (order->has_oids) {
		oids = neo_malloc((oid_count + 1) * sizeof *oids);
		if (oids == NULL)
			return STORAGE_ENOMEM;
		for (uint32_t i = 0; i < oid_count; i++)
			oids[i] = neo_p64_read(order->oids.data + 8 * i);
	}
	e = &list->entries[list->count];
	list->oid_lists[list->count++] = oids;
	*e = (struct neo_pack_order_entry){
		.id = order->id, .approved = { order->approved >= 0, order->approved > 0 },
		.partial = order->partial, .oids = { order->has_oids, { oids, oid_count } },
		.pack_tid = order->pack_tid };
	return NEO_BACKEND_OK;
}

void storage_pack_answer_orders(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
				uint64_t min_id)
{
	struct order_list list = { 0 };
	struct neo_answer_pack_orders answer = { 0 };
	uint32_t *partitions = neo_calloc(s->pt.num_partitions + 1, sizeof *partitions);
	size_t count = 0;
	int rc = STORAGE_ENOMEM;

	/* as upstream: the orders of readable partitions; a module without
	 * pack orders has none stored (its votes with one were refused) */
	if (partitions && storage_backend_has(s, pack_orders_from)) {
		for (uint32_t p = 0; p < s->pt.num_partitions; p++)
			if (storage_readable(s, p))
				partitions[count++] = p;
		rc = count ? s->be->pack_orders_from(s->db, partitions, count, min_id, take_order,
						     &list)
			   : NEO_BACKEND_OK;
	} else if (partitions) {
		rc = NEO_BACKEND_OK;
	}
	if (rc == NEO_BACKEND_OK) {
		answer.orders = (struct neo_list_pack_order_entry){ list.entries, list.count };
		neo_conn_answer(conn, msg_id, NEO_ANSWER_PACK_ORDERS, &answer);
	} else {
		neo_conn_answer_error(conn, msg_id, NEO_ERROR_NOT_READY, "cannot list pack orders");
	}
	for (uint32_t i = 0; i < list.count; i++)
		neo_free(list.oid_lists[i]);
	neo_free(list.oid_lists);
	neo_free(list.entries);
	neo_free(partitions);
}

void storage_pack_backup_moved(struct storage *s)
{
	struct packer *k = s->packer;

	if (k && k->deferred && !k->asking && !k->working) {
		k->deferred = false;
		storage_pack_update(s);
	}
}

void storage_pack_sign_later(struct storage *s, uint64_t id, bool approved)
{
	struct packer *k = packer_get(s);

	if (k && neo_id_list_add(approved ? &k->later_approved : &k->later_rejected, id) < 0)
		neo_log(NEO_LOG_ERROR, "out of memory: pack %016" PRIx64 " signature lost", id);
}

/* The signature kept for order id, taken: 1 approved, 0 rejected, -1 none. */
static int take_later(struct packer *k, uint64_t id)
{
	struct neo_id_list *lists[2] = { &k->later_rejected, &k->later_approved };

	for (int approved = 0; approved < 2; approved++)
		for (uint32_t i = 0; i < lists[approved]->count; i++)
			if (lists[approved]->ids[i] == id) {
				lists[approved]->ids[i] = lists[approved]->ids[--lists[approved]->count];
				return approved;
			}
	return -1;
}

/* --- Pack state in replication (core/storage/replication.c) ------------- */

struct own_pack_of {
	int32_t nid;
	uint32_t partition;
	struct neo_opt_id pack;
};

static int take_own_pack(void *ctx, const struct neo_pt_row *row)
{
	struct own_pack_of *of = ctx;

	if (row->nid == of->nid && row->partition == of->partition)
		of->pack = row->pack;
	return 0;
}

int storage_pack_completed_of(struct storage *s, uint32_t partition, struct neo_opt_id *pack)
{
	struct own_pack_of of = { s->nid, partition, { false, 0 } };
	int rc = s->be->pt_scan(s->db, take_own_pack, &of);

	*pack = of.pack;
	return rc;
}

int storage_pack_replicated(struct storage *s, uint32_t partition, uint64_t completed)
{
	struct neo_opt_id ours;
	int rc;

	if (!storage_backend_check(s, NULL, 0, storage_backend_has(s, pt_set_packed),
				   "pt_set_packed", "recording a replicated completed pack"))
		return NEO_BACKEND_OK;
	rc = storage_pack_completed_of(s, partition, &ours);
	/* as upstream: only ever lowered, to redo what the source has not */
	if (rc == NEO_BACKEND_OK && ours.has && completed < ours.id)
		rc = s->be->pt_set_packed(s->db, partition, s->nid, completed);
	return rc;
}

int storage_pack_order_replicated(struct storage *s, uint32_t partition, uint64_t tid,
				  const struct neo_pack_state *pack)
{
	struct neo_pack_order order = { .id = tid,
					.approved = pack->approved.has ? pack->approved.v : -1,
					.partial = pack->partial, .has_oids = pack->oids.has,
					.pack_tid = pack->pack_tid };
	int rc;

	if (!storage_backend_check(s, NULL, 0, storage_backend_has(s, pack_order_put),
				   "pack_order_put", "storing a replicated pack order"))
		return NEO_BACKEND_OK;
	if (s->packer) {
		int later = take_later(s->packer, tid);

		if (later >= 0)
			order.approved = later;
	}
	rc = storage_pack_order_put(s, partition, &order, &pack->oids);
	/* already here (a transaction replicated again after a restart) */
	return rc == NEO_BACKEND_EDUP ? NEO_BACKEND_OK : rc;
}

struct order_of {
	uint64_t id;
	bool found;
	struct neo_pack_state *state;
	uint64_t *oids;
};

#define ORDER_FOUND (-1000)

static int take_order_of(void *ctx, const struct neo_pack_order *order)
{
	struct order_of *of = ctx;
	uint32_t count = (uint32_t)(order->oids.size / 8);

	if (order->id != of->id)
		return ORDER_FOUND;	/* past it: none */
	if (order->has_oids) {
		of->oids = neo_malloc(((size_t)count + 1) * sizeof *of->oids);
		if (of->oids == NULL)
			return STORAGE_ENOMEM;
		for (uint32_t i = 0; i < count; i++)
			of->oids[i] = neo_p64_read(order->oids.data + 8 * i);
	}
	of->found = true;
	*of->state = (struct neo_pack_state){
		.approved = { order->approved >= 0, order->approved > 0 },
		.partial = order->partial,
		.oids = { order->has_oids, { of->oids, order->has_oids ? count : 0 } },
		.pack_tid = order->pack_tid };
	return ORDER_FOUND;
}

int storage_pack_order_of(struct storage *s, uint32_t partition, uint64_t tid,
			  struct neo_opt_pack_state *pack, uint64_t **oids)
{
	struct order_of of = { .id = tid, .state = &pack->v };
	int rc;

	*oids = NULL;
	pack->has = false;
	/* a module without pack orders has none stored (votes carrying one
	 * were refused) */
	if (!storage_backend_has(s, pack_orders_from))
		return NEO_BACKEND_OK;
	rc = s->be->pack_orders_from(s->db, &partition, 1, tid, take_order_of, &of);
	if (rc == ORDER_FOUND)
		rc = NEO_BACKEND_OK;
	if (rc == NEO_BACKEND_OK)
		pack->has = of.found;
	*oids = of.oids;
	return rc;
}

/* How far the current order has gone: the partitions done, and through the
 * current one's pages (its oids are paged in order, so the next oid over
 * the last one is how far); the pace since the order started. */
bool storage_pack_progress(struct storage *s, struct neo_progress *out)
{
	struct packer *k = s->packer;
	double elapsed, within = 0, fraction;

	if (k == NULL || !k->working || k->parts_total == 0)
		return false;
	elapsed = storage_metrics_clock() - k->started;
	if (k->oids)
		within = k->oid_count ? (double)k->next_index / k->oid_count : 1;
	else if (k->oid_end)
		within = (double)k->next_oid / (double)k->oid_end;
	within = within > 1 ? 1 : within;
	fraction = (k->parts_done + within) / k->parts_total;
	fraction = fraction > 1 ? 1 : fraction;
	memset(out, 0, sizeof *out);
	out->task = neo_bin_str("pack");
	out->nid = s->nid;
	out->id = (struct neo_opt_p64){ true, k->id };
	out->phase = neo_bin_str(k->oids ? "partial" : "");
	out->partition = (struct neo_opt_int){ true, k->partition };
	out->done = (int64_t)k->oids_done;
	out->unit = neo_bin_str("oids");
	out->count = k->parts_done;
	out->count_total = (struct neo_opt_int){ true, k->parts_total };
	out->count_unit = neo_bin_str("partitions");
	out->rate = elapsed > 0 ? (double)k->oids_done / elapsed : 0;
	if (fraction > 0 && elapsed > 0)
		out->left = (struct neo_opt_float){ true, elapsed * (1 - fraction) / fraction };
	return true;
}
