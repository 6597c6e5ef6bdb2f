/*
 * importer_blobs.c - the FileStorage's blobs (its blob directory, ZODB's
 * blob-dir) served and imported in NEO's layout (core/client/blobs.md):
 * a blob revision's record is the Blob's pickle, a manifest and a
 * trailer; the blob's bytes are chunk records of 1 MiB under oids of
 * their own, written in the revision's transaction and deleted in the
 * transaction of the object's next revision.
 *
 * The plan is fixed at open, from the index (transactions <= fs_ltid)
 * and the blob files: every revision whose data is a ZODB.blob.Blob's
 * and whose file <blob-dir>/<oid path>/<tid>.blob exists is a blob
 * revision (one without its file stays a plain record, as ZODB's
 * copyTransactionsFrom copies it); its chunks take the next oids after
 * the Data.fs's greatest oid, in (oid, tid) order.  The chunk revisions
 * are appended to the index as revisions of their own (pos with
 * IMPORTER_VIRTUAL_POS), so that every merged read of importer_reads.c
 * sees them as the Data.fs's, and the oids the master hands out later
 * (from last_obj_ids) come after them.  The first start stores the plan's
 * first chunk oid and count (importer_blob_chunks); a restart that
 * computes another plan (the blob directory changed) is refused, so a
 * kill -9 resumes with the same chunk oids and nothing moves.
 *
 * An undo of a blob change has a file of its own in ZODB (a copy of the
 * undone-to revision's): it becomes a blob revision with its own record
 * and chunks (not a back pointer), which reads the same bytes.
 *
 * The blob's SHA-1 (in the manifest) is computed when a revision is
 * first read or imported, and kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "blob/record.h"
#include "filestorage/blob_dir.h"
#include "importer_db.h"
#include "runtime/alloc.h"

#define CHUNK_SIZE (1024u * 1024u)	/* as core/client/blobs.md */

struct importer_blob_rev {
	uint64_t oid, tid;
	uint64_t pos;			/* its FileStorage record */
	uint64_t size;			/* of the blob */
	uint64_t first_chunk;		/* oid */
	uint32_t nchunks;
	uint64_t deleted_at;		/* the oid's next revision, 0: none */
	bool sha1_known;
	uint8_t sha1[20];
};

struct chunk_event {
	uint64_t tid, oid;
};

struct importer_blobs {
	struct importer_blob_rev *revs;	/* sorted by (oid, tid) */
	size_t nrevs, revcap;
	uint64_t base, nchunks;
	struct chunk_event *events;	/* sorted by (tid, oid) */
	size_t nevents;
	pthread_mutex_t lock;		/* sha1_known, sha1 */
};

/* --- Where ZODB keeps the files (core/filestorage/fs_blobdir.c) ------------------ */

static void blob_path(struct neo_db *db, uint64_t oid, uint64_t tid, char *out, size_t len)
{
	if (blob_dir_file(&db->blob_layout, oid, tid, out, len) != 0)
		out[0] = '\0';
}

/* --- The plan ------------------------------------------------------------------------ */

static int add_rev(struct neo_db *db, size_t i, uint64_t pos, uint64_t size)
{
	struct importer_blobs *b = db->blobs;
	struct importer_blob_rev *r;
	const struct fs_index_rev *rev = &db->index.revs[i];

	if (neo_grow(&b->revs, &b->revcap, b->nrevs + 1, sizeof *b->revs) != 0)
		return -1;
	r = &b->revs[b->nrevs++];
	memset(r, 0, sizeof *r);
	r->oid = rev->oid;
	r->tid = rev->tid;
	r->pos = pos;
	r->size = size;
	r->nchunks = (uint32_t)((size + CHUNK_SIZE - 1) / CHUNK_SIZE);
	r->first_chunk = b->base + b->nchunks;
	b->nchunks += r->nchunks;
	if (i + 1 < db->index.nrevs && db->index.revs[i + 1].oid == rev->oid)
		r->deleted_at = db->index.revs[i + 1].tid;
	return 0;
}

/* Revision i of the index: a blob revision if its data is a Blob's and
 * its file exists. */
static int plan_rev(struct neo_db *db, size_t i)
{
	struct fs_record rec;
	struct fs_resolved r;
	uint8_t head[32];
	char path[4200];
	struct stat st;
	size_t n;

	if (fs_read_record(db->fs, db->index.revs[i].pos, &rec) != FS_OK ||
	    fs_record_resolve(db->fs, &rec, &r) != FS_OK)
		return -1;
	if (!r.has_data)
		return 0;
	n = r.data_len < sizeof head ? (size_t)r.data_len : sizeof head;
	if (fs_pread(db->fs, r.data_pos, head, n) != FS_OK)
		return -1;
	if (!blob_record_is_zodb_blob(head, n))
		return 0;
	blob_path(db, rec.oid, rec.tid, path, sizeof path);
	if (stat(path, &st) != 0)
		return 0;
	return add_rev(db, i, rec.pos, (uint64_t)st.st_size);
}

static int event_cmp(const void *a, const void *b)
{
	const struct chunk_event *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

/* The chunk revisions, appended to the index (their oids come after
 * every oid of it, in order) and listed by transaction. */
static int add_chunk_revs(struct neo_db *db)
{
	struct importer_blobs *b = db->blobs;
	size_t cap = db->index.nrevs, need = 0;

	for (size_t i = 0; i < b->nrevs; i++)
		need += (size_t)b->revs[i].nchunks * (b->revs[i].deleted_at ? 2 : 1);
	if (need == 0)
		return 0;
	if (neo_grow(&db->index.revs, &cap, db->index.nrevs + need, sizeof *db->index.revs) != 0)
		return -1;
	b->events = neo_malloc(need * sizeof *b->events);
	if (b->events == NULL)
		return -1;
	for (size_t i = 0; i < b->nrevs; i++) {
		const struct importer_blob_rev *r = &b->revs[i];

		for (uint32_t j = 0; j < r->nchunks; j++) {
			uint64_t oid = r->first_chunk + j;

			db->index.revs[db->index.nrevs++] = (struct fs_index_rev){
				oid, r->tid, IMPORTER_VIRTUAL_POS };
			b->events[b->nevents++] = (struct chunk_event){ r->tid, oid };
			if (!r->deleted_at)
				continue;
			db->index.revs[db->index.nrevs++] = (struct fs_index_rev){
				oid, r->deleted_at, IMPORTER_VIRTUAL_POS | 1 };
			b->events[b->nevents++] = (struct chunk_event){ r->deleted_at, oid };
		}
	}
	qsort(b->events, b->nevents, sizeof *b->events, event_cmp);
	return 0;
}

/* The plan as the destination remembers it: "BASE COUNT" (hex). */
static int check_remembered(struct neo_db *db, char *err, size_t errlen)
{
	struct importer_blobs *b = db->blobs;
	char text[64];
	struct neo_bytes v;
	int rc = db->be->config_get(db->inner, "importer_blob_chunks", &v);

	snprintf(text, sizeof text, "%016llx %016llx", (unsigned long long)b->base,
		 (unsigned long long)b->nchunks);
	if (rc == NEO_BACKEND_NOTFOUND && db->imported_tid) {
		snprintf(err, errlen, "importer: the import began without a blob-dir: its blobs "
			 "cannot be added now (start again from an empty destination)");
		return NEO_BACKEND_EINVAL;
	}
	if (rc == NEO_BACKEND_NOTFOUND) {
		v = (struct neo_bytes){ (const uint8_t *)text, strlen(text) };
		rc = db->be->config_set(db->inner, "importer_blob_chunks", &v);
		if (rc == NEO_BACKEND_OK)
			rc = db->be->commit(db->inner, NEO_BACKEND_COMMIT_SYNC);
		if (rc != NEO_BACKEND_OK)
			snprintf(err, errlen, "importer: %s", db->be->errmsg(db->inner));
		return rc;
	}
	if (rc != NEO_BACKEND_OK) {
		snprintf(err, errlen, "importer: %s", db->be->errmsg(db->inner));
		return rc;
	}
	if (v.size != strlen(text) || memcmp(v.data, text, v.size) != 0) {
		snprintf(err, errlen, "importer: the blob directory %s changed since the import "
			 "began (its blobs now need chunk oids %s, the import gave them %.*s): "
			 "put it back as it was", db->conf.blob_dir, text, (int)v.size,
			 (const char *)v.data);
		return NEO_BACKEND_ECORRUPT;
	}
	return NEO_BACKEND_OK;
}

/* An import begun with a blob-dir cannot go on without it. */
static int refuse_if_planned(struct neo_db *db, char *err, size_t errlen)
{
	struct neo_bytes v;
	int rc = db->be->config_get(db->inner, "importer_blob_chunks", &v);

	if (rc == NEO_BACKEND_NOTFOUND)
		return NEO_BACKEND_OK;
	if (rc == NEO_BACKEND_OK)
		snprintf(err, errlen, "importer: the import began with a blob-dir: name it again "
			 "in the source's storage= (see importer.conf)");
	else
		snprintf(err, errlen, "importer: %s", db->be->errmsg(db->inner));
	return rc == NEO_BACKEND_OK ? NEO_BACKEND_EINVAL : rc;
}

int importer_blobs_open(struct neo_db *db, char *err, size_t errlen)
{
	struct importer_blobs *b;
	char why[600];
	int rc;

	if (db->finished)
		return NEO_BACKEND_OK;	/* everything is read from the destination */
	if (db->conf.blob_dir == NULL)
		return refuse_if_planned(db, err, errlen);
	if (blob_dir_open(db->conf.blob_dir, &db->blob_layout, why, sizeof why) != 0) {
		snprintf(err, errlen, "importer: %s", why);
		return NEO_BACKEND_EINVAL;
	}
	b = db->blobs = neo_calloc(1, sizeof *b);
	if (b == NULL)
		goto oom;
	pthread_mutex_init(&b->lock, NULL);
	b->base = (db->index.has_oid ? db->index.max_oid : 0) + 1;
	for (size_t i = 0, n = db->index.nrevs; i < n; i++)
		if (plan_rev(db, i) != 0) {
			snprintf(err, errlen, "importer: %s", db->fs->err[0] ? db->fs->err :
				 "out of memory");
			return NEO_BACKEND_EIO;
		}
	rc = check_remembered(db, err, errlen);
	if (rc != NEO_BACKEND_OK)
		return rc;
	if (add_chunk_revs(db) != 0)
		goto oom;
	importer_log(db, NEO_BACKEND_LOG_INFO, "importer: blob-dir %s (%s): %zu blob revisions, "
		     "%llu chunks under oids %016llx..", db->conf.blob_dir,
		     db->blob_layout.bushy ? "bushy" : "lawn", b->nrevs, (unsigned long long)b->nchunks,
		     (unsigned long long)b->base);
	return NEO_BACKEND_OK;
oom:
	snprintf(err, errlen, "importer: out of memory");
	return NEO_BACKEND_EIO;
}

void importer_blobs_close(struct neo_db *db)
{
	if (db->blobs == NULL)
		return;
	pthread_mutex_destroy(&db->blobs->lock);
	neo_free(db->blobs->revs);
	neo_free(db->blobs->events);
	neo_free(db->blobs);
	db->blobs = NULL;
}

/* --- Lookups ------------------------------------------------------------------------ */

long importer_blob_rev_at(struct neo_db *db, uint64_t oid, uint64_t tid)
{
	struct importer_blobs *b = db->blobs;
	size_t lo = 0, hi = b ? b->nrevs : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct importer_blob_rev *r = &b->revs[mid];

		if (r->oid < oid || (r->oid == oid && r->tid < tid))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (b && lo < b->nrevs && b->revs[lo].oid == oid && b->revs[lo].tid == tid)
		return (long)lo;
	return -1;
}

/* The blob revision whose chunks include oid, and the chunk's number. */
static long chunk_owner(struct neo_db *db, uint64_t oid, uint32_t *j)
{
	struct importer_blobs *b = db->blobs;
	size_t lo = 0, hi = b ? b->nrevs : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->revs[mid].first_chunk + b->revs[mid].nchunks <= oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!b || lo >= b->nrevs || oid < b->revs[lo].first_chunk)
		return -1;
	*j = (uint32_t)(oid - b->revs[lo].first_chunk);
	return (long)lo;
}

size_t importer_blob_chunks_of_txn(struct neo_db *db, uint64_t tid, uint64_t **oids,
				   size_t *cap)
{
	struct importer_blobs *b = db->blobs;
	size_t lo = 0, hi = b ? b->nevents : 0, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->events[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; b && lo < b->nevents && b->events[lo].tid == tid; lo++) {
		if (neo_grow(oids, cap, n + 1, sizeof **oids) != 0)
			return 0;
		(*oids)[n++] = b->events[lo].oid;
	}
	return n;
}

/* --- Records --------------------------------------------------------------------------- */

static int read_file_at(int fd, uint64_t off, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int open_blob(struct neo_db *db, const struct importer_blob_rev *r)
{
	char path[4200];

	blob_path(db, r->oid, r->tid, path, sizeof path);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int blob_sha1(struct neo_db *db, struct importer_blob_rev *r, uint8_t sha1[20])
{
	struct importer_blobs *b = db->blobs;
	uint8_t *buf;
	EVP_MD_CTX *ctx;
	int fd, rc = -1;

	pthread_mutex_lock(&b->lock);
	if (r->sha1_known) {
		memcpy(sha1, r->sha1, 20);
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	pthread_mutex_unlock(&b->lock);
	fd = open_blob(db, r);
	buf = neo_malloc(CHUNK_SIZE);
	ctx = EVP_MD_CTX_new();
	if (fd >= 0 && buf && ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1) {
		uint64_t done = 0;

		rc = 0;
		while (rc == 0 && done < r->size) {
			size_t n = r->size - done < CHUNK_SIZE ? (size_t)(r->size - done) : CHUNK_SIZE;

			rc = read_file_at(fd, done, buf, n) == 0 &&
			     EVP_DigestUpdate(ctx, buf, n) == 1 ? 0 : -1;
			done += n;
		}
		if (rc == 0)
			rc = EVP_DigestFinal_ex(ctx, sha1, NULL) == 1 ? 0 : -1;
	}
	EVP_MD_CTX_free(ctx);
	neo_free(buf);
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		pthread_mutex_lock(&b->lock);
		memcpy(r->sha1, sha1, 20);
		r->sha1_known = true;
		pthread_mutex_unlock(&b->lock);
	}
	return rc;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

int importer_blob_record(struct neo_db *db, long idx, const uint8_t *data, size_t len,
			 uint8_t **buf, size_t *cap, size_t *size)
{
	struct importer_blob_rev *r = &db->blobs->revs[idx];
	size_t manifest = NEO_BLOB_MANIFEST_HEAD + 8 * (size_t)r->nchunks;
	uint8_t sha1[20], *p;

	if (blob_sha1(db, r, sha1) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: cannot read the blob of oid "
				     "%016llx at %016llx in %s", (unsigned long long)r->oid,
				     (unsigned long long)r->tid, db->conf.blob_dir);
	bool in_place = data == *buf;	/* data already at the start of *buf */

	*size = len + manifest + NEO_BLOB_TRAILER_SIZE;
	if (importer_grow(buf, cap, *size) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (len && !in_place)
		memcpy(*buf, data, len);
	p = *buf + len;
	put_be(p, r->size, 8);
	put_be(p + 8, CHUNK_SIZE, 4);
	put_be(p + 12, r->nchunks, 4);
	memcpy(p + 16, sha1, 20);
	for (uint32_t j = 0; j < r->nchunks; j++)
		put_be(p + NEO_BLOB_MANIFEST_HEAD + 8 * j, r->first_chunk + j, 8);
	p += manifest;
	put_be(p, manifest, 4);
	put_be(p + 4, NEO_BLOB_FORMAT_VERSION, 4);
	memcpy(p + 8, neo_blob_magic, 8);
	return NEO_BACKEND_OK;
}

int importer_blob_chunk(struct neo_db *db, uint64_t oid, uint64_t tid, bool *has_data,
			uint8_t **buf, size_t *cap, size_t *size)
{
	uint32_t j = 0;
	long idx = chunk_owner(db, oid, &j);
	const struct importer_blob_rev *r;
	uint64_t off;
	size_t n;
	int fd, rc;

	if (idx < 0)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: no blob chunk %016llx",
				     (unsigned long long)oid);
	r = &db->blobs->revs[idx];
	*has_data = tid == r->tid;
	*size = 0;
	if (!*has_data)
		return NEO_BACKEND_OK;
	off = (uint64_t)j * CHUNK_SIZE;
	n = r->size - off < CHUNK_SIZE ? (size_t)(r->size - off) : CHUNK_SIZE;
	if (importer_grow(buf, cap, NEO_BLOB_CHUNK_HEADER + n) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	memcpy(*buf, neo_blob_chunk_magic, NEO_BLOB_CHUNK_HEADER);
	fd = open_blob(db, r);
	rc = fd >= 0 && read_file_at(fd, off, *buf + NEO_BLOB_CHUNK_HEADER, n) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: cannot read the blob of oid "
				     "%016llx at %016llx in %s", (unsigned long long)r->oid,
				     (unsigned long long)r->tid, db->conf.blob_dir);
	*size = NEO_BLOB_CHUNK_HEADER + n;
	return NEO_BACKEND_OK;
}

/* Data ids of what the blob directory gives: a chunk's by its oid. */
uint64_t importer_blob_chunk_data_id(struct neo_db *db, uint64_t oid)
{
	return IMPORTER_FS_DATA_ID | IMPORTER_CHUNK_DATA_ID | (oid - db->blobs->base);
}

uint64_t importer_blob_record_data_id(long idx)
{
	return IMPORTER_FS_DATA_ID | IMPORTER_BLOB_DATA_ID | (uint64_t)idx;
}

int importer_blob_data(struct neo_db *db, uint64_t data_id, uint8_t **raw, size_t *rawcap,
		       size_t *size)
{
	uint64_t n = data_id & ~(IMPORTER_FS_DATA_ID | IMPORTER_CHUNK_DATA_ID |
				 IMPORTER_BLOB_DATA_ID);
	struct fs_record rec;
	struct fs_resolved r;
	bool has = false;
	int rc;

	if (db->blobs == NULL)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: bad data id");
	if (data_id & IMPORTER_CHUNK_DATA_ID) {
		uint32_t j = 0;
		long idx = chunk_owner(db, db->blobs->base + n, &j);

		if (idx < 0)
			return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: bad data id");
		rc = importer_blob_chunk(db, db->blobs->base + n, db->blobs->revs[idx].tid, &has,
					 raw, rawcap, size);
		return rc;
	}
	if (n >= db->blobs->nrevs)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: bad data id");
	if (fs_read_record(db->fs, db->blobs->revs[n].pos, &rec) != FS_OK ||
	    fs_record_resolve(db->fs, &rec, &r) != FS_OK || !r.has_data)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: %s", db->fs->err);
	if (importer_grow(raw, rawcap, (size_t)r.data_len + 1) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (fs_pread(db->fs, r.data_pos, *raw, (size_t)r.data_len) != FS_OK)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: %s", db->fs->err);
	return importer_blob_record(db, (long)n, *raw, (size_t)r.data_len, raw, rawcap, size);
}
