/*
 * master/master.h - the master node: what the files of neomaster share.
 *
 *   master/main.c      options, listener, signals, the loop
 *   master/routes.c    the connections' callbacks and THE routing table:
 *                      which handler gets which packet from which peer
 *   master/nodes.c     what every file calls (a leaf): node data, node
 *                      notifications, broadcasts, the state setters
 *   master/decide.c    recovery's and the commit queue's decisions, from
 *                      the master's state alone (unit-tested)
 *   master/ident.c     identification, the election between masters,
 *                      secondary role
 *   master/recovery.c  cluster states: recovery, verification, running,
 *                      stopping, and losing nodes
 *   master/pt.c        building and changing the partition table
 *   master/txn.c       tids, oids and the commit protocol
 *   master/pack.c      pack orders
 *   master/admin.c     requests relayed by the admin node (neoctl)
 *   master/metrics.c   what the master counts for --metrics
 *   master/progress.c  progress of import, pack and GC, for our admins
 *   master/backup.c    backup mode: following an upstream cluster
 *
 * Calls go one way: main -> routes -> admin, ident -> recovery -> txn ->
 * pack -> nodes, with pt and decide between recovery and nodes; nodes.c
 * calls no other file (tests/build/call_graph.py lists any loop).  One
 * loop is known: backup.c lives beside recovery.c (recovery enters and
 * stops backup mode, txn asks the backup tid, and leaving backup mode
 * stops operation through recovery).
 *
 * Everything runs in the event loop's thread.
 */
#ifndef NEO_MASTER_H
#define NEO_MASTER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cluster/idmap.h"
#include "cluster/nodes.h"
#include "cluster/ptable.h"
#include "metrics/metrics.h"
#include "net/conn.h"
#include "runtime/options.h"

/* What the master keeps per node, in struct neo_node's owner_data. */
struct master_node {
	bool ready;			/* storage: NotifyReady after StartOperation */
	bool started;			/* storage: StartOperation sent */
	bool recovery_asked;		/* storage: AskRecovery sent in this recovery */
	bool recovery_answered;
	int64_t recovery_ptid;		/* -1: none */
	uint64_t recovery_backup_tid, recovery_truncate_tid;
	bool recovery_has_backup_tid;	/* its database is in backup mode */
	bool replication_watch;		/* storage: asked unfinished transactions */
	uint64_t readiness;		/* storage: order of its NotifyReady */
	uint64_t pack_completed;	/* storage: last pack id it completed */
	bool gc_capable;		/* storage: ours, serves pack's GC ("gc" in its extra) */
	bool progress;			/* storage, admin: ours, asked AskProgress, told
					 * NotifyProgress ("progress" in its extra) */
	bool read_only;			/* client: read_only (or backup) in its extra */
	bool backup;			/* client: the master of a backup cluster */
	char backup_name[64];		/* client: that backup cluster's name */
	/* admin: the backup clusters it watches (--monitor-backup), each
	 * name NUL-terminated, an empty name last */
	char watched[256];
};

/* A transaction between begin and the end of its commit. */
struct master_txn {
	uint64_t ttid, tid;		/* tid 0 until finish */
	bool fixed_tid;			/* begin gave the tid (restore) */
	struct neo_conn *client;	/* NULL once the client is gone */
	int32_t client_nid;
	bool finishing;			/* AskFinishTransaction received */
	uint32_t finish_msg_id;
	double finish_started;		/* master_metrics_clock() at finish */
	uint64_t *oids;
	uint32_t oid_count;
	int64_t *deleted;		/* partitions of the deleted oids (finish) */
	uint32_t deleted_count;
	uint64_t storage_readiness;	/* storages ready at begin: up to this */
	int32_t *failed;		/* storages a write failed to (FailedVote) */
	uint32_t failed_count;
	size_t failed_capacity;
	int32_t *involved;		/* storages asked to lock */
	uint32_t involved_count;
	int32_t *lock_waiting;		/* storages whose lock answer is awaited */
	uint32_t locks_pending;		/* how many (a subset of involved) */
	bool has_pack;			/* a pack transaction: its order */
	bool pack_partial;
	uint64_t pack_tid;
	uint64_t *pack_oids;
	uint32_t pack_oid_count;
	int32_t *watchers;		/* storages told NotifyTransactionFinished */
	uint32_t watcher_count;
	size_t watcher_capacity;
	struct neo_conn *final_waiter;	/* AskFinalTID answered at commit */
	uint32_t final_waiter_msg_id;
	struct master_txn *next;	/* in ttid order of begin */
};

struct master_candidate_link;

struct master {
	struct event_base *base;
	struct neo_options *opts;
	SSL_CTX *ssl;
	struct neo_listener *listener;
	struct neo_address address;	/* as others reach us */
	const char *cluster;

	struct neo_address *masters;	/* configured peers, self excluded */
	size_t master_count;

	/* Role. */
	bool primary;
	double election_key;		/* when this candidacy started */
	struct neo_conn *primary_conn;	/* secondary role: link to the primary */
	struct neo_address primary_address;
	struct event *retry_event;	/* candidate/secondary reconnections */
	struct neo_conn **master_links;	/* candidate: outgoing, one per peer */

	int32_t nid;
	struct neo_node_table nodes;
	struct neo_ptable pt;
	enum neo_cluster_state state;
	bool startup_allowed;		/* neoctl start, or after a lost operation */
	bool stopping_exit;		/* exit once connections are flushed */
	double node_clock;		/* for id_timestamp and notifications */

	/* Recovery and verification. */
	int64_t recovered_ptid;
	struct neo_node *pt_source;	/* storage asked for its table */
	uint64_t backup_tid, truncate_tid;
	bool has_backup_tid;		/* in backup mode (the storages say so) */
	uint32_t verification_pending;	/* answers awaited */
	struct neo_idmap locked;	/* verification: ttid -> tid (boxed) */

	/* Transactions. */
	uint64_t last_tid, last_oid, first_tid;
	uint64_t storage_readiness;	/* NotifyReady counter */
	struct master_txn *txns;	/* pending, in begin order */
	struct neo_idmap txn_by_ttid;
	struct master_pack_order *pack_orders;	/* approved, in id order */
	struct master_pack_waiter *pack_waiters;	/* WaitForPack */
	uint64_t pack_completed;		/* by every readable storage */
	struct master_gc *gc;			/* pack's garbage collection (gc.c) */
	struct master_progress *progress;	/* progress.c */
	struct master_txn **commit_queue;	/* finishing, in tid order */
	size_t commit_count, commit_capacity;

	struct event *tick;		/* periodic work */

	/* --metrics (master/metrics.c registers them; NULL members are
	 * ignored by the neo_metric_* calls). */
	struct master_metrics {
		struct neo_metric *txns_begun, *txns_finished, *txns_aborted;
		struct neo_metric *finish_seconds;
		struct neo_metric *primary, *state, *pending, *last_tid_time;
		struct neo_metric *backup_tid_time, *backup_lag;	/* BACKINGUP */
	} metrics;
	/* Backup mode (master/backup.c). */
	struct master_backup *backup;	/* NULL: no upstream cluster configured */
	bool backup_initially;		/* -B */
};

/* master/metrics.c: registers the master's metrics in registry, with a
 * collector for its gauges; 0 or -1. */
int master_metrics_init(struct master *m, struct neo_metrics *registry);
/* A monotonic clock in seconds, for durations. */
double master_metrics_clock(void);

/*
 * The handler of a packet from an identified peer (node NULL before
 * identification).  Which handler gets which packet from which peer is
 * master/routes.c's table, and only there.
 */
typedef void master_handler(struct master *m, struct neo_node *node, struct neo_conn *conn,
			    struct neo_packet *pkt);

/* master/nodes.c: what every file calls; calls no other file of master/. */
void master_exit_loop(struct master *m);
double master_next_clock(struct master *m);
struct master_node *master_node_data(struct neo_node *node);
bool master_is_running(void *ctx, int32_t nid);
/* Whether node `to` is told about node `about`. */
bool master_node_news_for(const struct neo_node *to, const struct neo_node *about);
int master_send_node_list(struct master *m, struct neo_node *to,
			  struct neo_node *first, struct neo_node **nodes, size_t count);
/* Tells every identified node but masters about the changed nodes. */
void master_notify_nodes(struct master *m, struct neo_node **changed, size_t count);
void master_broadcast(struct master *m, uint16_t code, const void *args, bool to_storages,
		      bool to_clients, bool to_admins);
int master_send_pt(struct master *m, struct neo_conn *conn);
/*
 * The setters, the only writers of m->state and node->state: an illegal
 * transition is refused (false) and logged as an error, a change logged.
 * master_change_* only change and log; master_set_state tells every node
 * the new cluster state, master_set_node_state the node's.
 */
bool master_cluster_transition_ok(enum neo_cluster_state from, enum neo_cluster_state to);
bool master_node_transition_ok(enum neo_node_type type, enum neo_node_state from,
			       enum neo_node_state to);
bool master_change_state(struct master *m, enum neo_cluster_state state);
bool master_set_state(struct master *m, enum neo_cluster_state state);
bool master_change_node_state(struct master *m, struct neo_node *node, enum neo_node_state state);
bool master_set_node_state(struct master *m, struct neo_node *node, enum neo_node_state state);
/* Tells the others the node is UNKNOWN, then removes it (node freed). */
void master_forget_node(struct master *m, struct neo_node *node);

/* master/decide.c: the decisions, from the master's state alone (no
 * connection is used, no event loop needed: tests/unit/test_master). */
bool master_pending_connected(void *ctx, int32_t nid);
size_t master_connected_storages(const struct master *m, bool pending_only);
/* The connected storage that announced the newest table, newer than the
 * one loaded (*ptid: its ptid), or NULL. */
struct neo_node *master_recovery_pt_source(const struct master *m, int64_t *ptid);
enum master_recovery_step {
	MASTER_RECOVERY_WAIT,		/* answers or storages still awaited */
	MASTER_RECOVERY_START,		/* the recovered table is operational */
	MASTER_RECOVERY_CREATE,		/* no table anywhere: make a new one */
};
/* What recovery does next, once no table is to be read. */
enum master_recovery_step master_recovery_decide(const struct master *m);
/* A storage's lock answer: counted once (true), or not awaited (false). */
bool master_txn_lock_counted(struct master_txn *txn, int32_t nid);
/* The finishing transaction that commits next: the first in tid order,
 * once every lock it waits for is in; NULL while it waits. */
struct master_txn *master_txn_next_commit(const struct master *m);
int master_txn_queue_push(struct master *m, struct master_txn *txn)
	__attribute__((warn_unused_result));

/* master/routes.c: the connections' callbacks and the routing table. */
void master_on_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg);
void master_node_lost(struct master *m, struct neo_node *node, const char *reason);

/* master/ident.c */
master_handler master_identify;
void master_start_candidacy(struct master *m);

/* master/recovery.c */
/* keep_pt: after a loss of operation, the table in memory stays (only a
 * newer one from a storage replaces it). */
void master_recovery_start(struct master *m, bool keep_pt);
void master_recovery_check(struct master *m);
void master_recovery_node(struct master *m, struct neo_node *node);
void master_storage_lost(struct master *m, struct neo_node *node);
void master_start_storage(struct master *m, struct neo_node *node);
void master_stop_operation(struct master *m);
master_handler master_storage_notify_ready, master_storage_replication_done,
	master_storage_partition_corrupted;

/* master/pt.c */
int master_pt_make(struct master *m, const int32_t *nids, size_t count)
	__attribute__((warn_unused_result));
int master_pt_tweak(struct master *m, const int32_t *excluded, size_t excluded_count,
		    bool dry_run, struct neo_ptable *result, bool *changed)
	__attribute__((warn_unused_result));
void master_pt_outdate(struct master *m, int32_t nid);
/* Publishes the changes made to m->pt since `before` (ptid + 1).  On
 * failure (-1) nothing was told and the two tables are swapped: m->pt is
 * back as it was, *before holds the refused one (the caller frees *before
 * either way). */
int master_pt_commit(struct master *m, struct neo_ptable *before)
	__attribute__((warn_unused_result));
void master_pt_replicated(struct master *m, uint32_t partition, int32_t nid);

/* master/pack.c */
struct neo_opt_pack_info;
int master_pack_check(struct master *m, const struct neo_opt_pack_info *pack);
int master_pack_copy(const struct neo_opt_pack_info *pack, struct master_txn *txn);
void master_pack_committed(struct master *m, struct master_txn *txn);
/* The id of the last approved pack (completed or not), 0 if none. */
uint64_t master_pack_last_approved(struct master *m);
master_handler master_pack_ask_orders, master_pack_notify_completed, master_pack_wait;
void master_pack_conn_lost(struct master *m, struct neo_conn *conn);
void master_pack_reset(struct master *m);
/* Asks a storage for the orders it holds (at verification). */
void master_pack_recover(struct master *m, struct neo_conn *storage);
/* Backup mode: the upstream cluster's orders (AnswerPackOrders) kept and
 * signed on our storages; whether an approved order is known here. */
struct neo_answer_pack_orders;
void master_pack_learn(struct master *m, const struct neo_answer_pack_orders *orders);
bool master_pack_known(struct master *m, uint64_t id);
/* Garbage collection of pack orders (core/cluster/cluster.md section
 * 14.2): NONE (none, or done), UNDECIDED (the pack transaction's
 * extension not read yet), PENDING (to collect), RECOVERED (learnt from
 * the storages by a master that restarted: whether its collection was
 * over is found out from the storages, section 14.3).  An order is given
 * to the storages only when it is NONE or DONE (or, while the cluster is
 * not RUNNING, RECOVERED). */
enum master_gc_state { MASTER_GC_NONE, MASTER_GC_UNDECIDED, MASTER_GC_PENDING, MASTER_GC_DONE,
		       MASTER_GC_RECOVERED };
/* The first order whose garbage collection is UNDECIDED or PENDING. */
bool master_pack_gc_next(struct master *m, uint64_t *id, uint64_t *pack_tid,
			 enum master_gc_state *state);
/* Sets it; NONE or DONE gives the order to the storages. */
void master_pack_gc_set(struct master *m, uint64_t id, enum master_gc_state state);
/* RECOVERED orders: those up to last_settled (the last order a storage
 * was given, so whose collection was over) become NONE, the others
 * UNDECIDED (decided and collected again); foreign: all NONE. */
void master_pack_gc_recovered(struct master *m, uint64_t last_settled, bool foreign);
/* The pack tid of a known order; false if unknown. */
bool master_pack_tid_of(struct master *m, uint64_t id, uint64_t *pack_tid);

/* master/gc.c: pack's garbage collection over the storages. */
void master_gc_kick(struct master *m);
/* True when begins are held (the sweep of a page): answered later. */
bool master_gc_hold_begin(struct master *m, struct neo_node *node, struct neo_conn *conn,
			  struct neo_packet *pkt);
/* A commit's oids: their new revisions' references count. */
void master_gc_committed(struct master *m, const uint64_t *oids, uint32_t count);
/* A cell replicated (NotifyReplicationDone): true when it stays
 * OUT_OF_DATE until swept for the last collection, if it missed it
 * (core/cluster/cluster.md section 14.3); gc.c makes it UP_TO_DATE. */
bool master_gc_hold_replicated(struct master *m, uint32_t partition, int32_t nid);
void master_gc_conn_lost(struct master *m, struct neo_conn *conn);
/* Operation stopped: the attempt ends (it starts over when running). */
void master_gc_reset(struct master *m);
void master_gc_stop(struct master *m);
/* The attempt in progress (phase, partition, counters, pace, time
 * left) as an item of NotifyProgress; false when none. */
struct neo_progress;
bool master_gc_progress(struct master *m, struct neo_progress *out);

/* master/progress.c: AskProgress to our storages and NotifyProgress to
 * our admins, every second while such an admin is connected. */
int master_progress_start(struct master *m);
void master_progress_stop(struct master *m);

/* master/txn.c */
master_handler master_txn_begin, master_txn_finish, master_txn_abort, master_txn_failed_vote,
	master_txn_new_oids, master_txn_ask_last_transaction, master_txn_ask_final_tid,
	master_txn_ask_unfinished;
void master_txn_lock_answered(struct master *m, int32_t storage_nid, uint64_t ttid);
void master_txn_client_lost(struct master *m, struct neo_conn *conn);
void master_txn_storage_lost(struct master *m, int32_t nid);
void master_txn_reset(struct master *m);
uint64_t master_txn_min_pending(const struct master *m);

/* master/backup.c */
int master_backup_configure(struct master *m);
void master_backup_free(struct master *m);
/* The backup tid: per partition its best (use_max) or worst readable
 * cell, the least over the partitions. */
uint64_t master_backup_tid(struct master *m, bool use_max);
/* After verification: true if the cluster goes backing up (storages in
 * backup mode, or -B on an empty cluster) instead of RUNNING. */
bool master_backup_after_verification(struct master *m);
/* neoctl set cluster STARTING_BACKUP: NULL, or why it is refused. */
const char *master_backup_start(struct master *m);
void master_backup_leave(struct master *m);
void master_backup_stop(struct master *m);
void master_backup_storage_ready(struct master *m);
void master_backup_node_lost(struct master *m, struct neo_node *node);
/* An admin identified: it is told of the upstream admin, if one is known. */
void master_backup_admin_joined(struct master *m);
/* neoctl check while backing up: an upstream storage with a readable
 * cell of the partition (*name: the upstream cluster), or NULL. */
const struct neo_address *master_backup_check_source(struct master *m, uint32_t partition,
						     const char **name);
void master_backup_replication_done(struct master *m, struct neo_node *node, uint32_t partition,
				    uint64_t tid);

/* master/admin.c: requests only an admin node may make. */
master_handler master_admin_set_cluster_state, master_admin_add_pending, master_admin_tweak,
	master_admin_set_node_state, master_admin_set_num_replicas, master_admin_check_replicas,
	master_admin_truncate, master_admin_repair;

#endif
