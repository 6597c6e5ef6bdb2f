/*
 * storage/metrics.c - what neostorage counts for --metrics: commits,
 * aborts and conflicts, loads and their latency, replication, its own
 * cells and transactions (the README's Metrics section).  Counters are
 * bumped where things happen (txn.c, read.c, replication.c); gauges are
 * read from the node's state when the registry is scraped.
 */
#include "storage/storage.h"

#include <stdio.h>
#include <time.h>

#include "cluster/tid.h"

/* Load latency buckets, in seconds: from a cached row (~50 us) to a
 * backend that stalls. */
static const double load_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				       0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

static const enum neo_cell_state cell_states[] = {
	NEO_CELL_UP_TO_DATE, NEO_CELL_OUT_OF_DATE, NEO_CELL_FEEDING, NEO_CELL_CORRUPTED
};

double storage_metrics_clock(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void storage_metrics_load(struct storage *s, double started)
{
	neo_metric_inc(s->metrics.loads);
	(void)neo_metric_observe(s->metrics.load_seconds, NULL, storage_metrics_clock() - started);
}

void storage_metrics_tid(struct storage *s, uint64_t tid)
{
	if (tid > s->newest_tid && tid <= NEO_MAX_TID)
		s->newest_tid = tid;
}

/* Own cells by state, every state written (0 included). */
static void collect_cells(struct storage *s)
{
	double counts[sizeof(cell_states) / sizeof(cell_states[0])] = { 0 };

	for (uint32_t p = 0; p < s->pt.num_partitions; p++) {
		int state = storage_cell_state(s, p);

		for (size_t i = 0; i < sizeof(cell_states) / sizeof(cell_states[0]); i++)
			if (state == (int)cell_states[i])
				counts[i]++;
	}
	for (size_t i = 0; i < sizeof(cell_states) / sizeof(cell_states[0]); i++) {
		const char *values[] = { neo_enum_name(NEO_ENUM_CELL_STATES, (int)cell_states[i]) };

		(void)neo_metric_set(s->metrics.cells, values, counts[i]);
	}
}

/*
 * Per own OUT_OF_DATE cell complete up to T (its stored pt.tid, moved
 * after each replication pass): how far T is behind the newest tid the
 * node knows committed.  A cell with nothing yet (T = 0) has no series:
 * its lag is not a time.
 */
static void collect_lag(struct storage *s)
{
	int64_t *own;

	neo_metric_clear(s->metrics.replication_lag);
	if (s->db == NULL || s->pt.num_partitions == 0)
		return;
	own = storage_own_cell_tids(s, s->pt.num_partitions);
	if (own == NULL)
		return;
	for (uint32_t p = 0; p < s->pt.num_partitions; p++) {
		char partition[16];
		const char *values[] = { partition };
		double lag;

		if (storage_cell_state(s, p) != NEO_CELL_OUT_OF_DATE || own[p] <= 0)
			continue;
		lag = s->newest_tid > (uint64_t)own[p]
		      ? neo_tid_to_time(s->newest_tid) - neo_tid_to_time((uint64_t)own[p]) : 0;
		snprintf(partition, sizeof(partition), "%u", p);
		(void)neo_metric_set(s->metrics.replication_lag, values, lag);
	}
	neo_free(own);
}

/* Only with a module that has db_size [1.1, optional]: otherwise the
 * metric has no series (core/neo/backend.md section 4). */
static void collect_database_size(struct storage *s)
{
	uint64_t bytes;

	if (s->db != NULL && storage_backend_has(s, db_size)
	    && s->be->db_size(s->db, &bytes) == NEO_BACKEND_OK)
		neo_metric_put(s->metrics.database_size, (double)bytes);
}

static void collect(struct neo_metrics *registry, void *arg)
{
	struct storage *s = arg;

	(void)registry;
	collect_database_size(s);
	collect_cells(s);
	collect_lag(s);
	neo_metric_put(s->metrics.transactions, (double)s->txns.count);
}

int storage_metrics_init(struct storage *s, struct neo_metrics *r)
{
	static const char *const state[] = { "state", NULL };
	static const char *const partition[] = { "partition", NULL };
	struct storage_metrics *m = &s->metrics;

	m->commits = neo_metrics_counter(r, "neo_storage_commits_total",
		"Transactions committed (unlocked) on this storage", NULL);
	m->aborts = neo_metrics_counter(r, "neo_storage_aborts_total",
		"Transactions aborted on this storage (by their client, the master, or a lost client)",
		NULL);
	m->conflicts = neo_metrics_counter(r, "neo_storage_conflicts_total",
		"Stores and checks answered with a conflict (the object changed since the "
		"client read it)", NULL);
	m->loads = neo_metrics_counter(r, "neo_storage_loads_total",
		"Object loads answered (found or not)", NULL);
	m->load_seconds = neo_metrics_histogram(r, "neo_storage_load_duration_seconds",
		"Time to serve an object load, from its request (or from its retry, "
		"for one that waited for a lock) to its answer", NULL,
		load_buckets, sizeof(load_buckets) / sizeof(load_buckets[0]));
	m->replicated_bytes = neo_metrics_counter(r, "neo_storage_replicated_bytes_total",
		"Bytes of object data and transaction metadata received by replication", NULL);
	m->replicated_transactions = neo_metrics_counter(r,
		"neo_storage_replicated_transactions_total",
		"Transactions received by replication", NULL);
	m->replication_lag = neo_metrics_gauge(r, "neo_storage_replication_lag_seconds",
		"Per own out-of-date cell: how far the tid it is complete up to is behind the "
		"newest tid this storage knows committed", partition);
	m->cells = neo_metrics_gauge(r, "neo_storage_cells",
		"Cells of this storage by state", state);
	m->transactions = neo_metrics_gauge(r, "neo_storage_transactions",
		"Transactions between their first store and their unlock or abort", NULL);
	m->database_size = neo_metrics_gauge(r, "neo_storage_database_size_bytes",
		"Bytes the backend's database takes, as the backend counts them "
		"(absent when the module cannot tell)", NULL);
	if (m->commits == NULL || m->aborts == NULL || m->conflicts == NULL || m->loads == NULL
	    || m->load_seconds == NULL || m->replicated_bytes == NULL
	    || m->replicated_transactions == NULL || m->replication_lag == NULL
	    || m->cells == NULL || m->transactions == NULL || m->database_size == NULL)
		return -1;
	return neo_metrics_add_collector(r, collect, s);
}
