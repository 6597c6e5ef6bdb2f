/*
 * test_upstream_db.c - databases shared with upstream NEO, on the engine
 * under test (sqlite or mysql_innodb, $NEO_TEST_ENGINE):
 *
 *   - the fixture tests/data/upstream_v4_<engine>.sql is a database that
 *     upstream's storage wrote (schema version 4: a cluster "upstream" of
 *     3 partitions, 1 replica, 2 storages, three transactions committed by
 *     upstream's client; see tests/data/upstream_v4.README.md).  Loaded
 *     into both storages' databases (the second one's nid and own pack ids
 *     changed as upstream would have written them), our cluster reaches
 *     RUNNING with upstream's partition table, every revision and
 *     transaction loads with its data, new commits and a pack work, and
 *     the database keeps exactly upstream's configuration keys;
 *   - a truncation upstream ordered but did not apply (truncate_tid, in
 *     upstream's hex) is applied by ours;
 *   - a database created by ours has exactly the tables, columns (names,
 *     types, order), keys and indexes of the fixture, and upstream's
 *     configuration keys (core/neo/backend.md section 10).
 *
 * Needs the sqlite3 command line tool, or MariaDB's mysql client for
 * mysql_innodb (the server comes from run_on_engine.sh).  Upstream NEO is
 * not needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;
static bool mysql;

/* What upstream's client committed (tests/data/upstream_v4.README.md):
 * per oid, its revisions oldest first. */
static const char *const history[6][3] = {
	[1] = { "upstream root, revision 1", "upstream root, revision 2" },
	[2] = { "upstream object 1, revision 1", "upstream object 1, revision 2" },
	[3] = { "upstream object 2, revision 1" },
	[4] = { "" },	/* 5000 'z', compressed by upstream's client */
	[5] = { "upstream object 4, revision 1" },
};
static const char *const users[3] = { "alice", "bob", "carol" };

/* tests/data, from the environment make check sets. */
static const char *data_dir(void)
{
	const char *dir = getenv("NEO_TEST_DATA");

	return dir ? dir : "tests/data";
}

/* Runs a shell command; its stdout goes to out (NUL-ended). */
static int shell(char *out, size_t len, const char *command)
{
	FILE *pipe = popen(command, "r");
	size_t used = 0;

	if (out)
		out[0] = '\0';
	if (pipe == NULL)
		return -1;
	while (out && used + 1 < len) {
		size_t n = fread(out + used, 1, len - 1 - used, pipe);

		if (n == 0)
			break;
		used += n;
	}
	if (out)
		out[used] = '\0';
	else {
		char sink[256];

		while (fread(sink, 1, sizeof sink, pipe) > 0)
			;
	}
	return pclose(pipe);
}

/* The client command for a storage's database: sqlite3 FILE, or mysql on
 * the private server's socket and the database of the database= string
 * ("root@NAME/path/to/socket"). */
static void client_command(const char *database, char *command, size_t len)
{
	if (mysql) {
		const char *name = strchr(database, '@') + 1;
		const char *socket = strchr(name, '/');

		snprintf(command, len, "mysql -N -B -u root -S '%s' '%.*s'", socket,
			 (int)(socket - name), name);
	} else {
		snprintf(command, len, "sqlite3 -batch '%s'", database);
	}
}

/* Runs sql (or the file `file`) on a database; stdout to out. */
static int run_sql(const char *database, const char *sql, const char *file, char *out,
		   size_t len)
{
	char client[1024], command[4096];

	client_command(database, client, sizeof client);
	if (file)
		snprintf(command, sizeof command, "%s < '%s' 2>&1", client, file);
	else
		snprintf(command, sizeof command, "%s %s \"%s\" 2>&1", client, mysql ? "-e" : "",
			 sql);
	return shell(out, len, command);
}

static void fixture_path(char *path, size_t len)
{
	snprintf(path, len, "%s/upstream_v4_%s.sql", data_dir(), mysql ? "mysql" : "sqlite");
}

/* The fixture is storage 1's (nid 1).  Storage 2's database is the same
 * but for what upstream keeps per node: its nid and the pack id of its
 * own cells (NULL on others' cells). */
static bool load_fixture(int index, char *database, size_t len)
{
	char path[512], out[4096];
	int rc;

	fixture_path(path, sizeof path);
	cluster_storage_database(&tc, index, database, len);
	rc = run_sql(database, NULL, path, out, sizeof out);
	if (rc == 0 && index == 1)
		rc = run_sql(database, "UPDATE config SET value = '2' WHERE name = 'nid';"
			     " UPDATE pt SET pack = CASE WHEN nid = 2 THEN 0 END", NULL, out,
			     sizeof out);
	if (rc != 0)
		tap_diag("loading %s into %s: %s", path, database, out);
	return rc == 0;
}

static bool same_bytes(const struct neo_client_record *rec, const char *want, size_t want_size)
{
	return rec->size == want_size && memcmp(rec->data, want, want_size) == 0;
}

static bool revision_is(struct neo_client *client, uint64_t oid, uint64_t serial, int rev)
{
	struct neo_client_record rec = { 0 };
	char z[5000];
	const char *want = history[oid][rev];
	size_t want_size = strlen(want);
	bool good;

	if (oid == 4) {
		memset(z, 'z', sizeof z);
		want = z;
		want_size = sizeof z;
	}
	if (neo_client_load_serial(client, oid, serial, &rec) != NEO_CLIENT_OK) {
		tap_diag("load of oid %llu at %llu: %s", (unsigned long long)oid,
			 (unsigned long long)serial, neo_client_errmsg());
		return false;
	}
	good = same_bytes(&rec, want, want_size);
	neo_client_record_clear(&rec);
	return good;
}

/* Every revision of the fixture, through the client: the oid's history
 * (newest first), each serial loaded with its data.  Fills serials[oid]
 * with the current serial and tids with the three transactions. */
static bool load_history(struct neo_client *client, uint64_t serials[6], uint64_t tids[3])
{
	bool all = true;
	size_t ntids = 0;

	for (uint64_t oid = 1; oid <= 5; oid++) {
		struct neo_client_history_entry *entries = NULL;
		size_t count = 0, revisions = 0;

		while (revisions < 3 && history[oid][revisions])
			revisions++;
		if (neo_client_history(client, oid, 10, &entries, &count) != NEO_CLIENT_OK
		    || count != revisions) {
			tap_diag("history of oid %llu: %zu revisions (%s)", (unsigned long long)oid,
				 count, neo_client_errmsg());
			neo_client_free(entries);
			return false;
		}
		serials[oid] = entries[0].serial;
		for (size_t i = 0; i < count; i++) {
			uint64_t serial = entries[i].serial;
			bool known = false;

			all = all && revision_is(client, oid, serial, (int)(count - 1 - i));
			for (size_t k = 0; k < ntids; k++)
				known = known || tids[k] == serial;
			if (!known && ntids < 3)
				tids[ntids++] = serial;
		}
		neo_client_free(entries);
	}
	/* in tid order */
	for (size_t i = 0; i < ntids; i++)
		for (size_t k = i + 1; k < ntids; k++)
			if (tids[k] < tids[i]) {
				uint64_t t = tids[i];

				tids[i] = tids[k];
				tids[k] = t;
			}
	return all && ntids == 3;
}

static bool metadata_is(struct neo_client *client, const uint64_t tids[3])
{
	for (int i = 0; i < 3; i++) {
		struct neo_client_txn_info info = { 0 };
		bool good;

		if (neo_client_transaction_info(client, tids[i], &info) != NEO_CLIENT_OK)
			return false;
		good = info.user_size == strlen(users[i])
		       && memcmp(info.user, users[i], info.user_size) == 0;
		neo_client_txn_info_clear(&info);
		if (!good)
			return false;
	}
	return true;
}

/* The configuration keys of a database, one a line, sorted. */
static void config_keys(const char *database, char *out, size_t len)
{
	run_sql(database, "SELECT name FROM config ORDER BY name", NULL, out, len);
}

static bool upstream_config_keys(const char *database)
{
	char out[1024];

	config_keys(database, out, sizeof out);
	if (strcmp(out, "name\nnid\nptid\nreplicas\nversion\n") == 0)
		return true;
	tap_diag("config keys:\n%s", out);
	return false;
}

static void upstream_database(void)
{
	char db0[512], db1[512], out[8192];
	struct neo_client *client = NULL;
	uint64_t serials[6] = { 0 }, tids[3] = { 0 }, tid;

	cluster_init(&tc, "upstream", 3, 1, 2, 1);
	if (!tap_ok(load_fixture(0, db0, sizeof db0) && load_fixture(1, db1, sizeof db1),
		    "the fixture (written by upstream's storage) is loaded into two databases"))
		return;
	cluster_start(&tc);
	cluster_start_admin(&tc);
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 20000),
	       "our cluster on upstream's databases reaches RUNNING");
	cluster_neoctl(&tc, out, sizeof out, "print pt");
	tap_ok(strstr(out, "# ptid: 1, replicas: 1") && strstr(out, "S1 R UUU")
	       && strstr(out, "S2 R UUU"), "upstream's partition table is ours: 3 partitions, "
	       "1 replica, every cell up to date");
	if (!strstr(out, "S2 R UUU"))
		tap_diag("print pt:\n%s", out);
	if (cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
		cluster_stop(&tc);
		return;
	}
	tap_ok(load_history(client, serials, tids),
	       "every revision upstream committed loads with its data (one compressed)");
	tap_ok(metadata_is(client, tids), "the transactions' metadata are upstream's");
	tid = cluster_commit(client, 1, serials[1], "root, written by ours");
	tap_ok(tid > tids[2] && cluster_load_is(client, 1, "root, written by ours"),
	       "a new revision of an upstream object commits");
	tap_ok(cluster_commit(client, 6, 0, "a new object, written by ours") != 0 &&
	       cluster_load_is(client, 6, "a new object, written by ours"),
	       "a new object commits");
	{
		uint64_t pack_id = 0;
		struct neo_client_record rec = { 0 };

		tap_ok(neo_client_pack(client, tids[2], NULL, 0, true, &pack_id) == NEO_CLIENT_OK
		       && neo_client_load_serial(client, 2, tids[0], &rec) != NEO_CLIENT_OK
		       && revision_is(client, 2, serials[2], 1),
		       "a pack (its order in upstream's pack table) drops what it must");
		neo_client_record_clear(&rec);
	}
	neo_client_close(client);
	cluster_stop(&tc);
	tap_ok(upstream_config_keys(db0),
	       "the database keeps exactly upstream's configuration keys");
	run_sql(db0, "SELECT nid, pack IS NOT NULL FROM pt ORDER BY \\`partition\\`, nid", NULL, out,
		sizeof out);
	if (!tap_ok(strcmp(out, mysql ? "1\t1\n2\t0\n1\t1\n2\t0\n1\t1\n2\t0\n"
				      : "1|1\n2|0\n1|1\n2|0\n1|1\n2|0\n") == 0,
		    "pt: a pack id on own cells only, as upstream"))
		tap_diag("pt (nid, has a pack id):\n%s", out);
}

/* Queries describing a schema, for the engine under test. */
static const char *const sqlite_schema[] = {
	"SELECT m.name, p.cid, p.name, p.type, p.\\\"notnull\\\", p.dflt_value, p.pk"
	" FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
	" ORDER BY m.name, p.cid",
	"SELECT name, instr(sql, 'WITHOUT ROWID') > 0 FROM sqlite_master WHERE type = 'table'"
	" ORDER BY name",
	"SELECT m.name, l.name, l.\\\"unique\\\", l.origin, l.partial, i.seqno, i.name"
	" FROM sqlite_master m JOIN pragma_index_list(m.name) l JOIN pragma_index_info(l.name) i"
	" WHERE m.type = 'table' ORDER BY 1, 2, 6",
};
static const char *const mysql_schema[] = {
	"SELECT table_name, ordinal_position, column_name, column_type, is_nullable,"
	" column_default, column_key, extra FROM information_schema.columns"
	" WHERE table_schema = DATABASE() ORDER BY 1, 2",
	"SELECT table_name, index_name, non_unique, seq_in_index, column_name"
	" FROM information_schema.statistics WHERE table_schema = DATABASE() ORDER BY 1, 2, 4",
	"SELECT table_name, engine FROM information_schema.tables"
	" WHERE table_schema = DATABASE() ORDER BY 1",
};

/* Whether database `ours` has the schema of the fixture: loaded into
 * storage index `ref_index`'s database (not a running storage's) as the
 * reference. */
static bool same_schema(const char *ours, int ref_index)
{
	char ref[512], path[512], a[16384], b[16384];
	const char *const *queries = mysql ? mysql_schema : sqlite_schema;
	bool same = true;

	fixture_path(path, sizeof path);
	cluster_storage_database(&tc, ref_index, ref, sizeof ref);
	if (run_sql(ref, NULL, path, a, sizeof a) != 0) {
		tap_diag("the fixture does not load as reference: %s", a);
		return false;
	}
	for (int i = 0; i < 3; i++) {
		run_sql(ours, queries[i], NULL, a, sizeof a);
		run_sql(ref, queries[i], NULL, b, sizeof b);
		if (strcmp(a, b) != 0 || a[0] == '\0') {
			tap_diag("ours:\n%s\nupstream's:\n%s", a, b);
			same = false;
		}
	}
	return same;
}

static void ours_against_fixture(void)
{
	char ours[512];
	struct neo_client *client = NULL;

	cluster_init(&tc, "schema", 3, 1, 2, 1);
	cluster_start(&tc);
	if (cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK) {
		cluster_commit(client, 1, 0, "written by ours");
		neo_client_close(client);
	}
	cluster_stop(&tc);
	cluster_storage_database(&tc, 0, ours, sizeof ours);
	tap_ok(same_schema(ours, 2), "a database created by ours has exactly upstream's tables, "
	       "columns (names, types, order), keys and indexes");
	tap_ok(upstream_config_keys(ours), "and exactly upstream's configuration keys");
}

/* What our earlier versions wrote (also "version 4"): a partitions key,
 * a partition column in pack, own cells without a pack id; for MySQL
 * also a LONGBLOB data.value and neither bigdata nor todel. */
static const char *const earlier_sqlite =
	"INSERT INTO config VALUES ('partitions', '3'); UPDATE pt SET pack = NULL;"
	" CREATE TABLE old_pack (tid INTEGER PRIMARY KEY, partition INTEGER NOT NULL,"
	" approved INTEGER, partial INTEGER NOT NULL, oids BLOB, pack_tid INTEGER NOT NULL);"
	" DROP TABLE pack; ALTER TABLE old_pack RENAME TO pack";
static const char *const earlier_mysql =
	"INSERT INTO config VALUES ('partitions', '3'); UPDATE pt SET pack = NULL;"
	" ALTER TABLE pack ADD COLUMN \\`partition\\` SMALLINT UNSIGNED NOT NULL AFTER tid,"
	" ADD KEY (\\`partition\\`, tid);"
	" ALTER TABLE data MODIFY value LONGBLOB NOT NULL; DROP TABLE bigdata, todel";

static void earlier_database(void)
{
	char db0[512], db1[512], out[4096];
	struct neo_client *client = NULL;
	uint64_t serials[6] = { 0 }, tids[3] = { 0 };
	bool loaded;

	cluster_init(&tc, "upstream", 3, 1, 2, 1);
	loaded = load_fixture(0, db0, sizeof db0) && load_fixture(1, db1, sizeof db1)
		 && run_sql(db0, mysql ? earlier_mysql : earlier_sqlite, NULL, out, sizeof out) == 0
		 && run_sql(db1, mysql ? earlier_mysql : earlier_sqlite, NULL, out, sizeof out) == 0;
	if (!tap_ok(loaded, "databases in the layout of our earlier versions"))  {
		tap_diag("%s", out);
		return;
	}
	cluster_start(&tc);
	cluster_start_admin(&tc);
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 20000),
	       "our cluster on them reaches RUNNING");
	if (cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK) {
		tap_ok(load_history(client, serials, tids), "every revision loads");
		neo_client_close(client);
	} else {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
	}
	cluster_stop(&tc);
	tap_ok(cluster_log_has(&tc, "storage0.log", mysql ? "pack.partition" : "table pack rebuilt",
			       0), "the migration is logged");
	tap_ok(same_schema(db0, 2) && upstream_config_keys(db0),
	       "they were migrated in place to exactly upstream's schema and keys");
}

/* A truncation upstream ordered and did not apply yet: truncate_tid in
 * upstream's form (16 hex digits), after the second transaction. */
static void pending_truncation(void)
{
	char db0[512], db1[512], out[4096];
	const char *order = mysql
		? "INSERT INTO config SELECT 'truncate_tid', LOWER(LPAD(HEX(tid), 16, '0'))"
		  " FROM trans ORDER BY tid LIMIT 1, 1"
		: "INSERT INTO config SELECT 'truncate_tid', printf('%016x', tid)"
		  " FROM trans ORDER BY tid LIMIT 1 OFFSET 1";
	struct neo_client *client = NULL;
	struct neo_client_record rec = { 0 };
	bool loaded;

	cluster_init(&tc, "upstream", 3, 1, 2, 1);
	loaded = load_fixture(0, db0, sizeof db0) && load_fixture(1, db1, sizeof db1)
		 && run_sql(db0, order, NULL, out, sizeof out) == 0
		 && run_sql(db1, order, NULL, out, sizeof out) == 0;
	if (!tap_ok(loaded, "upstream's databases with a pending truncation "
		    "(truncate_tid in hex)")) {
		tap_diag("%s", out);
		return;
	}
	cluster_start(&tc);
	cluster_start_admin(&tc);
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 20000),
	       "our cluster on them reaches RUNNING");
	if (cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK) {
		tap_ok(cluster_load_is(client, 1, history[1][0])
		       && neo_client_load(client, 5, &rec) != NEO_CLIENT_OK
		       && cluster_load_is(client, 2, history[2][1]),
		       "the truncation is applied at the tid upstream wrote");
		neo_client_record_clear(&rec);
		neo_client_close(client);
	} else {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
	}
	cluster_stop(&tc);
	tap_ok(upstream_config_keys(db0), "and its key is gone");
}

int main(void)
{
	char out[256];

	mysql = strcmp(cluster_engine(), "mysql_innodb") == 0;
	if (!mysql && strcmp(cluster_engine(), "sqlite") != 0) {
		tap_skip("engine %s: upstream has no such backend", cluster_engine());
		return tap_done();
	}
	if (shell(out, sizeof out, mysql ? "command -v mysql" : "command -v sqlite3") != 0) {
		tap_skip("no %s command line client", mysql ? "mysql" : "sqlite3");
		return tap_done();
	}
	upstream_database();
	ours_against_fixture();
	earlier_database();
	pending_truncation();
	return tap_done();
}
