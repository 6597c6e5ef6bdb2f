/*
 * master/admin.c - the requests an admin node relays from neoctl: state
 * queries, start/stop, adding and removing storages, tweak, replicas,
 * replica checks and truncation.  Answers and refusal texts follow
 * upstream's neo/master/handlers/administration.py, since neoctl prints
 * them as they come.
 */
#include "master/master.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static void deny(struct neo_conn *conn, uint32_t msg_id, const char *why)
{
	neo_conn_answer_error(conn, msg_id, NEO_ERROR_DENIED, why);
}

static void denyf(struct neo_conn *conn, uint32_t msg_id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void denyf(struct neo_conn *conn, uint32_t msg_id, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	deny(conn, msg_id, why);
}

static void ack(struct neo_conn *conn, uint32_t msg_id, const char *message)
{
	neo_conn_answer_error(conn, msg_id, NEO_ERROR_ACK, message);
}

/* The storage node nid names, or NULL after denying with why (the
 * request's name first, so that neoctl's message says which). */
static struct neo_node *storage_named(struct master *m, struct neo_conn *conn, uint32_t msg_id,
				      const char *rpc, int64_t nid)
{
	struct neo_node *node = nid >= INT32_MIN && nid <= INT32_MAX
				? neo_nodes_by_nid(&m->nodes, (int32_t)nid) : NULL;
	char text[16];

	neo_nid_format(nid, text, sizeof text);
	if (node == NULL)
		denyf(conn, msg_id, "%s: unknown node %s", rpc, text);
	else if (node->type != NEO_NODE_STORAGE)
		denyf(conn, msg_id, "%s: %s is not a storage node", rpc, text);
	else
		return node;
	return NULL;
}

/* As upstream: table-changing commands (add, tweak, set replicas) only
 * while serving or backing up; truncate and check while serving only
 * (check while backing up too: master_admin_check_replicas). */
static bool pt_changes_allowed(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			       const char *rpc, bool backup_too)
{
	char why[128];

	if (m->state == NEO_CLUSTER_RUNNING
	    || (backup_too && (m->state == NEO_CLUSTER_STARTING_BACKUP
			       || m->state == NEO_CLUSTER_BACKINGUP)))
		return true;
	snprintf(why, sizeof why, "%s RPC can not be used in %s state", rpc,
		 neo_enum_name(NEO_ENUM_CLUSTER_STATES, m->state));
	deny(conn, msg_id, why);
	return false;
}

static void stop_cluster(struct master *m)
{
	struct neo_node **storages = neo_calloc(m->nodes.count + 1, sizeof *storages);
	size_t count = 0;

	master_set_state(m, NEO_CLUSTER_STOPPING);
	/* As upstream: storages told they are DOWN exit, keeping their data. */
	for (size_t i = 0; i < m->nodes.count && storages; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->conn
		    && master_change_node_state(m, node, NEO_NODE_DOWN))
			storages[count++] = node;
	}
	if (count)
		master_notify_nodes(m, storages, count);
	neo_free(storages);
	for (size_t i = 0; i < m->nodes.count; i++)
		if (m->nodes.nodes[i]->conn)
			neo_conn_close(m->nodes.nodes[i]->conn, "cluster stopping");
	m->stopping_exit = true;
	master_exit_loop(m);
}

void master_admin_set_cluster_state(struct master *m, struct neo_node *from, struct neo_conn *conn,
				    struct neo_packet *pkt)
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
	case NEO_CLUSTER_STARTING_BACKUP: {
		const char *why;

		/* as upstream: from RUNNING only, without clients */
		if (m->backup != NULL && m->state != NEO_CLUSTER_RUNNING) {
			deny(conn, pkt->msg_id, "Can not switch to this state");
			return;
		}
		if ((why = master_backup_start(m)) != NULL) {
			deny(conn, pkt->msg_id, why);
			return;
		}
		ack(conn, pkt->msg_id, "Cluster state changed");
		return;
	}
	case NEO_CLUSTER_STOPPING_BACKUP:
		if (m->backup == NULL) {
			deny(conn, pkt->msg_id, "No upstream cluster to backup defined in configuration");
			return;
		}
		/* as upstream: from BACKINGUP or STARTING_BACKUP */
		if (m->state != NEO_CLUSTER_BACKINGUP && m->state != NEO_CLUSTER_STARTING_BACKUP) {
			deny(conn, pkt->msg_id, "Can not switch to this state");
			return;
		}
		ack(conn, pkt->msg_id, "Cluster state changed");
		master_backup_leave(m);
		return;
	default:
		deny(conn, pkt->msg_id, "Invalid state requested");
		return;
	}
}

void master_admin_add_pending(struct master *m, struct neo_node *from, struct neo_conn *conn,
			      struct neo_packet *pkt)
{
	const struct neo_add_pending_nodes *req = pkt->args;
	char message[1024] = "Nodes added: ";
	size_t added = 0;

	if (!pt_changes_allowed(m, conn, pkt->msg_id, "addPendingNodes", true))
		return;
	/* Unlike upstream, which skips them: an id that names no storage is
	 * a typo the operator must hear about. */
	for (uint32_t k = 0; k < req->uuids.count; k++)
		if (storage_named(m, conn, pkt->msg_id, "add", req->uuids.items[k]) == NULL)
			return;
	/* As upstream: only the listed PENDING ones start, so that `add all`
	 * (every storage listed) is harmless; an empty list adds none. */
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		bool listed = false;
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

/* The nodes tweak is to move cells away from: storages, all of them.
 * As upstream, a storage that is neither RUNNING nor PENDING must be
 * listed, so that the operator decides what becomes of its cells; unlike
 * upstream (which ignores them), ids of no storage are refused. */
static bool tweak_nodes_valid(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			      const struct neo_list_int *listed)
{
	for (uint32_t k = 0; k < listed->count; k++)
		if (storage_named(m, conn, msg_id, "tweak", listed->items[k]) == NULL)
			return false;
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		bool named = false;

		for (uint32_t k = 0; k < listed->count && !named; k++)
			named = listed->items[k] == node->nid;
		if (node->type == NEO_NODE_STORAGE && !named && node->state != NEO_NODE_RUNNING
		    && node->state != NEO_NODE_PENDING) {
			/* as upstream */
			deny(conn, msg_id, "tweak: down nodes must be listed explicitly");
			return false;
		}
	}
	return true;
}

void master_admin_tweak(struct master *m, struct neo_node *from, struct neo_conn *conn,
			struct neo_packet *pkt)
{
	const struct neo_tweak_partition_table *req = pkt->args;
	struct neo_answer_tweak_partition_table answer = { 0 };
	struct neo_ptable result = { 0 };
	int32_t *excluded;
	int rc;

	if (!pt_changes_allowed(m, conn, pkt->msg_id, "tweakPartitionTable", true)
	    || !tweak_nodes_valid(m, conn, pkt->msg_id, &req->excluded_uuids))
		return;
	excluded = neo_calloc(req->excluded_uuids.count + 1, sizeof *excluded);
	if (excluded == NULL) {
		deny(conn, pkt->msg_id, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < req->excluded_uuids.count; i++)
		excluded[i] = (int32_t)req->excluded_uuids.items[i];
	rc = master_pt_tweak(m, excluded, req->excluded_uuids.count, req->dry_run, &result,
			     &answer.changed);
	neo_free(excluded);
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

/* As upstream's workflow: masters can be stopped (DOWN), storages
 * stopped or forgotten (UNKNOWN); clients and admins are not for neoctl. */
static bool node_state_allowed(enum neo_node_type type, enum neo_node_state state)
{
	switch (type) {
	case NEO_NODE_MASTER:
		return state == NEO_NODE_DOWN;
	case NEO_NODE_STORAGE:
		return state == NEO_NODE_DOWN || state == NEO_NODE_UNKNOWN;
	default:
		return false;
	}
}

void master_admin_set_node_state(struct master *m, struct neo_node *from, struct neo_conn *conn,
				 struct neo_packet *pkt)
{
	const struct neo_set_node_state *req = pkt->args;
	struct neo_node *node = req->uuid >= INT32_MIN && req->uuid <= INT32_MAX
				? neo_nodes_by_nid(&m->nodes, (int32_t)req->uuid) : NULL;
	uint32_t partition;
	char why[128];

	if (node == NULL) {
		/* as upstream's text, with the id */
		denyf(conn, pkt->msg_id, "unknown node %s",
		      neo_nid_format(req->uuid, why, sizeof why));
		return;
	}
	if (!node_state_allowed(node->type, req->state)) {
		const char *name = neo_enum_name(NEO_ENUM_NODE_STATES, req->state);

		if (name)
			denyf(conn, pkt->msg_id, "can not switch node to %s state", name);
		else
			denyf(conn, pkt->msg_id, "can not switch node to state %d", (int)req->state);
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
		if (neo_ptable_copy(&before, &m->pt) < 0) {
			deny(conn, pkt->msg_id, "out of memory");
			return;
		}
		neo_ptable_drop_node(&m->pt, node->nid);
		if (master_pt_commit(m, &before) < 0) {
			/* the table stays as it was, and so does the node */
			neo_ptable_free(&before);
			deny(conn, pkt->msg_id, "out of memory");
			return;
		}
		neo_ptable_free(&before);
		if (node->conn) {
			master_set_node_state(m, node, NEO_NODE_UNKNOWN);
			ack(conn, pkt->msg_id, "node permanently removed");
			neo_conn_close(node->conn, "dropped");
		} else {
			master_forget_node(m, node);
			ack(conn, pkt->msg_id, "node permanently removed");
		}
		return;
	}
	/* DOWN: tell it, then let the connection loss outdate its cells. */
	if (!master_set_node_state(m, node, NEO_NODE_DOWN)) {
		deny(conn, pkt->msg_id, "illegal state change");
		return;
	}
	ack(conn, pkt->msg_id, "state changed");
	if (node->conn)
		neo_conn_close(node->conn, "killed by an administrator");
}

/* One partition of a CheckReplicas request. */
struct check_plan {
	int64_t partition;
	struct neo_node *target;	/* checks; NULL: nothing to compare */
	struct neo_node *source;	/* the reference, if named */
	const struct neo_address *upstream;	/* backing up: an upstream cell, the reference */
	const char *upstream_name;
};

/* max_tid (nil: the last transaction, as upstream) and min_tid <= max_tid;
 * false after denying. */
static bool check_tid_range(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			    const struct neo_check_replicas *req, uint64_t *max_tid)
{
	const msgpack_object *max = &req->max_tid;

	/* as upstream: backing up, what every cell holds */
	*max_tid = m->has_backup_tid ? master_backup_tid(m, false) : m->last_tid;
	if (max->type == MSGPACK_OBJECT_BIN && max->via.bin.size == 8)
		*max_tid = neo_p64_read((const uint8_t *)max->via.bin.ptr);
	else if (max->type != MSGPACK_OBJECT_NIL) {
		deny(conn, msg_id, "check: invalid max_tid (nil or 8 bytes expected)");
		return false;
	}
	/* Upstream logs "nothing to check" and acks: refused here, since the
	 * operator asked for a check that cannot happen. */
	if (req->min_tid <= *max_tid)
		return true;
	if (max->type == MSGPACK_OBJECT_NIL)
		denyf(conn, msg_id, "check: nothing to check: min_tid %016llx is after the last "
		      "transaction %016llx", (unsigned long long)req->min_tid,
		      (unsigned long long)*max_tid);
	else
		denyf(conn, msg_id, "check: min_tid %016llx is after max_tid %016llx",
		      (unsigned long long)req->min_tid, (unsigned long long)*max_tid);
	return false;
}

/* The readable cells of partition p on connected nodes; *first gets the
 * first such node (as before: the first readable cell checks). */
static uint32_t check_readable_cells(struct master *m, uint32_t p, struct neo_node **first)
{
	uint32_t readable = 0;

	*first = NULL;
	for (uint32_t k = 0; k < m->pt.rows[p].count; k++) {
		const struct neo_pt_cell *cell = &m->pt.rows[p].cells[k];
		struct neo_node *node = neo_nodes_by_nid(&m->nodes, cell->nid);

		if (!neo_cell_readable(cell->state) || node == NULL || node->conn == NULL)
			continue;
		if (readable++ == 0)
			*first = node;
	}
	return readable;
}

/* The reference of a partition: a connected storage with a readable cell
 * of it (upstream takes any id, and fails on unknown ones). */
static bool check_source_valid(struct master *m, struct neo_conn *conn, uint32_t msg_id,
			       uint32_t p, struct neo_node *source)
{
	int state = neo_ptable_cell_state(&m->pt, p, source->nid);
	char nid[16];

	neo_nid_format(source->nid, nid, sizeof nid);
	if (state < 0 || !neo_cell_readable(state)) {
		denyf(conn, msg_id, "check: %s has no readable cell of partition %u", nid, p);
		return false;
	}
	if (source->conn == NULL || !source->has_address) {
		denyf(conn, msg_id, "check: %s is not connected", nid);
		return false;
	}
	return true;
}

static bool check_plan_partition(struct master *m, struct neo_conn *conn, uint32_t msg_id,
				 int64_t partition, const struct neo_opt_int *source,
				 struct check_plan *plan)
{
	struct neo_node *first;

	/* Upstream fails on an IndexError there. */
	if (partition < 0 || partition >= m->pt.num_partitions) {
		denyf(conn, msg_id, "check: partition %lld does not exist (the table has %u, "
		      "0 to %u)", (long long)partition, m->pt.num_partitions,
		      m->pt.num_partitions - 1);
		return false;
	}
	plan->partition = partition;
	if (source->has) {
		plan->source = storage_named(m, conn, msg_id, "check", source->v);
		if (plan->source == NULL
		    || !check_source_valid(m, conn, msg_id, (uint32_t)partition, plan->source))
			return false;
	}
	/* As upstream: one readable cell has nothing to be compared with;
	 * backing up, without a named source, the cells are compared with
	 * an upstream one. */
	if (m->has_backup_tid && !source->has) {
		plan->upstream = master_backup_check_source(m, (uint32_t)partition,
							    &plan->upstream_name);
		if (plan->upstream == NULL) {
			denyf(conn, msg_id, "check: no upstream storage for partition %lld",
			      (long long)partition);
			return false;
		}
		check_readable_cells(m, (uint32_t)partition, &first);
		plan->target = first;
		return true;
	}
	if (check_readable_cells(m, (uint32_t)partition, &first) > 1)
		plan->target = first;
	return true;
}

/* "0, 3, 5" for the plans with (with_target) or without a target. */
static size_t check_list(const struct check_plan *plans, uint32_t count, bool with_target,
			 char *buf, size_t buflen)
{
	size_t listed = 0, len = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < count; i++) {
		if ((plans[i].target != NULL) != with_target)
			continue;
		if (len + 32 < buflen)
			len += (size_t)snprintf(buf + len, buflen - len, "%s%lld", listed ? ", " : "",
						(long long)plans[i].partition);
		else if (len + 5 < buflen && buf[len - 1] != '.')
			len += (size_t)snprintf(buf + len, buflen - len, ", ...");
		listed++;
	}
	return listed;
}

/* Sends the checks; the Ack names the partitions skipped.  false when
 * there was nothing at all to compare (denied). */
static bool check_send(struct master *m, struct neo_conn *conn, uint32_t msg_id,
		       const struct check_plan *plans, uint32_t count, uint64_t min_tid,
		       uint64_t max_tid)
{
	char skipped[256], message[320];
	size_t skip_count = check_list(plans, count, false, skipped, sizeof skipped);

	if (skip_count == count) {
		denyf(conn, msg_id, "check: nothing to compare: partition%s %s %s fewer than 2 "
		      "readable cells", count > 1 ? "s" : "", skipped, count > 1 ? "have" : "has");
		return false;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct neo_check_partition check = { .partition = plans[i].partition,
						     .min_tid = min_tid, .max_tid = max_tid };

		if (plans[i].target == NULL)
			continue;
		if (plans[i].source) {
			check.source.address.has = true;
			neo_address_to_wire(&plans[i].source->address, &check.source.address.v);
		} else if (plans[i].upstream) {
			/* as upstream: (upstream cluster name, address) */
			check.source.name = neo_bin_str(plans[i].upstream_name);
			check.source.address.has = true;
			neo_address_to_wire(plans[i].upstream, &check.source.address.v);
		}
		neo_conn_notify(plans[i].target->conn, NEO_CHECK_PARTITION, &check);
	}
	/* Upstream's Ack is empty; our neoctl prints a non-empty one. */
	message[0] = '\0';
	if (skip_count)
		snprintf(message, sizeof message, "skipped (fewer than 2 readable cells): "
			 "partition%s %s", skip_count > 1 ? "s" : "", skipped);
	ack(conn, msg_id, message);
	return true;
}

void master_admin_check_replicas(struct master *m, struct neo_node *from, struct neo_conn *conn,
				 struct neo_packet *pkt)
{
	const struct neo_check_replicas *req = pkt->args;
	uint32_t count = req->partitions.count;
	struct check_plan *plans;
	uint64_t max_tid;

	/* Unlike upstream, which takes it in any state: storages only check
	 * while serving, and a table must exist to name partitions. */
	if ((m->state != NEO_CLUSTER_BACKINGUP
	     && !pt_changes_allowed(m, conn, pkt->msg_id, "checkReplicas", false))
	    || !check_tid_range(m, conn, pkt->msg_id, req, &max_tid))
		return;
	/* Upstream acks an empty request, checking nothing. */
	if (count == 0) {
		deny(conn, pkt->msg_id, "check: no partition given");
		return;
	}
	plans = neo_calloc(count, sizeof *plans);
	if (plans == NULL) {
		deny(conn, pkt->msg_id, "out of memory");
		return;
	}
	/* Every entry is checked before any order goes out: a refused
	 * request has done nothing. */
	for (uint32_t i = 0; i < count; i++)
		if (!check_plan_partition(m, conn, pkt->msg_id, req->partitions.keys[i],
					  &req->partitions.values[i], &plans[i])) {
			neo_free(plans);
			return;
		}
	if (check_send(m, conn, pkt->msg_id, plans, count, req->min_tid, max_tid))
		neo_log(NEO_LOG_INFO, "replica check of %u partition(s) ordered", count);
	neo_free(plans);
}

void master_admin_truncate(struct master *m, struct neo_node *from, struct neo_conn *conn,
			   struct neo_packet *pkt)
{
	uint64_t tid = ((const struct neo_truncate *)pkt->args)->tid;

	if (!pt_changes_allowed(m, conn, pkt->msg_id, "truncate", false))
		return;
	if (tid >= m->last_tid) {
		deny(conn, pkt->msg_id, "Truncating after last transaction does nothing");
		return;
	}
	if (tid < m->first_tid) {
		/* as upstream */
		deny(conn, pkt->msg_id, "Truncating before first transaction is probably not what "
		     "you intended to do");
		return;
	}
	/* As upstream: a pack approved after tid would lose its transaction
	 * while storages may already have deleted history for it. */
	if (master_pack_last_approved(m) > tid) {
		deny(conn, pkt->msg_id, "Can not truncate before an approved pack");
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

/* Storage numbers have 24 bits and a row holds one cell per storage at
 * most: more replicas than that can never be satisfied, and a bigger
 * number would not fit the table's 32-bit count (nor nr + 1). */
#define MAX_REPLICAS 0xfffffe

/* Storages that count as replica holders: those serving, and those with
 * cells (a storage briefly down still holds its copies). */
static size_t storages_in_use(struct master *m)
{
	size_t count = 0;

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && (node->state == NEO_NODE_RUNNING
						       || neo_ptable_has_node(&m->pt, node->nid)))
			count++;
	}
	return count;
}

void master_admin_set_num_replicas(struct master *m, struct neo_node *from, struct neo_conn *conn,
				   struct neo_packet *pkt)
{
	int64_t nr = ((const struct neo_set_num_replicas *)pkt->args)->num_replicas;
	struct neo_ptable before = { 0 };
	char warning[256] = "";

	if (!pt_changes_allowed(m, conn, pkt->msg_id, "setNumReplicas", true))
		return;
	/* As upstream's neoctl (its master asserts nr >= 0). */
	if (nr < 0) {
		deny(conn, pkt->msg_id, "invalid number of replicas");
		return;
	}
	if (nr > MAX_REPLICAS) {
		denyf(conn, pkt->msg_id, "invalid number of replicas: %lld (at most %d: one copy "
		      "per storage node)", (long long)nr, MAX_REPLICAS);
		return;
	}
	/* As upstream, accepted (rows get min(nr + 1, storages) cells at the
	 * next tweak), but said: the operator may have meant fewer. */
	if ((uint64_t)nr + 1 > storages_in_use(m))
		snprintf(warning, sizeof warning, "Warning: %lld replicas need %lld storage nodes "
			 "and the cluster has %zu: partitions keep fewer copies until more "
			 "storage nodes are added", (long long)nr, (long long)nr + 1,
			 storages_in_use(m));
	if (neo_ptable_copy(&before, &m->pt) < 0) {
		deny(conn, pkt->msg_id, "out of memory");
		return;
	}
	m->pt.num_replicas = (uint32_t)nr;
	if (master_pt_commit(m, &before) < 0) {
		/* the table is back as it was: nothing was told */
		neo_ptable_free(&before);
		deny(conn, pkt->msg_id, "out of memory");
		return;
	}
	neo_ptable_free(&before);
	ack(conn, pkt->msg_id, warning);
}

/* As upstream: every id must be a connected storage, or nothing is sent. */
void master_admin_repair(struct master *m, struct neo_node *from, struct neo_conn *conn,
			 struct neo_packet *pkt)
{
	const struct neo_repair *req = pkt->args;
	struct neo_notify_repair notify = { .dry_run = req->dry_run };
	struct neo_conn **targets;

	/* Upstream acks an empty list, repairing nothing. */
	if (req->uuids.count == 0) {
		deny(conn, pkt->msg_id, "prune_orphan: no storage node given");
		return;
	}
	targets = neo_calloc(req->uuids.count, sizeof *targets);
	if (targets == NULL) {
		deny(conn, pkt->msg_id, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < req->uuids.count; i++) {
		int64_t nid = req->uuids.items[i];
		struct neo_node *node = nid >= INT32_MIN && nid <= INT32_MAX
					? neo_nodes_by_nid(&m->nodes, (int32_t)nid) : NULL;
		char text[16];

		if (node == NULL || node->type != NEO_NODE_STORAGE || node->conn == NULL) {
			/* as upstream */
			denyf(conn, pkt->msg_id, "invalid storage node %s",
			      neo_nid_format(nid, text, sizeof text));
			neo_free(targets);
			return;
		}
		targets[i] = node->conn;
	}
	for (uint32_t i = 0; i < req->uuids.count; i++)
		neo_conn_notify(targets[i], NEO_NOTIFY_REPAIR, &notify);
	neo_free(targets);
	ack(conn, pkt->msg_id, "");
}
