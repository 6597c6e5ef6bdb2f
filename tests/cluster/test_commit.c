/*
 * test_commit - commits and loads through libneoclient on real clusters:
 * 1 storage without replicas and 3 storages with 1 replica, 12
 * partitions; two clients see invalidations in commit order; a
 * write-write conflict names the committed serial; the whole cluster is
 * stopped and started again and keeps every object; every daemon stops
 * with status 0 on SIGINT/SIGTERM, an unidentified connection open (no
 * leak at exit in sanitized builds).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define OBJECTS 60

struct seen {
	uint64_t tids[256];
	int count;
};

static void on_invalidate(void *arg, uint64_t tid, const uint64_t *oids, size_t count)
{
	struct seen *seen = arg;

	(void)oids;
	(void)count;
	if (seen->count < 256)
		seen->tids[seen->count++] = tid;
}

static bool load_is(struct neo_client *client, uint64_t oid, const char *data)
{
	struct neo_client_record record;
	bool same;

	if (neo_client_load(client, oid, &record) != NEO_CLIENT_OK)
		return false;
	same = record.size == strlen(data) && memcmp(record.data, data, record.size) == 0;
	neo_client_record_clear(&record);
	return same;
}

static void commit_and_load(struct test_cluster *tc, const char *what)
{
	struct neo_client *client = NULL;
	uint64_t oids[OBJECTS], tids[OBJECTS];
	char data[64];
	bool all_committed = true, all_loaded = true;
	int rc = cluster_client(tc, NULL, &client, NULL, NULL);

	tap_ok(rc == NEO_CLIENT_OK, "%s: client connects (%s)", what, neo_client_errmsg());
	if (rc != NEO_CLIENT_OK)
		return;
	tap_ok(neo_client_new_oids(client, OBJECTS, oids) == NEO_CLIENT_OK, "%s: new oids", what);
	for (int i = 0; i < OBJECTS; i++) {
		snprintf(data, sizeof data, "object %d of %s", i, what);
		tids[i] = cluster_commit(client, oids[i], 0, data);
		all_committed &= tids[i] != 0;
	}
	tap_ok(all_committed, "%s: %d transactions committed", what, OBJECTS);
	for (int i = 1; i < OBJECTS; i++)
		all_committed &= tids[i] > tids[i - 1];
	tap_ok(all_committed, "%s: tids increase", what);
	for (int i = 0; i < OBJECTS; i++) {
		snprintf(data, sizeof data, "object %d of %s", i, what);
		all_loaded &= load_is(client, oids[i], data);
	}
	tap_ok(all_loaded, "%s: every object loads back", what);
	neo_client_close(client);
}

static void two_clients(struct test_cluster *tc)
{
	struct neo_client *a = NULL, *b = NULL;
	struct seen seen = { 0 };
	uint64_t oid, tids[5], serial;
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	bool in_order = true;
	int rc;

	cluster_client(tc, NULL, &a, NULL, NULL);
	cluster_client(tc, NULL, &b, on_invalidate, &seen);
	if (a == NULL || b == NULL) {
		tap_ok(false, "two clients connect");
		return;
	}
	neo_client_new_oids(a, 1, &oid);
	serial = 0;
	for (int i = 0; i < 5; i++) {
		tids[i] = cluster_commit(a, oid, serial, i % 2 ? "odd" : "even");
		serial = tids[i];
	}
	neo_client_sync(b);
	tap_ok(seen.count >= 5, "second client got the invalidations (%d)", seen.count);
	for (int i = 0; i < 5 && i < seen.count; i++)
		in_order &= seen.tids[seen.count - 5 + i] == tids[i];
	tap_ok(in_order, "invalidations arrive in commit order");
	tap_ok(load_is(b, oid, "even"), "second client loads the last revision");
	/* b stores against a stale serial. */
	rc = neo_client_begin(b, 0, &txn);
	neo_txn_store(txn, oid, tids[3], "stale", 5);
	rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count);
	tap_ok(rc == NEO_CLIENT_CONFLICT && count == 1 && conflicts[0].committed_serial == tids[4],
	   "write-write conflict reports the committed serial");
	neo_client_conflicts_free(conflicts, count);
	neo_txn_abort(txn);
	tap_ok(cluster_commit(b, oid, tids[4], "resolved") != 0, "storing again on the new serial commits");
	neo_client_close(a);
	neo_client_close(b);
}

static void restart(struct test_cluster *tc)
{
	struct neo_client *client = NULL;
	uint64_t oid, tid;
	int rc;

	rc = cluster_client(tc, NULL, &client, NULL, NULL);
	if (rc != NEO_CLIENT_OK) {
		tap_ok(false, "committed before the restart: %s", neo_client_errmsg());
		return;
	}
	neo_client_new_oids(client, 1, &oid);
	tid = cluster_commit(client, oid, 0, "survives a restart");
	neo_client_close(client);
	tap_ok(tid != 0, "committed before the restart");
	cluster_stop(tc);
	cluster_start(tc);
	rc = cluster_client(tc, NULL, &client, NULL, NULL);
	tap_ok(rc == NEO_CLIENT_OK, "cluster runs again after a full restart (%s)", neo_client_errmsg());
	if (rc == NEO_CLIENT_OK) {
		tap_ok(load_is(client, oid, "survives a restart"), "object is there after the restart");
		neo_client_close(client);
	} else {
		tap_ok(false, "object is there after the restart");
	}
}

/* Waits up to 10 s for pid; true if it exited with status 0. */
static bool stopped_cleanly(pid_t *pid)
{
	int status;

	for (int waited = 0; waited < 200; waited++) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		}
		usleep(50000);
	}
	return false;
}

/* A TCP connection to port that says nothing: accepted, never identified. */
static int silent_peer(int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Every daemon stops cleanly, with status 0, on SIGINT and on SIGTERM,
 * with an accepted connection not identified yet: sanitized builds find
 * no leak at exit (LeakSanitizer's exit status, and cluster_stop's check
 * of the reports). */
static void signals(struct test_cluster *tc)
{
	pid_t admin = cluster_start_admin(tc);
	int silent[4];

	usleep(300000);
	silent[0] = silent_peer(tc->storage_ports[0]);
	silent[1] = silent_peer(tc->storage_ports[1]);
	silent[2] = silent_peer(tc->admin_port);
	silent[3] = silent_peer(tc->master_ports[0]);
	usleep(200000);
	kill(tc->storages[0], SIGINT);
	kill(tc->storages[1], SIGTERM);
	kill(admin, SIGINT);
	tc->admin = 0;
	tap_ok(stopped_cleanly(&tc->storages[0]), "neostorage stops cleanly on SIGINT");
	tap_ok(stopped_cleanly(&tc->storages[1]), "neostorage stops cleanly on SIGTERM");
	tap_ok(stopped_cleanly(&admin), "neoadmin stops cleanly on SIGINT");
	kill(tc->masters[0], SIGTERM);
	tap_ok(stopped_cleanly(&tc->masters[0]), "neomaster stops cleanly on SIGTERM");
	for (int i = 0; i < 4; i++)
		if (silent[i] >= 0)
			close(silent[i]);
}

int main(void)
{
	struct test_cluster single, triple;

	cluster_init(&single, "single", 12, 0, 1, 1);
	cluster_start(&single);
	commit_and_load(&single, "1 storage");
	cluster_stop(&single);

	cluster_init(&triple, "triple", 12, 1, 3, 1);
	cluster_start(&triple);
	commit_and_load(&triple, "3 storages, 1 replica");
	two_clients(&triple);
	restart(&triple);
	signals(&triple);
	cluster_stop(&triple);
	return tap_done();
}
