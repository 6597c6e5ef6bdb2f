/*
 * test_deadlines - nothing waits for good:
 *
 *   - a client's finish, when the primary master is killed while the
 *     storage cannot lock (SIGSTOP), returns within its call timeout:
 *     with the tid if the transaction committed (then readable), or an
 *     error saying so; never hangs, whether the storage stays stopped
 *     past the call timeout or is continued at once;
 *   - hundreds of connections that never finish their handshake (silent,
 *     half a handshake, garbage, a handshake but no identification or
 *     request) are closed by the master, the storage and the admin after
 *     the identification deadline, while a real client connects and
 *     commits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "cluster_util.h"
#include "tap.h"

#define CALL_TIMEOUT_MS 15000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int open_client(struct test_cluster *tc, struct neo_client **client)
{
	struct neo_client_config config = { .struct_size = sizeof config };
	char masters[256];

	config.cluster = tc->name;
	config.masters = cluster_masters(tc, masters, sizeof masters);
	config.compress = -1;
	config.connect_timeout_ms = 20000;
	config.call_timeout_ms = CALL_TIMEOUT_MS;
	cluster_client_ssl(&config);
	return neo_client_open(&config, client);
}

/* --- Finish while the primary master dies --------------------------------------------------- */

struct finisher {
	struct neo_txn *txn;
	int status;
	char errmsg[256];
	uint64_t tid, took_ms;
	volatile bool done;
};

static void *finish_thread(void *arg)
{
	struct finisher *f = arg;
	uint64_t start = now_ms();

	f->status = neo_txn_finish(f->txn, &f->tid);
	snprintf(f->errmsg, sizeof f->errmsg, "%s", neo_client_errmsg());
	f->took_ms = now_ms() - start;
	f->done = true;
	return NULL;
}

/* The data a fresh client reads for oid ("" if none). */
static void read_fresh(struct test_cluster *tc, uint64_t oid, char *buf, size_t len,
		       uint64_t *serial)
{
	struct neo_client *fresh = NULL;
	struct neo_client_record record;

	buf[0] = '\0';
	*serial = 0;
	if (open_client(tc, &fresh) != NEO_CLIENT_OK) {
		snprintf(buf, len, "(no client: %s)", neo_client_errmsg());
		return;
	}
	for (int i = 0; i < 50; i++) {
		int rc = neo_client_load(fresh, oid, &record);

		if (rc == NEO_CLIENT_OK) {
			snprintf(buf, len, "%.*s", (int)record.size, (const char *)record.data);
			*serial = record.serial;
			neo_client_record_clear(&record);
			break;
		}
		if (rc == NEO_CLIENT_NOT_FOUND || rc == NEO_CLIENT_NO_DATA)
			break;
		usleep(200000);
	}
	neo_client_close(fresh);
}

/*
 * Votes a transaction, stops the storage so that the master cannot lock
 * it, finishes in a thread, kills the primary, and continues the storage
 * after continue_ms.  The finish must return within the call timeout.
 */
static void finish_lost_master(unsigned continue_ms, const char *what)
{
	struct test_cluster tc;
	struct neo_client *client = NULL;
	struct neo_client_conflict *conflicts = NULL;
	struct finisher f = { 0 };
	pthread_t thread;
	size_t count = 0;
	uint64_t oid, serial;
	char data[64], seen[300];
	bool returned;
	int primary;

	cluster_init(&tc, "finish", 4, 0, 1, 2);
	cluster_start(&tc);
	if (open_client(&tc, &client) != NEO_CLIENT_OK) {
		tap_ok(false, "%s: client connects: %s", what, neo_client_errmsg());
		cluster_stop(&tc);
		return;
	}
	neo_client_new_oids(client, 1, &oid);
	snprintf(data, sizeof data, "finish while the master dies (%s)", what);
	if (neo_client_begin(client, 0, &f.txn) != NEO_CLIENT_OK
	    || neo_txn_store(f.txn, oid, 0, data, strlen(data)) != NEO_CLIENT_OK
	    || neo_txn_vote(f.txn, "", 0, "", 0, "", 0, &conflicts, &count) != NEO_CLIENT_OK) {
		tap_ok(false, "%s: voted: %s", what, neo_client_errmsg());
		neo_client_close(client);
		cluster_stop(&tc);
		return;
	}
	kill(tc.storages[0], SIGSTOP);
	pthread_create(&thread, NULL, finish_thread, &f);
	usleep(500000);
	/* The election picks either master: the other logs that it follows. */
	primary = cluster_log_count(&tc, "master0.log", "secondary master") > 0 ? 1 : 0;
	cluster_kill(&tc.masters[primary], SIGKILL);
	/* The call timeout, and room for a loaded machine. */
	for (unsigned waited = 0; waited < CALL_TIMEOUT_MS + 15000 && !f.done; waited += 100) {
		if (waited == continue_ms)
			kill(tc.storages[0], SIGCONT);
		usleep(100000);
	}
	returned = f.done;
	kill(tc.storages[0], SIGCONT);
	if (!tap_ok(returned, "%s: finish returns", what)) {
		/* It hangs: the thread cannot be joined; leave the test. */
		cluster_stop(&tc);
		return;
	}
	pthread_join(thread, NULL);
	tap_diag("%s: finish gave %d (%s) in %.1f s", what, f.status,
		 f.status ? f.errmsg : "committed", (double)f.took_ms / 1000);
	tap_ok(f.took_ms <= CALL_TIMEOUT_MS + 5000, "%s: within the call timeout (%.1f s)", what,
	       (double)f.took_ms / 1000);
	read_fresh(&tc, oid, seen, sizeof seen, &serial);
	tap_diag("%s: a fresh client reads \"%s\"", what, seen);
	if (f.status == NEO_CLIENT_OK) {
		tap_ok(serial == f.tid && strcmp(seen, data) == 0,
		       "%s: committed as told, and readable (%s)", what, seen);
	} else {
		tap_ok((f.status == NEO_CLIENT_DISCONNECTED || f.status == NEO_CLIENT_TIMEOUT)
		       && f.errmsg[0] != '\0', "%s: a clear error: %d %s", what, f.status, f.errmsg);
		if (f.status == NEO_CLIENT_DISCONNECTED)
			tap_ok(strcmp(seen, data) != 0, "%s: said not committed, and it was not",
			       what);
		neo_txn_abort(f.txn);
	}
	neo_client_close(client);
	cluster_stop(&tc);
}

/* --- Connections that never identify --------------------------------------------------------- */

static int raw_connect(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Silent, half a handshake, garbage, or a whole handshake and nothing. */
static void misbehave(int fd, int kind)
{
	static const uint8_t handshake[] = { 0x92, 0xa3, 'N', 'E', 'O', 0x05 };
	static const char garbage[] = "\x16\x03\x01 GET / HTTP/1.1\r\n";
	ssize_t n = 0;

	switch (kind % 4) {
	case 1:
		n = write(fd, handshake, 3);
		break;
	case 2:
		n = write(fd, garbage, 5);	/* incomplete: waits for more */
		break;
	case 3:
		n = write(fd, handshake, sizeof handshake);
		break;
	}
	if (n < 0)
		perror("write");
}

/* Whether the server closed fd (EOF or reset) within ms. */
static bool closed_by_server(int fd, int ms)
{
	uint64_t until = now_ms() + (uint64_t)ms;
	char buf[512];

	while (now_ms() < until) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(fd, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

#define IDLE_PEERS 200

static void never_identify(bool tls)
{
	static int fds[3][IDLE_PEERS];
	struct test_cluster tc;
	struct neo_client *client = NULL;
	int opened = 0, closed = 0, ports[3];
	uint64_t oid, start;
	const char *how = tls ? "TLS: " : "";

	cluster_init(&tc, "idle", 4, 0, 1, 1);
	if (tls && !cluster_use_ssl(&tc)) {
		tap_skip("TLS: the openssl command is needed to make certificates");
		return;
	}
	cluster_start(&tc);
	cluster_start_admin(&tc);
	if (open_client(&tc, &client) != NEO_CLIENT_OK) {
		tap_ok(false, "%sidle peers: client connects: %s", how, neo_client_errmsg());
		cluster_stop(&tc);
		cluster_ssl_off();
		return;
	}
	neo_client_close(client);
	client = NULL;
	ports[0] = tc.master_ports[0];
	ports[1] = tc.storage_ports[0];
	ports[2] = tc.admin_port;
	start = now_ms();
	for (int node = 0; node < 3; node++)
		for (int i = 0; i < IDLE_PEERS; i++) {
			fds[node][i] = raw_connect(ports[node]);
			if (fds[node][i] >= 0) {
				misbehave(fds[node][i], i);
				opened++;
			}
		}
	tap_ok(opened == 3 * IDLE_PEERS, "%s%d connections to the master, the storage and the admin "
	       "that never identify", how, opened);
	tap_ok(open_client(&tc, &client) == NEO_CLIENT_OK
	       && neo_client_new_oids(client, 1, &oid) == NEO_CLIENT_OK
	       && cluster_commit(client, oid, 0, "among idle peers") != 0,
	       "%smeanwhile a real client connects and commits", how);
	for (int node = 0; node < 3; node++)
		for (int i = 0; i < IDLE_PEERS; i++)
			if (fds[node][i] >= 0) {
				closed += closed_by_server(fds[node][i], 40000 - (int)(now_ms() - start));
				close(fds[node][i]);
			}
	tap_ok(closed == opened, "%sthe servers closed them all after the deadline (%d/%d, %.1f s)",
	       how, closed, opened, (double)(now_ms() - start) / 1000);
	/* Over TLS, the NEO handshake cannot be reached with raw bytes. */
	tap_ok(cluster_log_count(&tc, "master0.log", "no handshake within") > 0
	       && cluster_log_count(&tc, "storage0.log", "no handshake within") > 0
	       && cluster_log_count(&tc, "admin.log", "no handshake within") > 0
	       && (tls || (cluster_log_count(&tc, "master0.log", "no identification within") > 0
			   && cluster_log_count(&tc, "storage0.log", "no identification within") > 0
			   && cluster_log_count(&tc, "admin.log", "no identification within") > 0)),
	       "%seach closing is logged", how);
	{
		char out[4096];

		tap_ok(cluster_neoctl(&tc, out, sizeof out, "print cluster") == 0
		       && strstr(out, "RUNNING"), "%sneoctl still reaches the admin", how);
	}
	tap_ok(client && cluster_commit(client, oid, 0, "among idle peers") == 0,
	       "%s(a stale serial is a conflict: the client still works)", how);
	if (client && neo_client_new_oids(client, 1, &oid) == NEO_CLIENT_OK)
		tap_ok(cluster_commit(client, oid, 0, "after idle peers") != 0,
		       "%sand the client commits afterwards", how);
	else
		tap_ok(false, "%sand the client commits afterwards: %s", how, neo_client_errmsg());
	if (client)
		neo_client_close(client);
	cluster_stop(&tc);
	cluster_ssl_off();
}

int main(void)
{
	finish_lost_master(CALL_TIMEOUT_MS + 5000, "storage stopped past the call timeout");
	finish_lost_master(0, "storage continued at once");
	never_identify(false);
	never_identify(true);
	return tap_done();
}
