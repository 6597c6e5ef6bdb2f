/*
 * neo/client.h - libneoclient, the C client of a NEO cluster.
 *
 * A client connects to the primary master of a cluster (found through the
 * list of masters), keeps the node list and partition table current, and
 * talks to storage nodes for loads and commits, as upstream's neo.client
 * does (protocol 5).  Every call below writes its own requests from the
 * calling thread and blocks that thread only, until one internal thread,
 * which reads the network, hands it its answers; calls may be made from
 * any thread (over TLS, the internal thread also writes them).
 *
 * Ids (oids, tids, serials) are 64-bit integers (big-endian on the wire).
 * Data is passed uncompressed; the library compresses (zlib) on store
 * when it makes data smaller, and checks SHA-1 checksums on load.
 *
 * Errors: every call returns a neo_client_status; NEO_CLIENT_OK is 0.
 * neo_client_errmsg() gives the message of the last error of the calling
 * thread.
 *
 * Ownership: buffers returned to the caller (record data, lists) are
 * malloc'ed and belong to the caller, who frees them with
 * neo_client_record_clear / neo_client_free.
 */
#ifndef NEO_CLIENT_H
#define NEO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: blobs (neo_txn_store_blob_*, neo_client_load_blob_*, NOT_BLOB, IO). */
#define NEO_CLIENT_API_VERSION 2

enum neo_client_status {
	NEO_CLIENT_OK = 0,
	NEO_CLIENT_NOT_FOUND = 1,	/* oid does not exist (never stored) */
	NEO_CLIENT_NO_DATA = 2,		/* no data at that time: before its creation,
					 * deleted, or creation undone */
	NEO_CLIENT_CONFLICT = 3,	/* write conflict: see the vote's conflicts */
	NEO_CLIENT_READ_CONFLICT = 4,	/* check_current failed (vote; not resolvable) */
	NEO_CLIENT_UNDO_ERROR = 5,	/* undo impossible (changed since, or packed) */
	NEO_CLIENT_READ_ONLY = 6,	/* read-only client or cluster */
	NEO_CLIENT_DISCONNECTED = 7,	/* lost the primary master (or no cluster within
					 * the connect timeout): retry the transaction */
	NEO_CLIENT_UNAVAILABLE = 8,	/* no storage could serve the request */
	NEO_CLIENT_TIMEOUT = 9,		/* no cluster within the connect timeout, or a
					 * call not done within the call timeout */
	NEO_CLIENT_INCOMPLETE = 10,	/* the cluster refused to finish the transaction */
	NEO_CLIENT_INVALID = 11,	/* bad argument or call order */
	NEO_CLIENT_PROTOCOL = 12,	/* a node misbehaved */
	NEO_CLIENT_NOMEM = 13,
	NEO_CLIENT_TID_NOT_FOUND = 14,	/* no such transaction */
	NEO_CLIENT_NOT_BLOB = 15,	/* the revision is not a blob (load_blob) */
	NEO_CLIENT_IO = 16		/* reading or writing a file failed (blobs) */
};

struct neo_client;
struct neo_txn;

/* Called from the client's network thread, in commit order, for every
 * transaction committed by another client.  After a reconnection that may
 * have missed transactions, called once with oids NULL and count 0:
 * anything may have changed up to tid.  Keep it short; never call back
 * into the client from it. */
typedef void (*neo_client_invalidate_cb)(void *arg, uint64_t tid, const uint64_t *oids,
					 size_t count);

struct neo_client_config {
	uint32_t struct_size;		/* sizeof(struct neo_client_config) */
	const char *cluster;		/* cluster name (required) */
	const char *masters;		/* "host:port host:port" (required) */
	bool read_only;
	size_t cache_size;		/* bytes of object cache; 0: 20 MiB.  Also bounds
					 * a transaction's store data in flight */
	int compress;			/* -1 or 1..9: zlib at that level (-1 default); 0: none */
	const char *ca, *cert, *key;	/* SSL: all three or none */
	const char *logfile;		/* NULL: errors only, to stderr.  One log per
					 * process: the first client opened sets it */
	unsigned connect_timeout_ms;	/* for the first connection, and how long a
					 * call waits for a lost cluster; 0: 30 s */
	neo_client_invalidate_cb on_invalidate;
	void *invalidate_arg;
	unsigned call_timeout_ms;	/* how long any call may block; 0: 60 s.  A call
					 * not done by then returns TIMEOUT (a finish:
					 * its outcome unknown, see neo_txn_finish) */
};

/* Starts the client and waits until the cluster is ready (RUNNING,
 * operational partition table) or the timeout expires (TIMEOUT; the
 * message says why the masters did not let us in).  Afterwards the
 * client reconnects by itself whenever it loses the primary master. */
int neo_client_open(const struct neo_client_config *config, struct neo_client **client);
/* Aborts and frees open transactions (their pointers must not be used
 * after), closes connections, stops the thread, frees. */
void neo_client_close(struct neo_client *client);

/* The message of the calling thread's last error ("" if none). */
const char *neo_client_errmsg(void);
void neo_client_free(void *pointer);

/* --- Reading -------------------------------------------------------------- */

struct neo_client_record {
	uint64_t oid;
	uint64_t serial;		/* the revision's tid */
	uint64_t next_serial;		/* 0: it is the current revision */
	uint8_t *data;			/* uncompressed; NULL with size 0 if none */
	size_t size;
};

void neo_client_record_clear(struct neo_client_record *record);

/* On NO_DATA, the loads below leave data NULL but set serial (and
 * next_serial) when they found a revision without data (a deletion, or
 * an undone creation), and leave them 0 when there is no revision at
 * that time (before the creation): ZODB tells the two apart. */

/* The revision current as of the last transaction this client knows
 * (next_serial is set if an invalidation came while loading). */
int neo_client_load(struct neo_client *client, uint64_t oid, struct neo_client_record *out);
/* The revision with serial == tid (loadSerial). */
int neo_client_load_serial(struct neo_client *client, uint64_t oid, uint64_t serial,
			   struct neo_client_record *out);
/* load_serial, also telling where the data comes from: *data_serial is
 * the revision an undo pointed back to, 0 if the revision has data of its
 * own (for iterators: ZODB's DataRecord.data_txn).  Never from the cache. */
int neo_client_load_serial_ex(struct neo_client *client, uint64_t oid, uint64_t serial,
			      struct neo_client_record *out, uint64_t *data_serial);
/* The newest revision with serial < before (loadBefore). */
int neo_client_load_before(struct neo_client *client, uint64_t oid, uint64_t before,
			   struct neo_client_record *out);

int neo_client_last_tid(struct neo_client *client, uint64_t *tid);
/* Waits until every invalidation the master sent before now has arrived. */
int neo_client_sync(struct neo_client *client);
int neo_client_new_oids(struct neo_client *client, size_t count, uint64_t *oids);

struct neo_client_history_entry {
	uint64_t serial;
	uint64_t size;
};
/* Up to `length` revisions of oid, newest first; *entries malloc'ed.
 * NOT_FOUND if the oid has none. */
int neo_client_history(struct neo_client *client, uint64_t oid, size_t length,
		       struct neo_client_history_entry **entries, size_t *count);

struct neo_client_txn_info {
	uint64_t tid;
	uint8_t *user, *description, *extension;	/* malloc'ed, not NUL-ended */
	size_t user_size, description_size, extension_size;
	bool packed;
	uint64_t *oids;
	size_t oid_count;
};
void neo_client_txn_info_clear(struct neo_client_txn_info *info);
int neo_client_transaction_info(struct neo_client *client, uint64_t tid,
				struct neo_client_txn_info *out);
/* Tids of transactions, newest first, offsets [first, last) (undoLog).  As
 * upstream, each storage applies the offsets to its own cells: only the
 * first page (first 0) is exact. */
int neo_client_undo_log(struct neo_client *client, uint64_t first, uint64_t last,
			uint64_t **tids, size_t *count);
/* Tids in [start, stop] ascending, at most `length` (0: no bound) (iterator). */
int neo_client_tids_from(struct neo_client *client, uint64_t start, uint64_t stop,
			 size_t length, uint64_t **tids, size_t *count);

/* --- Writing -------------------------------------------------------------- */

struct neo_client_conflict {
	uint64_t oid;
	uint64_t committed_serial;	/* the serial that conflicts */
	uint64_t base_serial;		/* the serial this transaction stored against */
	uint8_t *data;			/* the data this transaction tried to store */
	size_t size;
	bool read_conflict;		/* from check_current: not resolvable */
};

/*
 * Pack (IStorage.pack), as upstream: commits a transaction carrying the
 * order to forget, for each object, the revisions before its last one at
 * pack_tid (and every revision up to a deletion then current); storages
 * apply it in the background.  oids NULL: the whole database; else only
 * those objects.  *pack_id gets the order's id (its tid).  With wait,
 * returns once every storage has applied it (and clears the cache, whose
 * old revisions may be gone).  A pack_tid after the last transaction is
 * refused by the master (PROTOCOL); 0 does nothing.
 */
int neo_client_pack(struct neo_client *client, uint64_t pack_tid, const uint64_t *oids,
		    size_t count, bool wait, uint64_t *pack_id);
/*
 * The same for the whole database, saying whether the pack collects
 * garbage (NEO in C's clusters: every object not reachable from the root
 * at pack_tid goes too, and the transactions left empty): gc 1 yes, 0 no,
 * -1 as the cluster's default (the master's pack-gc).  The choice goes in
 * the pack transaction's extension; an upstream cluster ignores it.
 */
int neo_client_pack_gc(struct neo_client *client, uint64_t pack_tid, int gc, bool wait,
		       uint64_t *pack_id);
/* Waits until every storage has applied pack pack_id. */
int neo_client_wait_for_pack(struct neo_client *client, uint64_t pack_id);

/* tid 0: a new transaction; else the tid to commit as (restore/import).
 * READ_ONLY for a read-only client. */
int neo_client_begin(struct neo_client *client, uint64_t tid, struct neo_txn **txn);
/* Stores a revision of oid based on `serial` (0 for a new object).  Sent at
 * once (waiting only while the transaction's data in flight passes the
 * cache size); a conflict is reported by vote.  Storing an oid again
 * replaces the earlier store (after conflict resolution, with the new
 * base). */
int neo_txn_store(struct neo_txn *txn, uint64_t oid, uint64_t serial, const void *data,
		  size_t size);
/* A deletion (IExternalGC). */
int neo_txn_delete(struct neo_txn *txn, uint64_t oid, uint64_t serial);
/* An undo-style revision: the data of revision data_serial (a
 * back-pointer; the data is loaded and sent along, as upstream). */
int neo_txn_store_undo(struct neo_txn *txn, uint64_t oid, uint64_t serial, uint64_t data_serial);
/* checkCurrentSerialInTransaction: vote reports a read_conflict if oid
 * changed since serial.  INVALID for an oid stored in this transaction. */
int neo_txn_check_current(struct neo_txn *txn, uint64_t oid, uint64_t serial);
/*
 * Undoes transaction undone_tid: stores back-pointers for each of its
 * oids.  *oids (malloc'ed) lists them.  UNDO_ERROR if an object changed
 * since and cannot be undone without conflict resolution: nothing is
 * stored then, and *oids lists the objects modified since.
 */
int neo_txn_undo(struct neo_txn *txn, uint64_t undone_tid, uint64_t **oids, size_t *count);
/*
 * What undoing undone_tid means for each of its objects, as the storages
 * see it now (AskObjectUndoSerial), storing nothing: for a caller that
 * resolves undo conflicts itself, as upstream's Python client does.
 * current_serial is the object's last revision (the transaction's own
 * ttid if this transaction already stored it); undo_serial the revision
 * to go back to (0: undoing the creation); is_current false if the object
 * changed since undone_tid.  *serials malloc'ed (neo_client_free); objects
 * the storages no longer know are left out.
 */
struct neo_client_undo_serial {
	uint64_t oid;
	uint64_t current_serial;
	uint64_t undo_serial;
	bool is_current;
};
int neo_txn_undo_serials(struct neo_txn *txn, uint64_t undone_tid,
			 struct neo_client_undo_serial **serials, size_t *count);
/*
 * Waits for every store, then votes with the metadata.  On CONFLICT,
 * *conflicts (malloc'ed, free with neo_client_conflicts_free) lists them:
 * the caller resolves each, stores again with the committed serial as
 * base, and votes again.  READ_CONFLICT when some of them come from
 * check_current (read_conflict set, listed too): abort then.  On any other
 * failure, abort.
 */
int neo_txn_vote(struct neo_txn *txn, const void *user, size_t user_size,
		 const void *description, size_t description_size,
		 const void *extension, size_t extension_size,
		 struct neo_client_conflict **conflicts, size_t *count);
void neo_client_conflicts_free(struct neo_client_conflict *conflicts, size_t count);
/*
 * Finishes a voted transaction; *tid gets its final tid.  Frees txn on
 * success; on failure txn stays, for neo_txn_abort.  If the master is lost
 * during finish, the outcome is asked again (AskFinalTID) once reconnected
 * to a master, as upstream, until the call timeout: OK means committed,
 * DISCONNECTED not committed, TIMEOUT that the outcome is unknown (the
 * message says so; a new client reading the objects tells).
 */
int neo_txn_finish(struct neo_txn *txn, uint64_t *tid);
/* Aborts and frees txn (at any point before finish). */
void neo_txn_abort(struct neo_txn *txn);
/* The temporary id the master gave the transaction. */
uint64_t neo_txn_ttid(const struct neo_txn *txn);

/* --- Blobs ----------------------------------------------------------------
 *
 * A blob (ZODB's IBlobStorage) is kept as ordinary records, so that any
 * node of the cluster (upstream's too) stores, replicates and packs it
 * without knowing (layout: core/client/blobs.md).  The blob object's
 * record holds the object's own data followed by a manifest (the blob's
 * size, SHA-1 and the oids of its chunks); each chunk, "NEOCHUNK" and at most
 * NEO_CLIENT_BLOB_CHUNK_SIZE bytes of the blob, is a record under an oid
 * of its own, new, stored in the same transaction.  The loads above
 * return a blob object's record whole: neo_client_blob_data_size tells
 * where the object's own data ends.
 *
 * Memory: storing a blob holds one chunk at a time in the caller's
 * thread, plus what the transaction has in flight (bounded by the cache
 * size, see neo_txn_store); loading asks 4 chunks at once (from threads
 * of its own) and holds at most those.  Chunks never enter the object
 * cache.  Storing a chunk compresses it only if a sample of the blob's
 * first chunk compresses (data already compressed skips zlib).
 */
#define NEO_CLIENT_BLOB_CHUNK_SIZE (1024 * 1024)

/*
 * Stores a revision of oid based on `serial` (0 for a new object) whose
 * record is `data` (the object's own, may be empty) and whose blob is
 * what fd reads until its end (read from its current position).  Chunks
 * get new oids from the master.  When the base revision is a blob, its
 * chunks are deleted in this transaction, so that pack forgets them
 * with that revision and undo brings them back with it (core/client/blobs.md).
 * IO if reading fd fails; any failure leaves the transaction to abort.
 */
int neo_txn_store_blob_fd(struct neo_txn *txn, uint64_t oid, uint64_t serial, const void *data,
			  size_t size, int fd);
/* The same, reading the file at path. */
int neo_txn_store_blob_path(struct neo_txn *txn, uint64_t oid, uint64_t serial,
			    const void *data, size_t size, const char *path);
/*
 * Writes the blob of revision `serial` of oid to fd (at its current
 * position), chunk by chunk, checking the blob's SHA-1 at the end;
 * *blob_size (may be NULL) gets its size.  NOT_FOUND / NO_DATA as
 * neo_client_load_serial, NOT_BLOB if that revision has no blob,
 * PROTOCOL if a chunk is missing or the digest differs (what was written
 * is then not the blob), IO if writing fails.
 */
int neo_client_load_blob_fd(struct neo_client *client, uint64_t oid, uint64_t serial, int fd,
			    uint64_t *blob_size);
/* The same into a new file at path: written beside it under a temporary
 * name, then renamed, so that path is the whole blob or absent to other
 * processes, and after this one's crash.  Not synced (a cache's copy, as
 * ZEO's and RelStorage's blob caches): after a crash of the OS, the file
 * may be short; fsync it, or use neo_client_load_blob_fd, where that
 * matters. */
int neo_client_load_blob_path(struct neo_client *client, uint64_t oid, uint64_t serial,
			      const char *path, uint64_t *blob_size);
/* The size of the object's own data in a record: `size` for a record
 * that is not a blob object's. */
size_t neo_client_blob_data_size(const void *record, size_t size);
/* Whether a record is a blob object's (has a manifest). */
bool neo_client_record_is_blob(const void *record, size_t size);
/* Whether a record is a blob's chunk (it starts with "NEOCHUNK"): an
 * iterator copying a database leaves them out, their blob is copied with
 * its object. */
bool neo_client_record_is_blob_chunk(const void *record, size_t size);
/* The chunk oids a blob object's record lists (*oids malloc'ed, free with
 * neo_client_free); NOT_BLOB if it is not a blob object's record. */
int neo_client_blob_chunk_oids(const void *record, size_t size, uint64_t **oids,
			       size_t *count);

#ifdef __cplusplus
}
#endif

#endif
