/*
 * test_master_protocol.c - the master's answers to AskFinalTID, packet by
 * packet, as an upstream client sees them (a real neomaster and
 * neostorage on 127.0.0.1; this side speaks protocol 5 through our codec
 * and connections, without libneoclient).
 *
 *   - a ttid newer than any tid given out: None (unknown or aborted);
 *   - an old one: MAX_TID (committed: ask the storages for its tid);
 *   - a transaction still open: no answer until it ends; aborted, None.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster_util.h"
#include "conn.h"
#include "nodes.h"
#include "packets.h"
#include "tap.h"
#include "tid.h"

struct session {
	struct event_base *base;
	struct neo_conn *conn;
	bool ready, closed, answered;
	uint16_t code;
	struct neo_opt_p64 final_tid;
	uint64_t ttid;
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
	(void)conn;
	(void)pkt;
	(void)arg;	/* notifications (node list, pt, ...) do not matter here */
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

int main(void)
{
	struct test_cluster tc;
	struct session s = { 0 };
	struct neo_request_identification ident;
	struct neo_address master = { .port = 0 };
	struct neo_client *client = NULL;
	struct neo_ask_begin_transaction begin = { 0 };
	char err[256];

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
	snprintf(master.host, sizeof master.host, "127.0.0.1");
	master.port = (uint16_t)tc.master_ports[0];
	s.conn = neo_conn_connect(s.base, &master, NULL, &callbacks, &s, err, sizeof err);
	run(&s, 5000);
	neo_identification_init(&ident, NEO_NODE_CLIENT, 0, NULL, tc.name);
	tap_ok(s.ready && ask(&s, NEO_REQUEST_IDENTIFICATION, &ident, 5000) &&
	       s.code == NEO_ACCEPT_IDENTIFICATION, "identified as a client");

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

	neo_conn_close(s.conn, "done");
	run(&s, 1000);
	event_base_free(s.base);
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}
