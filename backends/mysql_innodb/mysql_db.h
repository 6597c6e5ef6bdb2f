/*
 * mysql_db.h - what the files of mysql_innodb.so share: the handle, the
 * connection (with its reconnection rule) and small helpers around
 * prepared statements.
 *
 * The connection runs with autocommit off, so everything between two
 * commits is one InnoDB transaction, as the node expects.  Results are
 * always stored whole on the client side before a row is looked at: the
 * MySQL protocol allows one statement in flight per connection, and a
 * statement that is entirely executed can be retried after a lost
 * connection without a callback having seen half of it.  Blobs returned to
 * the node are copied into the handle's scratch buffers, valid until the
 * next call.
 */
#ifndef NEO_MYSQL_DB_H
#define NEO_MYSQL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include <neo/backend.h>

#define NEO_MYSQL_SCHEMA_VERSION 4

/* Upstream refuses a server whose max_allowed_packet is smaller: a
 * transaction's metadata and a big object must fit one packet. */
#define NEO_MYSQL_MIN_ALLOWED_PACKET (32769ul * 1024)

/* Prepared statements kept for reuse: the storage runs the same few
 * queries all the time, and preparing one costs a round trip. */
#define NEO_MYSQL_CACHED_STATEMENTS 96

/* Rows per multi-row INSERT of obj_put: one round trip per batch. */
#define NEO_MYSQL_BATCH_ROWS 256

/* MariaDB's client names the flag type of MYSQL_BIND my_bool, MySQL 8's
 * uses bool. */
#ifdef MARIADB_PACKAGE_VERSION
typedef my_bool neo_mysql_flag;
#else
typedef bool neo_mysql_flag;
#endif

/* database= in upstream's syntax: [user[:password]@]database[socket]. */
struct neo_mysql_target {
	char *user;			/* NULL: the client library's default */
	char *password;			/* NULL: none given */
	char *database;
	char *socket;			/* NULL: the library's default socket */
};

struct neo_mysql_cached {
	char *sql;			/* a copy of the text */
	MYSQL_STMT *st;
	bool in_use;			/* a second user of the text gets another */
};

struct neo_db {
	MYSQL *conn;			/* NULL after a lost connection */
	struct neo_mysql_target target;
	int wait_seconds;		/* connection retries, as open's args */
	void (*log)(void *ctx, enum neo_backend_log_level level, const char *message);
	void *log_ctx;
	struct neo_mysql_cached statements[NEO_MYSQL_CACHED_STATEMENTS];
	size_t statement_count;
	bool active;			/* uncommitted changes since the last commit */
	bool lost;			/* they were lost with the connection */
	bool dedup;
	unsigned long max_allowed_packet;
	uint64_t *next_data_id;		/* per partition; 0: not known yet */
	size_t next_data_id_count;
	char errmsg[512];
	uint8_t *scratch[4];		/* copies of returned blobs */
	size_t scratch_size[4];
};

/* --- The connection (mysql_connection.c) --------------------------------- */

/* Splits database= into target (owned copies); EINVAL with err set. */
int neo_mysql_parse_target(const char *database, struct neo_mysql_target *target,
			   char *err, size_t errlen);
void neo_mysql_free_target(struct neo_mysql_target *target);

/* Connects (retrying for wait_seconds), sets the session up and takes
 * the database's lock; the message of a failure is in db->errmsg. */
int neo_mysql_connect(struct neo_db *db);
/* Closes the statements and the connection (also after a loss). */
void neo_mysql_disconnect(struct neo_db *db);
/* Whether a client or server error code means the connection is gone. */
bool neo_mysql_is_lost(unsigned int code);
/* Logs through the node's callback, when it gave one. */
void neo_mysql_log(struct neo_db *db, enum neo_backend_log_level level, const char *message);

/* --- Statements (mysql_statements.c) ------------------------------------- */

/* Records the message of the last failure; returns status. */
int neo_mysql_fail(struct neo_db *db, int status, const char *what);

/* Parameters.  Each fills one MYSQL_BIND over the caller's variable,
 * which must outlive the execution. */
void neo_mysql_bind_id(MYSQL_BIND *bind, const uint64_t *value);
void neo_mysql_bind_int(MYSQL_BIND *bind, const int64_t *value);
void neo_mysql_bind_opt(MYSQL_BIND *bind, const struct neo_opt_id *value);
void neo_mysql_bind_bytes(MYSQL_BIND *bind, const void *data, const unsigned long *length);
void neo_mysql_bind_null(MYSQL_BIND *bind);

/* Executes sql with params (NULL when it has none), from the statement
 * cache.  A result set is stored whole; read it with neo_mysql_fetch and
 * give the statement back with neo_mysql_done.  A lost connection is
 * reconnected and the statement retried once when nothing was
 * uncommitted; otherwise ETRANSIENT.  *st is NULL on failure. */
int neo_mysql_execute(struct neo_db *db, const char *sql, MYSQL_BIND *params, MYSQL_STMT **st);
/* The same for a text built at run time (never cached). */
int neo_mysql_execute_once(struct neo_db *db, const char *sql, MYSQL_BIND *params,
			   MYSQL_STMT **st);
/* Frees the result of st and returns it to the cache (or closes it). */
void neo_mysql_done(struct neo_db *db, MYSQL_STMT *st);
/* Closes every cached statement (before closing or reconnecting). */
void neo_mysql_forget_statements(struct neo_db *db);

/* A statement without result; *affected (if not NULL) gets its row count. */
int neo_mysql_run(struct neo_db *db, const char *sql, MYSQL_BIND *params, uint64_t *affected);
/* Runs sql with the ids a, b, c bound to its first parameters (as many as
 * it has); no result. */
int neo_mysql_run_ids(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *affected);

/* One row of a stored result: the first `ids` columns as unsigned 64-bit
 * integers (NULL flagged), the next `blobs` columns as bytes copied into
 * scratch slots 0, 1, ... */
#define NEO_MYSQL_MAX_IDS 8
#define NEO_MYSQL_MAX_BLOBS 4
struct neo_mysql_row {
	int ids, blobs;
	uint64_t id[NEO_MYSQL_MAX_IDS];
	bool null[NEO_MYSQL_MAX_IDS];
	struct neo_bytes blob[NEO_MYSQL_MAX_BLOBS];
	bool blob_null[NEO_MYSQL_MAX_BLOBS];
};

/* Reads the next row into row: OK, NOTFOUND at the end, or an error. */
int neo_mysql_fetch(struct neo_db *db, MYSQL_STMT *st, struct neo_mysql_row *row);
/* Runs sql and reads its first row into row (OK, NOTFOUND if none, or an
 * error), then gives the statement back. */
int neo_mysql_query_row(struct neo_db *db, const char *sql, MYSQL_BIND *params,
			struct neo_mysql_row *row);

/* Calls cb with the first column of every row of sql (ids bound as in
 * neo_mysql_run_ids); a callback's non-zero return stops and is returned. */
int neo_mysql_each_id(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c,
		      neo_id_cb cb, void *ctx);
/* Scans an executed statement: cb(ctx, column 0) or pair(ctx, column 0,
 * column 1, NULL read as UINT64_MAX); gives st back. */
int neo_mysql_scan(struct neo_db *db, MYSQL_STMT *st, neo_id_cb one, neo_id_pair_cb two,
		   void *ctx);

/* Copies bytes into scratch slot `slot`; returns a neo_bytes over them. */
int neo_mysql_keep(struct neo_db *db, int slot, const void *data, size_t size,
		   struct neo_bytes *out);

/* "IN (1,2,3)" for a list of partitions, in a buffer the caller frees. */
char *neo_mysql_partition_list(const uint32_t *partitions, size_t count);

/* A LIMIT for a length where 0 means none. */
uint64_t neo_mysql_limit(uint64_t length);

/* --- Schema (mysql_schema.c) --------------------------------------------- */

/* Creates the tables or checks the version of existing ones; with reset,
 * drops them first. */
int neo_mysql_setup_schema(struct neo_db *db, bool reset, bool dedup, char *err, size_t errlen);

/* --- The operations of the table in mysql_module.c, one group per file --- */

/* Data and object revisions (mysql_objects.c). */
/* Values of 16 MiB or more in data rows (our earlier layout) moved to
 * bigdata chunks, as upstream keeps them (schema migration). */
int neo_mysql_move_big_values(struct neo_db *db, uint64_t *moved);
int neo_mysql_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
		       uint8_t compression, struct neo_bytes data, uint64_t *data_id);
int neo_mysql_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		       uint8_t checksum[20], struct neo_bytes *data);
int neo_mysql_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
		      enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out);
int neo_mysql_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
			      uint64_t *serial);
int neo_mysql_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		      bool temporary);
int neo_mysql_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
			  struct neo_opt_id *data_id);

/* Transaction metadata and the two-phase commit (mysql_transactions.c). */
int neo_mysql_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary);
int neo_mysql_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			bool include_locked_temporary, struct neo_trans *out);
int neo_mysql_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid);
int neo_mysql_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid);
int neo_mysql_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid);
int neo_mysql_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			 void *ctx);
int neo_mysql_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx);
int neo_mysql_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx);
int neo_mysql_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx);

/* Lists, ranges and last ids (mysql_ranges.c). */
int neo_mysql_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
			    uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx);
int neo_mysql_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx);
int neo_mysql_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t min_oid, uint64_t max_tid, uint64_t length,
			neo_id_pair_cb cb, void *ctx);
int neo_mysql_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			uint64_t length, neo_id_cb cb, void *ctx);
int neo_mysql_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid);
int neo_mysql_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			     uint64_t *tid);
int neo_mysql_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid);

/* History, deletion, pruning, device path (mysql_maintenance.c). */
int neo_mysql_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			  uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx);
int neo_mysql_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t from, neo_id_pair_cb cb, void *ctx);
int neo_mysql_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			 const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx);
int neo_mysql_data_prune(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned);
int neo_mysql_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx);
int neo_mysql_device_path(struct neo_db *db, struct neo_bytes *path);
int neo_mysql_db_size(struct neo_db *db, uint64_t *bytes);

/* Pack orders, pack, truncate ranges, partition drops (mysql_pack.c). */
int neo_mysql_pack_order_put(struct neo_db *db, uint32_t partition,
			     const struct neo_pack_order *order);
int neo_mysql_pack_order_rename(struct neo_db *db, uint64_t ttid, uint64_t tid);
int neo_mysql_pack_order_sign(struct neo_db *db, uint64_t id, bool approved);
int neo_mysql_pack_orders_from(struct neo_db *db, const uint32_t *partitions, size_t count,
			       uint64_t min_id, neo_pack_order_cb cb, void *ctx);
int neo_mysql_pack_oid(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
		       neo_id_cb data_ids, void *ctx);
int neo_mysql_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			   uint64_t max_tid, neo_id_cb data_ids, void *ctx);
int neo_mysql_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			neo_id_cb data_ids, void *ctx, bool *done);

#endif
