/*
 * sqlite_schema.c - the tables of a storage database, version 4 of upstream's
 * logical layout (core/neo/backend.md section 10).  A database of any other
 * version is refused, never rewritten: upgrades are an explicit operation.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sqlite_db.h"

static const char *const tables[] = {
	"CREATE TABLE IF NOT EXISTS config (name TEXT NOT NULL PRIMARY KEY, value TEXT) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS pt (partition INTEGER NOT NULL, nid INTEGER NOT NULL,"
	" tid INTEGER NOT NULL, pack INTEGER, PRIMARY KEY (partition, nid)) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS pack (tid INTEGER PRIMARY KEY, partition INTEGER NOT NULL, approved INTEGER,"
	" partial INTEGER NOT NULL, oids BLOB, pack_tid INTEGER NOT NULL)",
	"CREATE TABLE IF NOT EXISTS trans (partition INTEGER NOT NULL, tid INTEGER NOT NULL,"
	" packed INTEGER NOT NULL, oids BLOB NOT NULL, user BLOB NOT NULL,"
	" description BLOB NOT NULL, ext BLOB NOT NULL, ttid INTEGER NOT NULL,"
	" PRIMARY KEY (partition, tid)) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS obj (partition INTEGER NOT NULL, oid INTEGER NOT NULL,"
	" tid INTEGER NOT NULL, data_id INTEGER, value_tid INTEGER,"
	" PRIMARY KEY (partition, oid, tid)) WITHOUT ROWID",
	"CREATE INDEX IF NOT EXISTS _obj_i1 ON obj(partition, tid, oid)",
	"CREATE INDEX IF NOT EXISTS _obj_i2 ON obj(data_id)",
	"CREATE TABLE IF NOT EXISTS data (id INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
	" compression INTEGER NOT NULL, value BLOB NOT NULL)",
	"CREATE TABLE IF NOT EXISTS ttrans (partition INTEGER NOT NULL, tid INTEGER,"
	" packed INTEGER NOT NULL, oids BLOB NOT NULL, user BLOB NOT NULL,"
	" description BLOB NOT NULL, ext BLOB NOT NULL, ttid INTEGER NOT NULL)",
	"CREATE TABLE IF NOT EXISTS tobj (partition INTEGER NOT NULL, oid INTEGER NOT NULL,"
	" tid INTEGER NOT NULL, data_id INTEGER, value_tid INTEGER,"
	" PRIMARY KEY (tid, oid)) WITHOUT ROWID",
};

/* The stored schema version; -1 when config does not say. */
static int stored_version(struct neo_db *db)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT value FROM config WHERE name = 'version'");
	int version = -1;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		version = atoi((const char *)sqlite3_column_text(st, 0));
	neo_sqlite_finalize(db, st);
	return version;
}

static bool has_config_table(struct neo_db *db)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'config'");
	bool found = st != NULL && sqlite3_step(st) == SQLITE_ROW;

	neo_sqlite_finalize(db, st);
	return found;
}

static bool has_dedup_index(struct neo_db *db)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = '_data_i1'");
	bool found = st != NULL && sqlite3_step(st) == SQLITE_ROW;

	neo_sqlite_finalize(db, st);
	return found;
}

int neo_sqlite_setup_schema(struct neo_db *db, bool dedup, char *err, size_t errlen)
{
	char version_text[16];

	if (has_config_table(db)) {
		int version = stored_version(db);

		if (version != NEO_SQLITE_SCHEMA_VERSION) {
			snprintf(err, errlen, "the database has schema version %d; this module "
				 "handles version %d only and does not convert databases",
				 version, NEO_SQLITE_SCHEMA_VERSION);
			return NEO_BACKEND_EVERSION;
		}
		db->dedup = has_dedup_index(db);
		return NEO_BACKEND_OK;
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (neo_sqlite_exec(db, tables[i]) != NEO_BACKEND_OK)
			goto failed;
	/* As upstream: dedup is chosen when the database is created. */
	if (dedup && neo_sqlite_exec(db,
		"CREATE UNIQUE INDEX _data_i1 ON data(hash, compression)") != NEO_BACKEND_OK)
		goto failed;
	snprintf(version_text, sizeof(version_text), "%d", NEO_SQLITE_SCHEMA_VERSION);
	{
		sqlite3_stmt *st = neo_sqlite_prepare(db,
			"INSERT INTO config (name, value) VALUES ('version', ?)");

		if (st == NULL)
			goto failed;
		sqlite3_bind_text(st, 1, version_text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			neo_sqlite_finalize(db, st);
			goto failed;
		}
		neo_sqlite_finalize(db, st);
	}
	db->dedup = dedup;
	return neo_sqlite_exec(db, "COMMIT; BEGIN IMMEDIATE");
failed:
	snprintf(err, errlen, "cannot create the tables: %s", db->errmsg);
	return NEO_BACKEND_EIO;
}
