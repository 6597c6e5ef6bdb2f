/*
 * test_durability - nothing acknowledged is lost, and the cluster comes
 * back by itself, when storages are killed and restarted under a commit
 * load (replicas 1):
 *   - a storage that rejoins while commits go on holds every transaction
 *     acknowledged meanwhile once its cells are UP_TO_DATE: the other
 *     storage is then killed and everything is read from it alone;
 *   - storages killed between lock and unlock leave no staged rows that
 *     would break the next verification: a cold restart of the whole
 *     cluster comes back RUNNING;
 *   - killing every storage at once and restarting them brings the
 *     cluster back with every cell UP_TO_DATE, without neoctl, with data
 *     and without.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define COMMITTERS 2
#define MAX_ACKED 200000

/* Every acknowledged commit: one new object each. */
struct acked {
	uint64_t oid, tid;
};

static struct acked acked[MAX_ACKED];
static atomic_int acked_count;
static atomic_bool committing;
static struct test_cluster tc;

static void value_of(uint64_t oid, char *buf, size_t len)
{
	snprintf(buf, len, "object %" PRIu64, oid);
}

static void *committer(void *arg)
{
	struct neo_client *client = NULL;

	(void)arg;
	while (atomic_load(&committing)) {
		uint64_t oid, tid;
		char value[64];

		if (client == NULL && cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
			client = NULL;
			usleep(100000);
			continue;
		}
		if (neo_client_new_oids(client, 1, &oid) != NEO_CLIENT_OK) {
			usleep(50000);
			continue;
		}
		value_of(oid, value, sizeof value);
		tid = cluster_commit(client, oid, 0, value);
		if (tid) {
			int at = atomic_fetch_add(&acked_count, 1);

			if (at < MAX_ACKED)
				acked[at] = (struct acked){ oid, tid };
		} else {
			usleep(20000);
		}
	}
	if (client)
		neo_client_close(client);
	return NULL;
}

/* Every acknowledged commit, read by serial from a fresh client. */
static int count_lost(int upto)
{
	struct neo_client *client = NULL;
	int lost = 0;

	if (cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK)
		return upto;
	for (int i = 0; i < upto && i < MAX_ACKED; i++) {
		struct neo_client_record record;
		char value[64];

		value_of(acked[i].oid, value, sizeof value);
		if (neo_client_load_serial(client, acked[i].oid, acked[i].tid, &record) != NEO_CLIENT_OK) {
			if (lost++ < 5)
				fprintf(stderr, "# lost: oid %" PRIu64 " tid %016" PRIx64 ": %s\n",
					acked[i].oid, acked[i].tid, neo_client_errmsg());
			continue;
		}
		if (record.size != strlen(value) || memcmp(record.data, value, record.size) != 0)
			lost++;
		neo_client_record_clear(&record);
	}
	neo_client_close(client);
	return lost;
}

/* RUNNING, and no cell OUT_OF_DATE or FEEDING, within ms. */
static bool all_up(int ms)
{
	char out[4096];

	for (int waited = 0; waited <= ms; waited += 100) {
		if (cluster_neoctl(&tc, out, sizeof out, "print cluster") == 0
		    && strstr(out, "RUNNING")) {
			bool settled = cluster_neoctl(&tc, out, sizeof out, "print pt") == 0;

			for (char *line = strtok(out, "\n"); settled && line; line = strtok(NULL, "\n")) {
				char *cells = strrchr(line, ' ');

				if (line[0] == 'S' && cells && strpbrk(cells, "OF."))
					settled = false;
			}
			if (settled)
				return true;
		}
		usleep(100000);
	}
	return false;
}

static void start_load(pthread_t *threads)
{
	atomic_store(&committing, true);
	for (int i = 0; i < COMMITTERS; i++)
		pthread_create(&threads[i], NULL, committer, NULL);
}

static void stop_load(pthread_t *threads)
{
	atomic_store(&committing, false);
	for (int i = 0; i < COMMITTERS; i++)
		pthread_join(threads[i], NULL);
}

/* Kills storage victim, restarts it under load, waits until it is up to
 * date, then kills the other and reads everything from it alone. */
static bool rejoin_round(int round, int victim)
{
	int other = 1 - victim, upto;
	bool ok;

	cluster_kill(&tc.storages[victim], SIGKILL);
	usleep(100000 + 150000 * (round % 4));
	cluster_start_storage(&tc, victim);
	if (!all_up(60000)) {
		tap_diag("round %d: S%d did not catch up", round, victim + 1);
		return false;
	}
	upto = atomic_load(&acked_count);
	cluster_kill(&tc.storages[other], SIGKILL);
	ok = count_lost(upto) == 0;
	if (!ok)
		tap_diag("round %d: storage %d, rejoined, lacks acknowledged commits", round, victim);
	cluster_start_storage(&tc, other);
	return all_up(60000) && ok;
}

static void rejoin_under_load(void)
{
	pthread_t threads[COMMITTERS];
	int rounds = 8, good = 0, before;

	cluster_init(&tc, "durable", 4, 1, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	tap_ok(all_up(30000), "the cluster runs");
	start_load(threads);
	usleep(500000);
	for (int round = 0; round < rounds; round++)
		good += rejoin_round(round, round % 2);
	before = atomic_load(&acked_count);
	tap_ok(good == rounds,
	       "a storage that rejoins under load holds every acknowledged commit (%d/%d rounds)",
	       good, rounds);
	stop_load(threads);
	tap_ok(atomic_load(&acked_count) > before && before > 0, "commits went on (%d acknowledged)",
	       atomic_load(&acked_count));
	/* A verification after all these kills between lock and unlock. */
	cluster_kill(&tc.masters[0], SIGKILL);
	for (int i = 0; i < tc.storage_count; i++)
		cluster_kill(&tc.storages[i], SIGKILL);
	cluster_start(&tc);
	tap_ok(all_up(60000), "after a cold restart the cluster comes back RUNNING, every cell U");
	tap_ok(count_lost(atomic_load(&acked_count)) == 0,
	       "every acknowledged commit reads back after the cold restart (%d)",
	       atomic_load(&acked_count));
	tap_ok(cluster_storage_log_count(&tc, "cannot be trusted") == 0,
	       "no storage stopped on a database error");
	cluster_stop(&tc);
}

static void restart_all_storages(void)
{
	pthread_t threads[COMMITTERS];
	int rounds = 4, good = 0;

	cluster_init(&tc, "allstor", 4, 1, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	tap_ok(all_up(30000), "a new cluster runs");
	/* An empty cluster first. */
	for (int i = 0; i < tc.storage_count; i++)
		cluster_kill(&tc.storages[i], SIGKILL);
	for (int i = 0; i < tc.storage_count; i++)
		cluster_start_storage(&tc, i);
	tap_ok(all_up(30000), "an empty cluster whose storages all restarted runs again");
	atomic_store(&acked_count, 0);
	for (int round = 0; round < rounds; round++) {
		start_load(threads);
		usleep(400000);
		for (int i = 0; i < tc.storage_count; i++)
			cluster_kill(&tc.storages[i], SIGKILL);
		for (int i = 0; i < tc.storage_count; i++)
			cluster_start_storage(&tc, round % 2 ? tc.storage_count - 1 - i : i);
		stop_load(threads);
		if (all_up(60000))
			good++;
		else
			tap_diag("round %d: the cluster did not come back", round);
	}
	tap_ok(good == rounds, "killing every storage at once: back to RUNNING, every cell U, "
	       "without neoctl (%d/%d rounds)", good, rounds);
	tap_ok(count_lost(atomic_load(&acked_count)) == 0,
	       "every acknowledged commit reads back (%d)", atomic_load(&acked_count));
	cluster_stop(&tc);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	rejoin_under_load();
	restart_all_storages();
	return tap_done();
}
