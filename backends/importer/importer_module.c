/*
 * importer_module.c - importer.so's entry point, open and close, and the
 * operations passed to the destination as they are (writes, commits, the
 * partition table, configuration keys).  The reads that the Data.fs
 * answers during the import are in importer_reads.c.
 *
 * Every call on the destination holds db->lock, since the import thread
 * shares the handle (core/neo/backend.md section 7 allows a module its
 * own threads when every operation has finished with the handle when it
 * returns).  db->dirty tells the import thread that the node has written
 * something it has not committed yet, so that the thread does not commit
 * half of the node's work: it waits.  Data rows written at store time do
 * not count: the node commits them only at vote, possibly much later, and
 * committing them earlier is harmless (a crash would leave orphan data
 * rows, as a crash between store and vote does anyway).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "importer_db.h"
#include "runtime/alloc.h"
#include "runtime/options.h"

void importer_log(struct neo_db *db, enum neo_backend_log_level level, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	if (db->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	db->log(db->log_ctx, level, message);
}

/* The import thread's messages go apart, so that they never replace the
 * message of the node's last failed operation before errmsg() reads it. */
static _Thread_local char *thread_errbuf;

void importer_mark_import_thread(char *buf)
{
	thread_errbuf = buf;
}

const char *importer_thread_error(struct neo_db *db)
{
	return db->thread_err;
}

int importer_fail(struct neo_db *db, int status, const char *fmt, ...)
{
	char *buf = thread_errbuf ? thread_errbuf : db->errmsg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(db->errmsg), fmt, ap);
	va_end(ap);
	return status;
}

int importer_grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	return neo_grow(buf, cap, need, 1);
}

int importer_keep(struct neo_db *db, int slot, struct neo_bytes *bytes)
{
	if (bytes->size == 0)
		return NEO_BACKEND_OK;
	if (importer_grow(&db->keep[slot], &db->keepcap[slot], bytes->size) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	memcpy(db->keep[slot], bytes->data, bytes->size);
	bytes->data = db->keep[slot];
	return NEO_BACKEND_OK;
}

/* The destination's status, its message kept for errmsg(). */
static int inner(struct neo_db *db, int rc)
{
	if (rc != NEO_BACKEND_OK && rc != NEO_BACKEND_NOTFOUND)
		snprintf(db->errmsg, sizeof(db->errmsg), "%s", db->be->errmsg(db->inner));
	return rc;
}

static int max_partition(void *ctx, const struct neo_pt_row *row)
{
	uint32_t *np = ctx;

	if (row->partition + 1 > *np)
		*np = row->partition + 1;
	return 0;
}

/* As upstream, the number of partitions is the greatest partition of the
 * stored table plus one (core/neo/backend.md section 9.1); 0 before the
 * master sent one.  The caller holds the lock. */
uint32_t importer_partitions(struct neo_db *db)
{
	uint32_t np = 0;

	if (db->be->pt_scan(db->inner, max_partition, &np) != NEO_BACKEND_OK)
		return 0;
	return np;
}

/* --- Lifecycle -------------------------------------------------------------- */

/* A module named without a path is looked for beside importer.so first
 * (where make install puts them all, and in a build tree), then where
 * the node's loader looks. */
static const char *beside_us(const char *module, char *path, size_t len)
{
	Dl_info info;
	const char *slash;

	if (strchr(module, '/') != NULL || dladdr((void *)beside_us, &info) == 0 ||
	    info.dli_fname == NULL || (slash = strrchr(info.dli_fname, '/')) == NULL)
		return module;
	snprintf(path, len, "%.*s/%s.so", (int)(slash - info.dli_fname), info.dli_fname, module);
	return access(path, R_OK) == 0 ? path : module;
}

static int open_destination(struct neo_db *db, const struct neo_backend_open_args *args,
			    char *err, size_t errlen)
{
	struct neo_backend_open_args inner_args = { .struct_size = sizeof inner_args };
	const char *module, *mysql_engine;
	char why[512], path[4096];
	int rc;

	if (neo_backend_choice(db->conf.adapter, db->conf.engine, &module, &mysql_engine, why,
			       sizeof why) < 0 ||
	    neo_backend_load(beside_us(module, path, sizeof path), &db->module, why,
			     sizeof why) < 0) {
		snprintf(err, errlen, "importer: destination: %s", why);
		return NEO_BACKEND_EINVAL;
	}
	if (strcmp(db->module.ops->name, "importer") == 0) {
		snprintf(err, errlen, "importer: the destination cannot be an Importer");
		return NEO_BACKEND_EINVAL;
	}
	db->be = db->module.ops;
	inner_args.database = db->conf.database;
	inner_args.engine = mysql_engine;
	inner_args.wait_seconds = db->conf.wait_seconds == -2 ? args->wait_seconds
							      : db->conf.wait_seconds;
	inner_args.flags = args->flags;
	inner_args.log = args->log;
	inner_args.log_ctx = args->log_ctx;
	rc = db->be->open(&inner_args, &db->inner, why, sizeof why);
	if (rc != NEO_BACKEND_OK)
		snprintf(err, errlen, "importer: destination %s (%s): %s", db->conf.database,
			 db->module.path, why);
	return rc;
}

static int read_u64_key(struct neo_db *db, const char *key, uint64_t *value, bool *found)
{
	struct neo_bytes v;
	char text[32];
	int rc = db->be->config_get(db->inner, key, &v);

	*found = false;
	if (rc == NEO_BACKEND_NOTFOUND)
		return NEO_BACKEND_OK;
	if (rc != NEO_BACKEND_OK)
		return inner(db, rc);
	if (v.size == 0 || v.size >= sizeof(text))
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: bad %s", key);
	memcpy(text, v.data, v.size);
	text[v.size] = '\0';
	*value = strtoull(text, NULL, 16);
	*found = true;
	return NEO_BACKEND_OK;
}

static int write_u64_key(struct neo_db *db, const char *key, uint64_t value)
{
	char text[17];
	struct neo_bytes v = { (const uint8_t *)text, 16 };

	snprintf(text, sizeof(text), "%016llx", (unsigned long long)value);
	return inner(db, db->be->config_set(db->inner, key, &v));
}

/* The tid up to which the Data.fs is imported is fixed at the first
 * start (importer_ltid), so that transactions that writeback appends later
 * are never taken for the source's. */
static int load_progress(struct neo_db *db, char *err, size_t errlen)
{
	bool has_ltid, has_tid;
	uint64_t ltid = 0, tid = 0;
	int rc = read_u64_key(db, "importer_ltid", &ltid, &has_ltid);

	if (rc == NEO_BACKEND_OK)
		rc = read_u64_key(db, "importer_tid", &tid, &has_tid);
	if (rc == NEO_BACKEND_OK && !has_ltid) {
		rc = fs_scan_end(db->fs);
		if (rc != FS_OK) {
			snprintf(err, errlen, "importer: %s", db->fs->err);
			return NEO_BACKEND_ECORRUPT;
		}
		ltid = db->fs->last_tid;
		rc = write_u64_key(db, "importer_ltid", ltid);
		if (rc == NEO_BACKEND_OK)
			rc = inner(db, db->be->commit(db->inner, NEO_BACKEND_COMMIT_SYNC));
		has_tid = false;
	}
	if (rc != NEO_BACKEND_OK) {
		snprintf(err, errlen, "importer: %s", db->errmsg);
		return rc;
	}
	db->fs_ltid = ltid;
	db->imported_tid = has_tid ? tid : 0;
	return NEO_BACKEND_OK;
}

static int open_source(struct neo_db *db, char *err, size_t errlen)
{
	int rc = fs_open(db->conf.fs_path, db->conf.writeback, false, &db->fs, err, errlen);

	if (rc == FS_EFORMAT) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, ": our Importer reads FileStorage only (copy another "
			 "storage into NEO with neomigrate)");
	}
	if (rc != FS_OK)
		return rc == FS_EFORMAT ? NEO_BACKEND_EINVAL : NEO_BACKEND_EIO;
	return NEO_BACKEND_OK;
}

static int build_index(struct neo_db *db, char *err, size_t errlen)
{
	int rc = fs_index_build(db->fs, db->fs_ltid, &db->index);

	if (rc != FS_OK) {
		snprintf(err, errlen, "importer: %s", db->fs->err);
		return NEO_BACKEND_ECORRUPT;
	}
	if (db->fs_ltid && (db->index.ntxns == 0 ||
			    db->index.txns[db->index.ntxns - 1].tid != db->fs_ltid)) {
		snprintf(err, errlen, "importer: %s no longer holds the transaction %016llx "
			 "it was being imported up to", db->conf.fs_path,
			 (unsigned long long)db->fs_ltid);
		return NEO_BACKEND_ECORRUPT;
	}
	db->next_txn = fs_index_txn_from(&db->index, db->imported_tid + 1);
	db->finished = db->next_txn >= db->index.ntxns;
	db->bytes_at_start = db->next_txn < db->index.ntxns
			     ? db->index.txns[db->next_txn].pos - FS_MAGIC_LEN : db->index.bytes;
	return NEO_BACKEND_OK;
}

static void importer_close(struct neo_db *db);

static int importer_open(const struct neo_backend_open_args *args, struct neo_db **out,
			 char *err, size_t errlen)
{
	struct neo_db *db = neo_calloc(1, sizeof(*db));
	char why[768];
	int rc;

	if (db == NULL) {
		snprintf(err, errlen, "importer: out of memory");
		return NEO_BACKEND_EIO;
	}
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->wake, NULL);
	db->log = args->log;
	db->log_ctx = args->log_ctx;
	if (importer_conf_read(args->database, &db->conf, why, sizeof why) != 0) {
		snprintf(err, errlen, "importer: %s", why);
		importer_close(db);
		return NEO_BACKEND_EINVAL;
	}
	rc = open_source(db, err, errlen);
	if (rc == NEO_BACKEND_OK)
		rc = open_destination(db, args, err, errlen);
	if (rc == NEO_BACKEND_OK)
		rc = load_progress(db, err, errlen);
	if (rc == NEO_BACKEND_OK)
		rc = build_index(db, err, errlen);
	if (rc == NEO_BACKEND_OK)
		rc = importer_blobs_open(db, err, errlen);
	if (rc == NEO_BACKEND_OK && db->conf.writeback && importer_writeback_open(db) != 0) {
		snprintf(err, errlen, "%s", db->errmsg);
		rc = NEO_BACKEND_EIO;
	}
	if (rc == NEO_BACKEND_OK && importer_start(db) != 0) {
		snprintf(err, errlen, "importer: cannot start the import thread");
		rc = NEO_BACKEND_EIO;
	}
	if (rc != NEO_BACKEND_OK) {
		importer_close(db);
		return rc;
	}
	importer_log(db, NEO_BACKEND_LOG_INFO, "importer: %s (%zu transactions, %llu bytes, up "
		     "to tid %016llx) into %s: %zu of %zu transactions already imported; pack is "
		     "refused while this backend is used", db->conf.fs_path, db->index.ntxns,
		     (unsigned long long)db->index.bytes, (unsigned long long)db->fs_ltid,
		     db->module.path, db->next_txn, db->index.ntxns);
	*out = db;
	return NEO_BACKEND_OK;
}

static void importer_close(struct neo_db *db)
{
	importer_stop(db);
	if (db->inner)
		db->be->close(db->inner);
	if (db->module.handle)
		neo_backend_unload(&db->module);
	importer_blobs_close(db);
	fs_index_free(&db->index);
	fs_close(db->fs);
	importer_conf_free(&db->conf);
	neo_free(db->last_tid_of);
	neo_free(db->last_oid_of);
	neo_free(db->has_last_of);
	neo_free(db->appended);
	neo_free(db->out);
	neo_free(db->out2);
	importer_deflate_end(&db->deflate);
	for (int i = 0; i < 4; i++)
		neo_free(db->keep[i]);
	pthread_cond_destroy(&db->wake);
	pthread_mutex_destroy(&db->lock);
	neo_free(db);
}

static const char *importer_errmsg(struct neo_db *db)
{
	return db->errmsg;
}

/* --- Passed through ----------------------------------------------------------- */

/* lock(db) or lock_write(db) (which marks the node's uncommitted write),
 * then `return unlock(db, be->op(...))`. */
static void lock(struct neo_db *db)
{
	pthread_mutex_lock(&db->lock);
}

static void lock_write(struct neo_db *db)
{
	pthread_mutex_lock(&db->lock);
	db->dirty = true;
}

static int unlock(struct neo_db *db, int rc)
{
	rc = inner(db, rc);
	pthread_mutex_unlock(&db->lock);
	return rc;
}

static int importer_commit(struct neo_db *db, enum neo_backend_commit_mode mode)
{
	int rc;

	pthread_mutex_lock(&db->lock);
	rc = inner(db, db->be->commit(db->inner, mode));
	if (rc == NEO_BACKEND_OK)
		db->dirty = false;
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->lock);
	return rc;
}

static int importer_rollback(struct neo_db *db)
{
	int rc;

	pthread_mutex_lock(&db->lock);
	rc = inner(db, db->be->rollback(db->inner));
	db->dirty = false;
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->lock);
	return rc;
}

static int importer_device_path(struct neo_db *db, struct neo_bytes *path)
{
	int rc;

	if (db->be->device_path == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no device_path");
	lock(db);
	rc = db->be->device_path(db->inner, path);
	if (rc == NEO_BACKEND_OK)
		rc = importer_keep(db, 0, path);
	return unlock(db, rc);
}

static int importer_config_get(struct neo_db *db, const char *key, struct neo_bytes *value)
{
	int rc;

	lock(db);
	rc = db->be->config_get(db->inner, key, value);
	if (rc == NEO_BACKEND_OK)
		rc = importer_keep(db, 0, value);
	return unlock(db, rc);
}

static int importer_config_set(struct neo_db *db, const char *key, const struct neo_bytes *value)
{
	lock_write(db);
	return unlock(db, db->be->config_set(db->inner, key, value));
}

static int importer_pt_scan(struct neo_db *db, neo_pt_row_cb cb, void *ctx)
{
	lock(db);
	return unlock(db, db->be->pt_scan(db->inner, cb, ctx));
}

/* As upstream ("Importer backend can only be used with a single storage
 * node"), while the Data.fs is imported no other storage node may have a
 * cell: a node replicating to this one would write rows that the import
 * writes too, and one replicating from it, or made up to date at the
 * cluster's creation, would hold only part of the history.  Such a table
 * is refused, with a message; cells removed (tid INT64_MIN) are fine.
 * The caller holds the lock. */
static int check_only_node(struct neo_db *db, const struct neo_pt_row *rows, size_t count)
{
	struct neo_bytes v;
	char text[32];
	long long own;

	if (db->finished || db->be->config_get(db->inner, "nid", &v) != NEO_BACKEND_OK ||
	    v.size == 0 || v.size >= sizeof(text))
		return NEO_BACKEND_OK;
	memcpy(text, v.data, v.size);
	text[v.size] = '\0';
	own = strtoll(text, NULL, 10);
	for (size_t i = 0; i < count; i++) {
		if (rows[i].nid == own || rows[i].tid == INT64_MIN)
			continue;
		importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: the partition table gives "
			      "partition %u to storage node %d too: while the Data.fs is imported, "
			      "the Importer's node must be the only storage node (as upstream); add "
			      "storage nodes once \"All data are imported\" is logged and this node "
			      "is switched to its destination backend", (unsigned)rows[i].partition,
			      (int)rows[i].nid);
		importer_log(db, NEO_BACKEND_LOG_ERROR, "%s", db->errmsg);
		return NEO_BACKEND_ECORRUPT;
	}
	return NEO_BACKEND_OK;
}

static int importer_pt_apply(struct neo_db *db, const struct neo_pt_row *rows, size_t count,
			     bool reset)
{
	int rc;

	lock_write(db);
	rc = check_only_node(db, rows, count);
	if (rc != NEO_BACKEND_OK) {
		pthread_mutex_unlock(&db->lock);
		return rc;
	}
	return unlock(db, db->be->pt_apply(db->inner, rows, count, reset));
}

static int importer_pt_set_packed(struct neo_db *db, uint32_t partition, int32_t nid,
				  uint64_t pack_id)
{
	if (db->be->pt_set_packed == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no pt_set_packed");
	lock_write(db);
	return unlock(db, db->be->pt_set_packed(db->inner, partition, nid, pack_id));
}

static int importer_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
			     uint8_t compression, struct neo_bytes data, uint64_t *data_id)
{
	lock(db);
	return unlock(db, db->be->data_put(db->inner, partition, checksum, compression, data, data_id));
}

/* FileStorage data ids are not rows: nothing to prune. */
static int importer_data_prune(struct neo_db *db, const uint64_t *ids, size_t count,
			       size_t *pruned)
{
	uint64_t *mine = neo_malloc(count * sizeof(*ids) + 1);
	size_t n = 0;
	int rc;

	if (mine == NULL)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	for (size_t i = 0; i < count; i++)
		if (!(ids[i] & IMPORTER_FS_DATA_ID))
			mine[n++] = ids[i];
	*pruned = 0;
	pthread_mutex_lock(&db->lock);
	db->dirty = true;
	rc = n ? inner(db, db->be->data_prune(db->inner, mine, n, pruned)) : NEO_BACKEND_OK;
	pthread_mutex_unlock(&db->lock);
	neo_free(mine);
	return rc;
}

static int importer_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	if (db->be->data_orphans == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no data_orphans");
	lock(db);
	return unlock(db, db->be->data_orphans(db->inner, cb, ctx));
}

/* Rows that name FileStorage data (an undo of a revision not imported
 * yet) get a data row of the destination first.  Holds the lock. */
static int import_fs_data_ids(struct neo_db *db, struct neo_obj_row *rows, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint8_t compression, checksum[20];
		struct neo_bytes data;
		uint64_t id;
		int rc;

		if (!rows[i].data_id.has || !(rows[i].data_id.id & IMPORTER_FS_DATA_ID))
			continue;
		rc = importer_fs_data(db, rows[i].data_id.id, &compression, checksum, &data,
				      &db->out, &db->outcap);
		if (rc == NEO_BACKEND_OK)
			rc = inner(db, db->be->data_put(db->inner, rows[i].partition, checksum,
							compression, data, &id));
		if (rc != NEO_BACKEND_OK)
			return rc;
		rows[i].data_id.id = id;
	}
	return NEO_BACKEND_OK;
}

static int importer_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
			    bool temporary)
{
	struct neo_obj_row *copy = neo_malloc(count * sizeof(*rows) + 1);
	int rc;

	if (copy == NULL)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (count)
		memcpy(copy, rows, count * sizeof(*rows));
	pthread_mutex_lock(&db->lock);
	db->dirty = true;
	rc = import_fs_data_ids(db, copy, count);
	if (rc == NEO_BACKEND_OK)
		rc = inner(db, db->be->obj_put(db->inner, copy, count, temporary));
	pthread_mutex_unlock(&db->lock);
	neo_free(copy);
	return rc;
}

static int importer_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			       const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx)
{
	lock_write(db);
	return unlock(db, db->be->obj_delete(db->inner, partition, oid, serial, data_ids, ctx));
}

static int importer_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary)
{
	lock_write(db);
	return unlock(db, db->be->trans_put(db->inner, trans, temporary));
}

static int importer_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid)
{
	lock_write(db);
	return unlock(db, db->be->trans_delete(db->inner, partition, tid));
}

static int importer_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	lock_write(db);
	return unlock(db, db->be->txn_lock(db->inner, ttid, tid));
}

static int importer_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			       void *ctx)
{
	lock_write(db);
	return unlock(db, db->be->txn_unlock(db->inner, ttid, tid, data_ids, ctx));
}

static int importer_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx)
{
	lock_write(db);
	return unlock(db, db->be->txn_abort(db->inner, ttid, data_ids, ctx));
}

static int importer_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx)
{
	lock(db);
	return unlock(db, db->be->txn_unfinished(db->inner, cb, ctx));
}

static int importer_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	if (db->be->txn_staged_data_ids == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no txn_staged_data_ids");
	lock(db);
	return unlock(db, db->be->txn_staged_data_ids(db->inner, cb, ctx));
}

/* As upstream: no truncation below the imported data (a restart would
 * import it again, and writeback has no way to truncate a Data.fs). */
static int importer_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
				 uint64_t max_tid, neo_id_cb data_ids, void *ctx)
{
	if (min_tid < db->fs_ltid || db->conf.writeback)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: truncation below the "
				     "imported Data.fs (tid %016llx), or with writeback, is refused",
				     (unsigned long long)db->fs_ltid);
	lock_write(db);
	return unlock(db, db->be->range_delete(db->inner, partition, min_tid, max_tid, data_ids,
					      ctx));
}

static int importer_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			      neo_id_cb data_ids, void *ctx, bool *done)
{
	if (db->be->drop_step == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no drop_step");
	lock_write(db);
	return unlock(db, db->be->drop_step(db->inner, partition, count, data_ids, ctx, done));
}

static struct neo_backend importer_table = {
	.abi_major = NEO_BACKEND_ABI_MAJOR,
	.abi_minor = NEO_BACKEND_ABI_MINOR,
	.struct_size = sizeof(struct neo_backend),
	.name = "importer",
	.engines = NULL,
	.open = importer_open,
	.close = importer_close,
	.errmsg = importer_errmsg,
	.commit = importer_commit,
	.rollback = importer_rollback,
	.device_path = importer_device_path,
	.config_get = importer_config_get,
	.config_set = importer_config_set,
	.pt_scan = importer_pt_scan,
	.pt_apply = importer_pt_apply,
	.pt_set_packed = importer_pt_set_packed,
	.data_put = importer_data_put,
	.data_prune = importer_data_prune,
	.data_orphans = importer_data_orphans,
	.obj_put = importer_obj_put,
	.obj_delete = importer_obj_delete,
	.trans_put = importer_trans_put,
	.trans_delete = importer_trans_delete,
	.txn_lock = importer_txn_lock,
	.txn_unlock = importer_txn_unlock,
	.txn_abort = importer_txn_abort,
	.txn_unfinished = importer_txn_unfinished,
	.txn_staged_data_ids = importer_txn_staged_data_ids,
	.range_delete = importer_range_delete,
	.drop_step = importer_drop_step,
	.import_progress = importer_import_progress,
	/* pack_*: NULL.  As upstream, this backend is never packed; a pack
	 * order is refused at vote with BACKEND_NOT_IMPLEMENTED. */
};

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	static bool ready;

	if (host_abi_major != NEO_BACKEND_ABI_MAJOR)
		return NULL;
	if (!ready) {
		importer_reads_table(&importer_table);
		ready = true;
	}
	return &importer_table;
}
