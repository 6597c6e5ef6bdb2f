/*
 * test_mixed.c - what our nodes send where upstream's would be their peers
 * (issue 16: mixed clusters), checked packet by packet:
 *
 *   - A real neostorage under a fake master (this test, on 127.0.0.1):
 *     its identification to the master carries the extra upstream's
 *     storages send ({"devpath": [host, device], "new_nid": []}); told by
 *     the node list that its id_timestamp is T, it identifies to another
 *     storage (a fake peer: replication of an OUT_OF_DATE cell, then a
 *     replica check) as upstream's does: STORAGE, its id, its address,
 *     the cluster name, id_timestamp T (not nil: an upstream peer fails
 *     on nil), and an empty extra.
 *   - The same storage and fake master, and a fake upstream-like peer
 *     that connects to our storage first: the replica check the master
 *     then orders goes over that peer's connection (AskCheckTIDRange,
 *     AskCheckSerialRange; upstream's storage refuses a second connection
 *     between two storages, "already connected"), no connection is made
 *     to the peer's address, and ours stays open once the check ended.
 *   - The same, the fake peer refusing the check's connection "already
 *     connected" and opening its own a moment later, as upstream's
 *     storage with the greater id does when both connect at once: the
 *     check waits for the peer's connection and goes on over it.
 *   - The same storage and fake master, and peers identifying with ids
 *     the master's node list does not name as they do: an older
 *     id_timestamp (or an unknown id) is refused NOT_READY at once, a
 *     newer one is held until the master's next list names it, then
 *     accepted (as upstream's NodeManager.getByUUID).
 *   - A real neomaster, with raw client connections: a client that
 *     identified with {"read_only": true} (as upstream's read-only
 *     client), or with a backup key, gets READ_ONLY_ACCESS for begin, new
 *     oids and final tid, and is still answered what reads need; a
 *     client without them may begin.
 *   - A real neostorage serving replication to this test (as an upstream
 *     replicator): AddTransaction and AddObject come with the msg_id of
 *     the AskFetchTransactions / AskFetchObjects they belong to, without
 *     which an upstream replicator drops them.  After a pack, the pack
 *     transaction's AddTransaction carries its pack order, and an
 *     AskFetchTransactions asking for pack info is answered the partition's
 *     completed pack (a later chunk, not asking, none), as upstream's.
 *   - A real neomaster and a storage that asked AskUnfinishedTransactions
 *     (this test): it hears NotifyTransactionFinished for the transaction
 *     that was unfinished then, and not for one begun afterwards (an
 *     upstream storage stops on that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster/nid.h"
#include "cluster/nodes.h"
#include "cluster/tid.h"
#include "cluster_util.h"
#include "net/conn.h"
#include "proto/packets.h"
#include "tap.h"

#define ID_TIMESTAMP 1795566137.0124457	/* as a master's clock gives them */
#define PEER_ID_TIMESTAMP 1795566138.5

/* One RequestIdentification as received, copied out of the packet. */
struct captured {
	bool seen;
	enum neo_node_type type;
	bool has_uuid;
	int64_t uuid;
	bool has_address;
	char host[64];
	int64_t port;
	char cluster[64];
	bool has_id_timestamp;
	double id_timestamp;
	uint32_t extra_count;
	char extra_keys[4][16];
	msgpack_object_type extra_types[4];
	uint32_t extra_sizes[4];	/* arrays: their length */
	char devpath[2][256];
	msgpack_object_type devpath_types[2];
};

struct fake {
	struct event_base *base;
	struct test_cluster *tc;
	struct captured master_ident;
	struct captured peer_idents[2];
	unsigned peer_ident_count;
	bool ready;			/* NotifyReady from the storage */
	bool asked_pack_orders;
	uint64_t pack_orders_from;	/* AskPackOrders' min_completed_id */
	bool check_sent;
	/* check_over_peer_connection: the fake peer connects first */
	bool peer_first;
	/* known_by_master: peers identify with ids the master may not know */
	bool probe_ids;
	/* check_refused_already_connected: the fake peer refuses ours as
	 * upstream's does when it connected to us at the same time */
	bool refuse_already;
	unsigned refusals;
	struct neo_conn *master_conn, *peer_conn;
	bool peer_accepted, peer_closed, corrupted;
	unsigned peer_accepts, tid_asks, serial_asks;
};

static void settle(struct event_base *base);

static void copy_bin(char *out, size_t size, const void *data, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(out, data, len);
	out[len] = '\0';
}

static void capture(struct captured *c, const struct neo_request_identification *req)
{
	memset(c, 0, sizeof *c);
	c->seen = true;
	c->type = req->node_type;
	c->has_uuid = req->uuid.has;
	c->uuid = req->uuid.v;
	c->has_address = req->address.has;
	if (req->address.has) {
		copy_bin(c->host, sizeof c->host, req->address.v.host.data, req->address.v.host.size);
		c->port = req->address.v.port;
	}
	copy_bin(c->cluster, sizeof c->cluster, req->cluster_name.data, req->cluster_name.size);
	c->has_id_timestamp = req->id_timestamp.has;
	c->id_timestamp = req->id_timestamp.v;
	c->extra_count = req->extra.count;
	for (uint32_t i = 0; i < req->extra.count && i < 4; i++) {
		const msgpack_object *value = &req->extra.values[i];

		copy_bin(c->extra_keys[i], sizeof c->extra_keys[i], req->extra.keys[i].data,
			 req->extra.keys[i].size);
		c->extra_types[i] = value->type;
		if (value->type != MSGPACK_OBJECT_ARRAY)
			continue;
		c->extra_sizes[i] = value->via.array.size;
		if (strcmp(c->extra_keys[i], "devpath") != 0)
			continue;
		for (uint32_t k = 0; k < value->via.array.size && k < 2; k++) {
			const msgpack_object *item = &value->via.array.ptr[k];

			c->devpath_types[k] = item->type;
			if (item->type == MSGPACK_OBJECT_BIN)
				copy_bin(c->devpath[k], sizeof c->devpath[k], item->via.bin.ptr,
					 item->via.bin.size);
		}
	}
}

static struct neo_wire_address wire_address(const char *host, int port)
{
	struct neo_wire_address w = { neo_bin_str(host), port };

	return w;
}

/* What upstream's master sends a storage it accepted in a RUNNING cluster:
 * the node list (its own entry with its id_timestamp), the table, the
 * cluster state, then StartOperation. */
static void welcome_storage(struct fake *f, struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_accept_identification accept = {
		.node_type = NEO_NODE_MASTER,
		.my_uuid = { true, neo_nid_make(NEO_NODE_MASTER, 1) },
		.your_uuid = { true, neo_nid_make(NEO_NODE_STORAGE, 1) },
	};
	struct neo_node_info nodes[3] = {
		{ .type = NEO_NODE_STORAGE,
		  .address = { true, wire_address("127.0.0.1", f->tc->storage_ports[0]) },
		  .uuid = { true, neo_nid_make(NEO_NODE_STORAGE, 1) }, .state = NEO_NODE_RUNNING,
		  .id_timestamp = { true, ID_TIMESTAMP } },
		{ .type = NEO_NODE_STORAGE,
		  .address = { true, wire_address("127.0.0.1", f->tc->storage_ports[1]) },
		  .uuid = { true, neo_nid_make(NEO_NODE_STORAGE, 2) }, .state = NEO_NODE_RUNNING,
		  .id_timestamp = { true, PEER_ID_TIMESTAMP } },
		{ .type = NEO_NODE_MASTER,
		  .address = { true, wire_address("127.0.0.1", f->tc->master_ports[0]) },
		  .uuid = { true, neo_nid_make(NEO_NODE_MASTER, 1) }, .state = NEO_NODE_RUNNING },
	};
	struct neo_notify_node_information info = { .timestamp = PEER_ID_TIMESTAMP + 1,
						    .nodes = { nodes, 3 } };
	/* partition 0: both readable (checked); 1: ours to replicate */
	struct neo_cell row0[2] = { { neo_nid_make(NEO_NODE_STORAGE, 1), NEO_CELL_UP_TO_DATE },
				    { neo_nid_make(NEO_NODE_STORAGE, 2), NEO_CELL_UP_TO_DATE } };
	struct neo_cell row1[2] = { { neo_nid_make(NEO_NODE_STORAGE, 1), NEO_CELL_OUT_OF_DATE },
				    { neo_nid_make(NEO_NODE_STORAGE, 2), NEO_CELL_UP_TO_DATE } };
	struct neo_list_cell rows[2] = { { row0, 2 }, { row1, 2 } };

	if (f->peer_first || f->refuse_already)	/* nothing to replicate: only the check */
		row1[0].state = NEO_CELL_UP_TO_DATE;
	struct neo_send_partition_table pt = { .ptid = { true, 1 }, .num_replicas = 1,
					       .rows = { rows, 2 } };
	struct neo_notify_cluster_information state = { .state = NEO_CLUSTER_RUNNING };
	struct neo_start_operation start = { .backup = false };

	neo_conn_answer(conn, msg_id, NEO_ACCEPT_IDENTIFICATION, &accept);
	neo_conn_identified(conn);
	neo_conn_notify(conn, NEO_NOTIFY_NODE_INFORMATION, &info);
	neo_conn_notify(conn, NEO_SEND_PARTITION_TABLE, &pt);
	neo_conn_notify(conn, NEO_NOTIFY_CLUSTER_INFORMATION, &state);
	neo_conn_notify(conn, NEO_START_OPERATION, &start);
}

static void peer_connect(struct fake *f);
static void peer_connect_later(evutil_socket_t fd, short what, void *arg);
static void probes_start(struct fake *f);

static void master_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct fake *f = arg;

	switch (pkt->code) {
	case NEO_REQUEST_IDENTIFICATION:
		capture(&f->master_ident, pkt->args);
		welcome_storage(f, conn, pkt->msg_id);
		break;
	case NEO_ASK_UNFINISHED_TRANSACTIONS: {
		struct neo_answer_unfinished_transactions none = { .max_tid = neo_tid_from_time(ID_TIMESTAMP) };

		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_UNFINISHED_TRANSACTIONS, &none);
		break;
	}
	case NEO_NOTIFY_PARTITION_CORRUPTED:
		f->corrupted = true;
		break;
	case NEO_ASK_PACK_ORDERS: {
		struct neo_answer_pack_orders none = { 0 };

		f->asked_pack_orders = true;
		f->pack_orders_from = ((const struct neo_ask_pack_orders *)pkt->args)->min_completed_id;
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PACK_ORDERS, &none);
		break;
	}
	case NEO_NOTIFY_READY: {
		struct neo_check_partition check = {
			.partition = 0,
			.source = { .name = neo_bin_str(f->tc->name) },
			.min_tid = 0,
			.max_tid = NEO_MAX_TID,
		};

		f->ready = true;
		f->master_conn = conn;
		if (f->probe_ids) {
			probes_start(f);
			break;
		}
		if (f->peer_first) {
			peer_connect(f);	/* the check is ordered once it is in */
			break;
		}
		/* as upstream's master for neoctl check: the replica check of
		 * partition 0 against the other readable cell */
		if (neo_conn_notify(conn, NEO_CHECK_PARTITION, &check) == 0)
			f->check_sent = true;
		break;
	}
	default:
		break;
	}
}

static void peer_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct fake *f = arg;

	if (pkt->code != NEO_REQUEST_IDENTIFICATION)
		return;
	if (f->refuse_already) {
		static const struct timeval later = { 0, 300000 };

		/* as upstream's Node.setConnection for the greater id */
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "already connected");
		neo_conn_close(conn, "already connected");
		if (f->refusals++ == 0)	/* its own connection, a moment later */
			event_base_once(f->base, -1, EV_TIMEOUT, peer_connect_later, f, &later);
		return;
	}
	if (f->peer_ident_count < 2)
		capture(&f->peer_idents[f->peer_ident_count++], pkt->args);
	/* not ready: the storage retries later, which this test does not need */
	neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "fake peer");
	neo_conn_close(conn, "fake peer");
	if (f->peer_ident_count == 2)
		event_base_loopbreak(f->base);
}

static void ignore_close(struct neo_conn *conn, const char *reason, void *arg)
{
	(void)conn;
	(void)reason;
	(void)arg;
}

static const struct neo_conn_callbacks master_callbacks = { .on_packet = master_packet,
							    .on_close = ignore_close };
static const struct neo_conn_callbacks peer_callbacks = { .on_packet = peer_packet,
							  .on_close = ignore_close };

static void master_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg)
{
	(void)listener;
	neo_conn_set_callbacks(conn, &master_callbacks, arg);
}

static void peer_accept(struct neo_listener *listener, struct neo_conn *conn, void *arg)
{
	struct fake *f = arg;

	(void)listener;
	f->peer_accepts++;
	neo_conn_set_callbacks(conn, &peer_callbacks, arg);
}

/* --- A fake upstream-like peer that connects to our storage first --------- */

static void peer_out_identified(struct neo_conn *conn, enum neo_ask_status status,
				struct neo_packet *answer, void *arg)
{
	struct fake *f = arg;
	struct neo_check_partition check = { .partition = 0, .min_tid = 0,
					     .max_tid = NEO_MAX_TID };

	(void)conn;
	f->peer_accepted = status == NEO_ASK_ANSWERED && answer->code == NEO_ACCEPT_IDENTIFICATION;
	if (!f->peer_accepted) {
		event_base_loopbreak(f->base);
		return;
	}
	if (f->refuse_already)
		return;		/* the check was ordered before */
	/* as upstream's master for neoctl check: partition 0, no source */
	if (f->master_conn && neo_conn_notify(f->master_conn, NEO_CHECK_PARTITION, &check) == 0)
		f->check_sent = true;
}

static void peer_out_ready(struct neo_conn *conn, void *arg)
{
	struct fake *f = arg;
	struct neo_request_identification ident;
	struct neo_address addr = { .port = (uint16_t)f->tc->storage_ports[1] };

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	/* as upstream's storage S2: its id, address and id_timestamp */
	neo_identification_init(&ident, NEO_NODE_STORAGE, neo_nid_make(NEO_NODE_STORAGE, 2), &addr,
				f->tc->name);
	ident.id_timestamp.has = true;
	ident.id_timestamp.v = PEER_ID_TIMESTAMP;
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &ident, 5000, peer_out_identified, f);
}

/* Answers the ranges of an empty partition, as our storage has: a
 * count of 0, zero digests and ids (as upstream). */
static void peer_out_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	static uint8_t zero[20];
	struct fake *f = arg;

	if (pkt->code == NEO_ASK_CHECK_TID_RANGE) {
		struct neo_answer_check_tid_range none = { .count = 0,
							   .checksum = { zero, 20 } };

		f->tid_asks++;
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_CHECK_TID_RANGE, &none);
	} else if (pkt->code == NEO_ASK_CHECK_SERIAL_RANGE) {
		struct neo_answer_check_serial_range none = { .count = 0,
							      .tid_checksum = { zero, 20 },
							      .oid_checksum = { zero, 20 } };
		struct timeval after = { 1, 500000 };

		f->serial_asks++;
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_CHECK_SERIAL_RANGE, &none);
		/* the check ends there: is the connection left open? */
		event_base_loopexit(f->base, &after);
	}
}

static void peer_out_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct fake *f = arg;

	(void)conn;
	tap_diag("the storage closed the peer's connection: %s", reason);
	f->peer_closed = true;
	f->peer_conn = NULL;
}

static const struct neo_conn_callbacks peer_out_callbacks = { .on_ready = peer_out_ready,
	.on_packet = peer_out_packet, .on_close = peer_out_closed };

static void peer_connect(struct fake *f)
{
	struct neo_address addr = { .port = (uint16_t)f->tc->storage_ports[0] };
	char err[256];

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	f->peer_conn = neo_conn_connect(f->base, &addr, NULL, &peer_out_callbacks, f, err,
					sizeof err);
	if (f->peer_conn == NULL)
		tap_diag("cannot connect to the storage: %s", err);
}

static void peer_connect_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	peer_connect(arg);
}

static struct neo_listener *listen_on(struct event_base *base, int port, neo_accept_cb cb,
				      void *arg)
{
	struct neo_address addr = { .port = (uint16_t)port };
	char err[256];
	struct neo_listener *l;

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	l = neo_listener_new(base, &addr, NULL, cb, arg, err, sizeof err);
	if (l == NULL)
		tap_diag("cannot listen on %d: %s", port, err);
	return l;
}

/* A real neostorage under the fake master (and, with_peer, a fake peer
 * listening at the second storage's port): the loop runs until the test
 * breaks it, 20 s at most.  False when a listener could not be made. */
static bool fake_run(struct fake *f, struct test_cluster *tc, const char *name, bool with_peer,
		     struct neo_listener **master, struct neo_listener **peer)
{
	struct timeval limit = { 20, 0 };

	cluster_init(tc, name, 2, 1, 2, 1);
	f->base = event_base_new();
	f->tc = tc;
	*master = listen_on(f->base, tc->master_ports[0], master_accept, f);
	*peer = with_peer ? listen_on(f->base, tc->storage_ports[1], peer_accept, f) : NULL;
	if (*master == NULL || (with_peer && *peer == NULL)) {
		tap_ok(false, "fake master%s listen", with_peer ? " and fake peer" : "");
		return false;
	}
	cluster_start_storage(tc, 0);
	event_base_loopexit(f->base, &limit);
	event_base_dispatch(f->base);
	return true;
}

static void fake_end(struct fake *f, struct test_cluster *tc, struct neo_listener *master,
		     struct neo_listener *peer)
{
	if (f->peer_conn)
		neo_conn_abort(f->peer_conn, "done");
	cluster_stop(tc);
	neo_listener_free(master);
	if (peer)
		neo_listener_free(peer);
	settle(f->base);
	event_base_free(f->base);
}

static void check_storage_to_storage(const struct captured *c, const struct test_cluster *tc,
				     const char *what)
{
	tap_ok(c->seen && c->type == NEO_NODE_STORAGE && c->has_uuid
	       && c->uuid == neo_nid_make(NEO_NODE_STORAGE, 1),
	       "%s: identifies as STORAGE with its id S1", what);
	tap_ok(c->has_address && strcmp(c->host, "127.0.0.1") == 0
	       && c->port == tc->storage_ports[0], "%s: with its listening address", what);
	tap_ok(strcmp(c->cluster, tc->name) == 0, "%s: with the cluster name", what);
	tap_ok(c->has_id_timestamp && c->id_timestamp == ID_TIMESTAMP,
	       "%s: with the id_timestamp the master gave it (not nil), as upstream", what);
	tap_ok(c->extra_count == 0, "%s: with an empty extra, as upstream", what);
}

static void storage_identifications(void)
{
	struct test_cluster tc;
	struct fake f = { 0 };
	struct neo_listener *master, *peer;
	char host[256] = "";

	if (!fake_run(&f, &tc, "mixedid", true, &master, &peer))
		return;

	/* storage -> master: as upstream's BootstrapManager for a storage */
	tap_ok(f.master_ident.seen && f.master_ident.type == NEO_NODE_STORAGE
	       && !f.master_ident.has_uuid && f.master_ident.has_address
	       && f.master_ident.port == tc.storage_ports[0] && !f.master_ident.has_id_timestamp,
	       "to the master: STORAGE, no id yet, its address, no id_timestamp");
	gethostname(host, sizeof host);
	/* then ours, "gc" and "progress": true (core/proto/protocol.md
	 * section 9), which an upstream master keeps unread */
	tap_ok(f.master_ident.extra_count == 4
	       && strcmp(f.master_ident.extra_keys[0], "devpath") == 0
	       && strcmp(f.master_ident.extra_keys[1], "new_nid") == 0
	       && strcmp(f.master_ident.extra_keys[2], "gc") == 0
	       && f.master_ident.extra_types[2] == MSGPACK_OBJECT_BOOLEAN
	       && strcmp(f.master_ident.extra_keys[3], "progress") == 0
	       && f.master_ident.extra_types[3] == MSGPACK_OBJECT_BOOLEAN,
	       "to the master: extra {devpath, new_nid}, in upstream's order, then our gc and "
	       "progress");
	tap_ok(f.master_ident.extra_types[0] == MSGPACK_OBJECT_ARRAY
	       && f.master_ident.extra_sizes[0] == 2
	       && f.master_ident.devpath_types[0] == MSGPACK_OBJECT_BIN
	       && f.master_ident.devpath_types[1] == MSGPACK_OBJECT_BIN
	       && strcmp(f.master_ident.devpath[0], host) == 0 && f.master_ident.devpath[1][0],
	       "to the master: devpath is [host name, device of the database file] as bytes "
	       "(%s, %s)", f.master_ident.devpath[0], f.master_ident.devpath[1]);
	tap_ok(f.master_ident.extra_types[1] == MSGPACK_OBJECT_ARRAY
	       && f.master_ident.extra_sizes[1] == 0, "to the master: new_nid is []");
	tap_ok(f.ready && f.check_sent, "the storage started operation (NotifyReady)");
	tap_ok(f.asked_pack_orders && f.pack_orders_from == 1,
	       "never packed, it asks the pack orders from 1, as upstream's (upstream's master "
	       "fails on 0): %llu", (unsigned long long)f.pack_orders_from);

	/* storage -> storage: replication (partition 1), replica check (0) */
	tap_ok(f.peer_ident_count == 2, "the storage connected twice to the fake peer "
	       "(replication and replica check): %u", f.peer_ident_count);
	check_storage_to_storage(&f.peer_idents[0], &tc, "to a storage (first)");
	check_storage_to_storage(&f.peer_idents[1], &tc, "to a storage (second)");

	fake_end(&f, &tc, master, peer);
}

/* An upstream storage (S2) connected to ours first; our storage's check
 * of partition 0 must use that connection. */
static void check_over_peer_connection(void)
{
	struct test_cluster tc;
	struct fake f = { .peer_first = true };
	struct neo_listener *master, *peer;

	if (!fake_run(&f, &tc, "mixedchk", true, &master, &peer))
		return;

	tap_ok(f.ready && f.peer_accepted && f.check_sent,
	       "the peer's identification (S2, its id_timestamp) is accepted, then the check "
	       "is ordered");
	tap_ok(f.tid_asks >= 1 && f.serial_asks >= 1,
	       "the check's AskCheckTIDRange (%u) and AskCheckSerialRange (%u) come over the "
	       "peer's connection", f.tid_asks, f.serial_asks);
	tap_ok(f.peer_accepts == 0 && f.peer_ident_count == 0,
	       "no second connection to the peer (%u)", f.peer_accepts);
	tap_ok(!f.peer_closed && f.peer_conn != NULL,
	       "the connection stays open after the check");
	tap_ok(!f.corrupted && cluster_log_has(&tc, "storage0.log", "replicas are equal", 2000),
	       "the check ends with the replicas equal");

	fake_end(&f, &tc, master, peer);
}

/* Our storage's check connects to S2 while S2 connects to us: S2 (the
 * greater id, as upstream) refuses ours "already connected"; the check
 * must go on over S2's connection once it is in, not abort. */
static void check_refused_already_connected(void)
{
	struct test_cluster tc;
	struct fake f = { .refuse_already = true };
	struct neo_listener *master, *peer;

	if (!fake_run(&f, &tc, "mixedalready", true, &master, &peer))
		return;

	tap_ok(f.check_sent && f.refusals == 1 && f.peer_accepted,
	       "the check's connection is refused \"already connected\" (%u), and the peer's "
	       "own is accepted", f.refusals);
	tap_ok(f.tid_asks >= 1 && f.serial_asks >= 1,
	       "the check goes on over the peer's connection (%u, %u)", f.tid_asks, f.serial_asks);
	tap_ok(!f.corrupted && cluster_log_has(&tc, "storage0.log", "replicas are equal", 2000)
	       && cluster_log_count(&tc, "storage0.log", "aborted") == 0,
	       "the check ends with the replicas equal, not aborted");

	fake_end(&f, &tc, master, peer);
}

/* --- Peers the master may not know (as upstream's getByUUID) -------------- */

#define NODE_LIST_TIMESTAMP (PEER_ID_TIMESTAMP + 1)	/* welcome_storage's list */

struct probe {
	struct fake *fake;
	const char *what;
	int32_t nid;
	double id_timestamp;
	struct neo_conn *conn;
	bool answered, accepted;
	int64_t error_code;
	bool answered_before_list;	/* before the second node list went out */
};

static struct probe probes[3];
static bool second_list_sent;

static void probe_identified(struct neo_conn *conn, enum neo_ask_status status,
			     struct neo_packet *answer, void *arg)
{
	struct probe *p = arg;

	(void)conn;
	p->answered = status == NEO_ASK_ANSWERED;
	p->accepted = p->answered && answer->code == NEO_ACCEPT_IDENTIFICATION;
	if (p->answered && answer->code == NEO_ERROR)
		p->error_code = ((const struct neo_error *)answer->args)->code;
	p->answered_before_list = !second_list_sent;
}

static void probe_ready(struct neo_conn *conn, void *arg)
{
	struct probe *p = arg;
	struct neo_request_identification ident;
	struct neo_address addr = { .port = 1 };

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	neo_identification_init(&ident, NEO_NODE_STORAGE, p->nid, &addr, p->fake->tc->name);
	ident.id_timestamp.has = true;
	ident.id_timestamp.v = p->id_timestamp;
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &ident, 10000, probe_identified, p);
}

static void probe_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct probe *p = arg;

	(void)conn;
	(void)reason;
	p->conn = NULL;
}

static const struct neo_conn_callbacks probe_callbacks = { .on_ready = probe_ready,
	.on_close = probe_closed };

/* The master's next list names S4 with the id_timestamp it came with. */
static void send_second_list(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	struct neo_node_info s4 = {
		.type = NEO_NODE_STORAGE,
		.address = { true, wire_address("127.0.0.1", 1) },
		.uuid = { true, neo_nid_make(NEO_NODE_STORAGE, 4) }, .state = NEO_NODE_RUNNING,
		.id_timestamp = { true, NODE_LIST_TIMESTAMP + 10 } };
	struct neo_notify_node_information info = { .timestamp = NODE_LIST_TIMESTAMP + 11,
						    .nodes = { &s4, 1 } };
	struct timeval after = { 1, 0 };

	(void)fd;
	(void)what;
	second_list_sent = true;
	neo_conn_notify(f->master_conn, NEO_NOTIFY_NODE_INFORMATION, &info);
	event_base_loopexit(f->base, &after);
}

static void probes_start(struct fake *f)
{
	static const struct timeval wait = { 1, 500000 };
	struct neo_address addr = { .port = (uint16_t)f->tc->storage_ports[0] };
	char err[256];

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	/* S2 with another id_timestamp than the list's, older than it: it
	 * lost the master; S3, unknown, older: the same; S4, newer than the
	 * list: the master's notification is on its way */
	probes[0] = (struct probe){ .fake = f, .what = "S2, stale id_timestamp",
				    .nid = neo_nid_make(NEO_NODE_STORAGE, 2),
				    .id_timestamp = PEER_ID_TIMESTAMP - 5 };
	probes[1] = (struct probe){ .fake = f, .what = "S3, unknown",
				    .nid = neo_nid_make(NEO_NODE_STORAGE, 3),
				    .id_timestamp = PEER_ID_TIMESTAMP };
	probes[2] = (struct probe){ .fake = f, .what = "S4, newer than the list",
				    .nid = neo_nid_make(NEO_NODE_STORAGE, 4),
				    .id_timestamp = NODE_LIST_TIMESTAMP + 10 };
	for (int i = 0; i < 3; i++) {
		probes[i].conn = neo_conn_connect(f->base, &addr, NULL, &probe_callbacks, &probes[i],
						  err, sizeof err);
		if (probes[i].conn == NULL)
			tap_diag("cannot connect to the storage: %s", err);
	}
	event_base_once(f->base, -1, EV_TIMEOUT, send_second_list, f, &wait);
}

static void known_by_master(void)
{
	struct test_cluster tc;
	struct fake f = { .probe_ids = true, .peer_first = true };
	struct neo_listener *master, *peer;

	if (!fake_run(&f, &tc, "mixedknown", false, &master, &peer))
		return;

	tap_ok(f.ready, "the storage started operation");
	for (int i = 0; i < 2; i++)
		tap_ok(probes[i].answered && !probes[i].accepted
		       && probes[i].error_code == NEO_ERROR_NOT_READY && probes[i].answered_before_list,
		       "%s: refused NOT_READY at once (unknown by master), as upstream", probes[i].what);
	tap_ok(probes[2].accepted && !probes[2].answered_before_list,
	       "%s: held, then accepted once the master's list names it, as upstream",
	       probes[2].what);
	tap_ok(cluster_log_has(&tc, "storage0.log", "unknown by master", 1000),
	       "the storage logs the refusal");

	for (int i = 0; i < 3; i++)
		if (probes[i].conn)
			neo_conn_abort(probes[i].conn, "done");
	fake_end(&f, &tc, master, peer);
}

/* --- Read-only clients at a real master ------------------------------------ */

struct session {
	struct event_base *base;
	struct neo_conn *conn;
	bool ready, closed, answered;
	uint16_t code;
	int64_t error_code;
	/* AddTransaction / AddObject received, and with which msg_ids */
	unsigned adds;
	uint32_t add_ids[64];
	/* AddTransaction carrying a pack order: how many, and the last one */
	unsigned pack_adds;
	uint64_t pack_add_tid;
	struct neo_pack_state pack;
	/* AnswerFetchTransactions' completed_pack */
	struct neo_opt_p64 completed_pack;
	/* NotifyTransactionFinished received, and the unfinished ttids */
	unsigned finished;
	uint64_t finished_ttids[16];
	uint32_t unfinished_count;
	uint64_t unfinished_ttid;
};

static void on_ready(struct neo_conn *conn, void *arg)
{
	struct session *s = arg;

	(void)conn;
	s->ready = true;
	event_base_loopbreak(s->base);
}

static void on_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct session *s = arg;

	(void)conn;
	if (pkt->code == NEO_NOTIFY_TRANSACTION_FINISHED) {
		if (s->finished < 16)
			s->finished_ttids[s->finished] =
				((const struct neo_notify_transaction_finished *)pkt->args)->ttid;
		s->finished++;
		return;
	}
	if (pkt->code != NEO_ADD_TRANSACTION && pkt->code != NEO_ADD_OBJECT)
		return;
	if (pkt->code == NEO_ADD_TRANSACTION
	    && ((const struct neo_add_transaction *)pkt->args)->pack.has) {
		const struct neo_add_transaction *add = pkt->args;

		s->pack_adds++;
		s->pack_add_tid = add->tid;
		s->pack = add->pack.v;
		s->pack.oids.v = (struct neo_list_p64){ 0 };	/* not kept */
	}
	if (s->adds < sizeof s->add_ids / sizeof s->add_ids[0])
		s->add_ids[s->adds] = pkt->msg_id;
	s->adds++;
}

static void on_close(struct neo_conn *conn, const char *reason, void *arg)
{
	struct session *s = arg;

	(void)conn;
	(void)reason;
	s->closed = true;
	event_base_loopbreak(s->base);
}

static const struct neo_conn_callbacks session_callbacks = { .on_ready = on_ready,
	.on_packet = on_packet, .on_close = on_close };

static void answered(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg)
{
	struct session *s = arg;

	(void)conn;
	s->answered = status == NEO_ASK_ANSWERED;
	s->code = s->answered ? answer->code : 0;
	if (s->answered && answer->code == NEO_ERROR)
		s->error_code = ((const struct neo_error *)answer->args)->code;
	if (s->answered && answer->code == NEO_ANSWER_UNFINISHED_TRANSACTIONS) {
		const struct neo_answer_unfinished_transactions *u = answer->args;

		s->unfinished_count = u->ttids.count;
		s->unfinished_ttid = u->ttids.count ? u->ttids.items[0] : 0;
	}
	if (s->answered && answer->code == NEO_ANSWER_FETCH_TRANSACTIONS)
		s->completed_pack =
			((const struct neo_answer_fetch_transactions *)answer->args)->completed_pack;
	event_base_loopbreak(s->base);
}

static void run(struct session *s, int ms)
{
	struct timeval limit = { ms / 1000, (ms % 1000) * 1000 };

	s->answered = false;
	event_base_loopexit(s->base, &limit);
	event_base_dispatch(s->base);
}

static int64_t last_msg_id;

static bool ask(struct session *s, uint16_t code, const void *args)
{
	s->error_code = -1;
	if ((last_msg_id = neo_conn_ask(s->conn, code, args, 0, answered, s)) < 0)
		return false;
	run(s, 5000);
	return s->answered;
}

/* A connection to port identified as type (client: to the master) with
 * extra {key: value} (key NULL: {}). */
static bool open_session(struct session *s, struct test_cluster *tc, int port,
			 enum neo_node_type type, const char *key, msgpack_object value)
{
	struct neo_request_identification ident;
	struct neo_address addr = { .port = (uint16_t)port };
	struct neo_bin k = key ? neo_bin_str(key) : (struct neo_bin){ 0 };
	char err[256];

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	s->ready = s->closed = false;
	s->conn = neo_conn_connect(s->base, &addr, NULL, &session_callbacks, s, err, sizeof err);
	if (s->conn == NULL)
		return false;
	run(s, 5000);
	neo_identification_init(&ident, type, 0, NULL, tc->name);
	if (type == NEO_NODE_STORAGE && port == tc->master_ports[0]) {
		/* a storage identifies to the master with its address */
		ident.address.has = true;
		ident.address.v.host = neo_bin_str("127.0.0.1");
		ident.address.v.port = tc->storage_ports[1];
	}
	if (key) {
		ident.extra.keys = &k;
		ident.extra.values = &value;
		ident.extra.count = 1;
	}
	return s->ready && ask(s, NEO_REQUEST_IDENTIFICATION, &ident)
	       && s->code == NEO_ACCEPT_IDENTIFICATION;
}

static bool client_session(struct session *s, struct test_cluster *tc, const char *key,
			   msgpack_object value)
{
	return open_session(s, tc, tc->master_ports[0], NEO_NODE_CLIENT, key, value);
}

static bool refused_read_only(struct session *s, uint16_t code, const void *args)
{
	return ask(s, code, args) && s->code == NEO_ERROR
	       && s->error_code == NEO_ERROR_READ_ONLY_ACCESS;
}

static void read_only_clients(void)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	struct session ro = { 0 }, backup = { 0 }, rw = { 0 };
	msgpack_object yes = { .type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = true };
	msgpack_object no_names = { .type = MSGPACK_OBJECT_ARRAY };
	struct neo_ask_begin_transaction begin = { 0 };
	struct neo_ask_new_oids oids = { .count = 1 };
	struct neo_ask_final_tid final = { .ttid = 1 };

	cluster_init(&tc, "readonly", 2, 0, 1, 1);
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "the cluster runs")) {
		cluster_stop(&tc);
		return;
	}
	ro.base = backup.base = rw.base = event_base_new();

	tap_ok(client_session(&ro, &tc, "read_only", yes),
	       "a client identifying with {read_only: true} is accepted");
	tap_ok(refused_read_only(&ro, NEO_ASK_BEGIN_TRANSACTION, &begin),
	       "its AskBeginTransaction: READ_ONLY_ACCESS, as upstream");
	tap_ok(refused_read_only(&ro, NEO_ASK_NEW_OIDS, &oids),
	       "its AskNewOIDs: READ_ONLY_ACCESS");
	tap_ok(refused_read_only(&ro, NEO_ASK_FINAL_TID, &final),
	       "its AskFinalTID: READ_ONLY_ACCESS");
	tap_ok(ask(&ro, NEO_ASK_LAST_TRANSACTION, NULL) && ro.code == NEO_ANSWER_LAST_TRANSACTION,
	       "its AskLastTransaction is answered (reads go on)");
	neo_conn_close(ro.conn, "done");

	tap_ok(client_session(&backup, &tc, "backup", no_names)
	       && refused_read_only(&backup, NEO_ASK_BEGIN_TRANSACTION, &begin),
	       "with a backup key and no read_only: read-only too, as upstream");
	neo_conn_close(backup.conn, "done");

	tap_ok(client_session(&rw, &tc, NULL, yes) && ask(&rw, NEO_ASK_BEGIN_TRANSACTION, &begin)
	       && rw.code == NEO_ANSWER_BEGIN_TRANSACTION,
	       "a client with an empty extra may begin");
	neo_conn_close(rw.conn, "done");

	neo_client_close(client);
	cluster_stop(&tc);
	settle(ro.base);
	event_base_free(ro.base);
}

/* Whether every Add* received since `from` carried msg_id. */
static bool adds_carry(const struct session *s, unsigned from, int64_t msg_id)
{
	for (unsigned i = from; i < s->adds && i < 64; i++)
		if (s->add_ids[i] != (uint32_t)msg_id)
			return false;
	return true;
}

static void replication_source(void)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	struct session rep = { 0 };
	msgpack_object none = { .type = MSGPACK_OBJECT_NIL };
	struct neo_ask_fetch_transactions fetch = { .partition = 0, .length = 1000,
						    .max_tid = NEO_MAX_TID };
	struct neo_ask_fetch_objects objects = { .partition = 0, .length = 1000,
						 .max_tid = NEO_MAX_TID };
	bool committed = true, answered_ok;
	unsigned before;
	uint64_t tids[3] = { 0 }, pack_id = 0;
	int rc;

	cluster_init(&tc, "fetchids", 1, 0, 1, 1);
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "the cluster runs")) {
		cluster_stop(&tc);
		return;
	}
	for (uint64_t oid = 1; oid <= 3; oid++)
		committed = committed
			    && (tids[oid - 1] = cluster_commit(client, oid, 0, "some data")) != 0;
	tap_ok(committed, "three transactions committed");
	/* a pack at the second, waited for: its transaction is the fourth */
	rc = neo_client_pack(client, tids[1], NULL, 0, true, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK && pack_id > tids[2], "a pack commits and completes (%d)", rc);
	rep.base = event_base_new();
	/* as upstream's replicator: an anonymous STORAGE */
	tap_ok(open_session(&rep, &tc, tc.storage_ports[0], NEO_NODE_STORAGE, NULL, none),
	       "a storage connection to the storage is accepted");
	/* the first ids are taken by the identification: the asks below do
	 * not have id 0, so a plain numbering would differ from theirs */
	rep.adds = 0;
	/* as upstream's replicator on the first request of a pass */
	fetch.ask_pack_info = true;
	answered_ok = ask(&rep, NEO_ASK_FETCH_TRANSACTIONS, &fetch);
	tap_ok(answered_ok && rep.code == NEO_ANSWER_FETCH_TRANSACTIONS && rep.adds == 4,
	       "AskFetchTransactions: 4 AddTransaction (3 and the pack), then the answer (%u)",
	       rep.adds);
	tap_ok(rep.pack_adds == 1 && rep.pack_add_tid == pack_id,
	       "the pack transaction's AddTransaction carries its pack order, as upstream's (%u)",
	       rep.pack_adds);
	tap_ok(rep.pack.pack_tid == tids[1] && rep.pack.approved.has && rep.pack.approved.v
	       && !rep.pack.partial && !rep.pack.oids.has,
	       "the order as upstream's getTransaction gives it: approved, not partial, "
	       "no oids, the pack tid");
	tap_ok(rep.completed_pack.has && rep.completed_pack.v == pack_id,
	       "asked for pack info, the answer's completed_pack is the partition's last "
	       "pack done, as upstream");
	tap_ok(adds_carry(&rep, 0, last_msg_id),
	       "each AddTransaction carries the request's msg_id (%lld), as upstream",
	       (long long)last_msg_id);
	fetch.ask_pack_info = false;
	fetch.min_tid = pack_id + 1;
	answered_ok = ask(&rep, NEO_ASK_FETCH_TRANSACTIONS, &fetch);
	tap_ok(answered_ok && rep.code == NEO_ANSWER_FETCH_TRANSACTIONS
	       && !rep.completed_pack.has,
	       "not asked for pack info (a later chunk): no completed_pack, as upstream");
	fetch.min_tid = 0;
	before = rep.adds;
	answered_ok = ask(&rep, NEO_ASK_FETCH_OBJECTS, &objects);
	tap_ok(answered_ok && rep.code == NEO_ANSWER_FETCH_OBJECTS && rep.adds - before == 3,
	       "AskFetchObjects: 3 AddObject, then the answer (%u)", rep.adds - before);
	tap_ok(adds_carry(&rep, before, last_msg_id),
	       "each AddObject carries the request's msg_id (%lld), as upstream",
	       (long long)last_msg_id);
	neo_conn_close(rep.conn, "done");
	neo_client_close(client);
	cluster_stop(&tc);
	settle(rep.base);
	event_base_free(rep.base);
}

static void finished_notifications(void)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	struct session st = { 0 };
	msgpack_object none = { .type = MSGPACK_OBJECT_NIL };
	int64_t partitions[1] = { 0 };
	struct neo_ask_unfinished_transactions unfinished = { .offsets = { partitions, 1 } };
	struct neo_txn *txn = NULL;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t tid = 0;
	bool ok;

	cluster_init(&tc, "finished", 1, 0, 2, 1);
	tc.autostart = 1;	/* storage 1's port is this test's */
	cluster_start_master(&tc, 0);
	usleep(200000);
	cluster_start_storage(&tc, 0);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "the cluster runs")) {
		cluster_stop(&tc);
		return;
	}
	st.base = event_base_new();
	ok = neo_client_begin(client, 0, &txn) == NEO_CLIENT_OK;
	tap_ok(ok, "a transaction begins (unfinished)");
	tap_ok(open_session(&st, &tc, tc.master_ports[0], NEO_NODE_STORAGE, NULL, none),
	       "a new storage (this test) identifies to the master");
	ok = ask(&st, NEO_ASK_UNFINISHED_TRANSACTIONS, &unfinished);
	tap_ok(ok && st.code == NEO_ANSWER_UNFINISHED_TRANSACTIONS && st.unfinished_count == 1,
	       "AskUnfinishedTransactions: the one unfinished transaction");
	ok = txn && neo_txn_store(txn, 1, 0, "a", 1) == NEO_CLIENT_OK
	     && neo_txn_vote(txn, "t", 1, "d", 1, "", 0, &conflicts, &count) == NEO_CLIENT_OK
	     && neo_txn_finish(txn, &tid) == NEO_CLIENT_OK;
	tap_ok(ok, "it commits");
	tap_ok(cluster_commit(client, 2, 0, "b") != 0, "another transaction, begun after the "
	       "question, commits");
	{
		struct timeval limit = { 1, 0 };

		event_base_loopexit(st.base, &limit);
		event_base_dispatch(st.base);
	}
	tap_ok(st.finished >= 1 && st.finished_ttids[0] == st.unfinished_ttid,
	       "NotifyTransactionFinished for the unfinished one");
	tap_ok(st.finished == 1, "and none for the one begun afterwards, as upstream (%u)",
	       st.finished);
	neo_conn_close(st.conn, "done");
	neo_client_close(client);
	cluster_stop(&tc);
	settle(st.base);
	event_base_free(st.base);
}

/* Runs the loop a moment before the base is freed: the connections
 * closed above (and those the stopped nodes dropped) finish closing and
 * free themselves, instead of being left behind with the base. */
static void settle(struct event_base *base)
{
	struct timeval moment = { 0, 300000 };

	event_base_loopexit(base, &moment);
	event_base_dispatch(base);
}

int main(void)
{
	storage_identifications();
	check_over_peer_connection();
	check_refused_already_connected();
	known_by_master();
	read_only_clients();
	replication_source();
	finished_notifications();
	return tap_done();
}
