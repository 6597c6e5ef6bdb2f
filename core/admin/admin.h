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
 *   - with --monitor-backup NAME (repeatable), as upstream: the admins of
 *     the backup clusters NAME identify to us (RequestIdentification of an
 *     ADMIN named NAME, one connection per name) and tell their cluster's
 *     health (NotifyMonitorInformation); each check asks them their
 *     backup tid and last tid, and a backup whose backup tid is more than
 *     --monitor-maxlag seconds behind our last tid is lagging: summary,
 *     mails and metrics cover every watched backup (admin/backups.c);
 *   - in a backup cluster, the admin our master names the upstream
 *     cluster's admin to (NotifyUpstreamAdmin) connects to it, identifies
 *     with our cluster's name, tells our health and each change of it,
 *     and serves its requests as neoctl's (admin/upstream.c).
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
struct admin_waiter;
struct admin_progress;
struct alerts;
struct neo_notify_progress;

/* A backup cluster watched (--monitor-backup): what its admin told us and
 * what the last check found (admin/backups.c). */
struct admin_backup {
	struct admin *admin;
	const char *name;		/* borrowed from the options */
	struct neo_conn *conn;		/* its admin, identified; NULL: none */
	/* NotifyMonitorInformation: cluster_state (None: not has_state),
	 * down, pt_summary (None: not has_pt). */
	bool has_state;
	enum neo_cluster_state state;
	uint32_t down;
	bool has_pt;
	uint32_t counts[NEO_CELL_DISCARDED + 1];
	/* Asked at each check. */
	bool has_backup_tid, has_ltid;
	uint64_t backup_tid, ltid;
	bool lagging;			/* as upstream: more than --monitor-maxlag */
	bool changed;			/* since the last mail */
	bool has_lag;			/* lag: seconds behind, at the last check */
	double lag;
};

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
	struct neo_metric *backup_connected, *backup_lag, *backup_lagging;	/* or NULL */
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
	 * NotifyUpstreamAdmin), "host:port", or "" (admin/upstream.c). */
	char upstream_admin[300];
	struct neo_address upstream_address;
	struct neo_conn *upstream_conn;	/* connecting, identifying or reporting */
	bool upstream_identified;
	struct event *upstream_retry;
	struct admin_monitor_view upstream_sent;	/* what it was told */
	bool upstream_has_pt;

	/* --monitor-backup: the watched backups, and the checks. */
	struct admin_backup *backups;
	size_t backup_count;
	double monitor_maxlag;
	double monitor_interval;	/* seconds between checks of the lag */
	struct event *recheck;
	bool round_running;		/* a check waits for last tids */
	unsigned round_pending;		/* answers still to come */
	bool round_has_tid;		/* our last tid (backup tid in backup mode) */
	uint64_t round_tid;
	struct admin_waiter *waiters;	/* neoctl print summary, answered at its end */

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

/* admin.c: a connection served as neoctl's (the upstream cluster's admin
 * we report to); gone is called when it closes.  NULL: out of memory. */
struct admin_client *admin_client_adopt(struct admin *a, struct neo_conn *conn,
					void (*gone)(struct admin *a));

/* admin/backups.c.  Allocates the watched backups (--monitor-backup). */
int admin_backups_init(struct admin *a, const struct neo_options *opts);
void admin_backups_free(struct admin *a);
/* RequestIdentification from another admin: a watched backup's takes the
 * connection (true); false with why otherwise. */
bool admin_backups_identify(struct admin *a, struct neo_conn *conn,
			    const struct neo_request_identification *req, uint32_t msg_id,
			    char *why, size_t whylen);
/* Part of a check (admin/monitor.c): asks every operational backup its
 * ids, each ask counted in round_pending (admin_round_answered). */
void admin_backups_ask(struct admin *a);
/* Appends each backup's summary to body, the lag computed from our tid
 * (has_tid false: no lag); 2 problem, 1 warning, 0 ok. */
void admin_backups_summary(struct admin *a, bool has_tid, uint64_t tid, char *body,
			   size_t bodylen);
int admin_backup_severity(const struct admin_backup *b);
/* Upstream's connectionClosed of a watched backup: it is forgotten. */
void admin_backup_reset(struct admin_backup *b);

/* admin/upstream.c.  NotifyUpstreamAdmin from our master. */
void admin_upstream_set(struct admin *a, const struct neo_wire_address *address);
/* Tells the upstream admin what changed of our health. */
void admin_upstream_update(struct admin *a, const struct admin_monitor_view *view);
void admin_upstream_close(struct admin *a);

/* monitor.c: the check timer and the neoctl waiting; 0 or -1. */
int admin_monitor_init(struct admin *a);
void admin_monitor_free(struct admin *a);
/* monitor.c: a round of asks ended (one answer, timeout or close). */
void admin_round_answered(struct admin *a);
/* neoctl print summary: answered at the end of a check. */
void admin_monitor_ask(struct admin *a, struct admin_client *client, uint32_t msg_id);
void admin_monitor_forget(struct admin *a, struct admin_client *client);
struct neo_conn *admin_client_conn(const struct admin_client *client);
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
