/*
 * client_internal.h - libneoclient's private parts, shared by
 *
 *   client.c        lifecycle, the network thread, calls from user
 *                   threads, the primary master link, node list and table
 *   client_links.c  connections to storages, identification, choosing cells
 *   client_read.c   loads and the other reads
 *   client_txn.c    transactions
 *   client_cache.c  the object cache
 *
 * Threading: the event loop thread owns every connection and runs every
 * call's network part; user threads queue a call and wait on `cond` until
 * it is done.  `lock` protects the queue, the calls' results, the cache
 * and last_tid.
 */
#ifndef NEO_CLIENT_INTERNAL_H
#define NEO_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "address.h"
#include "conn.h"
#include "idmap.h"
#include "neo/client.h"
#include "nodes.h"
#include "ptable.h"

struct neo_client;
struct client_call;

typedef void (*client_call_fn)(struct neo_client *c, struct client_call *call);

/* One blocking request from a user thread, run in the network thread. */
struct client_call {
	client_call_fn run;
	bool needs_ready;		/* wait for an operational cluster first */
	bool done;
	int status;
	char err[256];
	void *ctx;			/* the operation's own state */
	struct client_call *next;
};

/* A connection to a storage node. */
struct client_link {
	int32_t nid;
	struct neo_conn *conn;
	bool identified;
	struct link_waiter *waiters;	/* sends waiting for identification */
};

typedef void (*link_ready_fn)(struct neo_client *c, struct client_link *link, void *arg,
			      bool ok);

struct link_waiter {
	link_ready_fn fn;
	void *arg;
	struct link_waiter *next;
};

struct client_cache;

struct neo_client {
	/* Configuration (strings owned). */
	char *cluster;
	struct neo_address *masters;
	size_t master_count, master_index;
	bool read_only;
	int compress;
	unsigned connect_timeout_ms;
	neo_client_invalidate_cb on_invalidate;
	void *invalidate_arg;
	SSL_CTX *ssl;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event_base *base;
	struct event *wakeup;		/* user event: calls queued */
	struct event *reconnect;
	struct client_call *queue;	/* calls to run */
	struct client_call *waiting;	/* calls waiting for readiness */
	bool stopping;

	/* Network thread state. */
	struct neo_conn *master;
	bool ready;			/* identified, table operational, last tid known */
	bool ever_ready;
	bool have_last_tid;
	int32_t nid;
	double id_timestamp;
	enum neo_cluster_state cluster_state;
	struct neo_node_table nodes;
	struct neo_ptable pt;
	struct neo_idmap links;		/* nid -> client_link */
	uint64_t master_generation;	/* bumped at each master loss */

	/* Under lock. */
	uint64_t last_tid;
	uint64_t invalidations;		/* counter, to drop racing cache fills */
	struct client_cache *cache;
};

/* client.c */
int client_call(struct neo_client *c, struct client_call *call);
void client_call_done(struct neo_client *c, struct client_call *call, int status,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int client_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int client_error_status(const struct neo_packet *answer);
void client_error_text(const struct neo_packet *answer, char *buf, size_t len);
bool client_master_ask(struct neo_client *c, uint16_t code, const void *args,
		       neo_answer_cb cb, void *arg);

/* client_links.c */
void client_link_get(struct neo_client *c, int32_t nid, link_ready_fn fn, void *arg);
void client_links_close(struct neo_client *c);
void client_link_drop(struct neo_client *c, int32_t nid);
/* Readable cells of a partition on running nodes, shuffled; returns count. */
uint32_t client_readable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max);
uint32_t client_writable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max);
void client_handle_storage_packet(struct neo_client *c, struct client_link *link,
				  struct neo_packet *pkt);

/* client_cache.c */
struct client_cache *client_cache_new(size_t max_bytes);
void client_cache_free(struct client_cache *cache);
/* The entry valid before `before` (0: current), copied into out. */
bool client_cache_get(struct client_cache *cache, uint64_t oid, uint64_t before,
		      struct neo_client_record *out);
void client_cache_put(struct client_cache *cache, const struct neo_client_record *record);
void client_cache_invalidate(struct client_cache *cache, uint64_t oid, uint64_t tid);
void client_cache_clear(struct client_cache *cache);
size_t client_cache_bytes(const struct client_cache *cache);

/* Compression and checksums. */
int client_decode_data(const uint8_t *data, size_t size, int compression,
		       const uint8_t checksum[20], uint8_t **out, size_t *out_size);
int client_encode_data(int level, const void *data, size_t size, uint8_t **out,
		       size_t *out_size, int *compression, uint8_t checksum[20]);

#endif
