/*
 * sqlite_transactions.c - transaction metadata and the two-phase commit
 * of staged rows in sqlite.so (core/neo/backend.md section 12).
 *
 * At vote the node stages revisions in tobj (their tid column holds the
 * ttid) and metadata in ttrans (tid NULL).  Lock writes the final tid into
 * ttrans; the node commits SYNC before answering, so a crash after lock
 * leaves a ttrans row with its tid, which recovery replays.  Unlock moves
 * the rows to obj and trans under the final tid.
 */
#include <string.h>

#include "sqlite_db.h"


static void bind_bytes(sqlite3_stmt *st, int index, struct neo_bytes b)
{
	sqlite3_bind_blob(st, index, b.size ? b.data : (const void *)"", (int)b.size, SQLITE_STATIC);
}

int neo_sqlite_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, temporary ?
		"INSERT INTO ttrans (partition, tid, packed, oids, user, description, ext, ttid)"
		" VALUES (?1, NULL, ?3, ?4, ?5, ?6, ?7, ?8)" :
		"INSERT INTO trans (partition, tid, packed, oids, user, description, ext, ttid)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	int status = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, trans->partition);
	if (!temporary)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)trans->tid);
	sqlite3_bind_int(st, 3, trans->packed);
	bind_bytes(st, 4, trans->oids);
	bind_bytes(st, 5, trans->user);
	bind_bytes(st, 6, trans->description);
	bind_bytes(st, 7, trans->extension);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)trans->ttid);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = neo_sqlite_fail(db, sqlite3_extended_errcode(db->sql) ==
					 SQLITE_CONSTRAINT_PRIMARYKEY ? NEO_BACKEND_EDUP :
					 NEO_BACKEND_EIO, "trans");
	neo_sqlite_finalize(db, st);
	return status;
}

static int read_trans(struct neo_db *db, sqlite3_stmt *st, struct neo_trans *out)
{
	int status;

	out->partition = (uint32_t)sqlite3_column_int64(st, 0);
	out->tid = (uint64_t)sqlite3_column_int64(st, 1);
	out->packed = sqlite3_column_int(st, 2) != 0;
	out->ttid = (uint64_t)sqlite3_column_int64(st, 7);
	status = neo_sqlite_keep_blob(db, 0, sqlite3_column_blob(st, 3), sqlite3_column_bytes(st, 3), &out->oids);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_keep_blob(db, 1, sqlite3_column_blob(st, 4),
					      sqlite3_column_bytes(st, 4), &out->user);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_keep_blob(db, 2, sqlite3_column_blob(st, 5),
					      sqlite3_column_bytes(st, 5), &out->description);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_keep_blob(db, 3, sqlite3_column_blob(st, 6),
					      sqlite3_column_bytes(st, 6), &out->extension);
	if (status == NEO_BACKEND_OK && out->oids.size % 8 != 0) {
		strcpy(db->errmsg, "a transaction's oid list is not a multiple of 8 bytes");
		status = NEO_BACKEND_ECORRUPT;
	}
	return status;
}

int neo_sqlite_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			 bool include_locked_temporary, struct neo_trans *out)
{
	static const char *const queries[2] = {
		"SELECT partition, tid, packed, oids, user, description, ext, ttid FROM trans"
		" WHERE partition = ?1 AND tid = ?2",
		"SELECT partition, tid, packed, oids, user, description, ext, ttid FROM ttrans"
		" WHERE partition = ?1 AND tid = ?2",
	};
	int status = NEO_BACKEND_NOTFOUND;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < (include_locked_temporary ? 2 : 1) && status == NEO_BACKEND_NOTFOUND; i++) {
		sqlite3_stmt *st = neo_sqlite_prepare(db, queries[i]);

		if (st == NULL)
			return NEO_BACKEND_EIO;
		sqlite3_bind_int64(st, 1, partition);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)tid);
		if (sqlite3_step(st) == SQLITE_ROW)
			status = read_trans(db, st, out);
		neo_sqlite_finalize(db, st);
	}
	return status;
}

int neo_sqlite_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid)
{
	int status = neo_sqlite_run(db, "DELETE FROM trans WHERE partition = ?1 AND tid = ?2", partition, tid, 0);

	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM pack WHERE tid = ?1", tid, 0, 0);
	return status;
}

int neo_sqlite_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT tid FROM trans WHERE partition = ?1 AND tid >= ?2 AND ttid = ?2 LIMIT 1");
	int status = NEO_BACKEND_NOTFOUND;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ttid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*tid = (uint64_t)sqlite3_column_int64(st, 0);
		status = NEO_BACKEND_OK;
	}
	neo_sqlite_finalize(db, st);
	return status;
}

int neo_sqlite_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	/* As upstream: nothing to lock on a node without the metadata. */
	return neo_sqlite_run(db, "UPDATE ttrans SET tid = ?2 WHERE ttid = ?1", ttid, tid, 0);
}

int neo_sqlite_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			  void *ctx)
{
	int status = neo_sqlite_run(db,
		"INSERT INTO trans (partition, tid, packed, oids, user, description, ext, ttid)"
		" SELECT partition, ?2, packed, oids, user, description, ext, ttid FROM ttrans"
		" WHERE ttid = ?1", ttid, tid, 0);

	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM ttrans WHERE ttid = ?1", ttid, 0, 0);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "UPDATE pack SET tid = ?2 WHERE tid = ?1", ttid, tid, 0);
	if (status == NEO_BACKEND_OK && data_ids != NULL)
		status = neo_sqlite_each_id(db, "SELECT data_id FROM tobj WHERE tid = ?1"
					    " AND data_id IS NOT NULL", ttid, 0, 0, data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "INSERT INTO obj (partition, oid, tid, data_id, value_tid)"
					" SELECT partition, oid, ?2, data_id, value_tid FROM tobj"
					" WHERE tid = ?1", ttid, tid, 0);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM tobj WHERE tid = ?1", ttid, 0, 0);
	return status;
}

int neo_sqlite_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx)
{
	int status = NEO_BACKEND_OK;

	if (data_ids != NULL)
		status = neo_sqlite_each_id(db, "SELECT data_id FROM tobj WHERE tid = ?1"
					    " AND data_id IS NOT NULL", ttid, 0, 0, data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM tobj WHERE tid = ?1", ttid, 0, 0);
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM ttrans WHERE ttid = ?1", ttid, 0, 0);
	/* Unlike upstream, a pack order staged under the ttid goes too. */
	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_run(db, "DELETE FROM pack WHERE tid = ?1", ttid, 0, 0);
	return status;
}

int neo_sqlite_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT ttid, IFNULL(tid, 0) FROM ttrans"
		" UNION SELECT DISTINCT tid, 0 FROM tobj WHERE tid NOT IN (SELECT ttid FROM ttrans)"
		" ORDER BY 1");
	int r = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	while (r == NEO_BACKEND_OK && sqlite3_step(st) == SQLITE_ROW)
		r = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
	neo_sqlite_finalize(db, st);
	return r;
}

int neo_sqlite_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	return neo_sqlite_each_id(db, "SELECT data_id FROM tobj WHERE data_id IS NOT NULL",
				  0, 0, 0, cb, ctx);
}

int neo_sqlite_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
			   struct neo_opt_id *data_id)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT data_id FROM obj WHERE partition = ?1 AND oid = ?2 AND tid = ?3");
	int status = NEO_BACKEND_NOTFOUND;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)serial);
	if (sqlite3_step(st) == SQLITE_ROW) {
		data_id->has = sqlite3_column_type(st, 0) != SQLITE_NULL;
		data_id->id = (uint64_t)sqlite3_column_int64(st, 0);
		status = NEO_BACKEND_OK;
	}
	neo_sqlite_finalize(db, st);
	return status;
}
