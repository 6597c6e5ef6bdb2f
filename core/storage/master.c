/*
 * storage/master.c - the storage's link to the primary master: finding
 * it, identifying, answering recovery and verification, keeping the
 * partition table (in memory and in the database), and starting or
 * stopping operation when told (core/cluster/cluster.md section 4).
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/nid.h"
#include "daemon/daemon.h"
#include "cluster/tid.h"
#include "runtime/log.h"

/* --- Answers to the master ------------------------------------------------ */

static void answer_recovery(struct storage *s, struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_answer_recovery answer = { 0 };
	uint64_t value;

	answer.ptid.has = s->pt.ptid > 0;
	answer.ptid.v = s->pt.ptid;
	/* as upstream: present (even 0) in backup mode */
	if (storage_config_get_tid(s, "backup_tid", &value) == 0) {
		answer.backup_tid.has = true;
		answer.backup_tid.v = value;
	}
	if (storage_config_get_tid(s, "truncate_tid", &value) == 0 && value) {
		answer.truncate_tid.has = true;
		answer.truncate_tid.v = value;
	}
	neo_conn_answer(conn, msg_id, NEO_ANSWER_RECOVERY, &answer);
}

static void answer_pt(struct storage *s, struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_answer_partition_table answer = { .ptid = s->pt.ptid,
						     .num_replicas = s->pt.num_replicas };

	if (neo_ptable_to_wire(&s->pt, 0, s->pt.num_partitions, &answer.rows) < 0)
		return;
	neo_conn_answer(conn, msg_id, NEO_ANSWER_PARTITION_TABLE, &answer);
	neo_ptable_wire_free(&answer.rows);
}

/* As upstream: a pending truncation is applied when the master asks the
 * last ids, once the whole cluster agreed on it. */
static void apply_truncation(struct storage *s)
{
	struct neo_id_list unused = { 0 };
	uint64_t tid;
	int rc = NEO_BACKEND_OK;

	if (storage_config_get_tid(s, "truncate_tid", &tid) < 0 || tid == 0)
		return;
	neo_log(NEO_LOG_INFO, "truncating history after %016" PRIx64, tid);
	/* NEO_MAX_TID bounds every real tid (backends may store ids as
	 * signed 64-bit integers: INVALID_TID would be -1 there) */
	for (uint32_t p = 0; rc == NEO_BACKEND_OK && p < s->pt.num_partitions; p++)
		if (storage_cell_state(s, p) >= 0)
			rc = storage_write_rc(s->be->range_delete(s->db, p, tid, NEO_MAX_TID, neo_id_list_add,
						 &unused));
	if (rc == NEO_BACKEND_OK && unused.count) {
		size_t pruned;

		rc = storage_write_rc(s->be->data_prune(s->db, unused.ids, unused.count, &pruned));
	}
	neo_id_list_free(&unused);
	if (rc == NEO_BACKEND_OK && storage_config_set_tid(s, "truncate_tid", 0, false) < 0)
		rc = NEO_BACKEND_EIO;
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	storage_db_failed(s, rc, "truncating");
}

static void answer_last_ids(struct storage *s, struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_answer_last_ids answer = { .first_tid = NEO_MAX_TID };

	apply_truncation(s);
	for (uint32_t p = 0; p < s->pt.num_partitions; p++) {
		uint64_t tid, oid;

		if (!storage_readable(s, p))
			continue;
		if (s->be->last_obj_ids(s->db, p, &tid, &oid) == NEO_BACKEND_OK) {
			if (!answer.last_oid.has || oid > answer.last_oid.v)
				answer.last_oid = (struct neo_opt_p64){ true, oid };
			if (!answer.last_tid.has || tid > answer.last_tid.v)
				answer.last_tid = (struct neo_opt_p64){ true, tid };
		}
		if (s->be->last_trans_tid(s->db, p, NEO_MAX_TID, &tid) == NEO_BACKEND_OK
		    && (!answer.last_tid.has || tid > answer.last_tid.v))
			answer.last_tid = (struct neo_opt_p64){ true, tid };
		if (s->be->first_trans_tid(s->db, p, &tid) == NEO_BACKEND_OK && tid < answer.first_tid)
			answer.first_tid = tid;
	}
	neo_conn_answer(conn, msg_id, NEO_ANSWER_LAST_IDS, &answer);
}

struct locked_list {
	uint64_t *ttids;
	struct neo_opt_p64 *tids;
	uint32_t count;
	size_t capacity;
};

static int collect_locked(void *ctx, uint64_t ttid, uint64_t tid)
{
	struct locked_list *list = ctx;

	if (storage_grow_pair(&list->ttids, sizeof *list->ttids, &list->tids, sizeof *list->tids,
			      &list->capacity, (size_t)list->count + 1) < 0)
		return -1;
	list->ttids[list->count] = ttid;
	list->tids[list->count] = (struct neo_opt_p64){ tid != 0, tid };
	list->count++;
	return 0;
}

static void answer_locked(struct storage *s, struct neo_conn *conn, uint32_t msg_id)
{
	struct locked_list list = { 0 };
	struct neo_answer_locked_transactions answer = { 0 };

	s->be->txn_unfinished(s->db, collect_locked, &list);
	answer.locked.keys = list.ttids;
	answer.locked.values = list.tids;
	answer.locked.count = list.count;
	neo_conn_answer(conn, msg_id, NEO_ANSWER_LOCKED_TRANSACTIONS, &answer);
	neo_free(list.ttids);
	neo_free(list.tids);
}

/* --- Partition table and nodes from the master ---------------------------- */

static void take_pt(struct storage *s, const struct neo_send_partition_table *send)
{
	if (neo_ptable_load(&s->pt, send->ptid.has ? send->ptid.v : 0, send->num_replicas,
			    &send->rows) < 0) {
		neo_log(NEO_LOG_ERROR, "could not take the partition table");
		return;
	}
	/* a table the backend refuses (importer.so's while it imports) is
	 * not served from memory: the node stops with the backend's reason */
	if (storage_persist_pt(s, true) < 0) {
		storage_db_failed(s, NEO_BACKEND_EIO, "taking the partition table");
		return;
	}
	storage_drop_unassigned(s);
	storage_replication_update(s);
}

static void take_pt_changes(struct storage *s, struct neo_conn *conn,
			    const struct neo_notify_partition_changes *changes)
{
	int64_t *own_tids;
	int rc = NEO_BACKEND_OK;

	if (s->pt.ptid && changes->ptid != s->pt.ptid + 1)
		neo_log(NEO_LOG_WARNING, "partition table %lld after %lld", (long long)changes->ptid,
			(long long)s->pt.ptid);
	if (neo_ptable_apply(&s->pt, changes->ptid, changes->num_replicas, &changes->changes) < 0) {
		neo_log(NEO_LOG_ERROR, "bad partition table change from the master");
		neo_conn_abort(conn, "bad partition table change");
		return;
	}
	own_tids = storage_own_cell_tids(s, s->pt.num_partitions);
	for (uint32_t i = 0; i < changes->changes.count; i++) {
		const struct neo_cell_change *change = &changes->changes.items[i];
		struct neo_pt_row row = { .partition = (uint32_t)change->partition,
					  .nid = (int32_t)change->uuid,
					  .tid = change->state == NEO_CELL_DISCARDED
							 ? INT64_MIN : -(int64_t)change->state };

		if (change->uuid == s->nid)
			row.pack = storage_new_cell_pack(s, (enum neo_cell_state)change->state);
		if (change->uuid == s->nid && change->state == NEO_CELL_OUT_OF_DATE)
			row.tid = storage_outdated_cell_tid(s, row.partition,
						    own_tids && row.partition < s->pt.num_partitions
							    ? own_tids[row.partition] : STORAGE_NO_CELL);
		if (change->uuid == s->nid && change->state == NEO_CELL_DISCARDED)
			neo_log(NEO_LOG_INFO, "partition %lld no longer assigned here",
				(long long)change->partition);
		if (rc == NEO_BACKEND_OK)
			rc = s->be->pt_apply(s->db, &row, 1, false);
	}
	neo_free(own_tids);
	if (rc == NEO_BACKEND_OK
	    && (storage_config_set_u64(s, "replicas", s->pt.num_replicas, true) < 0
		|| storage_config_set_u64(s, "ptid", (uint64_t)s->pt.ptid, true) < 0))
		rc = NEO_BACKEND_EIO;
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	if (storage_db_failed(s, rc, "saving partition changes"))
		return;
	for (uint32_t i = 0; i < changes->changes.count; i++)
		if (changes->changes.items[i].uuid == s->nid &&
		    changes->changes.items[i].state == NEO_CELL_DISCARDED)
			storage_drop_partition(s, (uint32_t)changes->changes.items[i].partition);
	storage_replication_update(s);
	storage_pack_update(s);	/* cells that became readable may be behind */
}

static void take_nodes(struct storage *s, const struct neo_notify_node_information *info)
{
	neo_master_list_note_nodes(&info->nodes);	/* -D, as upstream */
	for (uint32_t i = 0; i < info->nodes.count; i++) {
		const struct neo_node_info *node = &info->nodes.items[i];
		struct neo_node *gone = NULL;

		if (node->uuid.has && node->uuid.v == s->nid && s->nid) {
			if (node->state == NEO_NODE_DOWN) {
				neo_log(NEO_LOG_INFO, "told to stop by the master");
				storage_exit(s, 0);
			} else if (node->state == NEO_NODE_UNKNOWN) {
				/* As upstream, a dropped storage erases its data;
				 * we keep it and just leave, which is safer. */
				neo_log(NEO_LOG_WARNING, "dropped from the cluster: exiting");
				storage_exit(s, 0);
			}
		}
		neo_nodes_update(&s->nodes, node, &gone);
		if (gone) {
			if (gone->conn)
				neo_conn_close(gone->conn, "node left the cluster");
			neo_node_free(gone);
		}
	}
	s->nodes_timestamp = info->timestamp;
	storage_peers_nodes_changed(s);
}

/* --- Operation ------------------------------------------------------------ */

/* The last tid this storage holds (0: none). */
static uint64_t last_tid_held(struct storage *s)
{
	uint64_t last = 0;

	for (uint32_t p = 0; p < s->pt.num_partitions; p++) {
		uint64_t tid;

		if (storage_readable(s, p)
		    && s->be->last_trans_tid(s->db, p, NEO_MAX_TID, &tid) == NEO_BACKEND_OK
		    && tid > last)
			last = tid;
	}
	return last;
}

/* As upstream's replicator.startOperation: backup mode keeps the backup
 * tid the database has, or starts at its last tid; normal mode drops it. */
static bool set_backup_mode(struct storage *s, bool backup)
{
	uint64_t tid = 0;
	bool present = storage_config_get_tid(s, "backup_tid", &tid) == 0;
	int rc = NEO_BACKEND_OK;

	if (backup && !present) {
		tid = last_tid_held(s);
		rc = storage_config_set_tid(s, "backup_tid", tid, true) < 0 ? NEO_BACKEND_EIO
			: s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	} else if (!backup && present) {
		rc = storage_config_set_tid(s, "backup_tid", 0, false) < 0 ? NEO_BACKEND_EIO
			: s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	}
	if (storage_db_failed(s, rc, "saving the backup tid"))
		return false;
	s->backup_mode = backup;
	s->backup_tid = backup ? tid : 0;
	if (backup)
		neo_log(NEO_LOG_INFO, "backup mode, backup tid %016" PRIx64, tid);
	return true;
}

static void start_operation(struct storage *s, struct neo_conn *conn, bool backup)
{
	if (!set_backup_mode(s, backup))
		return;
	if (s->operational) {
		/* as upstream: a running cluster switching to backup mode */
		storage_replication_backup_start(s);
		return;
	}
	storage_drop_unfinished(s);
	s->operational = true;
	neo_log(NEO_LOG_INFO, "operational");
	neo_conn_notify(conn, NEO_NOTIFY_READY, NULL);
	storage_replication_update(s);
	if (backup)
		storage_replication_backup_start(s);
	storage_pack_update(s);
}

static void stop_operation(struct storage *s)
{
	if (s->operational)
		neo_log(NEO_LOG_INFO, "operation stopped");
	s->operational = false;
	s->backup_mode = false;
	storage_replication_stop(s);
	storage_check_stop(s);
	storage_pack_stop(s);
	storage_close_peers(s);
	storage_txn_reset(s);
}

/* An order's signature; in backup mode one not replicated yet is signed
 * once it is. */
static int sign(struct storage *s, uint64_t id, bool approved)
{
	int rc = s->be->pack_order_sign(s->db, id, approved);

	if (rc == NEO_BACKEND_NOTFOUND && s->backup_mode)
		storage_pack_sign_later(s, id, approved);
	return storage_write_rc(rc);
}

/* As upstream: orders present here get their signature; then packing
 * goes on with the master's list. */
static void pack_signed(struct storage *s, const struct neo_notify_pack_signed *signed_orders)
{
	int rc = NEO_BACKEND_OK;

	for (uint32_t i = 0; i < signed_orders->approved.count; i++)
		if (s->last_pack_id < signed_orders->approved.items[i])
			s->last_pack_id = signed_orders->approved.items[i];
	if (s->opts->disable_pack) {
		/* as upstream: nothing signed here, nothing packed; the
		 * orders count as done (storage/pack.c) */
		storage_pack_skip(s, &signed_orders->approved);
		return;
	}
	if (!storage_backend_has(s, pack_order_sign))
		return;	/* no pack order was stored here */
	for (uint32_t i = 0; rc == NEO_BACKEND_OK && i < signed_orders->approved.count; i++)
		rc = sign(s, signed_orders->approved.items[i], true);
	for (uint32_t i = 0; rc == NEO_BACKEND_OK && i < signed_orders->rejected.count; i++)
		rc = sign(s, signed_orders->rejected.items[i], false);
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
	if (storage_db_failed(s, rc, "signing pack orders"))
		return;
	storage_pack_update(s);
}

static void truncate_order(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	uint64_t tid = ((const struct neo_truncate *)pkt->args)->tid;
	int rc = NEO_BACKEND_OK;

	if (storage_config_set_tid(s, "truncate_tid", tid, true) < 0
	    || storage_config_set_tid(s, "backup_tid", 0, false) < 0)
		rc = NEO_BACKEND_EIO;
	if (rc == NEO_BACKEND_OK)
		rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
	if (storage_db_failed(s, rc, "saving a truncation order"))
		return;
	/* leaving backup mode: the backup tid is written no more */
	s->backup_mode = false;
	neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_ACK, "");
}

/* neoctl prune_orphan: data records no object revision refers to. */
static void prune_orphans(struct storage *s, bool dry_run)
{
	struct neo_id_list orphans = { 0 };
	size_t pruned = 0;

	if (!storage_backend_require(s, NULL, 0, data_orphans, "prune_orphan"))
		return;
	if (s->be->data_orphans(s->db, neo_id_list_add, &orphans) != NEO_BACKEND_OK) {
		neo_log(NEO_LOG_ERROR, "prune_orphan: %s", s->be->errmsg(s->db));
		neo_id_list_free(&orphans);
		return;
	}
	if (dry_run) {
		neo_log(NEO_LOG_INFO, "prune_orphan (dry run): %u orphan data record(s)",
			orphans.count);
	} else if (s->be->data_prune(s->db, orphans.ids, orphans.count, &pruned) == NEO_BACKEND_OK
		   && s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK) {
		neo_log(NEO_LOG_INFO, "prune_orphan: %zu orphan data record(s) deleted", pruned);
	}
	neo_id_list_free(&orphans);
}

/* --- Handlers of the master's packets (storage/routes.c routes them) --- */

#define MASTER_HANDLER(name) \
	void name(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)

MASTER_HANDLER(storage_master_nodes)
{
	(void)conn;
	take_nodes(s, pkt->args);
}

MASTER_HANDLER(storage_master_pt)
{
	(void)conn;
	take_pt(s, pkt->args);
}

MASTER_HANDLER(storage_master_pt_changes)
{
	take_pt_changes(s, conn, pkt->args);
}

MASTER_HANDLER(storage_master_ignored)
{
	(void)s;
	(void)conn;
	(void)pkt;
}

MASTER_HANDLER(storage_master_flush_log)
{
	(void)s;
	(void)conn;
	(void)pkt;
	/* as upstream: neoctl flush_log, relayed by the master */
	neo_log(NEO_LOG_INFO, "flush_log: %zu kept log records written", neo_log_flush());
}

MASTER_HANDLER(storage_master_recovery)
{
	answer_recovery(s, conn, pkt->msg_id);
}

MASTER_HANDLER(storage_master_ask_pt)
{
	answer_pt(s, conn, pkt->msg_id);
}

MASTER_HANDLER(storage_master_last_ids)
{
	answer_last_ids(s, conn, pkt->msg_id);
}

MASTER_HANDLER(storage_master_locked)
{
	answer_locked(s, conn, pkt->msg_id);
}

MASTER_HANDLER(storage_master_validate)
{
	const struct neo_validate_transaction *v = pkt->args;

	(void)conn;
	storage_validate_txn(s, v->ttid, v->tid);
}

MASTER_HANDLER(storage_master_truncate)
{
	truncate_order(s, conn, pkt);
}

MASTER_HANDLER(storage_master_pack_signed)
{
	(void)conn;
	pack_signed(s, pkt->args);
}

MASTER_HANDLER(storage_master_pack_orders)
{
	storage_pack_answer_orders(s, conn, pkt->msg_id,
				   ((const struct neo_ask_pack_orders *)pkt->args)->min_completed_id);
}

MASTER_HANDLER(storage_master_start)
{
	start_operation(s, conn, ((const struct neo_start_operation *)pkt->args)->backup);
}

MASTER_HANDLER(storage_master_stop)
{
	(void)conn;
	(void)pkt;
	stop_operation(s);
}

MASTER_HANDLER(storage_master_unlock)
{
	(void)conn;
	storage_unlock_txn(s, ((const struct neo_notify_unlock_information *)pkt->args)->ttid);
}

MASTER_HANDLER(storage_master_abort)
{
	uint64_t ttid = ((const struct neo_abort_transaction *)pkt->args)->ttid;

	(void)conn;
	storage_abort_txn(s, ttid);
	/* as upstream: an abort ends an unfinished transaction too */
	storage_replication_txn_finished(s, ttid, false, 0);
}

MASTER_HANDLER(storage_master_txn_finished)
{
	const struct neo_notify_transaction_finished *done = pkt->args;

	(void)conn;
	/* as upstream: what we staged of it without being involved (we were
	 * not ready when it began) goes: replication brings the committed
	 * transaction */
	storage_abort_txn(s, done->ttid);
	storage_replication_txn_finished(s, done->ttid, true, done->max_tid);
}

MASTER_HANDLER(storage_master_check)
{
	(void)conn;
	storage_check_partition(s, pkt);
}

MASTER_HANDLER(storage_master_repair)
{
	(void)conn;
	prune_orphans(s, ((const struct neo_notify_repair *)pkt->args)->dry_run);
}

static void master_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct storage *s = arg;

	if (s->route(s, STORAGE_FROM_MASTER, conn, pkt) || neo_packet_is_answer(pkt->code))
		return;
	neo_log(NEO_LOG_WARNING, "unexpected %s from the master", pkt->type->name);
	neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, "unexpected packet");
}

/* --- Finding the primary -------------------------------------------------- */

static void master_ready(struct neo_conn *conn, void *arg);
static void master_closed(struct neo_conn *conn, const char *reason, void *arg);

static const struct neo_conn_callbacks master_callbacks = {
	.on_ready = master_ready,
	.on_packet = master_packet,
	.on_close = master_closed,
};

static void follow_primary(struct storage *s, const struct neo_not_primary_master *hint)
{
	struct neo_address primary;

	neo_master_list_note_wire(&hint->known_masters);	/* -D, as upstream */
	if (!hint->primary.has || hint->primary.v < 0 || hint->primary.v >= hint->known_masters.count
	    || !neo_address_from_wire(&hint->known_masters.items[hint->primary.v], &primary))
		return;
	for (size_t i = 0; i < s->master_count; i++)
		if (s->masters[i].port == primary.port && strcmp(s->masters[i].host, primary.host) == 0) {
			/* master_closed moves on by one: land on it. */
			s->master_index = (i + s->master_count - 1) % s->master_count;
			return;
		}
}

static void identified(struct neo_conn *conn, enum neo_ask_status status,
		       struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	char nid[16];

	if (status != NEO_ASK_ANSWERED)
		return;
	if (answer->code == NEO_ACCEPT_IDENTIFICATION) {
		const struct neo_accept_identification *accept = answer->args;

		if (accept->node_type != NEO_NODE_MASTER || !accept->your_uuid.has) {
			neo_conn_abort(conn, "not a master");
			return;
		}
		if (accept->my_uuid.has)
			neo_conn_set_name(conn, neo_nid_format(accept->my_uuid.v, nid, sizeof nid));
		if (s->nid != (int32_t)accept->your_uuid.v) {
			int rc;

			s->nid = (int32_t)accept->your_uuid.v;
			rc = storage_config_set_u64(s, "nid", (uint32_t)s->nid, true) < 0
				     ? NEO_BACKEND_EIO : s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC);
			if (storage_db_failed(s, rc, "saving the node id"))
				return;
		}
		if (s->new_nid_count) {
			/* as upstream: the new id is saved, and the node stops */
			neo_log_set_name(neo_nid_format(s->nid, nid, sizeof nid));
			neo_log(NEO_LOG_INFO, "--new-nid: new node id %s saved; exiting", nid);
			storage_exit(s, 0);
			return;
		}
		s->identified = true;
		neo_log_set_name(neo_nid_format(s->nid, nid, sizeof nid));
		neo_log(NEO_LOG_INFO, "identified by the primary master %s as %s", neo_conn_peer(conn),
			nid);
		return;
	}
	if (answer->code == NEO_ERROR) {
		const struct neo_error *error = answer->args;

		neo_log(NEO_LOG_WARNING, "master %s refused us: %.*s", neo_conn_peer(conn),
			(int)error->message.size, (const char *)error->message.data);
	}
}

/*
 * As upstream's storage (app.py, getTopologyPath): the extra of its
 * identification to the master is {"devpath": [host name, the device
 * number of the database file, as text], "new_nid": []}, the master
 * spreading replicas over distinct devpaths when it tweaks.  Where the
 * database is no file (a server's), the device is not known and only
 * the host name is given.  new_nid lists the partitions offered with
 * --new-nid (then without id nor address), else it is empty.
 */
static void master_ready(struct neo_conn *conn, void *arg)
{
	struct storage *s = arg;
	struct neo_request_identification req;
	char host[256], dev[32];
	struct stat st;
	msgpack_object devpath[2], values[4];
	/* "gc": ours, which serves pack's garbage collection; "progress":
	 * ours, which answers AskProgress (an upstream master keeps the keys
	 * unread: core/proto/protocol.md section 9) */
	struct neo_bin keys[4] = { neo_bin_str("devpath"), neo_bin_str("new_nid"),
				   neo_bin_str("gc"), neo_bin_str("progress") };
	uint32_t depth = 0;

	msgpack_object *offsets = NULL;

	if (gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		devpath[depth].type = MSGPACK_OBJECT_BIN;
		devpath[depth].via.bin.ptr = host;
		devpath[depth++].via.bin.size = (uint32_t)strlen(host);
		if (s->opts->database && stat(s->opts->database, &st) == 0) {
			snprintf(dev, sizeof dev, "%ju", (uintmax_t)st.st_dev);
			devpath[depth].type = MSGPACK_OBJECT_BIN;
			devpath[depth].via.bin.ptr = dev;
			devpath[depth++].via.bin.size = (uint32_t)strlen(dev);
		}
	}
	values[0].type = MSGPACK_OBJECT_ARRAY;
	values[0].via.array.ptr = devpath;
	values[0].via.array.size = depth;
	values[1].type = MSGPACK_OBJECT_ARRAY;
	values[1].via.array.ptr = NULL;
	values[1].via.array.size = 0;
	if (s->new_nid_count) {
		/* as upstream: no id, no address, the partitions in new_nid */
		offsets = neo_calloc(s->new_nid_count, sizeof *offsets);
		if (offsets == NULL) {
			neo_conn_abort(conn, "out of memory");
			return;
		}
		for (uint32_t i = 0; i < s->new_nid_count; i++) {
			offsets[i].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			offsets[i].via.u64 = s->new_nid_partitions[i];
		}
		values[1].via.array.ptr = offsets;
		values[1].via.array.size = s->new_nid_count;
		neo_identification_init(&req, NEO_NODE_STORAGE, 0, NULL, s->cluster);
	} else {
		neo_identification_init(&req, NEO_NODE_STORAGE, s->nid, &s->address, s->cluster);
	}
	/* --disable-pack keeps its history: no garbage collection either */
	values[2].type = MSGPACK_OBJECT_BOOLEAN;
	values[2].via.boolean = !s->opts->disable_pack;
	values[3].type = MSGPACK_OBJECT_BOOLEAN;
	values[3].via.boolean = true;
	req.extra.keys = keys;
	req.extra.values = values;
	req.extra.count = 4;
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 30000, identified, s);
	neo_free(offsets);
}

static void reconnect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	storage_connect_master(arg);
}

void storage_master_lost(struct storage *s)
{
	struct timeval delay = { 1, 0 };

	stop_operation(s);
	s->identified = false;
	if (s->exiting)
		return;
	if (s->reconnect_event == NULL)
		s->reconnect_event = evtimer_new(s->base, reconnect, s);
	if (s->reconnect_event)
		evtimer_add(s->reconnect_event, &delay);
}

static void master_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct storage *s = arg;

	if (conn != s->master_conn)
		return;
	s->master_conn = NULL;
	if (s->identified)
		neo_log(NEO_LOG_WARNING, "lost the primary master: %s", reason);
	s->master_index = (s->master_index + 1) % (s->master_count ? s->master_count : 1);
	storage_master_lost(s);
}

/* The NotPrimaryMaster hint arrives as a packet before the close. */
static void master_hint_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	if (pkt->code == NEO_NOT_PRIMARY_MASTER)
		follow_primary(arg, pkt->args);
	else
		master_packet(conn, pkt, arg);
}

static const struct neo_conn_callbacks master_hint_callbacks = {
	.on_ready = master_ready,
	.on_packet = master_hint_packet,
	.on_close = master_closed,
};

void storage_connect_master(struct storage *s)
{
	char err[256];

	(void)master_callbacks;
	if (s->master_conn || s->exiting || s->master_count == 0)
		return;
	if (s->pt.num_partitions == 0)
		storage_load_pt(s);
	s->master_conn = neo_conn_connect(s->base, &s->masters[s->master_index], s->ssl,
					  &master_hint_callbacks, s, err, sizeof err);
	if (s->master_conn == NULL) {
		neo_log(NEO_LOG_WARNING, "cannot reach master %s:%u: %s",
			s->masters[s->master_index].host, s->masters[s->master_index].port, err);
		s->master_index = (s->master_index + 1) % s->master_count;
		storage_master_lost(s);
	}
}
