/*
 * storage/check.c - replica checks (neoctl check, core/cluster/cluster.md
 * section 13): this node compares, chunk by chunk, digests of the
 * transactions and object revisions of a partition with every other readable
 * cell, and reports the cells that differ from the reference to the master.
 * The digests are upstream's (SHA-1 of comma-separated decimal ids), so that
 * our nodes and upstream's can check each other.
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cluster/nid.h"
#include "runtime/log.h"

#define CHECK_COUNT 40000

/* --- Digests (both sides) -------------------------------------------------- */

struct digest {
	EVP_MD_CTX *tids, *oids;
	uint64_t count, last_tid, last_oid;
};

static void digest_add_decimal(EVP_MD_CTX *ctx, uint64_t count, uint64_t value)
{
	char text[24];
	int n = snprintf(text, sizeof text, "%s%" PRIu64, count ? "," : "", value);

	EVP_DigestUpdate(ctx, text, (size_t)n);
}

static int digest_tid(void *ctx, uint64_t tid)
{
	struct digest *d = ctx;

	digest_add_decimal(d->tids, d->count, tid);
	d->last_tid = tid;
	d->count++;
	return 0;
}

static int digest_serial(void *ctx, uint64_t tid, uint64_t oid)
{
	struct digest *d = ctx;

	digest_add_decimal(d->tids, d->count, tid);
	digest_add_decimal(d->oids, d->count, oid);
	d->last_tid = tid;
	d->last_oid = oid;
	d->count++;
	return 0;
}

struct range_result {
	bool serial;			/* AnswerCheckSerialRange shape */
	int64_t count;
	uint8_t tid_digest[20], oid_digest[20];
	uint64_t max_tid, max_oid;
};

static void compute_range(struct storage *s, uint32_t partition, bool serial, uint64_t length,
			  uint64_t min_tid, uint64_t max_tid, uint64_t min_oid,
			  struct range_result *out)
{
	struct digest d = { 0 };

	memset(out, 0, sizeof *out);
	out->serial = serial;
	d.tids = EVP_MD_CTX_new();
	d.oids = EVP_MD_CTX_new();
	if (d.tids && d.oids && EVP_DigestInit_ex(d.tids, EVP_sha1(), NULL)
	    && EVP_DigestInit_ex(d.oids, EVP_sha1(), NULL)) {
		if (serial)
			s->be->obj_range(s->db, partition, min_tid, min_oid, max_tid, length,
					 digest_serial, &d);
		else
			s->be->tid_range(s->db, partition, min_tid, max_tid, length, digest_tid, &d);
		out->count = (int64_t)d.count;
		/* As upstream: no record gives zero digests and ids. */
		if (d.count) {
			EVP_DigestFinal_ex(d.tids, out->tid_digest, NULL);
			if (serial)
				EVP_DigestFinal_ex(d.oids, out->oid_digest, NULL);
			out->max_tid = d.last_tid;
			out->max_oid = d.last_oid;
		}
	}
	EVP_MD_CTX_free(d.tids);
	EVP_MD_CTX_free(d.oids);
}

/* Answers CheckingError unless partition is readable here. */
static bool refuse_unreadable(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
			      int64_t partition)
{
	if (partition >= 0 && storage_readable(s, (uint32_t)partition))
		return false;
	storage_send_error(conn, msg_id, NEO_ERROR_CHECKING_ERROR,
			   "partition %" PRId64 " not readable", partition);
	return true;
}

void storage_check_tid_range(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_check_tid_range *ask = pkt->args;
	struct neo_answer_check_tid_range answer;
	struct range_result r;

	if (refuse_unreadable(s, conn, pkt->msg_id, ask->partition))
		return;
	compute_range(s, (uint32_t)ask->partition, false, (uint64_t)ask->length, ask->min_tid,
		      ask->max_tid, 0, &r);
	answer.count = r.count;
	answer.checksum = (struct neo_bin){ r.tid_digest, 20 };
	answer.max_tid = r.max_tid;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_CHECK_TID_RANGE, &answer);
}

void storage_check_serial_range(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	const struct neo_ask_check_serial_range *ask = pkt->args;
	struct neo_answer_check_serial_range answer;
	struct range_result r;

	if (refuse_unreadable(s, conn, pkt->msg_id, ask->partition))
		return;
	compute_range(s, (uint32_t)ask->partition, true, (uint64_t)ask->length, ask->min_tid,
		      ask->max_tid, ask->min_oid, &r);
	answer.count = r.count;
	answer.tid_checksum = (struct neo_bin){ r.tid_digest, 20 };
	answer.max_tid = r.max_tid;
	answer.oid_checksum = (struct neo_bin){ r.oid_digest, 20 };
	answer.max_oid = r.max_oid;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_CHECK_SERIAL_RANGE, &answer);
}

/* --- The checking node ------------------------------------------------------ */

#define CHECK_PEERS 16

struct check_peer {
	int32_t nid;			/* 0: the upstream cluster's cell */
	struct neo_conn *conn;		/* NULL while awaiting */
	bool ready, answered, differs;
	bool awaiting;			/* refused ours: waits for the peer's own */
	int64_t msg_id;			/* of the range request in flight */
	struct range_result result;
};

struct check_order {
	uint32_t partition;
	uint64_t min_tid, max_tid;
	/* backup mode, as upstream: the reference is a cell of the upstream
	 * cluster `upstream_name` at `upstream` */
	bool has_upstream;
	struct neo_address upstream;
	char upstream_name[128];
	struct check_order *next;
};

struct checker {
	bool local_differs;		/* from the upstream reference */
	struct check_order *queue;
	struct check_order *current;
	struct check_peer peers[CHECK_PEERS];
	uint32_t peer_count;
	bool serial_phase;
	uint64_t next_tid, next_oid;
	struct range_result local;
	struct event *await_timer;	/* limits awaiting peers' connections */
};

#define AWAIT_PEER_SECONDS 10

static void check_next(struct storage *s);
static void check_round(struct storage *s);

static struct check_peer *peer_of(struct checker *c, struct neo_conn *conn)
{
	for (uint32_t i = 0; i < c->peer_count; i++)
		if (c->peers[i].conn == conn)
			return &c->peers[i];
	return NULL;
}

static bool same_result(const struct range_result *a, const struct range_result *b)
{
	return a->count == b->count && a->max_tid == b->max_tid
	       && memcmp(a->tid_digest, b->tid_digest, 20) == 0
	       && (!a->serial || (a->max_oid == b->max_oid
				  && memcmp(a->oid_digest, b->oid_digest, 20) == 0));
}

static void check_finish(struct storage *s, bool corrupted)
{
	struct checker *c = s->checker;
	struct check_order *order = c->current;

	if (!corrupted)
		neo_log(NEO_LOG_INFO, "partition %u checked from %016" PRIx64 " to %016" PRIx64
			": replicas are equal", order->partition, order->min_tid, order->max_tid);
	/* as upstream: the connections stay (each is the one between us and
	 * that peer, which may be using it too); a late answer on one is
	 * told apart by its msg_id */
	{
		int32_t nids[CHECK_PEERS];
		uint32_t count = c->peer_count;

		for (uint32_t i = 0; i < count; i++) {
			nids[i] = c->peers[i].nid;
			/* ours alone: the upstream cell's goes */
			if (nids[i] == 0 && c->peers[i].conn) {
				struct neo_conn *conn = c->peers[i].conn;

				c->peers[i].conn = NULL;	/* not this check's any more */
				neo_conn_close(conn, "check done");
			}
		}
		c->peer_count = 0;
		c->current = NULL;
		neo_free(order);
		/* a connection the peer opened to us at the same time as ours */
		for (uint32_t i = 0; i < count; i++)
			if (nids[i])
				storage_peers_prune(s, nids[i]);
	}
	check_next(s);
}

static void report_corrupted(struct storage *s)
{
	struct checker *c = s->checker;
	struct neo_notify_partition_corrupted bad = { .partition = c->current->partition };
	int64_t nids[CHECK_PEERS + 1];
	char name[16];

	if (c->local_differs) {
		nids[bad.uuids.count++] = s->nid;
		neo_log(NEO_LOG_ERROR, "partition %u differs here from the upstream cluster",
			c->current->partition);
	}
	for (uint32_t i = 0; i < c->peer_count && bad.uuids.count < CHECK_PEERS; i++)
		if (c->peers[i].differs && c->peers[i].nid) {
			nids[bad.uuids.count++] = c->peers[i].nid;
			neo_log(NEO_LOG_ERROR, "partition %u differs on %s", c->current->partition,
				neo_nid_format(c->peers[i].nid, name, sizeof name));
		}
	bad.uuids.items = nids;
	if (s->master_conn)
		neo_conn_notify(s->master_conn, NEO_NOTIFY_PARTITION_CORRUPTED, &bad);
}

static void check_answers_in(struct storage *s)
{
	struct checker *c = s->checker;
	bool corrupted = false;

	const struct range_result *reference = &c->local;

	for (uint32_t i = 0; i < c->peer_count; i++) {
		if (!c->peers[i].answered)
			return;
		if (c->peers[i].nid == 0)
			reference = &c->peers[i].result;	/* as upstream: the source */
	}
	c->local_differs = reference != &c->local && !same_result(reference, &c->local);
	corrupted = c->local_differs;
	for (uint32_t i = 0; i < c->peer_count; i++)
		if (&c->peers[i].result != reference && !same_result(&c->peers[i].result, reference))
			corrupted = c->peers[i].differs = true;
	if (corrupted) {
		report_corrupted(s);
		check_finish(s, true);
		return;
	}
	if (!c->serial_phase) {
		if (c->local.count < CHECK_COUNT) {
			c->serial_phase = true;
			c->next_tid = c->current->min_tid;
			c->next_oid = 0;
		} else {
			c->next_tid = c->local.max_tid + 1;
		}
	} else {
		if (c->local.count < CHECK_COUNT) {
			check_finish(s, false);
			return;
		}
		c->next_tid = c->local.max_tid;
		c->next_oid = c->local.max_oid + 1;
	}
	check_round(s);
}

static void range_answered(struct neo_conn *conn, enum neo_ask_status status,
			   struct neo_packet *answer, void *arg)
{
	struct storage *s = arg;
	struct checker *c = s->checker;
	struct check_peer *peer = c ? peer_of(c, conn) : NULL;

	if (peer == NULL || c->current == NULL || peer->answered)
		return;
	if (status == NEO_ASK_ANSWERED && (int64_t)answer->msg_id != peer->msg_id)
		return;		/* for a check that ended before */
	if (status != NEO_ASK_ANSWERED) {
		neo_log(NEO_LOG_WARNING, "check of partition %u aborted: a peer went away",
			c->current->partition);
		check_finish(s, true);
		return;
	}
	memset(&peer->result, 0, sizeof peer->result);
	if (answer->code == NEO_ANSWER_CHECK_TID_RANGE) {
		const struct neo_answer_check_tid_range *a = answer->args;

		peer->result.count = a->count;
		if (a->checksum.size == 20)
			memcpy(peer->result.tid_digest, a->checksum.data, 20);
		peer->result.max_tid = a->max_tid;
	} else if (answer->code == NEO_ANSWER_CHECK_SERIAL_RANGE) {
		const struct neo_answer_check_serial_range *a = answer->args;

		peer->result.serial = true;
		peer->result.count = a->count;
		if (a->tid_checksum.size == 20)
			memcpy(peer->result.tid_digest, a->tid_checksum.data, 20);
		if (a->oid_checksum.size == 20)
			memcpy(peer->result.oid_digest, a->oid_checksum.data, 20);
		peer->result.max_tid = a->max_tid;
		peer->result.max_oid = a->max_oid;
	} else {
		peer->result.count = -1;	/* an error: differs */
	}
	peer->answered = true;
	check_answers_in(s);
}

static void check_round(struct storage *s)
{
	struct checker *c = s->checker;
	struct check_order *order = c->current;

	for (uint32_t i = 0; i < c->peer_count; i++)
		if (!c->peers[i].ready)
			return;
	compute_range(s, order->partition, c->serial_phase, CHECK_COUNT, c->next_tid,
		      order->max_tid, c->next_oid, &c->local);
	for (uint32_t i = 0; i < c->peer_count; i++) {
		c->peers[i].answered = false;
		if (c->serial_phase) {
			struct neo_ask_check_serial_range ask = { order->partition, CHECK_COUNT,
								  c->next_tid, order->max_tid,
								  c->next_oid };

			c->peers[i].msg_id = neo_conn_ask(c->peers[i].conn,
							  NEO_ASK_CHECK_SERIAL_RANGE, &ask, 0,
							  range_answered, s);
		} else {
			struct neo_ask_check_tid_range ask = { order->partition, CHECK_COUNT,
							       c->next_tid, order->max_tid };

			c->peers[i].msg_id = neo_conn_ask(c->peers[i].conn,
							  NEO_ASK_CHECK_TID_RANGE, &ask, 0,
							  range_answered, s);
		}
	}
	if (c->peer_count == 0)
		check_finish(s, false);
}

/* storage/peers.c: our connection to a peer identified (or was refused). */
void storage_check_peer_identified(struct storage *s, struct neo_conn *conn, bool accepted)
{
	struct checker *c = s->checker;
	struct check_peer *peer = c && c->current ? peer_of(c, conn) : NULL;

	if (peer == NULL || peer->ready)
		return;
	if (!accepted) {
		neo_log(NEO_LOG_WARNING, "check of partition %u aborted: %s refused us",
			c->current->partition, neo_conn_peer(conn));
		check_finish(s, true);
		return;
	}
	peer->ready = true;
	check_round(s);
}

bool storage_check_release(struct storage *s, struct neo_conn *conn, struct neo_conn *instead)
{
	struct checker *c = s->checker;
	struct check_peer *peer = c && c->current ? peer_of(c, conn) : NULL;

	if (peer == NULL)
		return true;
	if (peer->ready)
		return false;	/* its requests go over conn */
	peer->conn = instead;
	peer->ready = true;
	check_round(s);
	return true;
}

static void await_expired(evutil_socket_t fd, short what, void *arg)
{
	struct storage *s = arg;
	struct checker *c = s->checker;

	(void)fd;
	(void)what;
	if (c == NULL || c->current == NULL)
		return;
	for (uint32_t i = 0; i < c->peer_count; i++)
		if (c->peers[i].awaiting) {
			neo_log(NEO_LOG_WARNING, "check of partition %u aborted: a peer refused our "
				"connection and did not use its own", c->current->partition);
			check_finish(s, true);
			return;
		}
}

/*
 * As upstream's storages do when two of them connect to each other at
 * once (Node.setConnection): the one with the greater id refuses the
 * other's connection, "already connected", and keeps its own, which we
 * accept (peers.c).  A check whose connection was refused that way waits
 * a while for the peer's, instead of giving up.
 */
bool storage_check_await_peer(struct storage *s, struct neo_conn *conn)
{
	struct checker *c = s->checker;
	struct check_peer *peer = c && c->current ? peer_of(c, conn) : NULL;
	struct timeval limit = { AWAIT_PEER_SECONDS, 0 };

	if (peer == NULL || peer->ready)
		return false;
	if (c->await_timer == NULL
	    && (c->await_timer = evtimer_new(s->base, await_expired, s)) == NULL)
		return false;
	peer->conn = NULL;
	peer->awaiting = true;
	evtimer_add(c->await_timer, &limit);
	/* it may have come already */
	storage_check_peer_arrived(s, peer->nid, storage_peer_storage_conn(s, peer->nid));
	return true;
}

void storage_check_peer_arrived(struct storage *s, int32_t nid, struct neo_conn *conn)
{
	struct checker *c = s->checker;

	if (c == NULL || c->current == NULL || conn == NULL)
		return;
	for (uint32_t i = 0; i < c->peer_count; i++)
		if (c->peers[i].awaiting && c->peers[i].nid == nid) {
			c->peers[i].awaiting = false;
			c->peers[i].conn = conn;
			c->peers[i].ready = true;
			neo_log(NEO_LOG_INFO, "check of partition %u goes on over the peer's "
				"connection", c->current->partition);
			check_round(s);
			return;
		}
}

/* storage/peers.c: a connection to or from a storage ended; if a peer of
 * the check in progress was on it, the check cannot go on. */
void storage_check_conn_closed(struct storage *s, struct neo_conn *conn, const char *reason)
{
	struct checker *c = s->checker;
	struct check_peer *peer = c && c->current ? peer_of(c, conn) : NULL;

	if (peer == NULL)
		return;
	peer->conn = NULL;
	neo_log(NEO_LOG_WARNING, "check of partition %u aborted: %s", c->current->partition,
		reason);
	check_finish(s, true);
}

static void check_next(struct storage *s)
{
	struct checker *c = s->checker;
	char err[256];

	while (c->current == NULL && c->queue) {
		struct check_order *order = c->queue;
		const struct neo_pt_cells *row;

		c->queue = order->next;
		c->current = order;
		c->serial_phase = false;
		c->next_tid = order->min_tid;
		c->next_oid = 0;
		c->peer_count = 0;
		if (order->partition >= s->pt.num_partitions || !storage_readable(s, order->partition)) {
			check_finish(s, true);
			continue;
		}
		row = &s->pt.rows[order->partition];
		for (uint32_t i = 0; i < row->count && c->peer_count < CHECK_PEERS; i++) {
			struct neo_node *node = neo_nodes_by_nid(&s->nodes, row->cells[i].nid);
			struct check_peer *peer = &c->peers[c->peer_count];

			if (row->cells[i].nid == s->nid || !neo_cell_readable(row->cells[i].state)
			    || node == NULL || !node->has_address)
				continue;
			memset(peer, 0, sizeof *peer);
			peer->nid = node->nid;
			peer->msg_id = -1;
			c->peer_count++;
			/* as upstream (checker.py): the connection between us and
			 * that storage, whichever side opened it; else a new one,
			 * which then stays as that connection */
			peer->conn = storage_peer_storage_any(s, node->nid, &peer->ready);
			if (peer->conn == NULL)
				peer->conn = storage_peer_connect(s, node, err, sizeof err);
			if (peer->conn == NULL)
				neo_log(NEO_LOG_WARNING, "check: cannot connect to %s:%u: %s",
					node->address.host, node->address.port, err);
		}
		if (order->has_upstream && c->peer_count < CHECK_PEERS) {
			struct check_peer *peer = &c->peers[c->peer_count++];

			memset(peer, 0, sizeof *peer);
			peer->msg_id = -1;
			peer->conn = storage_peer_connect_upstream(s, &order->upstream,
								   order->upstream_name, err,
								   sizeof err);
			if (peer->conn == NULL)
				neo_log(NEO_LOG_WARNING, "check: cannot connect to %s:%u: %s",
					order->upstream.host, order->upstream.port, err);
		}
		c->local_differs = false;
		neo_log(NEO_LOG_INFO, "checking partition %u against %u replica(s)", order->partition,
			c->peer_count);
		if (c->peer_count == 0) {
			check_finish(s, false);	/* goes on with the next order */
			return;
		}
		{
			bool lost = false;

			for (uint32_t i = 0; i < c->peer_count; i++)
				lost |= c->peers[i].conn == NULL;
			if (lost) {
				check_finish(s, true);	/* goes on with the next order */
				return;
			}
		}
		check_round(s);
		return;
	}
}

void storage_check_partition(struct storage *s, struct neo_packet *pkt)
{
	const struct neo_check_partition *req = pkt->args;
	struct check_order *order, **tail;

	if (s->checker == NULL && (s->checker = neo_calloc(1, sizeof *s->checker)) == NULL)
		return;
	order = neo_calloc(1, sizeof *order);
	if (order == NULL || req->partition < 0)
		return neo_free(order);
	order->partition = (uint32_t)req->partition;
	order->min_tid = req->min_tid;
	order->max_tid = req->max_tid;
	/* as upstream: (name, address), a name for the upstream cluster's */
	if (req->source.name.size && req->source.name.size < sizeof order->upstream_name
	    && req->source.address.has
	    && neo_address_from_wire(&req->source.address.v, &order->upstream)) {
		order->has_upstream = true;
		memcpy(order->upstream_name, req->source.name.data, req->source.name.size);
	}
	for (tail = &s->checker->queue; *tail; tail = &(*tail)->next)
		;
	*tail = order;
	check_next(s);
}

void storage_check_stop(struct storage *s)
{
	struct checker *c = s->checker;

	if (c == NULL)
		return;
	s->checker = NULL;	/* its connections are the peers' (peers.c) */
	while (c->queue) {
		struct check_order *next = c->queue->next;

		neo_free(c->queue);
		c->queue = next;
	}
	neo_free(c->current);
	if (c->await_timer)
		event_free(c->await_timer);
	neo_free(c);
}
