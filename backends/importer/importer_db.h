/*
 * importer_db.h - importer.so, the Importer backend module: a FileStorage
 * (Data.fs) becomes a NEO database at once.  It stacks on another backend
 * module, the destination (sqlite.so, mysql_innodb.so, rocksdb.so), which
 * it loads with the node's loader, and is configured as upstream's:
 * adapter=Importer (or engine=importer) and database= the path of an
 * importer.conf (conf/importer.conf says what goes in it).
 *
 * What it promises (conf/importer.conf tells users how to use it):
 *   - every read answers, during the import, exactly what it answers
 *     after: revisions whose serial is at most the Data.fs's last tid
 *     (fs_ltid, fixed at the first start) are served from the Data.fs
 *     through an in-memory index until the import is finished, whatever
 *     has been imported; newer ones (NEO's commits) from the destination;
 *   - a background thread imports the Data.fs in tid order into the
 *     destination, with every transaction's metadata and every record's
 *     data and undo pointer, committing its progress (config key
 *     importer_tid) in the same destination transaction as the rows, so
 *     that a kill -9 resumes where it was with nothing duplicated;
 *   - with writeback=true, NEO's commits are appended to the Data.fs;
 *   - with a blob-dir, the blobs of the Data.fs are served and imported in
 *     NEO's blob layout, their chunks as revisions added to the index
 *     (importer_blobs.c); writeback is refused then;
 *   - pack is refused (the pack operations are NULL, as upstream disables
 *     pack with this backend); truncation below fs_ltid is refused.
 *
 * Threads: the node's thread calls the operations; the import thread
 * shares the destination handle.  Every use of the destination holds
 * db->lock.  The import thread writes and commits only while the node has
 * no uncommitted write but data rows (db->dirty, see importer_module.c).
 * Worker threads (importer_prepare.h) read and compress the Data.fs ahead
 * of it, each with its own handle on the file, never touching the
 * destination.
 */
#ifndef NEO_IMPORTER_DB_H
#define NEO_IMPORTER_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "filestorage/blob_dir.h"

#include "filestorage/filestorage.h"
#include "neo/backend.h"
#include "runtime/backend_loader.h"

struct prepare;

/* A thread's compressor, kept from one record to the next
 * (importer_deflate.c: libdeflate's or a zlib stream; zeroed = none yet). */
struct importer_deflate {
	void *state;
	int level;
};

/* Data ids of FileStorage data: the position of the data record with
 * this bit set.  The destination's ids are (partition << 48) + n, below
 * 2^62 for any partition count NEO uses. */
#define IMPORTER_FS_DATA_ID (1ull << 62)
/* ... with these bits: a blob chunk's data (the chunk's oid less the
 * first chunk oid), a blob revision's record (its number in the plan);
 * importer_blobs.c. */
#define IMPORTER_CHUNK_DATA_ID (1ull << 61)
#define IMPORTER_BLOB_DATA_ID (1ull << 60)
/* The pos of a blob chunk's revision in the index (| 1: a deletion). */
#define IMPORTER_VIRTUAL_POS (1ull << 63)
#define IMPORTER_MAX_TID 0x7fffffffffffffffull

struct importer_conf {
	char *adapter, *engine, *database;
	int wait_seconds;		/* -1: forever; -2: the node's */
	bool writeback;
	int compress_level;		/* -1: no compression; else zlib's level */
	char *source_name;		/* the source section */
	char *fs_path;
	char *blob_dir;			/* its blob-dir, NULL: none */
};

struct importer_appended {		/* a record writeback appended */
	uint64_t oid, tid, pos;
};

struct neo_db {
	struct importer_conf conf;
	struct neo_backend_module module;	/* the destination's */
	const struct neo_backend *be;
	struct neo_db *inner;
	void (*log)(void *ctx, enum neo_backend_log_level level, const char *message);
	void *log_ctx;

	struct fs_file *fs;
	struct fs_index index;		/* of transactions <= fs_ltid, blob chunks added */
	struct importer_blobs *blobs;	/* NULL without a blob-dir */
	struct blob_dir blob_layout;
	uint64_t fs_ltid;		/* the last tid to import */
	uint64_t imported_tid;		/* all transactions <= it are imported */
	size_t next_txn;		/* index in index.txns of the next one */
	bool finished;			/* reads go to the destination only */
	uint64_t *last_tid_of, *last_oid_of;	/* per partition, of the FS */
	bool *has_last_of;
	uint32_t last_np;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started, stopping;
	struct prepare *prepare;	/* the import's workers (importer_prepare.h) */
	bool dirty;			/* the node wrote, not committed yet */

	/* progress */
	double started, last_log;
	uint64_t bytes_done, txns_done, bytes_at_start;

	/* writeback */
	uint64_t wb_last_tid;		/* last tid in the Data.fs */
	bool wb_blocked;		/* a blob stopped writeback */
	struct importer_appended *appended;
	size_t nappended, appended_cap;

	/* outputs of the node-facing operations (the node's thread only) */
	struct importer_deflate deflate;
	uint8_t *out, *out2;
	size_t outcap, out2cap;
	uint8_t *keep[4];
	size_t keepcap[4];
	char errmsg[1024];
	char thread_err[1024];		/* the import thread's last error */
};

/* importer_deflate.c: len bytes as one zlib-format stream in buf (cap
 * at least importer_deflate_bound(len)), at zlib level 1..9. */
size_t importer_deflate_bound(size_t len);
int importer_deflate(struct importer_deflate *zs, int level, const uint8_t *raw, size_t len,
		     uint8_t *buf, size_t cap, size_t *out);
void importer_deflate_end(struct importer_deflate *zs);

/* importer_conf.c */
int importer_conf_read(const char *path, struct importer_conf *conf, char *err, size_t errlen);
void importer_conf_free(struct importer_conf *conf);

/* importer_module.c */
void importer_log(struct neo_db *db, enum neo_backend_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets the message errmsg() gives (the import thread's own, in it). */
int importer_fail(struct neo_db *db, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The calling thread's importer_fail() messages go to buf (1024 bytes). */
void importer_mark_import_thread(char *buf);
const char *importer_thread_error(struct neo_db *db);
uint32_t importer_partitions(struct neo_db *db);
int importer_grow(uint8_t **buf, size_t *cap, size_t need);

/* importer_fsread.c: FileStorage revisions as the destination would
 * hold them (compressed as the import stores them). */
int importer_fs_object(struct neo_db *db, size_t rev, struct neo_object *out);
int importer_fs_data_id(struct neo_db *db, size_t rev, struct neo_opt_id *data_id);
int importer_fs_data(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		     uint8_t checksum[20], struct neo_bytes *data, uint8_t **buf, size_t *cap);
int importer_fs_trans(struct neo_db *db, size_t txn, uint32_t partition, struct neo_trans *out);
int importer_fs_value_tid(struct neo_db *db, size_t rev, uint64_t *value_tid);
/* raw data in the form the import stores it (zlib when smaller, as
 * upstream): *data is raw, or in *buf (the caller's scratch). */
int importer_stored_form(struct neo_db *db, struct importer_deflate *zs, const uint8_t *raw,
			 size_t len, uint8_t **buf, size_t *cap, struct neo_bytes *data,
			 uint8_t *compression);
/* The same for a blob chunk: zlib only if a sample of it compresses. */
int importer_stored_chunk(struct neo_db *db, struct importer_deflate *zs, const uint8_t *raw,
			  size_t len, uint8_t **buf, size_t *cap, struct neo_bytes *data,
			  uint8_t *compression);
/* Copies bytes the destination returned into the node's own buffer
 * (slot 0..3), so that the import thread's later calls on the shared
 * handle cannot change them before the node has copied them. */
int importer_keep(struct neo_db *db, int slot, struct neo_bytes *bytes);

/* importer_blobs.c: the blob directory in NEO's blob layout. */
int importer_blobs_open(struct neo_db *db, char *err, size_t errlen);
void importer_blobs_close(struct neo_db *db);
/* The plan's blob revision (oid, tid), -1 if that revision is no blob's. */
long importer_blob_rev_at(struct neo_db *db, uint64_t oid, uint64_t tid);
/* The blob object's record: data (the Blob's pickle) and the manifest,
 * into *buf (data may be *buf itself). */
int importer_blob_record(struct neo_db *db, long idx, const uint8_t *data, size_t len,
			 uint8_t **buf, size_t *cap, size_t *size);
/* A chunk's record at tid (*has_data false: its deletion). */
int importer_blob_chunk(struct neo_db *db, uint64_t oid, uint64_t tid, bool *has_data,
			uint8_t **buf, size_t *cap, size_t *size);
uint64_t importer_blob_chunk_data_id(struct neo_db *db, uint64_t oid);
uint64_t importer_blob_record_data_id(long idx);
/* The raw record a data id with IMPORTER_CHUNK/BLOB_DATA_ID names. */
int importer_blob_data(struct neo_db *db, uint64_t data_id, uint8_t **raw, size_t *rawcap,
		       size_t *size);
/* The chunk oids created or deleted by transaction tid, in oid order. */
size_t importer_blob_chunks_of_txn(struct neo_db *db, uint64_t tid, uint64_t **oids,
				   size_t *cap);

/* importer_reads.c: the node-facing reads, merged. */
void importer_reads_table(struct neo_backend *t);

/* importer_import.c */
int importer_start(struct neo_db *db);
void importer_stop(struct neo_db *db);
int importer_import_progress(struct neo_db *db, struct neo_import_progress *out);

/* importer_writeback.c */
int importer_writeback_open(struct neo_db *db);
int importer_writeback_step(struct neo_db *db);

#endif
