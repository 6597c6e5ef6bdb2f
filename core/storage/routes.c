/*
 * storage/routes.c - the storage's one routing table: for every packet a
 * storage handles, who may send it and the function that handles it.
 * Look here to find the handler of any packet; the connections' packet
 * callbacks (master.c, peers.c, replication.c) only say who sent it.
 */
#include "storage/storage.h"

#include "proto/packets.h"

#define MASTER STORAGE_FROM_MASTER
#define PEER STORAGE_FROM_PEER
#define SOURCE STORAGE_FROM_SOURCE

static const struct storage_route {
	unsigned from;		/* STORAGE_FROM_* bits */
	uint16_t code;
	storage_handler *handler;
} routes[] = {
	/* The primary master: cluster state, recovery and verification
	 * (master.c), the commit's lock and unlock (txn.c), checks and
	 * repairs. */
	{ MASTER, NEO_NOTIFY_NODE_INFORMATION, storage_master_nodes },
	{ MASTER, NEO_NOTIFY_CLUSTER_INFORMATION, storage_master_ignored },
	{ MASTER, NEO_FLUSH_LOG, storage_master_flush_log },
	{ MASTER, NEO_SEND_PARTITION_TABLE, storage_master_pt },
	{ MASTER, NEO_NOTIFY_PARTITION_CHANGES, storage_master_pt_changes },
	{ MASTER, NEO_ASK_RECOVERY, storage_master_recovery },
	{ MASTER, NEO_ASK_PARTITION_TABLE, storage_master_ask_pt },
	{ MASTER, NEO_ASK_LAST_IDS, storage_master_last_ids },
	{ MASTER, NEO_ASK_LOCKED_TRANSACTIONS, storage_master_locked },
	/* verification: did a transaction voted elsewhere commit here? */
	{ MASTER, NEO_ASK_FINAL_TID, storage_ask_final_tid },
	{ MASTER, NEO_VALIDATE_TRANSACTION, storage_master_validate },
	{ MASTER, NEO_TRUNCATE, storage_master_truncate },
	{ MASTER, NEO_NOTIFY_PACK_SIGNED, storage_master_pack_signed },
	{ MASTER, NEO_ASK_PACK_ORDERS, storage_master_pack_orders },
	{ MASTER, NEO_START_OPERATION, storage_master_start },
	{ MASTER, NEO_REPLICATE, storage_replicate_order },
	{ MASTER, NEO_STOP_OPERATION, storage_master_stop },
	{ MASTER, NEO_ASK_LOCK_INFORMATION, storage_lock_txn },
	{ MASTER, NEO_NOTIFY_UNLOCK_INFORMATION, storage_master_unlock },
	{ MASTER, NEO_ABORT_TRANSACTION, storage_master_abort },
	{ MASTER, NEO_NOTIFY_TRANSACTION_FINISHED, storage_master_txn_finished },
	{ MASTER, NEO_CHECK_PARTITION, storage_master_check },
	{ MASTER, NEO_NOTIFY_REPAIR, storage_master_repair },
	/* pack's garbage collection, driven by our master (gc.c) */
	{ MASTER, NEO_ASK_GC_REFERENCES, storage_gc_references },
	{ MASTER, NEO_ASK_GC_SWEEP, storage_gc_sweep },
	{ MASTER, NEO_ASK_GC_TRANSACTIONS, storage_gc_transactions },
	{ MASTER, NEO_ASK_GC_REVISIONS_KEPT, storage_gc_revisions_kept },
	{ MASTER, NEO_ASK_GC_DROP_TRANSACTIONS, storage_gc_drop_transactions },
	/* progress of import and pack, asked by our master (progress.c) */
	{ MASTER, NEO_ASK_PROGRESS, storage_progress_ask },
	{ MASTER, NEO_ASK_GC_SWEPT, storage_gc_swept },

	/* Clients and storages, once identified (peers.c): reads (read.c);
	 * the master too reads a transaction and lists oids for pack's GC. */
	{ PEER, NEO_ASK_OBJECT, storage_ask_object },
	{ PEER, NEO_ASK_OBJECT_HISTORY, storage_ask_history },
	{ PEER | MASTER, NEO_ASK_TRANSACTION_INFORMATION, storage_ask_transaction },
	{ PEER, NEO_ASK_TIDS, storage_ask_tids },
	{ PEER, NEO_ASK_TIDS_FROM, storage_ask_tids_from },
	{ PEER | MASTER, NEO_ASK_OIDS_FROM, storage_ask_oids_from },
	{ PEER, NEO_ASK_OBJECT_UNDO_SERIAL, storage_ask_undo_serial },
	{ PEER, NEO_ASK_FINAL_TID, storage_ask_final_tid },
	/* Writes (txn.c). */
	{ PEER, NEO_ASK_STORE_OBJECT, storage_store_object },
	{ PEER, NEO_ASK_CHECK_CURRENT_SERIAL, storage_check_current },
	{ PEER, NEO_ASK_STORE_TRANSACTION, storage_vote },
	{ PEER, NEO_ASK_VOTE_TRANSACTION, storage_vote },
	{ PEER, NEO_ABORT_TRANSACTION, storage_client_abort },
	{ PEER, NEO_ASK_RELOCK_OBJECT, storage_relock },
	/* Serving a storage that replicates from us (replication.c). */
	{ PEER, NEO_ASK_FETCH_TRANSACTIONS, storage_serve_transactions },
	{ PEER, NEO_ASK_FETCH_OBJECTS, storage_serve_objects },
	/* Replica checks (check.c). */
	{ PEER, NEO_ASK_CHECK_TID_RANGE, storage_check_tid_range },
	{ PEER, NEO_ASK_CHECK_SERIAL_RANGE, storage_check_serial_range },

	/* The storage we replicate from (replication.c). */
	{ SOURCE, NEO_ADD_TRANSACTION, storage_source_transaction },
	{ SOURCE, NEO_ADD_OBJECT, storage_source_object },
};

/* As upstream's ClientReadOnlyOperationHandler: in backup mode, what
 * writes is refused. */
static bool backup_refuses(const struct storage *s, unsigned from, uint16_t code)
{
	if (!s->backup_mode || !(from & STORAGE_FROM_PEER))
		return false;
	switch (code) {
	case NEO_ASK_STORE_OBJECT:
	case NEO_ASK_CHECK_CURRENT_SERIAL:
	case NEO_ASK_STORE_TRANSACTION:
	case NEO_ASK_VOTE_TRANSACTION:
	case NEO_ASK_RELOCK_OBJECT:
		return true;
	default:
		return false;
	}
}

bool storage_route(struct storage *s, unsigned from, struct neo_conn *conn,
		   struct neo_packet *pkt)
{
	if (backup_refuses(s, from, pkt->code)) {
		storage_send_error(conn, pkt->msg_id, NEO_ERROR_READ_ONLY_ACCESS,
				   "read-only access because cluster is in backuping mode");
		return true;
	}
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
		if (routes[i].code == pkt->code && (routes[i].from & from)) {
			routes[i].handler(s, conn, pkt);
			return true;
		}
	return false;
}
