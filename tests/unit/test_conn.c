/*
 * test_conn.c - connections over real sockets on the loopback, both ends
 * driven by one event loop in this process, plus raw sockets playing
 * broken or hostile peers.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/conn.h"
#include "net/ssl.h"
#include "proto/wire.h"
#include "runtime/log.h"
#include "tap.h"

static struct event_base *base;

/* --- The server side: what every accepted connection does ---------------- */

struct server {
	struct neo_listener *listener;
	int accepted, ready, notifications, requests, closes;
	char last_close[200];
	struct neo_conn *last_conn;
	/* AskPrimary requests held to be answered in reverse order. */
	uint32_t held[8];
	int held_count, hold_until;
	size_t keepalive_ms;		/* keepalive for accepted conns */
	size_t high_water;		/* watermarks for accepted conns */
	bool no_identify;		/* leave accepted conns unidentified */
	bool congested_seen, uncongested_seen;
};

static struct server server;

static void answer_primary(struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_answer_primary ans = { .primary_uuid = (int64_t)msg_id * 10 };

	neo_conn_answer(conn, msg_id, NEO_ANSWER_PRIMARY, &ans);
}

static void late_answer(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_answer_cluster_state ans = { .state = { true, NEO_CLUSTER_RUNNING } };

	(void)fd;
	(void)what;
	neo_conn_answer(server.last_conn, (uint32_t)(uintptr_t)ctx, NEO_ANSWER_CLUSTER_STATE, &ans);
}

static void server_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	static uint8_t big[4 << 20];
	struct timeval later = { 0, 150000 };

	(void)arg;
	server.last_conn = conn;
	switch (pkt->code) {
	case NEO_ASK_PRIMARY:
		server.requests++;
		if (server.hold_until > 0) {
			server.held[server.held_count++] = pkt->msg_id;
			if (server.held_count == server.hold_until) {
				while (server.held_count > 0)
					answer_primary(conn, server.held[--server.held_count]);
				server.hold_until = 0;
			}
		} else {
			answer_primary(conn, pkt->msg_id);
		}
		break;
	case NEO_ASK_LAST_TRANSACTION:
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "later");
		break;
	case NEO_ASK_CLUSTER_STATE:
		event_base_once(base, -1, EV_TIMEOUT, late_answer, (void *)(uintptr_t)pkt->msg_id, &later);
		break;
	case NEO_ASK_OBJECT: {
		/* A big answer, then a graceful close: it must all arrive. */
		struct neo_answer_object ans = { .oid = 1, .serial = 2,
			.data = { big, sizeof(big) } };

		memset(big, 0x5a, sizeof(big));
		neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_OBJECT, &ans);
		neo_conn_close(conn, "done");
		break;
	}
	case NEO_FLUSH_LOG:
		/* Closing from inside a callback, then using the conn. */
		neo_conn_abort(conn, "asked to go");
		tap_ok(neo_conn_notify(conn, NEO_NOTIFY_READY, NULL) == -1,
		       "a closed connection refuses to send, without crashing");
		break;
	default:
		server.notifications++;
	}
}

static void server_ready(struct neo_conn *conn, void *arg)
{
	(void)conn;
	(void)arg;
	server.ready++;
}

static void server_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	(void)conn;
	(void)arg;
	server.closes++;
	snprintf(server.last_close, sizeof(server.last_close), "%s", reason);
}

static void server_congestion(struct neo_conn *conn, bool congested, void *arg)
{
	(void)conn;
	(void)arg;
	if (congested)
		server.congested_seen = true;
	else
		server.uncongested_seen = true;
}

static const struct neo_conn_callbacks server_callbacks = {
	server_ready, server_packet, server_closed, server_congestion
};

static void server_accept(struct neo_listener *l, struct neo_conn *conn, void *arg)
{
	(void)l;
	(void)arg;
	server.accepted++;
	server.last_conn = conn;
	neo_conn_set_callbacks(conn, &server_callbacks, NULL);
	if (!server.no_identify)
		neo_conn_identified(conn);
	if (server.keepalive_ms)
		neo_conn_set_keepalive(conn, (unsigned)server.keepalive_ms, (unsigned)server.keepalive_ms);
	if (server.high_water)
		neo_conn_set_watermarks(conn, server.high_water, server.high_water / 4);
}

/* --- Running the loop ------------------------------------------------------ */

static bool timed_out;

static void on_deadline(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	(void)ctx;
	timed_out = true;
}

/* Runs the loop until *flag becomes true or ms pass; returns *flag. */
static bool run_until(const volatile bool *flag, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *deadline = evtimer_new(base, on_deadline, NULL);

	timed_out = false;
	evtimer_add(deadline, &tv);
	while (!*flag && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(deadline);
	return *flag;
}

static void run_for(unsigned ms)
{
	static const bool never = false;

	run_until(&never, ms);
}

/* --- The client side --------------------------------------------------------- */

struct client {
	struct neo_conn *conn;
	bool ready, closed;
	char close_reason[200];
	int answers;
	int64_t primary[8];
	uint32_t answer_ids[8];
	enum neo_ask_status last_status;
	uint16_t last_code;
	int64_t last_error_code;
	size_t last_data_size;
	bool done;
};

static void client_ready(struct neo_conn *conn, void *arg)
{
	(void)conn;
	((struct client *)arg)->ready = true;
}

static void client_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct client *c = arg;

	(void)conn;
	c->closed = true;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
}

static const struct neo_conn_callbacks client_callbacks = { client_ready, NULL, client_closed, NULL };

static void client_answer(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	struct client *c = arg;

	(void)conn;
	c->last_status = status;
	c->done = true;
	if (answer == NULL)
		return;
	c->last_code = answer->code;
	if (answer->code == NEO_ANSWER_PRIMARY && c->answers < 8) {
		c->answer_ids[c->answers] = answer->msg_id;
		c->primary[c->answers] = ((struct neo_answer_primary *)answer->args)->primary_uuid;
	}
	if (answer->code == NEO_ERROR)
		c->last_error_code = ((struct neo_error *)answer->args)->code;
	if (answer->code == NEO_ANSWER_OBJECT)
		c->last_data_size = ((struct neo_answer_object *)answer->args)->data.size;
	c->answers++;
}

static void client_connect(struct client *c, const struct neo_address *addr, SSL_CTX *ssl)
{
	char err[200];

	memset(c, 0, sizeof(*c));
	c->conn = neo_conn_connect(base, addr, ssl, &client_callbacks, c, err, sizeof(err));
	if (c->conn == NULL)
		tap_diag("connect: %s", err);
}

/* --- Raw peers ------------------------------------------------------------- */

static int raw_connect(const struct neo_address *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(addr->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Reads what the server sent, running the loop meanwhile; stops at EOF. */
static size_t raw_read_all(int fd, uint8_t *buf, size_t cap, bool *eof, unsigned ms)
{
	size_t got = 0;

	*eof = false;
	for (unsigned waited = 0; waited < ms && !*eof; waited += 10) {
		ssize_t n;

		run_for(10);
		while ((n = read(fd, buf + got, cap - got)) > 0)
			got += (size_t)n;
		if (n == 0)
			*eof = true;
	}
	return got;
}

static int expect_server_close(const uint8_t *send_bytes, size_t size, const char *reason,
			       const char *name)
{
	int closes = server.closes;
	int fd = raw_connect(neo_listener_address(server.listener));
	uint8_t buf[256];
	bool eof;
	size_t got;

	if (write(fd, send_bytes, size) != (ssize_t)size)
		tap_diag("short write");
	got = raw_read_all(fd, buf, sizeof(buf), &eof, 1000);
	tap_ok(server.closes == closes + 1 && strstr(server.last_close, reason) != NULL &&
	       eof && got >= NEO_HANDSHAKE_SIZE && memcmp(buf, neo_handshake, 6) == 0,
	       "%s: the server sent its handshake, then closed (%s)", name, server.last_close);
	close(fd);
	return 0;
}

/* --- The tests -------------------------------------------------------------- */

static void test_handshake_and_requests(struct client *c)
{
	const struct neo_address *addr = neo_listener_address(server.listener);

	client_connect(c, addr, NULL);
	tap_ok(c->conn && run_until(&c->ready, 2000) && server.ready == 1,
	       "handshake both ways over 127.0.0.1");

	server.hold_until = 3;
	for (int i = 0; i < 3; i++)
		neo_conn_ask(c->conn, NEO_ASK_PRIMARY, NULL, 0, client_answer, c);
	while (c->answers < 3 && !timed_out)
		run_until(&c->done, 2000), c->done = false;
	tap_ok(c->answers == 3 && c->answer_ids[0] == 2 && c->answer_ids[1] == 1 &&
	       c->answer_ids[2] == 0, "three requests in flight, answered out of order, ids 0 1 2");
	tap_ok(c->primary[0] == 20 && c->primary[1] == 10 && c->primary[2] == 0,
	       "each answer reached the callback of its own request");

	neo_conn_notify(c->conn, NEO_NOTIFY_READY, NULL);
	c->done = false;
	tap_ok(neo_conn_ask(c->conn, NEO_ASK_PRIMARY, NULL, 0, client_answer, c) == 4 &&
	       run_until(&c->done, 2000) && server.notifications == 1 && c->primary[3] == 40,
	       "a notification takes the next id, the request after it id 4");

	c->done = false;
	neo_conn_ask(c->conn, NEO_ASK_LAST_TRANSACTION, NULL, 0, client_answer, c);
	tap_ok(run_until(&c->done, 2000) && c->last_code == NEO_ERROR &&
	       c->last_error_code == NEO_ERROR_NOT_READY, "an Error answers a request");

	c->done = false;
	neo_conn_ask(c->conn, NEO_PING, NULL, 0, client_answer, c);
	tap_ok(run_until(&c->done, 2000) && c->last_code == NEO_PONG && server.notifications == 1,
	       "Ping is answered with Pong by the connection itself");
}

static void test_timeout(struct client *c)
{
	c->done = false;
	neo_conn_ask(c->conn, NEO_ASK_CLUSTER_STATE, NULL, 50, client_answer, c);
	tap_ok(run_until(&c->done, 2000) && c->last_status == NEO_ASK_TIMEOUT,
	       "a request times out");
	run_for(250);
	tap_ok(neo_conn_is_open(c->conn) && !c->closed, "its late answer is ignored, the connection lives");
	c->done = false;
	neo_conn_ask(c->conn, NEO_ASK_PRIMARY, NULL, 0, client_answer, c);
	tap_ok(run_until(&c->done, 2000) && c->last_status == NEO_ASK_ANSWERED,
	       "and still serves requests");
}

static void test_hostile_peers(struct client *c)
{
	static const uint8_t v4[] = { 0x92, 0xa3, 'N', 'E', 'O', 0x04 };
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	uint8_t bad[7];

	expect_server_close(v4, sizeof(v4), "version mismatch", "a protocol 4 peer");
	expect_server_close((const uint8_t *)http, strlen(http), "not a NEO peer", "an HTTP client");
	memcpy(bad, neo_handshake, 6);
	bad[6] = 0xc1;
	expect_server_close(bad, sizeof(bad), "malformed", "a malformed packet");
	c->done = false;
	neo_conn_ask(c->conn, NEO_ASK_PRIMARY, NULL, 0, client_answer, c);
	tap_ok(run_until(&c->done, 2000) && c->last_status == NEO_ASK_ANSWERED,
	       "other connections of the listener keep working");
}

static void test_bad_request_answered(void)
{
	/* [1, AskObject, []]: the arguments are missing. */
	static const uint8_t ask[] = { 0x93, 0x01, 0x20, 0x90 };
	int fd = raw_connect(neo_listener_address(server.listener));
	uint8_t buf[512];
	bool eof;
	size_t got, size = 0;
	struct neo_packet pkt;
	char err[200];

	if (write(fd, neo_handshake, 6) != 6 || write(fd, ask, sizeof(ask)) != sizeof(ask))
		tap_diag("short write");
	got = raw_read_all(fd, buf, sizeof(buf), &eof, 1000);
	tap_ok(eof && got > 6 && neo_msgpack_scan(buf + 6, got - 6, &size) == NEO_SCAN_COMPLETE &&
	       neo_packet_decode(buf + 6, size, &pkt, err, sizeof(err)) == 0 &&
	       pkt.code == NEO_ERROR && pkt.msg_id == 1 &&
	       ((struct neo_error *)pkt.args)->code == NEO_ERROR_PROTOCOL_ERROR,
	       "a malformed request is answered Error(PROTOCOL_ERROR), then closed");
	if (size)
		neo_packet_release(&pkt);
	close(fd);
}

static void test_byte_by_byte_and_bulk(void)
{
	static const uint8_t ask[] = { 0x93, 0x00, 0x04, 0x90 };	/* AskPrimary id 0 */
	static const uint8_t ready[] = { 0x93, 0x00, 0x3b, 0x90 };	/* NotifyReady */
	int fd = raw_connect(neo_listener_address(server.listener));
	uint8_t stream[6 + 4], bulk[4 * 50], buf[256];
	int requests = server.requests, notes;
	bool eof;
	size_t got;

	memcpy(stream, neo_handshake, 6);
	memcpy(stream + 6, ask, 4);
	for (size_t i = 0; i < sizeof(stream); i++) {
		if (write(fd, stream + i, 1) != 1)
			tap_diag("short write");
		run_for(5);
	}
	got = raw_read_all(fd, buf, sizeof(buf), &eof, 200);
	tap_ok(server.requests == requests + 1 && got > 6 && !eof,
	       "a request sent one byte at a time is understood and answered");
	notes = server.notifications;
	for (int i = 0; i < 50; i++) {
		memcpy(bulk + 4 * i, ready, 4);
		bulk[4 * i + 1] = (uint8_t)(i + 1);
	}
	if (write(fd, bulk, sizeof(bulk)) != sizeof(bulk))
		tap_diag("short write");
	run_for(100);
	tap_ok(server.notifications == notes + 50, "50 packets in one write are all read");
	close(fd);
	run_for(50);
}

static void test_keepalive(struct client *c)
{
	int fd, closes;
	uint8_t buf[64];
	bool eof;

	neo_conn_set_keepalive(c->conn, 40, 100);
	run_for(300);
	tap_ok(neo_conn_is_open(c->conn), "keepalive: a live peer answers pings and stays");
	neo_conn_set_keepalive(c->conn, 0, 0);

	/* A peer that says hello and then never answers anything. */
	server.keepalive_ms = 50;
	closes = server.closes;
	fd = raw_connect(neo_listener_address(server.listener));
	if (write(fd, neo_handshake, 6) != 6)
		tap_diag("short write");
	raw_read_all(fd, buf, sizeof(buf), &eof, 600);
	tap_ok(server.closes == closes + 1 && strstr(server.last_close, "pings") != NULL && eof,
	       "keepalive: a peer that does not answer pings is dropped");
	server.keepalive_ms = 0;
	close(fd);
}

/* Whether the server closes a raw connection (after sending bytes) within
 * ms, for the reason given. */
static bool raw_closed_by_server(struct neo_listener *l, const void *bytes, size_t size,
				 const char *reason, unsigned ms)
{
	int closes = server.closes;
	int fd = raw_connect(neo_listener_address(l));
	uint8_t buf[4096];
	bool eof = false;

	if (fd < 0)
		return false;
	if (size && write(fd, bytes, size) != (ssize_t)size)
		tap_diag("short write");
	raw_read_all(fd, buf, sizeof(buf), &eof, ms);
	close(fd);
	if (!eof || (reason && (server.closes <= closes || !strstr(server.last_close, reason))))
		tap_diag("eof %d, closes %d -> %d, last close: %s", eof, closes, server.closes,
			 server.last_close);
	return eof && (!reason || (server.closes > closes && strstr(server.last_close, reason)));
}

static void test_handshake_deadline(void)
{
	struct neo_listener *l = server.listener;
	struct client c;

	server.no_identify = true;
	neo_listener_set_handshake_timeout(l, 300);
	tap_ok(raw_closed_by_server(l, NULL, 0, "handshake timed out", 3000),
	       "deadline: a silent connection is closed by the server");
	tap_ok(raw_closed_by_server(l, neo_handshake, 3, "handshake timed out", 3000),
	       "deadline: half a handshake, then silence: closed");
	tap_ok(raw_closed_by_server(l, neo_handshake, NEO_HANDSHAKE_SIZE,
				    "identification timed out", 3000),
	       "deadline: a handshake but no identification: closed");
	server.no_identify = false;
	client_connect(&c, neo_listener_address(l), NULL);
	run_for(800);
	tap_ok(c.ready && !c.closed, "deadline: an identified connection stays past it");
	neo_conn_close(c.conn, NULL);
	run_for(50);
	neo_listener_set_handshake_timeout(l, NEO_HANDSHAKE_TIMEOUT_MS);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
	       + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Out of file descriptors: accept fails with EMFILE; the listener must
 * pause (not spin on a readable socket) and accept once fds are back. */
static void test_accept_emfile(void)
{
	static int fillers[65536];
	struct rlimit old, low;
	int count = 0, fd, accepted = server.accepted;
	double cpu;

	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = 256 < old.rlim_cur ? 256 : old.rlim_cur;
	setrlimit(RLIMIT_NOFILE, &low);
	while (count < 65536 && (fillers[count] = dup(0)) >= 0)
		count++;
	/* One fd for our side of the connection, none for the server's. */
	close(fillers[--count]);
	fd = raw_connect(neo_listener_address(server.listener));
	cpu = cpu_seconds();
	run_for(600);
	cpu = cpu_seconds() - cpu;
	tap_ok(fd >= 0 && server.accepted == accepted && cpu < 0.3,
	       "EMFILE: the listener pauses instead of spinning (%.0f ms of CPU in 600 ms)",
	       cpu * 1000);
	while (count > 0)
		close(fillers[--count]);
	setrlimit(RLIMIT_NOFILE, &old);
	for (int waited = 0; waited < 3000 && server.accepted == accepted; waited += 10)
		run_for(10);
	tap_ok(server.accepted == accepted + 1, "EMFILE: once fds are back, the caller is accepted");
	if (fd >= 0)
		close(fd);
	run_for(50);
}

static void test_graceful_close(void)
{
	struct client c;
	struct neo_ask_object ask = { .oid = 1 };

	client_connect(&c, neo_listener_address(server.listener), NULL);
	run_until(&c.ready, 2000);
	neo_conn_ask(c.conn, NEO_ASK_OBJECT, &ask, 0, client_answer, &c);
	tap_ok(run_until(&c.closed, 5000) && c.answers == 1 && c.last_data_size == (4u << 20),
	       "a graceful close sends a 4 MiB answer whole before closing");
}

static void test_close_in_callback(void)
{
	struct client c;

	client_connect(&c, neo_listener_address(server.listener), NULL);
	run_until(&c.ready, 2000);
	neo_conn_notify(c.conn, NEO_FLUSH_LOG, NULL);
	tap_ok(run_until(&c.closed, 2000) && strcmp(server.last_close, "asked to go") == 0,
	       "a connection aborted from its own callback closes cleanly");

	client_connect(&c, neo_listener_address(server.listener), NULL);
	run_until(&c.ready, 2000);
	c.done = false;
	neo_conn_ask(c.conn, NEO_ASK_CLUSTER_STATE, NULL, 0, client_answer, &c);
	neo_conn_abort(c.conn, "client gives up");
	tap_ok(c.done && c.last_status == NEO_ASK_CLOSED && c.closed,
	       "aborting fails pending requests once, with the closed status");
	run_for(300);
}

static void test_back_pressure(void)
{
	static uint8_t chunk[1 << 20];
	int fd, requests;
	uint8_t *sink = malloc(64 << 20);
	static const uint8_t ask[] = { 0x93, 0x00, 0x04, 0x90 };
	struct neo_add_object obj = { .oid = 1, .data = { chunk, sizeof(chunk) } };
	bool eof;

	server.high_water = 256 << 10;
	server.congested_seen = server.uncongested_seen = false;
	fd = raw_connect(neo_listener_address(server.listener));
	if (write(fd, neo_handshake, 6) != 6)
		tap_diag("short write");
	run_for(50);
	/* The peer does not read: 32 MiB of notifications pile up. */
	for (int i = 0; i < 32; i++)
		neo_conn_notify(server.last_conn, NEO_ADD_OBJECT, &obj);
	tap_ok(server.congested_seen && neo_conn_congested(server.last_conn),
	       "output past the high water mark: congested");
	requests = server.requests;
	if (write(fd, ask, sizeof(ask)) != sizeof(ask))
		tap_diag("short write");
	run_for(100);
	tap_ok(server.requests == requests, "while congested, the peer's requests wait unread");
	raw_read_all(fd, sink, 64 << 20, &eof, 3000);
	tap_ok(server.uncongested_seen && !neo_conn_congested(server.last_conn) &&
	       server.requests == requests + 1,
	       "once the peer reads, the congestion ends and its request is served");
	server.high_water = 0;
	close(fd);
	free(sink);
	run_for(50);
}

static void test_ipv6(void)
{
	struct neo_address addr;
	char err[200];
	struct neo_listener *l6;
	struct client c;

	if (neo_address_parse("[::1]:0", -1, &addr, err, sizeof(err)) < 0)
		tap_diag("[::1]:0: %s", err);
	l6 = neo_listener_new(base, &addr, NULL, server_accept, NULL, err, sizeof(err));
	if (l6 == NULL) {
		tap_skip("IPv6 loopback unavailable: %s", err);
		return;
	}
	client_connect(&c, neo_listener_address(l6), NULL);
	tap_ok(c.conn && run_until(&c.ready, 2000), "handshake over [::1]");
	neo_conn_close(c.conn, NULL);
	run_for(50);
	neo_listener_free(l6);
}

/* --- SSL, with certificates made for the test ------------------------------- */

static char ssl_dir[] = "/tmp/neo-test-ssl-XXXXXX";

static bool make_certificates(void)
{
	char cmd[2048];

	if (mkdtemp(ssl_dir) == NULL)
		return false;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for ca in ca other; do "
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -days 2 "
		 "-subj /CN=$ca -addext basicConstraints=critical,CA:TRUE "
		 "-addext keyUsage=critical,keyCertSign >/dev/null 2>&1 && "
		 "openssl req -newkey rsa:2048 -nodes -keyout $ca-node.key -out $ca-node.csr "
		 "-subj /CN=node >/dev/null 2>&1 && "
		 "openssl x509 -req -in $ca-node.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial "
		 "-out $ca-node.crt -days 2 >/dev/null 2>&1 || exit 1; done", ssl_dir);
	return system(cmd) == 0;
}

static SSL_CTX *context(const char *ca, const char *who)
{
	char c[300], crt[300], key[300], err[300];
	SSL_CTX *ctx;

	snprintf(c, sizeof(c), "%s/%s.crt", ssl_dir, ca);
	snprintf(crt, sizeof(crt), "%s/%s-node.crt", ssl_dir, who);
	snprintf(key, sizeof(key), "%s/%s-node.key", ssl_dir, who);
	ctx = neo_ssl_context_new(c, crt, key, err, sizeof(err));
	if (ctx == NULL)
		tap_diag("%s", err);
	return ctx;
}

static void test_ssl(void)
{
	struct neo_address addr;
	char err[300];
	SSL_CTX *ctx, *foreign;
	struct neo_listener *tls;
	struct client c;
	int closes;

	if (!make_certificates()) {
		tap_skip("openssl command not available to make test certificates");
		return;
	}
	ctx = context("ca", "ca");
	foreign = context("other", "other");
	tap_ok(ctx && foreign, "SSL contexts from CA, certificate and key");
	tap_ok(neo_ssl_context_new("/nonexistent/ca.crt", "x", "y", err, sizeof(err)) == NULL &&
	       strstr(err, "/nonexistent/ca.crt") != NULL, "a missing CA file is named in the error");
	if (!ctx || !foreign)
		return;
	if (neo_address_parse("127.0.0.1:0", -1, &addr, err, sizeof(err)) < 0)
		tap_diag("127.0.0.1:0: %s", err);
	tls = neo_listener_new(base, &addr, ctx, server_accept, NULL, err, sizeof(err));

	client_connect(&c, neo_listener_address(tls), ctx);
	run_until(&c.ready, 3000);
	c.done = false;
	neo_conn_ask(c.conn, NEO_ASK_PRIMARY, NULL, 0, client_answer, &c);
	tap_ok(run_until(&c.done, 3000) && c.last_status == NEO_ASK_ANSWERED,
	       "handshake and a request over TLS with mutual authentication");
	neo_conn_close(c.conn, NULL);

	closes = server.closes;
	client_connect(&c, neo_listener_address(tls), NULL);
	run_until(&c.closed, 3000);
	tap_ok(c.closed && !c.ready, "a plain client to a TLS listener is refused");

	client_connect(&c, neo_listener_address(tls), foreign);
	run_until(&c.closed, 3000);
	tap_ok(c.closed && !c.ready && server.closes > closes,
	       "a client whose certificate another CA signed is refused");

	/* The identification deadline covers the TLS handshake too. */
	server.no_identify = true;
	neo_listener_set_handshake_timeout(tls, 300);
	tap_ok(raw_closed_by_server(tls, NULL, 0, "handshake timed out", 3000),
	       "TLS deadline: a connection that never starts TLS is closed");
	tap_ok(raw_closed_by_server(tls, "\x16\x03\x01", 3, "handshake timed out", 3000),
	       "TLS deadline: a partial ClientHello, then silence: closed");
	client_connect(&c, neo_listener_address(tls), ctx);
	run_until(&c.closed, 3000);
	tap_ok(c.ready && c.closed, "TLS deadline: TLS and NEO handshakes done, no identification: "
	       "closed (%s)", server.last_close);
	server.no_identify = false;
	run_for(100);
	neo_listener_free(tls);
	SSL_CTX_free(ctx);
	SSL_CTX_free(foreign);
	snprintf(err, sizeof(err), "rm -rf %s", ssl_dir);
	if (system(err) != 0)
		tap_diag("could not remove %s", ssl_dir);
}

/* Every socket the layer made (the listener, a connection it opened, one
 * it accepted) is close-on-exec, so that a child the program forks and
 * execs does not hold its connections open. */
static void test_close_on_exec(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int sockets = 0, inherited = 0;

	if (!tap_ok(dir != NULL, "/proc/self/fd can be read"))
		return;
	while ((entry = readdir(dir)) != NULL) {
		char path[64], target[64];
		ssize_t n;
		int fd = atoi(entry->d_name);

		if (entry->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "socket:", 7) != 0)
			continue;
		sockets++;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			inherited++;
	}
	closedir(dir);
	tap_ok(sockets >= 3 && inherited == 0,
	       "the listener's, a connected and an accepted socket are close-on-exec "
	       "(%d sockets, %d not)", sockets, inherited);
}

int main(void)
{
	struct neo_address addr;
	char err[200];
	struct client c;

	if (neo_log_open(NULL, NEO_LOG_WARNING, "test_conn") < 0 ||
	    neo_address_parse("127.0.0.1:0", -1, &addr, err, sizeof(err)) < 0)
		tap_diag("cannot set up: %s", err);
	base = event_base_new();
	server.listener = neo_listener_new(base, &addr, NULL, server_accept, NULL, err, sizeof(err));
	if (!tap_ok(server.listener != NULL && neo_listener_address(server.listener)->port != 0,
		    "listen on 127.0.0.1, any port"))
		return tap_done();

	test_handshake_and_requests(&c);
	test_close_on_exec();
	test_timeout(&c);
	test_hostile_peers(&c);
	test_bad_request_answered();
	test_byte_by_byte_and_bulk();
	test_keepalive(&c);
	test_handshake_deadline();
	test_accept_emfile();
	test_graceful_close();
	test_close_in_callback();
	test_back_pressure();
	test_ipv6();
	test_ssl();

	neo_conn_close(c.conn, NULL);
	run_for(100);
	neo_listener_free(server.listener);
	event_base_free(base);
	return tap_done();
}
