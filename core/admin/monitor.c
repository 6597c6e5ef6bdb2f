/*
 * admin/monitor.c - the health of the cluster as upstream's admin tells it:
 * the summary (neoctl print summary, the mails), and the watch over it
 * that mails each change (see admin/admin.h, admin/alerts.h).
 */
#include "admin/admin.h"

#include <stdio.h>
#include <stdlib.h>
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

/* neoctl print summary waiting for the end of a check. */
struct admin_waiter {
	struct admin_waiter *next;
	struct admin_client *client;
	uint32_t msg_id;
};

/* As upstream: a backup in RUNNING or BACKINGUP, nodes down or not. */
static bool any_backup_operational(const struct admin *a)
{
	for (size_t i = 0; i < a->backup_count; i++) {
		const struct admin_backup *b = &a->backups[i];

		if (b->has_state && (b->state == NEO_CLUSTER_RUNNING
				     || b->state == NEO_CLUSTER_BACKINGUP))
			return true;
	}
	return false;
}

/* The names of a severity, as upstream's lists: sorted, this cluster's
 * as None (NULL) first. */
struct severity_lists {
	const char **names[3];
	size_t counts[3];
};

static int compare_names(const void *x, const void *y)
{
	const char *const *a = x, *const *b = y;

	return strcmp(*a, *b);
}

static void severity_lists_free(struct severity_lists *s)
{
	for (int k = 0; k < 3; k++)
		neo_free(s->names[k]);
}

static int severity_lists(struct admin *a, int mine, struct severity_lists *s)
{
	memset(s, 0, sizeof *s);
	for (int k = 0; k < 3; k++) {
		s->names[k] = neo_calloc(a->backup_count + 1, sizeof *s->names[k]);
		if (s->names[k] == NULL) {
			severity_lists_free(s);
			return -1;
		}
	}
	for (size_t i = 0; i < a->backup_count; i++) {
		const struct admin_backup *b = &a->backups[i];
		int k = admin_backup_severity(b);

		if (k == 0 && b->lagging)
			k = 1;	/* as upstream: severity or lagging */
		s->names[k][s->counts[k]++] = b->name;
	}
	for (int k = 1; k < 3; k++)
		qsort(s->names[k], s->counts[k], sizeof *s->names[k], compare_names);
	memmove(s->names[mine] + 1, s->names[mine], s->counts[mine] * sizeof *s->names[mine]);
	s->names[mine][0] = NULL;
	s->counts[mine]++;
	return 0;
}

static bool name_changed(struct admin *a, const char *name)
{
	if (name == NULL)
		return a->monitor_changed;
	for (size_t i = 0; i < a->backup_count; i++)
		if (a->backups[i].name == name)
			return a->backups[i].changed;
	return false;
}

/* As upstream: "PROBLEM" when any cluster has a problem, naming those
 * with a warning or a problem that changed; "WARNING" likewise; "OK"
 * names none. */
static void make_subject(struct admin *a, const struct severity_lists *s, char *out,
			 size_t size)
{
	const char *word = s->counts[2] ? "PROBLEM" : s->counts[1] ? "WARNING" : "OK";
	size_t len = (size_t)snprintf(out, size, "%s", word);
	bool first = true;
	const char **names = neo_calloc(a->backup_count + 1, sizeof *names);
	size_t count = 0;

	if (names == NULL || !(s->counts[1] || s->counts[2])) {
		neo_free(names);
		return;
	}
	for (int k = 1; k < 3; k++)
		for (size_t i = 0; i < s->counts[k]; i++)
			if (name_changed(a, s->names[k][i]))
				names[count++] = s->names[k][i] ? s->names[k][i] : a->cluster;
	qsort(names, count, sizeof *names, compare_names);
	for (size_t i = 0; i < count && len < size; i++) {
		len += (size_t)snprintf(out + len, size - len, "%s%s", first ? " (" : ", ",
					names[i]);
		first = false;
	}
	if (count && len < size)
		snprintf(out + len, size - len, ")");
	neo_free(names);
}

static bool anything_changed(const struct admin *a)
{
	if (a->monitor_changed)
		return true;
	for (size_t i = 0; i < a->backup_count; i++)
		if (a->backups[i].changed)
			return true;
	return false;
}

static void to_wire(const struct severity_lists *s, int k, struct neo_opt_bin *items,
		    struct neo_list_opt_bin *out)
{
	for (size_t i = 0; i < s->counts[k]; i++) {
		items[i].has = s->names[k][i] != NULL;
		if (items[i].has)
			items[i].v = neo_bin_str(s->names[k][i]);
	}
	out->items = items;
	out->count = (uint32_t)s->counts[k];
}

/* As upstream: every neoctl waiting gets the summary; this cluster is
 * None in the lists, a failed mail makes it a problem. */
static void answer_waiters(struct admin *a, const char *body, int mine)
{
	struct neo_answer_monitor_information answer = { 0 };
	struct neo_opt_bin *warnings = neo_calloc(a->backup_count + 1, sizeof *warnings);
	struct neo_opt_bin *problems = neo_calloc(a->backup_count + 1, sizeof *problems);
	const char *failure = a->alerts ? alerts_failure(a->alerts) : "";
	/* ours: long work in progress, under upstream's summary (nothing when
	 * there is none, so that the text stays upstream's); not in mails */
	char *progress = admin_progress_text(a);
	const char *tasks = progress ? progress : "";
	char *text = neo_malloc(strlen(body) + strlen(failure) + strlen(tasks) + 2);
	struct severity_lists s;
	struct admin_waiter *w;

	if (*failure)
		mine = 2;
	if (warnings && problems && text && severity_lists(a, mine, &s) == 0) {
		strcpy(text, body);
		strcat(text, failure);
		if (*tasks) {
			strcat(text, "\n");
			strcat(text, tasks);
		}
		to_wire(&s, 1, warnings, &answer.primary_masters);
		to_wire(&s, 2, problems, &answer.backup_states);
		answer.name = neo_bin_str(text);
		while ((w = a->waiters) != NULL) {
			a->waiters = w->next;
			neo_conn_answer(admin_client_conn(w->client), w->msg_id,
					NEO_ANSWER_MONITOR_INFORMATION, &answer);
			neo_free(w);
		}
		severity_lists_free(&s);
	}
	while ((w = a->waiters) != NULL) {	/* out of memory: told so */
		a->waiters = w->next;
		neo_conn_answer_error(admin_client_conn(w->client), w->msg_id, NEO_ERROR_NOT_READY,
				      "out of memory");
		neo_free(w);
	}
	neo_free(warnings);
	neo_free(problems);
	neo_free(text);
	neo_free(progress);
}

static void schedule_recheck(struct admin *a)
{
	struct timeval delay;

	if (a->recheck == NULL || a->stopped)
		return;
	delay.tv_sec = (time_t)a->monitor_interval;
	delay.tv_usec = (suseconds_t)((a->monitor_interval - (double)delay.tv_sec) * 1e6);
	evtimer_add(a->recheck, &delay);
}

/* The check is over: the summary is mailed when it changed, and told to
 * the neoctl waiting. */
static void round_finish(struct admin *a)
{
	size_t size = 2048 + a->backup_count * 512;
	char *body = neo_malloc(size);
	struct severity_lists s;
	int mine = 2;

	if (body == NULL)
		return;
	neo_log(NEO_LOG_DEBUG, "monitoring check done");
	if (a->identified)
		admin_summary_text(a, a->round_has_tid, a->round_tid, body, size, &mine);
	else
		snprintf(body, size, "%s", admin_not_connected);
	admin_backups_summary(a, a->identified && admin_operational(a) && a->round_has_tid,
			      a->round_tid, body, size);
	if (a->alerts && severity_lists(a, mine, &s) == 0) {
		char subject[512];

		make_subject(a, &s, subject, sizeof subject);
		alerts_send(a->alerts, body, subject, anything_changed(a));
		severity_lists_free(&s);
	}
	a->monitor_changed = false;
	for (size_t i = 0; i < a->backup_count; i++)
		a->backups[i].changed = false;
	answer_waiters(a, body, mine);
	neo_free(body);
	/* as upstream: the lag is checked again while there is one to check */
	if (a->identified && admin_operational(a) && any_backup_operational(a))
		schedule_recheck(a);
}

void admin_round_answered(struct admin *a)
{
	if (a->round_pending == 0 || --a->round_pending > 0)
		return;
	a->round_running = false;
	if (!a->stopped)
		round_finish(a);
}

static void on_last_tid(struct neo_conn *conn, enum neo_ask_status status,
			struct neo_packet *answer, void *arg)
{
	struct admin *a = arg;

	if (conn == a->master_conn && status == NEO_ASK_ANSWERED
	    && answer->code == NEO_ANSWER_LAST_TRANSACTION) {
		a->round_has_tid = true;
		a->round_tid = ((const struct neo_answer_last_transaction *)answer->args)->tid;
		neo_log(NEO_LOG_DEBUG, "last tid %016llx", (unsigned long long)a->round_tid);
	} else if (conn == a->master_conn && status == NEO_ASK_ANSWERED
		   && answer->code == NEO_ANSWER_RECOVERY) {
		const struct neo_answer_recovery *recovery = answer->args;

		a->round_has_tid = recovery->backup_tid.has;
		a->round_tid = recovery->backup_tid.v;
	}
	admin_round_answered(a);
}

/* As upstream's _notify: the ids of every operational cluster, then the
 * summary.  One check at a time: what changes meanwhile is in it. */
static void round_start(struct admin *a)
{
	if (a->round_running || a->stopped)
		return;
	/* as upstream: connected, nothing is told before the cluster state */
	if (a->identified && !a->has_cluster_state)
		return;
	if (a->recheck)
		evtimer_del(a->recheck);
	neo_log(NEO_LOG_DEBUG, "monitoring check");
	a->round_running = true;
	a->round_pending = 1;	/* this function's own, dropped below */
	a->round_has_tid = false;
	/* as upstream: the summary of a serving cluster has its last tid */
	if (a->identified && admin_operational(a)
	    && neo_conn_ask(a->master_conn, a->cluster_state == NEO_CLUSTER_BACKINGUP
			    ? NEO_ASK_RECOVERY : NEO_ASK_LAST_TRANSACTION, NULL, MONITOR_TIMEOUT_MS,
			    on_last_tid, a) >= 0)
		a->round_pending++;
	if (a->identified && admin_operational(a))
		admin_backups_ask(a);
	admin_round_answered(a);
}

void admin_monitor_notify(struct admin *a)
{
	if (a->alerts == NULL && a->waiters == NULL && a->backup_count == 0)
		return;
	round_start(a);
}

void admin_monitor_ask(struct admin *a, struct admin_client *client, uint32_t msg_id)
{
	struct admin_waiter *w = neo_calloc(1, sizeof *w);

	if (w == NULL) {
		neo_conn_answer_error(admin_client_conn(client), msg_id, NEO_ERROR_NOT_READY,
				      "out of memory");
		return;
	}
	w->client = client;
	w->msg_id = msg_id;
	w->next = a->waiters;
	a->waiters = w;
	round_start(a);
}

void admin_monitor_forget(struct admin *a, struct admin_client *client)
{
	for (struct admin_waiter **w = &a->waiters; *w;) {
		struct admin_waiter *gone = *w;

		if (gone->client != client) {
			w = &gone->next;
			continue;
		}
		*w = gone->next;
		neo_free(gone);
	}
}

static void recheck_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	round_start(arg);
}

int admin_monitor_init(struct admin *a)
{
	if (a->backup_count == 0)
		return 0;
	a->recheck = evtimer_new(a->base, recheck_fired, a);
	return a->recheck ? 0 : -1;
}

void admin_monitor_free(struct admin *a)
{
	struct admin_waiter *w;

	if (a->recheck)
		event_free(a->recheck);
	a->recheck = NULL;
	while ((w = a->waiters) != NULL) {
		a->waiters = w->next;
		neo_free(w);
	}
}

void admin_monitor_update(struct admin *a)
{
	struct admin_monitor_view view;

	current_view(a, &view);
	admin_upstream_update(a, &view);
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
