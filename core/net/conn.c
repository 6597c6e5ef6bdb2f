/*
 * net/conn.c - see net/conn.h.
 *
 * A connection goes HANDSHAKE -> OPEN -> (CLOSING ->) CLOSED.  finish()
 * is the one way into CLOSED: it fails the pending requests, tells the
 * owner, and schedules the free from the event loop, so that nothing is
 * freed under a caller that is still inside one of our callbacks.
 */
#include "net/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "proto/wire.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define DEFAULT_HIGH_WATER (8u * 1024 * 1024)
#define DEFAULT_LOW_WATER (1u * 1024 * 1024)
/* Ids of requests that timed out, remembered to ignore late answers. */
#define EXPIRED_IDS 64
/* How long a graceful close may wait for a peer to take our output. */
#define LINGER_MS 5000
/* How long a listener out of file descriptors waits before accepting
 * again: the backlog keeps the callers meanwhile. */
#define ACCEPT_PAUSE_MS 500

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING, CONN_CLOSED };

struct pending {
	struct pending *next;
	struct neo_conn *conn;
	uint32_t msg_id;
	neo_answer_cb cb;
	void *arg;
	struct event *timer;	/* NULL without a timeout */
};

struct neo_conn {
	struct event_base *base;
	struct bufferevent *bev;
	struct neo_conn_callbacks callbacks;
	void *arg;
	enum conn_state state;
	msgpack_packer packer;
	uint32_t next_msg_id;
	struct pending *pending;
	uint32_t expired[EXPIRED_IDS];
	unsigned expired_count;
	size_t wait_for;	/* input bytes needed before scanning again */
	size_t high_water, low_water;
	bool congested;
	/* Plain TCP writes itself the answers of a batch of input, in one
	 * system call, without asking epoll whether the socket is writable
	 * (two epoll_ctl and one wakeup per answer otherwise).  write_enabled
	 * says whether libevent is writing the output; in_read, whether the
	 * input is being processed (what it sends goes at its end). */
	bool plain, write_enabled, in_read;
	bool in_batch;			/* in batch_conns (see neo_conn_batch_begin) */
	struct event *keepalive;
	unsigned idle_ms, ping_timeout_ms;
	size_t output_at_ping;		/* queued output when the last Ping went */
	struct event *deadline;		/* an accepted conn's identification */
	unsigned deadline_ms;
	struct event *linger;		/* bounds a graceful close */
	char *close_reason;		/* kept for the end of a graceful close */
	char peer[300];
	char name[16];			/* the peer's node id, or "" */
	struct neo_conn *all_prev, *all_next;	/* in all_conns */
	/* Shared by threads (neo_conn_connect_guarded): callbacks run under
	 * the guard's lock; once open, the output is written by whoever
	 * sends, and what the socket does not take by write_ev (never by the
	 * bufferevent, whose own writing would race with senders). */
	bool guarded;
	struct neo_conn_guard guard;
	struct event *write_ev;
	bool write_waiting;		/* write_ev is armed */
	/* A guarded connection connects from the loop (start_connect): the
	 * bufferevent would otherwise get events in the loop's thread before
	 * its socket is even connected. */
	struct event *start_ev;
	struct sockaddr_storage start_addr;
	socklen_t start_addr_len;
};

struct neo_listener {
	struct evconnlistener *listener;
	SSL_CTX *ssl;
	neo_accept_cb on_accept;
	void *arg;
	struct neo_address address;
	unsigned handshake_timeout_ms;
	struct event *resume;		/* accepting again after EMFILE */
};

static void process_input(struct neo_conn *conn);
static void flush_now(struct neo_conn *conn);

/*
 * Batches (neo_conn_batch_begin): what a handler sends on plain
 * connections other than the one it reads (the master forwarding a
 * finish to the storages, the storage answering the votes of a group
 * commit) is written at the batch's end, one system call per connection,
 * instead of through epoll (an epoll_ctl, a wake-up and another
 * epoll_ctl per connection).  Per thread: each loop runs in one.
 */
#define BATCH_CONNS 64
static _Thread_local struct neo_conn *batch_conns[BATCH_CONNS];
static _Thread_local unsigned batch_count, batch_depth;

/* True if conn's output waits for the end of the batch. */
static bool batch_hold(struct neo_conn *conn)
{
	if (batch_depth == 0 || !conn->plain || conn->guarded || conn->write_enabled)
		return false;
	if (conn->in_batch)
		return true;
	if (batch_count == BATCH_CONNS)
		return false;
	conn->in_batch = true;
	batch_conns[batch_count++] = conn;
	return true;
}

static void batch_forget(struct neo_conn *conn)
{
	for (unsigned i = 0; conn->in_batch && i < batch_count; i++)
		if (batch_conns[i] == conn)
			batch_conns[i] = NULL;
	conn->in_batch = false;
}

void neo_conn_batch_begin(void)
{
	batch_depth++;
}

void neo_conn_batch_end(void)
{
	if (batch_depth == 0 || --batch_depth > 0)
		return;
	/* flush_now may not add to the batch (depth is 0 again). */
	for (unsigned i = 0; i < batch_count; i++) {
		struct neo_conn *conn = batch_conns[i];

		if (conn == NULL)
			continue;
		conn->in_batch = false;
		batch_conns[i] = NULL;
		flush_now(conn);
	}
	batch_count = 0;
}

static void guard_lock(const struct neo_conn *conn)
{
	if (conn->guarded)
		conn->guard.lock(conn->guard.arg);
}

static void guard_unlock(const struct neo_conn *conn)
{
	if (conn->guarded)
		conn->guard.unlock(conn->guard.arg);
}

static struct timeval ms_to_timeval(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

/* Connections from conn_new to free_conn, in this process (the client
 * library may run event loops in several threads: atomic). */
static atomic_long open_connections;

/* The same connections, listed: at exit a daemon frees those left (see
 * neo_conn_free_all).  Guarded by all_lock (threads of the client). */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct neo_conn *all_conns;

static void all_add(struct neo_conn *conn)
{
	pthread_mutex_lock(&all_lock);
	conn->all_next = all_conns;
	if (all_conns)
		all_conns->all_prev = conn;
	all_conns = conn;
	pthread_mutex_unlock(&all_lock);
}

static void all_remove(struct neo_conn *conn)
{
	pthread_mutex_lock(&all_lock);
	if (conn->all_prev)
		conn->all_prev->all_next = conn->all_next;
	else
		all_conns = conn->all_next;
	if (conn->all_next)
		conn->all_next->all_prev = conn->all_prev;
	pthread_mutex_unlock(&all_lock);
}

long neo_conn_open_count(void)
{
	return atomic_load(&open_connections);
}

/* --- Ending ------------------------------------------------------------ */

static void free_conn(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_conn *conn = ctx;

	(void)fd;
	(void)what;
	all_remove(conn);
	batch_forget(conn);
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	if (conn->keepalive != NULL)
		event_free(conn->keepalive);
	if (conn->linger != NULL)
		event_free(conn->linger);
	if (conn->deadline != NULL)
		event_free(conn->deadline);
	if (conn->write_ev != NULL)
		event_free(conn->write_ev);
	if (conn->start_ev != NULL)
		event_free(conn->start_ev);
	neo_free(conn->close_reason);
	neo_free(conn);
	atomic_fetch_sub(&open_connections, 1);
}

static void fail_pending(struct neo_conn *conn)
{
	struct pending *p;

	while ((p = conn->pending) != NULL) {
		conn->pending = p->next;
		if (p->timer != NULL)
			event_free(p->timer);
		if (p->cb)
			p->cb(conn, NEO_ASK_CLOSED, NULL, p->arg);
		neo_free(p);
	}
}

static void finish(struct neo_conn *conn, const char *reason)
{
	struct timeval now = { 0, 0 };

	if (conn->state == CONN_CLOSED)
		return;
	conn->state = CONN_CLOSED;
	/* Silence the socket now; it is freed (and closed) from the loop. */
	bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
	if (conn->keepalive != NULL)
		event_del(conn->keepalive);
	if (conn->linger != NULL)
		event_del(conn->linger);
	if (conn->deadline != NULL)
		event_del(conn->deadline);
	if (conn->write_ev != NULL)
		event_del(conn->write_ev);
	if (conn->start_ev != NULL)
		event_del(conn->start_ev);
	fail_pending(conn);
	if (conn->callbacks.on_close != NULL)
		conn->callbacks.on_close(conn, reason, conn->arg);
	if (event_base_once(conn->base, -1, EV_TIMEOUT, free_conn, conn, &now) != 0)
		neo_log(NEO_LOG_ERROR, "%s: cannot schedule the release of a connection", conn->peer);
}

/*
 * A daemon's last act before its event base goes.  Its owners abort the
 * connections they know (their callbacks then run), but nobody knows
 * some: one closing gracefully (waiting up to LINGER_MS for its output
 * to go, see neo_conn_close) or accepted and not identified yet, or one
 * whose release is scheduled on the loop that no longer runs.  Those are
 * freed here, without calling back their owners (already gone).
 */
void neo_conn_free_all(struct event_base *base)
{
	for (;;) {
		struct neo_conn *conn;
		struct pending *p;

		pthread_mutex_lock(&all_lock);
		for (conn = all_conns; conn && conn->base != base; conn = conn->all_next)
			;
		pthread_mutex_unlock(&all_lock);
		if (conn == NULL)
			return;
		while ((p = conn->pending) != NULL) {
			conn->pending = p->next;
			if (p->timer != NULL)
				event_free(p->timer);
			neo_free(p);
		}
		/* a release scheduled by finish() is a once-event the base
		 * frees without running it */
		free_conn(-1, 0, conn);
	}
}

void neo_conn_abort(struct neo_conn *conn, const char *reason)
{
	finish(conn, reason ? reason : "closed");
}

static void linger_expired(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_conn *conn = ctx;

	(void)fd;
	(void)what;
	guard_lock(conn);
	finish(conn, conn->close_reason ? conn->close_reason : "closed");
	guard_unlock(conn);
}

/* Lets libevent write the output (when the socket is writable). */
static void want_write(struct neo_conn *conn)
{
	if (conn->write_enabled)
		return;
	conn->write_enabled = true;
	bufferevent_enable(conn->bev, EV_WRITE);
}

/* Writes what it can of the output (a bufferevent keeps its output
 * frozen at the front but while it writes; so do we); -1 on a socket
 * error. */
static int write_some(struct neo_conn *conn)
{
	struct evbuffer *output = bufferevent_get_output(conn->bev);
	int n;

	evbuffer_unfreeze(output, 1);
	n = evbuffer_write(output, bufferevent_getfd(conn->bev));
	evbuffer_freeze(output, 1);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	return 0;
}

/* A guarded connection's output, written by the sending thread; the rest
 * (or a socket error, for the loop to end the connection) by write_ev. */
static void guarded_flush(struct neo_conn *conn)
{
	struct evbuffer *output = bufferevent_get_output(conn->bev);

	if (conn->write_waiting)
		return;
	if (write_some(conn) == 0 && evbuffer_get_length(output) == 0)
		return;
	conn->write_waiting = true;
	event_add(conn->write_ev, NULL);
}

/* write_ev: the socket takes more of a guarded connection's output. */
static void guarded_writable(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_conn *conn = ctx;
	char reason[200];

	(void)fd;
	(void)what;
	guard_lock(conn);
	conn->write_waiting = false;
	if (conn->state == CONN_OPEN) {
		if (write_some(conn) < 0) {
			snprintf(reason, sizeof reason, "%s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			neo_log(NEO_LOG_WARNING, "%s: %s", conn->peer, reason);
			finish(conn, reason);
		} else {
			guarded_flush(conn);
		}
	}
	guard_unlock(conn);
}

/* Writes the output now, and leaves the rest (if the socket is full) to
 * libevent. */
static void flush_now(struct neo_conn *conn)
{
	struct evbuffer *output = bufferevent_get_output(conn->bev);

	if (conn->state == CONN_CLOSED || conn->write_enabled ||
	    evbuffer_get_length(output) == 0)
		return;
	if (conn->guarded && conn->state == CONN_OPEN) {
		guarded_flush(conn);
		return;
	}
	if (conn->plain) {
		/* A bufferevent keeps its output frozen at the front but while
		 * it writes; so do we. */
		evbuffer_unfreeze(output, 1);
		evbuffer_write(output, bufferevent_getfd(conn->bev));
		evbuffer_freeze(output, 1);
	}
	if (evbuffer_get_length(output) > 0)
		want_write(conn);	/* the rest, or an error through on_event */
}

void neo_conn_close(struct neo_conn *conn, const char *reason)
{
	struct timeval linger = ms_to_timeval(LINGER_MS);

	if (conn->state == CONN_CLOSED || conn->state == CONN_CLOSING)
		return;
	conn->state = CONN_CLOSING;
	bufferevent_disable(conn->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
		finish(conn, reason ? reason : "closed");
		return;
	}
	/* The write callback finishes once the output is flushed; a peer
	 * that never reads is dropped after LINGER_MS. */
	want_write(conn);
	conn->close_reason = reason ? neo_strdup(reason) : NULL;
	conn->linger = evtimer_new(conn->base, linger_expired, conn);
	if (conn->linger == NULL || evtimer_add(conn->linger, &linger) != 0) {
		finish(conn, reason ? reason : "closed");
		return;
	}
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
}

/* The peer is wrong: say so, let our queued bytes (at least our own
 * handshake) go, and hang up. */
static void protocol_error(struct neo_conn *conn, const char *what)
{
	neo_log(NEO_LOG_ERROR, "%s: protocol error: %s", conn->peer, what);
	neo_conn_close(conn, what);
}

/* --- Sending ----------------------------------------------------------- */

static int write_to_output(void *data, const char *buf, size_t len)
{
	struct neo_conn *conn = data;

	return evbuffer_add(bufferevent_get_output(conn->bev), buf, len);
}

static void check_congestion(struct neo_conn *conn)
{
	size_t queued = evbuffer_get_length(bufferevent_get_output(conn->bev));

	if (conn->congested || queued <= conn->high_water)
		return;
	/* Stop reading the peer's requests until it reads our answers. */
	conn->congested = true;
	bufferevent_disable(conn->bev, EV_READ);
	bufferevent_setwatermark(conn->bev, EV_WRITE, conn->low_water, 0);
	if (conn->callbacks.on_congestion != NULL)
		conn->callbacks.on_congestion(conn, true, conn->arg);
}

/*
 * The packet trace: as upstream, every packet sent or received is a DEBUG
 * record (written at --loglevel DEBUG, else kept in the log's backlog until
 * a flush), here one line: direction ('>' sent, '<' received), peer, the
 * message id and the packet's name.
 */
static void trace_packet(const struct neo_conn *conn, char direction, uint32_t msg_id,
			 uint16_t code)
{
	const struct neo_packet_type *type;

	if (!neo_log_wanted(NEO_LOG_DEBUG))
		return;
	type = neo_packet_type_of(code);
	if (conn->name[0] != '\0')
		neo_log(NEO_LOG_DEBUG, "%c %s (%s) #%u %s", direction, conn->name, conn->peer,
			(unsigned)msg_id, type != NULL ? type->name : "?");
	else
		neo_log(NEO_LOG_DEBUG, "%c %s #%u %s", direction, conn->peer, (unsigned)msg_id,
			type != NULL ? type->name : "?");
}

/* queued: left in the output for a later send or flush (guarded only). */
static int send_packet(struct neo_conn *conn, uint32_t msg_id, uint16_t code, const void *args,
		       bool queued)
{
	if (conn->state != CONN_OPEN && conn->state != CONN_HANDSHAKE)
		return -1;
	if (neo_packet_encode(&conn->packer, msg_id, code, args) != 0) {
		neo_log(NEO_LOG_ERROR, "%s: cannot encode packet 0x%04x", conn->peer, code);
		return -1;
	}
	trace_packet(conn, '>', msg_id, code);
	if (conn->guarded) {
		/* No congestion here: stopping reads needs the loop (see
		 * neo_conn_guard), and the owner bounds its output. */
		if (!queued && !conn->in_read)
			flush_now(conn);
		return 0;
	}
	check_congestion(conn);
	if (!conn->in_read && !batch_hold(conn))
		want_write(conn);
	return 0;
}

void neo_conn_flush(struct neo_conn *conn)
{
	/* A guarded connection's sender writes only once it is open: before,
	 * the loop owns its output (the handshake). */
	if (conn->guarded) {
		if (conn->state == CONN_OPEN)
			flush_now(conn);
	} else if (conn->state == CONN_OPEN || conn->state == CONN_HANDSHAKE) {
		want_write(conn);
	}
}

int neo_conn_notify(struct neo_conn *conn, uint16_t code, const void *args)
{
	if (send_packet(conn, conn->next_msg_id, code, args, false))
		return -1;
	conn->next_msg_id++;
	return 0;
}

int neo_conn_notify_for(struct neo_conn *conn, uint32_t msg_id, uint16_t code, const void *args)
{
	/* the id counter does not move: the id is the request's */
	return send_packet(conn, msg_id, code, args, false);
}

int neo_conn_answer(struct neo_conn *conn, uint32_t msg_id, uint16_t code, const void *args)
{
	/* As upstream: an answer reuses the id of its request. */
	return send_packet(conn, msg_id, code, args, false);
}

int neo_conn_answer_error(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
			  const char *message)
{
	struct neo_error error = { .code = code, .message = neo_bin_str(message) };

	return send_packet(conn, msg_id, NEO_ERROR, &error, false);
}

static void remember_expired(struct neo_conn *conn, uint32_t msg_id)
{
	conn->expired[conn->expired_count++ % EXPIRED_IDS] = msg_id;
}

static bool was_expired(const struct neo_conn *conn, uint32_t msg_id)
{
	unsigned n = conn->expired_count < EXPIRED_IDS ? conn->expired_count : EXPIRED_IDS;

	for (unsigned i = 0; i < n; i++)
		if (conn->expired[i] == msg_id)
			return true;
	return false;
}

static struct pending *take_pending(struct neo_conn *conn, uint32_t msg_id)
{
	for (struct pending **pp = &conn->pending; *pp != NULL; pp = &(*pp)->next) {
		struct pending *p = *pp;

		if (p->msg_id == msg_id) {
			*pp = p->next;
			if (p->timer != NULL)
				event_free(p->timer);
			return p;
		}
	}
	return NULL;
}

static void request_timed_out(evutil_socket_t fd, short what, void *ctx)
{
	struct pending *p = ctx;
	struct neo_conn *conn = p->conn;

	(void)fd;
	(void)what;
	guard_lock(conn);
	p = take_pending(conn, p->msg_id);
	remember_expired(conn, p->msg_id);
	if (p->cb)
		p->cb(conn, NEO_ASK_TIMEOUT, NULL, p->arg);
	neo_free(p);
	guard_unlock(conn);
}

static int64_t ask(struct neo_conn *conn, uint16_t code, const void *args, unsigned timeout_ms,
		   neo_answer_cb cb, void *arg, bool queued)
{
	struct pending *p = neo_calloc(1, sizeof(*p));
	uint32_t msg_id = conn->next_msg_id;

	if (p == NULL)
		return -1;
	if (timeout_ms > 0) {
		struct timeval tv = ms_to_timeval(timeout_ms);

		p->timer = evtimer_new(conn->base, request_timed_out, p);
		if (p->timer == NULL || evtimer_add(p->timer, &tv) != 0) {
			if (p->timer != NULL)
				event_free(p->timer);
			neo_free(p);
			return -1;
		}
	}
	if (send_packet(conn, msg_id, code, args, queued) != 0) {
		if (p->timer != NULL)
			event_free(p->timer);
		neo_free(p);
		return -1;
	}
	conn->next_msg_id++;
	p->conn = conn;
	p->msg_id = msg_id;
	p->cb = cb;
	p->arg = arg;
	p->next = conn->pending;
	conn->pending = p;
	return msg_id;
}

int64_t neo_conn_ask(struct neo_conn *conn, uint16_t code, const void *args,
		     unsigned timeout_ms, neo_answer_cb cb, void *arg)
{
	return ask(conn, code, args, timeout_ms, cb, arg, false);
}

int64_t neo_conn_ask_queued(struct neo_conn *conn, uint16_t code, const void *args,
			    unsigned timeout_ms, neo_answer_cb cb, void *arg)
{
	return ask(conn, code, args, timeout_ms, cb, arg, conn->guarded);
}


/* --- Keepalive --------------------------------------------------------- */

static void arm_keepalive(struct neo_conn *conn)
{
	struct timeval tv = ms_to_timeval(conn->idle_ms);

	if (conn->keepalive != NULL && conn->idle_ms > 0 && conn->state == CONN_OPEN)
		evtimer_add(conn->keepalive, &tv);
}

/* While congested we do not read, so no Pong can come; a peer that
 * took some of our output since the Ping is alive all the same. */
static bool output_moved(const struct neo_conn *conn)
{
	return conn->congested && neo_conn_output_size(conn) < conn->output_at_ping;
}

static void pong_received(struct neo_conn *conn, enum neo_ask_status status,
			  struct neo_packet *answer, void *arg)
{
	(void)answer;
	(void)arg;
	if (status == NEO_ASK_TIMEOUT && !output_moved(conn)) {
		neo_log(NEO_LOG_WARNING, "%s: no answer to ping within %u ms, dropping the connection",
			conn->peer, conn->ping_timeout_ms);
		finish(conn, "peer does not answer pings");
	} else if (status != NEO_ASK_CLOSED) {
		arm_keepalive(conn);
	}
}

static void idle_timeout(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_conn *conn = ctx;

	(void)fd;
	(void)what;
	guard_lock(conn);
	conn->output_at_ping = neo_conn_output_size(conn);
	if (neo_conn_ask(conn, NEO_PING, NULL, conn->ping_timeout_ms, pong_received, NULL) < 0)
		finish(conn, "cannot send ping");
	guard_unlock(conn);
}

void neo_conn_set_keepalive(struct neo_conn *conn, unsigned idle_ms, unsigned timeout_ms)
{
	conn->idle_ms = idle_ms;
	conn->ping_timeout_ms = timeout_ms;
	if (conn->keepalive == NULL)
		conn->keepalive = evtimer_new(conn->base, idle_timeout, conn);
	if (idle_ms == 0)
		event_del(conn->keepalive);
	else
		arm_keepalive(conn);
}

/* --- Identification deadline ------------------------------------------ */

static void deadline_expired(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_conn *conn = ctx;
	const char *stage = conn->state == CONN_HANDSHAKE ? "handshake" : "identification";

	(void)fd;
	(void)what;
	neo_log(NEO_LOG_WARNING, "%s: no %s within %u ms, closing the connection", conn->peer,
		stage, conn->deadline_ms);
	finish(conn, conn->state == CONN_HANDSHAKE ? "handshake timed out"
						   : "identification timed out");
}

static void arm_deadline(struct neo_conn *conn, unsigned ms)
{
	struct timeval tv = ms_to_timeval(ms);

	conn->deadline_ms = ms;
	conn->deadline = evtimer_new(conn->base, deadline_expired, conn);
	if (conn->deadline != NULL)
		evtimer_add(conn->deadline, &tv);
}

void neo_conn_identified(struct neo_conn *conn)
{
	if (conn->deadline != NULL)
		event_del(conn->deadline);
}

/* --- Receiving --------------------------------------------------------- */

static void dispatch_answer(struct neo_conn *conn, struct neo_packet *pkt)
{
	/* As upstream: answers are matched by message id. */
	struct pending *p = take_pending(conn, pkt->msg_id);

	if (p != NULL) {
		if (p->cb)
			p->cb(conn, NEO_ASK_ANSWERED, pkt, p->arg);
		neo_free(p);
	} else if (was_expired(conn, pkt->msg_id)) {
		neo_log(NEO_LOG_DEBUG, "%s: late answer %s to timed-out request %u ignored",
			conn->peer, pkt->type->name, (unsigned)pkt->msg_id);
	} else {
		protocol_error(conn, "answer to no request");
	}
}

static void dispatch(struct neo_conn *conn, struct neo_packet *pkt)
{
	if (neo_packet_is_answer(pkt->code))
		dispatch_answer(conn, pkt);
	else if (pkt->code == NEO_PING)
		neo_conn_answer(conn, pkt->msg_id, NEO_PONG, NULL);
	else if (conn->callbacks.on_packet != NULL)
		conn->callbacks.on_packet(conn, pkt, conn->arg);
}

static void refuse_packet(struct neo_conn *conn, const struct neo_packet *pkt, const char *why)
{
	/* Tell a requester why before hanging up. */
	if (!neo_packet_is_answer(pkt->code))
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, why);
	protocol_error(conn, why);
}

/* Decodes and dispatches the next whole packet; false when there is none. */
static bool next_packet(struct neo_conn *conn, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), size = 0;
	const uint8_t *data;
	struct neo_packet pkt;
	char err[200];
	int r;

	if (len == 0 || len < conn->wait_for)
		return false;
	data = evbuffer_pullup(in, (ssize_t)len);
	switch (neo_msgpack_scan(data, len, &size)) {
	case NEO_SCAN_INCOMPLETE:
		conn->wait_for = size;
		return false;
	case NEO_SCAN_MALFORMED:
		protocol_error(conn, "malformed or oversized packet");
		return false;
	case NEO_SCAN_COMPLETE:
		break;
	}
	conn->wait_for = 0;
	r = neo_packet_decode(data, size, &pkt, err, sizeof(err));
	evbuffer_drain(in, size);
	if (r == -1) {
		protocol_error(conn, err);
		return false;
	}
	trace_packet(conn, '<', pkt.msg_id, pkt.code);
	if (r == -2) {
		refuse_packet(conn, &pkt, err);
		return false;
	}
	dispatch(conn, &pkt);
	neo_packet_release(&pkt);
	return true;
}

static bool read_handshake(struct neo_conn *conn, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);
	size_t want = len < NEO_HANDSHAKE_SIZE ? len : NEO_HANDSHAKE_SIZE;
	int version = -1;

	switch (neo_handshake_check(evbuffer_pullup(in, (ssize_t)want), want, &version)) {
	case NEO_HANDSHAKE_INCOMPLETE:
		return false;
	case NEO_HANDSHAKE_VERSION_MISMATCH:
		neo_log(NEO_LOG_ERROR, "%s: protocol version mismatch: peer speaks %d, we speak %d",
			conn->peer, version, NEO_PROTOCOL_VERSION);
		neo_conn_close(conn, "protocol version mismatch");
		return false;
	case NEO_HANDSHAKE_NOT_NEO:
		neo_log(NEO_LOG_ERROR, "%s: not a NEO peer (bad handshake), dropped", conn->peer);
		neo_conn_close(conn, "not a NEO peer");
		return false;
	case NEO_HANDSHAKE_OK:
		break;
	}
	evbuffer_drain(in, NEO_HANDSHAKE_SIZE);
	conn->state = CONN_OPEN;
	arm_keepalive(conn);
	if (conn->callbacks.on_ready != NULL)
		conn->callbacks.on_ready(conn, conn->arg);
	return conn->state == CONN_OPEN;
}

static void process_input(struct neo_conn *conn)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);

	if (conn->state == CONN_HANDSHAKE && !read_handshake(conn, in))
		return;
	while (conn->state == CONN_OPEN && !conn->congested && next_packet(conn, in))
		;
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	struct neo_conn *conn = ctx;

	(void)bev;
	guard_lock(conn);
	arm_keepalive(conn);
	neo_conn_batch_begin();
	conn->in_read = conn->plain;
	process_input(conn);
	conn->in_read = false;
	flush_now(conn);
	neo_conn_batch_end();
	guard_unlock(conn);
}

static void on_write_locked(struct bufferevent *bev, struct neo_conn *conn)
{
	size_t queued = evbuffer_get_length(bufferevent_get_output(bev));

	if (conn->state == CONN_CLOSING) {
		if (queued == 0)
			finish(conn, conn->close_reason ? conn->close_reason : "closed");
		return;
	}
	if (conn->congested && queued <= conn->low_water) {
		conn->congested = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(bev, EV_READ);
		if (conn->callbacks.on_congestion != NULL)
			conn->callbacks.on_congestion(conn, false, conn->arg);
		/* Input that arrived meanwhile is already buffered. */
		process_input(conn);
	}
	/* drained: the next sends write themselves (plain TCP) */
	if (conn->plain && (conn->state == CONN_OPEN || conn->state == CONN_HANDSHAKE) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn->write_enabled = false;
		bufferevent_disable(bev, EV_WRITE);
	}
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct neo_conn *conn = ctx;

	guard_lock(conn);
	on_write_locked(bev, conn);
	guard_unlock(conn);
}

static void set_socket_options(evutil_socket_t fd)
{
	int on = 1, idle = 60, interval = 10, probes = 3;

	/* As upstream: no Nagle, and TCP keepalive 60 s idle, 3 probes 10 s apart. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

static void describe_error(struct neo_conn *conn, short events, char *buf, size_t len)
{
	unsigned long ssl_error = bufferevent_get_openssl_error(conn->bev);

	if (ssl_error != 0) {
		char reason[160];

		ERR_error_string_n(ssl_error, reason, sizeof(reason));
		snprintf(buf, len, "TLS error: %s", reason);
	} else if (events & BEV_EVENT_EOF) {
		snprintf(buf, len, "peer closed the connection");
	} else {
		snprintf(buf, len, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
}

static void on_event(struct bufferevent *bev, short events, void *ctx)
{
	struct neo_conn *conn = ctx;
	char reason[200];

	if (events & BEV_EVENT_CONNECTED) {
		set_socket_options(bufferevent_getfd(bev));
		return;
	}
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	guard_lock(conn);
	describe_error(conn, events, reason, sizeof(reason));
	if (conn->state == CONN_HANDSHAKE || (events & BEV_EVENT_ERROR))
		neo_log(NEO_LOG_WARNING, "%s: %s", conn->peer, reason);
	finish(conn, reason);
	guard_unlock(conn);
}

/* --- Creating ---------------------------------------------------------- */

/* start_ev: a guarded connection connects, from the loop. */
static void start_connect(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_conn *conn = ctx;
	char reason[400];

	(void)fd;
	(void)what;
	guard_lock(conn);
	if (conn->state == CONN_HANDSHAKE) {
		bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(conn->bev, (struct sockaddr *)&conn->start_addr,
					       (int)conn->start_addr_len) != 0) {
			snprintf(reason, sizeof reason, "cannot connect to %s: %s", conn->peer,
				 strerror(errno));
			neo_log(NEO_LOG_WARNING, "%s", reason);
			finish(conn, reason);
		}
	}
	guard_unlock(conn);
}

static struct neo_conn *conn_new(struct event_base *base, evutil_socket_t fd, SSL_CTX *ssl_ctx,
				 bool accepting, const struct neo_conn_guard *guard)
{
	struct neo_conn *conn = neo_calloc(1, sizeof(*conn));
	int options = BEV_OPT_CLOSE_ON_FREE;

	if (conn == NULL)
		return NULL;
	conn->base = base;
	conn->high_water = DEFAULT_HIGH_WATER;
	conn->low_water = DEFAULT_LOW_WATER;
	if (ssl_ctx != NULL) {
		SSL *ssl = SSL_new(ssl_ctx);

		conn->bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl,
			accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
			options) : NULL;
		if (conn->bev == NULL && ssl != NULL)
			SSL_free(ssl);
	} else {
		conn->bev = bufferevent_socket_new(base, fd, options);
	}
	if (conn->bev == NULL) {
		neo_free(conn);
		return NULL;
	}
	/* counted from here: free_conn, which every later failure goes
	 * through, uncounts it */
	atomic_fetch_add(&open_connections, 1);
	all_add(conn);
	msgpack_packer_init(&conn->packer, conn, write_to_output);
	/* Every connection watches its peer (see NEO_KEEPALIVE_IDLE_MS);
	 * armed once the handshake is done. */
	conn->idle_ms = NEO_KEEPALIVE_IDLE_MS;
	conn->ping_timeout_ms = NEO_KEEPALIVE_TIMEOUT_MS;
	conn->keepalive = evtimer_new(base, idle_timeout, conn);
	conn->plain = ssl_ctx == NULL;
	conn->write_enabled = true;	/* the handshake */
	bufferevent_setcb(conn->bev, on_read, on_write, on_event, conn);
	if (guard != NULL) {
		conn->write_ev = event_new(base, fd, EV_WRITE, guarded_writable, conn);
		conn->start_ev = event_new(base, -1, 0, start_connect, conn);
		if (conn->write_ev == NULL || conn->start_ev == NULL) {
			bufferevent_setfd(conn->bev, -1);	/* the caller closes fd */
			free_conn(-1, 0, conn);
			return NULL;
		}
		conn->guarded = true;
		conn->guard = *guard;
		/* Nothing reaches the loop before start_connect: a new
		 * bufferevent would start writing at the handshake's bytes. */
		bufferevent_disable(conn->bev, EV_WRITE);
	}
	/* Each side sends the handshake first, without waiting (inside TLS
	 * when there is TLS: the bufferevent encrypts it). */
	evbuffer_add(bufferevent_get_output(conn->bev), neo_handshake, NEO_HANDSHAKE_SIZE);
	if (guard == NULL)
		bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	return conn;
}

static struct neo_conn *connect_conn(struct event_base *base, const struct neo_address *addr,
				     SSL_CTX *ssl, const struct neo_conn_callbacks *callbacks,
				     void *arg, const struct neo_conn_guard *guard, char *err,
				     size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct neo_conn *conn;

	evutil_socket_t fd;

	if (neo_address_resolve(addr, &ss, &sslen, err, errlen))
		return NULL;
	/* Our own socket rather than libevent's, to make it close-on-exec
	 * from the start: a program that embeds libneoclient and forks a
	 * child (a test harness starting nodes, a Zope running a converter)
	 * would otherwise hand the child its connections, which then outlive
	 * their close here, and the master never learns the client left. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return NULL;
	}
	conn = conn_new(base, fd, ssl, false, guard);
	if (conn == NULL) {
		evutil_closesocket(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	neo_address_format(addr, conn->peer, sizeof(conn->peer));
	neo_conn_set_callbacks(conn, callbacks, arg);
	if (conn->guarded) {
		memcpy(&conn->start_addr, &ss, sizeof ss);
		conn->start_addr_len = sslen;
		event_active(conn->start_ev, EV_TIMEOUT, 0);
		return conn;
	}
	if (bufferevent_socket_connect(conn->bev, (struct sockaddr *)&ss, (int)sslen) != 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", conn->peer, strerror(errno));
		free_conn(-1, 0, conn);
		return NULL;
	}
	return conn;
}

struct neo_conn *neo_conn_connect(struct event_base *base, const struct neo_address *addr,
				  SSL_CTX *ssl, const struct neo_conn_callbacks *callbacks,
				  void *arg, char *err, size_t errlen)
{
	return connect_conn(base, addr, ssl, callbacks, arg, NULL, err, errlen);
}

struct neo_conn *neo_conn_connect_guarded(struct event_base *base, const struct neo_address *addr,
					  const struct neo_conn_callbacks *callbacks, void *arg,
					  const struct neo_conn_guard *guard, char *err,
					  size_t errlen)
{
	/* Plain TCP only: a TLS bufferevent reads and writes as one. */
	return connect_conn(base, addr, NULL, callbacks, arg, guard, err, errlen);
}

void neo_conn_set_callbacks(struct neo_conn *conn, const struct neo_conn_callbacks *callbacks,
			    void *arg)
{
	if (callbacks != NULL)
		conn->callbacks = *callbacks;
	else
		memset(&conn->callbacks, 0, sizeof(conn->callbacks));
	conn->arg = arg;
}

void neo_conn_set_watermarks(struct neo_conn *conn, size_t high, size_t low)
{
	conn->high_water = high;
	conn->low_water = low < high ? low : high;
}

bool neo_conn_congested(const struct neo_conn *conn)
{
	return conn->congested;
}

size_t neo_conn_output_size(const struct neo_conn *conn)
{
	return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

bool neo_conn_is_open(const struct neo_conn *conn)
{
	return conn->state == CONN_OPEN;
}

void neo_conn_set_name(struct neo_conn *conn, const char *name)
{
	snprintf(conn->name, sizeof conn->name, "%s", name != NULL ? name : "");
}

const char *neo_conn_peer(const struct neo_conn *conn)
{
	return conn->peer;
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *ctx)
{
	struct neo_listener *listener = ctx;
	struct neo_conn *conn;
	struct neo_address peer;

	(void)evl;
	(void)salen;
	set_socket_options(fd);
	conn = conn_new(evconnlistener_get_base(listener->listener), fd, listener->ssl, true, NULL);
	if (conn == NULL) {
		neo_log(NEO_LOG_ERROR, "cannot accept a connection: out of memory");
		evutil_closesocket(fd);
		return;
	}
	if (neo_address_from_sockaddr(sa, &peer) == 0)
		neo_address_format(&peer, conn->peer, sizeof(conn->peer));
	/* Armed before the owner sees it: TLS and NEO handshakes included. */
	if (listener->handshake_timeout_ms > 0)
		arm_deadline(conn, listener->handshake_timeout_ms);
	listener->on_accept(listener, conn, listener->arg);
}

static void accept_resume(evutil_socket_t fd, short what, void *ctx)
{
	struct neo_listener *listener = ctx;

	(void)fd;
	(void)what;
	evconnlistener_enable(listener->listener);
}

/* accept() failed for another reason than a retriable one: the socket
 * stays readable, so without a pause the loop would spin on it.  Most
 * likely out of file descriptors (EMFILE, ENFILE) or memory. */
static void on_accept_error(struct evconnlistener *evl, void *ctx)
{
	struct neo_listener *listener = ctx;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval pause = ms_to_timeval(ACCEPT_PAUSE_MS);

	(void)evl;
	neo_log(NEO_LOG_ERROR, "cannot accept connections on %s:%u: %s; pausing %u ms",
		listener->address.host, listener->address.port, evutil_socket_error_to_string(err),
		ACCEPT_PAUSE_MS);
	evconnlistener_disable(listener->listener);
	if (listener->resume == NULL || evtimer_add(listener->resume, &pause) != 0)
		evconnlistener_enable(listener->listener);
}

struct neo_listener *neo_listener_new(struct event_base *base, const struct neo_address *addr,
				      SSL_CTX *ssl, neo_accept_cb accept_cb, void *arg,
				      char *err, size_t errlen)
{
	struct neo_listener *listener = neo_calloc(1, sizeof(*listener));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char where[300];

	if (listener == NULL || neo_address_resolve(addr, &ss, &sslen, err, errlen)) {
		neo_free(listener);
		return NULL;
	}
	listener->ssl = ssl;
	listener->on_accept = accept_cb;
	listener->arg = arg;
	listener->handshake_timeout_ms = NEO_HANDSHAKE_TIMEOUT_MS;
	listener->resume = evtimer_new(base, accept_resume, listener);
	listener->listener = evconnlistener_new_bind(base, on_accept, listener,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
		(struct sockaddr *)&ss, (int)sslen);
	if (listener->listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s",
			 neo_address_format(addr, where, sizeof(where)), strerror(errno));
		if (listener->resume != NULL)
			event_free(listener->resume);
		neo_free(listener);
		return NULL;
	}
	evconnlistener_set_error_cb(listener->listener, on_accept_error);
	sslen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(listener->listener), (struct sockaddr *)&ss,
			&sslen) != 0 ||
	    neo_address_from_sockaddr((struct sockaddr *)&ss, &listener->address) != 0)
		listener->address = *addr;	/* the port asked for, then */
	return listener;
}

const struct neo_address *neo_listener_address(const struct neo_listener *listener)
{
	return &listener->address;
}

void neo_listener_set_handshake_timeout(struct neo_listener *listener, unsigned ms)
{
	listener->handshake_timeout_ms = ms;
}

void neo_listener_free(struct neo_listener *listener)
{
	if (listener == NULL)
		return;
	evconnlistener_free(listener->listener);
	if (listener->resume != NULL)
		event_free(listener->resume);
	neo_free(listener);
}
