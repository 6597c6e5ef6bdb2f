/*
 * test_loader.c - loading backend modules by engine= name or path, and
 * refusing bad ones with a message, never a crash.  The modules are built
 * by make check into tests/backend/.libs (NEO_BACKEND_DIR points there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend_loader.h"
#include "tap.h"

static char err[1024];

static void expect_refused(const char *engine, const char *why)
{
	struct neo_backend_module m;
	int r = neo_backend_load(engine, &m, err, sizeof(err));

	if (!tap_ok(r == -1 && m.handle == NULL && strstr(err, why) != NULL,
		    "engine '%s' refused: %s", engine, why))
		tap_diag("got %d: %s", r, err);
}

/* "test_loader ENGINE": load one module and print its name (used by
 * test_out_of_tree.sh on a module built outside this tree). */
static int load_one(const char *engine)
{
	struct neo_backend_module m;

	if (neo_backend_load(engine, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("loaded %s from %s\n", m.ops->name, m.path);
	neo_backend_unload(&m);
	return 0;
}

int main(int argc, char **argv)
{
	struct neo_backend_module m;
	struct neo_backend_open_args args = { .struct_size = sizeof(args), .database = "db" };
	struct neo_db *db = NULL;
	char path[4096], abs[4096];
	const char *dir = getenv("NEO_BACKEND_DIR");

	if (argc == 2)
		return load_one(argv[1]);
	if (!tap_ok(dir != NULL, "NEO_BACKEND_DIR is set"))
		return tap_done();
	tap_ok(neo_backend_path("sqlite", path, sizeof(path)) == 0 &&
	       strcmp(path + strlen(dir), "/sqlite.so") == 0, "a name resolves in the backends folder");
	tap_ok(neo_backend_path("/opt/x/my.so", path, sizeof(path)) == 0 &&
	       strcmp(path, "/opt/x/my.so") == 0, "a path is used as given");

	tap_ok(neo_backend_load("example", &m, err, sizeof(err)) == 0 && m.ops != NULL &&
	       strcmp(m.ops->name, "example") == 0, "the example module loads by engine name");
	if (m.ops != NULL) {
		tap_ok(m.ops->open(&args, &db, err, sizeof(err)) == NEO_BACKEND_OK && db != NULL,
		       "its open works through the table");
		m.ops->close(db);
		neo_backend_unload(&m);
	}
	snprintf(abs, sizeof(abs), "%s/example.so", dir);
	tap_ok(neo_backend_load(abs, &m, err, sizeof(err)) == 0, "and by path");
	neo_backend_unload(&m);

	/* Tables other than this node's own (tests/backend/wrapped_backend.c,
	 * the SQLite module's operations underneath). */
	if (neo_backend_load("later", &m, err, sizeof(err)) != 0) {
		tap_ok(false, "a module of a later minor, with a larger table, loads");
		tap_diag("%s", err);
	} else {
		char dbpath[4096];
		struct neo_bytes value = { (const uint8_t *)"v", 1 }, got = { 0 };

		tap_ok(strcmp(m.ops->name, "later") == 0 && m.ops->abi_minor == NEO_BACKEND_ABI_MINOR + 1
		       && m.ops->struct_size > sizeof(struct neo_backend),
		       "a module of a later minor, with a larger table, loads");
		snprintf(dbpath, sizeof(dbpath), "%s/test_loader_later.db",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		remove(dbpath);
		args.database = dbpath;
		db = NULL;
		tap_ok(m.ops->open(&args, &db, err, sizeof(err)) == NEO_BACKEND_OK
		       && m.ops->config_set(db, "name", &value) == NEO_BACKEND_OK
		       && m.ops->config_get(db, "name", &got) == NEO_BACKEND_OK && got.size == 1
		       && got.data[0] == 'v', "and serves the operations this node knows");
		if (db != NULL)
			m.ops->close(db);
		remove(dbpath);
		args.database = "db";
		neo_backend_unload(&m);
	}
	tap_ok(neo_backend_load("old_size", &m, err, sizeof(err)) == 0
	       && strcmp(m.ops->name, "old_size") == 0,
	       "a table of exactly ABI 1.0's size loads (NEO_BACKEND_SIZE_1_0 = %zu)",
	       (size_t)NEO_BACKEND_SIZE_1_0);
	neo_backend_unload(&m);
	/* ABI 1.1's table: the 1.2 operation past its end is not read (the
	 * module left a pointer there; the node must see NULL) */
	tap_ok(neo_backend_load("size_1_1", &m, err, sizeof(err)) == 0
	       && strcmp(m.ops->name, "size_1_1") == 0 && m.ops->db_size != NULL
	       && m.ops->import_progress == NULL,
	       "a table of ABI 1.1's size loads, without the 1.2 operation import_progress");
	neo_backend_unload(&m);
	tap_ok(neo_backend_load("minimal", &m, err, sizeof(err)) == 0 && m.ops->obj_history == NULL
	       && m.ops->pack_oid == NULL && m.ops->obj_get != NULL,
	       "a module with every optional operation NULL loads");
	neo_backend_unload(&m);
	expect_refused("no_obj_put", "lacks the mandatory operation obj_put");

	expect_refused("old_abi", "built for backend ABI 0.0, this node needs 1.x");
	expect_refused("small_table", "operations table has");
	expect_refused("declines", "does not support this node's backend ABI");
	expect_refused("no_entry", "not a NEO backend (no neo_backend_entry entry point)");
	expect_refused("nonexistent", "cannot load");
	expect_refused("/etc/hostname", "cannot load");
	return tap_done();
}
