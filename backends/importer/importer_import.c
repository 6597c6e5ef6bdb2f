/*
 * importer_import.c - the background import: the Data.fs's transactions
 * in tid order into the destination, each with its metadata (user,
 * description, extension, packed) and each record with its data
 * (compressed as importer_fsread.c says) or its undo pointer (ZODB's
 * data_txn, whose data id is the imported revision's).  Batches of about
 * IMPORT_BATCH_MS are read and compressed without holding the destination,
 * then written as one destination transaction, which also records the
 * progress (importer_tid), so that a kill -9 resumes after the last
 * committed batch with nothing twice.
 *
 * The thread waits for the node's partition table (the partition of a
 * row is its oid, or tid, modulo the number of partitions) and works only
 * while the node has nothing uncommitted (importer_module.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "importer_db.h"
#include "runtime/alloc.h"

#define IMPORT_BATCH_MS 100
#define PROGRESS_EVERY_S 5.0

/* For tests that must look at a cluster in the middle of an import: with
 * NEO_IMPORTER_THROTTLE_MS=N in the environment, one transaction per batch
 * and N ms between batches. */
static int throttle_ms(void)
{
	const char *v = getenv("NEO_IMPORTER_THROTTLE_MS");

	return v ? atoi(v) : 0;
}

#define PREPARED_MAX_BYTES (16u << 20)

/* A record read and put in the form it is stored, before the destination
 * is touched. */
enum prepared_kind { PREPARED_DATA, PREPARED_UNDO, PREPARED_NO_DATA };

struct prepared_record {
	uint64_t oid;
	enum prepared_kind kind;
	uint64_t data_txn;		/* PREPARED_UNDO */
	uint8_t compression, checksum[20];
	size_t off, len;		/* PREPARED_DATA: in batch.bytes */
};

struct prepared_txn {
	uint64_t tid;
	bool packed;
	size_t meta;			/* user, description, extension in bytes */
	uint16_t ulen, dlen, elen;
	size_t first, count;		/* its records */
};

/* Transactions index.txns[first .. first + ntxns), ready to write. */
struct batch {
	size_t first;
	struct prepared_txn *txns;
	size_t ntxns, txncap;
	struct prepared_record *recs;
	size_t nrecs, reccap;
	uint8_t *bytes;
	size_t nbytes, bytecap;
};

struct job {
	struct neo_db *db;
	uint32_t np;
	struct batch batch;
	uint8_t *raw, *stored, *oids;
	size_t rawcap, storedcap, oidscap;
	struct neo_obj_row *rows;
	size_t rowcap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fs_error(struct neo_db *db)
{
	return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: %s", db->fs->err);
}

static int oom(struct neo_db *db)
{
	return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
}

static int add_bytes(struct job *j, const uint8_t *data, size_t len, size_t *off)
{
	struct batch *b = &j->batch;

	if (importer_grow(&b->bytes, &b->bytecap, b->nbytes + len + 1) != 0)
		return oom(j->db);
	*off = b->nbytes;
	if (len)
		memcpy(b->bytes + b->nbytes, data, len);
	b->nbytes += len;
	return NEO_BACKEND_OK;
}

/* --- Preparing, without the lock: the Data.fs and the index do not change */

/* raw bytes (len in j->raw) in their stored form, into the batch. */
static int prepare_data(struct job *j, struct prepared_record *p, size_t len, bool chunk)
{
	struct neo_bytes data;
	int rc = chunk ? importer_stored_chunk(j->db, j->raw, len, &j->stored, &j->storedcap,
					       &data, &p->compression)
		       : importer_stored_form(j->db, j->raw, len, &j->stored, &j->storedcap,
					      &data, &p->compression);

	p->kind = PREPARED_DATA;
	if (rc == NEO_BACKEND_OK) {
		SHA1(data.data, data.size, p->checksum);
		p->len = data.size;
		rc = add_bytes(j, data.data, data.size, &p->off);
	}
	return rc;
}

/* A blob revision (importer_blobs.c): the Blob's pickle and the manifest
 * as its own data (an undo's too: its blob has chunks of its own). */
static int prepare_blob(struct job *j, struct prepared_record *p, long blob,
			const struct fs_resolved *r)
{
	struct neo_db *db = j->db;
	size_t len = 0;
	int rc;

	if (importer_grow(&j->raw, &j->rawcap, (size_t)r->data_len + 1) != 0)
		return oom(db);
	if (fs_pread(db->fs, r->data_pos, j->raw, (size_t)r->data_len) != FS_OK)
		return fs_error(db);
	rc = importer_blob_record(db, blob, j->raw, (size_t)r->data_len, &j->raw, &j->rawcap,
				  &len);
	return rc == NEO_BACKEND_OK ? prepare_data(j, p, len, false) : rc;
}

/* The blob chunks transaction tid writes or deletes, after its records
 * (importer_fs_trans lists them so). */
static int prepare_chunks(struct job *j, uint64_t tid)
{
	struct neo_db *db = j->db;
	struct batch *b = &j->batch;
	uint64_t *chunks = NULL;
	size_t cap = 0, n = importer_blob_chunks_of_txn(db, tid, &chunks, &cap);
	int rc = NEO_BACKEND_OK;

	for (size_t i = 0; rc == NEO_BACKEND_OK && i < n; i++) {
		struct prepared_record *p;
		bool has_data = false;
		size_t len = 0;

		if (neo_grow(&b->recs, &b->reccap, b->nrecs + 1, sizeof(*b->recs)) != 0) {
			rc = oom(db);
			break;
		}
		p = &b->recs[b->nrecs++];
		memset(p, 0, sizeof(*p));
		p->oid = chunks[i];
		p->kind = PREPARED_NO_DATA;
		rc = importer_blob_chunk(db, chunks[i], tid, &has_data, &j->raw, &j->rawcap, &len);
		if (rc == NEO_BACKEND_OK && has_data)
			rc = prepare_data(j, p, len, true);
	}
	neo_free(chunks);
	return rc;
}

static int prepare_record(struct job *j, const struct fs_record *rec)
{
	struct neo_db *db = j->db;
	struct batch *b = &j->batch;
	struct prepared_record *p;
	struct fs_resolved r;
	struct neo_bytes data;
	int rc;

	if (fs_record_resolve(db->fs, rec, &r) != FS_OK)
		return fs_error(db);
	if (neo_grow(&b->recs, &b->reccap, b->nrecs + 1, sizeof(*b->recs)) != 0)
		return oom(db);
	p = &b->recs[b->nrecs++];
	memset(p, 0, sizeof(*p));
	p->oid = rec->oid;
	if (r.has_data && db->blobs && importer_blob_rev_at(db, rec->oid, rec->tid) >= 0)
		return prepare_blob(j, p, importer_blob_rev_at(db, rec->oid, rec->tid), &r);
	if (r.has_data_txn) {
		/* an undo: the data of the revision it names, imported before */
		p->kind = PREPARED_UNDO;
		p->data_txn = r.data_txn;
		return NEO_BACKEND_OK;
	}
	if (!r.has_data) {
		p->kind = PREPARED_NO_DATA;	/* an undone creation */
		return NEO_BACKEND_OK;
	}
	p->kind = PREPARED_DATA;
	if (importer_grow(&j->raw, &j->rawcap, (size_t)r.data_len + 1) != 0)
		return oom(db);
	if (fs_pread(db->fs, r.data_pos, j->raw, (size_t)r.data_len) != FS_OK)
		return fs_error(db);
	rc = importer_stored_form(db, j->raw, (size_t)r.data_len, &j->stored, &j->storedcap,
				  &data, &p->compression);
	if (rc == NEO_BACKEND_OK) {
		SHA1(data.data, data.size, p->checksum);
		p->len = data.size;
		rc = add_bytes(j, data.data, data.size, &p->off);
	}
	return rc;
}

static int prepare_txn(struct job *j, size_t txn)
{
	struct neo_db *db = j->db;
	struct batch *b = &j->batch;
	struct prepared_txn *t;
	struct fs_iter it;
	struct fs_record rec;
	int rc;

	if (neo_grow(&b->txns, &b->txncap, b->ntxns + 1, sizeof(*b->txns)) != 0)
		return oom(db);
	fs_iter_init(&it, db->fs, db->index.txns[txn].pos, 0);
	if (fs_iter_next_txn(&it) != FS_OK) {
		fs_iter_free(&it);
		return fs_error(db);
	}
	t = &b->txns[b->ntxns];
	t->tid = it.txn.tid;
	t->packed = it.txn.status == 'p';
	t->ulen = it.txn.ulen;
	t->dlen = it.txn.dlen;
	t->elen = it.txn.elen;
	t->first = b->nrecs;
	rc = add_bytes(j, it.buf, (size_t)t->ulen + t->dlen + t->elen, &t->meta);
	while (rc == NEO_BACKEND_OK && (rc = fs_iter_next_record(&it, &rec)) == FS_OK)
		rc = prepare_record(j, &rec);
	fs_iter_free(&it);
	if (rc != FS_END)
		return rc == NEO_BACKEND_OK ? fs_error(db) : rc;
	if (db->blobs) {
		rc = prepare_chunks(j, b->txns[b->ntxns].tid);
		if (rc != NEO_BACKEND_OK)
			return rc;
	}
	t = &b->txns[b->ntxns++];	/* b->txns did not move since */
	t->count = b->nrecs - t->first;
	return NEO_BACKEND_OK;
}

/* Transactions from index.txns[first] for about IMPORT_BATCH_MS. */
static int prepare_batch(struct job *j, size_t first)
{
	struct neo_db *db = j->db;
	struct batch *b = &j->batch;
	double deadline = now() + (throttle_ms() ? 0 : IMPORT_BATCH_MS / 1000.0);
	int rc;

	b->first = first;
	b->ntxns = b->nrecs = b->nbytes = 0;
	do {
		rc = prepare_txn(j, first + b->ntxns);
	} while (rc == NEO_BACKEND_OK && first + b->ntxns < db->index.ntxns &&
		 b->nbytes < PREPARED_MAX_BYTES && now() < deadline);
	if (rc != NEO_BACKEND_OK)
		b->ntxns = 0;
	return rc;
}

/* --- Writing, the lock held and the node's work committed ------------------ */

static int write_record(struct job *j, const struct prepared_txn *t,
			const struct prepared_record *p, struct neo_obj_row *row)
{
	struct neo_db *db = j->db;
	int rc = NEO_BACKEND_OK;

	memset(row, 0, sizeof(*row));
	row->partition = (uint32_t)(p->oid % j->np);
	row->oid = p->oid;
	row->tid = t->tid;
	if (p->kind == PREPARED_DATA) {
		struct neo_bytes data = { j->batch.bytes + p->off, p->len };

		row->data_id.has = true;
		rc = db->be->data_put(db->inner, row->partition, p->checksum, p->compression, data,
				      &row->data_id.id);
	} else if (p->kind == PREPARED_UNDO) {
		row->value_tid = (struct neo_opt_id){ true, p->data_txn };
		rc = db->be->obj_data_id(db->inner, row->partition, p->oid, p->data_txn,
					 &row->data_id);
		if (rc == NEO_BACKEND_NOTFOUND)
			return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: undo of oid "
					     "%016llx at %016llx names a revision not imported",
					     (unsigned long long)p->oid, (unsigned long long)t->tid);
	}
	return rc;
}

static int write_txn(struct job *j, const struct prepared_txn *t)
{
	struct neo_db *db = j->db;
	const uint8_t *meta = j->batch.bytes + t->meta;
	struct neo_trans trans = { 0 };
	int rc = NEO_BACKEND_OK;

	if (neo_grow(&j->rows, &j->rowcap, t->count + 1, sizeof(*j->rows)) != 0 ||
	    importer_grow(&j->oids, &j->oidscap, 8 * (t->count + 1)) != 0)
		return oom(db);
	for (size_t i = 0; rc == NEO_BACKEND_OK && i < t->count; i++) {
		const struct prepared_record *p = &j->batch.recs[t->first + i];

		rc = write_record(j, t, p, &j->rows[i]);
		fs_put_u64(j->oids + 8 * i, p->oid);
	}
	if (rc == NEO_BACKEND_OK && t->count)
		rc = db->be->obj_put(db->inner, j->rows, t->count, false);
	trans.partition = (uint32_t)(t->tid % j->np);
	trans.tid = trans.ttid = t->tid;
	trans.packed = t->packed;
	trans.oids = (struct neo_bytes){ j->oids, 8 * t->count };
	trans.user = (struct neo_bytes){ meta, t->ulen };
	trans.description = (struct neo_bytes){ meta + t->ulen, t->dlen };
	trans.extension = (struct neo_bytes){ meta + t->ulen + t->dlen, t->elen };
	if (rc == NEO_BACKEND_OK)
		rc = db->be->trans_put(db->inner, &trans, false);
	if (rc != NEO_BACKEND_OK && importer_thread_error(db)[0] == '\0')
		importer_fail(db, rc, "importer: %s", db->be->errmsg(db->inner));
	return rc;
}

/* The counters of the log line below; db->lock held. */
static void progress_of(struct neo_db *db, struct neo_import_progress *out)
{
	double elapsed = now() - db->started;
	uint64_t done = db->next_txn < db->index.ntxns
			? db->index.txns[db->next_txn].pos - FS_MAGIC_LEN : db->index.bytes;
	double rate = db->started > 0 && elapsed > 0
		      ? (double)(done - db->bytes_at_start) / elapsed : 0;

	memset(out, 0, sizeof(*out));
	out->finished = db->finished;
	out->transactions_done = db->next_txn;
	out->transactions_total = db->index.ntxns;
	out->bytes_done = done;
	out->bytes_total = db->index.bytes;
	out->bytes_per_second = rate;
	out->seconds_left = db->finished ? 0 : rate > 0 ? (double)(db->index.bytes - done) / rate
			    : -1;
}

static void log_progress(struct neo_db *db, bool force)
{
	double t = now();
	struct neo_import_progress p;

	if (!force && t - db->last_log < PROGRESS_EVERY_S)
		return;
	db->last_log = t;
	progress_of(db, &p);
	importer_log(db, NEO_BACKEND_LOG_INFO, "importer: %llu/%llu transactions, %.1f/%.1f MB, "
		     "%.1f MB/s, %.0f s left", (unsigned long long)p.transactions_done,
		     (unsigned long long)p.transactions_total, (double)p.bytes_done / 1e6,
		     (double)p.bytes_total / 1e6, p.bytes_per_second / 1e6,
		     p.seconds_left > 0 ? p.seconds_left : 0);
}

/* import_progress [1.2]: the same counters, for the node. */
int importer_import_progress(struct neo_db *db, struct neo_import_progress *out)
{
	pthread_mutex_lock(&db->lock);
	progress_of(db, out);
	pthread_mutex_unlock(&db->lock);
	return NEO_BACKEND_OK;
}

static int save_progress(struct neo_db *db, uint64_t tid)
{
	char text[17];
	struct neo_bytes v = { (const uint8_t *)text, 16 };
	int rc;

	snprintf(text, sizeof(text), "%016llx", (unsigned long long)tid);
	rc = db->be->config_set(db->inner, "importer_tid", &v);
	if (rc == NEO_BACKEND_OK)
		rc = db->be->commit(db->inner, NEO_BACKEND_COMMIT_SYNC);
	if (rc != NEO_BACKEND_OK)
		importer_fail(db, rc, "importer: %s", db->be->errmsg(db->inner));
	return rc;
}

/* The prepared batch into the destination, with the progress. */
static int write_batch(struct job *j)
{
	struct neo_db *db = j->db;
	struct batch *b = &j->batch;
	int rc = NEO_BACKEND_OK;

	db->thread_err[0] = '\0';
	for (size_t i = 0; rc == NEO_BACKEND_OK && i < b->ntxns; i++)
		rc = write_txn(j, &b->txns[i]);
	if (rc == NEO_BACKEND_OK)
		rc = save_progress(db, b->txns[b->ntxns - 1].tid);
	if (rc != NEO_BACKEND_OK) {
		db->be->rollback(db->inner);
		return rc;
	}
	db->next_txn = b->first + b->ntxns;
	db->imported_tid = b->txns[b->ntxns - 1].tid;
	b->ntxns = 0;
	if (db->next_txn == db->index.ntxns) {
		log_progress(db, true);
		db->finished = true;
		/* as upstream */
		importer_log(db, NEO_BACKEND_LOG_WARNING, "All data are imported. You should change "
			     "your configuration to use the native backend and restart.");
	} else {
		log_progress(db, false);
	}
	return NEO_BACKEND_OK;
}

static void wait_a_bit(struct neo_db *db, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&db->wake, &db->lock, &ts);
}

static void *import_thread(void *arg)
{
	struct job j = { .db = arg };
	struct neo_db *db = j.db;
	bool failed = false;

	importer_mark_import_thread();
	pthread_mutex_lock(&db->lock);
	db->started = now();
	while (!db->stopping) {
		if (!db->finished && !failed && j.batch.ntxns == 0) {
			size_t first = db->next_txn;

			/* read and compress without holding the destination */
			pthread_mutex_unlock(&db->lock);
			failed = prepare_batch(&j, first) != NEO_BACKEND_OK;
			pthread_mutex_lock(&db->lock);
			if (failed)
				importer_log(db, NEO_BACKEND_LOG_ERROR, "%s; the import stops",
					     importer_thread_error(db));
			continue;
		}
		if (db->dirty || (j.np = importer_partitions(db)) == 0) {
			wait_a_bit(db, db->dirty ? 5 : 200);
			continue;
		}
		if (j.batch.ntxns && write_batch(&j) != NEO_BACKEND_OK) {
			importer_log(db, NEO_BACKEND_LOG_ERROR, "%s; the import stops",
				     importer_thread_error(db));
			failed = true;
		}
		if (db->conf.writeback && importer_writeback_step(db) != 0)
			importer_log(db, NEO_BACKEND_LOG_ERROR, "%s", importer_thread_error(db));
		if (db->finished || failed) {
			if (!db->conf.writeback)
				break;
			wait_a_bit(db, 100);
		} else if (throttle_ms()) {
			wait_a_bit(db, throttle_ms());
		}
	}
	pthread_mutex_unlock(&db->lock);
	neo_free(j.batch.txns);
	neo_free(j.batch.recs);
	neo_free(j.batch.bytes);
	neo_free(j.raw);
	neo_free(j.stored);
	neo_free(j.oids);
	neo_free(j.rows);
	return NULL;
}

int importer_start(struct neo_db *db)
{
	if (db->finished && !db->conf.writeback) {
		/* as upstream, said at every start */
		importer_log(db, NEO_BACKEND_LOG_WARNING, "All data are imported. You should change "
			     "your configuration to use the native backend and restart.");
		return 0;
	}
	if (pthread_create(&db->thread, NULL, import_thread, db) != 0)
		return -1;
	db->thread_started = true;
	return 0;
}

void importer_stop(struct neo_db *db)
{
	if (!db->thread_started)
		return;
	pthread_mutex_lock(&db->lock);
	db->stopping = true;
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->lock);
	pthread_join(db->thread, NULL);
	db->thread_started = false;
}
