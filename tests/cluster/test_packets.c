/*
 * test_packets.c - real nodes (neomaster, neostorage on 127.0.0.1)
 * packet by packet, as an upstream client would speak to them: this side
 * uses our codec and connections, without libneoclient.
 *
 * The master's AskFinalTID:
 *   - a ttid newer than any tid given out: None (unknown or aborted);
 *   - an old one: MAX_TID (committed: ask the storages for its tid);
 *   - a transaction still open: no answer until it ends; aborted, None.
 * A backup cluster's master (a client with {"backup": name} in its extra,
 * as upstream's backup master identifies; issue 17):
 *   - after identification it gets the node list and the partition
 *     table, and no NotifyClusterInformation (upstream's BackupHandler
 *     has no handler for it and drops the link);
 *   - a commit reaches it as InvalidatePartitions (tid, partitions of
 *     the objects), not InvalidateObjects.
 * An anonymous storage (a backup cluster's, replicating from ours): the
 * AcceptIdentification carries no id either way, as upstream's (an
 * upstream backup storage refuses one with ours: "invalid uuids").
 * The storage and bad input:
 *   - a store whose checksum does not match its data, or with an unknown
 *     compression, gets a protocol error, the connection is closed and
 *     the storage logs why; it then serves the next client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/sha.h>

#include "cluster/nodes.h"
#include "cluster/tid.h"
#include "cluster_util.h"
#include "net/conn.h"
#include "proto/packets.h"
#include "tap.h"

struct session {
	struct event_base *base;
	struct neo_conn *conn;
	bool ready, closed, answered;
	uint16_t code;
	int64_t error_code;
	struct neo_opt_p64 final_tid;
	uint64_t ttid;
	int32_t your_uuid;
	bool my_uuid_has;
	/* notifications seen (backup master session) */
	bool seen_cluster_info, seen_nodes, seen_pt, seen_invalidate_objects;
	uint64_t invalidated_tid;
	int64_t invalidated_partition;
	uint32_t invalidated_count;
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
	switch (pkt->code) {
	case NEO_NOTIFY_CLUSTER_INFORMATION:
		s->seen_cluster_info = true;
		break;
	case NEO_NOTIFY_NODE_INFORMATION:
		s->seen_nodes = true;
		break;
	case NEO_SEND_PARTITION_TABLE:
		s->seen_pt = true;
		break;
	case NEO_INVALIDATE_OBJECTS:
		s->seen_invalidate_objects = true;
		break;
	case NEO_INVALIDATE_PARTITIONS: {
		const struct neo_invalidate_partitions *inv = pkt->args;

		s->invalidated_tid = inv->tid;
		s->invalidated_count = inv->partitions.count;
		s->invalidated_partition = inv->partitions.count ? inv->partitions.items[0] : -1;
		event_base_loopbreak(s->base);
		break;
	}
	default:
		break;	/* other notifications do not matter here */
	}
}

static void on_close(struct neo_conn *conn, const char *reason, void *arg)
{
	struct session *s = arg;

	(void)conn;
	(void)reason;
	s->closed = true;
	event_base_loopbreak(s->base);
}

static const struct neo_conn_callbacks callbacks = { .on_ready = on_ready,
	.on_packet = on_packet, .on_close = on_close };

static void answered(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg)
{
	struct session *s = arg;

	(void)conn;
	s->answered = status == NEO_ASK_ANSWERED;
	s->code = s->answered ? answer->code : 0;
	if (s->answered && answer->code == NEO_ANSWER_FINAL_TID)
		s->final_tid = ((const struct neo_answer_final_tid *)answer->args)->tid;
	if (s->answered && answer->code == NEO_ERROR)
		s->error_code = ((const struct neo_error *)answer->args)->code;
	if (s->answered && answer->code == NEO_ACCEPT_IDENTIFICATION)
		s->my_uuid_has = ((const struct neo_accept_identification *)answer->args)->my_uuid.has;
	if (s->answered && answer->code == NEO_ACCEPT_IDENTIFICATION)
		s->your_uuid = ((const struct neo_accept_identification *)answer->args)->your_uuid.has
				       ? (int32_t)((const struct neo_accept_identification *)
						   answer->args)->your_uuid.v : 0;
	if (s->answered && answer->code == NEO_ANSWER_BEGIN_TRANSACTION)
		s->ttid = ((const struct neo_answer_begin_transaction *)answer->args)->ttid;
	event_base_loopbreak(s->base);
}

/* Runs the loop until an answer, the end, or ms. */
static void run(struct session *s, int ms)
{
	struct timeval limit = { ms / 1000, (ms % 1000) * 1000 };

	s->answered = false;
	event_base_loopexit(s->base, &limit);
	event_base_dispatch(s->base);
}

static bool ask(struct session *s, uint16_t code, const void *args, int ms)
{
	if (neo_conn_ask(s->conn, code, args, 0, answered, s) < 0)
		return false;
	run(s, ms);
	return s->answered;
}

static bool final_tid(struct session *s, uint64_t ttid)
{
	struct neo_ask_final_tid req = { .ttid = ttid };

	s->final_tid = (struct neo_opt_p64){ true, 0 };
	return ask(s, NEO_ASK_FINAL_TID, &req, 5000) && s->code == NEO_ANSWER_FINAL_TID;
}

/* Connects and identifies as a client (nid 0: ask the master for one). */
static bool open_session(struct session *s, int port, const char *cluster, int32_t nid,
			 int32_t *given)
{
	struct neo_request_identification ident;
	struct neo_address addr = { .port = (uint16_t)port };
	char err[256];

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	s->ready = s->closed = false;
	s->conn = neo_conn_connect(s->base, &addr, NULL, &callbacks, s, err, sizeof err);
	if (s->conn == NULL)
		return false;
	run(s, 5000);
	neo_identification_init(&ident, NEO_NODE_CLIENT, nid, NULL, cluster);
	s->your_uuid = 0;
	if (!s->ready || !ask(s, NEO_REQUEST_IDENTIFICATION, &ident, 5000) ||
	    s->code != NEO_ACCEPT_IDENTIFICATION)
		return false;
	if (given)
		*given = s->your_uuid;
	return true;
}

/* Identifies as a backup cluster's master: a client with {"backup": name}. */
static bool open_backup_session(struct session *s, int port, const char *cluster)
{
	struct neo_request_identification ident;
	struct neo_address addr = { .port = (uint16_t)port };
	struct neo_bin key = neo_bin_str("backup");
	msgpack_object value = { .type = MSGPACK_OBJECT_STR };
	char err[256];

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	s->conn = neo_conn_connect(s->base, &addr, NULL, &callbacks, s, err, sizeof err);
	if (s->conn == NULL)
		return false;
	run(s, 5000);
	value.via.str.ptr = "bk";
	value.via.str.size = 2;
	neo_identification_init(&ident, NEO_NODE_CLIENT, 0, NULL, cluster);
	ident.extra = (struct neo_map_bin_any){ &key, &value, 1 };
	if (!s->ready || !ask(s, NEO_REQUEST_IDENTIFICATION, &ident, 5000) ||
	    s->code != NEO_ACCEPT_IDENTIFICATION)
		return false;
	run(s, 300);	/* what the master sends after its answer */
	return true;
}

/* Identifies to a storage as a backup cluster's storage: no id. */
static bool open_anonymous_storage(struct session *s, int port, const char *cluster)
{
	struct neo_request_identification ident;
	struct neo_address addr = { .port = (uint16_t)port }, self = { .port = 1 };
	char err[256];

	snprintf(addr.host, sizeof addr.host, "127.0.0.1");
	snprintf(self.host, sizeof self.host, "127.0.0.1");
	s->conn = neo_conn_connect(s->base, &addr, NULL, &callbacks, s, err, sizeof err);
	if (s->conn == NULL)
		return false;
	run(s, 5000);
	neo_identification_init(&ident, NEO_NODE_STORAGE, 0, &self, cluster);
	s->my_uuid_has = true;
	s->your_uuid = -1;
	return s->ready && ask(s, NEO_REQUEST_IDENTIFICATION, &ident, 5000)
	       && s->code == NEO_ACCEPT_IDENTIFICATION;
}

/* A store with data that does not match its checksum (or compression
 * 2), on a storage: protocol error, closed. */
static bool bad_store(struct test_cluster *tc, struct session *s, int32_t nid, uint64_t ttid,
		      int64_t compression, bool good_checksum)
{
	struct neo_ask_store_object store = { .oid = 7, .serial = 0, .compression = compression,
		.ttid = { true, ttid } };
	uint8_t checksum[20];

	if (good_checksum)
		SHA1((const uint8_t *)"some data", 9, checksum);
	else
		memset(checksum, 'x', sizeof checksum);
	store.checksum = (struct neo_bin){ checksum, 20 };
	store.data = (struct neo_bin){ (const uint8_t *)"some data", 9 };
	if (!open_session(s, tc->storage_ports[0], tc->name, nid, NULL))
		return false;
	s->error_code = -1;
	if (!ask(s, NEO_ASK_STORE_OBJECT, &store, 5000) || s->code != NEO_ERROR ||
	    s->error_code != NEO_ERROR_PROTOCOL_ERROR)
		return false;
	if (!s->closed)
		run(s, 2000);
	return s->closed;
}

int main(void)
{
	struct test_cluster tc;
	struct session s = { 0 }, st = { 0 };
	struct neo_client *client = NULL;
	struct neo_ask_begin_transaction begin = { 0 };
	int32_t nid = 0;

	cluster_init(&tc, "finaltid", 2, 0, 1, 1);
	cluster_start(&tc);
	/* a libneoclient client waits until the cluster runs, and commits
	 * one transaction so that there is a last tid */
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "the cluster runs") || !tap_ok(cluster_commit(client, 1, 0, "x") != 0,
						   "one commit")) {
		cluster_stop(&tc);
		return tap_done();
	}

	s.base = event_base_new();
	tap_ok(open_session(&s, tc.master_ports[0], tc.name, 0, &nid) && nid,
	       "identified as a client by the master");

	tap_ok(final_tid(&s, NEO_MAX_TID - 1) && !s.final_tid.has,
	       "AskFinalTID of a ttid never given out: None");
	tap_ok(final_tid(&s, 1) && s.final_tid.has && s.final_tid.v == NEO_MAX_TID,
	       "AskFinalTID of an old ttid: MAX_TID (ask the storages)");

	tap_ok(ask(&s, NEO_ASK_BEGIN_TRANSACTION, &begin, 5000) &&
	       s.code == NEO_ANSWER_BEGIN_TRANSACTION && s.ttid, "a transaction begins");
	{
		struct neo_ask_final_tid req = { .ttid = s.ttid };
		struct neo_abort_transaction abort_txn = { .ttid = s.ttid };

		s.final_tid = (struct neo_opt_p64){ true, 0 };
		neo_conn_ask(s.conn, NEO_ASK_FINAL_TID, &req, 0, answered, &s);
		run(&s, 500);
		tap_ok(!s.answered, "AskFinalTID of an open transaction waits");
		neo_conn_notify(s.conn, NEO_ABORT_TRANSACTION, &abort_txn);
		run(&s, 5000);
		tap_ok(s.answered && s.code == NEO_ANSWER_FINAL_TID && !s.final_tid.has,
		       "once it is aborted, the answer is None");
	}

	/* a backup cluster's master, and one of its storages */
	{
		struct session b = { .base = s.base }, a = { .base = s.base };
		uint64_t tid;

		tap_ok(open_backup_session(&b, tc.master_ports[0], tc.name) && b.seen_nodes
		       && b.seen_pt && !b.seen_cluster_info,
		       "a backup master gets nodes and table, no NotifyClusterInformation");
		tid = cluster_commit(client, 3, 0, "backed up");
		if (!b.invalidated_tid)
			run(&b, 3000);
		tap_ok(tid && b.invalidated_tid == tid && b.invalidated_count == 1
		       && b.invalidated_partition == (int64_t)(3 % 2) && !b.seen_invalidate_objects,
		       "a commit reaches it as InvalidatePartitions(tid, [partition])");
		tap_ok(open_anonymous_storage(&a, tc.storage_ports[0], tc.name) && !a.my_uuid_has
		       && a.your_uuid == 0,
		       "an anonymous storage is accepted without ids either way");
		neo_conn_close(b.conn, "done");
		neo_conn_close(a.conn, "done");
		run(&b, 300);
	}

	/* bad input to a storage, in a transaction of ours */
	ask(&s, NEO_ASK_BEGIN_TRANSACTION, &begin, 5000);
	st.base = s.base;
	tap_ok(bad_store(&tc, &st, nid, s.ttid, 0, false),
	       "a store whose checksum does not match: protocol error, connection closed");
	tap_ok(cluster_log_has(&tc, "storage0.log", "bad checksum or compression", 2000),
	       "the storage logs why");
	tap_ok(bad_store(&tc, &st, nid, s.ttid, 2, true),
	       "a store with an unknown compression: the same");
	tap_ok(cluster_commit(client, 2, 0, "after") != 0,
	       "the storage still serves a good client");

	neo_conn_close(s.conn, "done");
	run(&s, 1000);
	event_base_free(s.base);
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
