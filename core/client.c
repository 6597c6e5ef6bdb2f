/*
 * client.c - libneoclient's lifecycle, its network thread, how user
 * threads hand calls to it, and the link to the primary master (finding
 * it, identification, node list, partition table, invalidations).
 */
#include "client_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/thread.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "log.h"
#include "nid.h"
#include "ssl.h"
#include "tid.h"

static _Thread_local char client_errmsg[256];

const char *neo_client_errmsg(void)
{
	return client_errmsg;
}

void neo_client_free(void *pointer)
{
	free(pointer);
}

int client_fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(client_errmsg, sizeof client_errmsg, fmt, ap);
	va_end(ap);
	return status;
}

/* --- Calls from user threads ----------------------------------------------- */

int client_call(struct neo_client *c, struct client_call *call)
{
	pthread_mutex_lock(&c->lock);
	if (c->stopping) {
		pthread_mutex_unlock(&c->lock);
		return client_fail(NEO_CLIENT_INVALID, "client closed");
	}
	call->done = false;
	call->next = NULL;
	{
		struct client_call **tail = &c->queue;

		while (*tail)
			tail = &(*tail)->next;
		*tail = call;
	}
	event_active(c->wakeup, EV_READ, 0);
	while (!call->done)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	if (call->status != NEO_CLIENT_OK)
		snprintf(client_errmsg, sizeof client_errmsg, "%s", call->err);
	else
		client_errmsg[0] = '\0';
	return call->status;
}

void client_call_done(struct neo_client *c, struct client_call *call, int status,
		      const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->lock);
	call->status = status;
	call->err[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(call->err, sizeof call->err, fmt, ap);
		va_end(ap);
	}
	call->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void run_waiting(struct neo_client *c)
{
	struct client_call *list = c->waiting;

	c->waiting = NULL;
	while (list) {
		struct client_call *call = list;

		list = call->next;
		call->next = NULL;
		call->run(c, call);
	}
}

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct neo_client *c = arg;
	struct client_call *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->lock);
	list = c->queue;
	c->queue = NULL;
	pthread_mutex_unlock(&c->lock);
	while (list) {
		struct client_call *call = list;

		list = call->next;
		call->next = NULL;
		if (call->needs_ready && !c->ready) {
			call->next = c->waiting;
			c->waiting = call;
			continue;
		}
		call->run(c, call);
	}
}

int client_error_status(const struct neo_packet *answer)
{
	const struct neo_error *error;

	if (answer->code != NEO_ERROR)
		return NEO_CLIENT_PROTOCOL;
	error = answer->args;
	switch (error->code) {
	case NEO_ERROR_OID_DOES_NOT_EXIST: return NEO_CLIENT_NOT_FOUND;
	case NEO_ERROR_OID_NOT_FOUND: return NEO_CLIENT_NO_DATA;
	case NEO_ERROR_TID_NOT_FOUND: return NEO_CLIENT_TID_NOT_FOUND;
	case NEO_ERROR_READ_ONLY_ACCESS: return NEO_CLIENT_READ_ONLY;
	case NEO_ERROR_INCOMPLETE_TRANSACTION: return NEO_CLIENT_INCOMPLETE;
	case NEO_ERROR_UNDO_PACK_ERROR: return NEO_CLIENT_UNDO_ERROR;
	case NEO_ERROR_NOT_READY:
	case NEO_ERROR_NON_READABLE_CELL: return NEO_CLIENT_UNAVAILABLE;
	default: return NEO_CLIENT_PROTOCOL;
	}
}

void client_error_text(const struct neo_packet *answer, char *buf, size_t len)
{
	if (answer && answer->code == NEO_ERROR) {
		const struct neo_error *error = answer->args;

		snprintf(buf, len, "%.*s", (int)error->message.size, (const char *)error->message.data);
	} else {
		snprintf(buf, len, "unexpected answer %s", answer ? answer->type->name : "(none)");
	}
}

/* --- The primary master ---------------------------------------------------- */

static void master_lost(struct neo_client *c, const char *why);

bool client_master_ask(struct neo_client *c, uint16_t code, const void *args,
		       neo_answer_cb cb, void *arg)
{
	return c->master && neo_conn_ask(c->master, code, args, 0, cb, arg) >= 0;
}

static bool node_running(void *ctx, int32_t nid)
{
	struct neo_client *c = ctx;
	struct neo_node *node = neo_nodes_by_nid(&c->nodes, nid);

	return node && node->state == NEO_NODE_RUNNING;
}

static void update_ready(struct neo_client *c)
{
	bool ready = c->master && c->nid && c->have_last_tid
		     && c->cluster_state == NEO_CLUSTER_RUNNING
		     && neo_ptable_operational(&c->pt, node_running, c);

	if (ready && !c->ready) {
		c->ready = true;
		c->ever_ready = true;
		pthread_mutex_lock(&c->lock);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		run_waiting(c);
	} else if (!ready) {
		c->ready = false;
	}
}

static void answered_last_tid(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct neo_client *c = arg;

	if (conn != c->master || status != NEO_ASK_ANSWERED
	    || answer->code != NEO_ANSWER_LAST_TRANSACTION)
		return;
	pthread_mutex_lock(&c->lock);
	{
		uint64_t tid = ((const struct neo_answer_last_transaction *)answer->args)->tid;

		/* As upstream: after a reconnection, drop what may be stale. */
		if (tid != c->last_tid)
			client_cache_clear(c->cache);
		c->last_tid = tid;
	}
	pthread_mutex_unlock(&c->lock);
	c->have_last_tid = true;
	update_ready(c);
}

static void take_nodes(struct neo_client *c, const struct neo_notify_node_information *info)
{
	for (uint32_t i = 0; i < info->nodes.count; i++) {
		const struct neo_node_info *node = &info->nodes.items[i];
		struct neo_node *gone = NULL, *kept;

		if (node->uuid.has && node->uuid.v == c->nid && node->id_timestamp.has)
			c->id_timestamp = node->id_timestamp.v;
		kept = neo_nodes_update(&c->nodes, node, &gone);
		if (gone) {
			client_link_drop(c, gone->nid);
			neo_node_free(gone);
		} else if (kept && kept->type == NEO_NODE_STORAGE && kept->state != NEO_NODE_RUNNING) {
			client_link_drop(c, kept->nid);
		}
	}
}

static void invalidate(struct neo_client *c, const struct neo_invalidate_objects *inv)
{
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < inv->oids.count; i++)
		client_cache_invalidate(c->cache, inv->oids.items[i], inv->tid);
	if (inv->tid > c->last_tid)
		c->last_tid = inv->tid;
	c->invalidations++;
	pthread_mutex_unlock(&c->lock);
	if (c->on_invalidate)
		c->on_invalidate(c->invalidate_arg, inv->tid, inv->oids.items, inv->oids.count);
}

static void master_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct neo_client *c = arg;

	switch (pkt->code) {
	case NEO_NOTIFY_NODE_INFORMATION:
		take_nodes(c, pkt->args);
		update_ready(c);
		break;
	case NEO_SEND_PARTITION_TABLE: {
		const struct neo_send_partition_table *send = pkt->args;

		neo_ptable_load(&c->pt, send->ptid.has ? send->ptid.v : 0, send->num_replicas,
				&send->rows);
		update_ready(c);
		break;
	}
	case NEO_NOTIFY_PARTITION_CHANGES: {
		const struct neo_notify_partition_changes *changes = pkt->args;

		neo_ptable_apply(&c->pt, changes->ptid, changes->num_replicas, &changes->changes);
		update_ready(c);
		break;
	}
	case NEO_NOTIFY_CLUSTER_INFORMATION:
		c->cluster_state = ((const struct neo_notify_cluster_information *)pkt->args)->state;
		update_ready(c);
		break;
	case NEO_INVALIDATE_OBJECTS:
		invalidate(c, pkt->args);
		break;
	case NEO_STOP_OPERATION:
		master_lost(c, "cluster stopped operating");
		break;
	case NEO_NOT_PRIMARY_MASTER: {
		const struct neo_not_primary_master *hint = pkt->args;
		struct neo_address primary;

		if (hint->primary.has && hint->primary.v >= 0
		    && hint->primary.v < hint->known_masters.count
		    && neo_address_from_wire(&hint->known_masters.items[hint->primary.v], &primary))
			for (size_t i = 0; i < c->master_count; i++)
				if (c->masters[i].port == primary.port
				    && strcmp(c->masters[i].host, primary.host) == 0)
					c->master_index = (i + c->master_count - 1) % c->master_count;
		break;
	}
	default:
		(void)conn;
		break;
	}
}

static void identified(struct neo_conn *conn, enum neo_ask_status status,
		       struct neo_packet *answer, void *arg)
{
	struct neo_client *c = arg;

	if (conn != c->master || status != NEO_ASK_ANSWERED)
		return;
	if (answer->code != NEO_ACCEPT_IDENTIFICATION) {
		neo_conn_close(conn, "refused");
		return;
	}
	c->nid = (int32_t)((const struct neo_accept_identification *)answer->args)->your_uuid.v;
	neo_conn_ask(conn, NEO_ASK_LAST_TRANSACTION, NULL, 0, answered_last_tid, c);
}

static void master_ready(struct neo_conn *conn, void *arg)
{
	struct neo_client *c = arg;
	struct neo_request_identification req = { .node_type = NEO_NODE_CLIENT };
	struct neo_bin key = { (const uint8_t *)"read_only", 9 };
	msgpack_object yes = { .type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = true };

	req.cluster_name = (struct neo_bin){ (const uint8_t *)c->cluster,
					     (uint32_t)strlen(c->cluster) };
	if (c->read_only) {
		req.extra.keys = &key;
		req.extra.values = &yes;
		req.extra.count = 1;
	}
	neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, 30000, identified, c);
}

static void master_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct neo_client *c = arg;

	if (conn == c->master) {
		c->master = NULL;
		master_lost(c, reason);
	}
}

static const struct neo_conn_callbacks master_callbacks = {
	.on_ready = master_ready,
	.on_packet = master_packet,
	.on_close = master_closed,
};

static void connect_master(struct neo_client *c)
{
	char err[256];

	if (c->master || c->stopping)
		return;
	c->master = neo_conn_connect(c->base, &c->masters[c->master_index], c->ssl,
				     &master_callbacks, c, err, sizeof err);
	if (c->master == NULL)
		master_lost(c, err);
}

static void reconnect_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_master(arg);
}

static void master_lost(struct neo_client *c, const char *why)
{
	struct timeval delay = { 0, 300000 };

	(void)why;
	if (c->master) {
		struct neo_conn *conn = c->master;

		c->master = NULL;
		neo_conn_abort(conn, why);
	}
	c->ready = false;
	c->nid = 0;
	c->have_last_tid = false;
	c->master_generation++;
	c->master_index = (c->master_index + 1) % c->master_count;
	neo_ptable_init(&c->pt, 0, 0);
	client_links_close(c);
	if (!c->stopping)
		evtimer_add(c->reconnect, &delay);
}

/* --- Lifecycle ---------------------------------------------------------------- */

static void *network_thread(void *arg)
{
	struct neo_client *c = arg;

	connect_master(c);
	event_base_dispatch(c->base);
	return NULL;
}

static void stop_loop(struct neo_client *c, struct client_call *call)
{
	c->stopping = true;
	if (c->master)
		neo_conn_abort(c->master, "client closing");
	c->master = NULL;
	client_links_close(c);
	while (c->waiting) {
		struct client_call *waiting = c->waiting;

		c->waiting = waiting->next;
		client_call_done(c, waiting, NEO_CLIENT_INVALID, "client closed");
	}
	event_base_loopexit(c->base, NULL);
	client_call_done(c, call, NEO_CLIENT_OK, NULL);
}

static int client_configure(struct neo_client *c, const struct neo_client_config *config)
{
	char err[256];

	if (config == NULL || config->struct_size < sizeof *config || config->cluster == NULL
	    || config->masters == NULL)
		return client_fail(NEO_CLIENT_INVALID, "cluster and masters are required");
	c->cluster = strdup(config->cluster);
	if (c->cluster == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (neo_address_list_parse(config->masters, 10000, &c->masters, &c->master_count, err,
				   sizeof err) < 0 || c->master_count == 0)
		return client_fail(NEO_CLIENT_INVALID, "masters: %s", err);
	if (config->ca || config->cert || config->key) {
		c->ssl = neo_ssl_context_new(config->ca, config->cert, config->key, err, sizeof err);
		if (c->ssl == NULL)
			return client_fail(NEO_CLIENT_INVALID, "%s", err);
	}
	/* The library is quiet unless given a log file. */
	if (config->logfile)
		neo_log_open(config->logfile, NEO_LOG_INFO, "client");
	else
		neo_log_set_level(NEO_LOG_ERROR);
	c->read_only = config->read_only;
	c->compress = config->compress;
	c->connect_timeout_ms = config->connect_timeout_ms ? config->connect_timeout_ms : 30000;
	c->on_invalidate = config->on_invalidate;
	c->invalidate_arg = config->invalidate_arg;
	c->cache = client_cache_new(config->cache_size ? config->cache_size : 20u << 20);
	return c->cache ? NEO_CLIENT_OK : client_fail(NEO_CLIENT_NOMEM, "out of memory");
}

static void client_destroy(struct neo_client *c)
{
	if (c->wakeup)
		event_free(c->wakeup);
	if (c->reconnect)
		event_free(c->reconnect);
	if (c->base)
		event_base_free(c->base);
	client_cache_free(c->cache);
	neo_nodes_free(&c->nodes);
	neo_ptable_free(&c->pt);
	neo_idmap_free(&c->links);
	if (c->ssl)
		SSL_CTX_free(c->ssl);
	free(c->masters);
	free(c->cluster);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

static bool wait_ready(struct neo_client *c)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += c->connect_timeout_ms / 1000;
	deadline.tv_nsec += (long)(c->connect_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->ready && !c->stopping)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
			break;
	pthread_mutex_unlock(&c->lock);
	return c->ready;
}

int neo_client_open(const struct neo_client_config *config, struct neo_client **client)
{
	struct neo_client *c = calloc(1, sizeof *c);
	int status;

	if (c == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	neo_nodes_init(&c->nodes);
	status = client_configure(c, config);
	if (status != NEO_CLIENT_OK) {
		client_destroy(c);
		return status;
	}
	evthread_use_pthreads();
	c->base = event_base_new();
	c->wakeup = c->base ? event_new(c->base, -1, EV_PERSIST | EV_READ, on_wakeup, c) : NULL;
	c->reconnect = c->base ? evtimer_new(c->base, reconnect_tick, c) : NULL;
	if (c->wakeup == NULL || c->reconnect == NULL
	    || pthread_create(&c->thread, NULL, network_thread, c) != 0) {
		client_destroy(c);
		return client_fail(NEO_CLIENT_NOMEM, "cannot start the network thread");
	}
	if (!wait_ready(c)) {
		neo_client_close(c);
		return client_fail(NEO_CLIENT_TIMEOUT, "no operational cluster '%s' reached in %u ms",
				   config->cluster, config->connect_timeout_ms ? config->connect_timeout_ms
									       : 30000);
	}
	*client = c;
	return NEO_CLIENT_OK;
}

void neo_client_close(struct neo_client *c)
{
	struct client_call call = { .run = stop_loop };

	if (c == NULL)
		return;
	client_call(c, &call);
	pthread_join(c->thread, NULL);
	client_destroy(c);
}

/* --- Data encoding ---------------------------------------------------------- */

int client_decode_data(const uint8_t *data, size_t size, int compression,
		       const uint8_t checksum[20], uint8_t **out, size_t *out_size)
{
	uint8_t digest[20];
	unsigned int digest_size = 0;

	if (size && (!EVP_Digest(data, size, digest, &digest_size, EVP_sha1(), NULL)
		     || memcmp(digest, checksum, 20) != 0))
		return client_fail(NEO_CLIENT_PROTOCOL, "wrong checksum");
	if (compression == 0 || size == 0) {
		*out = malloc(size ? size : 1);
		if (*out == NULL)
			return NEO_CLIENT_NOMEM;
		memcpy(*out, data, size);
		*out_size = size;
		return NEO_CLIENT_OK;
	}
	for (size_t capacity = size * 4 + 64;; capacity *= 2) {
		uLongf length = capacity;
		uint8_t *buffer = malloc(capacity);
		int rc;

		if (buffer == NULL)
			return NEO_CLIENT_NOMEM;
		rc = uncompress(buffer, &length, data, size);
		if (rc == Z_OK) {
			*out = buffer;
			*out_size = length;
			return NEO_CLIENT_OK;
		}
		free(buffer);
		if (rc != Z_BUF_ERROR || capacity > (1u << 30))
			return client_fail(NEO_CLIENT_PROTOCOL, "cannot decompress data");
	}
}

int client_encode_data(int level, const void *data, size_t size, uint8_t **out,
		       size_t *out_size, int *compression, uint8_t checksum[20])
{
	unsigned int digest_size = 0;

	*compression = 0;
	*out = NULL;
	if (level != 0 && size > 0) {
		uLongf length = compressBound(size);
		uint8_t *buffer = malloc(length);

		/* As upstream: compressed only when it makes data smaller. */
		if (buffer && compress2(buffer, &length, data, size, level < 0 ? 6 : level) == Z_OK
		    && length < size) {
			*out = buffer;
			*out_size = length;
			*compression = 1;
		} else {
			free(buffer);
		}
	}
	if (*out == NULL) {
		*out = malloc(size ? size : 1);
		if (*out == NULL)
			return NEO_CLIENT_NOMEM;
		memcpy(*out, data, size);
		*out_size = size;
	}
	if (*out_size == 0) {
		memset(checksum, 0, 20);
		return NEO_CLIENT_OK;
	}
	EVP_Digest(*out, *out_size, checksum, &digest_size, EVP_sha1(), NULL);
	return NEO_CLIENT_OK;
}
