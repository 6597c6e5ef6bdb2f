/*
 * importer_import.c - the background import: the Data.fs's transactions
 * in tid order into the destination, each with its metadata (user,
 * description, extension, packed) and each record with its data
 * (compressed as importer_fsread.c says) or its undo pointer (ZODB's
 * data_txn, whose data id is the imported revision's).  Batches of about
 * IMPORT_BATCH_MS (short: the node's requests wait for the batch that
 * holds the destination) are one destination transaction, which also records
 * the progress (importer_tid), so that a kill -9 resumes after the last
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

struct job {
	struct neo_db *db;
	uint32_t np;
	struct fs_iter it;
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

/* One record into a row of the destination (data stored first). */
static int import_record(struct job *j, const struct fs_record *rec, struct neo_obj_row *row)
{
	struct neo_db *db = j->db;
	struct fs_resolved r;
	int rc;

	if (fs_record_resolve(db->fs, rec, &r) != FS_OK)
		return fs_error(db);
	memset(row, 0, sizeof(*row));
	row->partition = (uint32_t)(rec->oid % j->np);
	row->oid = rec->oid;
	row->tid = rec->tid;
	if (r.has_data_txn) {
		/* an undo: the data of the revision it names, imported before */
		row->value_tid = (struct neo_opt_id){ true, r.data_txn };
		rc = db->be->obj_data_id(db->inner, row->partition, rec->oid, r.data_txn,
					 &row->data_id);
		if (rc == NEO_BACKEND_NOTFOUND)
			return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: undo of oid "
					     "%016llx at %016llx names a revision not imported",
					     (unsigned long long)rec->oid,
					     (unsigned long long)rec->tid);
		return rc == NEO_BACKEND_OK ? rc : importer_fail(db, rc, "importer: %s",
								  db->be->errmsg(db->inner));
	}
	if (!r.has_data)
		return NEO_BACKEND_OK;	/* an undone creation */
	if (importer_grow(&j->raw, &j->rawcap, (size_t)r.data_len + 1) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (fs_pread(db->fs, r.data_pos, j->raw, (size_t)r.data_len) != FS_OK)
		return fs_error(db);
	rc = importer_store_data(db, j->raw, (size_t)r.data_len, row->partition, &j->stored,
				 &j->storedcap, &row->data_id.id);
	row->data_id.has = true;
	return rc;
}

/* The transaction db->index.txns[db->next_txn]. */
static int import_txn(struct job *j)
{
	struct neo_db *db = j->db;
	struct neo_trans trans = { 0 };
	struct fs_record rec;
	size_t n = 0;
	int rc;

	fs_iter_init(&j->it, db->fs, db->index.txns[db->next_txn].pos, 0);
	if (fs_iter_next_txn(&j->it) != FS_OK)
		return fs_error(db);
	while ((rc = fs_iter_next_record(&j->it, &rec)) == FS_OK) {
		if (neo_grow(&j->rows, &j->rowcap, n + 1, sizeof(*j->rows)) != 0 ||
		    importer_grow(&j->oids, &j->oidscap, 8 * (n + 1)) != 0)
			return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
		rc = import_record(j, &rec, &j->rows[n]);
		if (rc != NEO_BACKEND_OK)
			return rc;
		fs_put_u64(j->oids + 8 * n++, rec.oid);
	}
	if (rc != FS_END)
		return fs_error(db);
	rc = n ? db->be->obj_put(db->inner, j->rows, n, false) : NEO_BACKEND_OK;
	trans.partition = (uint32_t)(j->it.txn.tid % j->np);
	trans.tid = trans.ttid = j->it.txn.tid;
	trans.packed = j->it.txn.status == 'p';
	trans.oids = (struct neo_bytes){ j->oids, 8 * n };
	trans.user = (struct neo_bytes){ j->it.txn.user, j->it.txn.ulen };
	trans.description = (struct neo_bytes){ j->it.txn.description, j->it.txn.dlen };
	trans.extension = (struct neo_bytes){ j->it.txn.extension, j->it.txn.elen };
	if (rc == NEO_BACKEND_OK)
		rc = db->be->trans_put(db->inner, &trans, false);
	if (rc != NEO_BACKEND_OK)
		return importer_fail(db, rc, "importer: %s", db->be->errmsg(db->inner));
	return NEO_BACKEND_OK;
}

static void log_progress(struct neo_db *db, bool force)
{
	double t = now(), elapsed = t - db->started;
	uint64_t done = db->next_txn < db->index.ntxns
			? db->index.txns[db->next_txn].pos - FS_MAGIC_LEN : db->index.bytes;
	double rate = elapsed > 0 ? (double)(done - db->bytes_at_start) / elapsed : 0;
	double left = rate > 0 ? (double)(db->index.bytes - done) / rate : 0;

	if (!force && t - db->last_log < PROGRESS_EVERY_S)
		return;
	db->last_log = t;
	importer_log(db, NEO_BACKEND_LOG_INFO, "importer: %zu/%zu transactions, %.1f/%.1f MB, "
		     "%.1f MB/s, %.0f s left", db->next_txn, db->index.ntxns, (double)done / 1e6,
		     (double)db->index.bytes / 1e6, rate / 1e6, left);
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

/* One batch, the lock held and the node's work committed. */
static int import_batch(struct job *j)
{
	struct neo_db *db = j->db;
	double deadline = now() + (throttle_ms() ? 0 : IMPORT_BATCH_MS / 1000.0);
	size_t first = db->next_txn;
	int rc = NEO_BACKEND_OK;

	do {
		rc = import_txn(j);
		fs_iter_free(&j->it);
		if (rc != NEO_BACKEND_OK)
			break;
		db->next_txn++;
	} while (db->next_txn < db->index.ntxns && now() < deadline);
	if (rc == NEO_BACKEND_OK && db->next_txn > first)
		rc = save_progress(db, db->index.txns[db->next_txn - 1].tid);
	if (rc != NEO_BACKEND_OK) {
		db->be->rollback(db->inner);
		db->next_txn = first;
		return rc;
	}
	db->imported_tid = db->index.txns[db->next_txn - 1].tid;
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
		if (db->dirty || (j.np = importer_partitions(db)) == 0 ||
		    (failed && db->finished)) {
			wait_a_bit(db, db->dirty ? 5 : 200);
			continue;
		}
		if (!db->finished && !failed && import_batch(&j) != NEO_BACKEND_OK) {
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
		} else {
			/* let the node's thread have the lock */
			wait_a_bit(db, throttle_ms() ? throttle_ms() : 1);
		}
	}
	pthread_mutex_unlock(&db->lock);
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
