/*
 * neostorage - the storage node.  Opens its backend module, listens, then
 * serves the cluster through the primary master; see storage/storage.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "runtime/log.h"
#include "storage/storage.h"


static void storage_on_signal(int signum, void *arg)
{
	struct storage *s = arg;

	neo_log(NEO_LOG_INFO, "signal %d: stopping", signum);
	event_base_loopbreak(s->base);
}

static void backend_log(void *ctx, enum neo_backend_log_level level, const char *message)
{
	static const enum neo_log_level levels[] = { NEO_LOG_DEBUG, NEO_LOG_INFO,
						     NEO_LOG_WARNING, NEO_LOG_ERROR };

	(void)ctx;
	neo_log(levels[level <= NEO_BACKEND_LOG_ERROR ? level : NEO_BACKEND_LOG_ERROR], "backend: %s",
		message);
}

static int storage_open_backend(struct storage *s, struct neo_options *opts)
{
	struct neo_backend_open_args args = { .struct_size = sizeof args };
	const char *module, *mysql_engine;
	char err[512];
	int rc;

	if (opts->database == NULL) {
		neo_log(NEO_LOG_ERROR, "--database is required");
		return -1;
	}
	if (neo_backend_choice(opts->adapter, opts->engine, &module, &mysql_engine, err,
			       sizeof err) < 0
	    || neo_backend_load(module, &s->module, err, sizeof err) < 0) {
		neo_log(NEO_LOG_ERROR, "%s", err);
		return -1;
	}
	s->be = s->module.ops;
	args.database = opts->database;
	args.engine = mysql_engine;
	/* as upstream: any negative --wait is forever; the module counts
	 * whole seconds, so a fraction rounds up rather than to no wait */
	args.wait_seconds = opts->wait < 0 ? -1
			    : opts->wait > 1e6 ? 1000000 : (int)ceil(opts->wait);
	args.flags = (opts->reset ? NEO_BACKEND_OPEN_RESET : 0)
		     | (opts->dedup ? NEO_BACKEND_OPEN_DEDUP : 0);
	args.log = backend_log;
	rc = s->be->open(&args, &s->db, err, sizeof err);
	if (rc != NEO_BACKEND_OK) {
		neo_log(NEO_LOG_ERROR, "cannot open database '%s' with %s: %s", opts->database,
			s->module.path, err);
		return -1;
	}
	neo_log(NEO_LOG_INFO, "database '%s' opened with %s", opts->database, s->module.path);
	return 0;
}

/* As upstream: the cluster name is stored on first use and must match. */
static int storage_check_name(struct storage *s)
{
	struct neo_bytes name = { 0 };
	struct neo_bytes mine = { (const uint8_t *)s->cluster, strlen(s->cluster) };
	int rc = s->be->config_get(s->db, "name", &name);

	if (rc == NEO_BACKEND_NOTFOUND) {
		if (s->be->config_set(s->db, "name", &mine) != NEO_BACKEND_OK
		    || s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC) != NEO_BACKEND_OK)
			return -1;
		return 0;
	}
	if (rc != NEO_BACKEND_OK)
		return -1;
	if (name.size != mine.size || memcmp(name.data, mine.data, mine.size) != 0) {
		neo_log(NEO_LOG_ERROR, "database belongs to cluster '%.*s', not '%s'",
			(int)name.size, (const char *)name.data, s->cluster);
		return -1;
	}
	return 0;
}

static int storage_load_state(struct storage *s)
{
	uint64_t nid = 0;

	if (storage_check_name(s) < 0)
		return -1;
	if (storage_config_get_u64(s, "nid", &nid) == 0)
		s->nid = (int32_t)nid;
	else if (s->opts->has_nid)
		s->nid = (int32_t)s->opts->nid;
	return 0;
}

/*
 * --new-nid, as upstream: the database is a copy of another storage's
 * (taken while it was stopped); its cells are offered to the master with
 * a request for a new id (storage/master.c), which the node saves before
 * it exits.  An empty database has nothing to offer: refused.
 */
static int storage_prepare_new_nid(struct storage *s)
{
	storage_load_pt(s);
	s->new_nid_partitions = neo_calloc(s->pt.num_partitions + 1, sizeof *s->new_nid_partitions);
	if (s->new_nid_partitions == NULL)
		return -1;
	for (uint32_t p = 0; p < s->pt.num_partitions; p++)
		if (s->nid && storage_cell_state(s, p) >= 0)
			s->new_nid_partitions[s->new_nid_count++] = p;
	if (s->new_nid_count == 0) {
		/* as upstream */
		neo_log(NEO_LOG_ERROR, "--new-nid: database is empty (no cell assigned to it)");
		return -1;
	}
	neo_log(NEO_LOG_INFO, "--new-nid: asking the master for a new id, with %u cell(s)",
		s->new_nid_count);
	s->nid = 0;
	return 0;
}

static void storage_free(struct storage *s)
{
	storage_replication_stop(s);
	storage_check_stop(s);
	storage_drop_stop(s);
	storage_pack_stop(s);
	storage_txn_reset(s);
	neo_idmap_free(&s->txns);
	neo_idmap_free(&s->write_locks);
	neo_idmap_free(&s->read_locks);
	{
		size_t index = 0;
		uint64_t key;
		void *peer;

		while (neo_idmap_next(&s->peers, &index, &key, &peer))
			neo_free(peer);
		neo_idmap_free(&s->peers);
	}
	neo_nodes_free(&s->nodes);
	neo_ptable_free(&s->pt);
	neo_free(s->new_nid_partitions);
	if (s->reconnect_event)
		event_free(s->reconnect_event);
	if (s->retry_event)
		event_free(s->retry_event);
	storage_sync_free(s);
	if (s->listener)
		neo_listener_free(s->listener);
	if (s->db)
		s->be->close(s->db);
	if (s->be)
		neo_backend_unload(&s->module);
}

/* SIGRTMIN+2 (net/signals.h). */
static void storage_dump(void *arg)
{
	struct storage *s = arg;

	neo_nodes_log(&s->nodes);
}

int main(int argc, char **argv)
{
	struct neo_daemon daemon;
	struct storage s;
	char err[256];
	int status;

	memset(&s, 0, sizeof s);
	status = neo_daemon_start(&daemon, NEO_PROGRAM_STORAGE, argc, argv, 0, storage_on_signal, &s);
	if (status || daemon.base == NULL)
		return status;
	s.base = daemon.base;
	s.route = storage_route;
	s.opts = &daemon.opts;
	s.ssl = daemon.ssl;
	s.cluster = daemon.opts.cluster;
	s.masters = daemon.masters;
	s.master_count = daemon.master_count;
	neo_nodes_init(&s.nodes);
	if (storage_open_backend(&s, &daemon.opts) < 0 || storage_load_state(&s) < 0) {
		storage_free(&s);
		neo_daemon_finish(&daemon);
		return 1;
	}
	if (daemon.opts.reset) {
		neo_log(NEO_LOG_INFO, "database erased (--reset)");
		storage_free(&s);
		neo_daemon_finish(&daemon);
		return 0;
	}
	if (daemon.opts.new_nid && storage_prepare_new_nid(&s) < 0) {
		storage_free(&s);
		neo_daemon_finish(&daemon);
		return 1;
	}
	neo_signals_set_dump(daemon.signals, storage_dump, &s);
	if (storage_metrics_init(&s, daemon.metrics) < 0) {
		neo_log(NEO_LOG_ERROR, "cannot register the metrics");
		storage_free(&s);
		neo_daemon_finish(&daemon);
		return 1;
	}
	s.listener = neo_listener_new(s.base, &daemon.bind, s.ssl, storage_on_accept, &s, err,
				      sizeof err);
	if (s.listener == NULL) {
		neo_log(NEO_LOG_ERROR, "cannot listen on %s:%u: %s", daemon.bind.host,
			daemon.bind.port, err);
		storage_free(&s);
		neo_daemon_finish(&daemon);
		return 1;
	}
	s.address = *neo_listener_address(s.listener);
	neo_log(NEO_LOG_INFO, "storage of cluster '%s' listening on %s:%u", s.cluster,
		s.address.host, s.address.port);
	storage_connect_master(&s);
	event_base_dispatch(s.base);
	neo_log(NEO_LOG_INFO, "storage stopped");
	storage_close_peers(&s);
	if (s.master_conn)
		neo_conn_abort(s.master_conn, "exiting");
	event_base_loop(s.base, EVLOOP_NONBLOCK);
	if (s.db)
		s.be->commit(s.db, NEO_BACKEND_COMMIT_SYNC);
	storage_free(&s);
	neo_daemon_finish(&daemon);
	return s.exit_status;
}
