/*
 * master_admin.c - the requests an admin node relays from neoctl: state
 * queries, start/stop, adding and removing storages, tweak, replicas,
 * replica checks and truncation.  Answers and refusal texts follow
 * upstream's neo/master/handlers/administration.py, since neoctl prints
 * them as they come.
 */
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nid.h"
#include "tid.h"

static void deny(struct neo_conn *conn, uint32_t msg_id, const char *why)
{
	neo_conn_answer_error(conn, msg_id, NEO_ERROR_DENIED, why);
}

static void ack(struct neo_conn *conn, uint32_t msg_id, const char *message)
{
	neo_conn_answer_error(conn, msg_id, NEO_ERROR_ACK, message);
}

/* As upstream: table-changing commands only while serving. */
static bool pt_changes_allowed(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			       const char *rpc)
{
	char why[128];

	if (m->state == NEO_CLUSTER_RUNNING)
		return true;
	snprintf(why, sizeof why, "%s RPC can not be used in %s state", rpc,
		 neo_enum_name(NEO_ENUM_CLUSTER_STATES, m->state));
	deny(conn, msg_id, why);
	return false;
}

static void stop_cluster(struct master *m)
{
	struct neo_node **storages = calloc(m->nodes.count + 1, sizeof *storages);
	size_t count = 0;

	master_set_state(m, NEO_CLUSTER_STOPPING);
	/* As upstream: storages told they are DOWN exit, keeping their data. */
	for (size_t i = 0; i < m->nodes.count && storages; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn) {
			node->state = NEO_NODE_DOWN;
			storages[count++] = node;
		}
	}
	if (count)
		master_notify_nodes(m, storages, count);
	free(storages);
	for (size_t i = 0; i < m->nodes.count; i++)
		if (m->nodes.nodes[i]->conn)
			neo_conn_close(m->nodes.nodes[i]->conn, "cluster stopping");
	m->stopping_exit = true;
	master_exit_loop(m);
}

static void set_cluster_state(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	enum neo_cluster_state state = ((const struct neo_set_cluster_state *)pkt->args)->state;

	switch (state) {
	case NEO_CLUSTER_VERIFYING:
		if (m->state != NEO_CLUSTER_RECOVERING) {
			deny(conn, pkt->msg_id, "Can not switch to this state");
			return;
		}
		{
			bool any = false;

			for (size_t i = 0; i < m->nodes.count && !any; i++)
				any = m->nodes.nodes[i]->type == NEO_NODE_STORAGE
				      && m->nodes.nodes[i]->conn;
			if (!any) {
				deny(conn, pkt->msg_id, "Cannot exit recovery without any storage node");
				return;
			}
		}
		ack(conn, pkt->msg_id, "Cluster state changed");
		m->startup_allowed = true;
		master_recovery_check(m);
		return;
	case NEO_CLUSTER_STOPPING:
		ack(conn, pkt->msg_id, "Cluster state changed");
		neo_log(NEO_LOG_INFO, "stop requested");
		stop_cluster(m);
		return;
	case NEO_CLUSTER_STARTING_BACKUP:
	case NEO_CLUSTER_STOPPING_BACKUP:
		deny(conn, pkt->msg_id, "No upstream cluster to backup defined in configuration");
		return;
	default:
		deny(conn, pkt->msg_id, "Invalid state requested");
		return;
	}
}

static void add_pending(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_add_pending_nodes *req = pkt->args;
	char message[1024] = "Nodes added: ";
	size_t added = 0;

	if (!pt_changes_allowed(m, conn, pkt->msg_id, "addPendingNodes"))
		return;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		bool listed = req->uuids.count == 0;
		char nid[16];

		for (uint32_t k = 0; k < req->uuids.count && !listed; k++)
			listed = req->uuids.items[k] == node->nid;
		if (!listed || node->type != NEO_NODE_STORAGE || node->state != NEO_NODE_PENDING
		    || node->conn == NULL)
			continue;
		master_set_node_state(m, node, NEO_NODE_RUNNING);
		master_start_storage(m, node);
		if (strlen(message) + 20 < sizeof message)
			snprintf(message + strlen(message), sizeof message - strlen(message), "%s%s",
				 added ? ", " : "", neo_nid_format(node->nid, nid, sizeof nid));
		added++;
	}
	ack(conn, pkt->msg_id, added ? message : "No node added");
}

static void tweak(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_tweak_partition_table *req = pkt->args;
	struct neo_answer_tweak_partition_table answer = { 0 };
	struct neo_ptable result = { 0 };
	int32_t *excluded = calloc(req->excluded_uuids.count + 1, sizeof *excluded);
	int rc;

	if (excluded == NULL || !pt_changes_allowed(m, conn, pkt->msg_id, "tweakPartitionTable")) {
		free(excluded);
		return;
	}
	for (uint32_t i = 0; i < req->excluded_uuids.count; i++)
		excluded[i] = (int32_t)req->excluded_uuids.items[i];
	rc = master_pt_tweak(m, excluded, req->excluded_uuids.count, req->dry_run, &result,
			     &answer.changed);
	free(excluded);
	if (rc == -2) {
		deny(conn, pkt->msg_id, "tweak: can not remove all nodes");
		return;
	}
	if (rc < 0 || neo_ptable_to_wire(&result, 0, result.num_partitions, &answer.rows) < 0) {
		neo_ptable_free(&result);
		deny(conn, pkt->msg_id, "out of memory");
		return;
	}
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_TWEAK_PARTITION_TABLE, &answer);
	neo_ptable_wire_free(&answer.rows);
	neo_ptable_free(&result);
}

/* Whether removing nid's cells leaves a readable copy of each partition. */
static bool removal_safe(struct master *m, int32_t nid, uint32_t *bad_partition)
{
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		int state = neo_ptable_cell_state(&m->pt, p, nid);
		bool other = false;

		if (state < 0 || !neo_cell_readable(state))
			continue;
		for (uint32_t i = 0; i < m->pt.rows[p].count && !other; i++)
			other = m->pt.rows[p].cells[i].nid != nid
				&& m->pt.rows[p].cells[i].state == NEO_CELL_UP_TO_DATE;
		if (!other) {
			*bad_partition = p;
			return false;
		}
	}
	return true;
}

static void set_node_state(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_set_node_state *req = pkt->args;
	struct neo_node *node = neo_nodes_by_nid(&m->nodes, (int32_t)req->uuid);
	uint32_t partition;
	char why[128];

	if (node == NULL) {
		deny(conn, pkt->msg_id, "unknown node");
		return;
	}
	if (req->state != NEO_NODE_DOWN && req->state != NEO_NODE_UNKNOWN) {
		snprintf(why, sizeof why, "can not switch node to %s state",
			 neo_enum_name(NEO_ENUM_NODE_STATES, req->state));
		deny(conn, pkt->msg_id, why);
		return;
	}
	if (node->nid == m->nid) {
		deny(conn, pkt->msg_id, "can not kill primary master node");
		return;
	}
	if (node->state == req->state) {
		snprintf(why, sizeof why, "node already in %s state",
			 neo_enum_name(NEO_ENUM_NODE_STATES, req->state));
		ack(conn, pkt->msg_id, why);
		return;
	}
	if (node->type == NEO_NODE_STORAGE && !removal_safe(m, node->nid, &partition)) {
		snprintf(why, sizeof why,
			 "Refuse to drop nodes that contain the only readable copies of partition %u",
			 partition);
		deny(conn, pkt->msg_id, why);
		return;
	}
	if (req->state == NEO_NODE_UNKNOWN) {
		struct neo_ptable before = { 0 };

		if (node->conn && node->state == NEO_NODE_RUNNING) {
			deny(conn, pkt->msg_id, "a running node must be stopped before removal");
			return;
		}
		neo_ptable_copy(&before, &m->pt);
		neo_ptable_drop_node(&m->pt, node->nid);
		master_pt_commit(m, &before);
		neo_ptable_free(&before);
		node->state = NEO_NODE_UNKNOWN;
		master_notify_nodes(m, &node, 1);
		ack(conn, pkt->msg_id, "node permanently removed");
		if (node->conn)
			neo_conn_close(node->conn, "dropped");
		else {
			free(node->owner_data);
			neo_nodes_remove(&m->nodes, node);
		}
		return;
	}
	/* DOWN: tell it, then let the connection loss outdate its cells. */
	node->state = NEO_NODE_DOWN;
	master_notify_nodes(m, &node, 1);
	ack(conn, pkt->msg_id, "state changed");
	if (node->conn)
		neo_conn_close(node->conn, "killed by an administrator");
}

static void check_replicas(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_check_replicas *req = pkt->args;
	uint64_t max_tid = m->last_tid;

	if (req->max_tid.type == MSGPACK_OBJECT_BIN && req->max_tid.via.bin.size == 8)
		max_tid = neo_p64_read((const uint8_t *)req->max_tid.via.bin.ptr);
	if (req->min_tid > max_tid) {
		neo_log(NEO_LOG_WARNING, "nothing to check: min_tid > max_tid");
		ack(conn, pkt->msg_id, "");
		return;
	}
	for (uint32_t i = 0; i < req->partitions.count; i++) {
		int64_t p = req->partitions.keys[i];
		struct neo_check_partition check = { .partition = p, .min_tid = req->min_tid,
						     .max_tid = max_tid };
		struct neo_node *target = NULL, *source = NULL;
		uint32_t readable = 0;

		if (p < 0 || p >= m->pt.num_partitions)
			continue;
		for (uint32_t k = 0; k < m->pt.rows[p].count; k++) {
			struct neo_node *node = neo_nodes_by_nid(&m->nodes, m->pt.rows[p].cells[k].nid);

			if (!neo_cell_readable(m->pt.rows[p].cells[k].state) || node == NULL
			    || node->conn == NULL)
				continue;
			readable++;
			/* Spread the work: the first readable cell checks. */
			if (target == NULL)
				target = node;
		}
		if (readable <= 1 || target == NULL)
			continue;
		if (req->partitions.values[i].has)
			source = neo_nodes_by_nid(&m->nodes, (int32_t)req->partitions.values[i].v);
		if (source && source->has_address) {
			check.source.address.has = true;
			neo_address_to_wire(&source->address, &check.source.address.v);
		}
		neo_conn_notify(target->conn, NEO_CHECK_PARTITION, &check);
	}
	ack(conn, pkt->msg_id, "");
}

static void truncate_cluster(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	uint64_t tid = ((const struct neo_truncate *)pkt->args)->tid;

	if (!pt_changes_allowed(m, conn, pkt->msg_id, "truncate"))
		return;
	if (tid >= m->last_tid) {
		deny(conn, pkt->msg_id, "Truncating after last transaction does nothing");
		return;
	}
	if (tid < m->first_tid) {
		deny(conn, pkt->msg_id, "Truncating before first transaction is probably a mistake");
		return;
	}
	ack(conn, pkt->msg_id, "");
	neo_log(NEO_LOG_INFO, "truncating after %016llx", (unsigned long long)tid);
	/* As upstream: the storages are told at once and persist the tid,
	 * before recovery asks them (AnswerRecovery carries it, whoever the
	 * primary is by then); they cut their history when verification asks
	 * their last ids.  Recovery then waits for every storage of the
	 * table. */
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct neo_truncate truncate = { .tid = tid };

		if (node->type == NEO_NODE_STORAGE && node->conn)
			neo_conn_ask(node->conn, NEO_TRUNCATE, &truncate, 0, NULL, NULL);
	}
	m->truncate_tid = tid;
	master_stop_operation(m);
	m->startup_allowed = false;
}

static void answer_node_list(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_node_list *req = pkt->args;
	struct neo_answer_node_list answer = { 0 };
	struct neo_node_info *infos = calloc(m->nodes.count + 1, sizeof *infos);

	if (infos == NULL)
		return;
	for (size_t i = 0; i < m->nodes.count; i++)
		if (!req->node_type.has || m->nodes.nodes[i]->type == req->node_type.v)
			neo_node_to_wire(m->nodes.nodes[i], &infos[answer.nodes.count++]);
	answer.nodes.items = infos;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_NODE_LIST, &answer);
	free(infos);
}

static void answer_partition_list(struct master *m, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_partition_list *req = pkt->args;
	/* as upstream: no ptid (None) until the table exists */
	struct neo_answer_partition_list answer = { .ptid = { m->pt.ptid != 0, m->pt.ptid },
						    .num_replicas = m->pt.num_replicas };
	uint32_t min = req->min_offset > 0 ? (uint32_t)req->min_offset : 0;
	uint32_t max = req->max_offset > 0 ? (uint32_t)req->max_offset : m->pt.num_partitions;

	if (neo_ptable_to_wire(&m->pt, min, max, &answer.rows) < 0)
		return;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PARTITION_LIST, &answer);
	neo_ptable_wire_free(&answer.rows);
}

bool master_handle_admin_packet(struct master *m, struct neo_node *node, struct neo_conn *conn,
				struct neo_packet *pkt)
{
	switch (pkt->code) {
	case NEO_ASK_CLUSTER_STATE: {
		struct neo_answer_cluster_state answer = { .state = { true, m->state } };

		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_CLUSTER_STATE, &answer);
		return true;
	}
	case NEO_ASK_PRIMARY: {
		struct neo_answer_primary answer = { .primary_uuid = m->nid };

		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PRIMARY, &answer);
		return true;
	}
	case NEO_ASK_NODE_LIST:
		answer_node_list(m, conn, pkt);
		return true;
	case NEO_ASK_PARTITION_LIST:
		answer_partition_list(m, conn, pkt);
		return true;
	case NEO_ASK_LAST_IDS: {
		struct neo_answer_last_ids answer = { .last_oid = { true, m->last_oid },
						      .last_tid = { true, m->last_tid },
						      .first_tid = m->first_tid };

		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_LAST_IDS, &answer);
		return true;
	}
	case NEO_ASK_RECOVERY: {
		struct neo_answer_recovery answer = { .ptid = { true, m->pt.ptid } };

		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_RECOVERY, &answer);
		return true;
	}
	default:
		break;
	}
	if (node->type != NEO_NODE_ADMIN)
		return false;
	switch (pkt->code) {
	case NEO_SET_CLUSTER_STATE:
		set_cluster_state(m, conn, pkt);
		return true;
	case NEO_ADD_PENDING_NODES:
		add_pending(m, conn, pkt);
		return true;
	case NEO_TWEAK_PARTITION_TABLE:
		tweak(m, conn, pkt);
		return true;
	case NEO_SET_NODE_STATE:
		set_node_state(m, conn, pkt);
		return true;
	case NEO_SET_NUM_REPLICAS: {
		const struct neo_set_num_replicas *req = pkt->args;
		struct neo_ptable before = { 0 };

		if (!pt_changes_allowed(m, conn, pkt->msg_id, "setNumReplicas"))
			return true;
		if (req->num_replicas < 0) {
			deny(conn, pkt->msg_id, "invalid number of replicas");
			return true;
		}
		neo_ptable_copy(&before, &m->pt);
		m->pt.num_replicas = (uint32_t)req->num_replicas;
		master_pt_commit(m, &before);
		neo_ptable_free(&before);
		ack(conn, pkt->msg_id, "");
		return true;
	}
	case NEO_CHECK_REPLICAS:
		check_replicas(m, conn, pkt);
		return true;
	case NEO_TRUNCATE:
		truncate_cluster(m, conn, pkt);
		return true;
	case NEO_REPAIR: {
		const struct neo_repair *req = pkt->args;
		struct neo_notify_repair repair = { .dry_run = req->dry_run };

		for (uint32_t i = 0; i < req->uuids.count; i++) {
			struct neo_node *storage = neo_nodes_by_nid(&m->nodes, (int32_t)req->uuids.items[i]);

			if (storage && storage->conn && storage->type == NEO_NODE_STORAGE)
				neo_conn_notify(storage->conn, NEO_NOTIFY_REPAIR, &repair);
		}
		ack(conn, pkt->msg_id, "");
		return true;
	}
	case NEO_FLUSH_LOG:
		return true;
	case NEO_ASK_LAST_TRANSACTION:
		master_handle_client_packet(m, node, conn, pkt);
		return true;
	default:
		return false;
	}
}
