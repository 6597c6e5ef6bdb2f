/*
 * test_pack_progress.c - pack progress under neoctl print summary (ours:
 * the storages and the master report it to the admin through our master,
 * core/proto/protocol.md section 9) on a real cluster: 2 storages, 4
 * partitions, an admin.  About 1500 pickled records, a third reachable
 * from the root; the master's collection steps and the storages' pack
 * steps are slowed down by the test-only NEO_GC_THROTTLE_MS and
 * NEO_PACK_THROTTLE_MS (environment, inherited by the daemons; see
 * README, Pack) so that the pack is seen in progress:
 *
 *   - during the garbage collection: its phase, the partition where the
 *     phase goes by partition, counts, pace, time left;
 *   - during the storages' pack: the storage, its partition, partitions
 *     done of those to pack, oids, pace and time left;
 *   - the pack completes (wait_for_pack), the unreachable records are
 *     gone, and the summary no longer shows any pack; each storage
 *     logged its partitions packed;
 *   - neoctl -w redraws the summary with another pack's progress.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define HUBS 20
#define LEAVES 25		/* per hub, reachable */
#define LOST 1000		/* unreachable */
#define PER_TXN 100

static struct test_cluster tc;

struct record {
	uint8_t bytes[1024];
	size_t size;
};

static void put(struct record *r, const void *data, size_t size)
{
	memcpy(r->bytes + r->size, data, size);
	r->size += size;
}

/* persistent.mapping.PersistentMapping's class pickle, then a list of
 * persistent ids (plain oids). */
static void make_record(struct record *r, const uint64_t *refs, int count)
{
	static const char klass[] = "\x80\x03" "cpersistent.mapping\nPersistentMapping\nq\x00.";

	r->size = 0;
	put(r, klass, sizeof klass - 1);
	put(r, "\x80\x03]q\x01(", 6);
	for (int i = 0; i < count; i++) {
		uint8_t be[8];

		for (int k = 0; k < 8; k++)
			be[k] = (uint8_t)(refs[i] >> (56 - 8 * k));
		put(r, "C\x08", 2);
		put(r, be, 8);
		put(r, "Q", 1);
	}
	put(r, "e.", 2);
}

/* Stores count new objects (records[i] for oids[i]) in one transaction. */
static uint64_t store_many(struct neo_client *client, const uint64_t *oids,
			   const struct record *records, size_t count)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t conflict_count = 0;
	uint64_t tid = 0;
	int rc = neo_client_begin(client, 0, &txn);

	if (rc != NEO_CLIENT_OK)
		return 0;
	for (size_t i = 0; i < count && rc == NEO_CLIENT_OK; i++)
		rc = neo_txn_store(txn, oids[i], 0, records[i].bytes, records[i].size);
	if (rc != NEO_CLIENT_OK
	    || neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &conflict_count) != NEO_CLIENT_OK
	    || neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		tap_diag("store: %s", neo_client_errmsg());
		neo_client_conflicts_free(conflicts, conflict_count);
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

/* The graph: root -> HUBS hubs -> LEAVES leaves each; LOST alone. */
static uint64_t write_graph(struct neo_client *client, uint64_t *lost_oid)
{
	size_t total = 1 + HUBS + HUBS * LEAVES + LOST;
	uint64_t *oids = calloc(total, sizeof *oids);
	struct record *records = calloc(total, sizeof *records);
	uint64_t last = 0;

	if (oids == NULL || records == NULL
	    || neo_client_new_oids(client, total - 1, oids + 1) != NEO_CLIENT_OK)
		goto out;
	oids[0] = 0;
	make_record(&records[0], oids + 1, HUBS);
	for (size_t h = 0; h < HUBS; h++)
		make_record(&records[1 + h], oids + 1 + HUBS + h * LEAVES, LEAVES);
	for (size_t i = 1 + HUBS; i < total; i++)
		make_record(&records[i], NULL, 0);
	*lost_oid = oids[total - 1];
	/* leaves and lost ones first, the root last */
	for (size_t i = total; i > 0;) {
		size_t n = i > PER_TXN ? PER_TXN : i;
		uint64_t tid = store_many(client, oids + i - n, records + i - n, n);

		if (tid == 0) {
			last = 0;
			break;
		}
		last = tid > last ? tid : last;
		i -= n;
	}
out:
	free(oids);
	free(records);
	return last;
}

static bool loadable(struct neo_client *client, uint64_t oid)
{
	struct neo_client_record rec = { 0 };
	int rc = neo_client_load(client, oid, &rec);

	neo_client_record_clear(&rec);
	return rc == NEO_CLIENT_OK;
}

/* The lines under the summary seen while the pack runs (until none
 * starts with "pack " for 3 s once one did, or ms), each once. */
#define MAX_SEEN 400
static char *seen[MAX_SEEN];
static int seen_count;

static void watch_pack(int ms)
{
	char out[8192];
	bool started = false;
	int idle = 0;

	for (int waited = 0; waited <= ms; waited += 100) {
		bool packing = false;
		char *at = out;

		if (cluster_neoctl(&tc, out, sizeof out, "print summary") != 0)
			out[0] = '\0';
		while (at && *at) {
			char *end = strchr(at, '\n');
			int i;

			if (end)
				*end = '\0';
			packing |= strncmp(at, "pack ", 5) == 0;
			for (i = 0; i < seen_count && strcmp(seen[i], at); i++)
				;
			if (i == seen_count && seen_count < MAX_SEEN && strncmp(at, "pack ", 5) == 0)
				seen[seen_count++] = strdup(at);
			at = end ? end + 1 : NULL;
		}
		started |= packing;
		idle = packing ? 0 : idle + 1;
		if (started && idle >= 30)
			return;
		usleep(100000);
	}
}

/* A seen line holding every one of texts (NULL-terminated), or NULL. */
static const char *seen_with(const char *const *texts)
{
	for (int i = 0; i < seen_count; i++) {
		bool all = true;

		for (int k = 0; texts[k] && all; k++)
			all = strstr(seen[i], texts[k]) != NULL;
		if (all)
			return seen[i];
	}
	return NULL;
}

static void expect_seen(const char *const *texts, const char *what)
{
	const char *line = seen_with(texts);

	if (tap_ok(line != NULL, "%s", what)) {
		tap_diag("%s", line);
		return;
	}
	for (int i = 0; i < seen_count; i++)
		tap_diag("seen: %s", seen[i]);
}

int main(void)
{
	struct neo_client *client = NULL;
	uint64_t last, pack_id = 0, lost = 0;
	char out[8192] = "";
	bool gone = false;
	int rc;

	setenv("NEO_GC_THROTTLE_MS", "400", 1);
	setenv("NEO_PACK_THROTTLE_MS", "600", 1);
	cluster_init(&tc, "packprogress", 4, 0, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "client connects")) {
		cluster_stop(&tc);
		return tap_done();
	}
	last = write_graph(client, &lost);
	tap_ok(last != 0, "%d records written, %d reachable from the root",
	       1 + HUBS + HUBS * LEAVES + LOST, 1 + HUBS + HUBS * LEAVES);
	tap_ok(cluster_neoctl(&tc, out, sizeof out, "print summary") == 0
	       && strstr(out, "pack ") == NULL, "no pack in the summary before the pack");
	rc = neo_client_pack_gc(client, last, 1, false, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK && pack_id, "a pack with garbage collection is ordered");

	watch_pack(60000);
	{
		const char *gc[] = { "garbage collection (M", "/s, about ", " left", NULL };
		const char *mark[] = { "garbage collection (M", ": mark, ", " oids", NULL };
		const char *sweep[] = { "garbage collection (M", ": sweep, partition ",
					" of 4 partitions, ", " revisions removed", NULL };
		const char *pack[] = { " S", ": partition ", " of 2 partitions, ", " oids, ",
				       " oids/s, about ", " left", NULL };

		expect_seen(gc, "the summary showed the collection: phase, counts, pace, time left");
		expect_seen(mark, "its mark phase: oids read of those marked");
		expect_seen(sweep, "its sweep, partition by partition, with the revisions removed");
		expect_seen(pack, "then each storage's pack: its partition, partitions done, oids, "
			    "pace, time left");
	}
	rc = neo_client_wait_for_pack(client, pack_id);
	tap_ok(rc == NEO_CLIENT_OK, "the pack completes (wait for pack)");
	tap_ok(!loadable(client, lost) && loadable(client, 0), "unreachable records are gone");
	for (int waited = 0; waited <= 10000 && !gone; waited += 200) {
		gone = cluster_neoctl(&tc, out, sizeof out, "print summary") == 0
		       && strstr(out, "pack ") == NULL;
		if (!gone)
			usleep(200000);
	}
	if (!tap_ok(gone, "then the summary shows no pack"))
		tap_diag("%s", out);
	tap_ok(cluster_storage_log_count(&tc, " packed (") >= 2,
	       "each storage logged its partitions packed, with oids and pace");
	/* neoctl -w redraws the summary, progress included, while another
	 * pack runs */
	rc = neo_client_pack_gc(client, last, 1, false, &pack_id);
	cluster_neoctl(&tc, out, sizeof out, "-w 0.5 print summary & p=$!; sleep 3; "
		       "kill -INT $p; wait $p");
	if (!tap_ok(rc == NEO_CLIENT_OK && strstr(out, "Every 0.5s: neoctl")
		    && strstr(out, "\npack "),
		    "neoctl -w 0.5 print summary redraws the pack's progress"))
		tap_diag("%s", out);
	tap_ok(neo_client_wait_for_pack(client, pack_id) == NEO_CLIENT_OK,
	       "and that pack completes");
	for (int i = 0; i < seen_count; i++)
		free(seen[i]);
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
