/*
 * test_pack_gc.c - pack with garbage collection (core/cluster/cluster.md
 * section 14.2) through libneoclient on a real cluster: 2 storages, 4
 * partitions, one replica, so that references cross partitions and
 * storages and both copies are swept.  Records are ZODB pickles written
 * here (protocol 3: a class pickle, then a list of persistent ids):
 *
 *   - a pack without gc, on a cluster whose masters lack pack-gc, keeps
 *     unreachable objects (upstream's pack);
 *   - neo_client_pack_gc(gc 1): objects reachable from oid 0 through
 *     strong references stay (an (oid, class) tuple and a plain oid,
 *     across partitions); unreachable ones go, also one only weakly
 *     referenced (['w', (oid,)]) and a cycle; the transactions left empty
 *     go; neoctl check finds the replicas equal;
 *   - a record that is no pickle stops the collection of that pack (never
 *     guessed): the pack completes without it.
 *   - with a replica down, a synchronous pack with gc returns, having
 *     collected on the live storage; the replica, back, is swept too
 *     (neoctl check equal; alone, it lacks the unreachable object);
 *   - the master killed (-9) in the middle of a collection: the restarted
 *     master collects that order again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;

enum ref_form { STRONG_TUPLE, STRONG_OID };

struct record {
	uint8_t bytes[1024];
	size_t size;
};

static void put(struct record *r, const void *data, size_t size)
{
	memcpy(r->bytes + r->size, data, size);
	r->size += size;
}

static void put_oid(struct record *r, uint64_t oid)
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(oid >> (56 - 8 * i));
	put(r, "C\x08", 2);	/* SHORT_BINBYTES */
	put(r, be, 8);
}

/* persistent.mapping.PersistentMapping's class pickle, then a list of
 * persistent ids: refs in their forms, then ['w', (weak,)] unless weak
 * is 0. */
static void make_record(struct record *r, const uint64_t *refs, const enum ref_form *forms,
			int count, uint64_t weak)
{
	static const char klass[] = "\x80\x03" "cpersistent.mapping\nPersistentMapping\nq\x00.";

	r->size = 0;
	put(r, klass, sizeof klass - 1);
	put(r, "\x80\x03]q\x01(", 6);
	for (int i = 0; i < count; i++) {
		put_oid(r, refs[i]);
		if (forms[i] == STRONG_TUPLE)
			put(r, "h\x00\x86Q", 4);	/* (oid, class memoized) */
		else
			put(r, "Q", 1);
	}
	if (weak) {
		put(r, "]X\x01\x00\x00\x00wa", 8);	/* ['w', */
		put_oid(r, weak);
		put(r, "\x85" "aQ", 3);		/* (oid,)] */
	}
	put(r, "e.", 2);
}

static uint64_t store(struct neo_client *client, uint64_t oid, uint64_t serial,
		      const void *data, size_t size)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t tid = 0;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (neo_txn_store(txn, oid, serial, data, size) != NEO_CLIENT_OK ||
	    neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count) != NEO_CLIENT_OK ||
	    neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		tap_diag("store of %llu: %s", (unsigned long long)oid, neo_client_errmsg());
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

static bool loadable(struct neo_client *client, uint64_t oid)
{
	struct neo_client_record rec = { 0 };
	int rc = neo_client_load(client, oid, &rec);

	neo_client_record_clear(&rec);
	return rc == NEO_CLIENT_OK;
}

static bool replicas_equal(void)
{
	char out[4096];
	int before = cluster_storage_log_count(&tc, "replicas are equal");

	cluster_neoctl(&tc, out, sizeof out, "check :");
	for (int waited = 0; waited < 20000; waited += 100) {
		if (cluster_storage_log_count(&tc, "differs"))
			return false;
		if (cluster_storage_log_count(&tc, "replicas are equal") >= before + 4)
			return true;
		usleep(100000);
	}
	return false;
}

/* Every cell of both storages UP_TO_DATE (waits up to 30 s); a cell that
 * missed a collection is swept before (core/cluster/cluster.md 14.3). */
static bool all_up_to_date(void)
{
	char out[4096];

	for (int waited = 0; waited < 30000; waited += 200) {
		cluster_neoctl(&tc, out, sizeof out, "print pt");
		if (strstr(out, "S1 R UUUU") && strstr(out, "S2 R UUUU"))
			return true;
		usleep(200000);
	}
	tap_diag("%s", out);
	return false;
}

int main(void)
{
	struct neo_client *client = NULL;
	uint64_t oid[9], serial[9] = { 0 }, pack_id = 0, last = 0;
	struct record r;
	int rc;

	/* a pause after each page swept, so that the master can be killed in
	 * the middle of a collection (core/cluster/cluster.md section 14.3) */
	setenv("NEO_TEST_GC_PAGE_DELAY_MS", "150", 1);
	cluster_init(&tc, "packgc", 4, 1, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "client connects")) {
		cluster_stop(&tc);
		return tap_done();
	}
	/* oid 0 is the root; the others from the master (1..8) */
	oid[0] = 0;
	neo_client_new_oids(client, 8, oid + 1);
	/* kept: 0 -> 1 (tuple) -> 2 (plain oid), 0 -> 3; gone: 4 <-> 5 (a
	 * cycle pointing into the kept ones), 6 (weakly referenced by 0), 7
	 * (alone) */
	{
		const enum ref_form strong_oid[] = { STRONG_OID, STRONG_OID };
		const enum ref_form tuples[] = { STRONG_TUPLE, STRONG_TUPLE };
		const enum ref_form root_forms[] = { STRONG_TUPLE, STRONG_OID };
		uint64_t refs4[] = { oid[5], oid[1] }, root_refs[] = { oid[1], oid[3] };

		make_record(&r, &oid[2], strong_oid, 1, 0);
		serial[1] = store(client, oid[1], 0, r.bytes, r.size);
		make_record(&r, NULL, NULL, 0, 0);
		serial[2] = store(client, oid[2], 0, r.bytes, r.size);
		serial[3] = store(client, oid[3], 0, r.bytes, r.size);
		serial[6] = store(client, oid[6], 0, r.bytes, r.size);
		serial[7] = store(client, oid[7], 0, r.bytes, r.size);
		make_record(&r, refs4, tuples, 2, 0);
		serial[4] = store(client, oid[4], 0, r.bytes, r.size);
		make_record(&r, &oid[4], tuples, 1, 0);
		serial[5] = store(client, oid[5], 0, r.bytes, r.size);
		make_record(&r, root_refs, root_forms, 2, oid[6]);
		serial[0] = store(client, oid[0], 0, r.bytes, r.size);
	}
	for (int i = 0; i < 8; i++)
		if (serial[i] > last)
			last = serial[i];
	tap_ok(last != 0 && serial[0] && serial[1] && serial[4] && serial[5],
	       "a graph of pickled records written");

	rc = neo_client_pack_gc(client, last, -1, true, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK, "pack with the cluster's default (no pack-gc) (%d)", rc);
	tap_ok(loadable(client, oid[4]) && loadable(client, oid[7]),
	       "without pack-gc, unreachable objects stay (upstream's pack)");

	rc = neo_client_pack_gc(client, last, 1, true, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK, "pack with gc completes (%d: %s)", rc,
	       rc ? neo_client_errmsg() : "");
	tap_ok(loadable(client, oid[0]) && loadable(client, oid[1]) && loadable(client, oid[2]) &&
	       loadable(client, oid[3]),
	       "the root and what it references (tuple, plain oid, across partitions) stay");
	tap_ok(!loadable(client, oid[4]) && !loadable(client, oid[5]),
	       "an unreachable cycle pointing into the kept objects goes");
	tap_ok(!loadable(client, oid[6]), "an object only weakly referenced goes");
	tap_ok(!loadable(client, oid[7]), "an unreferenced object goes");
	tap_ok(cluster_log_count(&tc, "master0.log", "garbage collection done") == 1,
	       "the master logged the collection done");
	tap_ok(replicas_equal(), "neoctl check: the replicas are equal after the pack");

	/* a record that is no pickle, linked from the root: no guess */
	{
		const enum ref_form fr[] = { STRONG_TUPLE, STRONG_OID };
		uint64_t refs[] = { oid[1], oid[8] };
		uint64_t raw = store(client, oid[8], 0, "not a pickle", 12);

		make_record(&r, refs, fr, 2, 0);
		serial[0] = store(client, oid[0], serial[0], r.bytes, r.size);
		tap_ok(raw && serial[0], "a raw record linked from the root");
		rc = neo_client_pack_gc(client, serial[0], 1, true, &pack_id);
		tap_ok(rc == NEO_CLIENT_OK &&
		       cluster_log_count(&tc, "master0.log", "garbage collection abandoned") == 1,
		       "a record that is no pickle: the collection is abandoned, the pack completes");
		tap_ok(loadable(client, oid[8]), "the raw record stays");
	}

	/* a replica down: the pack collects on the live one and returns; the
	 * replica, back, is swept too (core/cluster/cluster.md section 14.3) */
	{
		const enum ref_form fr[] = { STRONG_TUPLE };
		uint64_t refs[] = { oid[1] }, lone, lone_serial;
		int done = cluster_log_count(&tc, "master0.log", "garbage collection done");

		make_record(&r, refs, fr, 1, 0);
		serial[0] = store(client, oid[0], serial[0], r.bytes, r.size);
		neo_client_new_oids(client, 1, &lone);
		make_record(&r, NULL, NULL, 0, 0);
		lone_serial = store(client, lone, 0, r.bytes, r.size);
		cluster_kill(&tc.storages[1], SIGKILL);
		alarm(50);	/* a pack that would wait for the dead replica */
		rc = neo_client_pack_gc(client, lone_serial, 1, true, &pack_id);
		alarm(0);
		tap_ok(rc == NEO_CLIENT_OK && serial[0] && lone_serial &&
		       cluster_log_count(&tc, "master0.log", "garbage collection done") == done + 1,
		       "with a replica down, a synchronous pack with gc returns (%d)", rc);
		tap_ok(cluster_log_count(&tc, "master0.log", "garbage collection waits") == 0,
		       "the master did not wait for the dead replica");
		tap_ok(!loadable(client, lone) && loadable(client, oid[1]),
		       "the unreachable object is gone on the live storage, the reachable stays");
		cluster_start_storage(&tc, 1);
		/* its cells stay OUT_OF_DATE, replicated, until swept */
		tap_ok(all_up_to_date(), "the replica back: its cells up to date again");
		tap_ok(cluster_log_count(&tc, "master0.log", "missed its garbage collection") > 0 &&
		       cluster_log_count(&tc, "master0.log", "garbage collection done") >= done + 2,
		       "the master collected again for the cells that missed the collection");
		tap_ok(replicas_equal(), "neoctl check: the replicas are equal");
		/* the live storage stopped: reads come from the replica alone */
		cluster_kill(&tc.storages[0], SIGTERM);
		usleep(500000);
		tap_ok(!loadable(client, lone) && loadable(client, oid[1]) &&
		       loadable(client, oid[0]),
		       "on the replica alone: the unreachable object is gone, the others load");
		cluster_start_storage(&tc, 0);
		tap_ok(all_up_to_date(), "both storages up to date again");
	}

	/* the master killed in the middle of a collection: the restarted one
	 * makes it again (core/cluster/cluster.md section 14.3) */
	{
		const enum ref_form fr[] = { STRONG_TUPLE };
		uint64_t refs[] = { oid[1] }, junk[3], last_junk = 0;
		int marked = cluster_log_count(&tc, "master0.log", "reachable oid(s) marked");
		struct neo_client *again = NULL;

		neo_client_new_oids(client, 3, junk);
		make_record(&r, NULL, NULL, 0, 0);
		for (int i = 0; i < 3; i++)
			last_junk = store(client, junk[i], 0, r.bytes, r.size);
		make_record(&r, refs, fr, 1, 0);
		serial[0] = store(client, oid[0], serial[0], r.bytes, r.size);
		rc = neo_client_pack_gc(client, serial[0], 1, false, &pack_id);
		tap_ok(rc == NEO_CLIENT_OK && last_junk && serial[0], "a pack with gc ordered");
		for (int waited = 0; waited < 30000 && cluster_log_count(&tc, "master0.log",
				"reachable oid(s) marked") <= marked; waited += 50)
			usleep(50000);
		usleep(300000);	/* a page or two swept (NEO_TEST_GC_PAGE_DELAY_MS) */
		tap_ok(cluster_log_count(&tc, "master0.log", "reachable oid(s) marked") > marked,
		       "the collection is sweeping");
		{
			int done = cluster_log_count(&tc, "master0.log", "garbage collection done");

			cluster_kill(&tc.masters[0], SIGKILL);
			tap_ok(cluster_log_count(&tc, "master0.log", "garbage collection done") ==
			       done, "the master killed before the end of the collection");
			cluster_start_master(&tc, 0);
			tap_ok(cluster_log_has(&tc, "master0.log", "is decided again", 30000),
			       "the restarted master finds the order's collection unfinished");
			for (int waited = 0; waited < 30000 && cluster_log_count(&tc, "master0.log",
					"garbage collection done") <= done; waited += 100)
				usleep(100000);
			tap_ok(cluster_log_count(&tc, "master0.log", "garbage collection done") > done,
			       "it collects the order's garbage");
		}
		rc = cluster_client(&tc, NULL, &again, NULL, NULL);
		if (rc == NEO_CLIENT_OK)
			rc = neo_client_wait_for_pack(again, pack_id);
		tap_ok(rc == NEO_CLIENT_OK && !loadable(again, junk[0]) && !loadable(again, junk[1]) &&
		       !loadable(again, junk[2]) && loadable(again, oid[0]) && loadable(again, oid[1]),
		       "the unreachable objects are gone, the reachable ones stay (%d)", rc);
		tap_ok(replicas_equal(), "neoctl check: the replicas are equal");
		if (again)
			neo_client_close(again);
	}
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
