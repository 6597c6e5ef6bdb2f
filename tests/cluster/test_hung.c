/*
 * test_hung - a storage that stops answering without closing anything
 * (SIGSTOP: its kernel still accepts and acknowledges) must not stall the
 * cluster.  Replicas 1, 2 storages, a client committing all along: while
 * one storage is stopped for 30 s, the master drops it for not answering
 * pings and commits go on with the other replica; once continued, the
 * storage learns it was dropped, comes back and replicates until every
 * cell is UP_TO_DATE again; a fresh client reads back every acknowledged
 * commit.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define MAX_COMMITS 4000
#define STOP_SECONDS 30

struct committer {
	struct neo_client *client;
	volatile bool stop;
	pthread_mutex_t lock;
	int count;
	uint64_t oids[MAX_COMMITS], tids[MAX_COMMITS], acked_ms[MAX_COMMITS];
	int failures;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void data_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "hung storage, commit %d", i);
}

/* Commits one new object after another; failed commits are retried with
 * the next one (the test counts acknowledged ones only). */
static void *commit_loop(void *arg)
{
	struct committer *cm = arg;
	char data[64];

	while (!cm->stop && cm->count < MAX_COMMITS) {
		uint64_t oid, tid;
		int i = cm->count;

		if (neo_client_new_oids(cm->client, 1, &oid) != NEO_CLIENT_OK) {
			cm->failures++;
			usleep(200000);
			continue;
		}
		data_of(i, data, sizeof data);
		tid = cluster_commit(cm->client, oid, 0, data);
		if (tid == 0) {
			cm->failures++;
			tap_diag("commit failed: %s", neo_client_errmsg());
			usleep(200000);
			continue;
		}
		pthread_mutex_lock(&cm->lock);
		cm->oids[i] = oid;
		cm->tids[i] = tid;
		cm->acked_ms[i] = now_ms();
		cm->count = i + 1;
		pthread_mutex_unlock(&cm->lock);
		usleep(50000);
	}
	return NULL;
}

/* Acknowledged commits in [from, to), and the first one's time. */
static int acked_between(struct committer *cm, uint64_t from, uint64_t to, uint64_t *first)
{
	int n = 0;

	*first = 0;
	pthread_mutex_lock(&cm->lock);
	for (int i = 0; i < cm->count; i++)
		if (cm->acked_ms[i] >= from && cm->acked_ms[i] < to) {
			if (n++ == 0)
				*first = cm->acked_ms[i];
		}
	pthread_mutex_unlock(&cm->lock);
	return n;
}

/* Polls print pt until both storages run and no cell is OUT_OF_DATE (O)
 * or FEEDING (F). */
static bool all_up_to_date(struct test_cluster *tc, int ms, char *out, size_t len)
{
	for (int waited = 0; waited <= ms; waited += 500) {
		const char *rows;

		cluster_neoctl(tc, out, len, "print pt");
		rows = strchr(out, '\n');
		if (rows && !strpbrk(rows, "OF") && strstr(out, "S1 R UUUU")
		    && strstr(out, "S2 R UUUU"))
			return true;
		usleep(500000);
	}
	return false;
}

static bool reads_back(struct test_cluster *tc, struct committer *cm)
{
	struct neo_client *fresh = NULL;
	int bad = 0;
	char data[64];

	if (cluster_client(tc, NULL, &fresh, NULL, NULL) != NEO_CLIENT_OK) {
		tap_diag("fresh client: %s", neo_client_errmsg());
		return false;
	}
	for (int i = 0; i < cm->count; i++) {
		struct neo_client_record record;

		data_of(i, data, sizeof data);
		if (neo_client_load(fresh, cm->oids[i], &record) != NEO_CLIENT_OK) {
			tap_diag("commit %d: %s", i, neo_client_errmsg());
			bad++;
			continue;
		}
		if (record.serial != cm->tids[i] || record.size != strlen(data)
		    || memcmp(record.data, data, record.size) != 0)
			bad++;
		neo_client_record_clear(&record);
	}
	neo_client_close(fresh);
	return bad == 0;
}

/* Loads the first count commits; returns how many read back right. */
static int loads_before(struct neo_client *client, struct committer *cm, int count)
{
	int good = 0;
	char data[64];

	for (int i = 0; i < count; i++) {
		struct neo_client_record record;

		data_of(i, data, sizeof data);
		if (neo_client_load(client, cm->oids[i], &record) != NEO_CLIENT_OK) {
			tap_diag("load of commit %d during the stop: %s", i, neo_client_errmsg());
			continue;
		}
		good += record.size == strlen(data) && memcmp(record.data, data, record.size) == 0;
		neo_client_record_clear(&record);
	}
	return good;
}

/* Loads of what was committed before the stop, from their own thread so
 * that the stop lasts STOP_SECONDS whatever they do. */
struct reads {
	struct neo_client *client;
	struct committer *cm;
	int count, good;
	uint64_t done_ms;
};

static void *read_thread(void *arg)
{
	struct reads *r = arg;

	r->good = loads_before(r->client, r->cm, r->count);
	r->done_ms = now_ms();
	return NULL;
}

/* The committer logs to client.log in the cluster directory. */
static int open_logged_client(struct test_cluster *tc, struct neo_client **client)
{
	struct neo_client_config config = { .struct_size = sizeof config };
	char masters[256], log[512];

	snprintf(log, sizeof log, "%s/client.log", tc->dir);
	config.cluster = tc->name;
	config.masters = cluster_masters(tc, masters, sizeof masters);
	config.compress = -1;
	config.connect_timeout_ms = 20000;
	config.logfile = log;
	return neo_client_open(&config, client);
}

static void hung_storage(void)
{
	static struct committer cm;
	struct test_cluster tc;
	pthread_t thread;
	uint64_t stopped, continued, first, back;
	int before, during;
	char out[4096];
	struct neo_client *reader;
	struct reads reads = { .cm = &cm };
	pthread_t read_tid;
	bool ok;

	cluster_init(&tc, "hung", 4, 1, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	pthread_mutex_init(&cm.lock, NULL);
	if (open_logged_client(&tc, &cm.client) != NEO_CLIENT_OK) {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
		cluster_stop(&tc);
		return;
	}
	pthread_create(&thread, NULL, commit_loop, &cm);
	sleep(3);
	before = acked_between(&cm, 0, now_ms(), &first);
	tap_ok(before > 0, "commits before the stop (%d)", before);

	if (cluster_client(&tc, NULL, &reader, NULL, NULL) != NEO_CLIENT_OK)
		reader = NULL;
	stopped = now_ms();
	kill(tc.storages[1], SIGSTOP);
	/* Loads of what was committed before: a load sent to the stopped
	 * storage waits until the link to it is dropped, then fails over. */
	reads.client = reader;
	reads.count = before;
	if (reader)
		pthread_create(&read_tid, NULL, read_thread, &reads);
	while (now_ms() - stopped < STOP_SECONDS * 1000)
		usleep(100000);
	continued = now_ms();
	during = acked_between(&cm, stopped, continued, &first);
	tap_ok(during > 0, "commits go on while a storage is stopped (%d in %d s, the first after "
	       "%.1f s)", during, STOP_SECONDS, first ? (double)(first - stopped) / 1000 : -1.0);
	/* Whoever notices first: the master's pings, or a client whose link
	 * to it timed out and whose vote says it missed writes. */
	tap_ok(cluster_log_has(&tc, "master0.log", "no answer to ping", 0)
	       || cluster_log_has(&tc, "master0.log", "missed writes of", 0),
	       "the master dropped the storage (no answer to ping, or missed writes)");
	kill(tc.storages[1], SIGCONT);
	if (reader)
		pthread_join(read_tid, NULL);
	tap_ok(reader && reads.good == before && reads.done_ms < continued,
	       "a client opened before the stop reads all %d earlier commits during it (%d, "
	       "in %.1f s)", before, reads.good,
	       reads.done_ms ? (double)(reads.done_ms - stopped) / 1000 : -1.0);

	ok = all_up_to_date(&tc, 120000, out, sizeof out);
	back = now_ms();
	tap_ok(ok, "continued, the storage comes back and every cell is UP_TO_DATE again (%.1f s)",
	       (double)(back - continued) / 1000);
	if (!ok)
		tap_diag("print pt:\n%s", out);
	sleep(2);
	tap_ok(acked_between(&cm, back, now_ms(), &first) > 0, "commits go on afterwards");
	cm.stop = true;
	pthread_join(thread, NULL);
	/* As an operator would after the incident: compare the replicas. */
	cluster_neoctl(&tc, out, sizeof out, "check :");
	for (int waited = 0; waited < 300 &&
			     cluster_storage_log_count(&tc, ": replicas are equal") < 4; waited++)
		usleep(100000);
	tap_ok(cluster_storage_log_count(&tc, ": replicas are equal") >= 4
	       && cluster_log_count(&tc, "master0.log", "is corrupted") == 0,
	       "neoctl check finds the replicas of the 4 partitions equal");
	if (!tap_ok(reads_back(&tc, &cm), "a fresh client reads back all %d acknowledged commits",
		    cm.count))
		tap_diag("logs kept in %s", tc.dir);
	neo_client_close(cm.client);
	if (reader)
		neo_client_close(reader);
	cluster_stop(&tc);
}

int main(void)
{
	hung_storage();
	return tap_done();
}
