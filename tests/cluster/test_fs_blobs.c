/*
 * test_fs_blobs.c - a FileStorage's blobs on a real cluster: DIR/Data.fs
 * and its blob directory DIR/blobs, made with ZODB by tests/lib/blob_make.py,
 * with the list of every blob revision as ZODB reads it (DIR/list.txt).
 *
 * test_fs_blobs DIR migrate (test_blob_migrate.sh), neomigrate:
 *   - without --blob-dir, neomigrate refuses a FileStorage with blobs;
 *   - with it, FileStorage -> NEO: every blob revision (current and past,
 *     the undone change included) reads from the cluster with ZODB's
 *     bytes (libneoclient's neo_client_load_blob_fd, SHA-1 checked), and
 *     no chunk took an oid of the FileStorage's;
 *   - NEO -> FileStorage: refused without --blob-dir; with it, into
 *     DIR/out.fs and DIR/out.blobs, which test_blob_migrate.sh opens with
 *     ZODB (tests/lib/blob_check.py).
 *
 * test_fs_blobs DIR importer (test_importer_blobs.sh), the Importer
 * backend over sqlite.so, its importer.conf naming the blob directory as
 * ZODB's ZConfig does (<blobstorage> around <filestorage>), the import
 * slowed down (NEO_IMPORTER_THROTTLE_MS):
 *   - during the import, every blob revision reads with ZODB's bytes;
 *   - kill -9 of the storage in the middle; restarted without the blob
 *     directory, it is refused; with it, the import resumes
 *     and ends, every blob revision reads the same; no chunk oid is an
 *     oid of the FileStorage's, new oids come after every chunk's;
 *   - switched to sqlite.so on the destination: the same;
 *   - writeback=true with a blob directory is refused with a message,
 *     and so is a <blobstorage> without blob-dir; with writeback=true and
 *     no blob directory, a blob committed on NEO stops the writeback
 *     with a message (the blob would be lost in the Data.fs).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cluster_util.h"
#include "tap.h"

#define MAX_BLOBS 256

struct blob_rev {
	uint64_t oid, tid, size;
	char sha1[41];
};

static struct blob_rev revs[MAX_BLOBS];
static size_t nrevs;
static uint64_t max_fs_oid;
static long fs_records;
static struct test_cluster tc;

static bool read_list(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f)) {
		struct blob_rev *r = &revs[nrevs];

		if (nrevs < MAX_BLOBS &&
		    sscanf(line, "blob %" SCNx64 " %" SCNx64 " %" SCNu64 " %40s", &r->oid, &r->tid,
			   &r->size, r->sha1) == 4)
			nrevs++;
		else if (sscanf(line, "maxoid %" SCNx64, &max_fs_oid) != 1)
			sscanf(line, "records %ld", &fs_records);
	}
	fclose(f);
	return true;
}

/* The SHA-1 of what fd holds, in hex. */
static bool file_sha1(FILE *f, char out[41], uint64_t *size)
{
	static uint8_t buf[1 << 16];
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n;

	*size = 0;
	rewind(f);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return false;
	}
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		EVP_DigestUpdate(ctx, buf, n);
		*size += n;
	}
	EVP_DigestFinal_ex(ctx, digest, &len);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return !ferror(f);
}

/* Every blob revision of the list reads with ZODB's bytes. */
static void check_blobs(struct neo_client *client, const char *when)
{
	size_t good = 0;

	for (size_t i = 0; i < nrevs; i++) {
		FILE *f = tmpfile();
		char sha1[41] = "";
		uint64_t size = 0, loaded = 0;
		int rc = f ? neo_client_load_blob_fd(client, revs[i].oid, revs[i].tid, fileno(f),
						     &loaded) : -1;

		if (rc == NEO_CLIENT_OK && file_sha1(f, sha1, &size) && size == revs[i].size &&
		    loaded == size && strcmp(sha1, revs[i].sha1) == 0)
			good++;
		else
			tap_diag("blob %016" PRIx64 " at %016" PRIx64 ": rc %d (%s), %" PRIu64
				 " bytes, sha1 %s, want %" PRIu64 " %s", revs[i].oid, revs[i].tid, rc,
				 rc ? neo_client_errmsg() : "", size, sha1, revs[i].size,
				 revs[i].sha1);
		if (f)
			fclose(f);
	}
	tap_ok(good == nrevs, "%s: the %zu blob revisions read with ZODB's bytes", when, nrevs);
}

/* The chunks of every blob revision have oids above the FileStorage's,
 * and new oids come after them all. */
static void check_chunk_oids(struct neo_client *client)
{
	uint64_t lowest = UINT64_MAX, highest = 0, *oids, fresh = 0;
	size_t chunks = 0;

	for (size_t i = 0; i < nrevs; i++) {
		struct neo_client_record rec = { 0 };
		size_t count = 0;

		if (neo_client_load_serial(client, revs[i].oid, revs[i].tid, &rec) != NEO_CLIENT_OK)
			continue;
		if (neo_client_blob_chunk_oids(rec.data, rec.size, &oids, &count) ==
		    NEO_CLIENT_OK) {
			for (size_t j = 0; j < count; j++) {
				if (oids[j] < lowest)
					lowest = oids[j];
				if (oids[j] > highest)
					highest = oids[j];
			}
			chunks += count;
			neo_client_free(oids);
		}
		neo_client_record_clear(&rec);
	}
	neo_client_new_oids(client, 1, &fresh);
	tap_ok(chunks > 0 && lowest > max_fs_oid && fresh > highest,
	       "the %zu chunks take oids above the FileStorage's, new oids come after them "
	       "(chunks %016" PRIx64 "..%016" PRIx64 ", FileStorage's last %016" PRIx64 ", next "
	       "new oid %016" PRIx64 ")", chunks, lowest, highest, max_fs_oid, fresh);
}

static int run(const char *command)
{
	int status = system(command);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool file_has(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool found = false;

	while (f && !found && fgets(line, sizeof line, f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* --- The Importer ------------------------------------------------------------------ */

/* What the cluster answers about the blob revisions and their chunks:
 * each record's data (SHA-1) and next serial, one line each, in *out
 * (malloc'ed); *chunk_revs gets how many chunk revisions it saw. */
static void hash_hex(const uint8_t *data, size_t size, char out[41])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	EVP_Digest(data, size, digest, &len, EVP_sha1(), NULL);
	for (unsigned i = 0; i < len && i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static void add_line(char **out, size_t *used, struct neo_client *client, uint64_t oid,
		     uint64_t tid, long *seen)
{
	struct neo_client_record rec = { 0 };
	int rc = neo_client_load_serial(client, oid, tid, &rec);
	char sha1[41] = "-", line[160];
	int n;

	if (rc == NEO_CLIENT_OK)
		hash_hex(rec.data, rec.size, sha1);
	n = snprintf(line, sizeof line, "%016" PRIx64 " %016" PRIx64 " %d %s %016" PRIx64 "\n",
		     oid, tid, rc, sha1, rec.next_serial);
	*out = realloc(*out, *used + (size_t)n + 1);
	memcpy(*out + *used, line, (size_t)n + 1);
	*used += (size_t)n;
	if (seen)
		*seen += rec.next_serial ? 2 : 1;	/* its creation, its deletion */
	neo_client_record_clear(&rec);
}

static void add_text(char **out, size_t *used, const char *text)
{
	size_t n = strlen(text);

	*out = realloc(*out, *used + n + 1);
	memcpy(*out + *used, text, n + 1);
	*used += n;
}

/* The oids transaction tid lists (chunks included), and oid's history. */
static void add_txn_and_history(char **out, size_t *used, struct neo_client *client,
				uint64_t tid, uint64_t oid)
{
	struct neo_client_txn_info info = { 0 };
	struct neo_client_history_entry *entries = NULL;
	size_t count = 0;
	char line[64];

	snprintf(line, sizeof line, "txn %016" PRIx64 ":", tid);
	add_text(out, used, line);
	if (neo_client_transaction_info(client, tid, &info) == NEO_CLIENT_OK)
		for (size_t i = 0; i < info.oid_count; i++) {
			snprintf(line, sizeof line, " %" PRIx64, info.oids[i]);
			add_text(out, used, line);
		}
	neo_client_txn_info_clear(&info);
	snprintf(line, sizeof line, "\nhistory %" PRIx64 ":", oid);
	add_text(out, used, line);
	if (neo_client_history(client, oid, 100, &entries, &count) == NEO_CLIENT_OK) {
		for (size_t i = 0; i < count; i++) {
			snprintf(line, sizeof line, " %016" PRIx64 "/%" PRIu64, entries[i].serial,
				 (uint64_t)entries[i].size);
			add_text(out, used, line);
		}
		neo_client_free(entries);
	}
	add_text(out, used, "\n");
}

static char *fingerprint(struct neo_client *client, long *chunk_revs)
{
	char *out = NULL;
	size_t used = 0;

	*chunk_revs = 0;
	for (size_t i = 0; i < nrevs; i++)
		add_txn_and_history(&out, &used, client, revs[i].tid, revs[i].oid);
	for (size_t i = 0; i < nrevs; i++) {
		struct neo_client_record rec = { 0 };
		uint64_t *oids = NULL;
		size_t count = 0;

		add_line(&out, &used, client, revs[i].oid, revs[i].tid, NULL);
		if (neo_client_load_serial(client, revs[i].oid, revs[i].tid, &rec) == NEO_CLIENT_OK)
			neo_client_blob_chunk_oids(rec.data, rec.size, &oids, &count);
		for (size_t j = 0; j < count; j++)
			add_line(&out, &used, client, oids[j], revs[i].tid, chunk_revs);
		neo_client_free(oids);
		neo_client_record_clear(&rec);
	}
	return out;
}

static long sql_number(const char *db, const char *query)
{
	char line[1024], out[64] = "";
	FILE *pipe;
	long value = -1;

	snprintf(line, sizeof line, "sqlite3 -readonly '%s' \"%s\" 2>/dev/null", db, query);
	pipe = popen(line, "r");
	if (pipe == NULL)
		return -1;
	if (fgets(out, sizeof out, pipe))
		value = strtol(out, NULL, 10);
	pclose(pipe);
	return value;
}

static void write_conf(const char *path, const char *dir, const char *dest, const char *storage)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	fprintf(f, "[neo]\nadapter = SQLite\ndatabase = %s\n%s\n[root]\nstorage =\n", dest,
		strcmp(storage, "writeback") == 0 ? "writeback = true\n" : "");
	if (strcmp(storage, "noblobdir") == 0)
		fprintf(f, "  <blobstorage>\n    <filestorage>\n      path %s/Data.fs\n"
			"    </filestorage>\n  </blobstorage>\n", dir);
	else if (strcmp(storage, "plain") == 0)
		fprintf(f, "  <filestorage>\n    path %s/Data.fs\n  </filestorage>\n", dir);
	else if (strcmp(storage, "writeback") == 0)
		fprintf(f, "  <filestorage>\n    path %s/Data.fs\n    blob-dir %s/blobs\n"
			"  </filestorage>\n", dir, dir);
	else
		fprintf(f, "  <blobstorage>\n    blob-dir %s/blobs\n    <filestorage>\n"
			"      path %s/Data.fs\n    </filestorage>\n  </blobstorage>\n", dir, dir);
	fclose(f);
}

static bool importing(void)
{
	return cluster_storage_log_count(&tc, "All data are imported") == 0;
}

/* A storage on a refused importer.conf exits with the message. */
static void refused(const char *dir, const char *kind, const char *message)
{
	char conf[512], dest[600];

	cluster_init(&tc, "blobimportbad", 3, 0, 1, 1);
	snprintf(dest, sizeof dest, "%s/dest.sqlite", tc.dir);
	cluster_storage_database(&tc, 0, conf, sizeof conf);
	write_conf(conf, dir, dest, kind);
	cluster_start(&tc);
	tap_ok(cluster_log_has(&tc, "storage0.log", message, 10000),
	       "importer.conf with %s is refused with a message", kind);
	cluster_stop(&tc);
}

static bool blob_is_file(struct neo_client *client, uint64_t oid, uint64_t tid,
			 const char *path);

static void python_reads(const char *dir, const char *when);

static void switch_over(const char *dest, uint64_t new_tid, const char *list,
			const char *dir)
{
	char db[512], from[700], to[700];
	struct neo_client *client = NULL;

	cluster_stop(&tc);
	cluster_storage_database(&tc, 0, db, sizeof db);
	unlink(db);	/* the importer.conf */
	rename(dest, db);
	for (int i = 0; i < 2; i++) {
		snprintf(from, sizeof from, "%s%s", dest, i ? "-wal" : "-shm");
		snprintf(to, sizeof to, "%s%s", db, i ? "-wal" : "-shm");
		rename(from, to);
	}
	setenv("NEO_TEST_ENGINE", "sqlite", 1);
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "switched to sqlite.so on the destination, the cluster runs"))
		return;
	check_blobs(client, "after the switch to the destination");
	python_reads(dir, "after the switch to the destination");
	tap_ok(blob_is_file(client, revs[nrevs - 1].oid, new_tid, list),
	       "and the blob committed during the import");
	neo_client_close(client);
}

/* A client replaces the FileStorage's last blob revision during the
 * import; returns the new revision's tid (0: failed), *chunks its chunk
 * count.  The blob is the bytes of list.txt's file, whatever they are. */
static uint64_t replace_fs_blob(struct neo_client *client, const char *dir, size_t *chunks)
{
	static const char pickle[] = "\x80\x03" "cZODB.blob\nBlob\nq\x00.\x80\x03N.";
	const struct blob_rev *last = &revs[nrevs - 1];
	struct neo_client_conflict *conflicts = NULL;
	struct neo_client_record rec = { 0 };
	struct neo_txn *txn;
	size_t count = 0;
	uint64_t tid = 0, *oids = NULL;
	char path[600];
	int rc;

	snprintf(path, sizeof path, "%s/list.txt", dir);
	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	rc = neo_txn_store_blob_path(txn, last->oid, last->tid, pickle, sizeof pickle - 1, path);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	if (rc != NEO_CLIENT_OK) {
		tap_diag("replacing oid %" PRIx64 ": %d %s", last->oid, rc, neo_client_errmsg());
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	*chunks = 0;
	if (neo_client_load_serial(client, last->oid, tid, &rec) == NEO_CLIENT_OK &&
	    neo_client_blob_chunk_oids(rec.data, rec.size, &oids, chunks) == NEO_CLIENT_OK)
		neo_client_free(oids);
	neo_client_record_clear(&rec);
	return tid;
}

/* Undoes transaction undone; returns the undo's tid (0: failed). */
static uint64_t undo(struct neo_client *client, uint64_t undone)
{
	struct neo_client_conflict *conflicts = NULL;
	struct neo_txn *txn;
	uint64_t *oids = NULL, tid = 0;
	size_t count = 0, nconflicts = 0;
	int rc;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	rc = neo_txn_undo(txn, undone, &oids, &count);
	neo_client_free(oids);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &nconflicts);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	if (rc != NEO_CLIENT_OK) {
		tap_diag("undo: %d %s", rc, neo_client_errmsg());
		neo_client_conflicts_free(conflicts, nconflicts);
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

/* Whether revision tid of oid's blob is ZODB's revision rev's. */
static bool blob_is_rev(struct neo_client *client, uint64_t tid, const struct blob_rev *rev)
{
	FILE *f = tmpfile();
	char sha1[41] = "";
	uint64_t size = 0;
	bool ok = f && neo_client_load_blob_fd(client, rev->oid, tid, fileno(f), NULL) ==
		       NEO_CLIENT_OK && file_sha1(f, sha1, &size);

	if (f)
		fclose(f);
	return ok && size == rev->size && strcmp(sha1, rev->sha1) == 0;
}

/* Whether revision tid of oid's blob is the file at path. */
static bool blob_is_file(struct neo_client *client, uint64_t oid, uint64_t tid, const char *path)
{
	FILE *got = tmpfile(), *want = fopen(path, "rb");
	char a[41] = "", b[41] = "";
	uint64_t asize = 0, bsize = 1;
	bool ok = got && want &&
		  neo_client_load_blob_fd(client, oid, tid, fileno(got), NULL) == NEO_CLIENT_OK &&
		  file_sha1(got, a, &asize) && file_sha1(want, b, &bsize);

	if (got)
		fclose(got);
	if (want)
		fclose(want);
	return ok && asize == bsize && strcmp(a, b) == 0;
}

/* neo.client (modules/python) reads the blobs too, when the test's
 * script gives the command (NEO_TEST_PY_BLOBS: it gets the masters, the
 * cluster's name and a fresh blob_dir). */
static void python_reads(const char *dir, const char *when)
{
	const char *command = getenv("NEO_TEST_PY_BLOBS");
	char masters[256], line[4096], cache[700];
	static int n;

	if (command == NULL || *command == '\0')
		return;
	snprintf(cache, sizeof cache, "%s/py-cache-%d", dir, n++);
	snprintf(line, sizeof line, "%s '%s' '%s' '%s' >'%s.out' 2>&1", command,
		 cluster_masters(&tc, masters, sizeof masters), tc.name, cache, cache);
	tap_ok(run(line) == 0, "%s: neo.client with a blob_dir reads every blob revision "
	       "(loadBlob, openCommittedBlobFile, Blob.open) with ZODB's bytes", when);
}

/* writeback=true without a blob-dir: a blob committed on NEO stops the
 * writeback with a message, and the cluster still serves it. */
static void writeback_stops_at_blob(const char *dir)
{
	static const char pickle[] = "\x80\x03" "cZODB.blob\nBlob\nq\x00.\x80\x03N.";
	struct neo_client_conflict *conflicts = NULL;
	struct neo_client *client = NULL;
	struct neo_txn *txn = NULL;
	char conf[512], command[2048], list[600];
	uint64_t oid = 0, tid = 0;
	size_t count = 0;
	FILE *f;
	int rc;

	cluster_init(&tc, "blobwriteback", 3, 0, 1, 1);
	snprintf(command, sizeof command, "cp '%s/Data.fs' '%s/wb.fs'", dir, tc.dir);
	run(command);
	cluster_storage_database(&tc, 0, conf, sizeof conf);
	f = fopen(conf, "w");
	if (f) {
		fprintf(f, "[neo]\nadapter = SQLite\ndatabase = %s/dest.sqlite\nwriteback = true\n\n"
			"[root]\nstorage =\n  <filestorage>\n    path %s/wb.fs\n  </filestorage>\n",
			tc.dir, tc.dir);
		fclose(f);
	}
	cluster_start(&tc);
	snprintf(list, sizeof list, "%s/list.txt", dir);
	rc = cluster_client(&tc, NULL, &client, NULL, NULL);
	if (rc == NEO_CLIENT_OK)
		rc = neo_client_new_oids(client, 1, &oid);
	if (rc == NEO_CLIENT_OK)
		rc = neo_client_begin(client, 0, &txn);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_store_blob_path(txn, oid, 0, pickle, sizeof pickle - 1, list);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	else if (txn)
		neo_txn_abort(txn);
	neo_client_conflicts_free(conflicts, count);
	tap_ok(rc == NEO_CLIENT_OK && cluster_log_has(&tc, "storage0.log",
						      "writeback cannot carry blobs", 10000) &&
	       blob_is_file(client, oid, tid, list),
	       "writeback=true without a blob-dir: a blob committed on NEO stops the writeback "
	       "with a message; the cluster serves it");
	if (client)
		neo_client_close(client);
	cluster_stop(&tc);
}

static int run_importer(const char *dir)
{
	struct neo_client *client = NULL;
	char conf[512], dest[600], list[600], *during = NULL, *after = NULL;
	long chunk_revs = 0;
	uint64_t new_tid, undo_tid;
	size_t new_chunks = 0, old_chunks = 0;

	setenv("NEO_TEST_ENGINE", "importer", 1);
	refused(dir, "writeback", "writeback=true with a blob-dir is not supported");
	refused(dir, "noblobdir", "<blobstorage> needs blob-dir");
	writeback_stops_at_blob(dir);
	setenv("NEO_IMPORTER_THROTTLE_MS", "700", 1);
	cluster_init(&tc, "blobimport", 3, 0, 1, 1);
	snprintf(dest, sizeof dest, "%s/dest.sqlite", tc.dir);
	cluster_storage_database(&tc, 0, conf, sizeof conf);
	write_conf(conf, dir, dest, "blobstorage");
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "a cluster on the Importer with the blob directory runs at once")) {
		cluster_stop(&tc);
		return tap_done();
	}
	check_blobs(client, "during the import");
	python_reads(dir, "during the import");
	snprintf(list, sizeof list, "%s/list.txt", dir);
	new_tid = replace_fs_blob(client, dir, &new_chunks);
	tap_ok(new_tid && new_chunks == 1 && blob_is_file(client, revs[nrevs - 1].oid, new_tid,
							   list),
	       "a client replaces a blob of the FileStorage during the import, and reads it");
	{
		struct neo_client_record rec = { 0 };
		uint64_t *oids = NULL;

		if (neo_client_load_serial(client, revs[nrevs - 1].oid, revs[nrevs - 1].tid,
					   &rec) == NEO_CLIENT_OK &&
		    neo_client_blob_chunk_oids(rec.data, rec.size, &oids, &old_chunks) ==
		    NEO_CLIENT_OK)
			neo_client_free(oids);
		neo_client_record_clear(&rec);
	}
	undo_tid = new_tid ? undo(client, new_tid) : 0;
	tap_ok(undo_tid && blob_is_rev(client, undo_tid, &revs[nrevs - 1]) &&
	       blob_is_file(client, revs[nrevs - 1].oid, new_tid, list),
	       "undo of that commit during the import: the FileStorage's revision is back "
	       "(its chunks undeleted), the undone one still reads");
	during = fingerprint(client, &chunk_revs);
	tap_ok(importing(), "those reads were done during the import");
	check_chunk_oids(client);
	neo_client_close(client);
	client = NULL;
	cluster_kill(&tc.storages[0], SIGKILL);
	/* restarted without its blob-dir: refused, the import must go on as
	 * it began */
	write_conf(conf, dir, dest, "plain");
	cluster_start_storage(&tc, 0);
	tap_ok(cluster_log_has(&tc, "storage0.log", "the import began with a blob-dir", 10000),
	       "restarted without the blob-dir mid-import: refused with a message");
	cluster_kill(&tc.storages[0], SIGKILL);
	write_conf(conf, dir, dest, "blobstorage");
	cluster_start_storage(&tc, 0);
	for (int waited = 0; waited < 20000 &&
	     cluster_storage_log_count(&tc, "already imported") < 2; waited += 100)
		usleep(100000);
	tap_ok(cluster_storage_log_count(&tc, "already imported") == 2,
	       "kill -9 of the storage mid-import, restarted: it resumes");
	unsetenv("NEO_IMPORTER_THROTTLE_MS");
	tap_ok(cluster_log_has(&tc, "storage0.log", "All data are imported", 60000),
	       "\"All data are imported\" is logged");
	if (tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		   "a client after the import")) {
		check_blobs(client, "after the import");
		tap_ok(blob_is_file(client, revs[nrevs - 1].oid, new_tid, list) &&
		       blob_is_rev(client, undo_tid, &revs[nrevs - 1]),
		       "after the import, the blob committed during it and its undo read the "
		       "same");
		after = fingerprint(client, &(long){ 0 });
		tap_ok(during && after && strcmp(during, after) == 0, "the blob records and "
		       "their chunks (data, next serials), their transactions' oids and the "
		       "objects' histories read during the import as after it");
		check_chunk_oids(client);
		neo_client_close(client);
	}
	/* the commit's rows: its object and new chunks (the deletions of the
	 * old ones are among chunk_revs) */
	/* and the undo's: its object, the new chunks' deletions, the old
	 * chunks' undeletions (as many as the new revision's deletions) */
	tap_ok(sql_number(dest, "SELECT COUNT(*) FROM obj") ==
	       fs_records + chunk_revs + 1 + (long)new_chunks + 1 + (long)new_chunks +
	       (long)old_chunks,
	       "the destination holds every record once, and every chunk revision once "
	       "(%ld rows: %ld records, %ld chunk revisions, %zu + 1 of the commit, %zu + %zu + "
	       "1 of the undo)", sql_number(dest, "SELECT COUNT(*) FROM obj"), fs_records,
	       chunk_revs, new_chunks, new_chunks, old_chunks);
	free(during);
	free(after);
	switch_over(dest, new_tid, list, dir);
	cluster_stop(&tc);
	return tap_done();
}

int main(int argc, char **argv)
{
	const char *builddir = getenv("abs_top_builddir");
	struct neo_client *client = NULL;
	char list[512], masters[256], command[4096], out[600];
	const char *dir;

	if (argc < 3) {
		fprintf(stderr, "usage: test_fs_blobs DIR migrate|importer (DIR with Data.fs, "
			"blobs/, list.txt)\n");
		return 2;
	}
	dir = argv[1];
	builddir = builddir ? builddir : ".";
	snprintf(list, sizeof list, "%s/list.txt", dir);
	read_list(list);
	if (!tap_ok(nrevs > 0 && max_fs_oid > 0, "ZODB's list of blob revisions read: %zu",
		    nrevs))
		return tap_done();
	if (strcmp(argv[2], "importer") == 0)
		return run_importer(dir);
	cluster_init(&tc, "blobmigrate", 3, 0, 1, 1);
	cluster_start(&tc);
	cluster_masters(&tc, masters, sizeof masters);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "an empty cluster runs")) {
		cluster_stop(&tc);
		return tap_done();
	}
	snprintf(out, sizeof out, "%s/noblobdir.out", dir);
	snprintf(command, sizeof command, "'%s/core/neomigrate' -c %s '%s/Data.fs' '%s' >'%s' 2>&1",
		 builddir, tc.name, dir, masters, out);
	tap_ok(run(command) != 0 && file_has(out, "give the FileStorage's blob directory"),
	       "FileStorage -> NEO without --blob-dir is refused with a message");
	snprintf(command, sizeof command, "'%s/core/neomigrate' -c %s -b '%s/blobs' '%s/Data.fs' "
		 "'%s' >'%s/fs2neo.out' 2>&1", builddir, tc.name, dir, dir, masters, dir);
	tap_ok(run(command) == 0, "neomigrate -b BLOB_DIR FileStorage -> NEO");
	snprintf(out, sizeof out, "%s/fs2neo.out", dir);
	tap_ok(file_has(out, "blob revisions copied"), "neomigrate tells how many blob revisions "
	       "it copied");
	neo_client_sync(client);
	check_blobs(client, "FileStorage -> NEO");
	check_chunk_oids(client);

	snprintf(out, sizeof out, "%s/noblobdir2.out", dir);
	snprintf(command, sizeof command, "'%s/core/neomigrate' -c %s '%s' '%s/refused.fs' >'%s' "
		 "2>&1", builddir, tc.name, masters, dir, out);
	tap_ok(run(command) != 0 && file_has(out, "--blob-dir"),
	       "NEO -> FileStorage without --blob-dir is refused with a message");
	snprintf(command, sizeof command, "'%s/core/neomigrate' -c %s --blob-dir '%s/out.blobs' "
		 "'%s' '%s/out.fs' >'%s/neo2fs.out' 2>&1", builddir, tc.name, dir, masters, dir,
		 dir);
	tap_ok(run(command) == 0, "neomigrate --blob-dir BLOB_DIR NEO -> FileStorage");
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
