/*
 * test_optional_ops.c - a storage whose backend module leaves every
 * optional operation of neo/backend.h NULL (tests/backend/minimal.so, the
 * SQLite module's table without them), as a third party's module built
 * against the installed header may: it serves loads and commits; a
 * request that needs a missing operation (history, undo log, undo, pack)
 * gets an error naming it, and the storage stays up, so that the cluster
 * stays operational and goes on committing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;

static bool storage_alive(void)
{
	return tc.storages[0] > 0 && kill(tc.storages[0], 0) == 0;
}

int main(void)
{
	struct neo_client *client = NULL;
	struct neo_client_history_entry *history = NULL;
	uint64_t oids[2], t1, t2, t3, *tids = NULL, *undone = NULL, pack_id = 0;
	struct neo_txn *txn;
	size_t count = 0;
	char module[1024];
	const char *top = getenv("abs_top_builddir");
	int rc;

	snprintf(module, sizeof module, "%s/tests/backend/.libs/minimal.so", top ? top : ".");
	setenv("NEO_TEST_ENGINE", module, 1);
	cluster_init(&tc, "optional", 4, 0, 1, 1);
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "a cluster whose storage runs on a module without optional operations starts")) {
		cluster_stop(&tc);
		return tap_done();
	}
	neo_client_new_oids(client, 2, oids);
	t1 = cluster_commit(client, oids[0], 0, "one");
	t2 = cluster_commit(client, oids[0], t1, "two");
	tap_ok(t1 && t2 > t1, "commits work");
	tap_ok(cluster_load_is(client, oids[0], "two"), "loads work");

	rc = neo_client_history(client, oids[0], 10, &history, &count);
	tap_ok(rc != NEO_CLIENT_OK && strstr(neo_client_errmsg(), "does not implement obj_history"),
	       "history is answered with an error naming obj_history (%d: %s)", rc,
	       neo_client_errmsg());
	neo_client_free(history);
	tap_ok(storage_alive(), "the storage is still running");

	rc = neo_client_undo_log(client, 0, 10, &tids, &count);
	tap_ok(rc != NEO_CLIENT_OK && strstr(neo_client_errmsg(), "does not implement"),
	       "the undo log is answered with an error naming what is missing (%d: %s)", rc,
	       neo_client_errmsg());
	neo_client_free(tids);

	if (neo_client_begin(client, 0, &txn) == NEO_CLIENT_OK) {
		rc = neo_txn_undo(txn, t2, &undone, &count);
		tap_ok(rc != NEO_CLIENT_OK, "an undo is answered with an error (%d: %s)", rc,
		       neo_client_errmsg());
		neo_client_free(undone);
		neo_txn_abort(txn);
	} else {
		tap_ok(false, "an undo is answered with an error (no transaction: %s)",
		       neo_client_errmsg());
	}

	rc = neo_client_pack(client, t2, NULL, 0, false, &pack_id);
	tap_ok(rc != NEO_CLIENT_OK, "a pack is refused (%d: %s)", rc, neo_client_errmsg());
	tap_ok(storage_alive(), "the storage is still running");

	t3 = cluster_commit(client, oids[1], 0, "three");
	tap_ok(t3 > t2 && cluster_load_is(client, oids[1], "three")
	       && cluster_load_is(client, oids[0], "two"),
	       "the cluster stays operational: commits and loads go on");
	tap_ok(cluster_log_has(&tc, "storage0.log", "does not implement obj_history", 2000)
	       && cluster_log_has(&tc, "storage0.log", "does not implement tid_list_desc", 2000),
	       "the storage logs each refused request");
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
