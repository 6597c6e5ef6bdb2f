/*
 * neo/backend.h - the ABI between a NEO storage node and its backend
 * modules, version 1.2.  sqlite.so implements every operation and
 * tests/backend/conformance checks them against any module.
 *
 * A backend is a shared object (sqlite.so, mysql_innodb.so, rocksdb.so, or
 * a third party's) exporting exactly one symbol, neo_backend_entry, which
 * returns a table of operations, in the manner of SQLite's VFS: a struct of
 * function pointers that starts with its version and its own size.
 *
 *   - The node calls neo_backend_entry(NEO_BACKEND_ABI_MAJOR).  A module
 *     that cannot serve that major returns NULL; the node refuses, with a
 *     message and a non-zero exit, a table whose abi_major differs from
 *     its own, whose struct_size is smaller than ABI 1.0's table
 *     (NEO_BACKEND_SIZE_1_0), or that leaves a mandatory operation NULL.
 *   - Operations are only ever appended, with a minor bump, and every
 *     operation appended after 1.0 is optional.  A node of any later 1.x
 *     accepts a table built against an older 1.x header (a smaller
 *     struct_size) and a table from a later 1.x (a larger one): it reads
 *     only the operations inside both its own table and struct_size, and
 *     treats the rest as NULL.
 *   - [mandatory] operations are what loads, commits, recovery,
 *     verification and replication need.  [optional] ones may be NULL: the
 *     node then answers a request that needs one with the error
 *     BACKEND_NOT_IMPLEMENTED and a log line, and carries on serving the
 *     rest (a maintenance task that needs one, such as pack or the drop of
 *     a partition's rows, is skipped with a log line).
 *   - The tag [1.0] tells the minor version that added an operation:
 *     1.1 appended db_size, 1.2 import_progress.
 *     Pack goes by all of pack_order_put, pack_order_rename,
 *     pack_order_sign, pack_orders_from, pack_oid, pt_set_packed and
 *     oid_range: a module lacking any of them has votes carrying a pack
 *     order refused and is never packed.
 *
 * The contract in words is backend.md, installed beside this header: see
 * backend.md sections 2, 3 and 4 for loading, versions and NULL
 * operations, backend.md sections 5 to 8 for ownership, errors, threads
 * and durability, and backend.md section 17 for which request needs which
 * operation.
 *
 * The module is thin: it stores and finds rows.  What upstream writes once
 * for every backend (partition arithmetic, readable-cell checks, cell-state
 * encoding, data holds, undo resolution, the loops of pack, truncate and
 * partition drops, replica-check digests) lives in the node.  The partition
 * of every row is passed explicitly, so a module need not know how many
 * partitions there are; one that keeps upstream's pack table, which has
 * no partition column, takes it from its pt rows (backend.md section 15).
 *
 * Memory: inputs are borrowed for the duration of the call.  Outputs
 * (struct neo_bytes, rows) belong to the handle and stay valid until the
 * next call on the same handle; the node copies what it keeps.  Scans
 * report rows through a callback; returning non-zero from the callback
 * stops the scan, and that value is returned by the operation.  A
 * callback never calls back into the handle.
 *
 * Threads: one thread at a time per handle.
 *
 * Errors: every operation returns a status (enum neo_backend_status);
 * errmsg() tells the last error of a handle in words.  A module never
 * exits, aborts or prints: the node decides.
 */
#ifndef NEO_BACKEND_H
#define NEO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEO_BACKEND_ABI_MAJOR 1
#define NEO_BACKEND_ABI_MINOR 2

/* The size of ABI 1.0's table (every 1.x table is at least as large): see
 * below, after struct neo_backend. */

/* The one exported symbol's name, for dlsym.  Modules define it with
 * NEO_BACKEND_EXPORT so that it stays visible under -fvisibility=hidden. */
#define NEO_BACKEND_EXPORT __attribute__((visibility("default")))

#define NEO_BACKEND_ENTRY_SYMBOL "neo_backend_entry"

enum neo_backend_status {
	NEO_BACKEND_OK = 0,
	NEO_BACKEND_NOTFOUND = 1,	/* no such row */
	NEO_BACKEND_EUNDOPACK = 2,	/* undo target packed away */
	NEO_BACKEND_EDUP = 3,		/* key clash, or a dedup hash collision */
	NEO_BACKEND_ELOCKED = 4,	/* another process holds the database */
	NEO_BACKEND_EVERSION = 5,	/* schema newer than this module, or an
					 * upgrade that cannot run */
	NEO_BACKEND_ETRANSIENT = 6,	/* lost server: retry if nothing was
					 * left uncommitted */
	NEO_BACKEND_EIO = 7,		/* I/O error, disk full */
	NEO_BACKEND_ECORRUPT = 8,	/* the stored data makes no sense */
	NEO_BACKEND_ENOTSUP = 9,	/* not supported by this module */
	NEO_BACKEND_EINVAL = 10		/* bad argument (e.g. database string) */
};

/* A byte string; data may be NULL when size is 0. */
struct neo_bytes {
	const uint8_t *data;
	size_t size;
};

/* What import_progress [1.2] tells. */
struct neo_import_progress {
	bool finished;			/* everything is imported */
	uint64_t transactions_done, transactions_total;
	uint64_t bytes_done, bytes_total;
	double bytes_per_second;	/* since the import (re)started; 0: not known */
	double seconds_left;		/* at that pace; < 0: not known */
};

/* An optional id. */
struct neo_opt_id {
	bool has;
	uint64_t id;
};

/* Opaque per-connection handle, defined by each module. */
struct neo_db;

/* --- Rows ---------------------------------------------------------------- */

/* A cell of the partition table as stored (backend.md section 9.2): tid is
 * -state for others' cells and own readable ones, or the replication
 * progress of an own OUT_OF_DATE cell. */
struct neo_pt_row {
	uint32_t partition;
	int32_t nid;
	int64_t tid;
	struct neo_opt_id pack;		/* own rows only */
};

/* An object revision as loaded. */
struct neo_object {
	uint64_t serial;
	struct neo_opt_id next_serial;	/* filled by obj_get only */
	bool has_data;			/* false: deletion or undone creation */
	uint8_t compression;		/* 0 raw, 1 zlib */
	uint8_t checksum[20];		/* SHA-1 of data as stored */
	struct neo_bytes data;
	struct neo_opt_id data_serial;	/* undo: the revision whose data this is */
};

/* A revision to write: its data is already in `data` (see data_put). */
struct neo_obj_row {
	uint32_t partition;
	uint64_t oid;
	uint64_t tid;			/* the ttid while temporary */
	struct neo_opt_id data_id;	/* none: deletion */
	struct neo_opt_id value_tid;	/* undo pointer */
};

/* Transaction metadata. */
struct neo_trans {
	uint32_t partition;
	uint64_t tid;			/* none while temporary and unlocked */
	uint64_t ttid;
	bool packed;
	struct neo_bytes oids;		/* 8 bytes big-endian per oid */
	struct neo_bytes user, description, extension;
};

struct neo_pack_order {
	uint64_t id;			/* the pack transaction's tid */
	int approved;			/* -1 not signed, 0 rejected, 1 approved */
	bool partial;
	bool has_oids;
	struct neo_bytes oids;		/* 8 bytes big-endian per oid */
	uint64_t pack_tid;
};

/* --- Opening ------------------------------------------------------------- */

#define NEO_BACKEND_OPEN_RESET 0x1	/* erase everything first */
#define NEO_BACKEND_OPEN_DEDUP 0x2	/* new database deduplicates data */

enum neo_backend_log_level {
	NEO_BACKEND_LOG_DEBUG, NEO_BACKEND_LOG_INFO,
	NEO_BACKEND_LOG_WARNING, NEO_BACKEND_LOG_ERROR
};

struct neo_backend_open_args {
	uint32_t struct_size;		/* sizeof(struct neo_backend_open_args) */
	const char *database;		/* neo.conf's database=, untouched */
	const char *engine;		/* MySQL table engine (InnoDB, RocksDB), or NULL */
	int wait_seconds;		/* retry the first connection; -1 forever */
	unsigned flags;			/* NEO_BACKEND_OPEN_* */
	void (*log)(void *ctx, enum neo_backend_log_level level, const char *message);
	void *log_ctx;
};

enum neo_backend_commit_mode {
	NEO_BACKEND_COMMIT_SYNC,	/* durable when it returns: vote, lock */
	NEO_BACKEND_COMMIT_LAZY		/* may group syncs: unlock, batches */
};

enum neo_backend_obj_at {
	NEO_BACKEND_OBJ_LATEST,		/* the newest revision */
	NEO_BACKEND_OBJ_EXACT,		/* the revision with serial == tid */
	NEO_BACKEND_OBJ_BEFORE		/* the newest revision with serial < tid */
};

typedef int (*neo_pt_row_cb)(void *ctx, const struct neo_pt_row *row);
typedef int (*neo_id_cb)(void *ctx, uint64_t id);
typedef int (*neo_id_pair_cb)(void *ctx, uint64_t first, uint64_t second);
typedef int (*neo_trans_cb)(void *ctx, const struct neo_trans *trans);
typedef int (*neo_pack_order_cb)(void *ctx, const struct neo_pack_order *order);

/* --- The operations ------------------------------------------------------ */

struct neo_backend {
	uint32_t abi_major;		/* NEO_BACKEND_ABI_MAJOR the module was built for */
	uint32_t abi_minor;
	uint32_t struct_size;		/* sizeof(struct neo_backend) as built */
	const char *name;		/* "sqlite", "mysql_innodb", "rocksdb", ... */
	const char *const *engines;	/* accepted engine= values, NULL-terminated; NULL: none */

	/* Lifecycle.  open() creates or upgrades the schema; on failure it
	 * writes a message in err and returns a status, *db untouched. */
	/* open [1.0, mandatory] */
	int (*open)(const struct neo_backend_open_args *args, struct neo_db **db,
		    char *err, size_t errlen);
	/* close [1.0, mandatory] */
	void (*close)(struct neo_db *db);
	/* errmsg [1.0, mandatory] */
	const char *(*errmsg)(struct neo_db *db);
	/* commit [1.0, mandatory] */
	int (*commit)(struct neo_db *db, enum neo_backend_commit_mode mode);
	/* rollback [1.0, mandatory] */
	int (*rollback)(struct neo_db *db);
	/* (hostname, device) of where the data lives, for replica placement. */
	/* device_path [1.0, optional] */
	int (*device_path)(struct neo_db *db, struct neo_bytes *path);

	/* Configuration keys (version, name, nid, ptid, replicas, backup_tid,
	 * truncate_tid, ...).  value NULL deletes the key. */
	/* config_get [1.0, mandatory] */
	int (*config_get)(struct neo_db *db, const char *key, struct neo_bytes *value);
	/* config_set [1.0, mandatory] */
	int (*config_set)(struct neo_db *db, const char *key, const struct neo_bytes *value);

	/* Partition table. */
	/* pt_scan [1.0, mandatory] */
	int (*pt_scan)(struct neo_db *db, neo_pt_row_cb cb, void *ctx);
	/* Per row: insert, or update tid only if present; with reset, rows
	 * not listed are deleted.  A row with tid == INT64_MIN is deleted. */
	/* pt_apply [1.0, mandatory] */
	int (*pt_apply)(struct neo_db *db, const struct neo_pt_row *rows, size_t count, bool reset);
	/* pt_set_packed [1.0, optional] */
	int (*pt_set_packed)(struct neo_db *db, uint32_t partition, int32_t nid, uint64_t pack_id);

	/* Data rows.  data_put stores bytes for an object of `partition` and
	 * returns their id; with dedup an identical row is reused (different
	 * bytes under one checksum: EDUP).  data_prune deletes the given ids
	 * that no obj row references (the node has already skipped held ids)
	 * and returns how many went. */
	/* data_put [1.0, mandatory] */
	int (*data_put)(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
			uint8_t compression, struct neo_bytes data, uint64_t *data_id);
	/* data_get [1.0, mandatory] */
	int (*data_get)(struct neo_db *db, uint64_t data_id, uint8_t *compression,
			uint8_t checksum[20], struct neo_bytes *data);
	/* data_prune [1.0, mandatory] */
	int (*data_prune)(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned);
	/* data_orphans [1.0, optional] */
	int (*data_orphans)(struct neo_db *db, neo_id_cb cb, void *ctx);

	/* Object revisions, committed (obj) or staged (tobj). */
	/* obj_get [1.0, mandatory] */
	int (*obj_get)(struct neo_db *db, uint32_t partition, uint64_t oid,
		       enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out);
	/* obj_last_serial [1.0, mandatory] */
	int (*obj_last_serial)(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t *serial);
	/* data_id of the revision (oid, serial); NOTFOUND if there is none,
	 * OK with !data_id->has for a data-less revision (undo lookups). */
	/* obj_data_id [1.0, mandatory] */
	int (*obj_data_id)(struct neo_db *db, uint32_t partition, uint64_t oid,
			   uint64_t serial, struct neo_opt_id *data_id);
	/* (serial, stored size) newest first, skipping `offset`. */
	/* obj_history [1.0, optional] */
	int (*obj_history)(struct neo_db *db, uint32_t partition, uint64_t oid,
			   uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx);
	/* Revisions of oid with serial >= from, ascending: (serial, value_tid
	 * or UINT64_MAX when none).  Feeds the node's undo resolution. */
	/* obj_undo_history [1.0, optional] */
	int (*obj_undo_history)(struct neo_db *db, uint32_t partition, uint64_t oid,
				uint64_t from, neo_id_pair_cb cb, void *ctx);
	/* obj_put [1.0, mandatory] */
	int (*obj_put)(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		       bool temporary);
	/* Deletes one revision (serial given) or all of oid, reporting the
	 * data ids they referenced. */
	/* obj_delete [1.0, mandatory] */
	int (*obj_delete)(struct neo_db *db, uint32_t partition, uint64_t oid,
			  const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx);

	/* Transaction metadata. */
	/* trans_put [1.0, mandatory] */
	int (*trans_put)(struct neo_db *db, const struct neo_trans *trans, bool temporary);
	/* trans_get [1.0, mandatory] */
	int (*trans_get)(struct neo_db *db, uint32_t partition, uint64_t tid,
			 bool include_locked_temporary, struct neo_trans *out);
	/* trans_delete [1.0, mandatory] */
	int (*trans_delete)(struct neo_db *db, uint32_t partition, uint64_t tid);
	/* final_tid [1.0, mandatory] */
	int (*final_tid)(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid);

	/* Two-phase commit of staged rows. */
	/* txn_lock [1.0, mandatory] */
	int (*txn_lock)(struct neo_db *db, uint64_t ttid, uint64_t tid);
	/* Moves the staged rows of ttid to obj/trans under tid; reports the
	 * data ids of the moved revisions (their holds end). */
	/* txn_unlock [1.0, mandatory] */
	int (*txn_unlock)(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			  void *ctx);
	/* txn_abort [1.0, mandatory] */
	int (*txn_abort)(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx);
	/* Staged transactions: (ttid, tid or 0 when not locked). */
	/* txn_unfinished [1.0, mandatory] */
	int (*txn_unfinished)(struct neo_db *db, neo_id_pair_cb cb, void *ctx);
	/* Data ids referenced by staged revisions (to rebuild holds). */
	/* txn_staged_data_ids [1.0, optional] */
	int (*txn_staged_data_ids)(struct neo_db *db, neo_id_cb cb, void *ctx);

	/* Lists and ranges.  Ranges are inclusive; length 0 means no limit. */
	/* tid_list_desc [1.0, optional] */
	int (*tid_list_desc)(struct neo_db *db, const uint32_t *partitions, size_t count,
			     uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx);
	/* tid_range [1.0, mandatory] */
	int (*tid_range)(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			 uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx);
	/* obj rows with (tid == min_tid and oid >= min_oid) or
	 * min_tid < tid <= max_tid, in (tid, oid) order: cb(tid, oid). */
	/* obj_range [1.0, mandatory] */
	int (*obj_range)(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			 uint64_t min_oid, uint64_t max_tid, uint64_t length,
			 neo_id_pair_cb cb, void *ctx);
	/* Distinct oids >= min_oid having a revision <= tid, ascending. */
	/* oid_range [1.0, optional] */
	int (*oid_range)(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			 uint64_t length, neo_id_cb cb, void *ctx);

	/* Last ids of a partition; NOTFOUND when it has no such row. */
	/* last_obj_ids [1.0, mandatory] */
	int (*last_obj_ids)(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid);
	/* last_trans_tid [1.0, mandatory] */
	int (*last_trans_tid)(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			      uint64_t *tid);
	/* first_trans_tid [1.0, mandatory] */
	int (*first_trans_tid)(struct neo_db *db, uint32_t partition, uint64_t *tid);

	/* Pack orders and packing. */
	/* pack_order_put [1.0, optional] */
	int (*pack_order_put)(struct neo_db *db, uint32_t partition,
			      const struct neo_pack_order *order);
	/* pack_order_rename [1.0, optional] */
	int (*pack_order_rename)(struct neo_db *db, uint64_t ttid, uint64_t tid);
	/* pack_order_sign [1.0, optional] */
	int (*pack_order_sign)(struct neo_db *db, uint64_t id, bool approved);
	/* pack_orders_from [1.0, optional] */
	int (*pack_orders_from)(struct neo_db *db, const uint32_t *partitions, size_t count,
				uint64_t min_id, neo_pack_order_cb cb, void *ctx);
	/* Deletes revisions of oid older than its last revision <= pack_tid
	 * (all of them up to it if that one is a deletion). */
	/* pack_oid [1.0, optional] */
	int (*pack_oid)(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
			neo_id_cb data_ids, void *ctx);

	/* Destruction: rows of partition with min_tid < tid <= max_tid, or
	 * up to `count` obj rows of a partition being dropped. */
	/* range_delete [1.0, mandatory] */
	int (*range_delete)(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			    uint64_t max_tid, neo_id_cb data_ids, void *ctx);
	/* drop_step [1.0, optional] */
	int (*drop_step)(struct neo_db *db, uint32_t partition, uint64_t count,
			 neo_id_cb data_ids, void *ctx, bool *done);

	/* --- ABI 1.1 ------------------------------------------------------ */

	/* How many bytes the database takes, as the engine counts them (for
	 * the node's neo_storage_database_size_bytes metric): SQLite's pages,
	 * RocksDB's SST files and memtables, MySQL's data and index lengths.
	 * An estimate is fine; it must not scan the rows. */
	/* db_size [1.1, optional] */
	int (*db_size)(struct neo_db *db, uint64_t *bytes);

	/* --- ABI 1.2 ------------------------------------------------------ */

	/* How far a module that fills its database from elsewhere (importer.so
	 * from a Data.fs) has gone, for neoctl print summary and the metrics
	 * (backend.md section 4).  A module with nothing to import leaves it
	 * NULL.  Called from the node's thread; must not block for long. */
	/* import_progress [1.2, optional] */
	int (*import_progress)(struct neo_db *db, struct neo_import_progress *out);
};

/* ABI 1.0's table: its last operation is drop_step.  A node accepts any
 * table at least this large. */
#define NEO_BACKEND_SIZE_1_0 \
	(offsetof(struct neo_backend, drop_step) + sizeof(((struct neo_backend *)0)->drop_step))

/*
 * The module's entry point.  host_abi_major is the node's
 * NEO_BACKEND_ABI_MAJOR; return NULL if this module cannot serve it.
 */
const struct neo_backend *neo_backend_entry(uint32_t host_abi_major);
typedef const struct neo_backend *(*neo_backend_entry_fn)(uint32_t host_abi_major);

#ifdef __cplusplus
}
#endif

#endif
