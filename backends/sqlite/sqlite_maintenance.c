/*
 * sqlite_maintenance.c - history, undo history, deleting revisions and
 * pruning data in sqlite.so, and where the database lives.
 *
 * Data rows are deleted only when no revision references them: with
 * dedup a row may be shared across oids and partitions, so nothing is
 * ever deleted by id range (core/neo/backend.md section 11.2).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_db.h"


static int scan_pairs(struct neo_db *db, sqlite3_stmt *st, neo_id_pair_cb cb, void *ctx)
{
	int r = NEO_BACKEND_OK, step;

	while (r == NEO_BACKEND_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		r = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
	if (r == NEO_BACKEND_OK && step != SQLITE_DONE)
		r = neo_sqlite_fail(db, NEO_BACKEND_EIO, "scan");
	neo_sqlite_finalize(db, st);
	return r;
}

int neo_sqlite_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			   uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx)
{
	/* Size 0 for a revision without data, as upstream. */
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT tid, IFNULL(LENGTH(value), 0) FROM obj LEFT JOIN data ON data.id = obj.data_id"
		" WHERE partition = ? AND oid = ? ORDER BY tid DESC LIMIT ? OFFSET ?");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	sqlite3_bind_int64(st, 3, length == 0 || length > INT64_MAX ? -1 : (sqlite3_int64)length);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)offset);
	return scan_pairs(db, st, cb, ctx);
}

int neo_sqlite_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
				uint64_t from, neo_id_pair_cb cb, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT tid, IFNULL(value_tid, -1) FROM obj WHERE partition = ? AND oid = ?"
		" AND tid >= ? ORDER BY tid");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)from);
	/* value_tid -1 reads as UINT64_MAX: "no undo pointer". */
	return scan_pairs(db, st, cb, ctx);
}

static int bind_revision(sqlite3_stmt *st, uint32_t partition, uint64_t oid,
			 const struct neo_opt_id *serial)
{
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	if (serial != NULL && serial->has)
		sqlite3_bind_int64(st, 3, (sqlite3_int64)serial->id);
	return 0;
}

int neo_sqlite_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			  const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx)
{
	bool one = serial != NULL && serial->has;
	sqlite3_stmt *st = neo_sqlite_prepare(db, one ?
		"SELECT DISTINCT data_id FROM obj WHERE partition = ?1 AND oid = ?2 AND tid = ?3"
		" AND data_id IS NOT NULL" :
		"SELECT DISTINCT data_id FROM obj WHERE partition = ?1 AND oid = ?2"
		" AND data_id IS NOT NULL");
	int r = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	bind_revision(st, partition, oid, serial);
	while (r == NEO_BACKEND_OK && data_ids != NULL && sqlite3_step(st) == SQLITE_ROW)
		r = data_ids(ctx, (uint64_t)sqlite3_column_int64(st, 0));
	neo_sqlite_finalize(db, st);
	if (r != NEO_BACKEND_OK)
		return r;
	st = neo_sqlite_prepare(db, one ?
		"DELETE FROM obj WHERE partition = ?1 AND oid = ?2 AND tid = ?3" :
		"DELETE FROM obj WHERE partition = ?1 AND oid = ?2");
	if (st == NULL)
		return NEO_BACKEND_EIO;
	bind_revision(st, partition, oid, serial);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = neo_sqlite_fail(db, NEO_BACKEND_EIO, "delete revisions");
	neo_sqlite_finalize(db, st);
	return r;
}

int neo_sqlite_data_prune(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"DELETE FROM data WHERE id = ?1 AND NOT EXISTS"
		" (SELECT 1 FROM obj WHERE data_id = ?1) AND NOT EXISTS"
		" (SELECT 1 FROM tobj WHERE data_id = ?1)");
	int status = NEO_BACKEND_OK;

	*pruned = 0;
	if (st == NULL)
		return NEO_BACKEND_EIO;
	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)ids[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "prune");
		else
			*pruned += (size_t)sqlite3_changes(db->sql);
	}
	neo_sqlite_finalize(db, st);
	return status;
}

int neo_sqlite_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	return neo_sqlite_each_id(db, "SELECT id FROM data WHERE NOT EXISTS"
		" (SELECT 1 FROM obj WHERE data_id = data.id) AND NOT EXISTS"
		" (SELECT 1 FROM tobj WHERE data_id = data.id) ORDER BY id", 0, 0, 0, cb, ctx);
}

int neo_sqlite_device_path(struct neo_db *db, struct neo_bytes *path)
{
	/* As upstream: "hostname:device" of the database file, so that the
	 * master avoids putting replicas on one disk. */
	const char *file = sqlite3_db_filename(db->sql, "main");
	char host[256] = "", text[400];
	struct stat st;

	gethostname(host, sizeof(host) - 1);
	if (file == NULL || *file == '\0' || stat(file, &st) != 0)
		snprintf(text, sizeof(text), "%s:memory", host);
	else
		snprintf(text, sizeof(text), "%s:%lu", host, (unsigned long)st.st_dev);
	return neo_sqlite_keep_blob(db, 0, text, (int)strlen(text), path);
}

int neo_sqlite_db_size(struct neo_db *db, uint64_t *bytes)
{
	/* the main file's pages: what SQLite itself counts, without a scan */
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
	int status = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*bytes = (uint64_t)sqlite3_column_int64(st, 0);
	else
		status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "database size");
	neo_sqlite_finalize(db, st);
	return status;
}
