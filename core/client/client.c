/*
 * client/client.c - libneoclient's lifecycle: configuration, opening
 * (start the network thread, wait for the cluster), closing, and the
 * network thread itself.  The call queue is client/calls.c, the master
 * link client/master.c, the data codec client/codec.c, shared helpers
 * client/util.c.  Nothing in client/ calls back into this file.
 */
#include "client/internal.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/thread.h>

#include "net/ssl.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

static void use_pthreads(void)
{
	evthread_use_pthreads();
}

#define DEFAULT_CACHE_SIZE (20u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 30000
/* How long a call may block: long enough for a master failover and a
 * storage dropped for not answering pings (15 s) on a loaded machine,
 * short enough that an application is not stuck for good. */
#define DEFAULT_CALL_TIMEOUT_MS 60000

static void *network_thread(void *arg)
{
	struct neo_client *c = arg;
	sigset_t pipe;

	/* A write to a storage or master that went away must fail with EPIPE,
	 * not kill the application: SIGPIPE is blocked in this thread (which
	 * does all the writes), without changing the process's handling. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);

	client_net_lock(c);
	client_connect_master(c);
	client_check_overdue(-1, 0, c);
	client_net_unlock(c);
	event_base_loop(c->base, EVLOOP_NO_EXIT_ON_EMPTY);
	/* Connections free themselves from the loop: one last turn. */
	event_base_loop(c->base, EVLOOP_NONBLOCK);
	return NULL;
}

static void stop_loop(struct neo_client *c, struct client_call *call)
{
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	evtimer_del(c->reconnect);
	evtimer_del(c->park_timer);
	evtimer_del(c->overdue_timer);
	evtimer_del(c->batch_timer);
	client_master_lost(c, "client closing", false, 0);
	client_txns_close(c);
	while (c->parked) {
		struct client_call *parked = c->parked;

		c->parked = parked->next;
		client_call_done(c, parked, NEO_CLIENT_INVALID, "client closed");
	}
	event_base_loopexit(c->base, NULL);
	/* Why the cluster could not be reached, for a failed open. */
	client_call_done(c, call, NEO_CLIENT_OK, "%s", c->refusal);
}

/*
 * The log is one per process and not made to change while other threads
 * write to it: the first client opened sets it up, quiet (errors only, to
 * stderr) unless given a log file, and later clients share it.
 */
static void setup_log(const char *logfile)
{
	static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
	static bool done;

	pthread_mutex_lock(&once_lock);
	if (!done) {
		if (logfile == NULL)
			neo_log_set_level(NEO_LOG_ERROR);
		else if (neo_log_open(logfile, NEO_LOG_INFO, "client") < 0)
			neo_log(NEO_LOG_WARNING, "cannot open the log file %s: logging to stderr",
				logfile);
		done = true;
	}
	pthread_mutex_unlock(&once_lock);
}

static int client_configure(struct neo_client *c, const struct neo_client_config *config)
{
	char err[256];

	/* Callers built before call_timeout_ms existed pass a shorter struct. */
	if (config == NULL || config->struct_size < offsetof(struct neo_client_config, call_timeout_ms)
	    || config->cluster == NULL
	    || config->masters == NULL || config->cluster[0] == '\0')
		return client_fail(NEO_CLIENT_INVALID, "cluster and masters are required");
	if (config->compress < -1 || config->compress > 9)
		return client_fail(NEO_CLIENT_INVALID, "compress must be -1 to 9");
	c->cluster = neo_strdup(config->cluster);
	if (c->cluster == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (neo_address_list_parse(config->masters, 10000, &c->masters, &c->master_count, err,
				   sizeof err) < 0)
		return client_fail(NEO_CLIENT_INVALID, "masters: %s", err);
	if (c->master_count == 0)
		return client_fail(NEO_CLIENT_INVALID, "masters: no address");
	c->masters_capacity = c->master_count;
	if (config->ca || config->cert || config->key) {
		if (!config->ca || !config->cert || !config->key)
			return client_fail(NEO_CLIENT_INVALID, "SSL needs ca, cert and key");
		c->ssl = neo_ssl_context_new(config->ca, config->cert, config->key, err, sizeof err);
		if (c->ssl == NULL)
			return client_fail(NEO_CLIENT_INVALID, "%s", err);
	}
	setup_log(config->logfile);
	/* A TLS connection reads and writes as one: its calls are queued to
	 * the network thread. */
	c->direct = c->ssl == NULL;
	c->read_only = config->read_only;
	c->compress = config->compress;
	c->connect_timeout_ms = config->connect_timeout_ms ? config->connect_timeout_ms
							   : DEFAULT_CONNECT_TIMEOUT_MS;
	c->call_timeout_ms = DEFAULT_CALL_TIMEOUT_MS;
	if (config->struct_size >= offsetof(struct neo_client_config, call_timeout_ms)
				   + sizeof config->call_timeout_ms && config->call_timeout_ms)
		c->call_timeout_ms = config->call_timeout_ms;
	c->on_invalidate = config->on_invalidate;
	c->invalidate_arg = config->invalidate_arg;
	c->cache = client_cache_new(config->cache_size ? config->cache_size : DEFAULT_CACHE_SIZE);
	return c->cache ? NEO_CLIENT_OK : client_fail(NEO_CLIENT_NOMEM, "out of memory");
}

static void client_destroy(struct neo_client *c)
{
	if (c->wakeup)
		event_free(c->wakeup);
	if (c->reconnect)
		event_free(c->reconnect);
	if (c->park_timer)
		event_free(c->park_timer);
	if (c->overdue_timer)
		event_free(c->overdue_timer);
	if (c->batch_timer)
		event_free(c->batch_timer);
	if (c->base)
		event_base_free(c->base);
	client_cache_free(c->cache);
	neo_nodes_free(&c->nodes);
	neo_ptable_free(&c->pt);
	neo_idmap_free(&c->links);
	neo_idmap_free(&c->txns);
	neo_free(c->failures);
	if (c->ssl)
		SSL_CTX_free(c->ssl);
	neo_free(c->masters);
	neo_free(c->cluster);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->net);
	pthread_cond_destroy(&c->cond);
	neo_free(c);
}

static bool wait_ready(struct neo_client *c)
{
	struct timespec deadline;
	bool ready;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->connect_timeout_ms / 1000;
	deadline.tv_nsec += (long)(c->connect_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->open_ready)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
			break;
	ready = c->open_ready;
	pthread_mutex_unlock(&c->lock);
	return ready;
}

/* The network thread's own events run under the network lock, as the
 * connections' callbacks do. */
static void locked_wakeup(evutil_socket_t fd, short what, void *arg)
{
	client_net_lock(arg);
	client_on_wakeup(fd, what, arg);
	client_net_unlock(arg);
}

static void locked_reconnect(evutil_socket_t fd, short what, void *arg)
{
	client_net_lock(arg);
	client_reconnect_tick(fd, what, arg);
	client_net_unlock(arg);
}

static void locked_park_tick(evutil_socket_t fd, short what, void *arg)
{
	client_net_lock(arg);
	client_park_tick(fd, what, arg);
	client_net_unlock(arg);
}

static void locked_check_overdue(evutil_socket_t fd, short what, void *arg)
{
	client_net_lock(arg);
	client_check_overdue(fd, what, arg);
	client_net_unlock(arg);
}

static void locked_batch_tick(evutil_socket_t fd, short what, void *arg)
{
	client_net_lock(arg);
	client_batch_tick(fd, what, arg);
	client_net_unlock(arg);
}

static int client_start(struct neo_client *c)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->net, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	neo_nodes_init(&c->nodes);
	neo_ptable_clear(&c->pt);
	/* links.c tells txn.c of deadlocks through this hook, so that the
	 * two files do not call each other */
	c->on_deadlock = client_txn_deadlock;
	neo_idmap_init(&c->links);
	neo_idmap_init(&c->txns);
	/* Calls come from other threads through event_active.  libevent's
	 * locking is set up once per process: two clients opened at the same
	 * time from two threads made libevent abort. */
	pthread_once(&evthread_once, use_pthreads);
	c->base = event_base_new();
	if (c->base == NULL)
		return -1;
	c->wakeup = event_new(c->base, -1, EV_PERSIST | EV_READ, locked_wakeup, c);
	c->reconnect = evtimer_new(c->base, locked_reconnect, c);
	c->park_timer = evtimer_new(c->base, locked_park_tick, c);
	c->overdue_timer = evtimer_new(c->base, locked_check_overdue, c);
	c->batch_timer = evtimer_new(c->base, locked_batch_tick, c);
	return c->wakeup && c->reconnect && c->park_timer && c->overdue_timer && c->batch_timer
	       ? 0 : -1;
}

/* Stops the network thread and frees c; why gets the last refusal. */
static void client_stop(struct neo_client *c, char *why, size_t len)
{
	struct client_call call = { .run = stop_loop, .in_loop = true };

	client_call(c, &call);
	if (why)
		snprintf(why, len, "%.*s", (int)(len ? len - 1 : 0), call.err);
	pthread_join(c->thread, NULL);
	client_destroy(c);
}

int neo_client_open(const struct neo_client_config *config, struct neo_client **client)
{
	struct neo_client *c = neo_calloc(1, sizeof *c);
	char refusal[sizeof c->refusal];
	unsigned timeout_ms;
	int status;

	*client = NULL;
	if (c == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	c->spare_oid_first = CLIENT_OID_BATCH;	/* none asked ahead yet */
	if (client_start(c) < 0) {
		client_destroy(c);
		return client_fail(NEO_CLIENT_NOMEM, "cannot set up the event loop");
	}
	status = client_configure(c, config);
	if (status != NEO_CLIENT_OK) {
		client_destroy(c);
		return status;
	}
	if (pthread_create(&c->thread, NULL, network_thread, c) != 0) {
		client_destroy(c);
		return client_fail(NEO_CLIENT_NOMEM, "cannot start the network thread");
	}
	timeout_ms = c->connect_timeout_ms;
	if (!wait_ready(c)) {
		client_stop(c, refusal, sizeof refusal);
		return client_fail(NEO_CLIENT_TIMEOUT,
				   "no operational cluster '%s' reached in %u ms%s%s",
				   config->cluster, timeout_ms, refusal[0] ? ": " : "",
				   refusal);
	}
	*client = c;
	return NEO_CLIENT_OK;
}

void neo_client_close(struct neo_client *c)
{
	if (c)
		client_stop(c, NULL, 0);
}
