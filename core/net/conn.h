/*
 * net/conn.h - NEO connections on libevent: the handshake, packet framing,
 * request/answer matching, keepalive, back-pressure and closing.
 *
 * One struct neo_conn per TCP (or TLS) connection, outgoing or accepted.
 * All of it runs in the thread of its event_base.
 *
 * Promises:
 *   - each side sends the handshake at once; a peer of another protocol
 *     version, or no NEO peer at all, is logged as such and dropped;
 *   - packets are decoded as they arrive, however the bytes are split; a
 *     malformed packet is a protocol error for this connection only (a bad
 *     request is first answered with Error(PROTOCOL_ERROR));
 *   - message ids count from 0 per direction for requests and
 *     notifications; answers reuse their request's id (as upstream);
 *   - Ping is answered with Pong without bothering the owner, and a peer
 *     that stops answering Pings is dropped (NEO_KEEPALIVE_IDLE_MS);
 *   - close callbacks fire exactly once, and every pending request's
 *     callback fires exactly once (answer, timeout or closed);
 *   - a connection may be closed from inside any of its callbacks; its
 *     memory is freed later, from the event loop, never under the caller.
 *
 *   - an accepted connection that is not identified (neo_conn_identified)
 *     within the listener's handshake timeout is closed with a log line,
 *     whether it stalls in TLS, in the NEO handshake or before sending
 *     RequestIdentification: idle sockets cannot pile up and take every
 *     file descriptor;
 *   - a listener out of file descriptors logs it and pauses accepting
 *     for a while instead of spinning.
 *
 * Ownership: a packet passed to a callback belongs to the connection and
 * is released when the callback returns.  The owner never frees a conn:
 * neo_conn_close or neo_conn_abort end it, and it frees itself.
 */
#ifndef NEO_CONN_H
#define NEO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "net/address.h"
#include "proto/packet.h"

struct neo_conn;
struct neo_listener;

/*
 * A peer that stops answering (hung, SIGSTOPped, behind a dead link) is
 * found by keepalive pings: after NEO_KEEPALIVE_IDLE_MS without input a
 * Ping goes out, and without its Pong within NEO_KEEPALIVE_TIMEOUT_MS the
 * connection is dropped, so such a peer is noticed within 15 s.  Upstream
 * relies on TCP keepalive (60 s) only, which does not notice a stopped
 * process whose kernel still acknowledges; NEO nodes do all of their work
 * in one event loop, so 10 s without even a Pong is a node that cannot
 * serve, and commits must go on with the other replicas.  A Pong that
 * cannot be read because we stopped reading (congestion) is no sign of a
 * hang as long as the peer takes our output.
 */
#define NEO_KEEPALIVE_IDLE_MS 5000
#define NEO_KEEPALIVE_TIMEOUT_MS 10000
/* How long an accepted connection may take to be identified (TLS, the
 * NEO handshake and RequestIdentification). */
#define NEO_HANDSHAKE_TIMEOUT_MS 10000

struct neo_conn_callbacks {
	/* The peer's handshake arrived: packets may flow.  Optional. */
	void (*on_ready)(struct neo_conn *conn, void *arg);
	/* A request or a notification (answers go to their ask callback). */
	void (*on_packet)(struct neo_conn *conn, struct neo_packet *pkt, void *arg);
	/* The connection is over; reason says why.  Optional. */
	void (*on_close)(struct neo_conn *conn, const char *reason, void *arg);
	/* Output crossed the high (true) or back under the low (false)
	 * water mark.  While congested, the peer's input is not read. */
	void (*on_congestion)(struct neo_conn *conn, bool congested, void *arg);
};

enum neo_ask_status {
	NEO_ASK_ANSWERED,	/* answer is the packet (maybe an Error) */
	NEO_ASK_TIMEOUT,	/* no answer in time; a late one is ignored */
	NEO_ASK_CLOSED		/* the connection ended first */
};

typedef void (*neo_answer_cb)(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg);

/* Starts connecting (non-blocking); NULL with err if it cannot even start.
 * ssl may be NULL; a connect failure comes through on_close. */
struct neo_conn *neo_conn_connect(struct event_base *base, const struct neo_address *addr,
				  SSL_CTX *ssl, const struct neo_conn_callbacks *callbacks,
				  void *arg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * A connection shared by threads (libneoclient: user threads send their
 * own requests, the event loop's thread reads the answers).  Every
 * callback of the connection runs with the guard's lock held, and a
 * thread that holds it may send on the connection (ask, notify, flush)
 * from outside the loop: on plain TCP the packet is written at once by
 * that thread, and only what the socket does not take is left to the
 * loop.  Such a thread must not close or abort the connection (that is
 * the loop's job: libevent waits, in event_del, for a callback that
 * itself waits for the lock).  The lock may be taken again by the
 * thread that holds it.  Back-pressure (on_congestion) is off: the
 * owner bounds what it queues.
 */
struct neo_conn_guard {
	void (*lock)(void *arg);
	void (*unlock)(void *arg);
	void *arg;
};

struct neo_conn *neo_conn_connect_guarded(struct event_base *base, const struct neo_address *addr,
					  const struct neo_conn_callbacks *callbacks, void *arg,
					  const struct neo_conn_guard *guard, char *err,
					  size_t errlen)
	__attribute__((warn_unused_result));

/* Called for each accepted connection; set its callbacks there. */
typedef void (*neo_accept_cb)(struct neo_listener *listener, struct neo_conn *conn, void *arg);

struct neo_listener *neo_listener_new(struct event_base *base, const struct neo_address *addr,
				      SSL_CTX *ssl, neo_accept_cb on_accept, void *arg,
				      char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The bound address (the real port when 0 was asked). */
const struct neo_address *neo_listener_address(const struct neo_listener *listener);
/* How long accepted connections have to be identified; 0: forever.
 * Default NEO_HANDSHAKE_TIMEOUT_MS. */
void neo_listener_set_handshake_timeout(struct neo_listener *listener, unsigned ms);
void neo_listener_free(struct neo_listener *listener);

void neo_conn_set_callbacks(struct neo_conn *conn, const struct neo_conn_callbacks *callbacks,
			    void *arg);

/* Sends a request; cb (NULL: the answer is dropped) fires once.  timeout_ms 0: wait forever.
 * Returns the msg_id used, or -1 (closed connection, unknown code). */
int64_t neo_conn_ask(struct neo_conn *conn, uint16_t code, const void *args,
		     unsigned timeout_ms, neo_answer_cb cb, void *arg);
/* As neo_conn_ask, but on a guarded connection the packet stays in the
 * output until the next send that is not queued, or neo_conn_flush:
 * requests made in a row (a transaction's stores) go out in one write. */
int64_t neo_conn_ask_queued(struct neo_conn *conn, uint16_t code, const void *args,
			    unsigned timeout_ms, neo_answer_cb cb, void *arg);
/* Writes the queued output now (the rest, if the socket is full, from
 * the loop). */
void neo_conn_flush(struct neo_conn *conn);
/* Between these (nested, per thread), what is sent on plain unguarded
 * connections is written at the end, one write per connection, without a
 * round through epoll; every read callback is such a batch. */
void neo_conn_batch_begin(void);
void neo_conn_batch_end(void);
/*
 * neo_conn_ask and these sends fail (-1) when the connection is closed or
 * closing, which its owner hears of through on_close, or when the packet
 * cannot be encoded (a code this build does not know, logged, or out of
 * memory: a daemon stops first, runtime/alloc.h).  So they are not marked
 * warn_unused_result: a daemon may ignore the result, and cb then never
 * fires for an ask that failed.
 */
int neo_conn_answer(struct neo_conn *conn, uint32_t msg_id, uint16_t code, const void *args);
int neo_conn_answer_error(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
			  const char *message);
int neo_conn_notify(struct neo_conn *conn, uint16_t code, const void *args);
/* A notification that belongs to a request being answered: it carries
 * the request's msg_id, as upstream's conn.send(packet, msg_id), and an
 * upstream peer drops it otherwise (AddTransaction and AddObject before
 * AnswerFetchTransactions and AnswerFetchObjects: core/proto/protocol.md
 * section 4). */
int neo_conn_notify_for(struct neo_conn *conn, uint32_t msg_id, uint16_t code, const void *args);

/* Sends Ping after idle_ms without input, and drops the peer if no Pong
 * comes within timeout_ms.  0 turns it off.  Every connection starts
 * with NEO_KEEPALIVE_IDLE_MS and NEO_KEEPALIVE_TIMEOUT_MS. */
void neo_conn_set_keepalive(struct neo_conn *conn, unsigned idle_ms, unsigned timeout_ms);

/* The owner accepted the peer's identification (or, for peers that never
 * identify, its first request): the handshake deadline is off. */
void neo_conn_identified(struct neo_conn *conn);

/* Output water marks for back-pressure (defaults 8 MiB and 1 MiB). */
void neo_conn_set_watermarks(struct neo_conn *conn, size_t high, size_t low);
bool neo_conn_congested(const struct neo_conn *conn);
size_t neo_conn_output_size(const struct neo_conn *conn);
bool neo_conn_is_open(const struct neo_conn *conn);
const char *neo_conn_peer(const struct neo_conn *conn);
/* The peer's node id as text ("S1", copied, cut to 15 characters), once
 * the owner knows it: the packet trace shows it before the address, as
 * upstream's "> S1 (127.0.0.1:1234)". */
void neo_conn_set_name(struct neo_conn *conn, const char *name);

/* How many connections this process has open (accepted or outgoing,
 * not yet freed), for the metrics (neo_open_connections). */
long neo_conn_open_count(void);
/* Frees every connection of base left (any state), without calling its
 * owner back: a daemon's last act before freeing its base, once its
 * owners' state is gone. */
void neo_conn_free_all(struct event_base *base);

/* Stops reading, sends what is queued, then closes. */
void neo_conn_close(struct neo_conn *conn, const char *reason);
/* Closes now, dropping queued output. */
void neo_conn_abort(struct neo_conn *conn, const char *reason);

#endif
