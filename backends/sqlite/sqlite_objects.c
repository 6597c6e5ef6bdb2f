/*
 * sqlite_objects.c - object data and revisions in sqlite.so.
 *
 * Data ids are allocated per partition, as upstream: (partition << 48) + n,
 * so the contents of a partition cluster together and dropping it never
 * needs a global counter.
 */
#include <string.h>

#include "sqlite_db.h"


/* With dedup: the id of identical stored bytes, NOTFOUND, or EDUP when
 * other bytes have the same checksum. */
static int find_duplicate(struct neo_db *db, const uint8_t checksum[20], uint8_t compression,
			  struct neo_bytes data, uint64_t *data_id)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT id, value FROM data WHERE hash = ? AND compression = ?");
	int status = NEO_BACKEND_NOTFOUND;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_blob(st, 1, checksum, 20, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, compression);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *stored = sqlite3_column_blob(st, 1);
		size_t size = (size_t)sqlite3_column_bytes(st, 1);

		if (size == data.size && (size == 0 || memcmp(stored, data.data, size) == 0)) {
			*data_id = (uint64_t)sqlite3_column_int64(st, 0);
			status = NEO_BACKEND_OK;
		} else {
			status = NEO_BACKEND_EDUP;
			strcpy(db->errmsg, "two different values have the same checksum");
		}
	}
	neo_sqlite_finalize(db, st);
	return status;
}

static int next_data_id(struct neo_db *db, uint32_t partition, uint64_t *id)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT MAX(id) FROM data WHERE id >= ? AND id < ?");
	uint64_t first = (uint64_t)partition << 48;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)first);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(first + (1ull << 48)));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*id = (uint64_t)sqlite3_column_int64(st, 0) + 1;
	else
		*id = first;
	neo_sqlite_finalize(db, st);
	return NEO_BACKEND_OK;
}

int neo_sqlite_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
			uint8_t compression, struct neo_bytes data, uint64_t *data_id)
{
	sqlite3_stmt *st;
	uint64_t id;
	int status;

	if (db->dedup) {
		status = find_duplicate(db, checksum, compression, data, data_id);
		if (status != NEO_BACKEND_NOTFOUND)
			return status;
	}
	status = next_data_id(db, partition, &id);
	if (status != NEO_BACKEND_OK)
		return status;
	st = neo_sqlite_prepare(db, "INSERT INTO data (id, hash, compression, value) VALUES (?, ?, ?, ?)");
	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 2, checksum, 20, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, compression);
	sqlite3_bind_blob(st, 4, data.size ? data.data : (const void *)"", (int)data.size, SQLITE_STATIC);
	status = sqlite3_step(st) == SQLITE_DONE ? NEO_BACKEND_OK :
		 neo_sqlite_fail(db, NEO_BACKEND_EIO, "data");
	neo_sqlite_finalize(db, st);
	*data_id = id;
	return status;
}

int neo_sqlite_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
			uint8_t checksum[20], struct neo_bytes *data)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT compression, hash, value FROM data WHERE id = ?");
	int status = NEO_BACKEND_NOTFOUND;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)data_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*compression = (uint8_t)sqlite3_column_int(st, 0);
		if (sqlite3_column_bytes(st, 1) == 20)
			memcpy(checksum, sqlite3_column_blob(st, 1), 20);
		status = neo_sqlite_keep_blob(db, 1, sqlite3_column_blob(st, 2),
					      sqlite3_column_bytes(st, 2), data);
	}
	neo_sqlite_finalize(db, st);
	return status;
}

static const char *const revision_queries[] = {
	[NEO_BACKEND_OBJ_LATEST] = "SELECT tid, data_id, value_tid FROM obj WHERE partition = ?1"
		" AND oid = ?2 ORDER BY tid DESC LIMIT 1",
	[NEO_BACKEND_OBJ_EXACT] = "SELECT tid, data_id, value_tid FROM obj WHERE partition = ?1"
		" AND oid = ?2 AND tid = ?3",
	[NEO_BACKEND_OBJ_BEFORE] = "SELECT tid, data_id, value_tid FROM obj WHERE partition = ?1"
		" AND oid = ?2 AND tid < ?3 ORDER BY tid DESC LIMIT 1",
};

static int next_serial(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
		       struct neo_opt_id *out)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT tid FROM obj WHERE partition = ?"
		" AND oid = ? AND tid > ? ORDER BY tid LIMIT 1");

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)serial);
	out->has = sqlite3_step(st) == SQLITE_ROW;
	out->id = out->has ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	neo_sqlite_finalize(db, st);
	return NEO_BACKEND_OK;
}

int neo_sqlite_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
		       enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out)
{
	sqlite3_stmt *st;
	sqlite3_int64 data_id = 0;
	int status = NEO_BACKEND_NOTFOUND;

	if ((unsigned)at > NEO_BACKEND_OBJ_BEFORE)
		return NEO_BACKEND_EINVAL;
	memset(out, 0, sizeof(*out));
	st = neo_sqlite_prepare(db, revision_queries[at]);
	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	if (at != NEO_BACKEND_OBJ_LATEST)
		sqlite3_bind_int64(st, 3, (sqlite3_int64)tid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->serial = (uint64_t)sqlite3_column_int64(st, 0);
		out->has_data = sqlite3_column_type(st, 1) != SQLITE_NULL;
		data_id = sqlite3_column_int64(st, 1);
		out->data_serial.has = sqlite3_column_type(st, 2) != SQLITE_NULL;
		out->data_serial.id = (uint64_t)sqlite3_column_int64(st, 2);
		status = NEO_BACKEND_OK;
	}
	neo_sqlite_finalize(db, st);
	if (status != NEO_BACKEND_OK)
		return status;
	/* the latest revision has no next one: one query less per load */
	if (at != NEO_BACKEND_OBJ_LATEST)
		status = next_serial(db, partition, oid, out->serial, &out->next_serial);
	if (status == NEO_BACKEND_OK && out->has_data)
		status = neo_sqlite_data_get(db, (uint64_t)data_id, &out->compression,
					     out->checksum, &out->data);
	if (status == NEO_BACKEND_NOTFOUND) {
		strcpy(db->errmsg, "a revision refers to missing data");
		status = NEO_BACKEND_ECORRUPT;
	}
	return status;
}

int neo_sqlite_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t *serial)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, revision_queries[NEO_BACKEND_OBJ_LATEST]);
	int status = NEO_BACKEND_NOTFOUND;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, partition);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)oid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*serial = (uint64_t)sqlite3_column_int64(st, 0);
		status = NEO_BACKEND_OK;
	}
	neo_sqlite_finalize(db, st);
	return status;
}

int neo_sqlite_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		       bool temporary)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, temporary ?
		"INSERT INTO tobj (partition, oid, tid, data_id, value_tid) VALUES (?, ?, ?, ?, ?)" :
		"INSERT INTO obj (partition, oid, tid, data_id, value_tid) VALUES (?, ?, ?, ?, ?)");
	int status = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, rows[i].partition);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)rows[i].oid);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)rows[i].tid);
		if (rows[i].data_id.has)
			sqlite3_bind_int64(st, 4, (sqlite3_int64)rows[i].data_id.id);
		else
			sqlite3_bind_null(st, 4);
		if (rows[i].value_tid.has)
			sqlite3_bind_int64(st, 5, (sqlite3_int64)rows[i].value_tid.id);
		else
			sqlite3_bind_null(st, 5);
		if (sqlite3_step(st) != SQLITE_DONE)
			status = neo_sqlite_fail(db, sqlite3_extended_errcode(db->sql) ==
						 SQLITE_CONSTRAINT_PRIMARYKEY ? NEO_BACKEND_EDUP :
						 NEO_BACKEND_EIO, "obj");
	}
	neo_sqlite_finalize(db, st);
	return status;
}
