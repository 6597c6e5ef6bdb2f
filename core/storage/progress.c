/*
 * storage/progress.c - AskProgress from our primary master (ours,
 * core/proto/protocol.md section 9): what this node imports (a module with
 * import_progress [1.2], importer.so), packs and replicates (the catch-up of
 * its OUT_OF_DATE cells), for neoctl print summary
 * and the admin's metrics.  The counters are the ones the log lines tell.
 */
#include "storage/storage.h"

#include <string.h>

#include "proto/codec.h"

/* The module's import, finished or not; false without one. */
static bool import_progress(struct storage *s, struct neo_progress *out)
{
	struct neo_import_progress p;

	if (s->db == NULL || !storage_backend_has(s, import_progress))
		return false;
	memset(&p, 0, sizeof p);
	if (s->be->import_progress(s->db, &p) != NEO_BACKEND_OK)
		return false;
	memset(out, 0, sizeof *out);
	out->task = neo_bin_str("import");
	out->nid = s->nid;
	out->phase = neo_bin_str(p.finished ? "done" : "");
	out->done = (int64_t)p.bytes_done;
	out->total = (struct neo_opt_int){ true, (int64_t)p.bytes_total };
	out->unit = neo_bin_str("bytes");
	out->count = (int64_t)p.transactions_done;
	out->count_total = (struct neo_opt_int){ true, (int64_t)p.transactions_total };
	out->count_unit = neo_bin_str("transactions");
	out->rate = p.bytes_per_second;
	out->left = (struct neo_opt_float){ p.seconds_left >= 0, p.seconds_left };
	return true;
}

void storage_progress_ask(struct storage *s, struct neo_conn *conn, struct neo_packet *pkt)
{
	struct neo_progress items[3];
	struct neo_answer_progress answer = { { items, 0 } };

	if (import_progress(s, &items[answer.items.count]))
		answer.items.count++;
	if (storage_pack_progress(s, &items[answer.items.count]))
		answer.items.count++;
	if (storage_replication_progress(s, &items[answer.items.count]))
		answer.items.count++;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PROGRESS, &answer);
}
