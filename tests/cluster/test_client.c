/*
 * test_client.c - libneoclient against a real cluster (2 storages, one
 * replica): every read of the API, deletion, read conflicts, undo, big
 * and many stores, calls from several threads, the cache across clients,
 * deadlock avoidance between two clients (one object, and crossed stores
 * of two objects), a client that outlives a restart of
 * the whole cluster, fails over to a spare master, and learns that a
 * finish cut by the loss of the master did not commit.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;

static bool record_is(const struct neo_client_record *record, const char *data)
{
	return record->size == strlen(data) && memcmp(record->data, data, record->size) == 0;
}

static bool load_is(struct neo_client *client, uint64_t oid, const char *data)
{
	struct neo_client_record record;
	bool same;

	if (neo_client_load(client, oid, &record) != NEO_CLIENT_OK)
		return false;
	same = record_is(&record, data);
	neo_client_record_clear(&record);
	return same;
}

static uint64_t commit_meta(struct neo_client *client, uint64_t oid, uint64_t serial,
			    const char *data, const char *user, const char *description)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts;
	size_t count;
	uint64_t tid = 0;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (neo_txn_store(txn, oid, serial, data, strlen(data)) == NEO_CLIENT_OK
	    && neo_txn_vote(txn, user, strlen(user), description, strlen(description), "ext", 3,
			    &conflicts, &count) == NEO_CLIENT_OK
	    && neo_txn_finish(txn, &tid) == NEO_CLIENT_OK)
		return tid;
	neo_client_conflicts_free(conflicts, count);
	neo_txn_abort(txn);
	return 0;
}

/* --- Reads ------------------------------------------------------------------------ */

static void reads(struct neo_client *client)
{
	struct neo_client_record record;
	struct neo_client_history_entry *history;
	struct neo_client_txn_info info;
	uint64_t oids[3], t1, t2, t3, last, *tids;
	size_t count;
	int rc;

	neo_client_new_oids(client, 3, oids);
	tap_ok(oids[0] && oids[1] != oids[0] && oids[2] != oids[1], "new oids are distinct");
	t1 = commit_meta(client, oids[0], 0, "one", "alice", "first");
	t2 = commit_meta(client, oids[0], t1, "two", "bob", "second");
	t3 = commit_meta(client, oids[1], 0, "other", "carol", "third");
	tap_ok(t1 && t1 < t2 && t2 < t3, "three commits");

	rc = neo_client_load(client, oids[0], &record);
	tap_ok(rc == NEO_CLIENT_OK && record_is(&record, "two") && record.serial == t2
	       && record.next_serial == 0, "load: the current revision");
	neo_client_record_clear(&record);
	rc = neo_client_load_serial(client, oids[0], t1, &record);
	tap_ok(rc == NEO_CLIENT_OK && record_is(&record, "one") && record.serial == t1
	       && record.next_serial == t2, "load_serial: an old revision and its successor");
	neo_client_record_clear(&record);
	rc = neo_client_load_before(client, oids[0], t2, &record);
	tap_ok(rc == NEO_CLIENT_OK && record_is(&record, "one") && record.serial == t1,
	       "load_before: the revision before a tid");
	neo_client_record_clear(&record);
	rc = neo_client_load_before(client, oids[0], t1, &record);
	tap_ok(rc == NEO_CLIENT_NO_DATA, "load_before its creation: no data (%d)", rc);
	rc = neo_client_load(client, oids[2], &record);
	tap_ok(rc == NEO_CLIENT_NOT_FOUND, "an oid never stored: not found (%d %s)", rc,
	       neo_client_errmsg());
	tap_ok(neo_client_load_before(client, oids[0], 0, &record) == NEO_CLIENT_INVALID,
	       "load_before 0 is refused");

	rc = neo_client_history(client, oids[0], 10, &history, &count);
	tap_ok(rc == NEO_CLIENT_OK && count == 2 && history[0].serial == t2
	       && history[1].serial == t1 && history[0].size == 3, "history, newest first");
	neo_client_free(history);
	rc = neo_client_history(client, oids[2], 10, &history, &count);
	tap_ok(rc == NEO_CLIENT_NOT_FOUND && count == 0, "history of an oid never stored (%d)", rc);

	rc = neo_client_transaction_info(client, t2, &info);
	tap_ok(rc == NEO_CLIENT_OK && info.tid == t2 && info.user_size == 3
	       && memcmp(info.user, "bob", 3) == 0 && info.description_size == 6
	       && info.extension_size == 3 && info.oid_count == 1 && info.oids[0] == oids[0],
	       "transaction_info: metadata and oids");
	neo_client_txn_info_clear(&info);
	rc = neo_client_transaction_info(client, t3 + 1, &info);
	tap_ok(rc == NEO_CLIENT_TID_NOT_FOUND, "transaction_info of no transaction (%d)", rc);

	rc = neo_client_tids_from(client, t1, t3, 0, &tids, &count);
	tap_ok(rc == NEO_CLIENT_OK && count == 3 && tids[0] == t1 && tids[1] == t2 && tids[2] == t3,
	       "tids_from: ascending over every partition (%zu)", count);
	neo_client_free(tids);
	rc = neo_client_tids_from(client, t1, t3, 2, &tids, &count);
	tap_ok(rc == NEO_CLIENT_OK && count == 2 && tids[1] == t2, "tids_from: bounded");
	neo_client_free(tids);
	rc = neo_client_undo_log(client, 0, 2, &tids, &count);
	tap_ok(rc == NEO_CLIENT_OK && count == 2 && tids[0] == t3 && tids[1] == t2,
	       "undo_log: newest first, one page");
	neo_client_free(tids);

	tap_ok(neo_client_sync(client) == NEO_CLIENT_OK && neo_client_last_tid(client, &last) == 0
	       && last == t3, "sync, and the last tid is the last commit");
}

/* --- Deletion, read conflicts, undo ------------------------------------------------------- */

static void writes(struct neo_client *client)
{
	struct neo_client_record record;
	struct neo_client_conflict *conflicts = NULL;
	struct neo_txn *txn;
	uint64_t oids[3], t1, t2, tdel = 0, tundo = 0, *undone = NULL;
	size_t count = 0;
	int rc;

	neo_client_new_oids(client, 3, oids);
	t1 = commit_meta(client, oids[0], 0, "kept", "u", "d");
	t2 = commit_meta(client, oids[1], 0, "doomed", "u", "d");

	neo_client_begin(client, 0, &txn);
	rc = neo_txn_delete(txn, oids[1], t2);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tdel);
	else
		neo_txn_abort(txn);
	tap_ok(rc == NEO_CLIENT_OK && tdel > t2, "a deletion commits (%s)", neo_client_errmsg());
	tap_ok(neo_client_load(client, oids[1], &record) == NEO_CLIENT_NO_DATA,
	       "a deleted object has no data");
	rc = neo_client_load_before(client, oids[1], tdel, &record);
	tap_ok(rc == NEO_CLIENT_OK && record_is(&record, "doomed"), "its past still loads");
	neo_client_record_clear(&record);

	/* checkCurrentSerialInTransaction with a stale serial. */
	commit_meta(client, oids[0], t1, "changed", "u", "d");
	neo_client_begin(client, 0, &txn);
	neo_txn_store(txn, oids[2], 0, "new", 3);
	neo_txn_check_current(txn, oids[0], t1);
	rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	tap_ok(rc == NEO_CLIENT_READ_CONFLICT && count == 1 && conflicts[0].oid == oids[0]
	       && conflicts[0].read_conflict, "a stale check is a read conflict");
	neo_client_conflicts_free(conflicts, count);
	neo_txn_abort(txn);
	tap_ok(neo_client_load(client, oids[2], &record) == NEO_CLIENT_NOT_FOUND,
	       "nothing of an aborted transaction is visible");

	/* Undo of the last change of oids[0]: back to "kept". */
	neo_client_load(client, oids[0], &record);
	neo_client_begin(client, 0, &txn);
	rc = neo_txn_undo(txn, record.serial, &undone, &count);
	tap_ok(rc == NEO_CLIENT_OK && count == 1 && undone[0] == oids[0], "undo stores (%s)",
	       neo_client_errmsg());
	neo_client_free(undone);
	neo_client_record_clear(&record);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "undo", 4, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tundo);
	else
		neo_txn_abort(txn);
	tap_ok(rc == NEO_CLIENT_OK && load_is(client, oids[0], "kept"), "undo commits (%s)",
	       neo_client_errmsg());
	rc = neo_client_load_serial(client, oids[0], tundo, &record);
	tap_ok(rc == NEO_CLIENT_OK && record_is(&record, "kept") && record.serial == tundo,
	       "the undo revision loads by serial");
	neo_client_record_clear(&record);

	/* Undo of a transaction whose object changed since. */
	t1 = commit_meta(client, oids[2], 0, "a1", "u", "d");
	commit_meta(client, oids[2], t1, "a2", "u", "d");
	neo_client_begin(client, 0, &txn);
	rc = neo_txn_undo(txn, t1, &undone, &count);
	tap_ok(rc == NEO_CLIENT_UNDO_ERROR && count == 1 && undone[0] == oids[2],
	       "undo of an overwritten change is refused with the oids (%d)", rc);
	neo_client_free(undone);
	neo_txn_abort(txn);

	/* Undo of a deletion brings the object back. */
	neo_client_begin(client, 0, &txn);
	rc = neo_txn_undo(txn, tdel, &undone, &count);
	neo_client_free(undone);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, NULL);
	else
		neo_txn_abort(txn);
	tap_ok(rc == NEO_CLIENT_OK && load_is(client, oids[1], "doomed"),
	       "undoing a deletion restores the object (%s)", neo_client_errmsg());
}

/* --- Volume ----------------------------------------------------------------------------- */

static void volume(void)
{
	struct neo_client *client = NULL;
	struct neo_client_config config = { .struct_size = sizeof config };
	struct neo_client_conflict *conflicts;
	struct neo_txn *txn;
	char masters[256];
	enum { OBJECTS = 64, SIZE = 16384 };
	uint64_t oids[OBJECTS], tid = 0;
	uint8_t *blobs[OBJECTS];
	size_t count;
	int rc, good = 0;

	config.cluster = tc.name;
	config.masters = cluster_masters(&tc, masters, sizeof masters);
	config.compress = -1;
	config.cache_size = 65536;	/* stores wait for room */
	config.connect_timeout_ms = 20000;
	if (neo_client_open(&config, &client) != NEO_CLIENT_OK) {
		tap_ok(false, "a small-cache client connects: %s", neo_client_errmsg());
		return;
	}
	neo_client_new_oids(client, OBJECTS, oids);
	neo_client_begin(client, 0, &txn);
	rc = NEO_CLIENT_OK;
	for (int i = 0; i < OBJECTS; i++) {
		blobs[i] = malloc(SIZE);
		/* Half compressible, half not. */
		for (int j = 0; j < SIZE; j++)
			blobs[i][j] = (uint8_t)(i % 2 ? rand() : j / 64 + i);
		if (rc == NEO_CLIENT_OK)
			rc = neo_txn_store(txn, oids[i], 0, blobs[i], SIZE);
	}
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	else
		neo_txn_abort(txn);
	tap_ok(rc == NEO_CLIENT_OK, "1 MiB in one transaction through a 64 KiB cache (%s)",
	       neo_client_errmsg());
	for (int i = 0; i < OBJECTS; i++) {
		struct neo_client_record record;

		if (neo_client_load(client, oids[i], &record) == NEO_CLIENT_OK && record.size == SIZE
		    && memcmp(record.data, blobs[i], SIZE) == 0 && record.serial == tid)
			good++;
		neo_client_record_clear(&record);
		free(blobs[i]);
	}
	tap_ok(good == OBJECTS, "every big object loads back (%d)", good);
	neo_client_close(client);
}

/* --- Threads ----------------------------------------------------------------------------- */

struct worker {
	struct neo_client *client;
	uint64_t oid;
	int committed, loaded;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t serial = 0;
	char data[32];

	for (int i = 0; i < 15; i++) {
		snprintf(data, sizeof data, "%llu/%d", (unsigned long long)w->oid, i);
		serial = commit_meta(w->client, w->oid, serial, data, "w", "");
		w->committed += serial != 0;
		w->loaded += load_is(w->client, w->oid, data);
	}
	return NULL;
}

static void threads(struct neo_client *client)
{
	enum { THREADS = 4 };
	struct worker workers[THREADS];
	pthread_t ids[THREADS];
	uint64_t oids[THREADS];
	int committed = 0, loaded = 0;

	neo_client_new_oids(client, THREADS, oids);
	for (int i = 0; i < THREADS; i++) {
		workers[i] = (struct worker){ .client = client, .oid = oids[i] };
		pthread_create(&ids[i], NULL, work, &workers[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(ids[i], NULL);
		committed += workers[i].committed;
		loaded += workers[i].loaded;
	}
	tap_ok(committed == THREADS * 15 && loaded == THREADS * 15,
	       "4 threads commit and load at once (%d commits, %d loads)", committed, loaded);
}

/* --- Two clients --------------------------------------------------------------------------- */

static void caches(struct neo_client *a)
{
	struct neo_client *b = NULL;
	uint64_t oid, t1, t2;

	if (cluster_client(&tc, NULL, &b, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "second client: %s", neo_client_errmsg());
		return;
	}
	neo_client_new_oids(a, 1, &oid);
	t1 = commit_meta(a, oid, 0, "first", "", "");
	neo_client_sync(b);
	tap_ok(load_is(b, oid, "first") && load_is(b, oid, "first"), "b loads (and caches) it");
	t2 = commit_meta(a, oid, t1, "second", "", "");
	neo_client_sync(b);
	tap_ok(t2 && load_is(b, oid, "second"), "after a's commit and a sync, b loads the new one");
	{
		struct neo_client_record record;
		int rc = neo_client_load_before(b, oid, t2, &record);

		tap_ok(rc == NEO_CLIENT_OK && record_is(&record, "first") && record.next_serial == t2,
		       "and the old one before it, from its cache");
		neo_client_record_clear(&record);
	}
	neo_client_close(b);
}

struct voter {
	struct neo_txn *txn;
	int rc;
	struct neo_client_conflict *conflicts;
	size_t count;
};

static void *vote_thread(void *arg)
{
	struct voter *v = arg;

	v->rc = neo_txn_vote(v->txn, "", 0, "", 0, "", 0, &v->conflicts, &v->count);
	return NULL;
}

/* a (older) waits on b's (younger) lock: the storage tells b, which
 * relocks, and the lock goes to a (as upstream's deadlock avoidance).  a
 * commits; b's relock then finds a's commit and b's vote reports the
 * conflict with it. */
static void deadlock(struct neo_client *a)
{
	struct neo_client *b = NULL;
	struct neo_txn *older, *younger;
	struct voter old_vote = { 0 }, young_vote = { 0 };
	pthread_t old_thread, young_thread;
	uint64_t oid, base, tid = 0;
	int rc = -1;

	if (cluster_client(&tc, NULL, &b, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "second client: %s", neo_client_errmsg());
		return;
	}
	neo_client_new_oids(a, 1, &oid);
	base = commit_meta(a, oid, 0, "base", "", "");
	neo_client_sync(b);
	neo_client_begin(a, 0, &older);
	neo_client_begin(b, 0, &younger);
	neo_txn_store(younger, oid, base, "younger", 7);
	usleep(200000);
	neo_txn_store(older, oid, base, "older", 5);
	old_vote.txn = older;
	pthread_create(&old_thread, NULL, vote_thread, &old_vote);
	usleep(300000);
	young_vote.txn = younger;
	pthread_create(&young_thread, NULL, vote_thread, &young_vote);
	pthread_join(old_thread, NULL);
	if (old_vote.rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(older, &tid);
	else
		neo_txn_abort(older);
	pthread_join(young_thread, NULL);
	tap_ok(old_vote.rc == NEO_CLIENT_OK && rc == NEO_CLIENT_OK,
	       "the older transaction gets the lock from the younger and commits (%d, %d)",
	       old_vote.rc, rc);
	tap_ok(young_vote.rc == NEO_CLIENT_CONFLICT && young_vote.count == 1 &&
	       young_vote.conflicts[0].committed_serial == tid &&
	       young_vote.conflicts[0].base_serial == base && young_vote.conflicts[0].size == 7 &&
	       memcmp(young_vote.conflicts[0].data, "younger", 7) == 0,
	       "the younger's relock reports the conflict with it, with its data (%d)",
	       young_vote.rc);
	if (young_vote.rc == NEO_CLIENT_CONFLICT && young_vote.count == 1) {
		/* resolved: store again on the committed serial */
		neo_txn_store(younger, oid, tid, "resolved", 8);
		neo_client_conflicts_free(young_vote.conflicts, young_vote.count);
		young_vote.conflicts = NULL;
		young_vote.count = 0;
		vote_thread(&young_vote);
		rc = young_vote.rc == NEO_CLIENT_OK ? neo_txn_finish(younger, &tid) : young_vote.rc;
		neo_client_sync(a);
		tap_ok(rc == NEO_CLIENT_OK && load_is(a, oid, "resolved"),
		       "after resolution the younger commits too (%d)", rc);
		if (rc != NEO_CLIENT_OK)
			neo_txn_abort(younger);
	} else {
		neo_client_conflicts_free(young_vote.conflicts, young_vote.count);
		if (young_vote.rc == NEO_CLIENT_OK)
			neo_txn_finish(younger, NULL);
		else
			neo_txn_abort(younger);
	}
	neo_client_close(b);
}

/* The classic deadlock: a locks X, b locks Y, then each stores the
 * other's object.  Without deadlock avoidance both votes would wait
 * forever; with it, a (older) commits and b gets both conflicts. */
static void crossed_deadlock(struct neo_client *a)
{
	struct neo_client *b = NULL;
	struct neo_txn *older, *younger;
	struct voter old_vote = { 0 }, young_vote = { 0 };
	pthread_t old_thread, young_thread;
	uint64_t oids[2], base_x, base_y, tid = 0;
	int rc = -1;

	if (cluster_client(&tc, NULL, &b, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "second client: %s", neo_client_errmsg());
		return;
	}
	neo_client_new_oids(a, 2, oids);
	base_x = commit_meta(a, oids[0], 0, "x", "", "");
	base_y = commit_meta(a, oids[1], 0, "y", "", "");
	neo_client_sync(b);
	neo_client_begin(a, 0, &older);
	neo_client_begin(b, 0, &younger);
	neo_txn_store(older, oids[0], base_x, "a-x", 3);
	neo_txn_store(younger, oids[1], base_y, "b-y", 3);
	usleep(200000);
	neo_txn_store(older, oids[1], base_y, "a-y", 3);
	neo_txn_store(younger, oids[0], base_x, "b-x", 3);
	old_vote.txn = older;
	young_vote.txn = younger;
	pthread_create(&old_thread, NULL, vote_thread, &old_vote);
	pthread_create(&young_thread, NULL, vote_thread, &young_vote);
	pthread_join(old_thread, NULL);
	if (old_vote.rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(older, &tid);
	else
		neo_txn_abort(older);
	pthread_join(young_thread, NULL);
	tap_ok(old_vote.rc == NEO_CLIENT_OK && rc == NEO_CLIENT_OK,
	       "crossed stores: the older transaction commits (%d, %d)", old_vote.rc, rc);
	tap_ok(young_vote.rc == NEO_CLIENT_CONFLICT && young_vote.count == 2 &&
	       young_vote.conflicts[0].committed_serial == tid &&
	       young_vote.conflicts[1].committed_serial == tid,
	       "crossed stores: the younger gets both conflicts (%d, %zu)", young_vote.rc,
	       young_vote.count);
	neo_client_conflicts_free(young_vote.conflicts, young_vote.count);
	if (young_vote.rc == NEO_CLIENT_OK)
		neo_txn_finish(younger, NULL);
	else
		neo_txn_abort(younger);
	neo_client_close(b);
}

/* --- Restart ------------------------------------------------------------------------------- */

struct seen {
	int calls, everything;
};

static void on_invalidate(void *arg, uint64_t tid, const uint64_t *oids, size_t count)
{
	struct seen *seen = arg;

	(void)tid;
	seen->calls++;
	seen->everything += oids == NULL && count == 0;
}

static void restart(void)
{
	struct neo_client *client = NULL, *other = NULL;
	struct neo_client_config config = { .struct_size = sizeof config };
	struct neo_client_record record;
	struct seen seen = { 0 };
	char masters[256];
	uint64_t oid, tid, last;
	int rc = -1;

	config.cluster = tc.name;
	config.masters = cluster_masters(&tc, masters, sizeof masters);
	config.connect_timeout_ms = 3000;	/* calls wait that long for the cluster */
	config.on_invalidate = on_invalidate;
	config.invalidate_arg = &seen;
	if (neo_client_open(&config, &client) != NEO_CLIENT_OK) {
		tap_ok(false, "client before the restart: %s", neo_client_errmsg());
		return;
	}
	neo_client_new_oids(client, 1, &oid);
	tid = commit_meta(client, oid, 0, "before", "", "");
	neo_client_load(client, oid, &record);
	neo_client_record_clear(&record);
	cluster_stop(&tc);
	rc = neo_client_new_oids(client, 1, &last);
	tap_ok(rc == NEO_CLIENT_DISCONNECTED, "with the cluster down, calls fail (%d: %s)", rc,
	       neo_client_errmsg());
	cluster_start(&tc);
	for (int i = 0; i < 100 && (rc = neo_client_sync(client)) != NEO_CLIENT_OK; i++)
		usleep(200000);
	tap_ok(rc == NEO_CLIENT_OK, "the same client reconnects by itself (%s)", neo_client_errmsg());
	tap_ok(load_is(client, oid, "before"), "and loads");
	tap_ok(seen.everything == 0, "nothing committed meanwhile: no invalidation");
	if (cluster_client(&tc, NULL, &other, NULL, NULL) == NEO_CLIENT_OK) {
		commit_meta(other, oid, tid, "meanwhile", "", "");
		neo_client_close(other);
	}
	tid = commit_meta(client, oid, tid, "after", "", "");
	tap_ok(tid == 0, "a stale write after a restart conflicts");
	neo_client_sync(client);
	tap_ok(load_is(client, oid, "meanwhile"), "the other client's commit is seen");
	neo_client_last_tid(client, &last);
	tap_ok(commit_meta(client, oid, last, "after", "", "") != 0, "and commits go on");
	neo_client_close(client);
}

/* --- Masters lost ----------------------------------------------------------------------- */

static void failover(void)
{
	struct test_cluster two;
	struct neo_client *client = NULL;
	uint64_t oid, tid, after = 0;
	int rc = -1;

	cluster_init(&two, "failover", 4, 0, 1, 2);
	cluster_start(&two);
	if (cluster_client(&two, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client of two masters: %s", neo_client_errmsg());
		cluster_stop(&two);
		return;
	}
	neo_client_new_oids(client, 1, &oid);
	tid = commit_meta(client, oid, 0, "before", "", "");
	cluster_kill(&two.masters[0], SIGKILL);
	for (int i = 0; i < 100 && (rc = neo_client_sync(client)) != NEO_CLIENT_OK; i++)
		usleep(200000);
	tap_ok(rc == NEO_CLIENT_OK, "an open client fails over to the spare master (%s)",
	       neo_client_errmsg());
	for (int i = 0; i < 20 && after == 0; i++)
		if ((after = commit_meta(client, oid, tid, "after", "", "")) == 0)
			usleep(200000);
	tap_ok(after > tid && load_is(client, oid, "after"), "and commits there");
	neo_client_close(client);
	cluster_stop(&two);
}

struct finisher {
	struct neo_txn *txn;
	int rc;
};

static void *finish_thread(void *arg)
{
	struct finisher *f = arg;

	f->rc = neo_txn_finish(f->txn, NULL);
	return NULL;
}

/* The master stops, then dies, while a finish is on its way to it. */
static void finish_lost(void)
{
	struct test_cluster one;
	struct neo_client *client = NULL;
	struct neo_client_conflict *conflicts = NULL;
	struct finisher f = { 0 };
	pthread_t thread;
	uint64_t oid, tid;
	size_t count = 0;

	cluster_init(&one, "finish", 4, 0, 1, 1);
	cluster_start(&one);
	if (cluster_client(&one, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client: %s", neo_client_errmsg());
		cluster_stop(&one);
		return;
	}
	neo_client_new_oids(client, 1, &oid);
	tid = commit_meta(client, oid, 0, "before", "", "");
	neo_client_begin(client, 0, &f.txn);
	neo_txn_store(f.txn, oid, tid, "lost", 4);
	if (neo_txn_vote(f.txn, "", 0, "", 0, "", 0, &conflicts, &count) != NEO_CLIENT_OK) {
		tap_ok(false, "vote: %s", neo_client_errmsg());
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(f.txn);
	} else {
		kill(one.masters[0], SIGSTOP);
		pthread_create(&thread, NULL, finish_thread, &f);
		usleep(300000);
		cluster_kill(&one.masters[0], SIGKILL);
		usleep(300000);
		cluster_start_master(&one, 0);
		pthread_join(thread, NULL);
		tap_ok(f.rc == NEO_CLIENT_DISCONNECTED,
		       "a finish cut by the master's death waits for the next one: not committed (%d)",
		       f.rc);
		if (f.rc != NEO_CLIENT_OK)
			neo_txn_abort(f.txn);
		neo_client_sync(client);
		tap_ok(load_is(client, oid, "before") && commit_meta(client, oid, tid, "next", "", ""),
		       "the object is as before, and commits go on");
	}
	neo_client_close(client);
	cluster_stop(&one);
}

int main(void)
{
	struct neo_client *client = NULL;

	cluster_init(&tc, "client", 4, 1, 2, 1);
	cluster_start(&tc);
	if (cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
		cluster_stop(&tc);
		return tap_done();
	}
	reads(client);
	writes(client);
	volume();
	threads(client);
	caches(client);
	deadlock(client);
	crossed_deadlock(client);
	neo_client_close(client);
	restart();
	cluster_stop(&tc);
	failover();
	finish_lost();
	return tap_done();
}
