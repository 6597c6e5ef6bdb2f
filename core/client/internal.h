/*
 * client/internal.h - libneoclient's private parts, shared by
 *
 *   client/client.c  lifecycle: open, close, the network thread
 *   client/calls.c   the call queue: calls from user threads, their end,
 *                    parking until the cluster is ready
 *   client/master.c  the primary master link (finding it, identification,
 *                    node list, partition table, cluster state,
 *                    invalidations, reconnection), overdue calls
 *   client/codec.c   the data codec (compression, checksums)
 *   client/util.c    shared helpers (a leaf): error message, clock,
 *                    answers' status and text, asking the master
 *   client/links.c   connections to storages, identification, which cells
 *                    to read from or write to
 *   client/read.c    loads and the other reads, with failover
 *   client/txn.c     transactions
 *   client/pack.c    pack
 *   client/cache.c   the object cache (client/cache.h)
 *   client/blob.c    blobs: chunked records (core/client/blobs.md)
 *
 * Calls go one way: client -> master -> read -> links -> util, with txn
 * and pack above read, and calls, codec, cache below; util.c calls no
 * other file (tests/build/call_graph.py lists any loop).  Failure policy: every
 * function returns a status code (NEO_CLIENT_*), allocation failures
 * included; the library never stops the application.
 *
 * Threading: the network thread runs the event loop and reads every
 * connection.  The network lock `net` protects the connections, the node
 * list, the partition table, the links, the open transactions and every
 * call's network part: the network thread holds it in each of its
 * callbacks (the connections' guard, net/conn.h), and a user thread holds
 * it while it runs its own call (struct client_call): it encodes and
 * writes its requests itself, then waits on the call's `cond`, without
 * the lock, for the network thread to read the answers and mark it done.
 * A store goes at once when no other store to that storage is in
 * flight; else it waits in the output (as Nagle's algorithm) for the
 * answers in flight (the network thread, woken by them, writes it), for
 * the next call that waits, for 64 KiB of them, or for the batch timer
 * (BATCH_DELAY_US), whichever comes first: a 1-object commit wakes no
 * one, and bulk stores still go in batches.
 * Over TLS, and to close, calls are queued to
 * the network thread instead (a TLS connection reads and writes as one).
 * `lock` (taken after `net`, never before) protects the queue, the calls'
 * results, `ready` as user threads see it, the cache and last_tid.
 */
#ifndef NEO_CLIENT_INTERNAL_H
#define NEO_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "client/cache.h"
#include "cluster/idmap.h"
#include "cluster/nodes.h"
#include "cluster/ptable.h"
#include "neo/client.h"
#include "net/address.h"
#include "net/conn.h"

/* A call still running this long after its deadline means a step that
 * was not bounded: the connections are dropped so that it ends. */
#define OVERDUE_GRACE_MS 2000
#define OVERDUE_CHECK_MS 1000

/* As upstream: new oids are asked from the master this many at a time,
 * and the spare ones kept until the master is lost. */
#define CLIENT_OID_BATCH 100

/* Cells of one partition we consider at most (replicas + 1). */
#define CLIENT_MAX_CELLS 32

struct neo_client;
struct client_call;

typedef void (*client_call_fn)(struct neo_client *c, struct client_call *call);

/*
 * One blocking request from a user thread.  `run` is called in the
 * network thread; it ends the call with client_call_done, at once or from
 * a later callback, or parks it until the cluster is ready again
 * (client_call_park).  Operations embed it as their first member.
 */
struct client_call {
	client_call_fn run;
	bool needs_ready;		/* park until the cluster is ready first */
	bool in_loop;			/* run by the network thread, never by the caller */
	bool batchable;			/* its requests may wait in the output (stores) */
	bool done;
	/* The caller's own wake-up: completions wake only their caller, not
	 * every thread with a call in flight. */
	pthread_cond_t cond;
	int status;
	char err[256];
	/* Every call ends by then (now + the call timeout when queued): the
	 * network thread bounds each of its steps by it
	 * (core/cluster/cluster.md section 10.5). */
	uint64_t deadline_ms;
	uint64_t park_until_ms;		/* while parked */
	bool parked;
	/* Said after the timeout message (e.g. that a commit's outcome is
	 * unknown); static text. */
	const char *timeout_note;
	struct client_call *next;
	struct client_call *next_active;	/* calls run and not yet done */
};

/* A connection to a storage node, made on demand. */
struct client_link {
	struct neo_client *c;
	int32_t nid;
	struct neo_conn *conn;
	bool identified;
	struct link_waiter *waiters;	/* sends waiting for identification */
	/* Stores written and not answered yet: a store goes at once when
	 * there are none, else waits in the output for their answers
	 * (client/txn.c). */
	uint32_t stores_in_flight;
};

/* Called once the link is identified (ok) or could not be (link may be
 * NULL then). */
typedef void (*link_ready_fn)(struct neo_client *c, struct client_link *link, void *arg,
			      bool ok);

struct link_waiter {
	link_ready_fn fn;
	void *arg;
	struct link_waiter *next;
};

/* A storage that failed us recently, tried last for reads (as upstream). */
struct node_failure {
	int32_t nid;
	uint64_t until_ms;
};

/* A load in flight, told of the invalidations that arrive meanwhile. */
struct load_watch {
	uint64_t oid;
	uint64_t invalidated;		/* first invalidation tid seen, 0: none */
	struct load_watch *next;
};

struct neo_client {
	/* Configuration (strings owned). */
	char *cluster;
	struct neo_address *masters;
	size_t master_count, master_index, masters_capacity;
	bool read_only;
	int compress;
	unsigned connect_timeout_ms;
	unsigned call_timeout_ms;	/* bounds every call (and every request) */
	neo_client_invalidate_cb on_invalidate;
	void *invalidate_arg;
	SSL_CTX *ssl;

	pthread_t thread;
	pthread_mutex_t net;		/* the network lock (see the top) */
	bool direct;			/* calls run in their caller's thread (no TLS) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event_base *base;
	struct event *wakeup;		/* user event: calls queued */
	struct event *reconnect;	/* timer: next try at a master */
	struct event *park_timer;	/* timer: parked calls' deadlines */
	struct event *overdue_timer;	/* timer: running calls' deadlines */
	struct event *batch_timer;	/* timer: stores left in the output go */
	bool batch_armed;		/* (under net) */
	bool stores_queued;		/* stores wait in an output (under net) */
	struct client_call *queue;	/* calls to run (under lock) */
	struct client_call *parked;	/* calls waiting for readiness */
	struct client_call *active;	/* calls run and not done (network thread) */
	bool stopping;

	/* Network thread state. */
	struct neo_conn *master;
	bool identified;		/* AcceptIdentification from the primary */
	bool have_last_tid;
	bool ready;			/* identified, last tid known, table operational */
	int32_t nid;			/* ours, kept to propose it again */
	double id_timestamp;
	enum neo_cluster_state cluster_state;
	struct neo_node_table nodes;
	struct neo_ptable pt;
	struct neo_idmap links;		/* nid -> client_link */
	struct neo_idmap txns;		/* ttid -> neo_txn, open transactions */
	struct load_watch *loads;	/* loads in flight */
	struct node_failure *failures;
	size_t failure_count, failures_capacity;
	/* A storage's NotifyDeadlock, for client/txn.c (set at open). */
	void (*on_deadlock)(struct neo_client *c, struct client_link *link,
			    const struct neo_notify_deadlock *deadlock);
	uint64_t generation;		/* bumped at each loss of the master */
	char refusal[200];		/* why the last try at a master failed */

	/* Under lock. */
	bool open_ready;		/* ready, as neo_client_open waits for it */
	/* New oids asked ahead (client/read.c), first..CLIENT_OID_BATCH. */
	uint64_t spare_oids[CLIENT_OID_BATCH];
	size_t spare_oid_first;
	uint64_t last_tid;
	struct client_cache *cache;
	/* Oids from the master not used yet by blob chunks (client/blob.c),
	 * kept across blobs: a 1 MiB blob does not ask the master each time. */
	uint64_t blob_oids[64];
	size_t blob_oid_count;
};

/* --- client/util.c: shared helpers, a leaf ------------------------------------------ */

/* Sets the calling thread's error message; returns status. */
int client_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void client_set_errmsg(const char *text);
uint64_t client_now_ms(void);
/* The timeout of a request made for a call: what is left of its time
 * (at least 1 ms); call NULL: the call timeout. */
unsigned client_ask_timeout(struct neo_client *c, const struct client_call *call);
/* The status and text of an Error answer (or of an unexpected one). */
int client_error_status(const struct neo_packet *answer);
void client_error_text(const struct neo_packet *answer, char *buf, size_t len);
const char *client_ask_status_text(enum neo_ask_status status);
/* Asks the primary master, for call (NULL: no call waits on it); false
 * when not connected. */
bool client_master_ask(struct neo_client *c, const struct client_call *call, uint16_t code,
		       const void *args, neo_answer_cb cb, void *arg);
bool client_node_running(struct neo_client *c, int32_t nid);
/* The network lock: taken again by its holder.  suspend lets it go for a
 * moment (around the application's invalidation callback, which may
 * wait for a thread that waits for the lock) and says how to resume. */
void client_net_lock(struct neo_client *c);
void client_net_unlock(struct neo_client *c);
unsigned client_net_suspend(struct neo_client *c);
void client_net_resume(struct neo_client *c, unsigned depth);
/* A connection to a node, guarded by the network lock when calls run in
 * their callers' threads. */
struct neo_conn *client_connect(struct neo_client *c, const struct neo_address *addr,
				const struct neo_conn_callbacks *callbacks, void *arg, char *err,
				size_t errlen);
/* Writes what waits in the output of every connection. */
void client_flush_output(struct neo_client *c);
/* The batch timer: stores left in the output go when it fires. */
void client_batch_tick(evutil_socket_t fd, short what, void *arg);

/* --- client/calls.c: the call queue ------------------------------------------------- */

/* Runs call in the network thread and waits for it; returns its status
 * (and sets the thread's error message). */
int client_call(struct neo_client *c, struct client_call *call);
void client_call_done(struct neo_client *c, struct client_call *call, int status,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Parks a call until the cluster is ready, then runs it again; for at
 * most the connect timeout (forever: until the call's deadline). */
void client_call_park(struct neo_client *c, struct client_call *call, bool forever);
/* Ends a call whose request to the master was not answered (status). */
void client_call_unanswered(struct neo_client *c, struct client_call *call,
			    enum neo_ask_status status);
/* The network thread's side: calls queued (event), parked calls'
 * deadlines (timer), parked calls run once ready. */
void client_on_wakeup(evutil_socket_t fd, short what, void *arg);
void client_park_tick(evutil_socket_t fd, short what, void *arg);
void client_run_parked(struct neo_client *c);

/* --- client/master.c: the primary master link -------------------------------------- */

void client_connect_master(struct neo_client *c);
void client_reconnect_tick(evutil_socket_t fd, short what, void *arg);
/* Forgets the cluster and tries again (the next master if next_master)
 * after delay_ms (0: the default). */
void client_master_lost(struct neo_client *c, const char *why, bool next_master,
			unsigned delay_ms);
/* Timer: drops the connections when a call runs past its deadline. */
void client_check_overdue(evutil_socket_t fd, short what, void *arg);

/* --- client/codec.c: the data codec ------------------------------------------------ */

/* Compression and checksums (as upstream: SHA-1 over the stored bytes,
 * zlib only when it makes data smaller). */
int client_decode_data(const uint8_t *data, size_t size, int compression,
		       const uint8_t checksum[20], uint8_t **out, size_t *out_size,
		       char *err, size_t errlen);
int client_encode_data(int level, const void *data, size_t size, uint8_t **out,
		       size_t *out_size, int *compression, uint8_t checksum[20]);
bool client_checksum_is_zero(const struct neo_bin *checksum);
/* Whether data looks compressible (a sample compressed fast): blob
 * chunks of data already compressed (images, archives) skip zlib. */
bool client_compresses(const void *data, size_t size);

/* --- client/links.c -------------------------------------------------------------- */

/* Calls fn once the storage's link is identified (or failed). */
void client_link_get(struct neo_client *c, int32_t nid, link_ready_fn fn, void *arg);
struct client_link *client_link_identified(struct neo_client *c, int32_t nid);
void client_link_drop(struct neo_client *c, int32_t nid, const char *why);
void client_links_close(struct neo_client *c);
void client_note_failure(struct neo_client *c, int32_t nid);
/* Readable cells of a partition on running nodes: random order, nodes
 * that failed recently last.  Returns the count. */
uint32_t client_readable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max);
/* Writable cells of a partition on running nodes. */
uint32_t client_writable_cells(struct neo_client *c, uint32_t partition, int32_t *nids,
			       uint32_t max);
/* Running storages holding a readable cell; *nids malloc'ed. */
size_t client_readable_nodes(struct neo_client *c, int32_t **nids);

/* --- client/txn.c ---------------------------------------------------------------- */

/* Makes txn a pack transaction: its vote and finish carry the order
 * (oids NULL: the whole database). */
int client_txn_set_pack(struct neo_txn *txn, uint64_t pack_tid, const uint64_t *oids,
			size_t count);
/* neo_txn_store whose data is not kept to fill the cache at finish: blob
 * chunks (client/blob.c). */
int client_txn_store_uncached(struct neo_txn *txn, uint64_t oid, uint64_t serial,
			      const void *data, size_t size, bool compress);
/* The client a transaction belongs to (for client/blob.c). */
struct neo_client *client_txn_owner(const struct neo_txn *txn);

/* --- client/read.c --------------------------------------------------------------- */

/* An invalidation for the loads in flight (their answers are cached
 * only if the master stayed the same). */
void client_loads_invalidate(struct neo_client *c, uint64_t oid, uint64_t tid);
/* Forgets the new oids asked ahead (the master was lost: as upstream). */
void client_spare_oids_drop(struct neo_client *c);

/*
 * One request to a readable cell of a partition, with failover as
 * upstream's _askStorageForRead: cells in random order (recent failures
 * last); a lost connection, NON_READABLE_CELL, a bad answer or a wrong
 * checksum moves on to the next; after a round, a Ping to the master and
 * another round, until failures outnumber the cells.
 */
struct read_req;
enum { READ_NEXT = -1, READ_NEXT_UNCOUNTED = -2 };
/* Returns a client status, READ_NEXT (a failure: try the next cell) or
 * READ_NEXT_UNCOUNTED (the cell cannot serve now). */
typedef int (*read_answer_fn)(struct read_req *req, struct neo_packet *answer);
typedef void (*read_done_fn)(struct read_req *req, int status);

struct read_req {
	struct neo_client *c;
	uint32_t partition;
	uint16_t code;
	const void *args;
	read_answer_fn on_answer;
	read_done_fn on_done;
	void *ctx;
	/* Nodes not to read from (failed in the caller's transaction). */
	const int32_t *exclude;
	size_t exclude_count;
	/* Internal. */
	int32_t nids[CLIENT_MAX_CELLS];
	uint32_t count, index, failures, rounds;
	int32_t current;		/* the node asked */
	uint64_t generation;
	bool bad_checksum;
	char err[200];
};
void client_read_start(struct read_req *req);
/* load_before that neither reads nor fills the object cache: blob chunks
 * (client/blob.c) would push every object out of it. */
int client_load_uncached(struct neo_client *client, uint64_t oid, uint64_t before,
			 struct neo_client_record *out);

/* --- client/txn.c ---------------------------------------------------------------- */

void client_txn_deadlock(struct neo_client *c, struct client_link *link,
			 const struct neo_notify_deadlock *deadlock);
/* The client closes: open transactions are released. */
void client_txns_close(struct neo_client *c);

#endif
