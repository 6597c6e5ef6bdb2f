/*
 * importer_import.c - the background import: the Data.fs's transactions
 * in tid order into the destination, each with its metadata (user,
 * description, extension, packed) and each record with its data
 * (compressed as importer_fsread.c says) or its undo pointer (ZODB's
 * data_txn, whose data id is the imported revision's).  Worker threads
 * read and compress chunks of transactions ahead (importer_prepare.c);
 * this thread writes them in order, as many as it can in about
 * WRITE_SLICE_MS, as one destination transaction which also records the
 * progress (importer_tid), so that a kill -9 resumes after the last
 * committed slice with nothing twice.  Slices are committed LAZY (atomic,
 * not synced: a crash of the machine may only lose the last slices,
 * imported again at the restart), with a SYNC one every SYNC_EVERY_S and
 * at the end.
 *
 * The thread waits for the node's partition table (the partition of a
 * row is its oid, or tid, modulo the number of partitions) and works only
 * while the node has nothing uncommitted (importer_module.c); it holds
 * the destination for one slice at a time, so that the node's requests
 * wait at most about WRITE_SLICE_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "importer_db.h"
#include "importer_prepare.h"
#include "runtime/alloc.h"

#define WRITE_SLICE_MS 200
#define SYNC_EVERY_S 10.0
#define PROGRESS_EVERY_S 5.0

/* For tests that must look at a cluster in the middle of an import: with
 * NEO_IMPORTER_THROTTLE_MS=N in the environment, one transaction per
 * slice and N ms between slices. */
static int throttle_ms(void)
{
	const char *v = getenv("NEO_IMPORTER_THROTTLE_MS");

	return v ? atoi(v) : 0;
}

struct writer {
	struct neo_db *db;
	uint32_t np;
	struct chunk *held;		/* taken from the workers, not written yet */
	double last_sync;
	uint8_t *oids;
	size_t oidscap;
	struct neo_obj_row *rows;
	size_t rowcap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int oom(struct neo_db *db)
{
	return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
}

/* --- Writing, the lock held and the node's work committed ------------------ */

static int write_record(struct writer *wr, const struct chunk *c, const struct prepared_txn *t,
			const struct prepared_record *p, struct neo_obj_row *row)
{
	struct neo_db *db = wr->db;
	int rc = NEO_BACKEND_OK;

	memset(row, 0, sizeof(*row));
	row->partition = (uint32_t)(p->oid % wr->np);
	row->oid = p->oid;
	row->tid = t->tid;
	if (p->kind == PREPARED_DATA) {
		struct neo_bytes data = { c->bytes + p->off, p->len };

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

static int write_txn(struct writer *wr, const struct chunk *c, const struct prepared_txn *t)
{
	struct neo_db *db = wr->db;
	const uint8_t *meta = c->bytes + t->meta;
	struct neo_trans trans = { 0 };
	int rc = NEO_BACKEND_OK;

	if (neo_grow(&wr->rows, &wr->rowcap, t->count + 1, sizeof(*wr->rows)) != 0 ||
	    importer_grow(&wr->oids, &wr->oidscap, 8 * (t->count + 1)) != 0)
		return oom(db);
	for (size_t i = 0; rc == NEO_BACKEND_OK && i < t->count; i++) {
		const struct prepared_record *p = &c->recs[t->first + i];

		rc = write_record(wr, c, t, p, &wr->rows[i]);
		fs_put_u64(wr->oids + 8 * i, p->oid);
	}
	if (rc == NEO_BACKEND_OK && t->count)
		rc = db->be->obj_put(db->inner, wr->rows, t->count, false);
	trans.partition = (uint32_t)(t->tid % wr->np);
	trans.tid = trans.ttid = t->tid;
	trans.packed = t->packed;
	trans.oids = (struct neo_bytes){ wr->oids, 8 * t->count };
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

static int save_progress(struct neo_db *db, uint64_t tid, enum neo_backend_commit_mode mode)
{
	char text[17];
	struct neo_bytes v = { (const uint8_t *)text, 16 };
	int rc;

	snprintf(text, sizeof(text), "%016llx", (unsigned long long)tid);
	rc = db->be->config_set(db->inner, "importer_tid", &v);
	if (rc == NEO_BACKEND_OK)
		rc = db->be->commit(db->inner, mode);
	if (rc != NEO_BACKEND_OK)
		importer_fail(db, rc, "importer: %s", db->be->errmsg(db->inner));
	return rc;
}

/* Writes the held chunk and the next prepared ones for about
 * WRITE_SLICE_MS, then commits them with the progress.  A failed chunk
 * taken meanwhile stays held, for the caller to see. */
static int write_slice(struct writer *wr)
{
	struct neo_db *db = wr->db;
	double deadline = now() + WRITE_SLICE_MS / 1000.0;
	enum neo_backend_commit_mode mode = NEO_BACKEND_COMMIT_LAZY;
	size_t end = db->next_txn;
	uint64_t last_tid = 0;
	int rc = NEO_BACKEND_OK;

	db->thread_err[0] = '\0';
	while (wr->held != NULL && !wr->held->failed) {
		struct chunk *c = wr->held;

		for (size_t i = 0; rc == NEO_BACKEND_OK && i < c->ntxns; i++)
			rc = write_txn(wr, c, &c->txns[i]);
		if (rc != NEO_BACKEND_OK)
			break;
		end = c->first + c->ntxns;
		last_tid = c->txns[c->ntxns - 1].tid;
		prepare_release(db->prepare, c);
		wr->held = NULL;
		if (throttle_ms() || end == db->index.ntxns || now() >= deadline)
			break;
		wr->held = prepare_next_ready(db->prepare);
	}
	if (rc == NEO_BACKEND_OK && end == db->next_txn)
		return NEO_BACKEND_OK;	/* only a failed chunk: nothing written */
	if (end == db->index.ntxns || now() - wr->last_sync >= SYNC_EVERY_S)
		mode = NEO_BACKEND_COMMIT_SYNC;
	if (rc == NEO_BACKEND_OK)
		rc = save_progress(db, last_tid, mode);
	if (rc != NEO_BACKEND_OK) {
		db->be->rollback(db->inner);
		return rc;
	}
	if (mode == NEO_BACKEND_COMMIT_SYNC)
		wr->last_sync = now();
	db->next_txn = end;
	db->imported_tid = last_tid;
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

/* The next chunk from the workers, waited for without holding the lock;
 * false when the import stops there. */
static bool take_chunk(struct writer *wr)
{
	struct neo_db *db = wr->db;

	pthread_mutex_unlock(&db->lock);
	wr->held = prepare_next(db->prepare);
	pthread_mutex_lock(&db->lock);
	if (wr->held == NULL && !db->stopping)
		wait_a_bit(db, 100);	/* cancelled: stopping soon */
	if (wr->held == NULL || !wr->held->failed)
		return true;
	importer_log(db, NEO_BACKEND_LOG_ERROR, "%s; the import stops", wr->held->err);
	prepare_cancel(db->prepare);
	return false;
}

static void *import_thread(void *arg)
{
	struct writer wr = { .db = arg };
	struct neo_db *db = wr.db;
	bool failed = false;

	importer_mark_import_thread(db->thread_err);
	pthread_mutex_lock(&db->lock);
	db->started = wr.last_sync = now();
	while (!db->stopping) {
		if (!db->finished && !failed && wr.held == NULL) {
			failed = !take_chunk(&wr);
			continue;
		}
		if (db->dirty || (wr.np = importer_partitions(db)) == 0) {
			wait_a_bit(db, db->dirty ? 5 : 200);
			continue;
		}
		if (!db->finished && !failed && write_slice(&wr) != NEO_BACKEND_OK) {
			importer_log(db, NEO_BACKEND_LOG_ERROR, "%s; the import stops",
				     importer_thread_error(db));
			prepare_cancel(db->prepare);
			failed = true;
		}
		if (!failed && wr.held != NULL && wr.held->failed) {
			importer_log(db, NEO_BACKEND_LOG_ERROR, "%s; the import stops", wr.held->err);
			prepare_cancel(db->prepare);
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
	neo_free(wr.oids);
	neo_free(wr.rows);
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
	if (!db->finished) {
		db->prepare = prepare_start(db, db->next_txn, throttle_ms() != 0);
		if (db->prepare == NULL)
			return -1;
	}
	if (pthread_create(&db->thread, NULL, import_thread, db) != 0) {
		prepare_stop(db->prepare);
		db->prepare = NULL;
		return -1;
	}
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
	if (db->prepare != NULL)
		prepare_cancel(db->prepare);
	pthread_join(db->thread, NULL);
	db->thread_started = false;
	prepare_stop(db->prepare);
	db->prepare = NULL;
}
