/*
 * mysql_module.c - mysql_innodb.so's entry point, lifecycle, configuration
 * keys and partition table.
 *
 * Durability follows the server (innodb_flush_log_at_trx_commit = 1, its
 * default, makes every COMMIT durable when it returns); the node commits
 * SYNC at vote and lock before answering, as the protocol requires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql_db.h"

static const char *const engines[] = { "InnoDB", NULL };

static void free_handle(struct neo_db *db)
{
	neo_mysql_disconnect(db);
	neo_mysql_free_target(&db->target);
	for (int i = 0; i < 4; i++)
		free(db->scratch[i]);
	free(db->next_data_id);
	free(db);
}

static void mysql_close_db(struct neo_db *db)
{
	if (db == NULL)
		return;
	/* Uncommitted work is dropped, as on a crash: the node commits what
	 * must last.  The lock is released before the connection closes, so
	 * that reopening at once does not find it still held. */
	if (db->conn != NULL) {
		mysql_rollback(db->conn);
		mysql_query(db->conn, "DO RELEASE_LOCK(CONCAT(DATABASE(), '.neostorage'))");
	}
	free_handle(db);
}

/* Only InnoDB: MyRocks (engine RocksDB in upstream) is not built here. */
static int check_engine(const char *engine, char *err, size_t errlen)
{
	if (engine == NULL || strcasecmp(engine, "InnoDB") == 0)
		return NEO_BACKEND_OK;
	if (strcasecmp(engine, "RocksDB") == 0)
		snprintf(err, errlen, "mysql_innodb: table engine RocksDB (MyRocks) is not supported "
			 "by this module; use engine InnoDB, or the rocksdb module");
	else
		snprintf(err, errlen, "mysql_innodb: unknown table engine '%s' (InnoDB only)", engine);
	return NEO_BACKEND_EINVAL;
}

static int mysql_open_db(const struct neo_backend_open_args *args, struct neo_db **out,
			 char *err, size_t errlen)
{
	struct neo_db *db;
	int status = check_engine(args->engine, err, errlen);

	if (status != NEO_BACKEND_OK)
		return status;
	if (args->database == NULL || *args->database == '\0') {
		snprintf(err, errlen, "mysql_innodb: database= must name the MySQL database, as "
			 "[user[:password]@]database[unix_socket]");
		return NEO_BACKEND_EINVAL;
	}
	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NEO_BACKEND_EIO;
	}
	status = neo_mysql_parse_target(args->database, &db->target, err, errlen);
	if (status != NEO_BACKEND_OK) {
		free(db);
		return status;
	}
	db->wait_seconds = args->wait_seconds;
	db->log = args->log;
	db->log_ctx = args->log_ctx;
	status = neo_mysql_connect(db);
	if (status != NEO_BACKEND_OK)
		snprintf(err, errlen, "mysql_innodb: %s", db->errmsg);
	else
		status = neo_mysql_setup_schema(db, (args->flags & NEO_BACKEND_OPEN_RESET) != 0,
						(args->flags & NEO_BACKEND_OPEN_DEDUP) != 0, err, errlen);
	if (status != NEO_BACKEND_OK) {
		mysql_close_db(db);
		return status;
	}
	*out = db;
	return NEO_BACKEND_OK;
}

static const char *mysql_errmsg(struct neo_db *db)
{
	return db->errmsg;
}

static int lost_during_commit(struct neo_db *db)
{
	neo_mysql_disconnect(db);
	db->lost = true;
	snprintf(db->errmsg, sizeof(db->errmsg), "lost the connection to the MySQL server while "
		 "committing: whether the transaction was committed is unknown");
	return NEO_BACKEND_ETRANSIENT;
}

static int mysql_commit_db(struct neo_db *db, enum neo_backend_commit_mode mode)
{
	(void)mode;	/* the server's flush setting decides */
	if (db->lost) {
		snprintf(db->errmsg, sizeof(db->errmsg), "cannot commit: uncommitted changes were "
			 "lost with the connection to the MySQL server");
		return NEO_BACKEND_ETRANSIENT;
	}
	if (!db->active)
		return NEO_BACKEND_OK;	/* nothing to commit: no round trip */
	if (mysql_commit(db->conn) != 0) {
		if (neo_mysql_is_lost(mysql_errno(db->conn)))
			return lost_during_commit(db);
		return neo_mysql_fail(db, NEO_BACKEND_EIO, "commit");
	}
	db->active = false;
	return NEO_BACKEND_OK;
}

static int mysql_rollback_db(struct neo_db *db)
{
	int status = NEO_BACKEND_OK;

	/* Data ids allocated in what is rolled back are free again. */
	free(db->next_data_id);
	db->next_data_id = NULL;
	db->next_data_id_count = 0;
	if (db->conn != NULL && db->active && mysql_rollback(db->conn) != 0) {
		if (!neo_mysql_is_lost(mysql_errno(db->conn)))
			return neo_mysql_fail(db, NEO_BACKEND_EIO, "rollback");
		neo_mysql_disconnect(db);
	}
	/* After a loss, the server has rolled back already: a new
	 * connection is all there is to do. */
	db->active = false;
	db->lost = false;
	if (db->conn == NULL)
		status = neo_mysql_connect(db);
	return status;
}

static int mysql_config_get(struct neo_db *db, const char *key, struct neo_bytes *value)
{
	unsigned long key_length = strlen(key);
	struct neo_mysql_row row = { .blobs = 1 };
	MYSQL_BIND params[1];
	int status;

	neo_mysql_bind_bytes(&params[0], key, &key_length);
	status = neo_mysql_query_row(db, "SELECT value FROM config WHERE name = ?", params, &row);
	if (status == NEO_BACKEND_OK && row.blob_null[0])
		status = NEO_BACKEND_NOTFOUND;
	if (status == NEO_BACKEND_OK)
		*value = row.blob[0];
	return status;
}

static int mysql_config_set(struct neo_db *db, const char *key, const struct neo_bytes *value)
{
	unsigned long key_length = strlen(key), value_length = value ? value->size : 0;
	MYSQL_BIND params[2];

	neo_mysql_bind_bytes(&params[0], key, &key_length);
	if (value == NULL)
		return neo_mysql_run(db, "DELETE FROM config WHERE name = ?", params, NULL);
	neo_mysql_bind_bytes(&params[1], value->data, &value_length);
	return neo_mysql_run(db, "REPLACE INTO config (name, value) VALUES (?, ?)", params, NULL);
}

static int mysql_pt_scan(struct neo_db *db, neo_pt_row_cb cb, void *ctx)
{
	struct neo_mysql_row row = { .ids = 4 };
	MYSQL_STMT *st;
	int status = neo_mysql_execute(db, "SELECT `partition`, nid, tid, pack FROM pt"
				       " ORDER BY `partition`, nid", NULL, &st);
	int r = NEO_BACKEND_OK;

	if (status != NEO_BACKEND_OK)
		return status;
	while (r == NEO_BACKEND_OK && (status = neo_mysql_fetch(db, st, &row)) == NEO_BACKEND_OK) {
		struct neo_pt_row cell = {
			.partition = (uint32_t)row.id[0],
			.nid = (int32_t)(int64_t)row.id[1],
			.tid = (int64_t)row.id[2],
			.pack = { !row.null[3], row.id[3] },
		};

		r = cb(ctx, &cell);
	}
	neo_mysql_done(db, st);
	if (r != NEO_BACKEND_OK)
		return r;
	return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : status;
}

static int pt_apply_row(struct neo_db *db, const struct neo_pt_row *cell)
{
	uint64_t partition = cell->partition;
	int64_t nid = cell->nid, tid = cell->tid;
	MYSQL_BIND params[4];

	neo_mysql_bind_id(&params[0], &partition);
	neo_mysql_bind_int(&params[1], &nid);
	if (tid == INT64_MIN)
		return neo_mysql_run(db, "DELETE FROM pt WHERE `partition` = ? AND nid = ?",
				     params, NULL);
	/* As upstream: an existing row keeps its pack, only tid changes. */
	neo_mysql_bind_int(&params[2], &tid);
	neo_mysql_bind_opt(&params[3], &cell->pack);
	return neo_mysql_run(db, "INSERT INTO pt (`partition`, nid, tid, pack) VALUES (?, ?, ?, ?)"
			     " ON DUPLICATE KEY UPDATE tid = VALUES(tid)", params, NULL);
}

static int mysql_pt_apply(struct neo_db *db, const struct neo_pt_row *rows, size_t count,
			  bool reset)
{
	int status = NEO_BACKEND_OK;

	if (reset)
		status = neo_mysql_run(db, "DELETE FROM pt", NULL, NULL);
	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++)
		status = pt_apply_row(db, &rows[i]);
	return status;
}

static int mysql_pt_set_packed(struct neo_db *db, uint32_t partition, int32_t nid,
			       uint64_t pack_id)
{
	uint64_t p = partition, matched = 0;
	int64_t n = nid;
	MYSQL_BIND params[3];
	int status;

	neo_mysql_bind_id(&params[0], &pack_id);
	neo_mysql_bind_id(&params[1], &p);
	neo_mysql_bind_int(&params[2], &n);
	status = neo_mysql_run(db, "UPDATE pt SET pack = ? WHERE `partition` = ? AND nid = ?",
			       params, &matched);
	if (status == NEO_BACKEND_OK && matched == 0)
		status = NEO_BACKEND_NOTFOUND;
	return status;
}

static const struct neo_backend mysql_backend = {
	.abi_major = NEO_BACKEND_ABI_MAJOR,
	.abi_minor = NEO_BACKEND_ABI_MINOR,
	.struct_size = sizeof(struct neo_backend),
	.name = "mysql_innodb",
	.engines = engines,
	.open = mysql_open_db,
	.close = mysql_close_db,
	.errmsg = mysql_errmsg,
	.commit = mysql_commit_db,
	.rollback = mysql_rollback_db,
	.device_path = neo_mysql_device_path,
	.db_size = neo_mysql_db_size,
	.config_get = mysql_config_get,
	.config_set = mysql_config_set,
	.pt_scan = mysql_pt_scan,
	.pt_apply = mysql_pt_apply,
	.pt_set_packed = mysql_pt_set_packed,
	.data_put = neo_mysql_data_put,
	.data_get = neo_mysql_data_get,
	.data_prune = neo_mysql_data_prune,
	.data_orphans = neo_mysql_data_orphans,
	.obj_get = neo_mysql_obj_get,
	.obj_last_serial = neo_mysql_obj_last_serial,
	.obj_data_id = neo_mysql_obj_data_id,
	.obj_history = neo_mysql_obj_history,
	.obj_undo_history = neo_mysql_obj_undo_history,
	.obj_put = neo_mysql_obj_put,
	.obj_delete = neo_mysql_obj_delete,
	.trans_put = neo_mysql_trans_put,
	.trans_get = neo_mysql_trans_get,
	.trans_delete = neo_mysql_trans_delete,
	.final_tid = neo_mysql_final_tid,
	.txn_lock = neo_mysql_txn_lock,
	.txn_unlock = neo_mysql_txn_unlock,
	.txn_abort = neo_mysql_txn_abort,
	.txn_unfinished = neo_mysql_txn_unfinished,
	.txn_staged_data_ids = neo_mysql_txn_staged_data_ids,
	.tid_list_desc = neo_mysql_tid_list_desc,
	.tid_range = neo_mysql_tid_range,
	.obj_range = neo_mysql_obj_range,
	.oid_range = neo_mysql_oid_range,
	.last_obj_ids = neo_mysql_last_obj_ids,
	.last_trans_tid = neo_mysql_last_trans_tid,
	.first_trans_tid = neo_mysql_first_trans_tid,
	.pack_order_put = neo_mysql_pack_order_put,
	.pack_order_rename = neo_mysql_pack_order_rename,
	.pack_order_sign = neo_mysql_pack_order_sign,
	.pack_orders_from = neo_mysql_pack_orders_from,
	.pack_oid = neo_mysql_pack_oid,
	.range_delete = neo_mysql_range_delete,
	.drop_step = neo_mysql_drop_step,
};

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	if (host_abi_major != NEO_BACKEND_ABI_MAJOR)
		return NULL;
	return &mysql_backend;
}
