/*
 * mysql_ranges.c - lists and ranges in mysql_innodb.so: tids newest first
 * for undoLog, tid and (tid, oid) ranges for iteration, replication and
 * replica checks, oids of a partition, and the last ids of a partition.
 * Ranges are inclusive; a length of 0 means no limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_db.h"

int neo_mysql_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
			    uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx)
{
	uint64_t limit = neo_mysql_limit(length);
	char *list, *sql;
	MYSQL_BIND params[2];
	MYSQL_STMT *st;
	int status;

	if (count == 0)
		return NEO_BACKEND_OK;
	/* The partitions are numbers written into the text: any count in
	 * one statement, which is then not cached. */
	list = neo_mysql_partition_list(partitions, count);
	sql = list != NULL ? malloc(strlen(list) + 100) : NULL;
	if (sql == NULL) {
		free(list);
		snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
		return NEO_BACKEND_EIO;
	}
	sprintf(sql, "SELECT tid FROM trans WHERE `partition` %s ORDER BY tid DESC LIMIT ?, ?", list);
	free(list);
	neo_mysql_bind_id(&params[0], &offset);
	neo_mysql_bind_id(&params[1], &limit);
	status = neo_mysql_execute_once(db, sql, params, &st);
	free(sql);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, cb, NULL, ctx);
}

int neo_mysql_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx)
{
	uint64_t p = partition, limit = neo_mysql_limit(length);
	MYSQL_BIND params[4];
	MYSQL_STMT *st;
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &min_tid);
	neo_mysql_bind_id(&params[2], &max_tid);
	neo_mysql_bind_id(&params[3], &limit);
	status = neo_mysql_execute(db, "SELECT tid FROM trans WHERE `partition` = ? AND tid >= ?"
				   " AND tid <= ? ORDER BY tid LIMIT ?", params, &st);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, cb, NULL, ctx);
}

int neo_mysql_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t min_oid, uint64_t max_tid, uint64_t length,
			neo_id_pair_cb cb, void *ctx)
{
	uint64_t p = partition, limit = neo_mysql_limit(length);
	MYSQL_BIND params[6];
	MYSQL_STMT *st;
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &min_tid);
	neo_mysql_bind_id(&params[2], &min_oid);
	neo_mysql_bind_id(&params[3], &min_tid);
	neo_mysql_bind_id(&params[4], &max_tid);
	neo_mysql_bind_id(&params[5], &limit);
	/* As upstream: (tid == min_tid and oid >= min_oid) or
	 * min_tid < tid <= max_tid, in (tid, oid) order, on the tid index. */
	status = neo_mysql_execute(db, "SELECT tid, oid FROM obj FORCE INDEX (tid)"
				   " WHERE `partition` = ? AND ((tid = ? AND oid >= ?)"
				   " OR (tid > ? AND tid <= ?)) ORDER BY tid, oid LIMIT ?",
				   params, &st);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, NULL, cb, ctx);
}

int neo_mysql_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			uint64_t length, neo_id_cb cb, void *ctx)
{
	uint64_t p = partition, limit = neo_mysql_limit(length);
	MYSQL_BIND params[4];
	MYSQL_STMT *st;
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &min_oid);
	neo_mysql_bind_id(&params[2], &tid);
	neo_mysql_bind_id(&params[3], &limit);
	status = neo_mysql_execute(db, "SELECT DISTINCT oid FROM obj WHERE `partition` = ?"
				   " AND oid >= ? AND tid <= ? ORDER BY oid LIMIT ?", params, &st);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, cb, NULL, ctx);
}

/* One row of one or two aggregates; NOTFOUND when the first is NULL. */
static int aggregate(struct neo_db *db, const char *sql, MYSQL_BIND *params, uint64_t *a,
		     uint64_t *b)
{
	struct neo_mysql_row row = { .ids = b != NULL ? 2 : 1 };
	int status = neo_mysql_query_row(db, sql, params, &row);

	if (status == NEO_BACKEND_OK && row.null[0])
		status = NEO_BACKEND_NOTFOUND;
	if (status == NEO_BACKEND_OK) {
		*a = row.id[0];
		if (b != NULL)
			*b = row.id[1];
	}
	return status;
}

int neo_mysql_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid)
{
	uint64_t p = partition;
	MYSQL_BIND params[2];

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &p);
	/* Each maximum from the index that has it first. */
	return aggregate(db, "SELECT (SELECT MAX(tid) FROM obj FORCE INDEX (tid)"
			 " WHERE `partition` = ?), (SELECT MAX(oid) FROM obj FORCE INDEX (PRIMARY)"
			 " WHERE `partition` = ?)", params, tid, oid);
}

int neo_mysql_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			     uint64_t *tid)
{
	uint64_t p = partition;
	MYSQL_BIND params[2];

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &max_tid);
	return aggregate(db, "SELECT MAX(tid) FROM trans WHERE `partition` = ? AND tid <= ?",
			 params, tid, NULL);
}

int neo_mysql_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid)
{
	uint64_t p = partition;
	MYSQL_BIND params[1];

	neo_mysql_bind_id(&params[0], &p);
	return aggregate(db, "SELECT MIN(tid) FROM trans WHERE `partition` = ?", params, tid, NULL);
}
