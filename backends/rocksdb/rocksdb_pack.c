/*
 * rocksdb_pack.c - pack orders, packing one oid, and the bulk deletions
 * (truncate ranges, dropped partitions) in rocksdb.so.
 *
 * Pack keeps, for each oid, its last revision at or before the pack tid,
 * unless that revision is a deletion, and never touches later revisions or
 * undo pointers (core/neo/backend.md section 15): replicas packing the same
 * order stay identical.  Each pack order records its partition, so orders can
 * be listed per partition without knowing their number.
 */
#include <stdlib.h>
#include <string.h>

#include "rocksdb_db.h"

/* partition, approved + 1 (0 not signed), partial, has_oids, pack_tid */
#define PACK_HEADER 15

static struct neo_rocks_key tid_key(uint64_t tid)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u64(&key, tid);
	return key;
}

int neo_rocks_pack_order_put(struct neo_db *db, uint32_t partition,
			     const struct neo_pack_order *order)
{
	struct neo_rocks_key key = tid_key(order->id);
	size_t oids = order->has_oids ? order->oids.size : 0;
	uint8_t *value = malloc(PACK_HEADER + oids);

	if (value == NULL)
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	neo_rocks_put_u32(value, partition);
	value[4] = (uint8_t)(order->approved < 0 ? 0 : order->approved > 0 ? 2 : 1);
	value[5] = order->partial;
	value[6] = order->has_oids;
	neo_rocks_put_u64(value + 7, order->pack_tid);
	if (oids > 0)
		memcpy(value + PACK_HEADER, order->oids.data, oids);
	neo_rocks_put(db, NEO_CF_PACK, &key, value, PACK_HEADER + oids);
	free(value);
	return NEO_BACKEND_OK;
}

int neo_rocks_pack_order_rename(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	struct neo_rocks_key from = tid_key(ttid), to = tid_key(tid);
	char *value;
	size_t size;
	int status;

	if (ttid == tid)
		return NEO_BACKEND_OK;
	status = neo_rocks_get(db, NEO_CF_PACK, &from, &value, &size);
	if (status == NEO_BACKEND_NOTFOUND)
		return NEO_BACKEND_OK;	/* no order rode along */
	if (status != NEO_BACKEND_OK)
		return status;
	neo_rocks_put(db, NEO_CF_PACK, &to, value, size);
	neo_rocks_delete(db, NEO_CF_PACK, &from);
	free(value);
	return NEO_BACKEND_OK;
}

int neo_rocks_pack_order_sign(struct neo_db *db, uint64_t id, bool approved)
{
	struct neo_rocks_key key = tid_key(id);
	char *value;
	size_t size;
	int status = neo_rocks_get(db, NEO_CF_PACK, &key, &value, &size);

	if (status != NEO_BACKEND_OK)
		return status;
	if (size >= PACK_HEADER) {
		value[4] = approved ? 2 : 1;
		neo_rocks_put(db, NEO_CF_PACK, &key, value, size);
	} else {
		status = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a pack order is malformed", NULL);
	}
	free(value);
	return status;
}

static bool listed(const uint32_t *partitions, size_t count, uint32_t partition)
{
	for (size_t i = 0; i < count; i++)
		if (partitions[i] == partition)
			return true;
	return false;
}

int neo_rocks_pack_orders_from(struct neo_db *db, const uint32_t *partitions, size_t count,
			       uint64_t min_id, neo_pack_order_cb cb, void *ctx)
{
	struct neo_rocks_key from = tid_key(min_id);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_PACK);
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	/* Orders are few (one per pack): a walk over all from min_id. */
	for (rocksdb_iter_seek(it, (const char *)from.b, from.n);
	     r == NEO_BACKEND_OK && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t size;
		const uint8_t *value = (const uint8_t *)rocksdb_iter_value(it, &size);
		struct neo_pack_order order;

		if (size < PACK_HEADER) {
			r = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a pack order is malformed", NULL);
			break;
		}
		if (!listed(partitions, count, neo_rocks_u32_at(value)))
			continue;
		order = (struct neo_pack_order){
			.id = neo_rocks_iter_u64(it, 0),
			.approved = (int)value[4] - 1,
			.partial = value[5] != 0,
			.has_oids = value[6] != 0,
			.oids = { value + PACK_HEADER, size - PACK_HEADER },
			.pack_tid = neo_rocks_u64_at(value + 7),
		};
		r = cb(ctx, &order);
	}
	return neo_rocks_iter_close(db, it, r);
}

/* The revisions pack removes: those before the last one at or before
 * pack_tid, and that one too if it is a deletion.  obj keys are newest
 * first, so they are that one (maybe) and all keys after it. */
static int collect_packed(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
			  struct neo_rocks_revisions *revs)
{
	struct neo_rocks_key prefix = neo_rocks_obj_key(partition, oid, 0);
	struct neo_rocks_key at = neo_rocks_obj_key(partition, oid, pack_tid);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	prefix.n = 12;
	rocksdb_iter_seek(it, (const char *)at.b, at.n);
	if (neo_rocks_iter_in(it, &prefix)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);
		bool deletion = size == NEO_ROCKS_OBJ_VALUE && !(value[0] & NEO_ROCKS_HAS_DATA);

		/* data goes with what precedes it, a deletion with itself too */
		if (!deletion)
			rocksdb_iter_next(it);
	}
	for (; status == NEO_BACKEND_OK && neo_rocks_iter_in(it, &prefix); rocksdb_iter_next(it))
		status = neo_rocks_revisions_add(db, revs, oid, neo_rocks_obj_serial(it));
	return neo_rocks_iter_close(db, it, status);
}

int neo_rocks_pack_oid(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
		       neo_id_cb data_ids, void *ctx)
{
	struct neo_rocks_revisions revs = { .partition = partition };
	int status = collect_packed(db, partition, oid, pack_tid, &revs);

	if (status == NEO_BACKEND_OK)
		status = neo_rocks_delete_revisions(db, &revs, data_ids, ctx);
	neo_rocks_revisions_free(&revs);
	return status;
}

/* Deletes trans rows of partition with min_tid < tid <= max_tid (all of
 * them when whole), and the pack orders of those transactions. */
static int delete_transactions(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			       uint64_t max_tid, bool whole)
{
	struct neo_rocks_key prefix = { .n = 0 }, from;
	struct neo_rocks_ids tids = { NULL, 0, 0 };
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TRANS);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	neo_rocks_key_u32(&prefix, partition);
	from = prefix;
	neo_rocks_key_u64(&from, whole ? 0 : min_tid + 1);
	for (rocksdb_iter_seek(it, (const char *)from.b, from.n);
	     status == NEO_BACKEND_OK && neo_rocks_iter_in(it, &prefix); rocksdb_iter_next(it)) {
		uint64_t tid = neo_rocks_iter_u64(it, 4);

		if (!whole && tid > max_tid)
			break;
		status = neo_rocks_ids_add(db, &tids, tid);
	}
	status = neo_rocks_iter_close(db, it, status);
	for (size_t i = 0; status == NEO_BACKEND_OK && i < tids.count; i++) {
		struct neo_rocks_key key = prefix, pack = tid_key(tids.ids[i]);

		neo_rocks_key_u64(&key, tids.ids[i]);
		neo_rocks_delete(db, NEO_CF_TRANS, &key);
		if (!whole)
			neo_rocks_delete(db, NEO_CF_PACK, &pack);
	}
	neo_rocks_ids_free(&tids);
	return status;
}

/* Up to `count` (0: all) revisions of partition with min_tid < tid <=
 * max_tid, in (tid, oid) order. */
/* Revisions of partition from (min_tid, min_oid) on, in (tid, oid) order. */
static int collect_from(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t min_oid, uint64_t max_tid, uint64_t count,
			struct neo_rocks_revisions *revs)
{
	struct neo_rocks_key prefix = { .n = 0 }, from;
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ_TID);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	neo_rocks_key_u32(&prefix, partition);
	from = prefix;
	neo_rocks_key_u64(&from, min_tid);
	neo_rocks_key_u64(&from, min_oid);
	for (rocksdb_iter_seek(it, (const char *)from.b, from.n);
	     status == NEO_BACKEND_OK && (count == 0 || revs->oids.count < count) &&
	     neo_rocks_iter_in(it, &prefix); rocksdb_iter_next(it)) {
		uint64_t tid = neo_rocks_iter_u64(it, 4);

		if (tid > max_tid)
			break;
		status = neo_rocks_revisions_add(db, revs, neo_rocks_iter_u64(it, 12), tid);
	}
	return neo_rocks_iter_close(db, it, status);
}

static int collect_by_tid(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			  uint64_t max_tid, uint64_t count, struct neo_rocks_revisions *revs)
{
	return collect_from(db, partition, min_tid, 0, max_tid, count, revs);
}

int neo_rocks_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			   uint64_t max_tid, neo_id_cb data_ids, void *ctx)
{
	struct neo_rocks_revisions revs = { .partition = partition };
	int status;

	if (min_tid >= max_tid)
		return NEO_BACKEND_OK;	/* empty range */
	status = delete_transactions(db, partition, min_tid, max_tid, false);
	if (status == NEO_BACKEND_OK)
		status = collect_by_tid(db, partition, min_tid + 1, max_tid, 0, &revs);
	if (status == NEO_BACKEND_OK)
		status = neo_rocks_delete_revisions(db, &revs, data_ids, ctx);
	neo_rocks_revisions_free(&revs);
	return status;
}

/* Deletes every pack order of partition. */
static int delete_pack_orders(struct neo_db *db, uint32_t partition)
{
	struct neo_rocks_ids ids = { NULL, 0, 0 };
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_PACK);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek_to_first(it); status == NEO_BACKEND_OK && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);

		if (size >= 4 && neo_rocks_u32_at(value) == partition)
			status = neo_rocks_ids_add(db, &ids, neo_rocks_iter_u64(it, 0));
	}
	status = neo_rocks_iter_close(db, it, status);
	for (size_t i = 0; status == NEO_BACKEND_OK && i < ids.count; i++) {
		struct neo_rocks_key key = tid_key(ids.ids[i]);

		neo_rocks_delete(db, NEO_CF_PACK, &key);
	}
	neo_rocks_ids_free(&ids);
	return status;
}

/*
 * A step deletes the first count revisions of the partition.  Seeking
 * from the partition's start each time walked the tombstones of every
 * step before (they stay until a compaction): quadratic (at 1M objects
 * the sources of a catch-up used 72 s of CPU each while dropping the 4
 * partitions they gave away).  So a step seeks where the last one
 * stopped; a cursor is only a hint (the partition may have been given
 * back and replicated meanwhile, or the last step rolled back): before
 * saying done, one walk from the start checks that nothing is left.
 */
int neo_rocks_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			neo_id_cb data_ids, void *ctx, bool *done)
{
	struct neo_rocks_revisions revs = { .partition = partition };
	bool from_cursor = db->drop_cursor_set && db->drop_partition == partition;
	int status = collect_from(db, partition, from_cursor ? db->drop_tid : 0,
				  from_cursor ? db->drop_oid : 0, UINT64_MAX, count, &revs);

	if (status == NEO_BACKEND_OK && revs.oids.count == 0 && from_cursor) {
		db->drop_cursor_set = false;	/* the check from the start */
		status = collect_from(db, partition, 0, 0, UINT64_MAX, count, &revs);
	}
	*done = false;
	if (status == NEO_BACKEND_OK && revs.oids.count > 0) {
		db->drop_cursor_set = true;
		db->drop_partition = partition;
		db->drop_tid = revs.tids.ids[revs.tids.count - 1];
		db->drop_oid = revs.oids.ids[revs.oids.count - 1];
		status = neo_rocks_delete_revisions(db, &revs, data_ids, ctx);
		neo_rocks_revisions_free(&revs);
		return status;
	}
	neo_rocks_revisions_free(&revs);
	db->drop_cursor_set = false;
	/* No revision left: the transactions and pack orders go at once. */
	if (status == NEO_BACKEND_OK)
		status = delete_pack_orders(db, partition);
	if (status == NEO_BACKEND_OK)
		status = delete_transactions(db, partition, 0, UINT64_MAX, true);
	*done = status == NEO_BACKEND_OK;
	return status;
}
