/*
 * mysql_schema.c - the tables of a storage database: upstream's MySQL
 * schema, version 4 (core/neo/backend.md section 10), in InnoDB.
 *
 * Tables, columns (names, types, order) and keys are exactly upstream's,
 * so that one MySQL database serves upstream's storage and ours, either
 * way; tests/data/upstream_v4_mysql.sql holds them as upstream creates
 * them and tests/backend/test_schema.sh compares ours against it.
 * A value of 16 MiB or more goes to bigdata chunks, as upstream
 * (mysql_objects.c); todel, upstream's queue of deferred prunes, exists
 * but ours prunes at once and leaves it empty.
 *
 * A database written by our earlier versions also says version 4 but has
 * a `partition` column in pack, a LONGBLOB data.value and no bigdata or
 * todel: it is altered in place, once, with a log line (migrate_ours).
 * A database of another version is refused, never rewritten.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mysql_db.h"

/* config comes last: a database that has it has every table, and an
 * empty one means a creation was interrupted (DDL commits at once). */
/* As upstream: chunks of the values of 16 MiB or more (mysql_objects.c). */
static const char bigdata_table[] = "CREATE TABLE IF NOT EXISTS bigdata ("
	" id INT UNSIGNED NOT NULL AUTO_INCREMENT,"
	" value MEDIUMBLOB NOT NULL,"
	" PRIMARY KEY (id)) ENGINE=InnoDB";

static const char *const tables[] = {
	"CREATE TABLE IF NOT EXISTS pt ("
	" `partition` SMALLINT UNSIGNED NOT NULL,"
	" nid INT NOT NULL,"
	" tid BIGINT NOT NULL,"
	" pack BIGINT UNSIGNED,"
	" PRIMARY KEY (`partition`, nid)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS pack ("
	" tid BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
	" approved BOOLEAN,"
	" partial BOOLEAN NOT NULL,"
	" oids MEDIUMBLOB,"
	" pack_tid BIGINT UNSIGNED) ENGINE=InnoDB",
	bigdata_table,
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
	"CREATE TABLE IF NOT EXISTS todel ("
	" data_id BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (data_id)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS config ("
	" name VARBINARY(255) NOT NULL PRIMARY KEY,"
	" value VARBINARY(255) NULL) ENGINE=InnoDB",
};

/* As upstream: dedup is chosen when the database is created, and the
 * unique index named hash turns it on. */
static const char *const data_tables[2] = {
	"CREATE TABLE IF NOT EXISTS data ("
	" id BIGINT UNSIGNED NOT NULL,"
	" hash BINARY(20) NOT NULL,"
	" compression TINYINT UNSIGNED NULL,"
	" value MEDIUMBLOB NOT NULL,"
	" PRIMARY KEY (id)) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS data ("
	" id BIGINT UNSIGNED NOT NULL,"
	" hash BINARY(20) NOT NULL,"
	" compression TINYINT UNSIGNED NULL,"
	" value MEDIUMBLOB NOT NULL,"
	" PRIMARY KEY (id),"
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

/*
 * A database written by our earlier versions, brought to upstream's
 * layout: pack loses its partition column (an order's partition is its
 * tid's, mysql_pack.c), data.value becomes upstream's MEDIUMBLOB, and the
 * missing tables are created (create_tables, IF NOT EXISTS).  Each step
 * is idempotent, as DDL commits at once: an interrupted migration is
 * finished at the next open.
 */
static int migrate_ours(struct neo_db *db)
{
	bool old_pack = false, old_key = false, old_value = false;
	int status = has_row(db, "SELECT 1 FROM information_schema.columns"
				  " WHERE table_schema = DATABASE() AND table_name = 'pack'"
				  " AND column_name = 'partition'", &old_pack);

	/* its key, named after it, goes too (dropping the column alone would
	 * leave a key on tid that upstream does not have) */
	if (status == NEO_BACKEND_OK)
		status = has_row(db, "SELECT 1 FROM information_schema.statistics"
				      " WHERE table_schema = DATABASE() AND table_name = 'pack'"
				      " AND index_name = 'partition' LIMIT 1", &old_key);
	if (status == NEO_BACKEND_OK && (old_pack || old_key)) {
		neo_mysql_log(db, NEO_BACKEND_LOG_WARNING, "mysql_innodb: dropping column "
			      "pack.partition and its key, as upstream's schema version 4");
		status = ddl(db, old_pack && old_key
				 ? "ALTER TABLE pack DROP KEY `partition`, DROP COLUMN `partition`"
				 : old_pack ? "ALTER TABLE pack DROP COLUMN `partition`"
					    : "ALTER TABLE pack DROP KEY `partition`");
	}
	if (status == NEO_BACKEND_OK)
		status = has_row(db, "SELECT 1 FROM information_schema.columns"
				      " WHERE table_schema = DATABASE() AND table_name = 'data'"
				      " AND column_name = 'value' AND data_type = 'longblob'",
				      &old_value);
	if (status == NEO_BACKEND_OK && old_value) {
		uint64_t moved = 0;
		char message[160];

		/* bigdata first: the values too big for the new column go there */
		status = ddl(db, bigdata_table);
		if (status == NEO_BACKEND_OK)
			status = neo_mysql_move_big_values(db, &moved);
		snprintf(message, sizeof message, "mysql_innodb: column data.value becomes a "
			 "MEDIUMBLOB, as upstream's schema version 4 (%llu values of 16 MiB or "
			 "more moved to bigdata)", (unsigned long long)moved);
		neo_mysql_log(db, NEO_BACKEND_LOG_WARNING, message);
		if (status == NEO_BACKEND_OK)
			status = ddl(db, "ALTER TABLE data MODIFY value MEDIUMBLOB NOT NULL");
	}
	return status;
}

/*
 * What our earlier versions stored and upstream's version 4 does not: the
 * key `partitions` (as upstream's migration to version 4: deleted, the
 * number of partitions is the pt table's) and own cells without a pack id
 * (as upstream's migration to version 4: 0, which upstream's pack
 * requires of every own cell).
 */
static int migrate_rows(struct neo_db *db)
{
	uint64_t deleted = 0, updated = 0;
	int status = neo_mysql_run_ids(db, "DELETE FROM config WHERE name = 'partitions'",
				       0, 0, 0, &deleted);

	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "UPDATE pt SET pack = 0 WHERE pack IS NULL AND nid ="
					   " (SELECT CAST(value AS SIGNED) FROM config"
					   " WHERE name = 'nid')", 0, 0, 0, &updated);
	if (status == NEO_BACKEND_OK && deleted + updated > 0)
		neo_mysql_log(db, NEO_BACKEND_LOG_WARNING, "mysql_innodb: configuration key "
			      "'partitions' removed and own cells given pack id 0, as upstream's "
			      "schema version 4");
	if (status == NEO_BACKEND_OK && mysql_commit(db->conn) != 0)
		status = neo_mysql_fail(db, NEO_BACKEND_EIO, "commit");
	db->active = false;
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
			status = migrate_ours(db);
		/* the tables our earlier versions did not have */
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0])
				   && status == NEO_BACKEND_OK; i++)
			status = ddl(db, tables[i]);
		if (status == NEO_BACKEND_OK)
			status = migrate_rows(db);
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
