/*
 * master/master.h - the master node: what the files of neomaster share.
 *
 *   master/main.c      options, listener, signals, the loop
 *   master/ident.c     connections, identification, node notifications,
 *                      the election between masters, secondary role
 *   master/recovery.c  cluster states: recovery, verification, running,
 *                      stopping, and losing nodes
 *   master/pt.c        building and changing the partition table
 *   master/txn.c       tids, oids and the commit protocol
 *   master/admin.c     requests relayed by the admin node (neoctl)
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
	bool replication_watch;		/* storage: asked unfinished transactions */
	uint64_t readiness;		/* storage: order of its NotifyReady */
	uint64_t pack_completed;	/* storage: last pack id it completed */
};

/* A transaction between begin and the end of its commit. */
struct master_txn {
	uint64_t ttid, tid;		/* tid 0 until finish */
	bool fixed_tid;			/* begin gave the tid (restore) */
	struct neo_conn *client;	/* NULL once the client is gone */
	int32_t client_nid;
	bool finishing;			/* AskFinishTransaction received */
	uint32_t finish_msg_id;
	uint64_t *oids;
	uint32_t oid_count;
	uint64_t storage_readiness;	/* storages ready at begin: up to this */
	int32_t *failed;		/* storages a write failed to (FailedVote) */
	uint32_t failed_count;
	int32_t *involved;		/* storages asked to lock */
	uint32_t involved_count;
	int32_t *lock_waiting;		/* storages whose lock answer is awaited */
	uint32_t locks_pending;		/* how many (a subset of involved) */
	bool has_pack;			/* a pack transaction: its order */
	bool pack_partial;
	uint64_t pack_tid;
	uint64_t *pack_oids;
	uint32_t pack_oid_count;
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
	struct master_txn **commit_queue;	/* finishing, in tid order */
	size_t commit_count, commit_capacity;

	struct event *tick;		/* periodic work */
};

/* master/main.c */
void master_exit_loop(struct master *m);

/* master/ident.c */
void master_on_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg);
void master_start_candidacy(struct master *m);
void master_notify_nodes(struct master *m, struct neo_node **changed, size_t count);
void master_broadcast(struct master *m, uint16_t code, const void *args, bool to_storages,
		      bool to_clients, bool to_admins);
struct master_node *master_node_data(struct neo_node *node);
void master_node_lost(struct master *m, struct neo_node *node, const char *reason);
void master_set_node_state(struct master *m, struct neo_node *node, enum neo_node_state state);
int master_send_pt(struct master *m, struct neo_conn *conn);
bool master_is_running(void *ctx, int32_t nid);

/* master/recovery.c */
void master_set_state(struct master *m, enum neo_cluster_state state);
/* keep_pt: after a loss of operation, the table in memory stays (only a
 * newer one from a storage replaces it). */
void master_recovery_start(struct master *m, bool keep_pt);
void master_recovery_check(struct master *m);
void master_recovery_node(struct master *m, struct neo_node *node);
void master_storage_ready(struct master *m, struct neo_node *node);
void master_storage_lost(struct master *m, struct neo_node *node);
void master_start_storage(struct master *m, struct neo_node *node);
void master_stop_operation(struct master *m);
void master_handle_storage_packet(struct master *m, struct neo_node *node,
				  struct neo_conn *conn, struct neo_packet *pkt);

/* master/pt.c */
int master_pt_make(struct master *m, const int32_t *nids, size_t count);
int master_pt_tweak(struct master *m, const int32_t *excluded, size_t excluded_count,
		    bool dry_run, struct neo_ptable *result, bool *changed);
void master_pt_outdate(struct master *m, int32_t nid);
int master_pt_commit(struct master *m, const struct neo_ptable *before);
void master_pt_replicated(struct master *m, uint32_t partition, int32_t nid);

/* master/pack.c */
struct neo_opt_pack_info;
int master_pack_check(struct master *m, const struct neo_opt_pack_info *pack);
int master_pack_copy(const struct neo_opt_pack_info *pack, struct master_txn *txn);
void master_pack_committed(struct master *m, struct master_txn *txn);
/* The id of the last approved pack (completed or not), 0 if none. */
uint64_t master_pack_last_approved(struct master *m);
void master_pack_answer_orders(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			       uint64_t min_id);
void master_pack_completed(struct master *m, struct neo_node *node, uint64_t pack_id);
void master_pack_wait(struct master *m, struct neo_conn *conn, uint32_t msg_id, uint64_t id);
void master_pack_conn_lost(struct master *m, struct neo_conn *conn);
void master_pack_reset(struct master *m);
/* Asks a storage for the orders it holds (at verification). */
void master_pack_recover(struct master *m, struct neo_conn *storage);

/* master/txn.c */
void master_handle_client_packet(struct master *m, struct neo_node *node,
				 struct neo_conn *conn, struct neo_packet *pkt);
void master_txn_lock_answered(struct master *m, int32_t storage_nid, uint64_t ttid);
void master_txn_client_lost(struct master *m, struct neo_conn *conn);
void master_txn_storage_lost(struct master *m, int32_t nid);
void master_txn_reset(struct master *m);
uint64_t master_txn_min_pending(const struct master *m);
void master_answer_unfinished(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			      struct neo_node *node);

/* master/admin.c */
bool master_handle_admin_packet(struct master *m, struct neo_node *node, struct neo_conn *conn,
				struct neo_packet *pkt);

#endif
