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
 *   - a pack time after the last transaction is refused, and its
 *     transaction ends there: a storage added afterwards is not kept
 *     waiting for it;
 *   - a storage added afterwards, that replicates every partition, holds
 *     the pack orders as the source sent them (AddTransaction's pack) and
 *     a completed pack for each of its cells (sqlite3 on its file).
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

/* The first number printed by sqlite3 for query on storage index's file,
 * or -1. */
static long sql_number(int index, const char *query)
{
	char db[512], line[1024], out[64] = "";
	FILE *pipe;
	long value = -1;

	cluster_storage_database(&tc, index, db, sizeof db);
	snprintf(line, sizeof line, "sqlite3 -readonly '%s' \"%s\" 2>/dev/null", db, query);
	pipe = popen(line, "r");
	if (pipe == NULL)
		return -1;
	if (fgets(out, sizeof out, pipe))
		value = strtol(out, NULL, 10);
	pclose(pipe);
	return value;
}

/* Until no cell is OUT_OF_DATE or FEEDING, and S1 has none. */
static bool moved_to_s3(char *out, size_t len)
{
	for (int waited = 0; waited < 30000; waited += 200) {
		const char *rows;

		cluster_neoctl(&tc, out, len, "print pt");
		rows = strchr(out, '\n');
		if (rows && !strpbrk(rows, "OF") && strstr(out, "S3 R UUUU")
		    && (!strstr(out, "S1 R") || strstr(out, "S1 R ....")))
			return true;
		usleep(200000);
	}
	return false;
}

/* A storage that joins after the packs gets them by replication, as an
 * upstream one would: each pack transaction's order (AddTransaction's
 * pack), its cells' completed pack (AnswerFetchTransactions') recorded. */
static void replicated_pack_state(uint64_t pack_id, uint64_t pack_tid)
{
	char out[4096], query[512];
	long orders, first;

	tc.storage_count = 3;
	cluster_start_storage(&tc, 2);
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "| PENDING |", 10000),
	       "a third storage joins (PENDING)");
	cluster_neoctl(&tc, out, sizeof out, "add S3");
	cluster_neoctl(&tc, out, sizeof out, "tweak S1");
	tap_ok(moved_to_s3(out, sizeof out),
	       "tweak S1: S3 replicates every partition, S1 keeps none");
	tap_diag("%s", out);
	if (strcmp(cluster_engine(), "sqlite") != 0 || system("sqlite3 -version >/dev/null 2>&1")) {
		tap_skip("S3's database: needs the sqlite engine and the sqlite3 command");
		tap_skip("S3's database: needs the sqlite engine and the sqlite3 command");
		return;
	}
	orders = sql_number(2, "SELECT COUNT(*) FROM pack");
	snprintf(query, sizeof query,
		 "SELECT COUNT(*) FROM pack WHERE tid=%lld AND approved=1 AND partial=0"
		 " AND oids IS NULL AND pack_tid=%lld", (long long)pack_id, (long long)pack_tid);
	first = sql_number(2, query);
	tap_ok(orders == 2 && first == 1,
	       "S3 stored both pack orders it replicated, the first as the source has it "
	       "(%ld, %ld)", orders, first);
	tap_ok(sql_number(2, "SELECT COUNT(*) FROM pt WHERE pack IS NOT NULL AND nid="
			     "(SELECT value FROM config WHERE name='nid')") == 4,
	       "S3's 4 cells have their completed pack recorded");
}

/* S3, emptied by "tweak S3" above but running when the restarted master
 * told every storage of the approved orders again, gets cells back when
 * S2 is tweaked out: as upstream, a new cell to replicate starts at the
 * last approved pack id this node heard of, and the source's completed
 * pack (both packs done) leaves it there, so S3 does not redo the packs
 * (before, a new cell started at 0 and both packs were applied again on
 * each partition S3 replicated). */
static void new_cells_keep_packs(char *out, size_t len)
{
	int before = cluster_log_count(&tc, "storage2.log", ") done");
	bool moved = false;

	cluster_neoctl(&tc, out, len, "tweak S2");
	for (int waited = 0; waited < 30000 && !moved; waited += 200) {
		const char *rows;

		cluster_neoctl(&tc, out, len, "print pt");
		rows = strchr(out, '\n');
		moved = rows && !strpbrk(rows, "OF") && strstr(out, "S3 R UUUU")
			&& strstr(out, "S2 R ....");
		if (!moved)
			usleep(200000);
	}
	tap_ok(moved, "tweak S2: S3 gets every cell back, up to date");
	tap_diag("%s", out);
	usleep(500000);	/* a pack S3 would redo starts at once */
	tap_ok(cluster_log_count(&tc, "storage2.log", ") done") == before,
	       "S3 did not redo the packs on its new cells (%d pack(s) done before, %d after)",
	       before, cluster_log_count(&tc, "storage2.log", ") done"));
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

	replicated_pack_state(pack_id, c1);

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

	/* the refused pack's transaction ended at the refusal: a storage that
	 * joins now is not told of it as unfinished (it stayed OUT_OF_DATE
	 * until the client went away) */
	tc.storage_count = 4;
	cluster_start_storage(&tc, 3);
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "S4", 10000), "a fourth storage joins");
	cluster_neoctl(&tc, out, sizeof out, "add S4");
	cluster_neoctl(&tc, out, sizeof out, "tweak S3");
	tap_ok(cluster_neoctl_wait(&tc, "print pt", "S4 R UUUU", 10000),
	       "after the refused pack, S4 takes S3's cells and is up to date within seconds");
	cluster_neoctl(&tc, out, sizeof out, "print pt");
	tap_diag("%s", out);
	new_cells_keep_packs(out, sizeof out);

	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
