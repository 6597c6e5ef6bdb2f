/*
 * neomigrate - copies a FileStorage into a NEO cluster, or a NEO cluster
 * into a FileStorage, with upstream's command line:
 *
 *   neomigrate -c CLUSTER [-q] [-l LOGFILE] [--ca --cert --key] SOURCE DESTINATION
 *
 * As upstream: FileStorage -> NEO when SOURCE is an existing file (then
 * DESTINATION is the masters' addresses), NEO -> FileStorage otherwise.
 * Unlike upstream's, undo records keep their back pointers both ways
 * (NEO stores them as undo revisions), every transaction keeps its tid,
 * user, description and extension, and a FileStorage destination that
 * already holds transactions gets only the later ones (an interrupted
 * copy goes on).  The FileStorage is read and written by core/filestorage,
 * the cluster through libneoclient.  A progress bar goes to stderr unless
 * -q.  The Importer backend (conf/importer.conf) is the better way in: its
 * database is usable at once.
 *
 * Blobs (not in upstream's): with --blob-dir, the FileStorage's blob
 * directory (ZODB's layout, core/filestorage/fs_blobdir.c) is read or
 * written beside it.
 * FileStorage -> NEO stores each revision that has a blob file with its
 * blob (chunks, core/client/blobs.md), an undo's included (ZODB keeps a
 * file per revision, so the undo is stored as a new revision with the
 * same bytes, not as a back pointer); the master's oids are first moved
 * past the FileStorage's, so that no chunk takes an oid the file uses
 * later.  NEO -> FileStorage writes each blob revision's file and leaves
 * chunks out.  Without --blob-dir a database with blobs is refused.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filestorage/blob_dir.h"
#include "filestorage/filestorage.h"
#include "neo/client.h"
#include "runtime/alloc.h"

#define MAX_TID 0x7fffffffffffffffull

struct migrate {
	const char *cluster, *source, *destination, *logfile, *ca, *cert, *key;
	const char *blob_path;		/* --blob-dir: the FileStorage's blob directory */
	struct blob_dir blobs;
	uint64_t blob_count, blob_missing;
	bool quiet;
	struct neo_client *client;
	struct fs_file *fs;
	double started, last_bar;
	uint8_t *buf;
	size_t bufcap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(struct migrate *m, uint64_t done, uint64_t total, uint64_t bytes, bool last)
{
	double t = now(), elapsed = t - m->started;
	int width = 30, filled = total ? (int)((double)done * width / (double)total) : width;

	if (m->quiet || (!last && t - m->last_bar < 0.2))
		return;
	m->last_bar = t;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %" PRIu64 "/%" PRIu64 " transactions, %.1f MB, "
		"%.1f MB/s", filled, "##############################", width - filled, "",
		total ? (int)(done * 100 / total) : 100, done, total, (double)bytes / 1e6,
		elapsed > 0 ? (double)bytes / 1e6 / elapsed : 0.0);
	if (last)
		fputc('\n', stderr);
}

static int open_client(struct migrate *m, const char *masters, bool read_only)
{
	struct neo_client_config config = { .struct_size = sizeof config };

	config.cluster = m->cluster;
	config.masters = masters;
	config.read_only = read_only;
	config.ca = m->ca;
	config.cert = m->cert;
	config.key = m->key;
	config.logfile = m->logfile;
	if (neo_client_open(&config, &m->client) != NEO_CLIENT_OK) {
		fprintf(stderr, "neomigrate: cannot connect to %s: %s\n", masters,
			neo_client_errmsg());
		return -1;
	}
	return 0;
}

static int grow(struct migrate *m, size_t need)
{
	return need <= m->bufcap ? 0 : neo_grow(&m->buf, &m->bufcap, need, 1);
}

/* --- FileStorage -> NEO ----------------------------------------------------- */

/* The serial of the revision before rec (0: rec creates the object). */
static int base_serial(struct migrate *m, const struct fs_record *rec, uint64_t *serial)
{
	struct fs_record prev;

	*serial = 0;
	if (rec->prev == 0)
		return 0;
	if (fs_read_record(m->fs, rec->prev, &prev) != FS_OK)
		return -1;
	*serial = prev.tid;
	return 0;
}

/* A revision of a ZODB blob: its record with the file ZODB keeps for it
 * (for an undo too: ZODB copies the blob to the undo's tid), stored as a
 * blob (core/client/blobs.md).  1: not a blob's, or its file is missing
 * (then, as ZODB's copyTransactionsFrom, the record alone); the data is
 * in m->buf then. */
static int store_blob_record(struct migrate *m, struct neo_txn *txn, const struct fs_record *rec,
			     const struct fs_resolved *r, uint64_t base)
{
	char path[4096];

	if (grow(m, (size_t)r->data_len + 1) != 0 ||
	    fs_pread(m->fs, r->data_pos, m->buf, (size_t)r->data_len) != FS_OK)
		return -1;
	if (!blob_record_may_be_blob(m->buf, (size_t)r->data_len))
		return 1;
	if (m->blob_path == NULL) {
		if (!blob_record_is_zodb_blob(m->buf, (size_t)r->data_len))
			return 1;
		fprintf(stderr, "\nneomigrate: oid %016" PRIx64 " at %016" PRIx64 " is a ZODB blob: "
			"give the FileStorage's blob directory with --blob-dir\n", rec->oid, rec->tid);
		return -1;
	}
	if (blob_dir_file(&m->blobs, rec->oid, rec->tid, path, sizeof path) != 0 ||
	    access(path, F_OK) != 0) {
		if (blob_record_is_zodb_blob(m->buf, (size_t)r->data_len))
			m->blob_missing++;
		return 1;
	}
	m->blob_count++;
	return neo_txn_store_blob_path(txn, rec->oid, base, m->buf, (size_t)r->data_len, path);
}

/* Chunk oids come from the master: first move its last oid past the
 * FileStorage's, so that no chunk takes an oid a later transaction of
 * the file uses (as ZODB's FileStorage, oids are handed out above). */
static int reserve_fs_oids(struct migrate *m)
{
	struct fs_iter it;
	struct fs_record rec;
	uint64_t max_oid = 0, got = 0, *oids;
	int rc;

	fs_iter_init(&it, m->fs, 0, 0);
	while ((rc = fs_iter_next_txn(&it)) == FS_OK)
		while ((rc = fs_iter_next_record(&it, &rec)) == FS_OK)
			if (rec.oid > max_oid)
				max_oid = rec.oid;
	fs_iter_free(&it);
	if (rc != FS_END)
		return -1;
	oids = neo_malloc(10000 * sizeof *oids);
	if (oids == NULL)
		return -1;
	/* one first: an interrupted copy going on finds the master past them */
	rc = neo_client_new_oids(m->client, 1, oids);
	if (rc == NEO_CLIENT_OK)
		got = oids[0];
	while (rc == NEO_CLIENT_OK && got < max_oid) {
		size_t count = max_oid - got < 10000 ? (size_t)(max_oid - got) : 10000;

		rc = neo_client_new_oids(m->client, count, oids);
		if (rc == NEO_CLIENT_OK)
			got = oids[count - 1];
	}
	neo_free(oids);
	if (rc != NEO_CLIENT_OK)
		fprintf(stderr, "neomigrate: new oids: %s\n", neo_client_errmsg());
	return rc == NEO_CLIENT_OK ? 0 : -1;
}

/* A deletion (an undone creation): a blob's chunks go with its object,
 * as neo.client's deleteObject does (core/client/blobs.md). */
static int delete_object(struct migrate *m, struct neo_txn *txn, uint64_t oid, uint64_t base)
{
	struct neo_client_record rec = { 0 };
	uint64_t *chunks = NULL;
	size_t count = 0;
	int rc = NEO_CLIENT_OK;

	if (m->blob_path && base &&
	    neo_client_load_serial(m->client, oid, base, &rec) == NEO_CLIENT_OK &&
	    neo_client_blob_chunk_oids(rec.data, rec.size, &chunks, &count) == NEO_CLIENT_OK) {
		for (size_t i = 0; rc == NEO_CLIENT_OK && i < count; i++)
			rc = neo_txn_delete(txn, chunks[i], base);
		neo_client_free(chunks);
	}
	neo_client_record_clear(&rec);
	return rc == NEO_CLIENT_OK ? neo_txn_delete(txn, oid, base) : rc;
}

static int store_record(struct migrate *m, struct neo_txn *txn, const struct fs_record *rec)
{
	struct fs_resolved r;
	uint64_t base;

	if (fs_record_resolve(m->fs, rec, &r) != FS_OK || base_serial(m, rec, &base) != 0)
		return -1;
	if (r.has_data) {
		int blob = store_blob_record(m, txn, rec, &r, base);

		if (blob != 1)
			return blob;
	}
	if (r.has_data_txn)
		return neo_txn_store_undo(txn, rec->oid, base, r.data_txn);
	if (!r.has_data)
		return delete_object(m, txn, rec->oid, base);
	/* store_blob_record read the data into m->buf */
	return neo_txn_store(txn, rec->oid, base, m->buf, (size_t)r.data_len);
}

static int copy_fs_txn(struct migrate *m, struct fs_iter *it)
{
	struct neo_client_conflict *conflicts = NULL;
	struct neo_txn *txn;
	struct fs_record rec;
	size_t nconflicts = 0;
	uint64_t tid = 0;
	int rc = neo_client_begin(m->client, it->txn.tid, &txn);

	if (rc != NEO_CLIENT_OK)
		return -1;
	while (rc == NEO_CLIENT_OK && (rc = fs_iter_next_record(it, &rec)) == FS_OK)
		rc = store_record(m, txn, &rec);
	if (rc == FS_END)
		rc = neo_txn_vote(txn, it->txn.user, it->txn.ulen, it->txn.description,
				  it->txn.dlen, it->txn.extension, it->txn.elen, &conflicts,
				  &nconflicts);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	neo_client_conflicts_free(conflicts, nconflicts);
	if (rc != NEO_CLIENT_OK) {
		fprintf(stderr, "\nneomigrate: transaction %016" PRIx64 ": %s%s\n", it->txn.tid,
			neo_client_errmsg(), m->fs->err);
		neo_txn_abort(txn);
		return -1;
	}
	if (tid != it->txn.tid) {
		fprintf(stderr, "\nneomigrate: transaction %016" PRIx64 " committed as %016" PRIx64
			"\n", it->txn.tid, tid);
		return -1;
	}
	return 0;
}

static void report_blobs(const struct migrate *m)
{
	if (m->quiet || m->blob_path == NULL)
		return;
	printf("%" PRIu64 " blob revisions copied\n", m->blob_count);
	if (m->blob_missing)
		printf("%" PRIu64 " blob records had no blob file in %s: copied without their "
		       "blob, as ZODB's copyTransactionsFrom\n", m->blob_missing, m->blob_path);
}

static int fs_to_neo(struct migrate *m)
{
	struct fs_iter it;
	uint64_t count = 0, total, last = 0;
	char err[512] = "";
	int rc;

	if (fs_open(m->source, false, false, &m->fs, err, sizeof err) != FS_OK) {
		fprintf(stderr, "neomigrate: %s\n", err);
		return 1;
	}
	if (fs_scan_end(m->fs) != FS_OK || open_client(m, m->destination, false) != 0)
		return 1;
	if (m->blob_path &&
	    (blob_dir_open(m->blob_path, &m->blobs, err, sizeof err) != 0 ||
	     reserve_fs_oids(m) != 0)) {
		fprintf(stderr, "neomigrate: %s\n", err[0] ? err : m->fs->err);
		return 1;
	}
	neo_client_last_tid(m->client, &last);
	total = 0;
	fs_iter_init(&it, m->fs, 0, 0);
	while (fs_iter_next_txn(&it) == FS_OK)
		total++;
	fs_iter_free(&it);
	fs_iter_init(&it, m->fs, 0, 0);
	while ((rc = fs_iter_next_txn(&it)) == FS_OK) {
		count++;
		/* an interrupted copy goes on after what the cluster has */
		if (it.txn.tid > last && copy_fs_txn(m, &it) != 0)
			break;
		progress(m, count, total, it.pos - FS_MAGIC_LEN, false);
	}
	fs_iter_free(&it);
	progress(m, count, total, m->fs->end - FS_MAGIC_LEN, true);
	report_blobs(m);
	return rc == FS_END ? 0 : 1;
}

/* --- NEO -> FileStorage ------------------------------------------------------- */

/* oid -> position of its last record in the destination, open addressing. */
struct oid_map {
	uint64_t *keys, *values;	/* key oid + 1, 0 for a free slot */
	size_t cap, count;
};

static uint64_t *oid_slot(struct oid_map *map, uint64_t oid)
{
	size_t i = (size_t)((oid * 0x9e3779b97f4a7c15ull) >> 20) & (map->cap - 1);

	while (map->keys[i] != 0 && map->keys[i] != oid + 1)
		i = (i + 1) & (map->cap - 1);
	return &map->keys[i];
}

static int oid_set(struct oid_map *map, uint64_t oid, uint64_t pos)
{
	uint64_t *key;

	if (2 * (map->count + 1) > map->cap) {
		struct oid_map bigger = { neo_calloc(map->cap ? 2 * map->cap : 1024, 8),
					  neo_calloc(map->cap ? 2 * map->cap : 1024, 8),
					  map->cap ? 2 * map->cap : 1024, 0 };

		if (bigger.keys == NULL || bigger.values == NULL)
			return -1;
		for (size_t i = 0; i < map->cap; i++)
			if (map->keys[i])
				oid_set(&bigger, map->keys[i] - 1, map->values[i]);
		neo_free(map->keys);
		neo_free(map->values);
		*map = bigger;
	}
	key = oid_slot(map, oid);
	if (*key == 0)
		map->count++;
	*key = oid + 1;
	map->values[key - map->keys] = pos;
	return 0;
}

static uint64_t oid_get(struct oid_map *map, uint64_t oid)
{
	uint64_t *key = map->cap ? oid_slot(map, oid) : NULL;

	return key && *key ? map->values[key - map->keys] : 0;
}

/* The position of the record (oid, tid) in the destination, by its prev
 * pointers from the oid's last one; 0 if none. */
static uint64_t record_at(struct migrate *m, struct oid_map *map, uint64_t oid, uint64_t tid)
{
	uint64_t pos = oid_get(map, oid);
	struct fs_record rec;

	while (pos && fs_read_record(m->fs, pos, &rec) == FS_OK && rec.tid > tid)
		pos = rec.prev;
	return pos && fs_read_record(m->fs, pos, &rec) == FS_OK && rec.tid == tid ? pos : 0;
}

struct neo_txn_copy {
	struct fs_new_record *recs;
	size_t count, cap;
	uint8_t *data;
	size_t datalen, datacap;
	size_t *offsets;
	size_t offcap;
};

/* Blob chunks (core/client/blobs.md) are not copied: their blob goes
 * with its object, into the blob directory.  So are the deletions of
 * chunks (a chunk's previous revision is one). */
static bool is_chunk_record(struct migrate *m, uint64_t oid, uint64_t tid, int rc,
			    const struct neo_client_record *rec)
{
	struct neo_client_record before = { 0 };
	bool chunk;

	if (rc == NEO_CLIENT_OK)
		return neo_client_record_is_blob_chunk(rec->data, rec->size);
	if (rc != NEO_CLIENT_NO_DATA)
		return false;
	chunk = neo_client_load_before(m->client, oid, tid, &before) == NEO_CLIENT_OK &&
		neo_client_record_is_blob_chunk(before.data, before.size);
	neo_client_record_clear(&before);
	return chunk;
}

/* The blob of revision tid of oid into the blob directory, where ZODB
 * looks for it (for an undo too: ZODB keeps a file per revision). */
static int write_blob_file(struct migrate *m, uint64_t oid, uint64_t tid)
{
	char path[4096], err[512];

	if (m->blob_path == NULL) {
		fprintf(stderr, "\nneomigrate: oid %016" PRIx64 " at %016" PRIx64 " is a blob: give "
			"the blob directory to write with --blob-dir\n", oid, tid);
		return -1;
	}
	if (blob_dir_make_parents(&m->blobs, oid, err, sizeof err) != 0 ||
	    blob_dir_file(&m->blobs, oid, tid, path, sizeof path) != 0) {
		fprintf(stderr, "\nneomigrate: %s\n", err);
		return -1;
	}
	if (neo_client_load_blob_path(m->client, oid, tid, path, NULL) != NEO_CLIENT_OK) {
		fprintf(stderr, "\nneomigrate: blob of oid %016" PRIx64 " at %016" PRIx64 ": %s\n",
			oid, tid, neo_client_errmsg());
		return -1;
	}
	chmod(path, 0400);	/* as ZODB's committed blobs */
	m->blob_count++;
	return 0;
}

static int add_neo_record(struct migrate *m, struct oid_map *map, struct neo_txn_copy *c,
			  uint64_t oid, uint64_t tid)
{
	struct neo_client_record rec = { 0 };
	struct fs_new_record *r;
	uint64_t data_serial = 0;
	int rc = neo_client_load_serial_ex(m->client, oid, tid, &rec, &data_serial);

	if (rc == NEO_CLIENT_NOT_FOUND || (rc == NEO_CLIENT_NO_DATA && rec.serial != tid) ||
	    is_chunk_record(m, oid, tid, rc, &rec)) {
		neo_client_record_clear(&rec);
		return 0;	/* as upstream: an oid only checked, not written */
	}
	if (rc == NEO_CLIENT_OK && neo_client_record_is_blob(rec.data, rec.size)) {
		if (write_blob_file(m, oid, tid) != 0) {
			neo_client_record_clear(&rec);
			return -1;
		}
		rec.size = neo_client_blob_data_size(rec.data, rec.size);
	}
	if ((rc != NEO_CLIENT_OK && rc != NEO_CLIENT_NO_DATA) ||
	    neo_grow(&c->recs, &c->cap, c->count + 1, sizeof(*c->recs)) != 0 ||
	    neo_grow(&c->offsets, &c->offcap, c->count + 1, sizeof(*c->offsets)) != 0 ||
	    neo_grow(&c->data, &c->datacap, c->datalen + rec.size + 1, 1) != 0) {
		fprintf(stderr, "\nneomigrate: oid %016" PRIx64 " at %016" PRIx64 ": %s\n", oid, tid,
			neo_client_errmsg());
		neo_client_record_clear(&rec);
		return -1;
	}
	r = &c->recs[c->count];
	memset(r, 0, sizeof(*r));
	r->oid = oid;
	r->prev = oid_get(map, oid);
	c->offsets[c->count] = c->datalen;
	if (data_serial) {
		r->back = record_at(m, map, oid, data_serial);
	} else if (rc == NEO_CLIENT_OK && rec.size > 0) {
		r->has_data = true;
		r->len = rec.size;
		memcpy(c->data + c->datalen, rec.data, rec.size);
		c->datalen += rec.size;
	}
	c->count++;
	neo_client_record_clear(&rec);
	return 0;
}

static int copy_neo_txn(struct migrate *m, struct oid_map *map, struct neo_txn_copy *c,
			uint64_t tid)
{
	struct neo_client_txn_info info = { 0 };
	uint64_t *pos = NULL;
	int rc = neo_client_transaction_info(m->client, tid, &info);

	c->count = 0;
	c->datalen = 0;
	for (size_t i = 0; rc == NEO_CLIENT_OK && i < info.oid_count; i++)
		if (add_neo_record(m, map, c, info.oids[i], tid) != 0)
			rc = -1;
	for (size_t i = 0; i < c->count; i++)
		if (c->recs[i].has_data)
			c->recs[i].data = c->data + c->offsets[i];
	pos = neo_malloc(sizeof(*pos) * (c->count + 1));
	if (rc == NEO_CLIENT_OK && pos != NULL)
		rc = fs_append_txn(m->fs, tid, info.packed ? 'p' : ' ', info.user, info.user_size,
				   info.description, info.description_size, info.extension,
				   info.extension_size, c->recs, c->count, pos) == FS_OK ? 0 : -2;
	for (size_t i = 0; rc == 0 && pos && i < c->count; i++)
		if (oid_set(map, c->recs[i].oid, pos[i]) != 0)
			rc = -1;
	if (rc != 0)
		fprintf(stderr, "\nneomigrate: transaction %016" PRIx64 ": %s\n", tid,
			rc == -2 ? m->fs->err : neo_client_errmsg());
	neo_free(pos);
	neo_client_txn_info_clear(&info);
	return rc == 0 && pos ? 0 : -1;
}

/* The records already in the destination (an interrupted copy). */
static int map_existing(struct migrate *m, struct oid_map *map)
{
	struct fs_iter it;
	struct fs_record rec;
	int rc;

	fs_iter_init(&it, m->fs, 0, 0);
	while ((rc = fs_iter_next_txn(&it)) == FS_OK)
		while ((rc = fs_iter_next_record(&it, &rec)) == FS_OK)
			if (oid_set(map, rec.oid, rec.pos) != 0)
				rc = FS_ENOMEM;
	fs_iter_free(&it);
	return rc == FS_END ? 0 : -1;
}

static int neo_to_fs(struct migrate *m)
{
	struct oid_map map = { 0 };
	struct neo_txn_copy c = { 0 };
	uint64_t *tids = NULL, bytes = 0;
	size_t count = 0, done = 0;
	char err[512];
	int status = 1;

	if (fs_open(m->destination, true, true, &m->fs, err, sizeof err) != FS_OK) {
		fprintf(stderr, "neomigrate: %s\n", err);
		return 1;
	}
	if (fs_scan_end(m->fs) != FS_OK || map_existing(m, &map) != 0) {
		fprintf(stderr, "neomigrate: %s\n", m->fs->err);
		goto done;
	}
	if (m->blob_path && blob_dir_create(m->blob_path, &m->blobs, err, sizeof err) != 0) {
		fprintf(stderr, "neomigrate: %s\n", err);
		goto done;
	}
	if (open_client(m, m->source, true) != 0)
		goto done;
	if (neo_client_tids_from(m->client, m->fs->last_tid + 1, MAX_TID, 0, &tids, &count) !=
	    NEO_CLIENT_OK) {
		fprintf(stderr, "neomigrate: %s\n", neo_client_errmsg());
		goto done;
	}
	for (done = 0; done < count; done++) {
		uint64_t before = m->fs->end;

		if (copy_neo_txn(m, &map, &c, tids[done]) != 0)
			break;
		bytes += m->fs->end - before;
		progress(m, done + 1, count, bytes, false);
	}
	progress(m, done, count, bytes, true);
	report_blobs(m);
	status = done == count ? 0 : 1;
done:
	neo_client_free(tids);
	neo_free(map.keys);
	neo_free(map.values);
	neo_free(c.recs);
	neo_free(c.data);
	neo_free(c.offsets);
	return status;
}

/* --- Command line ------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out, "usage: neomigrate -c CLUSTER [-q] [-l LOGFILE] [-b BLOB_DIR] [--ca CA "
		"--cert CERT --key KEY] SOURCE DESTINATION\n\n"
		"NEO <-> FileStorage conversion tool: FileStorage -> NEO when SOURCE is an\n"
		"existing file (DESTINATION: the masters, \"host:port ...\"), NEO -> FileStorage\n"
		"otherwise (SOURCE: the masters, DESTINATION: the file).\n\n"
		"  -c, --cluster CLUSTER  the NEO cluster name (required)\n"
		"  -q, --quiet            print nothing to standard output\n"
		"  -l, --logfile FILE     the client's log\n"
		"  -b, --blob-dir DIR     the FileStorage's blob directory (ZODB's blob-dir):\n"
		"                         read with SOURCE, written (made if missing) with\n"
		"                         DESTINATION; needed when the database has blobs\n"
		"      --ca, --cert, --key  (SSL) certificate authority, certificate, key (PEM)\n"
		"  -h, --help             show this help\n");
}

static int parse(int argc, char **argv, struct migrate *m)
{
	static const struct option longs[] = {
		{ "cluster", required_argument, NULL, 'c' }, { "quiet", no_argument, NULL, 'q' },
		{ "logfile", required_argument, NULL, 'l' }, { "ca", required_argument, NULL, 1 },
		{ "cert", required_argument, NULL, 2 }, { "key", required_argument, NULL, 3 },
		{ "blob-dir", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:ql:b:h", longs, NULL)) != -1) {
		switch (c) {
		case 'c': m->cluster = optarg; break;
		case 'q': m->quiet = true; break;
		case 'l': m->logfile = optarg; break;
		case 'b': m->blob_path = optarg; break;
		case 1: m->ca = optarg; break;
		case 2: m->cert = optarg; break;
		case 3: m->key = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (m->cluster == NULL || argc - optind != 2) {
		fprintf(stderr, "neomigrate: %s\n", m->cluster == NULL ? "-c CLUSTER is required"
			: "SOURCE and DESTINATION are required");
		usage(stderr);
		return -1;
	}
	if ((m->ca || m->cert || m->key) && !(m->ca && m->cert && m->key)) {
		fprintf(stderr, "neomigrate: SSL needs all three of --ca, --cert and --key\n");
		return -1;
	}
	m->source = argv[optind];
	m->destination = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct migrate m = { 0 };
	struct stat st;
	bool from_file;
	int status;

	if (parse(argc, argv, &m) != 0)
		return 2;
	from_file = stat(m.source, &st) == 0;	/* as upstream: os.path.exists */
	if (!m.quiet)
		printf("Migrating from %s to %s\n", m.source, m.destination);
	m.started = now();
	status = from_file ? fs_to_neo(&m) : neo_to_fs(&m);
	if (m.client)
		neo_client_close(m.client);
	fs_close(m.fs);
	neo_free(m.buf);
	if (!m.quiet && status == 0)
		printf("Migration done in %3.5f\n", now() - m.started);
	return status;
}
