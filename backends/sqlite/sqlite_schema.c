/*
 * sqlite_schema.c - the tables of a storage database: exactly upstream's
 * SQLite schema, version 4 (core/neo/backend.md section 10), so that one
 * database file serves upstream's storage and ours, either way.
 *
 * Tables, columns (names, declared types, order), keys and index names
 * are upstream's; tests/data/upstream_v4_sqlite.sql holds them as upstream
 * creates them and tests/backend/test_schema.sh compares ours against it.
 *
 * A database written by our earlier versions also says version 4 but
 * differs: its pack table has a `partition` column and some columns were
 * declared INTEGER where upstream says BOOLEAN.  Such a table is rebuilt
 * in place, once, with a log line (migrate_tables below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"

struct table_def {
	const char *name;
	const char *columns;	/* what follows CREATE TABLE name */
};

/* As upstream: these definitions, in this order. */
static const struct table_def table_defs[] = {
	{ "config", " (name TEXT NOT NULL PRIMARY KEY, value TEXT) WITHOUT ROWID" },
	{ "pt", " (partition INTEGER NOT NULL, nid INTEGER NOT NULL,"
		" tid INTEGER NOT NULL, pack INTEGER, PRIMARY KEY (partition, nid)) WITHOUT ROWID" },
	{ "pack", " (tid INTEGER PRIMARY KEY, approved BOOLEAN,"
		  " partial BOOLEAN NOT NULL, oids BLOB, pack_tid INTEGER)" },
	{ "trans", " (partition INTEGER NOT NULL, tid INTEGER NOT NULL,"
		   " packed BOOLEAN NOT NULL, oids BLOB NOT NULL, user BLOB NOT NULL,"
		   " description BLOB NOT NULL, ext BLOB NOT NULL, ttid INTEGER NOT NULL,"
		   " PRIMARY KEY (partition, tid)) WITHOUT ROWID" },
	{ "obj", " (partition INTEGER NOT NULL, oid INTEGER NOT NULL,"
		 " tid INTEGER NOT NULL, data_id INTEGER, value_tid INTEGER,"
		 " PRIMARY KEY (partition, oid, tid)) WITHOUT ROWID" },
	{ "data", " (id INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
		  " compression INTEGER NOT NULL, value BLOB NOT NULL)" },
	{ "ttrans", " (partition INTEGER NOT NULL, tid INTEGER,"
		    " packed BOOLEAN NOT NULL, oids BLOB NOT NULL, user BLOB NOT NULL,"
		    " description BLOB NOT NULL, ext BLOB NOT NULL, ttid INTEGER NOT NULL)" },
	{ "tobj", " (partition INTEGER NOT NULL, oid INTEGER NOT NULL,"
		  " tid INTEGER NOT NULL, data_id INTEGER, value_tid INTEGER,"
		  " PRIMARY KEY (tid, oid)) WITHOUT ROWID" },
};

#define TABLE_COUNT (sizeof(table_defs) / sizeof(table_defs[0]))

/* As upstream: index names are _<table>_i<n>. */
static const char *const indexes[] = {
	"CREATE INDEX IF NOT EXISTS _obj_i1 ON obj(partition, tid, oid)",
	"CREATE INDEX IF NOT EXISTS _obj_i2 ON obj(data_id)",
};

static void schema_log(struct neo_db *db, enum neo_backend_log_level level, const char *message)
{
	if (db->log != NULL)
		db->log(db->log_ctx, level, message);
}

static int create_table(struct neo_db *db, const struct table_def *def, const char *name)
{
	char sql[512];

	snprintf(sql, sizeof sql, "CREATE TABLE %s%s", name, def->columns);
	return neo_sqlite_exec(db, sql);
}

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

static bool has_object(struct neo_db *db, const char *type, const char *name)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?");
	bool found;

	if (st == NULL)
		return false;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	neo_sqlite_finalize(db, st);
	return found;
}

/*
 * "name type notnull pk," for every column of `table` on connection
 * `conn`, in order: what must match upstream's.  Empty when there is no
 * such table.  With names, also the column names, comma separated.
 */
static void describe(sqlite3 *conn, const char *table, char *out, size_t outlen, char *names,
		     size_t nameslen)
{
	sqlite3_stmt *st = NULL;
	size_t used = 0, names_used = 0;

	out[0] = '\0';
	if (names != NULL)
		names[0] = '\0';
	if (sqlite3_prepare_v2(conn, "SELECT name, type, \"notnull\", pk FROM"
			       " pragma_table_info(?1) ORDER BY cid", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int n = snprintf(out + used, outlen - used, "%s %s %d %d,", name,
				 (const char *)sqlite3_column_text(st, 1),
				 sqlite3_column_int(st, 2), sqlite3_column_int(st, 3));

		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
		if (names != NULL) {
			n = snprintf(names + names_used, nameslen - names_used, "%s\"%s\"",
				     names_used ? ", " : "", name);
			if (n < 0 || (size_t)n >= nameslen - names_used)
				break;
			names_used += (size_t)n;
		}
	}
	sqlite3_finalize(st);
}

/* Whether the column description list `have` has a column `name`. */
static bool has_column(const char *have, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = have; *p; ) {
		if (strncmp(p, name, len) == 0 && p[len] == ' ')
			return true;
		p = strchr(p, ',');
		if (p == NULL)
			break;
		p++;
	}
	return false;
}

/*
 * Rebuilds, in place, every existing table whose columns differ from
 * upstream's (a database written by our earlier versions): a new table
 * with upstream's definition, the common columns copied, the old one
 * dropped, the new one renamed.  The reference definitions are created
 * on a private in-memory connection and compared column by column.  It
 * all runs in the handle's open transaction: all or nothing.
 */
static int migrate_tables(struct neo_db *db, bool *migrated)
{
	char have[1024], want[1024], want_names[512], columns[512], sql[1400];
	sqlite3 *ref = NULL;
	int status = NEO_BACKEND_OK;

	if (sqlite3_open(":memory:", &ref) != SQLITE_OK) {
		sqlite3_close(ref);
		return neo_sqlite_fail(db, NEO_BACKEND_EIO, "reference schema");
	}
	for (size_t i = 0; i < TABLE_COUNT && status == NEO_BACKEND_OK; i++) {
		const char *name = table_defs[i].name;

		if (!has_object(db, "table", name))
			continue;
		snprintf(sql, sizeof sql, "CREATE TABLE %s%s", name, table_defs[i].columns);
		if (sqlite3_exec(ref, sql, NULL, NULL, NULL) != SQLITE_OK) {
			status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "reference schema");
			break;
		}
		describe(db->sql, name, have, sizeof have, NULL, 0);
		describe(ref, name, want, sizeof want, want_names, sizeof want_names);
		if (strcmp(have, want) == 0)
			continue;
		/* the columns of upstream's definition that the old table has */
		columns[0] = '\0';
		for (const char *p = want_names; *p; ) {
			const char *q = strchr(p + 1, '"');
			char name_buf[64];
			size_t len = q ? (size_t)(q - p - 1) : 0;

			if (q == NULL || len >= sizeof name_buf)
				break;
			memcpy(name_buf, p + 1, len);
			name_buf[len] = '\0';
			if (has_column(have, name_buf))
				snprintf(columns + strlen(columns), sizeof columns - strlen(columns),
					 "%s\"%s\"", columns[0] ? ", " : "", name_buf);
			p = q + 1;
			while (*p == ',' || *p == ' ')
				p++;
		}
		snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS new_%s", name);
		status = neo_sqlite_exec(db, sql);
		if (status == NEO_BACKEND_OK) {
			char new_name[64];

			snprintf(new_name, sizeof new_name, "new_%s", name);
			status = create_table(db, &table_defs[i], new_name);
		}
		if (status == NEO_BACKEND_OK) {
			snprintf(sql, sizeof sql, "INSERT INTO new_%s (%s) SELECT %s FROM %s;"
				 " DROP TABLE %s; ALTER TABLE new_%s RENAME TO %s",
				 name, columns, columns, name, name, name, name);
			status = neo_sqlite_exec(db, sql);
		}
		if (status == NEO_BACKEND_OK) {
			char message[1200];

			snprintf(message, sizeof message, "sqlite: table %s rebuilt with upstream's "
				 "schema version 4 columns (was: %s)", name, have);
			schema_log(db, NEO_BACKEND_LOG_WARNING, message);
			*migrated = true;
		}
	}
	sqlite3_close(ref);
	return status;
}

/*
 * What our earlier versions stored and upstream's version 4 does not: a
 * `partitions` key (as upstream's migration to version 4: deleted; the
 * number of partitions is the pt table's), and own cells without a pack
 * id (as upstream's migration to version 4: 0, never packed, which
 * upstream's pack requires of every own cell).
 */
static int migrate_rows(struct neo_db *db, bool *migrated)
{
	int status = neo_sqlite_exec(db, "DELETE FROM config WHERE name = 'partitions'");
	int changed = status == NEO_BACKEND_OK ? sqlite3_changes(db->sql) : 0;

	if (status == NEO_BACKEND_OK)
		status = neo_sqlite_exec(db, "UPDATE pt SET pack = 0 WHERE pack IS NULL AND nid ="
			" (SELECT CAST(value AS INTEGER) FROM config WHERE name = 'nid')");
	if (status == NEO_BACKEND_OK)
		changed += sqlite3_changes(db->sql);
	if (changed) {
		schema_log(db, NEO_BACKEND_LOG_WARNING, "sqlite: configuration key 'partitions' "
			   "removed and own cells given pack id 0, as upstream's schema version 4");
		*migrated = true;
	}
	return status;
}

static int create_missing(struct neo_db *db, bool dedup)
{
	int status = NEO_BACKEND_OK;

	for (size_t i = 0; i < TABLE_COUNT && status == NEO_BACKEND_OK; i++)
		if (!has_object(db, "table", table_defs[i].name))
			status = create_table(db, &table_defs[i], table_defs[i].name);
	for (size_t i = 0; i < sizeof indexes / sizeof indexes[0] && status == NEO_BACKEND_OK; i++)
		status = neo_sqlite_exec(db, indexes[i]);
	/* As upstream: dedup is chosen when the database is created. */
	if (status == NEO_BACKEND_OK && dedup)
		status = neo_sqlite_exec(db,
			"CREATE UNIQUE INDEX IF NOT EXISTS _data_i1 ON data(hash, compression)");
	return status;
}

int neo_sqlite_setup_schema(struct neo_db *db, bool dedup, char *err, size_t errlen)
{
	bool migrated = false;
	int status;

	if (has_object(db, "table", "config")) {
		int version = stored_version(db);

		if (version != NEO_SQLITE_SCHEMA_VERSION) {
			snprintf(err, errlen, "the database has schema version %d; this module "
				 "handles version %d only and does not convert databases",
				 version, NEO_SQLITE_SCHEMA_VERSION);
			return NEO_BACKEND_EVERSION;
		}
		/* known before a rebuild of data could drop the index */
		db->dedup = has_object(db, "index", "_data_i1");
		status = migrate_tables(db, &migrated);
		if (status == NEO_BACKEND_OK)
			status = migrate_rows(db, &migrated);
		if (status == NEO_BACKEND_OK)
			status = create_missing(db, db->dedup);
	} else {
		status = create_missing(db, dedup);
		if (status == NEO_BACKEND_OK) {
			char sql[96];

			snprintf(sql, sizeof sql, "INSERT INTO config (name, value) VALUES"
				 " ('version', '%d')", NEO_SQLITE_SCHEMA_VERSION);
			status = neo_sqlite_exec(db, sql);
		}
		db->dedup = dedup;
		migrated = true;
	}
	if (status == NEO_BACKEND_OK && migrated)
		status = neo_sqlite_exec(db, "COMMIT; BEGIN IMMEDIATE");
	if (status != NEO_BACKEND_OK)
		snprintf(err, errlen, "cannot set the tables up: %s", db->errmsg);
	return status;
}
