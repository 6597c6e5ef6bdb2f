/*
 * daemon/daemon.c - the common start-up of neomaster, neostorage and neoadmin.
 */
#include "daemon/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "autoconfig.h"
#include "net/conn.h"
#include "net/ssl.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* The newest records below the level that a daemon keeps (upstream's
 * default backlog size). */
#define DAEMON_LOG_BACKLOG ((size_t)1 << 24)

static int daemon_addresses(struct neo_daemon *daemon, enum neo_program program,
			    int bind_default_port)
{
	char err[256];

	if (neo_address_parse(daemon->opts.bind, bind_default_port, &daemon->bind, err,
			      sizeof err) < 0) {
		fprintf(stderr, "%s: --bind: %s\n", neo_program_name(program), err);
		return -1;
	}
	if (daemon->opts.metrics
	    && neo_address_parse(daemon->opts.metrics, -1, &daemon->metrics_address, err,
				 sizeof err) < 0) {
		fprintf(stderr, "%s: --metrics: %s (expected HOST:PORT)\n", neo_program_name(program),
			err);
		return -1;
	}
	if (daemon->opts.masters && *daemon->opts.masters
	    && neo_address_list_parse(daemon->opts.masters, 10000, &daemon->masters,
				      &daemon->master_count, err, sizeof err) < 0) {
		fprintf(stderr, "%s: --masters: %s\n", neo_program_name(program), err);
		return -1;
	}
	return 0;
}

static void collect_connections(struct neo_metrics *metrics, void *arg)
{
	neo_metric_put(arg, (double)neo_conn_open_count());
}

/* The registry, its metrics common to every daemon, and with --metrics
 * its endpoint; 0, or -1 after printing why. */
static int daemon_metrics(struct neo_daemon *daemon, enum neo_program program)
{
	static const char *const build_labels[] = { "program", "version", NULL };
	const char *build_values[] = { neo_program_name(program), PACKAGE_VERSION };
	struct neo_metric *connections;
	char err[512], where[300];

	daemon->metrics = neo_metrics_new();
	if (daemon->metrics == NULL)
		return -1;
	connections = neo_metrics_gauge(daemon->metrics, "neo_open_connections",
		"NEO connections this process has open (accepted and outgoing)", NULL);
	if (neo_metric_set(neo_metrics_gauge(daemon->metrics, "neo_build_info",
			"Always 1: the program and the version of NEO in C", build_labels),
			   build_values, 1) < 0
	    || neo_metrics_add_collector(daemon->metrics, collect_connections, connections) < 0)
		return -1;
	if (daemon->opts.metrics == NULL)
		return 0;
	daemon->metrics_http = neo_metrics_http_new(daemon->base, &daemon->metrics_address,
						    daemon->metrics, err, sizeof err);
	if (daemon->metrics_http == NULL) {
		fprintf(stderr, "%s: --metrics: %s\n", neo_program_name(program), err);
		if (daemon->opts.logfile)
			neo_log(NEO_LOG_ERROR, "--metrics: %s", err);
		return -1;
	}
	neo_log(NEO_LOG_INFO, "metrics on http://%s/metrics",
		neo_address_format(neo_metrics_http_address(daemon->metrics_http), where,
				   sizeof where));
	return 0;
}

/* The daemons' failure policy for memory (runtime/alloc.h): a node that
 * lost an allocation stops rather than answer from half-done work; what
 * it acknowledged is on disk, and its peers carry on without it. */
static void daemon_out_of_memory(size_t size)
{
	neo_log(NEO_LOG_ERROR, "out of memory (an allocation of %zu bytes failed): stopping", size);
	_exit(1);
}

int neo_daemon_start(struct neo_daemon *daemon, enum neo_program program, int argc,
		     char *const argv[], int bind_default_port,
		     void (*on_stop)(int signum, void *arg), void *arg)
{
	char err[512];
	int level = NEO_LOG_INFO;

	neo_set_oom_handler(daemon_out_of_memory);
	/* libevent's own allocations (buffers, events) too: a lost output
	 * buffer would otherwise cut a packet in the middle.  This must come
	 * before any other libevent call, and does (the daemons start here). */
	event_set_mem_functions(neo_malloc, neo_realloc, neo_free);
	memset(daemon, 0, sizeof *daemon);
	if (neo_options_parse(program, argc, argv, &daemon->opts, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (daemon->opts.help) {
		neo_options_usage(program, stdout);
		neo_options_free(&daemon->opts);
		return 0;
	}
	if (daemon->opts.version) {
		printf("%s (NEO in C) %s\n", neo_program_name(program), PACKAGE_VERSION);
		neo_options_free(&daemon->opts);
		return 0;
	}
	if (daemon_addresses(daemon, program, bind_default_port) < 0)
		goto fail;
	if (daemon->opts.loglevel != NULL) {
		level = neo_log_level_parse(daemon->opts.loglevel);
		if (level < 0) {
			fprintf(stderr, "%s: --loglevel: expected DEBUG, INFO, WARNING or ERROR, got '%s'\n",
				neo_program_name(program), daemon->opts.loglevel);
			neo_daemon_finish(daemon);
			return 2;
		}
	}
	if (neo_log_open(daemon->opts.logfile, (enum neo_log_level)level,
			 neo_program_name(program)) < 0) {
		fprintf(stderr, "%s: cannot open log file %s\n", neo_program_name(program),
			daemon->opts.logfile);
		goto fail;
	}
	if (daemon->opts.dynamic_master_list
	    && neo_master_list_open(daemon->opts.dynamic_master_list, &daemon->masters,
				    &daemon->master_count, err, sizeof err) < 0) {
		fprintf(stderr, "%s: --dynamic-master-list: %s\n", neo_program_name(program), err);
		if (daemon->opts.logfile)
			neo_log(NEO_LOG_ERROR, "--dynamic-master-list: %s", err);
		goto fail;
	}
	/* as upstream: what is below the level is kept in memory (16 MiB)
	 * until asked for (SIGRTMIN, neoctl flush_log: net/signals.h) */
	if (level > NEO_LOG_DEBUG && neo_log_set_backlog(DAEMON_LOG_BACKLOG) != 0)
		goto fail;
	if (daemon->opts.ca) {
		daemon->ssl = neo_ssl_context_new(daemon->opts.ca, daemon->opts.cert,
						  daemon->opts.key, err, sizeof err);
		if (daemon->ssl == NULL) {
			fprintf(stderr, "%s: %s\n", neo_program_name(program), err);
			goto fail;
		}
	}
	evthread_use_pthreads();
	daemon->base = event_base_new();
	if (daemon->base == NULL)
		goto fail;
	daemon->signals = neo_signals_install(daemon->base, on_stop, arg);
	if (daemon->signals == NULL || daemon_metrics(daemon, program) < 0)
		goto fail;
	return 0;
fail:
	neo_daemon_finish(daemon);
	return 1;
}

void neo_daemon_finish(struct neo_daemon *daemon)
{
	neo_metrics_http_free(daemon->metrics_http);
	neo_metrics_free(daemon->metrics);
	if (daemon->signals)
		neo_signals_free(daemon->signals);
	if (daemon->base) {
		/* those closing gracefully or not identified yet: nobody
		 * else knows them (net/conn.c) */
		neo_conn_free_all(daemon->base);
		event_base_free(daemon->base);
	}
	if (daemon->ssl)
		SSL_CTX_free(daemon->ssl);
	neo_free(daemon->masters);
	neo_master_list_close();
	neo_options_free(&daemon->opts);
	neo_log_close();
	memset(daemon, 0, sizeof *daemon);
}
