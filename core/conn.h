/*
 * conn.h - NEO connections on libevent: the handshake, packet framing,
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
 *   - Ping is answered with Pong without bothering the owner;
 *   - close callbacks fire exactly once, and every pending request's
 *     callback fires exactly once (answer, timeout or closed);
 *   - a connection may be closed from inside any of its callbacks; its
 *     memory is freed later, from the event loop, never under the caller.
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

#include "address.h"
#include "packet.h"

struct neo_conn;
struct neo_listener;

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
				  void *arg, char *err, size_t errlen);

/* Called for each accepted connection; set its callbacks there. */
typedef void (*neo_accept_cb)(struct neo_listener *listener, struct neo_conn *conn, void *arg);

struct neo_listener *neo_listener_new(struct event_base *base, const struct neo_address *addr,
				      SSL_CTX *ssl, neo_accept_cb on_accept, void *arg,
				      char *err, size_t errlen);
/* The bound address (the real port when 0 was asked). */
const struct neo_address *neo_listener_address(const struct neo_listener *listener);
void neo_listener_free(struct neo_listener *listener);

void neo_conn_set_callbacks(struct neo_conn *conn, const struct neo_conn_callbacks *callbacks,
			    void *arg);

/* Sends a request; cb (NULL: the answer is dropped) fires once.  timeout_ms 0: wait forever.
 * Returns the msg_id used, or -1 (closed connection, unknown code). */
int64_t neo_conn_ask(struct neo_conn *conn, uint16_t code, const void *args,
		     unsigned timeout_ms, neo_answer_cb cb, void *arg);
int neo_conn_answer(struct neo_conn *conn, uint32_t msg_id, uint16_t code, const void *args);
int neo_conn_answer_error(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
			  const char *message);
int neo_conn_notify(struct neo_conn *conn, uint16_t code, const void *args);

/* Sends Ping after idle_ms without input, and drops the peer if no Pong
 * comes within timeout_ms.  0 turns it off. */
void neo_conn_set_keepalive(struct neo_conn *conn, unsigned idle_ms, unsigned timeout_ms);

/* Output water marks for back-pressure (defaults 8 MiB and 1 MiB). */
void neo_conn_set_watermarks(struct neo_conn *conn, size_t high, size_t low);
bool neo_conn_congested(const struct neo_conn *conn);
size_t neo_conn_output_size(const struct neo_conn *conn);
bool neo_conn_is_open(const struct neo_conn *conn);
const char *neo_conn_peer(const struct neo_conn *conn);

/* Stops reading, sends what is queued, then closes. */
void neo_conn_close(struct neo_conn *conn, const char *reason);
/* Closes now, dropping queued output. */
void neo_conn_abort(struct neo_conn *conn, const char *reason);

#endif
