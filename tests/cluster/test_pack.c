/*
 * test_pack.c - pack through libneoclient on a real cluster (2 storages,
 * one replica, so that both copies are packed and compared):
 *
 *   - an object's revisions before the last one at the pack time go, the
 *     later ones stay; its history shrinks accordingly;
 *   - an object deleted before the pack time goes entirely;
 *   - WaitForPack returns once both storages are done, and neoctl check
 *     finds the replicas equal (pack is deterministic);
 *   - a partial pack touches only the objects it names;
 *   - a master that restarts learns the orders again from the storages;
 *   - a pack time after the last transaction is refused.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;

static uint64_t commit(struct neo_client *client, uint64_t oid, uint64_t serial, const char *data)
{
	uint64_t tid = cluster_commit(client, oid, serial, data);

	if (tid == 0)
		tap_diag("commit of oid %llu: %s", (unsigned long long)oid, neo_client_errmsg());
	return tid;
}

static uint64_t delete_object(struct neo_client *client, uint64_t oid, uint64_t serial)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t tid = 0;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (neo_txn_delete(txn, oid, serial) != NEO_CLIENT_OK ||
	    neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count) != NEO_CLIENT_OK ||
	    neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

static bool serial_is(struct neo_client *client, uint64_t oid, uint64_t serial, const char *data)
{
	struct neo_client_record rec = { 0 };
	int rc = neo_client_load_serial(client, oid, serial, &rec);
	bool same = rc == NEO_CLIENT_OK && rec.size == strlen(data) &&
		    memcmp(rec.data, data, rec.size) == 0;

	neo_client_record_clear(&rec);
	return same;
}

static bool serial_gone(struct neo_client *client, uint64_t oid, uint64_t serial)
{
	struct neo_client_record rec = { 0 };
	int rc = neo_client_load_serial(client, oid, serial, &rec);

	neo_client_record_clear(&rec);
	return rc == NEO_CLIENT_NOT_FOUND || rc == NEO_CLIENT_NO_DATA;
}

static size_t history_length(struct neo_client *client, uint64_t oid)
{
	struct neo_client_history_entry *entries = NULL;
	size_t count = 0;

	if (neo_client_history(client, oid, 10, &entries, &count) != NEO_CLIENT_OK)
		count = 0;
	neo_client_free(entries);
	return count;
}

int main(void)
{
	struct neo_client *client = NULL;
	uint64_t oids[4], a1, a2, a3, b1, b_deleted, c1, d1, d2, pack_id = 0;
	char out[4096];
	int rc;

	cluster_init(&tc, "packtest", 4, 1, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "client connects")) {
		cluster_stop(&tc);
		return tap_done();
	}
	neo_client_new_oids(client, 4, oids);
	a1 = commit(client, oids[0], 0, "a1");
	b1 = commit(client, oids[1], 0, "b1");
	a2 = commit(client, oids[0], a1, "a2");
	b_deleted = delete_object(client, oids[1], b1);
	c1 = commit(client, oids[2], 0, "c1");
	d1 = commit(client, oids[3], 0, "d1");
	a3 = commit(client, oids[0], a2, "a3");
	d2 = commit(client, oids[3], d1, "d2");
	tap_ok(a1 && b1 && a2 && b_deleted && c1 && d1 && a3 && d2, "history written");
	tap_ok(history_length(client, oids[0]) == 3, "a has 3 revisions before the pack");

	/* pack at c1: a keeps a2 (its last revision then) and a3; b, deleted
	 * then, goes entirely; c and d keep everything (nothing older) */
	rc = neo_client_pack(client, c1, NULL, 0, true, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK && pack_id > d2, "pack at c1 commits and completes (%d: %s)",
	       rc, neo_client_errmsg());
	tap_ok(serial_gone(client, oids[0], a1), "a1, before a's last revision at c1, is gone");
	tap_ok(serial_is(client, oids[0], a2, "a2") && serial_is(client, oids[0], a3, "a3"),
	       "a2 and a3 stay");
	tap_ok(history_length(client, oids[0]) == 2, "a's history has 2 revisions left");
	tap_ok(serial_gone(client, oids[1], b1) && history_length(client, oids[1]) == 0,
	       "b, deleted before c1, is gone entirely");
	tap_ok(serial_is(client, oids[2], c1, "c1") && serial_is(client, oids[3], d1, "d1"),
	       "c and d are untouched");
	tap_ok(cluster_storage_log_count(&tc, "done") >= 2,
	       "both storages logged the pack done (%d)", cluster_storage_log_count(&tc, "done"));

	cluster_neoctl(&tc, out, sizeof out, "check :");
	for (int waited = 0; waited < 100 &&
			     cluster_storage_log_count(&tc, "replicas are equal") < 4; waited++)
		usleep(100000);
	tap_ok(cluster_storage_log_count(&tc, "replicas are equal") >= 4 &&
	       cluster_log_count(&tc, "master0.log", "is corrupted") == 0,
	       "neoctl check: both copies of every partition are equal after the pack");

	rc = neo_client_pack(client, d2, &oids[3], 1, true, NULL);
	tap_ok(rc == NEO_CLIENT_OK && serial_gone(client, oids[3], d1) &&
	       serial_is(client, oids[3], d2, "d2") && serial_is(client, oids[0], a2, "a2"),
	       "a partial pack of d at d2 drops d1 and leaves a alone (%d)", rc);

	/* a master that restarts learns the orders again from the storages */
	cluster_kill(&tc.masters[0], SIGTERM);
	cluster_start_master(&tc, 0);
	tap_ok(cluster_log_has(&tc, "master0.log", "pack order(s) recovered from a storage", 20000),
	       "a restarted master recovers the pack orders from the storages");
	rc = neo_client_wait_for_pack(client, pack_id);
	tap_ok(rc == NEO_CLIENT_OK, "and WaitForPack of the first pack returns (%d: %s)", rc,
	       neo_client_errmsg());

	rc = neo_client_pack(client, UINT64_C(0x7ffffffffffffffe), NULL, 0, false, NULL);
	tap_ok(rc != NEO_CLIENT_OK, "a pack time after the last transaction is refused (%d: %s)",
	       rc, neo_client_errmsg());
	tap_ok(commit(client, oids[2], c1, "c2") != 0, "commits go on after");

	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
