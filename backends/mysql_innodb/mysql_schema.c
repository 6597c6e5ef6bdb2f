/*
 * mysql_schema.c - the tables of a storage database: upstream's MySQL
 * schema, version 4 (core/neo/backend.md section 10), in InnoDB.
 *
 * Differences from upstream, each for a reason:
 *   - pack has a `partition` column, as in sqlite.so: the node passes the
 *     partition of every row, so orders are listed per partition without
 *     knowing how many partitions there are;
 *   - data.value is a LONGBLOB and there is no bigdata table: a value is
 *     one row, bounded by the server's max_allowed_packet (checked when it
 *     is stored, so nothing is stored that could not be read back);
 *   - no todel: there is no secondary connection deferring prunes.
 * A database of any other version is refused, never rewritten: upgrades
 * are an explicit operation.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mysql_db.h"

/* config comes last: a database that has it has every table, and an
 * empty one means a creation was interrupted (DDL commits at once). */
static const char *const tables[] = {
	"CREATE TABLE IF NOT EXISTS pt ("
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" nid INT NOT NULL,"
	" tid BIGINT NOT NULL,"
	" pack BIGINT UNSIGNED,"
	" PRIMARY KEY (`partition`, nid)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS pack ("
	" tid BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" approved BOOLEAN,"
	" partial BOOLEAN NOT NULL,"
	" oids MEDIUMBLOB,"
	" pack_tid BIGINT UNSIGNED,"
	" KEY (`partition`, tid)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS trans ("
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" tid BIGINT UNSIGNED NOT NULL,"
	" packed BOOLEAN NOT NULL,"
	" oids MEDIUMBLOB NOT NULL,"
	" user BLOB NOT NULL,"
	" description BLOB NOT NULL,"
	" ext BLOB NOT NULL,"
	" ttid BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (`partition`, tid)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS obj ("
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" oid BIGINT UNSIGNED NOT NULL,"
	" tid BIGINT UNSIGNED NOT NULL,"
	" data_id BIGINT UNSIGNED NULL,"
	" value_tid BIGINT UNSIGNED NULL,"
	" PRIMARY KEY (`partition`, oid, tid),"
	" KEY tid (`partition`, tid, oid),"
	" KEY (data_id)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS ttrans ("
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" tid BIGINT UNSIGNED,"
	" packed BOOLEAN NOT NULL,"
	" oids MEDIUMBLOB NOT NULL,"
	" user BLOB NOT NULL,"
	" description BLOB NOT NULL,"
	" ext BLOB NOT NULL,"
	" ttid BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (ttid)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS tobj ("
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" oid BIGINT UNSIGNED NOT NULL,"
	" tid BIGINT UNSIGNED NOT NULL,"
	" data_id BIGINT UNSIGNED NULL,"
	" value_tid BIGINT UNSIGNED NULL,"
	" PRIMARY KEY (tid, oid)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS config ("
	" name VARBINARY(255) NOT NULL PRIMARY KEY,"
	" value VARBINARY(255) NULL) ENGINE=InnoDB",
};

/* As upstream: dedup is chosen when the database is created, and the
 * unique index named hash turns it on. */
static const char *const data_tables[2] = {
	"CREATE TABLE IF NOT EXISTS data ("
	" id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
	" hash BINARY(20) NOT NULL,"
	" compression TINYINT UNSIGNED NULL,"
	" value LONGBLOB NOT NULL) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS data ("
	" id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
	" hash BINARY(20) NOT NULL,"
	" compression TINYINT UNSIGNED NULL,"
	" value LONGBLOB NOT NULL,"
	" UNIQUE KEY hash (hash, compression)) ENGINE=InnoDB",
};

/* DDL commits implicitly; it is never cached. */
static int ddl(struct neo_db *db, const char *sql)
{
	MYSQL_STMT *st;
	int status = neo_mysql_execute_once(db, sql, NULL, &st);

	neo_mysql_done(db, st);
	return status;
}

/* One integer answer of sql; NOTFOUND when there is no row or NULL. */
static int query_number(struct neo_db *db, const char *sql, uint64_t *value)
{
	struct neo_mysql_row row = { .ids = 1 };
	MYSQL_STMT *st;
	int status = neo_mysql_execute_once(db, sql, NULL, &st);

	if (status != NEO_BACKEND_OK)
		return status;
	status = neo_mysql_fetch(db, st, &row);
	if (status == NEO_BACKEND_OK && row.null[0])
		status = NEO_BACKEND_NOTFOUND;
	*value = row.id[0];
	neo_mysql_done(db, st);
	return status;
}

/* Whether sql returns a row. */
static int has_row(struct neo_db *db, const char *sql, bool *exists)
{
	uint64_t one;
	int status = query_number(db, sql, &one);

	*exists = status == NEO_BACKEND_OK;
	return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : status;
}

static int check_version(struct neo_db *db, char *err, size_t errlen)
{
	uint64_t version = 0;
	/* value is text; absent means 0, as upstream */
	int status = query_number(db, "SELECT CAST(value AS UNSIGNED) FROM config"
				  " WHERE name = 'version'", &version);

	if (status != NEO_BACKEND_OK && status != NEO_BACKEND_NOTFOUND) {
		snprintf(err, errlen, "mysql_innodb: %s", db->errmsg);
		return status;
	}
	if (version != NEO_MYSQL_SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %llu; this module handles "
			 "version %d only and does not convert databases",
			 (unsigned long long)version, NEO_MYSQL_SCHEMA_VERSION);
		return NEO_BACKEND_EVERSION;
	}
	return NEO_BACKEND_OK;
}

/* Upstream's mysql.py writes the same version with a pack table without
 * partitions: refused by name rather than failing on its first order. */
static int check_pack_table(struct neo_db *db, char *err, size_t errlen)
{
	bool ours = false;
	int status = has_row(db, "SELECT 1 FROM information_schema.columns"
				  " WHERE table_schema = DATABASE() AND table_name = 'pack'"
				  " AND column_name = 'partition'", &ours);

	if (status == NEO_BACKEND_OK && !ours) {
		snprintf(err, errlen, "the database has schema version %d as written by upstream "
			 "NEO (its pack table has no partition column); this module does not "
			 "convert databases", NEO_MYSQL_SCHEMA_VERSION);
		return NEO_BACKEND_EVERSION;
	}
	return status;
}

static int create_tables(struct neo_db *db, bool dedup)
{
	int status = ddl(db, data_tables[dedup]);

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && status == NEO_BACKEND_OK; i++)
		status = ddl(db, tables[i]);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "INSERT INTO config (name, value)"
					   " VALUES ('version', ?)", NEO_MYSQL_SCHEMA_VERSION, 0, 0,
					   NULL);
	if (status == NEO_BACKEND_OK && mysql_commit(db->conn) != 0)
		status = neo_mysql_fail(db, NEO_BACKEND_EIO, "commit");
	db->active = false;
	return status;
}

int neo_mysql_setup_schema(struct neo_db *db, bool reset, bool dedup, char *err, size_t errlen)
{
	bool exists = false;
	int status = NEO_BACKEND_OK;

	if (reset)
		status = ddl(db, "DROP TABLE IF EXISTS config, pt, pack, trans, obj, data, bigdata,"
			     " ttrans, tobj, todel");
	if (status == NEO_BACKEND_OK)
		status = has_row(db, "SELECT 1 FROM information_schema.tables"
				      " WHERE table_schema = DATABASE() AND table_name = 'config'",
				      &exists);
	/* An empty config: a creation was cut short; it is done again. */
	if (status == NEO_BACKEND_OK && exists)
		status = has_row(db, "SELECT 1 FROM config LIMIT 1", &exists);
	if (status == NEO_BACKEND_OK && exists) {
		status = check_version(db, err, errlen);
		if (status == NEO_BACKEND_OK)
			status = check_pack_table(db, err, errlen);
		if (status == NEO_BACKEND_OK)
			status = has_row(db, "SELECT 1 FROM information_schema.statistics"
					      " WHERE table_schema = DATABASE() AND table_name = 'data'"
					      " AND index_name = 'hash' LIMIT 1", &db->dedup);
		if (status == NEO_BACKEND_EVERSION)
			return status;
	} else if (status == NEO_BACKEND_OK) {
		status = create_tables(db, dedup);
		db->dedup = dedup;
	}
	if (status != NEO_BACKEND_OK)
		snprintf(err, errlen, "mysql_innodb: cannot set the tables up: %s", db->errmsg);
	return status;
}
