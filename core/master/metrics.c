/*
 * master/metrics.c - what neomaster counts for --metrics: transactions
 * begun, finished and aborted and the finish latency (master/txn.c), and
 * gauges read from its state when scraped: whether it is the primary, the
 * cluster state it sees, pending transactions, the last tid (README,
 * Metrics).
 */
#include "master/master.h"

#include <time.h>

#include "cluster/tid.h"
#include "proto/enums.h"

/* Finish latency buckets, in seconds: a lock round trip to the storages
 * (~1 ms) to a storage that stalls. */
static const double finish_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

double master_metrics_clock(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Backing up, the last tid is the upstream cluster's: the lag is that of
 * the backup tid behind it, as an upstream admin watching us computes it
 * (--monitor-backup).  The gauges are absent in other states. */
static void collect_backup(struct master *m)
{
	struct master_metrics *gauges = &m->metrics;
	uint64_t backup_tid;

	neo_metric_clear(gauges->backup_tid_time);
	neo_metric_clear(gauges->backup_lag);
	if (!m->primary || m->state != NEO_CLUSTER_BACKINGUP || m->last_tid == 0)
		return;
	backup_tid = master_backup_tid(m, true);
	neo_metric_put(gauges->backup_tid_time, neo_tid_to_time(backup_tid));
	neo_metric_put(gauges->backup_lag, neo_tid_to_time(m->last_tid) - neo_tid_to_time(backup_tid));
}

static void collect(struct neo_metrics *registry, void *arg)
{
	struct master *m = arg;
	struct master_metrics *gauges = &m->metrics;
	double pending = 0;

	(void)registry;
	neo_metric_put(gauges->primary, m->primary ? 1 : 0);
	for (int state = 0; state < neo_enum_count(NEO_ENUM_CLUSTER_STATES); state++) {
		const char *values[] = { neo_enum_name(NEO_ENUM_CLUSTER_STATES, state) };

		(void)neo_metric_set(gauges->state, values,
				     m->primary && (int)m->state == state ? 1 : 0);
	}
	for (const struct master_txn *txn = m->txns; txn != NULL; txn = txn->next)
		pending++;
	neo_metric_put(gauges->pending, pending);
	if (m->last_tid != 0)
		neo_metric_put(gauges->last_tid_time, neo_tid_to_time(m->last_tid));
	collect_backup(m);
}

int master_metrics_init(struct master *m, struct neo_metrics *r)
{
	static const char *const state[] = { "state", NULL };
	struct master_metrics *gauges = &m->metrics;

	gauges->txns_begun = neo_metrics_counter(r, "neo_master_transactions_begun_total",
		"Transactions begun (AskBeginTransaction answered)", NULL);
	gauges->txns_finished = neo_metrics_counter(r, "neo_master_transactions_finished_total",
		"Transactions committed (finished)", NULL);
	gauges->txns_aborted = neo_metrics_counter(r, "neo_master_transactions_aborted_total",
		"Transactions aborted: by their client, a lost client, or a refused finish", NULL);
	gauges->finish_seconds = neo_metrics_histogram(r, "neo_master_finish_duration_seconds",
		"Time from a transaction's finish request to its commit (the storages' lock "
		"answers included)", NULL, finish_buckets,
		sizeof(finish_buckets) / sizeof(finish_buckets[0]));
	gauges->primary = neo_metrics_gauge(r, "neo_master_primary",
		"1 when this master is the primary, 0 otherwise", NULL);
	gauges->state = neo_metrics_gauge(r, "neo_master_cluster_state",
		"1 for the cluster state this primary master is in, 0 for the others "
		"(all 0 on a secondary master)", state);
	gauges->pending = neo_metrics_gauge(r, "neo_master_transactions_pending",
		"Transactions begun and not yet finished or aborted", NULL);
	gauges->last_tid_time = neo_metrics_gauge(r, "neo_master_last_tid_timestamp_seconds",
		"The time the last committed tid stands for (seconds since the epoch)", NULL);
	gauges->backup_tid_time = neo_metrics_gauge(r, "neo_master_backup_tid_timestamp_seconds",
		"Backing up: the time the backup tid stands for (all cells hold the upstream "
		"history up to it)", NULL);
	gauges->backup_lag = neo_metrics_gauge(r, "neo_master_backup_lag_seconds",
		"Backing up: seconds the backup tid is behind the upstream cluster's last tid", NULL);
	if (gauges->txns_begun == NULL || gauges->txns_finished == NULL || gauges->txns_aborted == NULL
	    || gauges->finish_seconds == NULL
	    || gauges->primary == NULL || gauges->state == NULL || gauges->pending == NULL
	    || gauges->last_tid_time == NULL || gauges->backup_tid_time == NULL
	    || gauges->backup_lag == NULL)
		return -1;
	return neo_metrics_add_collector(r, collect, m);
}
