/*
 * rocksdb_ranges.c - lists and ranges in rocksdb.so: tids newest first for
 * undoLog, tid and (tid, oid) ranges for iteration, replication and
 * replica checks, oids of a partition, and the last ids of a partition.
 * Ranges are inclusive; a length of 0 means no limit.
 *
 * Big-endian keys make each of these one seek and a walk: trans is keyed
 * (partition, tid), obj (partition, oid, ~tid), obj_tid (partition, tid, oid).
 */
#include <stdlib.h>
#include <string.h>

#include "rocksdb_db.h"

static struct neo_rocks_key partition_key(uint32_t partition)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u32(&key, partition);
	return key;
}

static struct neo_rocks_key id_pair_key(uint32_t partition, uint64_t a, uint64_t b)
{
	struct neo_rocks_key key = partition_key(partition);

	neo_rocks_key_u64(&key, a);
	neo_rocks_key_u64(&key, b);
	return key;
}

/* One partition's trans tids, walked newest first. */
struct tid_cursor {
	rocksdb_iterator_t *it;
	struct neo_rocks_key prefix;
	bool valid;
	uint64_t tid;
};

static void cursor_read(struct tid_cursor *c)
{
	c->valid = neo_rocks_iter_in(c->it, &c->prefix);
	c->tid = c->valid ? neo_rocks_iter_u64(c->it, 4) : 0;
}

static int compare_partitions(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The partitions, each once (a partition listed twice would repeat its
 * tids); *count is updated. */
static uint32_t *distinct_partitions(const uint32_t *partitions, size_t *count)
{
	uint32_t *copy = malloc(*count * sizeof(*copy));
	size_t kept = 0;

	if (copy == NULL)
		return NULL;
	memcpy(copy, partitions, *count * sizeof(*copy));
	qsort(copy, *count, sizeof(*copy), compare_partitions);
	for (size_t i = 0; i < *count; i++)
		if (kept == 0 || copy[kept - 1] != copy[i])
			copy[kept++] = copy[i];
	*count = kept;
	return copy;
}

static int open_cursors(struct neo_db *db, struct tid_cursor *cursors, const uint32_t *parts,
			size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct neo_rocks_key last = partition_key(parts[i]);

		neo_rocks_key_u64(&last, UINT64_MAX);
		cursors[i].prefix = partition_key(parts[i]);
		cursors[i].it = neo_rocks_iter(db, NEO_CF_TRANS);
		if (cursors[i].it == NULL)
			return NEO_BACKEND_EIO;
		rocksdb_iter_seek_for_prev(cursors[i].it, (const char *)last.b, last.n);
		cursor_read(&cursors[i]);
	}
	return NEO_BACKEND_OK;
}

/* The cursor on the greatest tid, or NULL when all are done.  A linear
 * pick: a storage lists at most its own partitions. */
static struct tid_cursor *newest(struct tid_cursor *cursors, size_t count)
{
	struct tid_cursor *best = NULL;

	for (size_t i = 0; i < count; i++)
		if (cursors[i].valid && (best == NULL || cursors[i].tid > best->tid))
			best = &cursors[i];
	return best;
}

static int merge_desc(struct tid_cursor *cursors, size_t count, uint64_t offset,
		      uint64_t length, neo_id_cb cb, void *ctx)
{
	uint64_t skipped = 0, sent = 0;
	struct tid_cursor *c;
	int r = NEO_BACKEND_OK;

	while (r == NEO_BACKEND_OK && (length == 0 || sent < length) &&
	       (c = newest(cursors, count)) != NULL) {
		if (skipped < offset) {
			skipped++;
		} else {
			r = cb(ctx, c->tid);
			sent++;
		}
		rocksdb_iter_prev(c->it);
		cursor_read(c);
	}
	return r;
}

int neo_rocks_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
			    uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx)
{
	uint32_t *parts;
	struct tid_cursor *cursors;
	int status;

	if (count == 0)
		return NEO_BACKEND_OK;
	parts = distinct_partitions(partitions, &count);
	cursors = calloc(count, sizeof(*cursors));
	if (parts == NULL || cursors == NULL) {
		free(parts);
		free(cursors);
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	}
	status = open_cursors(db, cursors, parts, count);
	if (status == NEO_BACKEND_OK)
		status = merge_desc(cursors, count, offset, length, cb, ctx);
	for (size_t i = 0; i < count; i++)
		status = neo_rocks_iter_close(db, cursors[i].it, status);
	free(cursors);
	free(parts);
	return status;
}

int neo_rocks_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx)
{
	struct neo_rocks_key prefix = partition_key(partition), from = prefix;
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TRANS);
	uint64_t sent = 0;
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	neo_rocks_key_u64(&from, min_tid);
	for (rocksdb_iter_seek(it, (const char *)from.b, from.n);
	     r == NEO_BACKEND_OK && (length == 0 || sent < length) && neo_rocks_iter_in(it, &prefix);
	     rocksdb_iter_next(it)) {
		uint64_t tid = neo_rocks_iter_u64(it, 4);

		if (tid > max_tid)
			break;
		r = cb(ctx, tid);
		sent++;
	}
	return neo_rocks_iter_close(db, it, r);
}

int neo_rocks_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t min_oid, uint64_t max_tid, uint64_t length,
			neo_id_pair_cb cb, void *ctx)
{
	/* As upstream: (tid == min_tid and oid >= min_oid) or
	 * min_tid < tid <= max_tid, in (tid, oid) order: the order of obj_tid
	 * from (min_tid, min_oid) on. */
	struct neo_rocks_key prefix = partition_key(partition);
	struct neo_rocks_key from = id_pair_key(partition, min_tid, min_oid);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ_TID);
	uint64_t sent = 0;
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek(it, (const char *)from.b, from.n);
	     r == NEO_BACKEND_OK && (length == 0 || sent < length) && neo_rocks_iter_in(it, &prefix);
	     rocksdb_iter_next(it)) {
		uint64_t tid = neo_rocks_iter_u64(it, 4);

		if (tid != min_tid && tid > max_tid)
			break;
		r = cb(ctx, tid, neo_rocks_iter_u64(it, 12));
		sent++;
	}
	return neo_rocks_iter_close(db, it, r);
}

int neo_rocks_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			uint64_t length, neo_id_cb cb, void *ctx)
{
	/* obj keys are newest first: seeking (oid, ~tid) lands on the newest
	 * revision <= tid if the oid has one, else on a later oid, which is
	 * the next candidate.  One seek per oid. */
	struct neo_rocks_key prefix = partition_key(partition);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ);
	uint64_t candidate = min_oid, sent = 0;
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	while (r == NEO_BACKEND_OK && (length == 0 || sent < length)) {
		struct neo_rocks_key at = neo_rocks_obj_key(partition, candidate, tid);
		uint64_t oid;

		rocksdb_iter_seek(it, (const char *)at.b, at.n);
		if (!neo_rocks_iter_in(it, &prefix))
			break;
		oid = neo_rocks_iter_u64(it, 4);
		if (oid != candidate) {
			candidate = oid;	/* no revision <= tid before it */
			continue;
		}
		r = cb(ctx, oid);
		sent++;
		if (oid == UINT64_MAX)
			break;
		candidate = oid + 1;
	}
	return neo_rocks_iter_close(db, it, r);
}

/* The id at offset of the last key of partition in cf (at or below
 * `below`); NOTFOUND if the partition has none. */
static int last_in_partition(struct neo_db *db, enum neo_rocks_cf cf, uint32_t partition,
			     const struct neo_rocks_key *below, size_t offset, uint64_t *id)
{
	struct neo_rocks_key prefix = partition_key(partition);
	rocksdb_iterator_t *it = neo_rocks_iter(db, cf);
	int status = NEO_BACKEND_NOTFOUND;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	rocksdb_iter_seek_for_prev(it, (const char *)below->b, below->n);
	if (neo_rocks_iter_in(it, &prefix)) {
		*id = neo_rocks_iter_u64(it, offset);
		status = NEO_BACKEND_OK;
	}
	return neo_rocks_iter_close(db, it, status);
}

int neo_rocks_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid)
{
	struct neo_rocks_key end = id_pair_key(partition, UINT64_MAX, UINT64_MAX);
	int status = last_in_partition(db, NEO_CF_OBJ_TID, partition, &end, 4, tid);

	if (status == NEO_BACKEND_OK)
		status = last_in_partition(db, NEO_CF_OBJ, partition, &end, 4, oid);
	return status;
}

int neo_rocks_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			     uint64_t *tid)
{
	struct neo_rocks_key below = partition_key(partition);

	neo_rocks_key_u64(&below, max_tid);
	return last_in_partition(db, NEO_CF_TRANS, partition, &below, 4, tid);
}

int neo_rocks_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid)
{
	struct neo_rocks_key prefix = partition_key(partition);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TRANS);
	int status = NEO_BACKEND_NOTFOUND;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	rocksdb_iter_seek(it, (const char *)prefix.b, prefix.n);
	if (neo_rocks_iter_in(it, &prefix)) {
		*tid = neo_rocks_iter_u64(it, 4);
		status = NEO_BACKEND_OK;
	}
	return neo_rocks_iter_close(db, it, status);
}
