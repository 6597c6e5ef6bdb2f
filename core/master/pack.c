/*
 * master/pack.c - the master's part of pack
 * (core/cluster/cluster.md section 14), as upstream: a pack is a
 * transaction whose finish carries a pack order (oids or none for the
 * whole database, pack tid).  The order is approved at once (automatic
 * signing), given to the storages with NotifyPackSigned when the
 * transaction commits and to any storage that asks (AskPackOrders).
 * Storages pack in the background and report the last order they
 * completed; once every storage holding readable cells has done an order,
 * clients waiting for it (WaitForPack) are answered.
 */
#include "master/master.h"

#include <string.h>

#include "cluster/nid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

struct master_pack_order {
	uint64_t id;			/* the pack transaction's tid */
	bool partial;
	uint64_t *oids;			/* partial pack only */
	uint32_t oid_count;
	uint64_t pack_tid;
	enum master_gc_state gc;	/* core/cluster/cluster.md section 14.2 */
	struct master_pack_order *next;	/* in id order */
};

struct master_pack_waiter {
	struct neo_conn *conn;
	uint32_t msg_id;
	uint64_t id;
	struct master_pack_waiter *next;
};

int master_pack_check(struct master *m, const struct neo_opt_pack_info *pack)
{
	/* as upstream: a pack time in the future, or none, is a protocol
	 * error */
	if (!pack->has)
		return 0;
	return pack->v.pack_tid > 0 && pack->v.pack_tid <= m->last_tid ? 0 : -1;
}

int master_pack_copy(const struct neo_opt_pack_info *pack, struct master_txn *txn)
{
	txn->has_pack = pack->has;
	if (!pack->has)
		return 0;
	txn->pack_tid = pack->v.pack_tid;
	txn->pack_partial = pack->v.oids.has;
	txn->pack_oid_count = 0;
	if (!pack->v.oids.has)
		return 0;
	txn->pack_oids = neo_malloc((pack->v.oids.v.count + 1) * sizeof *txn->pack_oids);
	if (txn->pack_oids == NULL)
		return -1;
	memcpy(txn->pack_oids, pack->v.oids.v.items, pack->v.oids.v.count * sizeof *txn->pack_oids);
	txn->pack_oid_count = pack->v.oids.v.count;
	return 0;
}

/* As upstream: the masters of backup clusters following this one are
 * told of a signed order too (core/cluster/cluster.md section 16); they
 * ask it (AskPackOrders), which lists it once its garbage is collected,
 * so they are told again then. */
static void to_backups(struct master *m, const struct neo_notify_pack_signed *signed_order)
{
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *peer = m->nodes.nodes[i];
		struct master_node *data = peer->owner_data;

		if (peer->type == NEO_NODE_CLIENT && peer->conn && data && data->backup)
			neo_conn_notify(peer->conn, NEO_NOTIFY_PACK_SIGNED, signed_order);
	}
}

/* The order of a committed pack transaction: kept (it takes txn's oids)
 * and signed on every storage. */
void master_pack_committed(struct master *m, struct master_txn *txn)
{
	struct master_pack_order *order, **tail = &m->pack_orders;
	uint64_t id = txn->tid;
	struct neo_notify_pack_signed signed_order = { .approved = { &id, 1 } };

	if (!txn->has_pack)
		return;
	order = neo_calloc(1, sizeof *order);
	if (order == NULL) {
		neo_log(NEO_LOG_ERROR, "out of memory: pack %016llx forgotten",
			(unsigned long long)id);
		return;
	}
	order->id = id;
	order->partial = txn->pack_partial;
	order->oids = txn->pack_oids;
	order->oid_count = txn->pack_oid_count;
	order->pack_tid = txn->pack_tid;
	/* a partial pack (oids given) collects no garbage */
	order->gc = order->partial ? MASTER_GC_NONE : MASTER_GC_UNDECIDED;
	txn->pack_oids = NULL;
	while (*tail)
		tail = &(*tail)->next;
	*tail = order;
	neo_log(NEO_LOG_INFO, "pack %016llx up to %016llx approved",
		(unsigned long long)id, (unsigned long long)order->pack_tid);
	master_broadcast(m, NEO_NOTIFY_PACK_SIGNED, &signed_order, true, false, false);
	to_backups(m, &signed_order);
	if (order->gc != MASTER_GC_NONE)
		master_gc_kick(m);
}

bool master_pack_gc_next(struct master *m, uint64_t *id, uint64_t *pack_tid,
			 enum master_gc_state *state)
{
	for (struct master_pack_order *o = m->pack_orders; o; o = o->next)
		if (o->gc == MASTER_GC_UNDECIDED || o->gc == MASTER_GC_PENDING) {
			*id = o->id;
			*pack_tid = o->pack_tid;
			*state = o->gc;
			return true;
		}
	return false;
}

void master_pack_gc_set(struct master *m, uint64_t id, enum master_gc_state state)
{
	struct neo_notify_pack_signed signed_order = { .approved = { &id, 1 } };

	for (struct master_pack_order *o = m->pack_orders; o; o = o->next)
		if (o->id == id)
			o->gc = state;
	/* the storages may ask for it now (master_pack_ask_orders) */
	if (state == MASTER_GC_NONE || state == MASTER_GC_DONE) {
		master_broadcast(m, NEO_NOTIFY_PACK_SIGNED, &signed_order, true, false, false);
		to_backups(m, &signed_order);
	}
}

void master_pack_gc_recovered(struct master *m, uint64_t last_settled, bool foreign)
{
	for (struct master_pack_order *o = m->pack_orders; o; o = o->next) {
		if (o->gc != MASTER_GC_RECOVERED)
			continue;
		if (foreign || o->id <= last_settled) {
			master_pack_gc_set(m, o->id, MASTER_GC_NONE);
			continue;
		}
		/* no storage was given it: its collection may not be over */
		neo_log(NEO_LOG_INFO, "pack %016llx: recovered, its collection not known to be "
			"over: its garbage collection is decided again", (unsigned long long)o->id);
		o->gc = MASTER_GC_UNDECIDED;
	}
}

bool master_pack_tid_of(struct master *m, uint64_t id, uint64_t *pack_tid)
{
	for (struct master_pack_order *o = m->pack_orders; o; o = o->next)
		if (o->id == id) {
			*pack_tid = o->pack_tid;
			return true;
		}
	return false;
}

uint64_t master_pack_last_approved(struct master *m)
{
	uint64_t last = m->pack_completed;

	/* Orders are kept in id order, completed ones too. */
	for (struct master_pack_order *o = m->pack_orders; o; o = o->next)
		if (o->id > last)
			last = o->id;
	return last;
}

/* Backup mode: no garbage collection, so recovered orders are given at
 * once. */
static bool backing_up(const struct master *m)
{
	return m->state == NEO_CLUSTER_STARTING_BACKUP || m->state == NEO_CLUSTER_BACKINGUP ||
	       m->state == NEO_CLUSTER_STOPPING_BACKUP;
}

void master_pack_ask_orders(struct master *m, struct neo_node *node, struct neo_conn *conn,
			    struct neo_packet *pkt)
{
	uint64_t min_id = ((const struct neo_ask_pack_orders *)pkt->args)->min_completed_id;
	uint32_t msg_id = pkt->msg_id;
	struct neo_answer_pack_orders answer = { 0 };
	struct neo_pack_order_entry *entries;
	size_t count = 0;

	for (struct master_pack_order *o = m->pack_orders; o; o = o->next)
		count++;
	entries = neo_calloc(count + 1, sizeof *entries);
	if (entries == NULL) {
		neo_conn_answer_error(conn, msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	for (struct master_pack_order *o = m->pack_orders; o; o = o->next) {
		struct neo_pack_order_entry *e = &entries[answer.orders.count];

		/* an order whose garbage is still to collect, and the ones
		 * after it, are given once it is collected */
		if (o->gc == MASTER_GC_UNDECIDED || o->gc == MASTER_GC_PENDING ||
		    (o->gc == MASTER_GC_RECOVERED && !backing_up(m)))
			break;
		if (o->id < min_id)
			continue;
		e->id = o->id;
		e->approved = (struct neo_opt_bool){ true, true };
		e->partial = o->partial;
		e->oids.has = o->partial;
		e->oids.v = (struct neo_list_p64){ o->oids, o->oid_count };
		e->pack_tid = o->pack_tid;
		answer.orders.count++;
	}
	answer.orders.items = entries;
	neo_conn_answer(conn, msg_id, NEO_ANSWER_PACK_ORDERS, &answer);
	neo_free(entries);
}

/* Every storage with a readable cell (but the one of conn skip, being
 * lost) has completed this pack id. */
static uint64_t cluster_completed(struct master *m, struct neo_conn *skip)
{
	uint64_t min = 0;
	bool any = false;

	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct master_node *data = node->owner_data;

		if (node->type != NEO_NODE_STORAGE || node->conn == NULL || node->conn == skip ||
		    node->state != NEO_NODE_RUNNING || data == NULL ||
		    !neo_ptable_has_readable_cell(&m->pt, node->nid))
			continue;
		if (!any || data->pack_completed < min)
			min = data->pack_completed;
		any = true;
	}
	return any ? min : 0;
}

static void answer_waiters(struct master *m)
{
	struct master_pack_waiter **at = &m->pack_waiters;

	while (*at) {
		struct master_pack_waiter *w = *at;

		if (w->id > m->pack_completed) {
			at = &w->next;
			continue;
		}
		*at = w->next;
		neo_conn_answer(w->conn, w->msg_id, NEO_WAITED_FOR_PACK, NULL);
		neo_free(w);
	}
}

static void recheck(struct master *m, struct neo_conn *skip)
{
	uint64_t completed = cluster_completed(m, skip);

	if (completed <= m->pack_completed)
		return;
	m->pack_completed = completed;
	neo_log(NEO_LOG_INFO, "packs completed up to %016llx", (unsigned long long)completed);
	/* Completed orders stay: a storage back from an absence still has
	 * to apply them to its old history. */
	answer_waiters(m);
}

void master_pack_notify_completed(struct master *m, struct neo_node *node, struct neo_conn *conn,
				  struct neo_packet *pkt)
{
	uint64_t pack_id = ((const struct neo_notify_pack_completed *)pkt->args)->pack_id;
	struct master_node *data = master_node_data(node);

	if (data == NULL)
		return;
	data->pack_completed = pack_id;
	recheck(m, NULL);
}

void master_pack_wait(struct master *m, struct neo_node *node, struct neo_conn *conn,
		      struct neo_packet *pkt)
{
	uint64_t id = ((const struct neo_wait_for_pack *)pkt->args)->tid;
	uint32_t msg_id = pkt->msg_id;
	struct master_pack_waiter *w;

	if (id <= m->pack_completed) {
		neo_conn_answer(conn, msg_id, NEO_WAITED_FOR_PACK, NULL);
		return;
	}
	w = neo_calloc(1, sizeof *w);
	if (w == NULL) {
		neo_conn_answer_error(conn, msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	*w = (struct master_pack_waiter){ conn, msg_id, id, m->pack_waiters };
	m->pack_waiters = w;
}

void master_pack_conn_lost(struct master *m, struct neo_conn *conn)
{
	struct master_pack_waiter **at = &m->pack_waiters;

	while (*at) {
		struct master_pack_waiter *w = *at;

		if (w->conn != conn) {
			at = &w->next;
			continue;
		}
		*at = w->next;
		neo_free(w);
	}
	/* a storage that was behind may be the one gone */
	recheck(m, conn);
}

void master_pack_reset(struct master *m)
{
	while (m->pack_orders) {
		struct master_pack_order *o = m->pack_orders;

		m->pack_orders = o->next;
		neo_free(o->oids);
		neo_free(o);
	}
	while (m->pack_waiters) {
		struct master_pack_waiter *w = m->pack_waiters;

		m->pack_waiters = w->next;
		neo_free(w);
	}
}

/* Inserts an approved order unless known, with gc as its collection
 * (a partial one: none); true if added. */
static bool add_order(struct master *m, const struct neo_pack_order_entry *e,
		      enum master_gc_state gc)
{
	struct master_pack_order **at = &m->pack_orders, *order;

	while (*at && (*at)->id < e->id)
		at = &(*at)->next;
	if (*at && (*at)->id == e->id)
		return false;
	order = neo_calloc(1, sizeof *order);
	if (order == NULL)
		return false;
	order->id = e->id;
	order->partial = e->partial;
	order->pack_tid = e->pack_tid;
	order->gc = e->partial ? MASTER_GC_NONE : gc;
	if (e->oids.has && e->oids.v.count) {
		order->oids = neo_malloc(e->oids.v.count * sizeof *order->oids);
		if (order->oids == NULL) {
			neo_free(order);
			return false;
		}
		memcpy(order->oids, e->oids.v.items, e->oids.v.count * sizeof *order->oids);
		order->oid_count = e->oids.v.count;
	}
	order->next = *at;
	*at = order;
	return true;
}

/* A storage's orders, asked at verification: the master learns again
 * the approved orders it forgot by restarting (as upstream), and tells
 * the storages, which may still have to apply them. */
static void orders_recovered(struct neo_conn *conn, enum neo_ask_status status,
			     struct neo_packet *answer, void *arg)
{
	struct master *m = arg;
	const struct neo_answer_pack_orders *orders;
	uint64_t *added;
	uint32_t count = 0;

	(void)conn;
	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_PACK_ORDERS)
		return;
	orders = answer->args;
	added = neo_calloc(orders->orders.count + 1, sizeof *added);
	if (added == NULL)
		return;
	for (uint32_t i = 0; i < orders->orders.count; i++) {
		const struct neo_pack_order_entry *e = &orders->orders.items[i];

		/* its collection may have been interrupted by our restart
		 * (core/cluster/cluster.md section 14.3) */
		if (e->approved.has && e->approved.v && add_order(m, e, MASTER_GC_RECOVERED))
			added[count++] = e->id;
	}
	if (count) {
		struct neo_notify_pack_signed signed_orders = { .approved = { added, count } };

		neo_log(NEO_LOG_INFO, "%u pack order(s) recovered from a storage", count);
		master_broadcast(m, NEO_NOTIFY_PACK_SIGNED, &signed_orders, true, false, false);
		master_gc_kick(m);
	}
	neo_free(added);
}

void master_pack_recover(struct master *m, struct neo_conn *storage)
{
	struct neo_ask_pack_orders ask = { .min_completed_id = 0 };

	neo_conn_ask(storage, NEO_ASK_PACK_ORDERS, &ask, 0, orders_recovered, m);
}

/* Backup mode (core/cluster/cluster.md section 16), as upstream's
 * BackupHandler.answerPackOrders: the upstream cluster's orders from some
 * id on.  The approved ones are kept (so that our storages, asking
 * AskPackOrders, apply them), and every order's signature is passed on to
 * our storages (they sign their copy, replicated or still to come). */
void master_pack_learn(struct master *m, const struct neo_answer_pack_orders *orders)
{
	uint64_t *approved = neo_calloc(orders->orders.count + 1, sizeof *approved);
	uint64_t *rejected = neo_calloc(orders->orders.count + 1, sizeof *rejected);
	struct neo_notify_pack_signed signed_orders = { { approved, 0 }, { rejected, 0 } };
	uint32_t added = 0;

	if (approved == NULL || rejected == NULL) {
		neo_log(NEO_LOG_ERROR, "out of memory: upstream pack orders not followed");
		goto out;
	}
	for (uint32_t i = 0; i < orders->orders.count; i++) {
		const struct neo_pack_order_entry *e = &orders->orders.items[i];

		if (!e->approved.has)
			continue;	/* not signed yet: NotifyPackSigned will say */
		if (!e->approved.v) {
			rejected[signed_orders.rejected.count++] = e->id;
			continue;
		}
		approved[signed_orders.approved.count++] = e->id;
		if (add_order(m, e, MASTER_GC_NONE))
			added++;
	}
	if (added)
		neo_log(NEO_LOG_INFO, "%u pack order(s) of the upstream cluster followed", added);
	if (signed_orders.approved.count || signed_orders.rejected.count)
		master_broadcast(m, NEO_NOTIFY_PACK_SIGNED, &signed_orders, true, false, false);
out:
	neo_free(approved);
	neo_free(rejected);
}

bool master_pack_known(struct master *m, uint64_t id)
{
	for (struct master_pack_order *o = m->pack_orders; o; o = o->next)
		if (o->id == id)
			return true;
	return false;
}
