/*
 * mysql_pack.c - pack orders, packing one oid, and the bulk deletions
 * (truncate ranges, dropped partitions) in mysql_innodb.so.
 *
 * Pack keeps, for each oid, its last revision at or before the pack tid,
 * unless that revision is a deletion, and never touches later revisions or
 * undo pointers (core/neo/backend.md section 15): replicas packing the same
 * order stay identical.  The pack table is upstream's, without a partition
 * column: an order's partition is its tid modulo the number of partitions,
 * the pt table's (as upstream: its greatest partition plus one; the master
 * keeps a tid in its ttid's partition).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_db.h"

int neo_mysql_pack_order_put(struct neo_db *db, uint32_t partition,
			     const struct neo_pack_order *order)
{
	uint64_t approved = (uint64_t)order->approved, partial = order->partial;
	unsigned long oids_length = (unsigned long)order->oids.size;
	MYSQL_BIND params[5];

	(void)partition;	/* the tid's, see above */
	neo_mysql_bind_id(&params[0], &order->id);
	if (order->approved < 0)
		neo_mysql_bind_null(&params[1]);
	else
		neo_mysql_bind_id(&params[1], &approved);
	neo_mysql_bind_id(&params[2], &partial);
	if (order->has_oids)
		neo_mysql_bind_bytes(&params[3], order->oids.data, &oids_length);
	else
		neo_mysql_bind_null(&params[3]);
	neo_mysql_bind_id(&params[4], &order->pack_tid);
	return neo_mysql_run(db, "REPLACE INTO pack (tid, approved, partial, oids, pack_tid)"
			     " VALUES (?, ?, ?, ?, ?)", params, NULL);
}

int neo_mysql_pack_order_rename(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	return neo_mysql_run_ids(db, "UPDATE pack SET tid = ? WHERE tid = ?", tid, ttid, 0, NULL);
}

int neo_mysql_pack_order_sign(struct neo_db *db, uint64_t id, bool approved)
{
	uint64_t matched = 0;
	int status = neo_mysql_run_ids(db, "UPDATE pack SET approved = ? WHERE tid = ?",
				       approved, id, 0, &matched);

	if (status == NEO_BACKEND_OK && matched == 0)
		status = NEO_BACKEND_NOTFOUND;
	return status;
}

static int report_orders(struct neo_db *db, MYSQL_STMT *st, neo_pack_order_cb cb, void *ctx)
{
	struct neo_mysql_row row = { .ids = 4, .blobs = 1 };
	int status, r = NEO_BACKEND_OK;

	while (r == NEO_BACKEND_OK && (status = neo_mysql_fetch(db, st, &row)) == NEO_BACKEND_OK) {
		struct neo_pack_order order = {
			.id = row.id[0],
			.approved = row.null[1] ? -1 : (int)row.id[1],
			.partial = row.id[2] != 0,
			.pack_tid = row.id[3],
			.has_oids = !row.blob_null[0],
			.oids = row.blob[0],
		};

		r = cb(ctx, &order);
	}
	neo_mysql_done(db, st);
	if (r != NEO_BACKEND_OK)
		return r;
	return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : status;
}

int neo_mysql_pack_orders_from(struct neo_db *db, const uint32_t *partitions, size_t count,
			       uint64_t min_id, neo_pack_order_cb cb, void *ctx)
{
	char *list, *sql;
	MYSQL_BIND params[1];
	MYSQL_STMT *st;
	int status;

	if (count == 0)
		return NEO_BACKEND_OK;
	list = neo_mysql_partition_list(partitions, count);
	sql = list != NULL ? malloc(strlen(list) + 160) : NULL;
	if (sql == NULL) {
		free(list);
		snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
		return NEO_BACKEND_EIO;
	}
	sprintf(sql, "SELECT tid, approved, partial, pack_tid, oids FROM pack"
		" WHERE tid %% (SELECT MAX(`partition`) + 1 FROM pt) %s AND tid >= ? ORDER BY tid",
		list);
	free(list);
	neo_mysql_bind_id(&params[0], &min_id);
	status = neo_mysql_execute_once(db, sql, params, &st);
	free(sql);
	if (status != NEO_BACKEND_OK)
		return status;
	return report_orders(db, st, cb, ctx);
}

/* The last revision of oid at or before pack_tid: NOTFOUND if none. */
static int last_revision(struct neo_db *db, uint64_t partition, uint64_t oid, uint64_t pack_tid,
			 uint64_t *tid, bool *deletion)
{
	struct neo_mysql_row row = { .ids = 2 };
	MYSQL_BIND params[3];
	int status;

	neo_mysql_bind_id(&params[0], &partition);
	neo_mysql_bind_id(&params[1], &oid);
	neo_mysql_bind_id(&params[2], &pack_tid);
	status = neo_mysql_query_row(db, "SELECT tid, data_id FROM obj WHERE `partition` = ?"
				   " AND oid = ? AND tid <= ? ORDER BY tid DESC LIMIT 1", params, &row);
	*tid = row.id[0];
	*deletion = row.null[1];
	return status;
}

int neo_mysql_pack_oid(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
		       neo_id_cb data_ids, void *ctx)
{
	uint64_t last;
	bool deletion;
	int status = last_revision(db, partition, oid, pack_tid, &last, &deletion);

	if (status == NEO_BACKEND_NOTFOUND)
		return NEO_BACKEND_OK;	/* nothing at or before the pack tid */
	if (status != NEO_BACKEND_OK)
		return status;
	/* A deletion goes with everything before it; data goes with what
	 * precedes it. */
	status = neo_mysql_each_id(db, deletion ?
		"SELECT DISTINCT data_id FROM obj WHERE `partition` = ? AND oid = ? AND tid <= ?"
		" AND data_id IS NOT NULL" :
		"SELECT DISTINCT data_id FROM obj WHERE `partition` = ? AND oid = ? AND tid < ?"
		" AND data_id IS NOT NULL", partition, oid, last, data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, deletion ?
			"DELETE FROM obj WHERE `partition` = ? AND oid = ? AND tid <= ?" :
			"DELETE FROM obj WHERE `partition` = ? AND oid = ? AND tid < ?",
			partition, oid, last, NULL);
	return status;
}

int neo_mysql_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			   uint64_t max_tid, neo_id_cb data_ids, void *ctx)
{
	/* As upstream: a truncated transaction takes its pack order along. */
	int status = neo_mysql_run_ids(db, "DELETE trans, pack FROM trans LEFT JOIN pack USING (tid)"
				       " WHERE trans.`partition` = ? AND trans.tid > ?"
				       " AND trans.tid <= ?", partition, min_tid, max_tid, NULL);

	if (status == NEO_BACKEND_OK)
		status = neo_mysql_each_id(db, "SELECT DISTINCT data_id FROM obj FORCE INDEX (tid)"
					   " WHERE `partition` = ? AND tid > ? AND tid <= ?"
					   " AND data_id IS NOT NULL", partition, min_tid, max_tid,
					   data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM obj WHERE `partition` = ? AND tid > ?"
					   " AND tid <= ?", partition, min_tid, max_tid, NULL);
	return status;
}

int neo_mysql_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			neo_id_cb data_ids, void *ctx, bool *done)
{
	uint64_t deleted = 0;
	int status = neo_mysql_each_id(db, "SELECT DISTINCT data_id FROM (SELECT data_id FROM obj"
				       " FORCE INDEX (tid) WHERE `partition` = ? ORDER BY tid, oid"
				       " LIMIT ?) AS batch WHERE data_id IS NOT NULL", partition, count,
				       0, data_ids, ctx);

	*done = false;
	/* As upstream: DELETE ... ORDER BY ... LIMIT takes the same rows. */
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM obj WHERE `partition` = ?"
					   " ORDER BY tid, oid LIMIT ?", partition, count, 0, &deleted);
	if (status != NEO_BACKEND_OK || deleted > 0)
		return status;
	/* No revision left: the transactions and pack orders go at once. */
	/* as upstream: the orders carried by the partition's transactions */
	status = neo_mysql_run_ids(db, "DELETE pack FROM pack JOIN trans USING (tid)"
				   " WHERE trans.`partition` = ?", partition, 0, 0, NULL);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM trans WHERE `partition` = ?", partition,
					   0, 0, NULL);
	*done = status == NEO_BACKEND_OK;
	return status;
}
