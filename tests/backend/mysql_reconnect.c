/*
 * mysql_reconnect.c - mysql_innodb.so against a server that goes away,
 * and against connections it refuses.  Run by mysql_conformance.sh:
 *
 *     tests/backend/mysql_reconnect MODULE.so DIR SERVER_SCRIPT
 *
 * DIR is a private server's directory (mariadb_server.sh start DIR ...
 * neo_reconnect), SERVER_SCRIPT that script, used to restart the server.
 * The module's connection is KILLed between two operations through a
 * connection of our own: with nothing uncommitted the next operation
 * reconnects and succeeds; with uncommitted changes it is ETRANSIENT
 * until rollback, and committed data is never lost.  Output is TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>

#include "runtime/backend_loader.h"
#include "tap.h"

static const struct neo_backend *ops;
static char err[1024];
static char socket_path[512];

static struct neo_db *open_db(const char *database, const char *engine, int wait_seconds,
			      int *status)
{
	struct neo_backend_open_args args = {
		.struct_size = sizeof(args), .database = database, .engine = engine,
		.wait_seconds = wait_seconds,
	};
	struct neo_db *db = NULL;

	err[0] = '\0';
	*status = ops->open(&args, &db, err, sizeof(err));
	return *status == NEO_BACKEND_OK ? db : NULL;
}

/* Our own root connection to the server, to KILL the module's. */
static MYSQL *admin_connect(void)
{
	MYSQL *conn = mysql_init(NULL);

	if (conn != NULL && mysql_real_connect(conn, NULL, "root", NULL, NULL, 0, socket_path, 0))
		return conn;
	tap_diag("admin connection: %s", conn ? mysql_error(conn) : "out of memory");
	if (conn != NULL)
		mysql_close(conn);
	return NULL;
}

static long module_connection(MYSQL *admin)
{
	MYSQL_RES *result;
	MYSQL_ROW row;
	long id = -1;

	if (mysql_query(admin, "SELECT id FROM information_schema.processlist"
			" WHERE db = 'neo_reconnect' AND id <> CONNECTION_ID()") != 0)
		return -1;
	result = mysql_store_result(admin);
	row = result ? mysql_fetch_row(result) : NULL;
	if (row != NULL && row[0] != NULL)
		id = atol(row[0]);
	mysql_free_result(result);
	return id;
}

/* KILLs the module's connection and waits until the server has reaped it. */
static bool kill_module_connection(void)
{
	MYSQL *admin = admin_connect();
	char sql[64];
	long id = admin ? module_connection(admin) : -1;
	bool killed = false;

	if (id > 0) {
		snprintf(sql, sizeof(sql), "KILL %ld", id);
		killed = mysql_query(admin, sql) == 0;
		for (int i = 0; killed && i < 100 && module_connection(admin) == id; i++)
			usleep(20000);
	}
	if (admin != NULL)
		mysql_close(admin);
	return killed;
}

static bool value_is(struct neo_db *db, const char *key, const char *want)
{
	struct neo_bytes v;

	return ops->config_get(db, key, &v) == NEO_BACKEND_OK && v.size == strlen(want) &&
	       memcmp(v.data, want, v.size) == 0;
}

static int set(struct neo_db *db, const char *key, const char *value)
{
	struct neo_bytes v = { (const uint8_t *)value, strlen(value) };

	return ops->config_set(db, key, &v);
}

static void test_kill_when_idle(struct neo_db *db)
{
	tap_ok(set(db, "name", "kept") == NEO_BACKEND_OK &&
	       ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK, "a committed key");
	tap_ok(kill_module_connection(), "the module's connection is KILLed");
	tap_ok(value_is(db, "name", "kept"), "with nothing uncommitted, the next read reconnects "
	       "and finds the committed data (%s)", ops->errmsg(db));
	tap_ok(kill_module_connection() && set(db, "other", "1") == NEO_BACKEND_OK &&
	       ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK && value_is(db, "other", "1"),
	       "and so does the first write of a transaction (%s)", ops->errmsg(db));
}

static void test_kill_with_changes(struct neo_db *db)
{
	struct neo_bytes v;
	int status;

	set(db, "uncommitted", "x");
	tap_ok(kill_module_connection(), "KILLed with an uncommitted change");
	status = ops->config_get(db, "name", &v);
	tap_ok(status == NEO_BACKEND_ETRANSIENT && strstr(ops->errmsg(db), "uncommitted"),
	       "the next operation is ETRANSIENT (%d: %s)", status, ops->errmsg(db));
	tap_ok(ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_ETRANSIENT,
	       "commit refuses too: half a transaction is never committed");
	tap_ok(ops->rollback(db) == NEO_BACKEND_OK, "rollback reconnects (%s)", ops->errmsg(db));
	tap_ok(ops->config_get(db, "uncommitted", &v) == NEO_BACKEND_NOTFOUND &&
	       value_is(db, "name", "kept"), "the lost change is gone, the committed data is there");
}

static void test_server_restart(struct neo_db *db, const char *dir, const char *script)
{
	char command[1200];

	snprintf(command, sizeof(command), "sh '%s' stop '%s' && sh '%s' start '%s' neo_reconnect",
		 script, dir, script, dir);
	tap_ok(system(command) == 0, "the server restarts");
	tap_ok(value_is(db, "name", "kept") && value_is(db, "other", "1"),
	       "after a server restart, the next read reconnects; committed data survived (%s)",
	       ops->errmsg(db));
}

static void test_lock_kept(const char *database)
{
	int status;
	struct neo_db *second = open_db(database, NULL, 0, &status);

	tap_ok(second == NULL && status == NEO_BACKEND_ELOCKED,
	       "after reconnecting, the database lock is held again (%s)", err);
	if (second != NULL)
		ops->close(second);
}

static void test_refusals(void)
{
	char database[700];
	int status;
	struct neo_db *db;

	snprintf(database, sizeof(database), "root@neo_missing%s", socket_path);
	db = open_db(database, NULL, 0, &status);
	tap_ok(db == NULL && status == NEO_BACKEND_EINVAL && strstr(err, "does not exist"),
	       "a missing database is named (%s)", err);
	snprintf(database, sizeof(database), "nobody:wrong@neo_reconnect%s", socket_path);
	db = open_db(database, NULL, 0, &status);
	tap_ok(db == NULL && status == NEO_BACKEND_EINVAL && strstr(err, "denied"),
	       "wrong credentials are refused as such (%s)", err);
	snprintf(database, sizeof(database), "root@neo_reconnect%s", socket_path);
	db = open_db(database, "RocksDB", 0, &status);
	tap_ok(db == NULL && status == NEO_BACKEND_EINVAL && strstr(err, "RocksDB"),
	       "the MyRocks table engine is refused clearly (%s)", err);
	db = open_db("/tmp/mysql.sock", NULL, 0, &status);
	tap_ok(db == NULL && status == NEO_BACKEND_EINVAL && strstr(err, "database="),
	       "a malformed database= is refused (%s)", err);
	snprintf(database, sizeof(database), "root@neo_reconnect%s.gone", socket_path);
	db = open_db(database, NULL, 0, &status);
	tap_ok(db == NULL && status == NEO_BACKEND_EIO && strstr(err, "cannot connect"),
	       "no server at the socket (%s)", err);
	if (db != NULL)
		ops->close(db);
}

int main(int argc, char **argv)
{
	struct neo_backend_module module;
	char database[700];
	struct neo_db *db;
	int status;

	if (argc < 4) {
		fprintf(stderr, "usage: %s MODULE.so DIR SERVER_SCRIPT\n", argv[0]);
		return 2;
	}
	snprintf(socket_path, sizeof(socket_path), "%s/mysql.sock", argv[2]);
	snprintf(database, sizeof(database), "root@neo_reconnect%s", socket_path);
	if (!tap_ok(neo_backend_load(argv[1], &module, err, sizeof(err)) == 0, "module loads: %s", err))
		return tap_done();
	ops = module.ops;
	db = open_db(database, "InnoDB", 20, &status);
	if (!tap_ok(db != NULL, "opens with engine InnoDB (%s)", err))
		return tap_done();
	test_kill_when_idle(db);
	test_kill_with_changes(db);
	test_server_restart(db, argv[2], argv[3]);
	test_lock_kept(database);
	ops->close(db);
	test_refusals();
	neo_backend_unload(&module);
	mysql_library_end();
	return tap_done();
}
