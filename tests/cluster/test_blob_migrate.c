/*
 * test_blob_migrate.c - neomigrate with blobs on a real cluster, run by
 * test_blob_migrate.sh, which makes DIR/Data.fs and its blob directory
 * DIR/blobs with ZODB (tests/lib/blob_make.py) and the list of every blob
 * revision as ZODB reads it (DIR/list.txt): test_blob_migrate DIR.
 *
 *   - without --blob-dir, neomigrate refuses a FileStorage with blobs;
 *   - with it, FileStorage -> NEO: every blob revision (current and past,
 *     the undone change included) reads from the cluster with ZODB's
 *     bytes (libneoclient's neo_client_load_blob_fd, SHA-1 checked), and
 *     no chunk took an oid of the FileStorage's;
 *   - NEO -> FileStorage: refused without --blob-dir; with it, into
 *     DIR/out.fs and DIR/out.blobs, which test_blob_migrate.sh opens with
 *     ZODB (tests/lib/blob_check.py).
 */
#include <inttypes.h>
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
		else
			sscanf(line, "maxoid %" SCNx64, &max_fs_oid);
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

/* The chunks of every blob revision have oids above the FileStorage's. */
static void check_chunk_oids(struct neo_client *client)
{
	uint64_t lowest = UINT64_MAX, *oids, fresh = 0;
	size_t chunks = 0;

	for (size_t i = 0; i < nrevs; i++) {
		struct neo_client_record rec = { 0 };
		size_t count = 0;

		if (neo_client_load_serial(client, revs[i].oid, revs[i].tid, &rec) != NEO_CLIENT_OK)
			continue;
		if (neo_client_blob_chunk_oids(rec.data, rec.size, &oids, &count) ==
		    NEO_CLIENT_OK) {
			for (size_t j = 0; j < count; j++)
				if (oids[j] < lowest)
					lowest = oids[j];
			chunks += count;
			neo_client_free(oids);
		}
		neo_client_record_clear(&rec);
	}
	neo_client_new_oids(client, 1, &fresh);
	tap_ok(chunks > 0 && lowest > max_fs_oid && fresh > max_fs_oid,
	       "the %zu chunks take oids above the FileStorage's (lowest %016" PRIx64 ", "
	       "FileStorage's last %016" PRIx64 ", next new oid %016" PRIx64 ")", chunks, lowest,
	       max_fs_oid, fresh);
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

int main(int argc, char **argv)
{
	const char *builddir = getenv("abs_top_builddir");
	struct neo_client *client = NULL;
	char list[512], masters[256], command[4096], out[600];
	const char *dir;

	if (argc < 2) {
		fprintf(stderr, "usage: test_blob_migrate DIR (with Data.fs, blobs/, list.txt)\n");
		return 2;
	}
	dir = argv[1];
	builddir = builddir ? builddir : ".";
	snprintf(list, sizeof list, "%s/list.txt", dir);
	read_list(list);
	if (!tap_ok(nrevs > 0 && max_fs_oid > 0, "ZODB's list of blob revisions read: %zu",
		    nrevs))
		return tap_done();
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
