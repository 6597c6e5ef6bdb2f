/*
 * rocksdb_module.c - rocksdb.so's entry point, lifecycle, configuration
 * keys and partition table.
 *
 * database= is a directory, created if missing.  Durability: a SYNC
 * commit writes the batch with a synced WAL before returning (vote and
 * lock); a LAZY one (unlock, batches) writes it to the WAL without fsync,
 * which survives a crash of the process but maybe not of the machine,
 * until the next SYNC commit syncs the WAL for everything before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rocksdb_db.h"

static void release_options(struct neo_db *db)
{
	if (db->batch)
		rocksdb_writebatch_wi_destroy(db->batch);
	if (db->write_lazy)
		rocksdb_writeoptions_destroy(db->write_lazy);
	if (db->write_sync)
		rocksdb_writeoptions_destroy(db->write_sync);
	if (db->read)
		rocksdb_readoptions_destroy(db->read);
	if (db->options)
		rocksdb_options_destroy(db->options);
	if (db->table)
		rocksdb_block_based_options_destroy(db->table);
	if (db->cache)
		rocksdb_cache_destroy(db->cache);
}

static void rocks_close(struct neo_db *db)
{
	if (db == NULL)
		return;
	/* Uncommitted work is dropped with the batch, as on a crash: the
	 * node commits what must last. */
	for (int i = 0; i < NEO_CF_COUNT; i++)
		if (db->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(db->cf[i]);
	for (size_t i = 0; i < db->other_cf_count; i++)
		rocksdb_column_family_handle_destroy(db->other_cf[i]);
	free(db->other_cf);
	if (db->rdb != NULL)
		rocksdb_close(db->rdb);
	release_options(db);
	if (db->lock_fd >= 0)
		close(db->lock_fd);	/* releases the flock */
	for (int i = 0; i < NEO_ROCKS_SCRATCH_SLOTS; i++)
		free(db->scratch[i]);
	free(db->next_data_id);
	free(db->path);
	free(db);
}

/* Creates the directory if missing and takes an exclusive flock on it:
 * RocksDB's own LOCK file would refuse a second process too, but this
 * also refuses a second handle in the same process, and says so in
 * words the node understands. */
static int lock_directory(struct neo_db *db, char *err, size_t errlen)
{
	if (mkdir(db->path, 0777) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "rocksdb: cannot create directory '%s': %s", db->path,
			 strerror(errno));
		return NEO_BACKEND_EIO;
	}
	db->lock_fd = open(db->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (db->lock_fd < 0) {
		snprintf(err, errlen, "rocksdb: database= must name a directory; cannot open '%s': %s",
			 db->path, strerror(errno));
		return errno == ENOTDIR ? NEO_BACKEND_EINVAL : NEO_BACKEND_EIO;
	}
	if (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		bool busy = errno == EWOULDBLOCK;

		snprintf(err, errlen, busy ? "rocksdb: database '%s' is locked (used by another "
			 "storage node?)" : "rocksdb: cannot lock '%s': %s", db->path, strerror(errno));
		return busy ? NEO_BACKEND_ELOCKED : NEO_BACKEND_EIO;
	}
	return NEO_BACKEND_OK;
}

static int rocks_open(const struct neo_backend_open_args *args, struct neo_db **out,
		      char *err, size_t errlen)
{
	struct neo_db *db;
	int status;

	if (args->database == NULL || *args->database == '\0') {
		snprintf(err, errlen, "rocksdb: database= must name a directory");
		return NEO_BACKEND_EINVAL;
	}
	if (args->engine != NULL) {
		snprintf(err, errlen, "rocksdb: engine '%s' is a MySQL engine", args->engine);
		return NEO_BACKEND_EINVAL;
	}
	db = calloc(1, sizeof(*db));
	if (db == NULL || (db->path = strdup(args->database)) == NULL) {
		free(db);
		snprintf(err, errlen, "out of memory");
		return NEO_BACKEND_EIO;
	}
	db->lock_fd = -1;
	status = lock_directory(db, err, errlen);
	if (status == NEO_BACKEND_OK && neo_rocks_make_options(db) != NEO_BACKEND_OK) {
		snprintf(err, errlen, "out of memory");
		status = NEO_BACKEND_EIO;
	}
	if (status == NEO_BACKEND_OK)
		status = neo_rocks_open_families(db, (args->flags & NEO_BACKEND_OPEN_RESET) != 0,
						 (args->flags & NEO_BACKEND_OPEN_DEDUP) != 0,
						 err, errlen);
	if (status != NEO_BACKEND_OK) {
		rocks_close(db);
		return status;
	}
	*out = db;
	return NEO_BACKEND_OK;
}

static const char *rocks_errmsg(struct neo_db *db)
{
	return db->errmsg;
}

static int rocks_commit(struct neo_db *db, enum neo_backend_commit_mode mode)
{
	return neo_rocks_write(db, mode == NEO_BACKEND_COMMIT_SYNC);
}

static int rocks_rollback(struct neo_db *db)
{
	rocksdb_writebatch_wi_clear(db->batch);
	db->staged_refs = 0;
	/* ids handed out since the last commit are free again */
	free(db->next_data_id);
	db->next_data_id = NULL;
	db->next_data_id_count = 0;
	return NEO_BACKEND_OK;
}

static int config_key(struct neo_db *db, const char *name, struct neo_rocks_key *key)
{
	size_t size = strlen(name);

	if (size > sizeof(key->b)) {
		snprintf(db->errmsg, sizeof(db->errmsg), "configuration key '%s' is too long", name);
		return NEO_BACKEND_EINVAL;
	}
	memcpy(key->b, name, size);
	key->n = size;
	return NEO_BACKEND_OK;
}

static int rocks_config_get(struct neo_db *db, const char *name, struct neo_bytes *value)
{
	struct neo_rocks_key key;
	char *stored;
	size_t size;
	int status = config_key(db, name, &key);

	if (status == NEO_BACKEND_OK)
		status = neo_rocks_get(db, NEO_CF_CONFIG, &key, &stored, &size);
	if (status != NEO_BACKEND_OK)
		return status;
	status = neo_rocks_keep(db, 0, stored, size, value);
	free(stored);
	return status;
}

static int rocks_config_set(struct neo_db *db, const char *name, const struct neo_bytes *value)
{
	struct neo_rocks_key key;
	int status = config_key(db, name, &key);

	if (status != NEO_BACKEND_OK)
		return status;
	if (value != NULL)
		neo_rocks_put(db, NEO_CF_CONFIG, &key, value->data, value->size);
	else
		neo_rocks_delete(db, NEO_CF_CONFIG, &key);
	return NEO_BACKEND_OK;
}

/* pt keys sort by (partition, nid) with nid signed, as upstream's. */
static struct neo_rocks_key pt_key(uint32_t partition, int32_t nid)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u32(&key, partition);
	neo_rocks_key_u32(&key, (uint32_t)nid ^ 0x80000000u);
	return key;
}

#define PT_VALUE 17	/* tid, has_pack, pack */

static void pt_write(struct neo_db *db, const struct neo_pt_row *row)
{
	struct neo_rocks_key key = pt_key(row->partition, row->nid);
	uint8_t value[PT_VALUE];

	neo_rocks_put_u64(value, (uint64_t)row->tid);
	value[8] = row->pack.has;
	neo_rocks_put_u64(value + 9, row->pack.has ? row->pack.id : 0);
	neo_rocks_put(db, NEO_CF_PT, &key, value, sizeof(value));
}

static int pt_read(struct neo_db *db, rocksdb_iterator_t *it, struct neo_pt_row *row)
{
	size_t size;
	const char *value = rocksdb_iter_value(it, &size);

	if (size != PT_VALUE)
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a partition table row is malformed",
				      NULL);
	row->partition = neo_rocks_iter_u32(it, 0);
	row->nid = (int32_t)(neo_rocks_iter_u32(it, 4) ^ 0x80000000u);
	row->tid = (int64_t)neo_rocks_u64_at(value);
	row->pack.has = value[8] != 0;
	row->pack.id = neo_rocks_u64_at(value + 9);
	return NEO_BACKEND_OK;
}

static int rocks_pt_scan(struct neo_db *db, neo_pt_row_cb cb, void *ctx)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_PT);
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek_to_first(it); r == NEO_BACKEND_OK && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		struct neo_pt_row row;

		r = pt_read(db, it, &row);
		if (r == NEO_BACKEND_OK)
			r = cb(ctx, &row);
	}
	return neo_rocks_iter_close(db, it, r);
}

/* Deletes every row (reset): keys are collected first, since the batch
 * must not change under an open iterator.  A pt key is 8 bytes, so the
 * id list holds each whole key. */
static int pt_clear(struct neo_db *db)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_PT);
	struct neo_rocks_ids keys = { NULL, 0, 0 };
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek_to_first(it); status == NEO_BACKEND_OK && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it))
		status = neo_rocks_ids_add(db, &keys, neo_rocks_iter_u64(it, 0));
	status = neo_rocks_iter_close(db, it, status);
	for (size_t i = 0; status == NEO_BACKEND_OK && i < keys.count; i++) {
		struct neo_rocks_key key = { .n = 0 };

		neo_rocks_key_u64(&key, keys.ids[i]);
		neo_rocks_delete(db, NEO_CF_PT, &key);
	}
	neo_rocks_ids_free(&keys);
	return status;
}

static int pt_apply_row(struct neo_db *db, const struct neo_pt_row *row)
{
	struct neo_rocks_key key = pt_key(row->partition, row->nid);
	struct neo_pt_row stored = *row;
	char *value;
	size_t size;
	int status;

	if (row->tid == INT64_MIN) {
		neo_rocks_delete(db, NEO_CF_PT, &key);
		return NEO_BACKEND_OK;
	}
	status = neo_rocks_get(db, NEO_CF_PT, &key, &value, &size);
	if (status == NEO_BACKEND_OK) {
		/* As upstream: an existing row keeps its pack, only tid changes. */
		stored.pack.has = size == PT_VALUE && value[8] != 0;
		stored.pack.id = size == PT_VALUE ? neo_rocks_u64_at(value + 9) : 0;
		free(value);
	} else if (status != NEO_BACKEND_NOTFOUND) {
		return status;
	}
	pt_write(db, &stored);
	return NEO_BACKEND_OK;
}

static int rocks_pt_apply(struct neo_db *db, const struct neo_pt_row *rows, size_t count,
			  bool reset)
{
	int status = reset ? pt_clear(db) : NEO_BACKEND_OK;

	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++)
		status = pt_apply_row(db, &rows[i]);
	return status;
}

static int rocks_pt_set_packed(struct neo_db *db, uint32_t partition, int32_t nid,
			       uint64_t pack_id)
{
	struct neo_rocks_key key = pt_key(partition, nid);
	struct neo_pt_row row = { partition, nid, 0, { true, pack_id } };
	char *value;
	size_t size;
	int status = neo_rocks_get(db, NEO_CF_PT, &key, &value, &size);

	if (status != NEO_BACKEND_OK)
		return status;
	if (size == PT_VALUE)
		row.tid = (int64_t)neo_rocks_u64_at(value);
	free(value);
	pt_write(db, &row);
	return NEO_BACKEND_OK;
}

static const struct neo_backend rocksdb_backend = {
	.abi_major = NEO_BACKEND_ABI_MAJOR,
	.abi_minor = NEO_BACKEND_ABI_MINOR,
	.struct_size = sizeof(struct neo_backend),
	.name = "rocksdb",
	.engines = NULL,
	.open = rocks_open,
	.close = rocks_close,
	.errmsg = rocks_errmsg,
	.commit = rocks_commit,
	.rollback = rocks_rollback,
	.device_path = neo_rocks_device_path,
	.db_size = neo_rocks_db_size,
	.config_get = rocks_config_get,
	.config_set = rocks_config_set,
	.pt_scan = rocks_pt_scan,
	.pt_apply = rocks_pt_apply,
	.pt_set_packed = rocks_pt_set_packed,
	.data_put = neo_rocks_data_put,
	.data_get = neo_rocks_data_get,
	.data_prune = neo_rocks_data_prune,
	.data_orphans = neo_rocks_data_orphans,
	.obj_get = neo_rocks_obj_get,
	.obj_last_serial = neo_rocks_obj_last_serial,
	.obj_data_id = neo_rocks_obj_data_id,
	.obj_history = neo_rocks_obj_history,
	.obj_undo_history = neo_rocks_obj_undo_history,
	.obj_put = neo_rocks_obj_put,
	.obj_delete = neo_rocks_obj_delete,
	.trans_put = neo_rocks_trans_put,
	.trans_get = neo_rocks_trans_get,
	.trans_delete = neo_rocks_trans_delete,
	.final_tid = neo_rocks_final_tid,
	.txn_lock = neo_rocks_txn_lock,
	.txn_unlock = neo_rocks_txn_unlock,
	.txn_abort = neo_rocks_txn_abort,
	.txn_unfinished = neo_rocks_txn_unfinished,
	.txn_staged_data_ids = neo_rocks_txn_staged_data_ids,
	.tid_list_desc = neo_rocks_tid_list_desc,
	.tid_range = neo_rocks_tid_range,
	.obj_range = neo_rocks_obj_range,
	.oid_range = neo_rocks_oid_range,
	.last_obj_ids = neo_rocks_last_obj_ids,
	.last_trans_tid = neo_rocks_last_trans_tid,
	.first_trans_tid = neo_rocks_first_trans_tid,
	.pack_order_put = neo_rocks_pack_order_put,
	.pack_order_rename = neo_rocks_pack_order_rename,
	.pack_order_sign = neo_rocks_pack_order_sign,
	.pack_orders_from = neo_rocks_pack_orders_from,
	.pack_oid = neo_rocks_pack_oid,
	.range_delete = neo_rocks_range_delete,
	.drop_step = neo_rocks_drop_step,
};

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	if (host_abi_major != NEO_BACKEND_ABI_MAJOR)
		return NULL;
	return &rocksdb_backend;
}
