/*
 * mysql_maintenance.c - history, undo history, deleting revisions and
 * pruning data in mysql_innodb.so, and where the database lives.
 *
 * Data rows are deleted only when no revision references them: with
 * dedup a row may be shared across oids and partitions, so nothing is
 * ever deleted by id range (core/neo/backend.md section 11.2).
 */
#include <stdio.h>
#include <string.h>

#include "mysql_db.h"

int neo_mysql_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			  uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx)
{
	uint64_t p = partition, limit = neo_mysql_limit(length);
	MYSQL_BIND params[4];
	MYSQL_STMT *st;
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &oid);
	neo_mysql_bind_id(&params[2], &offset);
	neo_mysql_bind_id(&params[3], &limit);
	/* Size 0 for a revision without data, as upstream; a value in
	 * bigdata chunks has its length in its pointer (mysql_objects.c). */
	status = neo_mysql_execute(db, "SELECT tid, IFNULL(IF(compression < 128, LENGTH(value),"
				   " CONV(HEX(SUBSTR(value, 5, 4)), 16, 10)), 0) FROM obj"
				   " LEFT JOIN data ON data.id = obj.data_id"
				   " WHERE `partition` = ? AND oid = ? ORDER BY tid DESC LIMIT ?, ?",
				   params, &st);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, NULL, cb, ctx);
}

int neo_mysql_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t from, neo_id_pair_cb cb, void *ctx)
{
	uint64_t p = partition;
	MYSQL_BIND params[3];
	MYSQL_STMT *st;
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &oid);
	neo_mysql_bind_id(&params[2], &from);
	/* A NULL value_tid reads as UINT64_MAX: "no undo pointer". */
	status = neo_mysql_execute(db, "SELECT tid, value_tid FROM obj WHERE `partition` = ?"
				   " AND oid = ? AND tid >= ? ORDER BY tid", params, &st);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, NULL, cb, ctx);
}

int neo_mysql_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			 const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx)
{
	bool one = serial != NULL && serial->has;
	uint64_t tid = one ? serial->id : 0;
	int status = neo_mysql_each_id(db, one ?
		"SELECT DISTINCT data_id FROM obj WHERE `partition` = ? AND oid = ? AND tid = ?"
		" AND data_id IS NOT NULL" :
		"SELECT DISTINCT data_id FROM obj WHERE `partition` = ? AND oid = ?"
		" AND data_id IS NOT NULL", partition, oid, tid, data_ids, ctx);

	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_run_ids(db, one ?
		"DELETE FROM obj WHERE `partition` = ? AND oid = ? AND tid = ?" :
		"DELETE FROM obj WHERE `partition` = ? AND oid = ?", partition, oid, tid, NULL);
}

int neo_mysql_data_prune(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned)
{
	int status = NEO_BACKEND_OK;

	*pruned = 0;
	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++) {
		uint64_t deleted = 0;

		/* as upstream: a value in bigdata chunks takes them along */
		status = neo_mysql_run_ids(db, "DELETE bigdata FROM data JOIN bigdata"
			" ON bigdata.id >= CONV(HEX(SUBSTR(data.value, 1, 4)), 16, 10)"
			" AND bigdata.id < CONV(HEX(SUBSTR(data.value, 1, 4)), 16, 10)"
			" + ((CONV(HEX(SUBSTR(data.value, 5, 4)), 16, 10) + 8388607) >> 23)"
			" WHERE data.id = ? AND data.compression >= 128 AND NOT EXISTS"
			" (SELECT 1 FROM obj WHERE data_id = ?) AND NOT EXISTS"
			" (SELECT 1 FROM tobj WHERE data_id = ?)", ids[i], ids[i], ids[i], NULL);
		if (status == NEO_BACKEND_OK)
			status = neo_mysql_run_ids(db, "DELETE FROM data WHERE id = ? AND NOT EXISTS"
					   " (SELECT 1 FROM obj WHERE data_id = ?) AND NOT EXISTS"
					   " (SELECT 1 FROM tobj WHERE data_id = ?)", ids[i], ids[i],
					   ids[i], &deleted);
		*pruned += (size_t)deleted;
	}
	return status;
}

int neo_mysql_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	return neo_mysql_each_id(db, "SELECT id FROM data WHERE NOT EXISTS"
		" (SELECT 1 FROM obj WHERE data_id = data.id) AND NOT EXISTS"
		" (SELECT 1 FROM tobj WHERE data_id = data.id) ORDER BY id", 0, 0, 0, cb, ctx);
}

int neo_mysql_device_path(struct neo_db *db, struct neo_bytes *path)
{
	/* As upstream: where the server keeps its data, "host:datadir", so
	 * that the master avoids putting replicas on one disk. */
	struct neo_mysql_row row = { .blobs = 2 };
	char text[600];
	int status = neo_mysql_query_row(db, "SELECT @@hostname, @@datadir", NULL, &row);

	if (status != NEO_BACKEND_OK)
		return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_EIO : status;
	snprintf(text, sizeof(text), "%.*s:%.*s", (int)(row.blob[0].size > 255 ? 255 : row.blob[0].size),
		 (const char *)row.blob[0].data, (int)(row.blob[1].size > 300 ? 300 : row.blob[1].size),
		 (const char *)row.blob[1].data);
	return neo_mysql_keep(db, 2, text, strlen(text), path);
}

int neo_mysql_db_size(struct neo_db *db, uint64_t *bytes)
{
	/* the server's estimate of this database's tables, without a scan */
	struct neo_mysql_row row = { .ids = 1 };
	int status = neo_mysql_query_row(db, "SELECT CAST(COALESCE(SUM(data_length + index_length), 0)"
		" AS UNSIGNED) FROM information_schema.tables WHERE table_schema = DATABASE()",
		NULL, &row);

	if (status != NEO_BACKEND_OK)
		return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_EIO : status;
	*bytes = row.null[0] ? 0 : row.id[0];
	return NEO_BACKEND_OK;
}
