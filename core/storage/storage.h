/*
 * storage/storage.h - the storage node: what the files of neostorage share.
 *
 *   storage/main.c         options, the backend module, listener, loop
 *   storage/state.c        the leaf every other file calls: configuration
 *                          keys, the stored partition table, own cell
 *                          states, error answers, stopping on a database
 *                          failure
 *   storage/master.c       the link to the primary master: identification,
 *                          recovery/verification answers, partition table
 *                          changes, starting and stopping operation
 *   storage/routes.c       the routing table: the handler of every packet
 *   storage/peers.c        connections from clients and other storages:
 *                          identification
 *   storage/read.c         loads, history, transaction lists, undo lookup
 *   storage/txn.c          write locks, staging, vote, lock, unlock, abort
 *   storage/replication.c  catching up OUT_OF_DATE cells, and serving
 *                          other storages that catch up from us
 *   storage/check.c        replica checks (neoctl check)
 *   storage/backend_call.c optional backend operations: checked, and
 *                          answered with an error when missing
 *   storage/metrics.c      what the node counts for --metrics
 *   storage/progress.c     what it imports and packs, for our master
 *
 * Everything runs in the event loop's thread; the backend is called
 * synchronously from it.
 */
#ifndef NEO_STORAGE_H
#define NEO_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cluster/idmap.h"
#include "cluster/nodes.h"
#include "cluster/ptable.h"
#include "metrics/metrics.h"
#include "net/conn.h"
#include "runtime/alloc.h"
#include "runtime/backend_loader.h"
#include "runtime/options.h"

/* One object staged by a transaction. */
struct staged_object {
	uint64_t oid;
	struct neo_opt_id data_id;	/* none: deletion */
	struct neo_opt_id value_tid;	/* undo back-pointer */
	uint64_t serial;		/* the base serial the client stored on */
	bool lockless;			/* stored while the cell replicated */
	bool deadlock_notified;		/* NotifyDeadlock sent for this lock */
	bool check_only;		/* checkCurrentSerial: lock, no row */
};

/* A transaction between its first store and its unlock or abort. */
struct storage_txn {
	uint64_t ttid, tid;		/* tid 0 until locked */
	struct neo_conn *client;	/* NULL once gone */
	bool voted, locked;
	bool has_metadata;
	bool has_pack;			/* its pack order is staged here */
	struct staged_object *objects;
	size_t object_count, object_capacity;
};

/* A request waiting for a lock to be released. */
struct delayed_request {
	struct neo_conn *conn;
	struct neo_packet pkt;		/* taken from the callback */
	struct delayed_request *next;
};

/* A connection from a client or another storage. */
struct storage_peer {
	struct neo_conn *conn;
	bool identified;
	bool outgoing;			/* we opened it (to a storage) */
	enum neo_node_type type;
	int32_t nid;
	/* An identification that names a node newer than the master's last
	 * node list: held until the next list comes (as upstream). */
	bool ident_held;
	struct neo_packet held_ident;
	char *upstream;			/* ours, to a storage of this cluster (a backup
					 * check): identified without id, under it */
};

struct replication;
struct checker;
struct sync_waiter;

/* The node's metrics (storage/metrics.c registers them; the README's
 * Metrics section says what each one counts).  NULL members are metrics
 * that could not be registered: the neo_metric_* calls ignore them. */
struct storage_metrics {
	struct neo_metric *commits, *aborts, *conflicts;
	struct neo_metric *loads, *load_seconds;
	struct neo_metric *replicated_bytes, *replicated_transactions, *replication_lag;
	struct neo_metric *cells, *transactions, *database_size;
};

struct storage {
	struct event_base *base;
	struct neo_options *opts;
	SSL_CTX *ssl;
	struct neo_listener *listener;
	struct neo_address address;
	const char *cluster;

	/* Backend. */
	struct neo_backend_module module;
	const struct neo_backend *be;
	struct neo_db *db;

	/* Master. */
	struct neo_address *masters;
	size_t master_count, master_index;
	struct neo_conn *master_conn;
	bool identified;
	struct event *reconnect_event;
	bool exiting;
	int exit_status;		/* main returns it (storage_exit) */
	/* storage_route, set by main: the files that receive packets (the
	 * master link, peers, the replication source, the retry of delayed
	 * requests) reach the routing table through it, so that routes.c,
	 * which calls their handlers, is not called back by them. */
	bool (*route)(struct storage *s, unsigned from, struct neo_conn *conn,
		      struct neo_packet *pkt);

	int32_t nid;
	/* --new-nid: the partitions of the copied database's cells, offered
	 * to the master with the request for a new id (count 0: not asked) */
	uint32_t *new_nid_partitions;
	uint32_t new_nid_count;
	struct neo_node_table nodes;
	double nodes_timestamp;		/* of the master's last node list */
	uint64_t last_pack_id;		/* the greatest approved pack order heard of */
	struct neo_ptable pt;
	bool operational;

	/* Transactions. */
	struct neo_idmap txns;		/* ttid -> storage_txn */
	/* Bytes of data staged by stores since the last commit: a large
	 * transaction (blobs, core/client/blobs.md) is committed to the
	 * database as it comes, so that its vote does not sync it all at
	 * once, blocking the node longer than a ping's timeout. */
	uint64_t staged_bytes;
	struct neo_idmap write_locks;	/* oid -> storage_txn */
	struct neo_idmap read_locks;	/* oid -> storage_txn being locked */
	struct delayed_request *delayed;
	struct event *retry_event;	/* retries delayed (storage_retry_delayed) */
	struct sync_waiter *sync_waiters;	/* answers waiting for a sync (sync.c) */
	struct event *sync_event;

	struct neo_idmap peers;		/* (uintptr_t)conn -> storage_peer */

	/* Backup mode (core/cluster/cluster.md section 16): the database
	 * holds the upstream history up to backup_tid (persisted as
	 * upstream's backup_tid key); reads stop there, writes are refused. */
	bool backup_mode;
	uint64_t backup_tid;

	struct replication *replication;
	struct checker *checker;
	struct dropper *dropper;
	struct packer *packer;

	struct storage_metrics metrics;
	/* The newest tid this node knows committed (its own unlocks, the
	 * master's answers to replication): what replication lag is
	 * measured against. */
	uint64_t newest_tid;
};

/* An allocation failed (a daemon stops in its out-of-memory handler
 * first; this is for what neo_grow refuses): not a backend status, so
 * that storage_db_failed does not blame the database. */
#define STORAGE_ENOMEM (-1)

/* Grows two arrays kept side by side (one count, one capacity) to room
 * for `needed` items each, with neo_grow: 0, or -1 (then the capacity is
 * unchanged). */
static inline int storage_grow_pair(void *first, size_t first_size, void *second,
				    size_t second_size, size_t *capacity, size_t needed)
{
	size_t first_room = *capacity, second_room = *capacity;

	if (neo_grow(first, &first_room, needed, first_size) < 0
	    || neo_grow(second, &second_room, needed, second_size) < 0)
		return -1;
	*capacity = first_room < second_room ? first_room : second_room;
	return 0;
}

/* storage/state.c: stopping */
void storage_exit(struct storage *s, int status);
bool storage_db_failed(struct storage *s, int rc, const char *what);
/* rc of a write that may find nothing to change (delete, abort, lock,
 * sign): NEO_BACKEND_NOTFOUND becomes NEO_BACKEND_OK, so that the writes
 * after it in the same step, and its commit, still run. */
int storage_write_rc(int rc);
/* Stores a pack order whose oids come as on the wire (packed as the
 * backend takes them): staged by a vote, or replicated. */
int storage_pack_order_put(struct storage *s, uint32_t partition, struct neo_pack_order *order,
			   const struct neo_opt_list_p64 *oids);

/* storage/backend_call.c: optional backend operations (neo/backend.h). */
/* Whether the module has the optional operation op. */
#define storage_backend_has(s, op) ((s)->be->op != NULL)
/* True if the module has op; else logs that `what` needs it and, with a
 * conn, answers msg_id with BACKEND_NOT_IMPLEMENTED. */
#define storage_backend_require(s, conn, msg_id, op, what) \
	storage_backend_check((s), (conn), (msg_id), storage_backend_has(s, op), #op, (what))
bool storage_backend_check(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
			   bool present, const char *op, const char *what);
/* Whether the module has every operation pack orders and packing use. */
bool storage_backend_can_pack(const struct storage *s);

/* storage/state.c: the leaf every file calls (it calls none of them). */
/* The RequestIdentification we send to another storage (replication,
 * replica checks): as upstream's, with our id_timestamp. */
void storage_peer_identification(const struct storage *s, struct neo_request_identification *req);
/* The identified connection between us and storage nid (opened by it, or
 * by one of our checks), or NULL.  As upstream, two storages share one
 * connection, whichever side opened it: an upstream storage refuses a
 * second one ("already connected"), so we replicate from and check
 * against a peer over it when there is one (core/cluster/cluster.md
 * sections 8 and 13); the one the greater id opened first. */
struct neo_conn *storage_peer_storage_conn(struct storage *s, int32_t nid);
/* Any connection to or from storage nid, identified or still identifying
 * (ours); *identified tells which.  NULL if there is none. */
struct neo_conn *storage_peer_storage_any(struct storage *s, int32_t nid, bool *identified);
/* Opens a connection to storage node and identifies over it; it is kept
 * among the peers (as that storage's one connection) until either side
 * closes it.  storage_check_peer_identified is told the outcome. */
struct neo_conn *storage_peer_connect(struct storage *s, const struct neo_node *node, char *err,
				      size_t errlen);
/* The same to a storage of the upstream cluster `name` (backup mode):
 * identified without id, under that name; closed by the caller. */
struct neo_conn *storage_peer_connect_upstream(struct storage *s, const struct neo_address *address,
					       const char *name, char *err, size_t errlen);
void storage_send_error(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The table as stored (partitions, replicas, ptid, cells) into s->pt. */
void storage_load_pt(struct storage *s);
/* The pt.tid to store for an own cell becoming or staying OUT_OF_DATE,
 * given the stored one (STORAGE_NO_CELL where none). */
int64_t storage_outdated_cell_tid(struct storage *s, uint32_t partition, int64_t stored);
/* The pack id an own cell's row gets if it is new (pt_apply keeps an
 * existing row's). */
struct neo_opt_id storage_new_cell_pack(const struct storage *s, enum neo_cell_state state);
int storage_config_get_u64(struct storage *s, const char *key, uint64_t *value);
int storage_config_set_u64(struct storage *s, const char *key, uint64_t value, bool present);
/* truncate_tid and backup_tid, in upstream's form (16 hex digits). */
int storage_config_get_tid(struct storage *s, const char *key, uint64_t *tid);
int storage_config_set_tid(struct storage *s, const char *key, uint64_t tid, bool present);
int storage_persist_pt(struct storage *s, bool reset);
/* My cell state in a partition, or -1. */
int storage_cell_state(const struct storage *s, uint32_t partition);
/* The stored pt.tid of each own cell (STORAGE_NO_CELL where none), malloc'ed;
 * for an OUT_OF_DATE cell (>= 0), up to which tid it is complete. */
#define STORAGE_NO_CELL INT64_MIN
int64_t *storage_own_cell_tids(struct storage *s, uint32_t partitions);
bool storage_readable(const struct storage *s, uint32_t partition);

/* storage/metrics.c: registers the metrics in registry, with a collector
 * for the gauges read from the node's state; 0 or -1. */
int storage_metrics_init(struct storage *s, struct neo_metrics *registry);
/* A monotonic clock in seconds, for durations. */
double storage_metrics_clock(void);
/* A load was answered; started: storage_metrics_clock() when it began. */
void storage_metrics_load(struct storage *s, double started);
/* A committed tid was seen (newest_tid follows it). */
void storage_metrics_tid(struct storage *s, uint64_t tid);

/* storage/master.c */
void storage_connect_master(struct storage *s);
void storage_master_lost(struct storage *s);

/* storage/replication.c, storage/check.c: a connection from a peer
 * storage they were using ended (peers.c tells them). */
void storage_replication_conn_closed(struct storage *s, struct neo_conn *conn, const char *reason);
void storage_check_conn_closed(struct storage *s, struct neo_conn *conn, const char *reason);
void storage_check_peer_identified(struct storage *s, struct neo_conn *conn, bool accepted);
/* storage/check.c: false if the check in progress has requests on conn;
 * else a peer of it still identifying there moves to instead. */
bool storage_check_release(struct storage *s, struct neo_conn *conn, struct neo_conn *instead);
/* storage/check.c: our connection for a check was refused "already
 * connected": the check waits for the peer's own (false if conn is not a
 * check's); the peer identified on conn. */
bool storage_check_await_peer(struct storage *s, struct neo_conn *conn);
void storage_check_peer_arrived(struct storage *s, int32_t nid, struct neo_conn *conn);
bool storage_replication_uses(const struct storage *s, const struct neo_conn *conn);
/* storage/peers.c: closes our own connections to storage nid that are
 * not the one kept between us and it, unless in use. */
void storage_peers_prune(struct storage *s, int32_t nid);
/* storage/peers.c: the master sent a node list: identifications held
 * for it are answered now. */
void storage_peers_nodes_changed(struct storage *s);
bool storage_peer_kept(const struct storage *s, const struct storage_peer *peer);

/* storage/peers.c */
void storage_on_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg);
void storage_close_peers(struct storage *s);

/* storage/routes.c: the one routing table of the storage, keyed by who
 * sent a packet and its code; the handlers are the storage_handler
 * functions below (HANDLER marks them). */
enum storage_from {
	STORAGE_FROM_MASTER = 1,	/* the primary master */
	STORAGE_FROM_CLIENT = 2,	/* an identified client */
	STORAGE_FROM_STORAGE = 4,	/* an identified storage (replicating from us) */
	STORAGE_FROM_SOURCE = 8,	/* the storage we replicate from */
	STORAGE_FROM_PEER = STORAGE_FROM_CLIENT | STORAGE_FROM_STORAGE
};
typedef void storage_handler(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt);
#define HANDLER(name) storage_handler name
/* Calls the handler of pkt for a sender among `from`; false if none. */
bool storage_route(struct storage *s, unsigned from, struct neo_conn *conn,
		   struct neo_packet *pkt);

/* storage/master.c: the master's packets */
HANDLER(storage_master_nodes);
HANDLER(storage_master_pt);
HANDLER(storage_master_pt_changes);
HANDLER(storage_master_ignored);
HANDLER(storage_master_flush_log);
HANDLER(storage_master_recovery);
HANDLER(storage_master_ask_pt);
HANDLER(storage_master_last_ids);
HANDLER(storage_master_locked);
HANDLER(storage_master_validate);
HANDLER(storage_master_truncate);
HANDLER(storage_master_pack_signed);
HANDLER(storage_master_pack_orders);
HANDLER(storage_master_start);
HANDLER(storage_master_stop);
HANDLER(storage_master_unlock);
HANDLER(storage_master_abort);
HANDLER(storage_master_txn_finished);
HANDLER(storage_master_check);
HANDLER(storage_master_repair);

/* storage/read.c */
HANDLER(storage_ask_object);
HANDLER(storage_ask_history);
HANDLER(storage_ask_transaction);
HANDLER(storage_ask_tids);
HANDLER(storage_ask_tids_from);
HANDLER(storage_ask_oids_from);
HANDLER(storage_ask_undo_serial);
HANDLER(storage_ask_final_tid);

/* storage/txn.c */
HANDLER(storage_store_object);
HANDLER(storage_check_current);
HANDLER(storage_vote);
HANDLER(storage_relock);
HANDLER(storage_client_abort);
HANDLER(storage_lock_txn);
void storage_unlock_txn(struct storage *s, uint64_t ttid);
void storage_abort_txn(struct storage *s, uint64_t ttid);
void storage_validate_txn(struct storage *s, uint64_t ttid, uint64_t tid);
void storage_txn_conn_closed(struct storage *s, struct neo_conn *conn);
void storage_txn_reset(struct storage *s);
void storage_drop_unfinished(struct storage *s);
bool storage_oid_read_locked(struct storage *s, uint64_t oid);
/* Whether a transaction not yet unlocked uses data_id: its data must stay
 * even when the last committed row using it goes. */
bool storage_data_held(struct storage *s, uint64_t data_id);
/* Prunes the data ids of ids (a list it reorders) that no transaction
 * holds; returns the backend's status. */
int storage_prune_unheld(struct storage *s, struct neo_id_list *ids);
bool storage_tid_locked_upto(struct storage *s, uint64_t max_tid);
void storage_delay(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt);
/* Retries the delayed requests from a deferred event. */
void storage_retry_delayed(struct storage *s);

/* --- storage/sync.c: group commit --------------------------------------- */

/* Answers (code; ttid for AnswerInformationLocked) once what was
 * committed LAZY so far is made durable, with the other answers of this
 * turn of the loop, by one SYNC commit. */
void storage_sync_answer(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
			 uint16_t code, uint64_t ttid);
/* Forgets the answers waiting for conn (NULL: all). */
void storage_sync_drop(struct storage *s, struct neo_conn *conn);
void storage_sync_free(struct storage *s);
/* Whether that retry is due: a request arriving meanwhile is delayed
 * behind the queue, so that none takes a lock before those waiting. */
bool storage_retry_pending(const struct storage *s);
void storage_lockless_done(struct storage *s, uint32_t partition);
bool storage_has_lockless(struct storage *s, uint32_t partition);

/* storage/replication.c */
void storage_replication_update(struct storage *s);
void storage_replication_stop(struct storage *s);
/* The master says ttid ended: committed as max_tid, or aborted. */
void storage_replication_txn_finished(struct storage *s, uint64_t ttid, bool committed,
				      uint64_t max_tid);
/* Whether an OUT_OF_DATE cell of ours holds all it should: writes to it
 * take locks again (conflicts can be checked here). */
bool storage_replication_complete(const struct storage *s, uint32_t partition);
HANDLER(storage_replicate_order);
/* StartOperation(backup=true): backup orders start from the backup tid. */
void storage_replication_backup_start(struct storage *s);
/* Whether pack id may be applied to a readable cell: in backup mode, only
 * once the cell holds the upstream history past it (as upstream's
 * filterPackable); always otherwise. */
bool storage_replication_packable(const struct storage *s, uint32_t partition, uint64_t id);
HANDLER(storage_serve_transactions);
HANDLER(storage_serve_objects);
HANDLER(storage_source_transaction);
HANDLER(storage_source_object);

/* storage/drop.c: rows of partitions no longer held, deleted in the
 * background. */
void storage_drop_partition(struct storage *s, uint32_t partition);
void storage_drop_unassigned(struct storage *s);
void storage_drop_stop(struct storage *s);

/* storage/pack.c: approved pack orders applied in the background. */
/* gc.c: pack's garbage collection, asked by the master
 * (core/cluster/cluster.md section 14.2). */
storage_handler storage_gc_references, storage_gc_sweep, storage_gc_transactions,
	storage_gc_revisions_kept, storage_gc_drop_transactions, storage_gc_swept;
/* The master's list of orders (AskPackOrders): the last one approved is
 * kept as gc_settled (its garbage collection is over). */
struct neo_answer_pack_orders;
void storage_gc_settled(struct storage *s, const struct neo_answer_pack_orders *orders);

void storage_pack_update(struct storage *s);
/* --disable-pack: the approved orders are reported done, not applied. */
struct neo_list_p64;
void storage_pack_skip(struct storage *s, const struct neo_list_p64 *approved);
void storage_pack_stop(struct storage *s);
/* Backup mode: a cell's backup tid moved; an order left for it may go on. */
void storage_pack_backup_moved(struct storage *s);
/* Backup mode: a signature for an order not replicated yet, kept for when
 * it is (as upstream's keepPendingSignedPackOrders). */
void storage_pack_sign_later(struct storage *s, uint64_t id, bool approved);
/* The current order's progress (partition, pace, time left); false when
 * none is being applied. */
struct neo_progress;
bool storage_pack_progress(struct storage *s, struct neo_progress *out);
/* The catch-up of own OUT_OF_DATE cells (cells done, partition, bytes,
 * pace, time left); false when none is behind (storage/replication.c). */
bool storage_replication_progress(struct storage *s, struct neo_progress *out);
/* storage/progress.c: AskProgress (ours) from our master. */
HANDLER(storage_progress_ask);
void storage_pack_answer_orders(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
				uint64_t min_id);
/* Pack state in replication (core/storage/replication.c), as upstream:
 * the completed pack (pt.pack) of an own cell; a source's completed pack
 * lowering ours; a replicated transaction's pack order stored; the pack
 * order of a transaction to send (*oids malloc'ed for the caller). */
int storage_pack_completed_of(struct storage *s, uint32_t partition, struct neo_opt_id *pack);
int storage_pack_replicated(struct storage *s, uint32_t partition, uint64_t completed);
int storage_pack_order_replicated(struct storage *s, uint32_t partition, uint64_t tid,
				  const struct neo_pack_state *pack);
int storage_pack_order_of(struct storage *s, uint32_t partition, uint64_t tid,
			  struct neo_opt_pack_state *pack, uint64_t **oids);

/* storage/check.c */
void storage_check_partition(struct storage *s, struct neo_packet *pkt);
HANDLER(storage_check_tid_range);
HANDLER(storage_check_serial_range);
void storage_check_stop(struct storage *s);

#endif
