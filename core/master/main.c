/*
 * neomaster - the master node.  Starts listening, then runs for primary;
 * see master/master.h for how the work is split.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "master/master.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static void master_on_signal(int signum, void *arg)
{
	struct master *m = arg;

	neo_log(NEO_LOG_INFO, "signal %d: stopping", signum);
	event_base_loopbreak(m->base);
}

/* The configured masters but ourselves. */
static int master_peers(struct master *m, const struct neo_daemon *daemon)
{
	m->masters = neo_calloc(daemon->master_count + 1, sizeof *m->masters);
	if (m->masters == NULL)
		return -1;
	for (size_t i = 0; i < daemon->master_count; i++) {
		const struct neo_address *peer = &daemon->masters[i];

		if (peer->port == m->address.port && strcmp(peer->host, m->address.host) == 0)
			continue;
		m->masters[m->master_count++] = *peer;
	}
	return 0;
}

static void master_free(struct master *m)
{
	master_txn_reset(m);
	master_pack_reset(m);
	master_backup_free(m);
	master_gc_stop(m);
	master_progress_stop(m);
	for (size_t i = 0; i < m->nodes.count; i++) {
		neo_free(m->nodes.nodes[i]->owner_data);
		m->nodes.nodes[i]->owner_data = NULL;
	}
	neo_nodes_free(&m->nodes);
	neo_ptable_free(&m->pt);
	neo_idmap_free(&m->locked);
	if (m->retry_event)
		event_free(m->retry_event);
	if (m->listener)
		neo_listener_free(m->listener);
	neo_free(m->master_links);
	neo_free(m->masters);
}

/* SIGRTMIN+2 (net/signals.h). */
static void master_dump(void *arg)
{
	struct master *m = arg;

	neo_log(NEO_LOG_INFO, "cluster state %s, %s, partition table %lld",
		neo_enum_name(NEO_ENUM_CLUSTER_STATES, m->state),
		m->primary ? "primary" : "secondary", (long long)m->pt.ptid);
	neo_nodes_log(&m->nodes);
}

int main(int argc, char **argv)
{
	struct neo_daemon daemon;
	struct master m;
	char err[256];
	int status;

	memset(&m, 0, sizeof m);
	status = neo_daemon_start(&daemon, NEO_PROGRAM_MASTER, argc, argv, 10000,
				  master_on_signal, &m);
	if (status || daemon.base == NULL)
		return status;
	m.base = daemon.base;
	m.opts = &daemon.opts;
	m.ssl = daemon.ssl;
	m.cluster = daemon.opts.cluster;
	neo_nodes_init(&m.nodes);
	neo_idmap_init(&m.txn_by_ttid);
	m.listener = neo_listener_new(m.base, &daemon.bind, m.ssl, master_on_accept, &m, err,
				      sizeof err);
	if (m.listener == NULL) {
		neo_log(NEO_LOG_ERROR, "cannot listen on %s:%u: %s", daemon.bind.host,
			daemon.bind.port, err);
		neo_daemon_finish(&daemon);
		return 1;
	}
	m.address = *neo_listener_address(m.listener);
	/* -D, as upstream: a master lists itself too (master_peers skips it) */
	neo_master_list_note(&m.address);
	neo_signals_set_dump(daemon.signals, master_dump, &m);
	if (master_metrics_init(&m, daemon.metrics) < 0 || master_peers(&m, &daemon) < 0
	    || master_backup_configure(&m) < 0 || master_progress_start(&m) < 0) {
		master_free(&m);
		neo_daemon_finish(&daemon);
		return 1;
	}
	neo_log(NEO_LOG_INFO, "master of cluster '%s' listening on %s:%u", m.cluster,
		m.address.host, m.address.port);
	master_start_candidacy(&m);
	event_base_dispatch(m.base);
	neo_log(NEO_LOG_INFO, "master stopped");
	/* Close connections before the base goes. */
	for (size_t i = 0; i < m.nodes.count; i++)
		if (m.nodes.nodes[i]->conn)
			neo_conn_abort(m.nodes.nodes[i]->conn, "master exiting");
	for (size_t i = 0; i < m.master_count; i++)
		if (m.master_links && m.master_links[i])
			neo_conn_abort(m.master_links[i], "master exiting");
	if (m.primary_conn)
		neo_conn_abort(m.primary_conn, "master exiting");
	master_backup_stop(&m);		/* the link to an upstream cluster */
	event_base_loop(m.base, EVLOOP_NONBLOCK);
	master_free(&m);
	neo_daemon_finish(&daemon);
	return 0;
}
