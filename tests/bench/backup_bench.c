/*
 * backup_bench - figures of backup mode (make bench-backup), on clusters
 * of this build on 127.0.0.1 (sqlite storages):
 *   - lag under a steady commit load: a client commits RATE transactions
 *     a second (one new 1 KiB object each and an update of an older one)
 *     for SECONDS; every 100 ms the backup tid is read (neoctl print
 *     ids) and the lag is how long the oldest commit the backup does not
 *     hold yet has waited (0 when it holds everything);
 *   - catch-up speed: the backup cluster is stopped, MB of incompressible
 *     data are committed upstream (256 KiB values), the backup is started
 *     again: the MB divided by the time from its start until its backup
 *     tid reaches the upstream last tid (restart included).
 * Usage: backup_bench [SECONDS [RATE [MB]]]   (defaults 10 100 64)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster_util.h"

#define MAX_COMMITS 100000

static struct test_cluster up, bk;
static uint64_t commit_tids[MAX_COMMITS];
static double commit_times[MAX_COMMITS];
static int commit_count;
static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool sampling;
static double lags[100000];
static int lag_count;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t backup_tid(void)
{
	char out[2048];
	const char *at;

	if (cluster_neoctl(&bk, out, sizeof out, "print ids") != 0)
		return 0;
	at = strstr(out, "backup_tid = 0x");
	return at ? strtoull(at + 15, NULL, 16) : 0;
}

static void start_backup(void)
{
	char masters[256];
	const char *extra[] = { "-A", "1", "-C", up.name, "-M", NULL, "-B", NULL };

	extra[5] = cluster_masters(&up, masters, sizeof masters);
	cluster_start_master_noauto(&bk, 0, extra);
	usleep(200000);
	cluster_start_storage(&bk, 0);
	cluster_start_admin(&bk);
}

static uint64_t commit(struct neo_client *c, uint64_t oid, uint64_t serial, const void *data,
		       size_t size, uint64_t oid2, uint64_t serial2)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t tid = 0;

	if (neo_client_begin(c, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (neo_txn_store(txn, oid, serial, data, size) != NEO_CLIENT_OK
	    || (oid2 && neo_txn_store(txn, oid2, serial2, data, size < 64 ? size : 64)
			!= NEO_CLIENT_OK)
	    || neo_txn_vote(txn, "bench", 5, "", 0, "", 0, &conflicts, &count) != NEO_CLIENT_OK
	    || neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

static void fill_random(uint8_t *buf, size_t size, unsigned *seed)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)rand_r(seed);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* How long the oldest commit after tid has waited at time t. */
static double lag_at(uint64_t tid, double t)
{
	double lag = 0;

	pthread_mutex_lock(&commit_lock);
	for (int i = 0; i < commit_count; i++)
		if (commit_tids[i] > tid) {
			lag = t > commit_times[i] ? t - commit_times[i] : 0;
			break;
		}
	pthread_mutex_unlock(&commit_lock);
	return lag;
}

/* Every 100 ms (or as fast as neoctl answers), the lag. */
static void *sampler(void *arg)
{
	(void)arg;
	while (atomic_load(&sampling)) {
		double t0 = now();
		uint64_t tid = backup_tid();
		double t = now();	/* after: the commits it could know */

		if (lag_count < 100000)
			lags[lag_count++] = lag_at(tid, t);
		t = t0;
		while (now() < t + 0.1)
			usleep(5000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 10, rate = argc > 2 ? atoi(argv[2]) : 100;
	int mb = argc > 3 ? atoi(argv[3]) : 64;
	static uint8_t value[262144];
	pthread_t thread;
	unsigned seed = 1;
	struct neo_client *c = NULL;
	uint64_t oids[4096], serials[4096], last = 0;
	double start, end, t0;
	size_t bytes = 0;

	cluster_die_with_parent(true);
	cluster_init(&up, "benchup", 8, 0, 2, 1);
	cluster_init(&bk, "benchbk", 8, 0, 1, 1);
	cluster_start(&up);
	start_backup();
	if (cluster_client(&up, NULL, &c, NULL, NULL) != NEO_CLIENT_OK) {
		fprintf(stderr, "backup_bench: no upstream cluster: %s\n", neo_client_errmsg());
		cluster_stop(&bk);
		cluster_stop(&up);
		return 1;
	}
	if (!cluster_neoctl_wait(&bk, "print cluster", "BACKINGUP", 30000)) {
		fprintf(stderr, "backup_bench: the backup cluster is not BACKINGUP\n");
		neo_client_close(c);
		cluster_stop(&bk);
		cluster_stop(&up);
		return 1;
	}

	/* 1. steady load */
	fill_random(value, 1024, &seed);
	start = now();
	end = start + seconds;
	atomic_store(&sampling, true);
	pthread_create(&thread, NULL, sampler, NULL);
	for (int i = 0; now() < end && commit_count < MAX_COMMITS; i++) {
		double due = start + (double)i / rate;
		uint64_t tid;
		int k = i % 4096;

		while (now() < due)
			usleep(500);
		if (i < 4096 && neo_client_new_oids(c, 1, &oids[k]) != NEO_CLIENT_OK)
			break;
		if (i < 4096)
			serials[k] = 0;
		tid = commit(c, oids[k], serials[k], value, 1024, i > 0 ? oids[(i - 1) % 4096] : 0,
			     i > 0 ? serials[(i - 1) % 4096] : 0);
		if (tid == 0)
			continue;
		serials[k] = tid;
		if (i > 0)
			serials[(i - 1) % 4096] = tid;
		pthread_mutex_lock(&commit_lock);
		commit_tids[commit_count] = tid;
		commit_times[commit_count++] = now();
		pthread_mutex_unlock(&commit_lock);
		last = tid;
	}
	atomic_store(&sampling, false);
	pthread_join(thread, NULL);
	t0 = now();
	while (backup_tid() < last && now() < t0 + 60)
		usleep(20000);
	if (lag_count) {
		double sum = 0;
		int n = lag_count;

		for (int i = 0; i < n; i++)
			sum += lags[i];
		qsort(lags, n, sizeof *lags, compare_double);
		printf("backup lag, %d commits/s for %d s (%d commits, %d samples): mean %.3f s, "
		       "median %.3f s, p95 %.3f s, max %.3f s; final catch-up %.3f s\n",
		       rate, seconds, commit_count, n, sum / n, lags[n / 2], lags[n * 95 / 100],
		       lags[n - 1], now() - t0);
	}

	/* 2. catch-up after a stop */
	cluster_stop(&bk);
	for (int i = 0; bytes < (size_t)mb << 20; i++) {
		uint64_t oid, tid;

		fill_random(value, sizeof value, &seed);
		if (neo_client_new_oids(c, 1, &oid) != NEO_CLIENT_OK)
			break;
		tid = commit(c, oid, 0, value, sizeof value, 0, 0);
		if (tid == 0)
			break;
		bytes += sizeof value;
		last = tid;
	}
	t0 = now();
	start_backup();
	while (backup_tid() < last && now() < t0 + 600)
		usleep(20000);
	end = now();
	if (backup_tid() >= last)
		printf("catch-up: %.1f MB committed while the backup was stopped, caught up in "
		       "%.2f s after its start: %.1f MB/s\n", bytes / 1048576.0, end - t0,
		       bytes / 1048576.0 / (end - t0));
	else
		printf("catch-up: not caught up within 600 s\n");
	neo_client_close(c);
	cluster_stop(&bk);
	cluster_stop(&up);
	return 0;
}
