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
 *   - with --monitor-email, each change of the cluster's health (state,
 *     cells per state, storage nodes down, primary lost) is mailed, as
 *     upstream (admin/monitor.c, admin/alerts.h).
 *
 * Not done (upstream's admin does it): watching backup clusters' admins
 * (--monitor-backup is refused); the summary covers this cluster only.
 * NotifyUpstreamAdmin (a backup cluster's master naming the upstream
 * cluster's admin) is logged, not acted on.
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
#include "metrics/metrics.h"
#include "net/address.h"
#include "net/conn.h"
#include "runtime/options.h"

struct admin_client;
struct admin_progress;
struct alerts;
struct neo_notify_progress;

/* The health upstream's admin watches; a change is mailed. */
struct admin_monitor_view {
	bool connected;			/* identified to a primary */
	bool has_state;
	enum neo_cluster_state state;
	uint32_t down;			/* storage nodes with cells, not running */
	uint32_t counts[NEO_CELL_DISCARDED + 1];	/* cells per state */
};

/* --metrics: the cluster as the admin mirrors it (admin/metrics.c). */
struct admin_metrics {
	struct neo_metric *primary, *state, *nodes, *cells, *partitions, *replicas;
	struct neo_metric *last_tid_time, *last_tid_age;
	struct event *poll;		/* asks the primary its last tid */
	bool asking;			/* an AskLastTransaction is out */
	bool has_last_tid;
	uint64_t last_tid;
};

struct admin {
	struct event_base *base;
	SSL_CTX *ssl;			/* borrowed; NULL without TLS */
	const char *cluster;		/* borrowed from the options */
	struct neo_address address;	/* where neoctl reaches us */
	struct neo_listener *listener;

	/* RequestIdentification's extra: {"backup": [monitored names],
	 * "progress": true} (ours: our master then sends NotifyProgress, which
	 * an upstream master neither reads nor sends). */
	struct neo_bin extra_keys[2];
	msgpack_object extra_values[2];
	msgpack_object *backup_names;
	/* The upstream cluster's admin our master told us of (backup mode,
	 * NotifyUpstreamAdmin), "host:port", or "". */
	char upstream_admin[300];

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

	/* Mails (admin/monitor.c); alerts is NULL without --monitor-email. */
	struct alerts *alerts;
	struct admin_monitor_view monitor_view;	/* as last seen */
	bool monitor_changed;		/* since the last mail */
	bool monitor_asking;		/* the last tid is on its way */

	struct admin_client *clients;	/* neoctl connections */
	bool leaving;			/* the cluster stopped: ending */
	bool stopped;			/* the loop was asked to end */

	struct admin_metrics metrics;
	struct admin_progress *progress;	/* admin/progress.c */
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

/*
 * admin/metrics.c: registers the cluster's metrics in registry (the
 * README's Metrics section lists them).  With poll, the admin asks the
 * primary its last tid every ADMIN_METRICS_POLL_MS, for
 * neo_cluster_last_tid_*; the other gauges are read from the mirror when
 * scraped.  0 or -1; admin_metrics_free stops the polling.
 */
#define ADMIN_METRICS_POLL_MS 1000
int admin_metrics_init(struct admin *a, struct neo_metrics *registry, bool poll);
void admin_metrics_free(struct admin *a);

/* admin/progress.c: the last NotifyProgress of our master (ours); the
 * lines neoctl print summary shows under the summary ("" when nothing is
 * in progress; NULL when out of memory); the metrics (neo_progress_*). */
void admin_progress_learn(struct admin *a, const struct neo_notify_progress *report);
void admin_progress_forget(struct admin *a);
void admin_progress_free(struct admin *a);
char *admin_progress_text(const struct admin *a);
int admin_progress_metrics_init(struct admin *a, struct neo_metrics *registry);
void admin_progress_collect(struct admin *a);

/* What neoctl and the mails are told without a primary. */
extern const char admin_not_connected[];

/* admin/monitor.c.  RUNNING or BACKINGUP. */
bool admin_operational(const struct admin *a);
/* "RUNNING; UP_TO_DATE=12; ltid=03f1... (2026-...)", as upstream's
 * formatSummary; *severity 0 ok, 1 warning, 2 problem. */
void admin_summary_text(const struct admin *a, bool has_tid, uint64_t tid, char *buf,
			size_t buflen, int *severity);
/* After any change of the mirror: a changed health is mailed. */
void admin_monitor_update(struct admin *a);
/* Mails the health now if it changed or the last mail failed. */
void admin_monitor_notify(struct admin *a);
/* After the loop: runs it until the mail on its way is sent or failed
 * (a few seconds at most), so that the cluster stopping is told too, as
 * upstream's admin, whose mails block it, does. */
void admin_monitor_flush(struct admin *a);

#endif
