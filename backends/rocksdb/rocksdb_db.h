/*
 * rocksdb_db.h - what the files of rocksdb.so share: the handle, the
 * column families and their key layouts, and the helpers that read and
 * write through the pending batch.
 *
 * Atomicity: the node expects everything between two commits to be
 * atomic and visible to its own reads.  Every write therefore goes into
 * one WriteBatchWithIndex; reads merge that batch with the database; a
 * commit writes the batch in one go (all column families share one WAL,
 * so a batch is atomic across them), a rollback clears it.
 *
 * Keys: ids are big-endian, so that RocksDB's bytewise order is the
 * numeric order of (partition, oid, tid) and scans need no sorting.  In
 * obj the tid is inverted (~tid): an oid's newest revision comes first,
 * so loads and conflict checks, the hot reads, are forward seeks (RocksDB
 * seeks backwards at about twice the cost).
 *
 *   cf         key                                 value
 *   config     name                                bytes
 *   pt         partition nid^0x80000000            tid, has_pack, pack
 *   pack       tid                                 partition, approved, partial,
 *                                                  has_oids, pack_tid, oids
 *   trans      partition tid                       packed, ttid, 4 length-prefixed
 *                                                  blobs (oids, user, desc, ext)
 *   obj        partition oid ~tid                  flags, data_id, value_tid
 *   obj_tid    partition tid oid                   (empty: index of obj)
 *   data       data_id                             compression, hash, bytes
 *   data_ref   data_id 'o' partition oid tid       (empty: who references data)
 *              data_id 't' ttid oid
 *   ttrans     ttid                                partition, locked, tid, then as trans
 *   tobj       ttid oid                            partition, then as obj
 *   data_hash  hash compression                    data_id (only with dedup)
 */
#ifndef NEO_ROCKSDB_DB_H
#define NEO_ROCKSDB_DB_H

#include <rocksdb/c.h>

#include <neo/backend.h>

/* Version of this module's key layout, stored as config "version". */
#define NEO_ROCKSDB_SCHEMA_VERSION 1

/* Data ids are (partition << 48) + n, so partitions stop below 2^16. */
#define NEO_ROCKSDB_MAX_PARTITIONS 65536

enum neo_rocks_cf {
	NEO_CF_CONFIG, NEO_CF_PT, NEO_CF_PACK, NEO_CF_TRANS, NEO_CF_OBJ, NEO_CF_OBJ_TID,
	NEO_CF_DATA, NEO_CF_DATA_REF, NEO_CF_TTRANS, NEO_CF_TOBJ, NEO_CF_DATA_HASH,
	NEO_CF_COUNT
};

/* Flags of an obj/tobj value. */
#define NEO_ROCKS_HAS_DATA 0x1
#define NEO_ROCKS_HAS_VALUE_TID 0x2

/* Sizes of fixed-layout values. */
#define NEO_ROCKS_OBJ_VALUE 17		/* flags, data_id, value_tid */
#define NEO_ROCKS_DATA_HEADER 21	/* compression, hash */

#define NEO_ROCKS_SCRATCH_SLOTS 4

struct neo_db {
	rocksdb_t *rdb;
	rocksdb_options_t *options;
	rocksdb_block_based_table_options_t *table;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *read;
	rocksdb_writeoptions_t *write_sync, *write_lazy;
	rocksdb_column_family_handle_t *cf[NEO_CF_COUNT];
	/* Families we do not use (default, unknown ones): opened because
	 * RocksDB requires all of them, closed with the rest. */
	rocksdb_column_family_handle_t **other_cf;
	size_t other_cf_count;
	rocksdb_writebatch_wi_t *batch;
	/* data_ref keys put in the batch since it was last written or
	 * cleared: none lets a reference check skip the batch's iterator
	 * (rocksdb_maintenance.c: referenced) */
	size_t staged_refs;
	/* Where the last drop step stopped (rocksdb_pack.c: drop_step): the
	 * next one seeks there instead of walking the tombstones of every
	 * step before it. */
	bool drop_cursor_set;
	uint32_t drop_partition;
	uint64_t drop_tid, drop_oid;
	bool unsynced;			/* a LAZY commit not yet made durable */
	bool dedup;
	int lock_fd;			/* flock()ed directory: one node per database */
	char *path;
	/* Next data id per partition, learnt from the database on first use;
	 * UINT64_MAX when not known yet. */
	uint64_t *next_data_id;
	size_t next_data_id_count;
	char errmsg[512];
	uint8_t *scratch[NEO_ROCKS_SCRATCH_SLOTS];	/* copies of returned bytes */
	size_t scratch_size[NEO_ROCKS_SCRATCH_SLOTS];
};

/* --- Keys and values (rocksdb_store.c) ------------------------------------ */

struct neo_rocks_key {
	uint8_t b[32];
	size_t n;
};

void neo_rocks_key_u8(struct neo_rocks_key *k, uint8_t v);
void neo_rocks_key_u32(struct neo_rocks_key *k, uint32_t v);
void neo_rocks_key_u64(struct neo_rocks_key *k, uint64_t v);
void neo_rocks_put_u32(uint8_t *p, uint32_t v);
void neo_rocks_put_u64(uint8_t *p, uint64_t v);
uint32_t neo_rocks_u32_at(const void *p);
uint64_t neo_rocks_u64_at(const void *p);

/* --- Reads and writes through the pending batch (rocksdb_store.c) -------- */

/* Records the message of a failure (and frees RocksDB's error text, if
 * any); returns status. */
int neo_rocks_fail(struct neo_db *db, int status, const char *what, char *rocks_error);
/* The status for a RocksDB error text: ECORRUPT or EIO. */
int neo_rocks_status_of(const char *rocks_error);

/* Reads a key: OK with *value malloc()ed (the caller frees it), NOTFOUND,
 * or an error. */
int neo_rocks_get(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key,
		  char **value, size_t *size);
/* Whether a key exists: OK or NOTFOUND (or an error). */
int neo_rocks_exists(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key);
void neo_rocks_put(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key,
		   const void *value, size_t size);
void neo_rocks_delete(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key);

/* An iterator over the database as this handle sees it (committed rows
 * merged with the pending batch); NULL with the error recorded.  Never
 * write to the batch while one is open: collect, close, then write. */
rocksdb_iterator_t *neo_rocks_iter(struct neo_db *db, enum neo_rocks_cf cf);
/* Closes it; returns EIO if it stopped on an error, else status. */
int neo_rocks_iter_close(struct neo_db *db, rocksdb_iterator_t *it, int status);
/* Whether the iterator is on a key starting with prefix. */
bool neo_rocks_iter_in(rocksdb_iterator_t *it, const struct neo_rocks_key *prefix);
/* The key of the iterator and the big-endian id at offset in it. */
uint64_t neo_rocks_iter_u64(rocksdb_iterator_t *it, size_t offset);
uint32_t neo_rocks_iter_u32(rocksdb_iterator_t *it, size_t offset);

/* Copies bytes into scratch slot `slot`; returns a neo_bytes over it. */
int neo_rocks_keep(struct neo_db *db, int slot, const void *data, size_t size,
		   struct neo_bytes *out);

/* A growable list of ids (data ids to report, keys to delete). */
struct neo_rocks_ids {
	uint64_t *ids;
	size_t count, capacity;
};

/* Makes room for `needed` items of item_size bytes in *items (a pointer
 * to the caller's array pointer) whose room is *capacity, doubling as
 * runtime/alloc.h's neo_grow does (a module does not link the node's
 * runtime); EIO with the handle's message when memory runs out. */
int neo_rocks_grow(struct neo_db *db, void *items, size_t *capacity, size_t needed,
		   size_t item_size);
int neo_rocks_ids_add(struct neo_db *db, struct neo_rocks_ids *list, uint64_t id);
/* Sorts and drops duplicates (DISTINCT). */
void neo_rocks_ids_distinct(struct neo_rocks_ids *list);
/* Calls cb for each id, stopping at the first non-zero answer. */
int neo_rocks_ids_report(const struct neo_rocks_ids *list, neo_id_cb cb, void *ctx);
void neo_rocks_ids_free(struct neo_rocks_ids *list);

/* --- Schema (rocksdb_schema.c) -------------------------------------------- */

/* Options for the database and its families; NEO_BACKEND_EIO if out of
 * memory. */
int neo_rocks_make_options(struct neo_db *db);
/* Opens the column families, creating them for a new (or reset)
 * database, and checks the version of an existing one. */
int neo_rocks_open_families(struct neo_db *db, bool reset, bool dedup, char *err, size_t errlen);
/* Writes the batch; sync makes it durable before returning. */
int neo_rocks_write(struct neo_db *db, bool sync);

/* --- Operations, one group per file --------------------------------------- */

/* Data and object revisions (rocksdb_objects.c). */
int neo_rocks_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
		       uint8_t compression, struct neo_bytes data, uint64_t *data_id);
int neo_rocks_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		       uint8_t checksum[20], struct neo_bytes *data);
int neo_rocks_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
		      enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out);
int neo_rocks_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
			      uint64_t *serial);
int neo_rocks_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
			  struct neo_opt_id *data_id);
int neo_rocks_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		      bool temporary);
/* The obj, obj_tid and data_ref keys of one committed revision. */
/* obj keys, and the serial of the obj key an iterator is on; a key cut to
 * 12 bytes (.n = 12) is the prefix of all revisions of an oid. */
struct neo_rocks_key neo_rocks_obj_key(uint32_t partition, uint64_t oid, uint64_t tid);
uint64_t neo_rocks_obj_serial(rocksdb_iterator_t *it);
void neo_rocks_obj_write(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t tid,
			 const uint8_t value[NEO_ROCKS_OBJ_VALUE]);
void neo_rocks_obj_erase(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t tid,
			 const uint8_t value[NEO_ROCKS_OBJ_VALUE]);
/* The tobj key and value (partition, then as obj) of a staged revision,
 * and its data_ref key. */
struct neo_rocks_key neo_rocks_tobj_key(uint64_t ttid, uint64_t oid);
void neo_rocks_tobj_write(struct neo_db *db, uint64_t ttid, uint64_t oid, uint32_t partition,
			  const uint8_t value[NEO_ROCKS_OBJ_VALUE]);
void neo_rocks_tobj_erase(struct neo_db *db, uint64_t ttid, uint64_t oid,
			  const uint8_t value[NEO_ROCKS_OBJ_VALUE]);

/* Committed revisions of one partition to delete, as parallel lists of
 * oids and tids (rocksdb_maintenance.c). */
struct neo_rocks_revisions {
	uint32_t partition;
	struct neo_rocks_ids oids, tids;
};
int neo_rocks_revisions_add(struct neo_db *db, struct neo_rocks_revisions *revs, uint64_t oid,
			    uint64_t tid);
/* Reports their distinct data ids, then deletes them (unless the
 * callback stopped it, whose answer is returned). */
int neo_rocks_delete_revisions(struct neo_db *db, struct neo_rocks_revisions *revs,
			       neo_id_cb data_ids, void *ctx);
void neo_rocks_revisions_free(struct neo_rocks_revisions *revs);

/* Transaction metadata and the two-phase commit (rocksdb_transactions.c). */
int neo_rocks_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary);
int neo_rocks_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			bool include_locked_temporary, struct neo_trans *out);
int neo_rocks_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid);
int neo_rocks_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid);
int neo_rocks_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid);
int neo_rocks_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			 void *ctx);
int neo_rocks_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx);
int neo_rocks_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx);
int neo_rocks_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx);

/* Lists, ranges and last ids (rocksdb_ranges.c). */
int neo_rocks_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
			    uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx);
int neo_rocks_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx);
int neo_rocks_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			uint64_t min_oid, uint64_t max_tid, uint64_t length,
			neo_id_pair_cb cb, void *ctx);
int neo_rocks_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid, uint64_t tid,
			uint64_t length, neo_id_cb cb, void *ctx);
int neo_rocks_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid, uint64_t *oid);
int neo_rocks_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
			     uint64_t *tid);
int neo_rocks_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid);

/* History, deletion, pruning, device path (rocksdb_maintenance.c). */
int neo_rocks_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			  uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx);
int neo_rocks_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t from, neo_id_pair_cb cb, void *ctx);
int neo_rocks_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			 const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx);
int neo_rocks_data_prune(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned);
int neo_rocks_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx);
int neo_rocks_device_path(struct neo_db *db, struct neo_bytes *path);
int neo_rocks_db_size(struct neo_db *db, uint64_t *bytes);

/* Pack orders, pack, truncate ranges, partition drops (rocksdb_pack.c). */
int neo_rocks_pack_order_put(struct neo_db *db, uint32_t partition,
			     const struct neo_pack_order *order);
int neo_rocks_pack_order_rename(struct neo_db *db, uint64_t ttid, uint64_t tid);
int neo_rocks_pack_order_sign(struct neo_db *db, uint64_t id, bool approved);
int neo_rocks_pack_orders_from(struct neo_db *db, const uint32_t *partitions, size_t count,
			       uint64_t min_id, neo_pack_order_cb cb, void *ctx);
int neo_rocks_pack_oid(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t pack_tid,
		       neo_id_cb data_ids, void *ctx);
int neo_rocks_range_delete(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			   uint64_t max_tid, neo_id_cb data_ids, void *ctx);
int neo_rocks_drop_step(struct neo_db *db, uint32_t partition, uint64_t count,
			neo_id_cb data_ids, void *ctx, bool *done);

#endif
