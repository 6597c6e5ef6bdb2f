/*
 * test_faults - what the cluster survives: a storage killed with SIGKILL
 * in the middle of a stream of commits (replicas 1) loses no
 * acknowledged transaction and catches up when restarted; a killed
 * primary master is replaced by the spare and commits resume; a wrong
 * cluster name, another protocol version and garbage bytes are refused
 * with a log line while the master stays up.
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

#define STREAM 80

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

static void kill_storage(void)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	uint64_t oids[STREAM], tids[STREAM] = { 0 };
	char data[64];
	bool all = true;
	int acked = 0;

	cluster_init(&tc, "faults", 12, 1, 3, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	if (cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
		cluster_stop(&tc);
		return;
	}
	neo_client_new_oids(client, STREAM, oids);
	for (int i = 0; i < STREAM; i++) {
		if (i == STREAM / 2)
			cluster_kill(&tc.storages[1], SIGKILL);
		snprintf(data, sizeof data, "stream %d", i);
		tids[i] = cluster_commit(client, oids[i], 0, data);
		acked += tids[i] != 0;
	}
	tap_ok(acked == STREAM, "commits go on while a storage is killed (%d/%d)", acked, STREAM);
	for (int i = 0; i < STREAM; i++) {
		snprintf(data, sizeof data, "stream %d", i);
		if (tids[i])
			all &= load_is(client, oids[i], data);
	}
	tap_ok(all, "no acknowledged transaction is lost");
	cluster_start_storage(&tc, 1);
	/* Its 8 cells (12 partitions x 2 copies / 3 nodes) catch up. */
	for (int waited = 0; waited < 300 && cluster_log_count(&tc, "master0.log", "replicated by S") < 8;
	     waited++)
		usleep(100000);
	tap_ok(cluster_log_count(&tc, "master0.log", "replicated by S") >= 8,
	       "the restarted storage replicated its cells (%d)",
	       cluster_log_count(&tc, "master0.log", "replicated by S"));
	/* neoctl check: every partition's replicas compared, as an operator
	 * would after such an incident */
	tap_ok(cluster_neoctl(&tc, data, sizeof data, "check :") == 0, "neoctl check: accepted");
	for (int waited = 0; waited < 150 &&
			     cluster_storage_log_count(&tc, ": replicas are equal") < 12; waited++)
		usleep(100000);
	tap_ok(cluster_storage_log_count(&tc, ": replicas are equal") >= 12 &&
	       cluster_log_count(&tc, "master0.log", "is corrupted") == 0,
	       "neoctl check finds the replicas of the 12 partitions equal");
	cluster_kill(&tc.storages[0], SIGKILL);
	all = true;
	for (int i = 0; i < STREAM; i++) {
		snprintf(data, sizeof data, "stream %d", i);
		all &= load_is(client, oids[i], data);
	}
	tap_ok(all, "with another storage killed, every object is read from the caught-up one");
	neo_client_close(client);
	cluster_stop(&tc);
}

static void kill_primary(void)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	uint64_t oid, tid = 0;

	cluster_init(&tc, "failover", 4, 0, 1, 2);
	cluster_start(&tc);
	if (cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
		cluster_stop(&tc);
		return;
	}
	neo_client_new_oids(client, 1, &oid);
	tap_ok(cluster_commit(client, oid, 0, "before") != 0, "commit with two masters");
	neo_client_close(client);
	/* The first master started first: it is the primary. */
	cluster_kill(&tc.masters[0], SIGKILL);
	if (cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK) {
		tap_ok(load_is(client, oid, "before"), "the spare serves committed data");
		for (int i = 0; i < 20 && tid == 0; i++) {
			struct neo_client_record record;

			if (neo_client_load(client, oid, &record) == NEO_CLIENT_OK) {
				tid = cluster_commit(client, oid, record.serial, "after");
				neo_client_record_clear(&record);
			}
			if (tid == 0)
				usleep(200000);
		}
		tap_ok(tid != 0, "commits resume on the new primary");
		neo_client_close(client);
	} else {
		tap_ok(false, "the spare serves committed data: %s", neo_client_errmsg());
		tap_ok(false, "commits resume on the new primary");
	}
	cluster_stop(&tc);
}

static void send_raw(int port, const void *bytes, size_t size)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char buf[256];

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
		if (write(fd, bytes, size) < 0)
			perror("write");
		shutdown(fd, SHUT_WR);
		while (read(fd, buf, sizeof buf) > 0)
			;
	}
	close(fd);
}

static void bad_peers(void)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	static const uint8_t other_version[] = { 0x92, 0xa3, 'N', 'E', 'O', 0x04 };
	static const char garbage[] = "GET / HTTP/1.0\r\n\r\n";

	cluster_init(&tc, "strict", 4, 0, 1, 1);
	cluster_start(&tc);
	tap_ok(cluster_client(&tc, "not-strict", &client, NULL, NULL) != NEO_CLIENT_OK,
	       "a client with a wrong cluster name is refused");
	tap_ok(cluster_log_has(&tc, "master0.log", "wrong cluster name", 2000),
	       "the master logs the wrong cluster name");
	send_raw(tc.master_ports[0], other_version, sizeof other_version);
	tap_ok(cluster_log_has(&tc, "master0.log", "version", 2000),
	       "a peer of another protocol version is logged");
	send_raw(tc.master_ports[0], garbage, sizeof garbage - 1);
	tap_ok(cluster_log_count(&tc, "master0.log", "127.0.0.1") >= 2, "garbage bytes are logged");
	client = NULL;
	tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
	       "the master is still up and serves a good client");
	if (client)
		neo_client_close(client);
	cluster_stop(&tc);
}

/* A storage whose disk fills up in the middle of commits (replicas 1):
 * it stops with a clear message rather than go on with a database in
 * doubt; every acknowledged commit is on the other storage; once there is
 * room again, it comes back and catches up. */
static void full_disk(void)
{
	enum { COMMITS = 60, SIZE = 64 * 1024 };
	struct test_cluster tc;
	struct neo_client *client = NULL;
	uint64_t oids[COMMITS], tids[COMMITS] = { 0 };
	uint8_t *data = malloc(SIZE);
	bool all = true;
	int acked = 0, status = 0;

	if (strcmp(cluster_engine(), "sqlite") != 0) {
		/* the database server, not the storage, writes the files */
		tap_skip("full disk: made with a file size limit on a storage of the sqlite module");
		free(data);
		return;
	}
	cluster_init(&tc, "fulldisk", 4, 1, 2, 1);
	cluster_start_master(&tc, 0);
	usleep(200000);
	cluster_start_storage(&tc, 0);
	cluster_start_storage_limited(&tc, 1, 1536 * 1024);
	if (data == NULL || cluster_client(&tc, NULL, &client, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "client connects: %s", neo_client_errmsg());
		free(data);
		cluster_stop(&tc);
		return;
	}
	neo_client_new_oids(client, COMMITS, oids);
	srand(7);
	for (int i = 0; i < COMMITS; i++) {
		struct neo_txn *txn;
		struct neo_client_conflict *conflicts = NULL;
		size_t count = 0;

		/* incompressible, so that the bytes reach the disk */
		for (int k = 0; k < SIZE; k++)
			data[k] = (uint8_t)rand();
		data[0] = (uint8_t)i;
		if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK) {
			tap_diag("commit %d: begin: %s", i, neo_client_errmsg());
			continue;
		}
		if (neo_txn_store(txn, oids[i], 0, data, SIZE) == NEO_CLIENT_OK &&
		    neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count) == NEO_CLIENT_OK &&
		    neo_txn_finish(txn, &tids[i]) == NEO_CLIENT_OK) {
			acked++;
		} else {
			tap_diag("commit %d: %s", i, neo_client_errmsg());
			neo_txn_abort(txn);
		}
		neo_client_conflicts_free(conflicts, count);
	}
	tap_ok(waitpid(tc.storages[1], &status, WNOHANG) == tc.storages[1] &&
	       WIFEXITED(status) && WEXITSTATUS(status) == 1,
	       "the storage with a full disk stops (exit status 1)");
	tc.storages[1] = 0;
	tap_ok(cluster_log_has(&tc, "storage1.log", "backend error while", 0) &&
	       cluster_log_has(&tc, "storage1.log", "the database cannot be trusted", 0),
	       "and says why in its log");
	tap_ok(acked >= COMMITS - 1, "commits go on without it (%d/%d acknowledged)", acked,
	       COMMITS);
	for (int i = 0; i < COMMITS; i++) {
		struct neo_client_record rec = { 0 };

		if (tids[i] == 0)
			continue;
		all &= neo_client_load(client, oids[i], &rec) == NEO_CLIENT_OK &&
		       rec.serial == tids[i] && rec.size == SIZE && rec.data[0] == (uint8_t)i;
		neo_client_record_clear(&rec);
	}
	tap_ok(all, "every acknowledged commit reads back");
	cluster_start_storage(&tc, 1);
	for (int waited = 0; waited < 300 &&
			     cluster_log_count(&tc, "master0.log", "replicated by S") < 4; waited++)
		usleep(100000);
	tap_ok(cluster_log_count(&tc, "master0.log", "replicated by S") >= 4,
	       "with room again, it comes back and catches up");
	neo_client_close(client);
	free(data);
	cluster_stop(&tc);
}

int main(void)
{
	kill_storage();
	kill_primary();
	bad_peers();
	full_disk();
	return tap_done();
}
