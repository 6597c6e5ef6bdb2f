/*
 * admin/metrics.c - the cluster for --metrics, as the admin mirrors it
 * from the primary master: its state, nodes by type and state, cells by
 * state, the table's shape, and the last committed tid (README, Metrics).
 */
#include "admin/admin.h"

#include <time.h>

#include "cluster/tid.h"
#include "proto/enums.h"

static const enum neo_cell_state cell_states[] = {
	NEO_CELL_UP_TO_DATE, NEO_CELL_OUT_OF_DATE, NEO_CELL_FEEDING, NEO_CELL_CORRUPTED
};
#define CELL_STATE_COUNT (sizeof(cell_states) / sizeof(cell_states[0]))

static void collect_state(struct admin *a)
{
	struct admin_metrics *m = &a->metrics;

	neo_metric_put(m->primary, a->identified ? 1 : 0);
	for (int state = 0; state < neo_enum_count(NEO_ENUM_CLUSTER_STATES); state++) {
		const char *values[] = { neo_enum_name(NEO_ENUM_CLUSTER_STATES, state) };

		(void)neo_metric_set(m->state, values, a->identified && a->has_cluster_state
					       && (int)a->cluster_state == state ? 1 : 0);
	}
}

/* Every (type, state) pair is written, 0 included: a storage going down
 * moves one count down and another up. */
static void collect_nodes(struct admin *a)
{
	for (int type = 0; type < neo_enum_count(NEO_ENUM_NODE_TYPES); type++)
		for (int state = 0; state < neo_enum_count(NEO_ENUM_NODE_STATES); state++) {
			const char *values[] = { neo_enum_name(NEO_ENUM_NODE_TYPES, type),
						 neo_enum_name(NEO_ENUM_NODE_STATES, state) };
			double count = 0;

			for (size_t i = 0; i < a->nodes.count; i++)
				count += (int)a->nodes.nodes[i]->type == type
					 && (int)a->nodes.nodes[i]->state == state;
			(void)neo_metric_set(a->metrics.nodes, values, count);
		}
}

static void collect_cells(struct admin *a)
{
	double counts[CELL_STATE_COUNT] = { 0 };

	for (uint32_t p = 0; p < a->pt.num_partitions; p++)
		for (uint32_t i = 0; i < a->pt.rows[p].count; i++)
			for (size_t k = 0; k < CELL_STATE_COUNT; k++)
				counts[k] += a->pt.rows[p].cells[i].state == cell_states[k];
	for (size_t k = 0; k < CELL_STATE_COUNT; k++) {
		const char *values[] = { neo_enum_name(NEO_ENUM_CELL_STATES, (int)cell_states[k]) };

		(void)neo_metric_set(a->metrics.cells, values, counts[k]);
	}
	neo_metric_put(a->metrics.partitions, a->pt.num_partitions);
	neo_metric_put(a->metrics.replicas, a->pt.num_replicas);
}

static void collect_last_tid(struct admin *a)
{
	struct admin_metrics *m = &a->metrics;
	struct timespec now;
	double when;

	if (!m->has_last_tid)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	when = neo_tid_to_time(m->last_tid);
	neo_metric_put(m->last_tid_time, when);
	neo_metric_put(m->last_tid_age, (double)now.tv_sec + (double)now.tv_nsec / 1e9 - when);
}

/* --monitor-backup: each watched backup as the last check found it. */
static void collect_backups(struct admin *a)
{
	struct admin_metrics *m = &a->metrics;

	if (m->backup_lag == NULL)
		return;
	neo_metric_clear(m->backup_lag);
	for (size_t i = 0; i < a->backup_count; i++) {
		const struct admin_backup *b = &a->backups[i];
		const char *values[] = { b->name };

		(void)neo_metric_set(m->backup_connected, values, b->conn != NULL);
		(void)neo_metric_set(m->backup_lagging, values, b->lagging);
		if (b->has_lag)
			(void)neo_metric_set(m->backup_lag, values, b->lag);
	}
}

static void collect(struct neo_metrics *registry, void *arg)
{
	(void)registry;
	collect_state(arg);
	collect_nodes(arg);
	collect_cells(arg);
	collect_last_tid(arg);
	collect_backups(arg);
	admin_progress_collect(arg);
}

static int backup_metrics_init(struct admin *a, struct neo_metrics *r)
{
	static const char *const backup[] = { "backup", NULL };
	struct admin_metrics *m = &a->metrics;

	if (a->backup_count == 0)
		return 0;
	m->backup_connected = neo_metrics_gauge(r, "neo_backup_connected",
		"1 when the admin of this watched backup cluster (--monitor-backup) reports to us",
		backup);
	m->backup_lag = neo_metrics_gauge(r, "neo_backup_lag_seconds",
		"Seconds the backup tid of this watched backup cluster is behind our last tid, "
		"at the last check (none while either cluster is not operational)", backup);
	m->backup_lagging = neo_metrics_gauge(r, "neo_backup_lagging",
		"1 when this watched backup cluster lags more than --monitor-maxlag", backup);
	return m->backup_connected && m->backup_lag && m->backup_lagging ? 0 : -1;
}

/* --- Polling the last tid --------------------------------------------------- */

static void schedule_poll(struct admin *a)
{
	struct timeval delay = { ADMIN_METRICS_POLL_MS / 1000, (ADMIN_METRICS_POLL_MS % 1000) * 1000 };

	if (a->metrics.poll != NULL && !a->stopped)
		evtimer_add(a->metrics.poll, &delay);
}

static void last_tid_answered(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct admin *a = arg;

	(void)conn;
	a->metrics.asking = false;
	if (status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_LAST_TRANSACTION) {
		uint64_t tid = ((const struct neo_answer_last_transaction *)answer->args)->tid;

		/* ZERO_TID: nothing committed yet, no time to show */
		a->metrics.has_last_tid = tid != NEO_ZERO_TID && tid <= NEO_MAX_TID;
		a->metrics.last_tid = tid;
	}
}

static void poll_fired(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;

	(void)fd;
	(void)what;
	/* only RUNNING answers: the master refuses the question otherwise */
	if (a->identified && a->master_conn != NULL && !a->metrics.asking
	    && a->has_cluster_state && a->cluster_state == NEO_CLUSTER_RUNNING
	    && neo_conn_ask(a->master_conn, NEO_ASK_LAST_TRANSACTION, NULL,
			    ADMIN_METRICS_POLL_MS * 5, last_tid_answered, a) >= 0)
		a->metrics.asking = true;
	schedule_poll(a);
}

int admin_metrics_init(struct admin *a, struct neo_metrics *r, bool poll)
{
	static const char *const state[] = { "state", NULL };
	static const char *const type_state[] = { "type", "state", NULL };
	struct admin_metrics *m = &a->metrics;

	m->primary = neo_metrics_gauge(r, "neo_admin_primary_connected",
		"1 when the admin is connected to the primary master (the other neo_cluster_* "
		"metrics are its view), 0 otherwise", NULL);
	m->state = neo_metrics_gauge(r, "neo_cluster_state",
		"1 for the cluster's state, 0 for the others", state);
	m->nodes = neo_metrics_gauge(r, "neo_cluster_nodes",
		"Nodes known to the primary master, by type and state", type_state);
	m->cells = neo_metrics_gauge(r, "neo_cluster_cells",
		"Cells of the partition table, by state", state);
	m->partitions = neo_metrics_gauge(r, "neo_cluster_partitions",
		"Partitions of the partition table", NULL);
	m->replicas = neo_metrics_gauge(r, "neo_cluster_replicas",
		"Replicas of each partition (0: one copy)", NULL);
	m->last_tid_time = neo_metrics_gauge(r, "neo_cluster_last_tid_timestamp_seconds",
		"The time the last committed tid stands for (seconds since the epoch)", NULL);
	m->last_tid_age = neo_metrics_gauge(r, "neo_cluster_last_tid_age_seconds",
		"Seconds since the time of the last committed tid", NULL);
	if (m->primary == NULL || m->state == NULL || m->nodes == NULL || m->cells == NULL
	    || m->partitions == NULL || m->replicas == NULL || m->last_tid_time == NULL
	    || m->last_tid_age == NULL || backup_metrics_init(a, r) < 0
	    || admin_progress_metrics_init(a, r) < 0
	    || neo_metrics_add_collector(r, collect, a) < 0)
		return -1;
	if (!poll)
		return 0;
	m->poll = evtimer_new(a->base, poll_fired, a);
	if (m->poll == NULL)
		return -1;
	schedule_poll(a);
	return 0;
}

void admin_metrics_free(struct admin *a)
{
	if (a->metrics.poll != NULL)
		event_free(a->metrics.poll);
	a->metrics.poll = NULL;
}
