/*
 * test_backup_blobs - backup mode with blobs (core/client/blobs.md: blobs
 * are ordinary records, so a backup cluster carries them as any other):
 * a primary cluster P (2 storages) and a backup cluster B (1 storage)
 * whose master follows P (-C/-M/-B).
 *   - on P: blobs of 0 bytes, 1 byte, 1 MiB + 9 and 2 MiB + 7; the last
 *     one replaced (3 MiB), the replacement undone, then replaced again;
 *     the root refers to that one only;
 *   - B catches up, and a read-only client of B reads every blob
 *     revision, past ones and the undo's included, with P's bytes
 *     (neo_client_load_blob_path, SHA-1 checked by the library, compared
 *     with the bytes stored);
 *   - a pack with GC on P: B follows it; on B as on P, the reachable blob
 *     loads whole at its current revision and its replaced revisions'
 *     chunks are gone; the unreachable blobs, gone from P with their
 *     chunks, stay whole on B (a backup follows packs, not collections:
 *     core/cluster/cluster.md section 16).
 * A transaction that replaces a blob deletes its old chunks, often the
 * only change of their partitions: the master's InvalidatePartitions must
 * name the partitions of deleted oids (as upstream), or B never
 * replicates those deletions and its history differs from P's.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define MIB (1024 * 1024)

static struct test_cluster up, bk;

/* --- Contents: a stream of bytes from a seed --------------------------------------- */

static void fill(uint64_t *state, uint8_t *buffer, size_t size)
{
	for (size_t i = 0; i < size; i += 8) {
		uint64_t x = *state;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		memcpy(buffer + i, &x, size - i < 8 ? size - i : 8);
	}
}

static bool make_file(const char *path, uint64_t seed, uint64_t size)
{
	static uint8_t buffer[MIB];
	uint64_t state = seed * 2654435761u + 1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0;

	for (uint64_t done = 0; ok && done < size; done += sizeof buffer) {
		size_t n = size - done < sizeof buffer ? (size_t)(size - done) : sizeof buffer;

		fill(&state, buffer, n);
		ok = write(fd, buffer, n) == (ssize_t)n;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool file_holds(const char *path, uint64_t seed, uint64_t size)
{
	static uint8_t want[MIB], got[MIB];
	uint64_t state = seed * 2654435761u + 1, done = 0;
	int fd = open(path, O_RDONLY);
	bool ok = fd >= 0;

	while (ok && done < size) {
		size_t n = size - done < MIB ? (size_t)(size - done) : MIB;

		fill(&state, want, n);
		ok = read(fd, got, n) == (ssize_t)n && memcmp(want, got, n) == 0;
		done += n;
	}
	if (ok)
		ok = read(fd, got, 1) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* --- Commits ----------------------------------------------------------------------- */

/* the class pickle of ZODB.blob.Blob and its state, None */
static const char blob_pickle[] = "\x80\x03" "cZODB.blob\nBlob\nq\x01.\x80\x03N.";

static uint64_t finish(struct neo_txn *txn, int rc)
{
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t tid = 0;

	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	if (rc != NEO_CLIENT_OK) {
		tap_diag("commit: %d %s", rc, neo_client_errmsg());
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

static uint64_t commit_blob(struct neo_client *client, uint64_t oid, uint64_t serial,
			    uint64_t seed, uint64_t size)
{
	char path[512];
	struct neo_txn *txn;

	snprintf(path, sizeof path, "%s/in-%" PRIu64, up.dir, seed);
	if (!make_file(path, seed, size) || neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	return finish(txn, neo_txn_store_blob_path(txn, oid, serial, blob_pickle,
						   sizeof blob_pickle - 1, path));
}

static uint64_t undo(struct neo_client *client, uint64_t undone)
{
	struct neo_txn *txn;
	uint64_t *oids = NULL;
	size_t count = 0;
	int rc;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	rc = neo_txn_undo(txn, undone, &oids, &count);
	neo_client_free(oids);
	return finish(txn, rc);
}

/* oid 0: a PersistentMapping whose state refers to oid as a Blob ((oid,
 * class) persistent id, protocol 3), as ZODB writes it. */
static uint64_t commit_root(struct neo_client *client, uint64_t blob_oid)
{
	static const char class_pickle[] = "\x80\x03" "cpersistent.mapping\nPersistentMapping\n"
					   "q\x00.";
	static const char state_head[] = "\x80\x03}q\x01(X\x04\x00\x00\x00" "blobq\x02" "C\x08";
	static const char state_tail[] = "q\x03" "cZODB.blob\nBlob\nq\x04\x86q\x05Qu.";
	uint8_t record[256];
	size_t n = 0;
	struct neo_txn *txn;

	memcpy(record + n, class_pickle, sizeof class_pickle - 1);
	n += sizeof class_pickle - 1;
	memcpy(record + n, state_head, sizeof state_head - 1);
	n += sizeof state_head - 1;
	for (int i = 7; i >= 0; i--)
		record[n++] = (uint8_t)(blob_oid >> (8 * i));
	memcpy(record + n, state_tail, sizeof state_tail - 1);
	n += sizeof state_tail - 1;
	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	return finish(txn, neo_txn_store(txn, 0, 0, record, n));
}

/* --- Reads ------------------------------------------------------------------------- */

struct blob_rev {
	const char *what;
	uint64_t oid, tid, seed, size;
};

static bool blob_is(struct neo_client *client, const struct test_cluster *tc,
		    const struct blob_rev *r)
{
	char path[512];
	uint64_t got = UINT64_MAX;
	int rc;
	bool ok;

	snprintf(path, sizeof path, "%s/out.blob", tc->dir);
	rc = neo_client_load_blob_path(client, r->oid, r->tid, path, &got);
	ok = rc == NEO_CLIENT_OK && got == r->size && file_holds(path, r->seed, r->size);
	if (!ok)
		tap_diag("%s (oid %" PRIx64 " at %016" PRIx64 "): %d %s, %" PRIu64 " bytes", r->what,
			 r->oid, r->tid, rc, rc ? neo_client_errmsg() : "", got);
	unlink(path);
	return ok;
}

static size_t chunks_of(struct neo_client *client, uint64_t oid, uint64_t serial, uint64_t **oids)
{
	struct neo_client_record record;
	size_t count = 0;

	*oids = NULL;
	if (neo_client_load_serial(client, oid, serial, &record) == NEO_CLIENT_OK)
		neo_client_blob_chunk_oids(record.data, record.size, oids, &count);
	neo_client_record_clear(&record);
	return count;
}

/* Whether no revision of any of the oids loads at or before tid. */
static bool none_loads(struct neo_client *client, const uint64_t *oids, size_t count,
		       uint64_t tid)
{
	bool gone = true;

	for (size_t i = 0; i < count; i++) {
		struct neo_client_record record;
		int rc = neo_client_load_before(client, oids[i], tid + 1, &record);

		if (rc != NEO_CLIENT_NOT_FOUND && rc != NEO_CLIENT_NO_DATA) {
			tap_diag("oid %" PRIx64 " before %016" PRIx64 ": %d (serial %016" PRIx64
				 ") %s", oids[i], tid + 1, rc, record.serial,
				 rc ? neo_client_errmsg() : "loads");
			gone = false;
		}
		neo_client_record_clear(&record);
	}
	return gone;
}

/* --- Backup cluster ---------------------------------------------------------------- */

static uint64_t backup_tid(void)
{
	char out[2048];
	const char *at;

	if (cluster_neoctl(&bk, out, sizeof out, "print ids") != 0)
		return 0;
	at = strstr(out, "backup_tid = 0x");
	return at ? strtoull(at + 15, NULL, 16) : 0;
}

static bool caught_up(uint64_t tid, int ms)
{
	for (int waited = 0; waited < ms; waited += 100) {
		if (backup_tid() >= tid)
			return true;
		usleep(100000);
	}
	tap_diag("backup tid %016" PRIx64 ", wanted %016" PRIx64, backup_tid(), tid);
	return false;
}

int main(void)
{
	struct neo_client *pc = NULL, *bc = NULL;
	char masters[256], completed[80];
	const char *extra[] = { "-A", "1", "-C", "up", "-M", NULL, "-B", NULL };
	struct blob_rev revs[8];
	uint64_t oids[4], t[8], root_tid, pack_id = 0, *chunks = NULL;
	uint64_t old_chunks[16], lost[16];
	size_t nrevs = 0, old_count = 0, lost_count = 0, n;
	bool all = true;
	int rc;

	cluster_die_with_parent(true);
	cluster_init(&up, "up", 4, 0, 2, 1);
	cluster_init(&bk, "bk", 4, 0, 1, 1);
	up.autostart = 2;
	cluster_start(&up);
	extra[3] = up.name;
	extra[5] = cluster_masters(&up, masters, sizeof masters);
	cluster_start_master_noauto(&bk, 0, extra);
	usleep(200000);
	cluster_start_storage(&bk, 0);
	cluster_start_admin(&bk);
	if (!tap_ok(cluster_client(&up, NULL, &pc, NULL, NULL) == NEO_CLIENT_OK,
		    "primary cluster up")) {
		cluster_stop(&bk);
		cluster_stop(&up);
		return tap_done();
	}

	/* K, L, Z, S; K replaced, the replacement undone, K replaced again */
	neo_client_new_oids(pc, 4, oids);
	t[0] = commit_blob(pc, oids[0], 0, 1, 2 * MIB + 7);
	t[1] = commit_blob(pc, oids[1], 0, 2, MIB + 9);
	t[2] = commit_blob(pc, oids[2], 0, 3, 0);
	t[3] = commit_blob(pc, oids[3], 0, 4, 1);
	t[4] = commit_blob(pc, oids[0], t[0], 5, 3 * MIB);
	t[5] = undo(pc, t[4]);
	t[6] = commit_blob(pc, oids[0], t[5], 6, MIB);
	root_tid = commit_root(pc, oids[0]);
	revs[nrevs++] = (struct blob_rev){ "K v1", oids[0], t[0], 1, 2 * MIB + 7 };
	revs[nrevs++] = (struct blob_rev){ "L", oids[1], t[1], 2, MIB + 9 };
	revs[nrevs++] = (struct blob_rev){ "Z (0 bytes)", oids[2], t[2], 3, 0 };
	revs[nrevs++] = (struct blob_rev){ "S (1 byte)", oids[3], t[3], 4, 1 };
	revs[nrevs++] = (struct blob_rev){ "K v2", oids[0], t[4], 5, 3 * MIB };
	revs[nrevs++] = (struct blob_rev){ "K undo of v2", oids[0], t[5], 1, 2 * MIB + 7 };
	revs[nrevs++] = (struct blob_rev){ "K v3", oids[0], t[6], 6, MIB };
	for (int i = 0; i < 7; i++)
		all = all && t[i];
	tap_ok(all && root_tid, "on P: 4 blobs (0 B to 2 MiB), one replaced, the replacement "
	       "undone, replaced again; the root refers to it");
	all = true;
	for (size_t i = 0; i < nrevs; i++)
		all = blob_is(pc, &up, &revs[i]) && all;
	tap_ok(all, "P reads the %zu blob revisions", nrevs);

	tap_ok(cluster_neoctl_wait(&bk, "print cluster", "BACKINGUP", 20000) &&
	       caught_up(root_tid, 30000), "B is BACKINGUP and caught up with P");
	rc = cluster_client_ro(&bk, &bc);
	tap_ok(rc == NEO_CLIENT_OK, "a read-only client of B (%d)", rc);
	all = rc == NEO_CLIENT_OK;
	for (size_t i = 0; all && i < nrevs; i++)
		all = blob_is(bc, &bk, &revs[i]) && all;
	tap_ok(all, "B reads the %zu blob revisions (current, past, the undo's) with P's bytes",
	       nrevs);

	/* the chunks the pack must remove: K v1's and v2's, L's, Z's, S's */
	for (int i = 0; i < 2; i++) {
		n = chunks_of(pc, oids[0], i ? t[4] : t[0], &chunks);
		for (size_t j = 0; j < n && old_count < 16; j++)
			old_chunks[old_count++] = chunks[j];
		neo_client_free(chunks);
	}
	for (int i = 1; i < 4; i++) {
		lost[lost_count++] = oids[i];
		n = chunks_of(pc, oids[i], t[i], &chunks);
		for (size_t j = 0; j < n && lost_count < 16; j++)
			lost[lost_count++] = chunks[j];
		neo_client_free(chunks);
	}
	tap_ok(old_count == 6 && lost_count == 3 + 2 + 0 + 1,
	       "K's replaced revisions have %zu chunks, the unreachable blobs %zu", old_count,
	       lost_count - 3);

	tap_ok(none_loads(bc, old_chunks, old_count, root_tid),
	       "B has P's deletions of the chunks of K's replaced revisions (partitions "
	       "changed by deletions only are replicated too)");

	rc = neo_client_pack_gc(pc, root_tid, 1, true, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK, "pack with GC on P at the root's commit (%d %s)", rc,
	       rc ? neo_client_errmsg() : "");
	tap_ok(blob_is(pc, &up, &revs[6]), "P: after the pack with GC, the reachable blob loads "
	       "whole");
	tap_ok(none_loads(pc, old_chunks, old_count, root_tid),
	       "P: the %zu chunks of its replaced revisions are gone", old_count);
	tap_ok(none_loads(pc, lost, lost_count, root_tid),
	       "P: the 3 unreachable blobs and their %zu chunks are gone", lost_count - 3);
	snprintf(completed, sizeof completed, "packs completed up to %016" PRIx64, pack_id);
	tap_ok(cluster_log_has(&bk, "master0.log", completed, 30000),
	       "B follows the pack (%016" PRIx64 ")", pack_id);
	if (bc)
		neo_client_close(bc);
	bc = NULL;
	rc = cluster_client_ro(&bk, &bc);
	tap_ok(rc == NEO_CLIENT_OK && blob_is(bc, &bk, &revs[6]),
	       "B: after the pack, the reachable blob loads whole with P's bytes");
	tap_ok(bc && none_loads(bc, old_chunks, old_count, root_tid),
	       "B: the chunks of K's replaced revisions are gone, as on P");
	/* core/cluster/cluster.md section 16: a backup applies the pack of
	 * old revisions only, not the upstream cluster's collection */
	all = bc != NULL;
	for (size_t i = 1; all && i < 4; i++)
		all = blob_is(bc, &bk, &revs[i]);
	tap_ok(all, "B: the unreachable blobs stay, whole (a backup does not follow the "
	       "collection)");
	if (bc)
		neo_client_close(bc);
	neo_client_close(pc);
	cluster_stop(&bk);
	cluster_stop(&up);
	return tap_done();
}
