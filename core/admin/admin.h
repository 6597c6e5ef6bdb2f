/*
 * admin/admin.h - the admin node: neoctl's way into the cluster.
 *
 * Promises (as upstream's neo/admin):
 *   - it keeps one connection to the primary master, identified as ADMIN:
 *     a secondary master's NotPrimaryMaster sends it to the primary at
 *     once; any other failure or loss is retried on the next known master
 *     after 1 s, forever;
 *   - while identified it mirrors what the primary says: nodes
 *     (NotifyNodeInformation), partition table (SendPartitionTable,
 *     NotifyPartitionChanges) and cluster state;
 *   - neoctl connections send requests right after the handshake, without
 *     identifying.  Node list, partition rows, cluster state, primary and
 *     monitoring summary are answered from the mirror; the other commands
 *     are relayed to the primary and its answer (or Error) relayed back
 *     under neoctl's message id; FlushLog is relayed as a notification;
 *   - with no primary, every request gets Error(NOT_READY, "Not connected
 *     to a primary master.") and the connection is closed;
 *   - when the primary goes away while the cluster is STOPPING, the admin
 *     ends its loop (the daemon exits 0).
 *
 * Not done (upstream's admin does them): watching backup clusters' admins
 * and mailing monitoring changes; the summary covers this cluster only.
 *
 * Ownership: struct admin owns its master list, mirror, listener and the
 * records of neoctl connections and relayed requests; connections free
 * themselves (net/conn.h).  Everything runs in the thread of the event base.
 */
#ifndef NEO_ADMIN_H
#define NEO_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cluster/nodes.h"
#include "cluster/ptable.h"
#include "net/address.h"
#include "net/conn.h"
#include "runtime/options.h"

struct admin_client;

struct admin {
	struct event_base *base;
	SSL_CTX *ssl;			/* borrowed; NULL without TLS */
	const char *cluster;		/* borrowed from the options */
	struct neo_address address;	/* where neoctl reaches us */
	struct neo_listener *listener;

	/* RequestIdentification's extra: {"backup": [monitored names]}. */
	struct neo_bin extra_key;
	msgpack_object extra_value;
	msgpack_object *backup_names;

	/* Masters: the configured ones, then those learnt from NotPrimaryMaster. */
	struct neo_address *masters;
	size_t master_count, master_capacity;
	size_t master_index;		/* the one tried last */
	bool redirected;		/* next try: master_index, the named primary */
	bool redirect_followed;		/* the last try was such a hop */
	struct event *retry;
	struct neo_conn *master_conn;	/* connecting, identifying or identified */
	bool identified;
	int32_t nid;			/* ours, given by the primary (0: none) */
	int32_t primary_nid;

	/* The mirror of the primary's view. */
	struct neo_node_table nodes;
	struct neo_ptable pt;
	bool has_cluster_state;
	enum neo_cluster_state cluster_state;

	struct admin_client *clients;	/* neoctl connections */
	bool leaving;			/* the cluster stopped: ending */
	bool stopped;			/* the loop was asked to end */
};

/*
 * Listens on bind and takes the master list.  opts must outlive the admin.
 * Returns 0, or -1 with err (e.g. the address is in use).
 */
int admin_init(struct admin *a, struct event_base *base, SSL_CTX *ssl,
	       const struct neo_options *opts, const struct neo_address *bind,
	       const struct neo_address *masters, size_t master_count, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Starts looking for the primary master. */
void admin_start(struct admin *a);
/* Ends the event loop soon (SIGTERM, or the cluster stopped). */
void admin_stop(struct admin *a);
/* After the loop: closes every connection (run the loop once more so that
 * they free themselves), then admin_free. */
void admin_close(struct admin *a);
void admin_free(struct admin *a);

#endif
