/*
 * sqlite_ranges.c - lists and ranges in sqlite.so: tids newest first for
 * undoLog, tid and (tid, oid) ranges for iteration, replication and
 * replica checks, oids of a partition, and the last ids of a partition.
 * Ranges are inclusive; a length of 0 means no limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"


/* SQLite's LIMIT takes -1 for "no limit". */
static sqlite3_int64 limit_of(uint64_t length)
{
	return length == 0 || length > INT64_MAX ? -1 : (sqlite3_int64)length;
}

static int each_row(struct neo_db *db, sqlite3_stmt *st, neo_id_cb one, neo_id_pair_cb two,
		    void *ctx)
{
	int r = NEO_BACKEND_OK;
	int step;

	while (r == NEO_BACKEND_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t a = (uint64_t)sqlite3_column_int64(st, 0);

		r = one ? one(ctx, a) : two(ctx, a, (uint64_t)sqlite3_column_int64(st, 1));
	}
	if (r == NEO_BACKEND_OK && step != SQLITE_DONE)
		r = neo_sqlite_fail(db, NEO_BACKEND_EIO, "scan");
	neo_sqlite_finalize(db, st);
	return r;
}

int neo_sqlite_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
			     uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx)
{
	sqlite3_stmt *st;

	if (count == 0)
		return NEO_BACKEND_OK;
	st = neo_sqlite_prepare(db, "SELECT tid FROM trans WHERE partition IN"
		" (SELECT value FROM json_each(?)) ORDER BY tid DESC LIMIT ? OFFSET ?");
	if (st == NULL)
		return NEO_BACKEND_EIO;
	if (neo_sqlite_bind_partitions(db, st, 1, partitions, count) != NEO_BACKEND_OK) {
		neo_sqlite_finalize(db, st);
		return NEO_BACKEND_EIO;
	}
	sqlite3_bind_int64(st, 2, limit_of(length));
	sqlite3_bind_int64(st, 3, (sqlite3_int64)offset);
	return each_row(db, st, cb, NULL, ctx);
}

int neo_sqlite_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			 uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT tid FROM trans WHERE partition = ?"
		" AND tid >= ? AND tid <= ? ORDER BY tid LIMIT ?");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)min_tid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max_tid);
	sqlite3_bind_int64(st, 4, limit_of(length));
	return each_row(db, st, cb, NULL, ctx);
}

int neo_sqlite_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			 uint64_t min_oid, uint64_t max_tid, uint64_t length,
			 neo_id_pair_cb cb, void *ctx)
{
	/* As upstream: (tid == min_tid and oid >= min_oid) or
	 * min_tid < tid <= max_tid, in (tid, oid) order. */
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT tid, oid FROM obj WHERE partition = ?1"
		" AND ((tid = ?2 AND oid >= ?3) OR (tid > ?2 AND tid <= ?4))"
		" ORDER BY tid, oid LIMIT ?5");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)min_tid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)min_oid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max_tid);
	sqlite3_bind_int64(st, 5, limit_of(length));
	return each_row(db, st, NULL, cb, ctx);
}

int neo_sqlite_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			 uint64_t length, neo_id_cb cb, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT DISTINCT oid FROM obj WHERE partition = ?"
		" AND oid >= ? AND tid <= ? ORDER BY oid LIMIT ?");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)min_oid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)tid);
	sqlite3_bind_int64(st, 4, limit_of(length));
	return each_row(db, st, cb, NULL, ctx);
}

/* One row of two ids, or NOTFOUND when the aggregate is NULL. */
static int one_row(struct neo_db *db, sqlite3_stmt *st, uint64_t *a, uint64_t *b)
{
	int step = sqlite3_step(st);
	int status = NEO_BACKEND_NOTFOUND;

	if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*a = (uint64_t)sqlite3_column_int64(st, 0);
		if (b != NULL)
			*b = (uint64_t)sqlite3_column_int64(st, 1);
		status = NEO_BACKEND_OK;
	} else if (step != SQLITE_ROW && step != SQLITE_DONE) {
		status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "last ids");
	}
	neo_sqlite_finalize(db, st);
	return status;
}

int neo_sqlite_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT MAX(tid), (SELECT MAX(oid) FROM obj WHERE partition = ?1)"
		" FROM obj WHERE partition = ?1");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	return one_row(db, st, tid, oid);
}

int neo_sqlite_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			      uint64_t *tid)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT MAX(tid) FROM trans WHERE partition = ? AND tid <= ?");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max_tid);
	return one_row(db, st, tid, NULL);
}

int neo_sqlite_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT MIN(tid) FROM trans WHERE partition = ?");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	return one_row(db, st, tid, NULL);
}
