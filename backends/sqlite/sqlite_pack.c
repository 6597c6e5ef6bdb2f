/*
 * sqlite_pack.c - pack orders, packing one oid, and the bulk deletions
 * (truncate ranges, dropped partitions) in sqlite.so.
 *
 * Pack keeps, for each oid, its last revision at or before the pack tid,
 * unless that revision is a deletion, and never touches later revisions or
 * undo pointers (core/neo/backend.md section 15): replicas packing the same
 * order stay identical.  The pack table is upstream's: it has no partition
 * column, so an order's partition is its tid modulo the number of
 * partitions, which is the pt table's (as upstream: the greatest partition
 * there plus one; the master keeps a tid in its ttid's partition).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"


int neo_sqlite_pack_order_put(struct neo_db *db, uint32_t partition,
			      const struct neo_pack_order *order)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "INSERT OR REPLACE INTO pack"
		" (tid, approved, partial, oids, pack_tid) VALUES (?, ?, ?, ?, ?)");
	int status = NEO_BACKEND_OK;

	(void)partition;	/* the tid's, see above */
	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)order->id);
	if (order->approved < 0)
		sqlite3_bind_null(st, 2);
	else
		sqlite3_bind_int(st, 2, order->approved);
	sqlite3_bind_int(st, 3, order->partial);
	if (order->has_oids)
		sqlite3_bind_blob(st, 4, order->oids.size ? order->oids.data : (const void *)"",
				  (int)order->oids.size, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)order->pack_tid);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "pack order");
	neo_sqlite_finalize(db, st);
	return status;
}

int neo_sqlite_pack_order_rename(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	return neo_sqlite_run(db, "UPDATE pack SET tid = ?2 WHERE tid = ?1", ttid, tid, 0);
}

int neo_sqlite_pack_order_sign(struct neo_db *db, uint64_t id, bool approved)
{
	int status = neo_sqlite_run(db, "UPDATE pack SET approved = ?2 WHERE tid = ?1", id, approved, 0);

	if (status == NEO_BACKEND_OK && sqlite3_changes(db->sql) == 0)
		status = NEO_BACKEND_NOTFOUND;
	return status;
}

int neo_sqlite_pack_orders_from(struct neo_db *db, const uint32_t *partitions, size_t count,
				uint64_t min_id, neo_pack_order_cb cb, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT tid, IFNULL(approved, -1), partial, oids,"
		" pack_tid FROM pack WHERE tid % (SELECT MAX(partition) + 1 FROM pt)"
		" IN (SELECT value FROM json_each(?)) AND tid >= ? ORDER BY tid");
	int r = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	if (neo_sqlite_bind_partitions(db, st, 1, partitions, count) != NEO_BACKEND_OK) {
		neo_sqlite_finalize(db, st);
		return NEO_BACKEND_EIO;
	}
	sqlite3_bind_int64(st, 2, (sqlite3_int64)min_id);
	while (r == NEO_BACKEND_OK && sqlite3_step(st) == SQLITE_ROW) {
		struct neo_pack_order order = {
			.id = (uint64_t)sqlite3_column_int64(st, 0),
			.approved = sqlite3_column_int(st, 1),
			.partial = sqlite3_column_int(st, 2) != 0,
			.has_oids = sqlite3_column_type(st, 3) != SQLITE_NULL,
			.oids = { sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3) },
			.pack_tid = (uint64_t)sqlite3_column_int64(st, 4),
		};

		r = cb(ctx, &order);
	}
	neo_sqlite_finalize(db, st);
	return r;
}

int neo_sqlite_pack_oid(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
			neo_id_cb data_ids, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT tid, data_id IS NULL FROM obj"
		" WHERE partition = ? AND oid = ? AND tid <= ? ORDER BY tid DESC LIMIT 1");
	uint64_t last;
	bool deletion;
	const char *bound;
	char select_ids[200], delete_rows[160];
	int status;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)pack_tid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		neo_sqlite_finalize(db, st);
		return NEO_BACKEND_OK;	/* nothing at or before the pack tid */
	}
	last = (uint64_t)sqlite3_column_int64(st, 0);
	deletion = sqlite3_column_int(st, 1) != 0;
	neo_sqlite_finalize(db, st);
	/* A deletion goes with everything before it; data goes with what
	 * precedes it. */
	bound = deletion ? "<=" : "<";
	snprintf(select_ids, sizeof(select_ids), "SELECT DISTINCT data_id FROM obj WHERE partition = ?1"
		 " AND oid = ?2 AND tid %s ?3 AND data_id IS NOT NULL", bound);
	snprintf(delete_rows, sizeof(delete_rows),
		 "DELETE FROM obj WHERE partition = ?1 AND oid = ?2 AND tid %s ?3", bound);
	status = neo_sqlite_each_id(db, select_ids, partition, oid, last, data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, delete_rows, partition, oid, last);
	return status;
}

int neo_sqlite_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			    uint64_t max_tid, neo_id_cb data_ids, void *ctx)
{
	int status;

	/* SQLite integers are signed: "up to INVALID_TID" means up to the
	 * greatest tid there can be */
	if (max_tid > (uint64_t)INT64_MAX)
		max_tid = (uint64_t)INT64_MAX;
	status = neo_sqlite_run(db, "DELETE FROM pack WHERE tid IN (SELECT tid FROM trans"
			  " WHERE partition = ?1 AND tid > ?2 AND tid <= ?3)", partition, min_tid, max_tid);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM trans WHERE partition = ?1 AND tid > ?2 AND tid <= ?3",
			      partition, min_tid, max_tid);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_each_id(db, "SELECT DISTINCT data_id FROM obj WHERE partition = ?1"
				 " AND tid > ?2 AND tid <= ?3 AND data_id IS NOT NULL",
				 partition, min_tid, max_tid, data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM obj WHERE partition = ?1 AND tid > ?2 AND tid <= ?3",
			      partition, min_tid, max_tid);
	return status;
}

int neo_sqlite_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			 neo_id_cb data_ids, void *ctx, bool *done)
{
	const char *batch = "SELECT oid, tid FROM obj WHERE partition = ?1 ORDER BY tid, oid LIMIT ?2";
	char sql[300];
	int status;

	snprintf(sql, sizeof(sql), "SELECT DISTINCT data_id FROM obj WHERE (oid, tid) IN (%s)"
		 " AND partition = ?1 AND data_id IS NOT NULL", batch);
	status = neo_sqlite_each_id(db, sql, partition, count, 0, data_ids, ctx);
	snprintf(sql, sizeof(sql), "DELETE FROM obj WHERE partition = ?1 AND (oid, tid) IN (%s)", batch);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, sql, partition, count, 0);
	if (status != NEO_BACKEND_OK)
		return status;
	*done = false;
	if (sqlite3_changes(db->sql) > 0)
		return NEO_BACKEND_OK;
	/* No revision left: the transactions and pack orders go at once. */
	/* as upstream: the orders carried by the partition's transactions */
	status = neo_sqlite_run(db, "DELETE FROM pack WHERE tid IN"
		" (SELECT tid FROM trans WHERE partition = ?1)", partition, 0, 0);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM trans WHERE partition = ?1", partition, 0, 0);
	*done = status == NEO_BACKEND_OK;
	return status;
}
