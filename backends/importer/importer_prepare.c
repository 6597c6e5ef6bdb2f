/*
 * importer_prepare.c - the workers that read and compress the Data.fs
 * ahead of the import thread (importer_prepare.h says how chunks flow).
 */
#include "importer_prepare.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "runtime/alloc.h"

#define CHUNK_BYTES (4u << 20)
#define MAX_WORKERS 4
#define SLOTS_PER_WORKER 2

struct worker {
	struct prepare *p;
	struct fs_file *fs;		/* its own handle on the Data.fs */
	uint8_t *raw, *stored;
	size_t rawcap, storedcap;
	struct importer_deflate deflate;
	char err[1024];			/* importer_fail's messages in this thread */
	pthread_t thread;
	bool started;
};

struct prepare {
	struct neo_db *db;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct chunk slots[MAX_WORKERS * SLOTS_PER_WORKER];
	bool ready[MAX_WORKERS * SLOTS_PER_WORKER];
	size_t nslots;
	size_t next_txn;		/* the first transaction no worker took */
	uint64_t assigned;		/* chunks given to workers */
	uint64_t taken, released;	/* chunks given to the import thread, given back */
	bool one_txn, cancelled;
	struct worker workers[MAX_WORKERS];
	size_t nworkers;
};

/* NEO_IMPORTER_WORKERS=N (1 to MAX_WORKERS) for benchmarks; else one per
 * core, at most MAX_WORKERS. */
static size_t worker_count(void)
{
	const char *v = getenv("NEO_IMPORTER_WORKERS");
	long n = v ? atol(v) : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (size_t)n;
}

static int fs_error(struct worker *w)
{
	return importer_fail(w->p->db, NEO_BACKEND_ECORRUPT, "importer: %s", w->fs->err);
}

static int oom(struct worker *w)
{
	return importer_fail(w->p->db, NEO_BACKEND_EIO, "importer: out of memory");
}

static int add_bytes(struct worker *w, struct chunk *c, const uint8_t *data, size_t len,
		     size_t *off)
{
	if (importer_grow(&c->bytes, &c->bytecap, c->nbytes + len + 1) != 0)
		return oom(w);
	*off = c->nbytes;
	if (len)
		memcpy(c->bytes + c->nbytes, data, len);
	c->nbytes += len;
	return NEO_BACKEND_OK;
}

/* raw bytes (len in w->raw) in their stored form, into the chunk; a blob
 * chunk's zlib only if a sample compresses (importer_stored_chunk). */
static int prepare_data(struct worker *w, struct chunk *c, struct prepared_record *pr,
			size_t len, bool blob_chunk)
{
	struct neo_db *db = w->p->db;
	struct neo_bytes data;
	int rc = blob_chunk ? importer_stored_chunk(db, &w->deflate, w->raw, len, &w->stored,
						    &w->storedcap, &data, &pr->compression)
			    : importer_stored_form(db, &w->deflate, w->raw, len, &w->stored,
						   &w->storedcap, &data, &pr->compression);

	pr->kind = PREPARED_DATA;
	if (rc == NEO_BACKEND_OK) {
		SHA1(data.data, data.size, pr->checksum);
		pr->len = data.size;
		rc = add_bytes(w, c, data.data, data.size, &pr->off);
	}
	return rc;
}

/* A blob revision (importer_blobs.c): the Blob's pickle and the manifest
 * as its own data (an undo's too: its blob has chunks of its own). */
static int prepare_blob(struct worker *w, struct chunk *c, struct prepared_record *pr,
			long blob, const struct fs_resolved *r)
{
	struct neo_db *db = w->p->db;
	size_t len = 0;
	int rc;

	if (importer_grow(&w->raw, &w->rawcap, (size_t)r->data_len + 1) != 0)
		return oom(w);
	if (fs_pread(w->fs, r->data_pos, w->raw, (size_t)r->data_len) != FS_OK)
		return fs_error(w);
	rc = importer_blob_record(db, blob, w->raw, (size_t)r->data_len, &w->raw, &w->rawcap,
				  &len);
	return rc == NEO_BACKEND_OK ? prepare_data(w, c, pr, len, false) : rc;
}

/* The blob chunks transaction tid writes or deletes, after its records
 * (importer_fs_trans lists them so): in the same destination transaction. */
static int prepare_chunks(struct worker *w, struct chunk *c, uint64_t tid)
{
	struct neo_db *db = w->p->db;
	uint64_t *chunks = NULL;
	size_t cap = 0, n = importer_blob_chunks_of_txn(db, tid, &chunks, &cap);
	int rc = NEO_BACKEND_OK;

	for (size_t i = 0; rc == NEO_BACKEND_OK && i < n; i++) {
		struct prepared_record *pr;
		bool has_data = false;
		size_t len = 0;

		if (neo_grow(&c->recs, &c->reccap, c->nrecs + 1, sizeof(*c->recs)) != 0) {
			rc = oom(w);
			break;
		}
		pr = &c->recs[c->nrecs++];
		memset(pr, 0, sizeof(*pr));
		pr->oid = chunks[i];
		pr->kind = PREPARED_NO_DATA;
		rc = importer_blob_chunk(db, chunks[i], tid, &has_data, &w->raw, &w->rawcap, &len);
		if (rc == NEO_BACKEND_OK && has_data)
			rc = prepare_data(w, c, pr, len, true);
	}
	neo_free(chunks);
	return rc;
}

static int prepare_record(struct worker *w, struct chunk *c, const struct fs_record *rec)
{
	struct neo_db *db = w->p->db;
	struct prepared_record *pr;
	struct fs_resolved r;

	if (fs_record_resolve(w->fs, rec, &r) != FS_OK)
		return fs_error(w);
	if (neo_grow(&c->recs, &c->reccap, c->nrecs + 1, sizeof(*c->recs)) != 0)
		return oom(w);
	pr = &c->recs[c->nrecs++];
	memset(pr, 0, sizeof(*pr));
	pr->oid = rec->oid;
	if (r.has_data && db->blobs && importer_blob_rev_at(db, rec->oid, rec->tid) >= 0)
		return prepare_blob(w, c, pr, importer_blob_rev_at(db, rec->oid, rec->tid), &r);
	if (r.has_data_txn) {
		/* an undo: the data of the revision it names, imported before */
		pr->kind = PREPARED_UNDO;
		pr->data_txn = r.data_txn;
		return NEO_BACKEND_OK;
	}
	if (!r.has_data) {
		pr->kind = PREPARED_NO_DATA;	/* an undone creation */
		return NEO_BACKEND_OK;
	}
	if (importer_grow(&w->raw, &w->rawcap, (size_t)r.data_len + 1) != 0)
		return oom(w);
	if (fs_pread(w->fs, r.data_pos, w->raw, (size_t)r.data_len) != FS_OK)
		return fs_error(w);
	return prepare_data(w, c, pr, (size_t)r.data_len, false);
}

static int prepare_txn(struct worker *w, struct chunk *c, size_t txn)
{
	struct neo_db *db = w->p->db;
	struct prepared_txn *t;
	struct fs_iter it;
	struct fs_record rec;
	int rc;

	if (neo_grow(&c->txns, &c->txncap, c->ntxns + 1, sizeof(*c->txns)) != 0)
		return oom(w);
	fs_iter_init(&it, w->fs, db->index.txns[txn].pos, 0);
	if (fs_iter_next_txn(&it) != FS_OK) {
		fs_iter_free(&it);
		return fs_error(w);
	}
	t = &c->txns[c->ntxns];
	t->tid = it.txn.tid;
	t->packed = it.txn.status == 'p';
	t->ulen = it.txn.ulen;
	t->dlen = it.txn.dlen;
	t->elen = it.txn.elen;
	t->first = c->nrecs;
	rc = add_bytes(w, c, it.buf, (size_t)t->ulen + t->dlen + t->elen, &t->meta);
	while (rc == NEO_BACKEND_OK && (rc = fs_iter_next_record(&it, &rec)) == FS_OK)
		rc = prepare_record(w, c, &rec);
	fs_iter_free(&it);
	if (rc != FS_END)
		return rc == NEO_BACKEND_OK ? fs_error(w) : rc;
	if (db->blobs) {
		rc = prepare_chunks(w, c, c->txns[c->ntxns].tid);
		if (rc != NEO_BACKEND_OK)
			return rc;
	}
	t = &c->txns[c->ntxns++];	/* c->txns did not move since */
	t->count = c->nrecs - t->first;
	return NEO_BACKEND_OK;
}

static void prepare_chunk(struct worker *w, struct chunk *c, size_t count)
{
	c->ntxns = c->nrecs = c->nbytes = 0;
	c->failed = false;
	w->err[0] = '\0';
	for (size_t i = 0; i < count && !c->failed; i++)
		c->failed = prepare_txn(w, c, c->first + i) != NEO_BACKEND_OK;
	if (c->failed)
		snprintf(c->err, sizeof(c->err), "%s", w->err[0] ? w->err : "importer: read failed");
}

/* How many transactions from txn make a chunk. */
static size_t chunk_txns(const struct prepare *p, size_t txn)
{
	const struct fs_index *index = &p->db->index;
	uint64_t start = index->txns[txn].pos;
	size_t n = 1;

	if (p->one_txn)
		return 1;
	while (txn + n < index->ntxns && index->txns[txn + n].pos - start < CHUNK_BYTES)
		n++;
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct prepare *p = w->p;

	importer_mark_import_thread(w->err);
	pthread_mutex_lock(&p->lock);
	while (!p->cancelled && p->next_txn < p->db->index.ntxns) {
		uint64_t n;
		struct chunk *c;
		size_t count;

		if (p->assigned - p->released >= p->nslots) {
			pthread_cond_wait(&p->changed, &p->lock);
			continue;
		}
		n = p->assigned++;
		c = &p->slots[n % p->nslots];
		c->first = p->next_txn;
		count = chunk_txns(p, c->first);
		p->next_txn += count;
		pthread_mutex_unlock(&p->lock);
		prepare_chunk(w, c, count);
		pthread_mutex_lock(&p->lock);
		p->ready[n % p->nslots] = true;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void free_prepare(struct prepare *p)
{
	for (size_t i = 0; i < p->nworkers; i++) {
		fs_close(p->workers[i].fs);
		neo_free(p->workers[i].raw);
		neo_free(p->workers[i].stored);
		importer_deflate_end(&p->workers[i].deflate);
	}
	for (size_t i = 0; i < p->nslots; i++) {
		neo_free(p->slots[i].txns);
		neo_free(p->slots[i].recs);
		neo_free(p->slots[i].bytes);
	}
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	neo_free(p);
}

struct prepare *prepare_start(struct neo_db *db, size_t first, bool one_txn_chunks)
{
	struct prepare *p = neo_calloc(1, sizeof(*p));
	char err[512];

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	p->db = db;
	p->next_txn = first;
	p->one_txn = one_txn_chunks;
	p->nworkers = worker_count();
	p->nslots = p->nworkers * SLOTS_PER_WORKER;
	for (size_t i = 0; i < p->nworkers; i++) {
		struct worker *w = &p->workers[i];

		w->p = p;
		if (fs_open(db->conf.fs_path, false, false, &w->fs, err, sizeof err) != FS_OK) {
			importer_log(db, NEO_BACKEND_LOG_ERROR, "importer: %s", err);
			p->nworkers = i;
			free_prepare(p);
			return NULL;
		}
	}
	for (size_t i = 0; i < p->nworkers; i++) {
		struct worker *w = &p->workers[i];

		w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
		if (!w->started) {
			prepare_stop(p);
			return NULL;
		}
	}
	return p;
}

/* The caller holds p->lock. */
static bool none_coming(const struct prepare *p)
{
	return p->cancelled || (p->taken >= p->assigned && p->next_txn >= p->db->index.ntxns);
}

/* The next chunk if it is prepared; the caller holds p->lock. */
static struct chunk *take(struct prepare *p)
{
	size_t i = p->taken % p->nslots;

	if (!p->ready[i])
		return NULL;
	p->ready[i] = false;
	p->taken++;
	return &p->slots[i];
}

struct chunk *prepare_next(struct prepare *p)
{
	struct chunk *c = NULL;

	pthread_mutex_lock(&p->lock);
	while (!p->ready[p->taken % p->nslots] && !none_coming(p))
		pthread_cond_wait(&p->changed, &p->lock);
	if (!p->cancelled)
		c = take(p);
	pthread_mutex_unlock(&p->lock);
	return c;
}

struct chunk *prepare_next_ready(struct prepare *p)
{
	struct chunk *c = NULL;

	pthread_mutex_lock(&p->lock);
	if (!p->cancelled)
		c = take(p);
	pthread_mutex_unlock(&p->lock);
	return c;
}

void prepare_release(struct prepare *p, struct chunk *c)
{
	(void)c;
	pthread_mutex_lock(&p->lock);
	p->released++;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

void prepare_cancel(struct prepare *p)
{
	pthread_mutex_lock(&p->lock);
	p->cancelled = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

void prepare_stop(struct prepare *p)
{
	if (p == NULL)
		return;
	prepare_cancel(p);
	for (size_t i = 0; i < p->nworkers; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	free_prepare(p);
}
