/*
 * sqlite_db.h - what the files of sqlite.so share: the handle and small
 * helpers around prepared statements.
 *
 * The handle keeps one write transaction open at all times (BEGIN after
 * open and after every commit), so that everything between two commits
 * is atomic, as the node expects.  Blobs returned to the node are copied
 * into the handle's scratch buffers, valid until the next call.
 */
#ifndef NEO_SQLITE_DB_H
#define NEO_SQLITE_DB_H

#include <sqlite3.h>

#include <neo/backend.h>

#define NEO_SQLITE_SCHEMA_VERSION 4

/* Prepared statements kept for reuse: the storage runs the same few
 * queries all the time, and compiling one costs more than running it. */
#define NEO_SQLITE_CACHED_STATEMENTS 64

struct neo_sqlite_cached {
	char *sql;
	sqlite3_stmt *st;
	bool in_use;
};

struct neo_db {
	sqlite3 *sql;
	struct neo_sqlite_cached statements[NEO_SQLITE_CACHED_STATEMENTS];
	size_t statement_count;
	char errmsg[512];
	bool dedup;
	void (*log)(void *ctx, enum neo_backend_log_level level, const char *message);
	void *log_ctx;			/* open's args: schema migrations are logged */
	int lock_fd;			/* upstream's lock (sqlite_module.c); -1: none */
	uint8_t *scratch[4];		/* copies of returned blobs */
	size_t scratch_size[4];
};

/* Records the message of the last failure; returns status. */
int neo_sqlite_fail(struct neo_db *db, int status, const char *what);

/* A statement for sql, from the cache or newly prepared; NULL with the
 * error recorded.  Give it back with neo_sqlite_finalize (NULL is fine),
 * which resets it for the next user. */
sqlite3_stmt *neo_sqlite_prepare(struct neo_db *db, const char *sql);
void neo_sqlite_finalize(struct neo_db *db, sqlite3_stmt *st);
/* Finalizes every cached statement (before closing). */
void neo_sqlite_forget_statements(struct neo_db *db);

/* Runs statements with no result; returns a backend status. */
int neo_sqlite_exec(struct neo_db *db, const char *sql);

/* Copies a blob into scratch slot `slot`; returns a neo_bytes over it. */
int neo_sqlite_keep_blob(struct neo_db *db, int slot, const void *data, int size,
			 struct neo_bytes *out);

/* Table creation and the schema version check (sqlite_schema.c). */
int neo_sqlite_setup_schema(struct neo_db *db, bool dedup, char *err, size_t errlen);

/* Runs sql with ?1..?3 bound to a, b, c (as many as it uses). */
int neo_sqlite_run(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c);

/* Calls cb with the first column of every row sql (bound likewise)
 * returns; nothing when cb is NULL. */
int neo_sqlite_each_id(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c,
		       neo_id_cb cb, void *ctx);

/* Binds a list of partitions as one JSON array (read with json_each), so
 * any number of them fits one prepared statement. */
int neo_sqlite_bind_partitions(struct neo_db *db, sqlite3_stmt *st, int index,
			       const uint32_t *partitions, size_t count);

/* The operations of the table in sqlite_module.c, one group per file. */

/* Data and object revisions (sqlite_objects.c). */
int neo_sqlite_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
			uint8_t compression, struct neo_bytes data, uint64_t *data_id);
int neo_sqlite_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
			uint8_t checksum[20], struct neo_bytes *data);
int neo_sqlite_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
		       enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out);
int neo_sqlite_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t *serial);
int neo_sqlite_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		       bool temporary);

/* Transaction metadata and the two-phase commit (sqlite_transactions.c). */
int neo_sqlite_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary);
int neo_sqlite_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			 bool include_locked_temporary, struct neo_trans *out);
int neo_sqlite_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid);
int neo_sqlite_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid);
int neo_sqlite_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid);
int neo_sqlite_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			  void *ctx);
int neo_sqlite_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx);
int neo_sqlite_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx);
int neo_sqlite_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx);
int neo_sqlite_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
			   struct neo_opt_id *data_id);

/* Lists, ranges and last ids (sqlite_ranges.c). */
int neo_sqlite_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
			     uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx);
int neo_sqlite_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			 uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx);
int neo_sqlite_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			 uint64_t min_oid, uint64_t max_tid, uint64_t length,
			 neo_id_pair_cb cb, void *ctx);
int neo_sqlite_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			 uint64_t length, neo_id_cb cb, void *ctx);
int neo_sqlite_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid);
int neo_sqlite_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			      uint64_t *tid);
int neo_sqlite_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid);

/* History, deletion, pruning, device path (sqlite_maintenance.c). */
int neo_sqlite_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			   uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx);
int neo_sqlite_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
				uint64_t from, neo_id_pair_cb cb, void *ctx);
int neo_sqlite_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			  const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx);
int neo_sqlite_data_prune(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned);
int neo_sqlite_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx);
int neo_sqlite_db_size(struct neo_db *db, uint64_t *bytes);
int neo_sqlite_device_path(struct neo_db *db, struct neo_bytes *path);

/* Pack orders, pack, truncate ranges, partition drops (sqlite_pack.c). */
int neo_sqlite_pack_order_put(struct neo_db *db, uint32_t partition,
			      const struct neo_pack_order *order);
int neo_sqlite_pack_order_rename(struct neo_db *db, uint64_t ttid, uint64_t tid);
int neo_sqlite_pack_order_sign(struct neo_db *db, uint64_t id, bool approved);
int neo_sqlite_pack_orders_from(struct neo_db *db, const uint32_t *partitions, size_t count,
				uint64_t min_id, neo_pack_order_cb cb, void *ctx);
int neo_sqlite_pack_oid(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
			neo_id_cb data_ids, void *ctx);
int neo_sqlite_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			    uint64_t max_tid, neo_id_cb data_ids, void *ctx);
int neo_sqlite_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			 neo_id_cb data_ids, void *ctx, bool *done);

#endif
