/*
 * admin/monitor.c - the health of the cluster as upstream's admin tells it:
 * the summary (neoctl print summary, the mails), and the watch over it
 * that mails each change (see admin/admin.h, admin/alerts.h).
 */
#include "admin/admin.h"

#include <stdio.h>
#include <string.h>

#include "admin/alerts.h"
#include "cluster/tid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* as upstream's MONITOR_TIMEOUT: the wait for the last tid */
#define MONITOR_TIMEOUT_MS 60000
/* How long an admin that stops waits for the mail on its way. */
#define MONITOR_FLUSH_S 10

static bool node_running(const struct admin *a, int32_t nid)
{
	const struct neo_node *node = neo_nodes_by_nid(&a->nodes, nid);

	return node && node->state == NEO_NODE_RUNNING;
}

/* As upstream's Monitor: cells per state, and nodes with cells not running. */
static void pt_summary(const struct admin *a, uint32_t counts[NEO_CELL_DISCARDED + 1],
		       uint32_t *down)
{
	int32_t *nids = NULL;
	size_t count = 0;

	memset(counts, 0, (NEO_CELL_DISCARDED + 1) * sizeof *counts);
	for (uint32_t p = 0; p < a->pt.num_partitions; p++)
		for (uint32_t i = 0; i < a->pt.rows[p].count; i++)
			if (a->pt.rows[p].cells[i].state <= NEO_CELL_DISCARDED)
				counts[a->pt.rows[p].cells[i].state]++;
	*down = 0;
	if (neo_ptable_nodes(&a->pt, &nids, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++)
		*down += !node_running(a, nids[i]);
	neo_free(nids);
}

bool admin_operational(const struct admin *a)
{
	return a->has_cluster_state && (a->cluster_state == NEO_CLUSTER_RUNNING
					 || a->cluster_state == NEO_CLUSTER_BACKINGUP);
}

/* "RUNNING; UP_TO_DATE=12; ltid=03f1... (2026-...)", as upstream's
 * formatSummary; *severity 0 ok, 1 warning, 2 problem. */
void admin_summary_text(const struct admin *a, bool has_tid, uint64_t tid, char *buf,
			 size_t buflen, int *severity)
{
	uint32_t counts[NEO_CELL_DISCARDED + 1], down;
	size_t len;
	bool only_up_to_date = true, first = true;
	char when[64];

	pt_summary(a, counts, &down);
	len = (size_t)snprintf(buf, buflen, "%s", a->has_cluster_state
			       ? neo_enum_name(NEO_ENUM_CLUSTER_STATES, a->cluster_state) : "None");
	for (int state = 0; state <= NEO_CELL_DISCARDED && len < buflen; state++) {
		if (counts[state] == 0)
			continue;
		only_up_to_date &= state == NEO_CELL_UP_TO_DATE;
		len += (size_t)snprintf(buf + len, buflen - len, "%s%s=%u", first ? "; " : ", ",
					neo_enum_name(NEO_ENUM_CELL_STATES, state), counts[state]);
		first = false;
	}
	if (down && len < buflen)
		len += (size_t)snprintf(buf + len, buflen - len, "; DOWN=%u", down);
	if (has_tid && admin_operational(a) && len < buflen)
		snprintf(buf + len, buflen - len, "; ltid=%016llx (%s)", (unsigned long long)tid,
			 neo_tid_format_datetime(tid, when, sizeof when));
	*severity = down || !admin_operational(a) ? 2 : first || !only_up_to_date ? 1 : 0;
}

/* What upstream's Monitor compares: cluster state, cells per state,
 * storage nodes down; and whether we have a primary at all. */
static void current_view(const struct admin *a, struct admin_monitor_view *view)
{
	memset(view, 0, sizeof *view);
	view->connected = a->identified;
	view->has_state = a->has_cluster_state;
	view->state = a->has_cluster_state ? a->cluster_state : 0;
	if (a->identified)
		pt_summary(a, view->counts, &view->down);
}

/* The mail, once the last tid (if any) is known. */
static void monitor_mail(struct admin *a, bool has_tid, uint64_t tid)
{
	char body[1024];
	int severity = 2;

	if (a->identified)
		admin_summary_text(a, has_tid, tid, body, sizeof body, &severity);
	else
		snprintf(body, sizeof body, "%s", admin_not_connected);
	alerts_send(a->alerts, body, severity, a->monitor_changed);
	a->monitor_changed = false;
}

static void on_last_tid(struct neo_conn *conn, enum neo_ask_status status,
			struct neo_packet *answer, void *arg)
{
	struct admin *a = arg;
	bool has_tid = false;
	uint64_t tid = 0;

	a->monitor_asking = false;
	if (a->stopped)
		return;
	if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_LAST_TRANSACTION) {
		has_tid = true;
		tid = ((const struct neo_answer_last_transaction *)answer->args)->tid;
	} else if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_RECOVERY) {
		const struct neo_answer_recovery *recovery = answer->args;

		has_tid = recovery->backup_tid.has;
		tid = recovery->backup_tid.v;
	}
	if (conn != a->master_conn || !a->identified) {
		/* The primary went meanwhile: what is true now goes. */
		admin_monitor_notify(a);
		return;
	}
	monitor_mail(a, has_tid, tid);
}

void admin_monitor_notify(struct admin *a)
{
	if (a->alerts == NULL || a->monitor_asking || a->stopped)
		return;
	/* as upstream: connected, nothing is told before the cluster state */
	if (a->identified && !a->has_cluster_state)
		return;
	if (!a->identified || !admin_operational(a)) {
		monitor_mail(a, false, 0);
		return;
	}
	/* as upstream: the summary of a serving cluster has its last tid */
	if (neo_conn_ask(a->master_conn, a->cluster_state == NEO_CLUSTER_BACKINGUP
			 ? NEO_ASK_RECOVERY : NEO_ASK_LAST_TRANSACTION, NULL, MONITOR_TIMEOUT_MS,
			 on_last_tid, a) < 0) {
		monitor_mail(a, false, 0);
		return;
	}
	a->monitor_asking = true;
}

void admin_monitor_update(struct admin *a)
{
	struct admin_monitor_view view;

	if (a->alerts == NULL)
		return;
	current_view(a, &view);
	if (memcmp(&view, &a->monitor_view, sizeof view) == 0)
		return;
	a->monitor_view = view;
	a->monitor_changed = true;
	admin_monitor_notify(a);
}

static void flush_deadline(evutil_socket_t fd, short what, void *arg)
{
	bool *expired = arg;

	*expired = true;
}

void admin_monitor_flush(struct admin *a)
{
	struct timeval limit = { MONITOR_FLUSH_S, 0 };
	bool expired = false;
	struct event *deadline;

	if (a->alerts == NULL || !alerts_busy(a->alerts))
		return;
	deadline = evtimer_new(a->base, flush_deadline, &expired);
	if (deadline == NULL || evtimer_add(deadline, &limit) != 0) {
		if (deadline)
			event_free(deadline);
		return;
	}
	neo_log(NEO_LOG_INFO, "waiting for the monitoring mail on its way (%d s at most)",
		MONITOR_FLUSH_S);
	while (alerts_busy(a->alerts) && !expired)
		event_base_loop(a->base, EVLOOP_ONCE);
	event_free(deadline);
}
