/*
 * example_backend.c - the smallest module the loader accepts, built with
 * nothing but <neo/backend.h>.  It stores nothing: it shows the shape of
 * a module (one exported entry point, a versioned table, a handle of the
 * module's own, every [mandatory] operation of neo/backend.h, here
 * answering ENOTSUP, and the [optional] ones left NULL) to third parties
 * and to the loader's tests.
 */
#include <stdio.h>
#include <stdlib.h>

#include <neo/backend.h>

struct neo_db {
	char database[256];
};

static int example_open(const struct neo_backend_open_args *args, struct neo_db **db,
			char *err, size_t errlen)
{
	struct neo_db *handle = calloc(1, sizeof(*handle));

	if (handle == NULL) {
		snprintf(err, errlen, "out of memory");
		return NEO_BACKEND_EIO;
	}
	snprintf(handle->database, sizeof(handle->database), "%s",
		 args->database ? args->database : "");
	*db = handle;
	return NEO_BACKEND_OK;
}

static void example_close(struct neo_db *db)
{
	free(db);
}

static const char *example_errmsg(struct neo_db *db)
{
	(void)db;
	return "the example backend stores nothing";
}

/* The mandatory operations: a real module stores and finds rows here. */
#define UNUSED(x) (void)(x)

static int example_commit(struct neo_db *db, enum neo_backend_commit_mode mode)
{
	UNUSED(db), UNUSED(mode);
	return NEO_BACKEND_ENOTSUP;
}

static int example_rollback(struct neo_db *db)
{
	UNUSED(db);
	return NEO_BACKEND_ENOTSUP;
}

static int example_config_get(struct neo_db *db, const char *key, struct neo_bytes *value)
{
	UNUSED(db), UNUSED(key), UNUSED(value);
	return NEO_BACKEND_ENOTSUP;
}

static int example_config_set(struct neo_db *db, const char *key, const struct neo_bytes *value)
{
	UNUSED(db), UNUSED(key), UNUSED(value);
	return NEO_BACKEND_ENOTSUP;
}

static int example_pt_scan(struct neo_db *db, neo_pt_row_cb cb, void *ctx)
{
	UNUSED(db), UNUSED(cb), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_pt_apply(struct neo_db *db, const struct neo_pt_row *rows, size_t count,
			    bool reset)
{
	UNUSED(db), UNUSED(rows), UNUSED(count), UNUSED(reset);
	return NEO_BACKEND_ENOTSUP;
}

static int example_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
			    uint8_t compression, struct neo_bytes data, uint64_t *data_id)
{
	UNUSED(db), UNUSED(partition), UNUSED(checksum), UNUSED(compression), UNUSED(data);
	UNUSED(data_id);
	return NEO_BACKEND_ENOTSUP;
}

static int example_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
			    uint8_t checksum[20], struct neo_bytes *data)
{
	UNUSED(db), UNUSED(data_id), UNUSED(compression), UNUSED(checksum), UNUSED(data);
	return NEO_BACKEND_ENOTSUP;
}

static int example_data_prune(struct neo_db *db, const uint64_t *ids, size_t count,
			      size_t *pruned)
{
	UNUSED(db), UNUSED(ids), UNUSED(count), UNUSED(pruned);
	return NEO_BACKEND_ENOTSUP;
}

static int example_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
			   enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out)
{
	UNUSED(db), UNUSED(partition), UNUSED(oid), UNUSED(at), UNUSED(tid), UNUSED(out);
	return NEO_BACKEND_ENOTSUP;
}

static int example_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
				   uint64_t *serial)
{
	UNUSED(db), UNUSED(partition), UNUSED(oid), UNUSED(serial);
	return NEO_BACKEND_ENOTSUP;
}

static int example_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t serial, struct neo_opt_id *data_id)
{
	UNUSED(db), UNUSED(partition), UNUSED(oid), UNUSED(serial), UNUSED(data_id);
	return NEO_BACKEND_ENOTSUP;
}

static int example_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
			   bool temporary)
{
	UNUSED(db), UNUSED(rows), UNUSED(count), UNUSED(temporary);
	return NEO_BACKEND_ENOTSUP;
}

static int example_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			      const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx)
{
	UNUSED(db), UNUSED(partition), UNUSED(oid), UNUSED(serial), UNUSED(data_ids), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary)
{
	UNUSED(db), UNUSED(trans), UNUSED(temporary);
	return NEO_BACKEND_ENOTSUP;
}

static int example_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			     bool include_locked_temporary, struct neo_trans *out)
{
	UNUSED(db), UNUSED(partition), UNUSED(tid), UNUSED(include_locked_temporary), UNUSED(out);
	return NEO_BACKEND_ENOTSUP;
}

static int example_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid)
{
	UNUSED(db), UNUSED(partition), UNUSED(tid);
	return NEO_BACKEND_ENOTSUP;
}

static int example_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid,
			     uint64_t *tid)
{
	UNUSED(db), UNUSED(partition), UNUSED(ttid), UNUSED(tid);
	return NEO_BACKEND_ENOTSUP;
}

static int example_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	UNUSED(db), UNUSED(ttid), UNUSED(tid);
	return NEO_BACKEND_ENOTSUP;
}

static int example_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			      void *ctx)
{
	UNUSED(db), UNUSED(ttid), UNUSED(tid), UNUSED(data_ids), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx)
{
	UNUSED(db), UNUSED(ttid), UNUSED(data_ids), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx)
{
	UNUSED(db), UNUSED(cb), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			     uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx)
{
	UNUSED(db), UNUSED(partition), UNUSED(min_tid), UNUSED(max_tid), UNUSED(length);
	UNUSED(cb), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			     uint64_t min_oid, uint64_t max_tid, uint64_t length,
			     neo_id_pair_cb cb, void *ctx)
{
	UNUSED(db), UNUSED(partition), UNUSED(min_tid), UNUSED(min_oid), UNUSED(max_tid);
	UNUSED(length), UNUSED(cb), UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static int example_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid,
				uint64_t *oid)
{
	UNUSED(db), UNUSED(partition), UNUSED(tid), UNUSED(oid);
	return NEO_BACKEND_ENOTSUP;
}

static int example_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
				  uint64_t *tid)
{
	UNUSED(db), UNUSED(partition), UNUSED(max_tid), UNUSED(tid);
	return NEO_BACKEND_ENOTSUP;
}

static int example_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid)
{
	UNUSED(db), UNUSED(partition), UNUSED(tid);
	return NEO_BACKEND_ENOTSUP;
}

static int example_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
				uint64_t max_tid, neo_id_cb data_ids, void *ctx)
{
	UNUSED(db), UNUSED(partition), UNUSED(min_tid), UNUSED(max_tid), UNUSED(data_ids);
	UNUSED(ctx);
	return NEO_BACKEND_ENOTSUP;
}

static const struct neo_backend example_backend = {
	.abi_major = NEO_BACKEND_ABI_MAJOR,
	.abi_minor = NEO_BACKEND_ABI_MINOR,
	.struct_size = sizeof(struct neo_backend),
	.name = "example",
	.open = example_open,
	.close = example_close,
	.errmsg = example_errmsg,
	.commit = example_commit,
	.rollback = example_rollback,
	.config_get = example_config_get,
	.config_set = example_config_set,
	.pt_scan = example_pt_scan,
	.pt_apply = example_pt_apply,
	.data_put = example_data_put,
	.data_get = example_data_get,
	.data_prune = example_data_prune,
	.obj_get = example_obj_get,
	.obj_last_serial = example_obj_last_serial,
	.obj_data_id = example_obj_data_id,
	.obj_put = example_obj_put,
	.obj_delete = example_obj_delete,
	.trans_put = example_trans_put,
	.trans_get = example_trans_get,
	.trans_delete = example_trans_delete,
	.final_tid = example_final_tid,
	.txn_lock = example_txn_lock,
	.txn_unlock = example_txn_unlock,
	.txn_abort = example_txn_abort,
	.txn_unfinished = example_txn_unfinished,
	.tid_range = example_tid_range,
	.obj_range = example_obj_range,
	.last_obj_ids = example_last_obj_ids,
	.last_trans_tid = example_last_trans_tid,
	.first_trans_tid = example_first_trans_tid,
	.range_delete = example_range_delete,
	/* the [optional] operations are left NULL */
};

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	if (host_abi_major != NEO_BACKEND_ABI_MAJOR)
		return NULL;
	return &example_backend;
}
