/*
 * client/pack.c - pack (IStorage.pack), as upstream's client does it: a
 * transaction described "IStorage.pack", with no object, whose vote and
 * finish carry the pack order; then, if asked, WaitForPack until every
 * storage has applied it.
 */
#include "client/internal.h"
#include "runtime/alloc.h"

#include <stdio.h>
#include <stdlib.h>

/* as upstream (TXN_PACK_DESC) */
#define PACK_DESCRIPTION "IStorage.pack"

struct pack_wait {
	struct client_call call;
	struct neo_client *c;
	uint64_t pack_id;
};

static void waited(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		   void *arg)
{
	struct pack_wait *op = arg;
	char text[160];

	(void)conn;
	if (status != NEO_ASK_ANSWERED) {
		client_call_unanswered(op->c, &op->call, status);
		return;
	}
	if (answer->code != NEO_WAITED_FOR_PACK) {
		client_error_text(answer, text, sizeof text);
		client_call_done(op->c, &op->call, client_error_status(answer), "%s", text);
		return;
	}
	/* as upstream: old revisions may be gone, so the cache starts over */
	pthread_mutex_lock(&op->c->lock);
	client_cache_clear(op->c->cache);
	pthread_mutex_unlock(&op->c->lock);
	client_call_done(op->c, &op->call, NEO_CLIENT_OK, NULL);
}

static void wait_run(struct neo_client *c, struct client_call *call)
{
	struct pack_wait *op = (struct pack_wait *)call;
	struct neo_wait_for_pack ask = { .tid = op->pack_id };

	op->c = c;
	if (!client_master_ask(c, call, NEO_WAIT_FOR_PACK, &ask, waited, op))
		client_call_done(c, call, NEO_CLIENT_DISCONNECTED, "lost the primary master");
}

int neo_client_wait_for_pack(struct neo_client *client, uint64_t pack_id)
{
	struct pack_wait op = { .pack_id = pack_id };

	op.call.run = wait_run;
	op.call.needs_ready = true;
	return client_call(client, &op.call);
}

/* The pack transaction's extension saying gc or not, as the master reads
 * it (core/cluster/cluster.md section 14.2): pickles (protocol 3, as ZODB
 * writes extensions) of {'neo_pack_gc': True} and of {'neo_pack_gc': False}. */
static const char gc_true_ext[] = "\x80\x03}q\x00X\x0b\x00\x00\x00neo_pack_gcq\x01\x88s.";
static const char gc_false_ext[] = "\x80\x03}q\x00X\x0b\x00\x00\x00neo_pack_gcq\x01\x89s.";

static int pack(struct neo_client *client, uint64_t pack_tid, const uint64_t *oids,
		size_t count, int gc, bool wait, uint64_t *pack_id)
{
	const char *ext = gc > 0 ? gc_true_ext : gc == 0 ? gc_false_ext : "";
	size_t ext_size = gc > 0 ? sizeof gc_true_ext - 1 : gc == 0 ? sizeof gc_false_ext - 1 : 0;
	struct neo_client_conflict *conflicts = NULL;
	struct neo_txn *txn;
	size_t conflict_count = 0;
	uint64_t tid = 0;
	int rc;

	if (pack_id)
		*pack_id = 0;
	if (pack_tid == 0)
		return NEO_CLIENT_OK;	/* as upstream: nothing before the first tid */
	rc = neo_client_begin(client, 0, &txn);
	if (rc != NEO_CLIENT_OK)
		return rc;
	rc = client_txn_set_pack(txn, pack_tid, oids, count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, PACK_DESCRIPTION, sizeof PACK_DESCRIPTION - 1, ext,
				  ext_size, &conflicts, &conflict_count);
	neo_client_conflicts_free(conflicts, conflict_count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	if (rc != NEO_CLIENT_OK) {
		char why[256];

		snprintf(why, sizeof why, "%s", neo_client_errmsg());
		neo_txn_abort(txn);
		return client_fail(rc, "pack refused: %s", why);
	}
	if (pack_id)
		*pack_id = tid;
	return wait ? neo_client_wait_for_pack(client, tid) : NEO_CLIENT_OK;
}

int neo_client_pack(struct neo_client *client, uint64_t pack_tid, const uint64_t *oids,
		    size_t count, bool wait, uint64_t *pack_id)
{
	return pack(client, pack_tid, oids, count, -1, wait, pack_id);
}

int neo_client_pack_gc(struct neo_client *client, uint64_t pack_tid, int gc, bool wait,
		       uint64_t *pack_id)
{
	return pack(client, pack_tid, NULL, 0, gc < 0 ? -1 : gc > 0, wait, pack_id);
}
