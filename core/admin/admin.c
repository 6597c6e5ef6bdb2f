/*
 * admin/admin.c - the admin node: the link to the primary master, the mirror of
 * its view, and the neoctl connections.  See admin/admin.h.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/alerts.h"
#include "cluster/nid.h"
#include "cluster/tid.h"
#include "daemon/daemon.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* As upstream: a failed master is retried (the next one) after 1 s. */
#define RETRY_DELAY_MS 1000
/* Our own bound on identification; upstream waits as long as TCP does. */
#define IDENTIFY_TIMEOUT_MS 60000

/* As upstream's NOT_CONNECTED_MESSAGE. */
const char admin_not_connected[] = "Not connected to a primary master.";

/* A neoctl connection. */
struct admin_client {
	struct admin_client *next;
	struct admin *admin;
	struct neo_conn *conn;
	struct admin_relay *relays;	/* its requests out to the master */
	void (*gone)(struct admin *a);	/* the upstream admin's: told when closed */
};

/* A neoctl request waiting for the master's answer. */
struct admin_relay {
	struct admin_relay *next;	/* in its client's list */
	struct admin_client *client;	/* NULL once the client is gone */
	uint32_t msg_id;		/* neoctl's id for the request */
};

static void master_connect(struct admin *a);
static void admin_leave(struct admin *a);

/* --- Masters --------------------------------------------------------------- */

static const char *master_text(const struct admin *a, size_t index, char *buf, size_t buflen)
{
	return neo_address_format(&a->masters[index], buf, buflen);
}

/* The index of a master address, added to the list when new. */
static size_t learn_master(struct admin *a, const struct neo_address *address)
{
	for (size_t i = 0; i < a->master_count; i++)
		if (a->masters[i].port == address->port
		    && strcmp(a->masters[i].host, address->host) == 0)
			return i;
	if (neo_grow(&a->masters, &a->master_capacity, a->master_count + 1, sizeof *a->masters))
		return SIZE_MAX;
	neo_master_list_note(address);	/* -D, as upstream */
	a->masters[a->master_count] = *address;
	return a->master_count++;
}

static void retry_fired(evutil_socket_t fd, short what, void *arg)
{
	master_connect(arg);
}

/* The next attempt: the primary we were sent to at once, else the next
 * master after a pause. */
static void schedule_retry(struct admin *a)
{
	/* One hop to a named primary is immediate; masters naming each other
	 * in a ring are followed at the pace of failures. */
	bool immediate = a->redirected && !a->redirect_followed;
	struct timeval delay = { 0, 0 };

	if (a->stopped)
		return;
	a->redirect_followed = a->redirected;
	if (!a->redirected)
		a->master_index = (a->master_index + 1) % a->master_count;
	a->redirected = false;
	if (!immediate) {
		delay.tv_sec = RETRY_DELAY_MS / 1000;
		delay.tv_usec = (RETRY_DELAY_MS % 1000) * 1000;
	}
	if (evtimer_add(a->retry, &delay) != 0)
		neo_log(NEO_LOG_ERROR, "cannot schedule the next connection to a master");
}

/* --- The mirror ------------------------------------------------------------ */

static void mirror_clear(struct admin *a)
{
	neo_nodes_free(&a->nodes);
	neo_nodes_init(&a->nodes);
	neo_ptable_free(&a->pt);
	a->has_cluster_state = false;
}

static void apply_node_information(struct admin *a, const struct neo_notify_node_information *n)
{
	neo_master_list_note_nodes(&n->nodes);	/* -D, as upstream */
	for (uint32_t i = 0; i < n->nodes.count; i++) {
		struct neo_node *gone = NULL;

		neo_nodes_update(&a->nodes, &n->nodes.items[i], &gone);
		if (gone == NULL)
			continue;
		/* As upstream: a forgotten storage leaves the table too. */
		if (gone->type == NEO_NODE_STORAGE && gone->nid)
			neo_ptable_drop_node(&a->pt, gone->nid);
		neo_node_free(gone);
	}
}

static void load_partition_table(struct admin *a, const struct neo_send_partition_table *send)
{
	if (neo_ptable_load(&a->pt, send->ptid.has ? send->ptid.v : 0, send->num_replicas,
			    &send->rows) < 0)
		neo_log(NEO_LOG_ERROR, "malformed partition table from the primary, ignored");
	else
		neo_log(NEO_LOG_DEBUG, "partition table loaded (ptid %lld)",
			(long long)a->pt.ptid);
}

static void apply_partition_changes(struct admin *a, const struct neo_notify_partition_changes *c)
{
	if (neo_ptable_apply(&a->pt, c->ptid, c->num_replicas, &c->changes) < 0)
		neo_log(NEO_LOG_ERROR, "partition changes (ptid %lld) outside the table, ignored",
			(long long)c->ptid);
}

static void set_cluster_state(struct admin *a, enum neo_cluster_state state)
{
	if (a->has_cluster_state && a->cluster_state == state)
		return;
	a->has_cluster_state = true;
	a->cluster_state = state;
	neo_log(NEO_LOG_INFO, "cluster state: %s", neo_enum_name(NEO_ENUM_CLUSTER_STATES, state));
}

/* --- Connection to the primary master ------------------------------------ */

static void on_cluster_state(struct neo_conn *conn, enum neo_ask_status status,
			     struct neo_packet *answer, void *arg)
{
	struct admin *a = arg;
	const struct neo_answer_cluster_state *state;

	if (status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_CLUSTER_STATE)
		return;
	state = answer->args;
	if (state->state.has && conn == a->master_conn) {
		set_cluster_state(a, state->state.v);
		admin_monitor_update(a);
	}
}

static void accepted(struct admin *a, struct neo_conn *conn,
		     const struct neo_accept_identification *accept)
{
	char nid[16], primary[16], where[300];

	if (accept->node_type != NEO_NODE_MASTER || !accept->your_uuid.has
	    || !accept->my_uuid.has) {
		neo_log(NEO_LOG_ERROR, "%s: identification answered without the ids of a master",
			neo_conn_peer(conn));
		neo_conn_close(conn, "bad identification answer");
		return;
	}
	a->identified = true;
	a->redirect_followed = false;
	a->nid = (int32_t)accept->your_uuid.v;
	a->primary_nid = (int32_t)accept->my_uuid.v;
	neo_conn_set_name(conn, neo_nid_format(a->primary_nid, primary, sizeof primary));
	neo_log_set_name(neo_nid_format(a->nid, nid, sizeof nid));
	neo_log(NEO_LOG_INFO, "connected to the primary master %s at %s",
		neo_nid_format(a->primary_nid, primary, sizeof primary),
		master_text(a, a->master_index, where, sizeof where));
	/* As upstream: the state also comes by NotifyClusterInformation. */
	neo_conn_ask(conn, NEO_ASK_CLUSTER_STATE, NULL, 0, on_cluster_state, a);
}

static void on_identification(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct admin *a = arg;

	if (conn != a->master_conn)
		return;
	if (status == NEO_ASK_TIMEOUT) {
		neo_log(NEO_LOG_WARNING, "%s: no answer to our identification",
			neo_conn_peer(conn));
		neo_conn_abort(conn, "identification timed out");
		return;
	}
	if (status != NEO_ASK_ANSWERED)
		return;		/* on_close retries */
	if (answer->code == NEO_ERROR) {
		const struct neo_error *e = answer->args;
		const char *code = neo_enum_name(NEO_ENUM_ERROR_CODES, (int)e->code);

		neo_log(NEO_LOG_WARNING, "%s refused us: %s: %.*s", neo_conn_peer(conn),
			code ? code : "?", (int)e->message.size, (const char *)e->message.data);
		neo_conn_close(conn, "identification refused");
		return;
	}
	if (answer->code != NEO_ACCEPT_IDENTIFICATION) {
		neo_conn_close(conn, "unexpected identification answer");
		return;
	}
	accepted(a, conn, answer->args);
}

static void master_ready(struct neo_conn *conn, void *arg)
{
	struct admin *a = arg;
	struct neo_request_identification req = { 0 };
	struct neo_map_bin_any extra = { a->extra_keys, a->extra_values, 2 };

	/* As upstream's BootstrapManager: our listening address, no
	 * id_timestamp, and the backups we watch. */
	req.node_type = NEO_NODE_ADMIN;
	req.uuid.has = a->nid != 0;
	req.uuid.v = a->nid;
	req.address.has = true;
	neo_address_to_wire(&a->address, &req.address.v);
	req.cluster_name = neo_bin_str(a->cluster);
	req.extra = extra;
	if (neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, IDENTIFY_TIMEOUT_MS,
			 on_identification, a) < 0)
		neo_conn_abort(conn, "cannot send the identification");
}

/* A secondary master names the primary: go there next. */
static void redirected(struct admin *a, struct neo_conn *conn,
		       const struct neo_not_primary_master *np)
{
	char where[300];
	size_t primary = SIZE_MAX;

	for (uint32_t i = 0; i < np->known_masters.count; i++) {
		struct neo_address address;
		size_t index;

		if (!neo_address_from_wire(&np->known_masters.items[i], &address))
			continue;
		index = learn_master(a, &address);
		if (np->primary.has && np->primary.v == (int64_t)i)
			primary = index;
	}
	if (primary != SIZE_MAX) {
		neo_log(NEO_LOG_INFO, "%s is not the primary master; the primary is %s",
			neo_conn_peer(conn), master_text(a, primary, where, sizeof where));
		a->master_index = primary;
		a->redirected = true;
	} else {
		neo_log(NEO_LOG_INFO, "%s is not the primary master and knows no primary yet",
			neo_conn_peer(conn));
	}
	neo_conn_close(conn, "not the primary master");
}

static void master_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct admin *a = arg;

	if (pkt->code == NEO_NOT_PRIMARY_MASTER) {
		redirected(a, conn, pkt->args);
		return;
	}
	if (!a->identified) {
		neo_log(NEO_LOG_DEBUG, "%s before identification, ignored", pkt->type->name);
		return;
	}
	switch (pkt->code) {
	case NEO_NOTIFY_NODE_INFORMATION:
		apply_node_information(a, pkt->args);
		admin_monitor_update(a);
		break;
	case NEO_SEND_PARTITION_TABLE:
		load_partition_table(a, pkt->args);
		admin_monitor_update(a);
		break;
	case NEO_NOTIFY_PARTITION_CHANGES:
		apply_partition_changes(a, pkt->args);
		admin_monitor_update(a);
		break;
	case NEO_NOTIFY_CLUSTER_INFORMATION: {
		const struct neo_notify_cluster_information *info = pkt->args;

		set_cluster_state(a, info->state);
		admin_monitor_update(a);
		break;
	}
	case NEO_NOTIFY_PROGRESS:
		admin_progress_learn(a, pkt->args);
		break;
	case NEO_FLUSH_LOG:
		/* as upstream: another admin's flush_log, relayed by the master */
		neo_log(NEO_LOG_INFO, "flush_log: %zu kept log records written", neo_log_flush());
		break;
	case NEO_NOTIFY_UPSTREAM_ADMIN:
		/* as upstream: we report to it (admin/upstream.c) */
		admin_upstream_set(a, &((const struct neo_notify_upstream_admin *)pkt->args)->address);
		break;
	default:
		neo_log(NEO_LOG_DEBUG, "%s from the primary master ignored", pkt->type->name);
		break;
	}
}

static void master_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct admin *a = arg;
	bool stopping = a->identified && a->has_cluster_state
			&& a->cluster_state == NEO_CLUSTER_STOPPING;
	char where[300];

	if (conn != a->master_conn)
		return;
	if (a->stopped)
		neo_log(NEO_LOG_INFO, "left the master: %s", reason);
	else if (a->identified)
		neo_log(NEO_LOG_ERROR, "primary master lost: %s", reason);
	else if (!a->redirected)
		neo_log(NEO_LOG_INFO, "master %s: %s; trying the next one",
			master_text(a, a->master_index, where, sizeof where), reason);
	a->master_conn = NULL;
	if (a->identified)
		neo_log_set_name("neoadmin");
	a->identified = false;
	a->nid = 0;		/* as upstream: a new id from the next primary */
	mirror_clear(a);
	admin_progress_forget(a);
	admin_monitor_update(a);	/* as upstream: the primary lost is mailed */
	/* As upstream: a stopped cluster stops its admin. */
	if (stopping) {
		neo_log(NEO_LOG_INFO, "the cluster stopped: exiting");
		admin_leave(a);
		return;
	}
	schedule_retry(a);
}

static void master_connect(struct admin *a)
{
	static const struct neo_conn_callbacks callbacks = {
		.on_ready = master_ready,
		.on_packet = master_packet,
		.on_close = master_closed,
	};
	char where[300], err[300];

	if (a->stopped || a->master_conn)
		return;
	neo_log(NEO_LOG_INFO, "connecting to master %s",
		master_text(a, a->master_index, where, sizeof where));
	a->master_conn = neo_conn_connect(a->base, &a->masters[a->master_index], a->ssl,
					  &callbacks, a, err, sizeof err);
	if (a->master_conn == NULL) {
		neo_log(NEO_LOG_WARNING, "master %s: %s", where, err);
		schedule_retry(a);
	}
}

/* --- Answers from the mirror -------------------------------------------------- */

static void answer_node_list(struct admin *a, struct neo_conn *conn, const struct neo_packet *pkt)
{
	const struct neo_ask_node_list *req = pkt->args;
	struct neo_answer_node_list answer = { 0 };
	struct neo_node_info *infos = neo_calloc(a->nodes.count + 1, sizeof *infos);

	neo_log(NEO_LOG_INFO, "ask list of %s nodes", req->node_type.has
		? neo_enum_name(NEO_ENUM_NODE_TYPES, req->node_type.v) : "all");
	if (infos == NULL) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	for (size_t i = 0; i < a->nodes.count; i++)
		if (!req->node_type.has || a->nodes.nodes[i]->type == req->node_type.v)
			neo_node_to_wire(a->nodes.nodes[i], &infos[answer.nodes.count++]);
	answer.nodes.items = infos;
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_NODE_LIST, &answer);
	neo_free(infos);
}

static void answer_partition_list(struct admin *a, struct neo_conn *conn,
				  const struct neo_packet *pkt)
{
	const struct neo_ask_partition_list *req = pkt->args;
	/* as upstream: no ptid (None) until the table exists */
	struct neo_answer_partition_list answer = { .ptid = { a->pt.ptid != 0, a->pt.ptid },
						    .num_replicas = a->pt.num_replicas };
	int64_t max = req->max_offset ? req->max_offset : a->pt.num_partitions;
	char nid[16];

	neo_log(NEO_LOG_INFO, "ask partition list from %lld to %lld for %s",
		(long long)req->min_offset, (long long)req->max_offset,
		req->uuid.has ? neo_nid_format(req->uuid.v, nid, sizeof nid) : "None");
	/* As upstream: MAX 0 is the end; rows past the end are an error, an
	 * empty range is not.  The node is not used to filter. */
	if (req->min_offset < 0 || max < 0 || max > a->pt.num_partitions) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR,
				      "invalid partition table offset");
		return;
	}
	if (neo_ptable_to_wire(&a->pt, (uint32_t)(req->min_offset < max ? req->min_offset : max),
			       (uint32_t)max, &answer.rows) < 0) {
		neo_conn_answer_error(conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	neo_conn_answer(conn, pkt->msg_id, NEO_ANSWER_PARTITION_LIST, &answer);
	neo_ptable_wire_free(&answer.rows);
}

static void answer_cluster_state(struct admin *a, struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_answer_cluster_state answer = { .state = { a->has_cluster_state,
							      a->cluster_state } };

	neo_conn_answer(conn, msg_id, NEO_ANSWER_CLUSTER_STATE, &answer);
}

static void answer_primary(struct admin *a, struct neo_conn *conn, uint32_t msg_id)
{
	struct neo_answer_primary answer = { .primary_uuid = a->primary_nid };

	neo_conn_answer(conn, msg_id, NEO_ANSWER_PRIMARY, &answer);
}

/* --- neoctl connections ------------------------------------------------------- */

static void client_drop_relay(struct admin_client *client, struct admin_relay *relay)
{
	for (struct admin_relay **r = &client->relays; *r; r = &(*r)->next)
		if (*r == relay) {
			*r = relay->next;
			return;
		}
}

static void refuse(struct neo_conn *conn, uint32_t msg_id, enum neo_error_code code,
		   const char *why)
{
	neo_log(NEO_LOG_WARNING, "refused a request from %s: %s", neo_conn_peer(conn), why);
	neo_conn_answer_error(conn, msg_id, code, why);
	/* As upstream: NOT_READY and protocol errors end the connection. */
	neo_conn_close(conn, why);
}

/* The master's answer, back under neoctl's id.  As upstream, a protocol
 * error ends neoctl's connection too. */
static void relay_answer(struct admin_client *client, uint32_t msg_id,
			 const struct neo_packet *answer)
{
	const struct neo_error *error = answer->code == NEO_ERROR ? answer->args : NULL;

	neo_conn_answer(client->conn, msg_id, answer->code, answer->args);
	if (error && error->code == NEO_ERROR_PROTOCOL_ERROR)
		neo_conn_close(client->conn, "protocol error from the master");
}

/* A relayed request ended: answered, or the master went away. */
static void on_relayed(struct neo_conn *master, enum neo_ask_status status,
		       struct neo_packet *answer, void *arg)
{
	struct admin_relay *relay = arg;
	struct admin_client *client = relay->client;

	if (client) {
		client_drop_relay(client, relay);
		if (status != NEO_ASK_ANSWERED)
			/* As upstream's cancelRequests. */
			refuse(client->conn, relay->msg_id, NEO_ERROR_PROTOCOL_ERROR,
			       "connection to master lost");
		else
			relay_answer(client, relay->msg_id, answer);
	}
	neo_free(relay);
}

/* Asks the master on behalf of a neoctl request. */
static void relay(struct admin_client *client, const struct neo_packet *pkt, uint16_t code,
		  const void *args)
{
	struct admin *a = client->admin;
	struct admin_relay *r = neo_calloc(1, sizeof *r);

	if (r == NULL) {
		refuse(client->conn, pkt->msg_id, NEO_ERROR_NOT_READY, "out of memory");
		return;
	}
	r->client = client;
	r->msg_id = pkt->msg_id;
	if (neo_conn_ask(a->master_conn, code, args, 0, on_relayed, r) < 0) {
		neo_free(r);
		refuse(client->conn, pkt->msg_id, NEO_ERROR_NOT_READY, admin_not_connected);
		return;
	}
	r->next = client->relays;
	client->relays = r;
}

static bool relayed_request(uint16_t code)
{
	switch (code) {
	case NEO_ADD_PENDING_NODES:
	case NEO_ASK_LAST_IDS:
	case NEO_ASK_LAST_TRANSACTION:
	case NEO_ASK_RECOVERY:
	case NEO_CHECK_REPLICAS:
	case NEO_REPAIR:
	case NEO_SET_CLUSTER_STATE:
	case NEO_SET_NODE_STATE:
	case NEO_SET_NUM_REPLICAS:
	case NEO_TRUNCATE:
	case NEO_TWEAK_PARTITION_TABLE:
		return true;
	default:
		return false;
	}
}

static void client_release(struct admin_client *client);

/* Another admin announcing itself: as upstream, that of a backup we
 * watch takes the connection (admin/backups.c). */
static void identification(struct admin_client *client, const struct neo_packet *pkt)
{
	char why[300];

	if (client->gone == NULL
	    && admin_backups_identify(client->admin, client->conn, pkt->args, pkt->msg_id, why,
				      sizeof why)) {
		client_release(client);
		return;
	}
	if (client->gone != NULL)
		snprintf(why, sizeof why, "unexpected packet %s", pkt->type->name);
	refuse(client->conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, why);
}

static void client_request(struct admin_client *client, const struct neo_packet *pkt)
{
	struct admin *a = client->admin;
	char why[200];

	if (relayed_request(pkt->code)) {
		relay(client, pkt, pkt->code, pkt->args);
		return;
	}
	switch (pkt->code) {
	case NEO_ASK_CLUSTER_STATE:
		answer_cluster_state(a, client->conn, pkt->msg_id);
		return;
	case NEO_ASK_NODE_LIST:
		answer_node_list(a, client->conn, pkt);
		return;
	case NEO_ASK_PARTITION_LIST:
		answer_partition_list(a, client->conn, pkt);
		return;
	case NEO_ASK_PRIMARY:
		answer_primary(a, client->conn, pkt->msg_id);
		return;
	case NEO_ASK_MONITOR_INFORMATION:
		/* as upstream: answered once every cluster told its ids */
		admin_monitor_ask(a, client, pkt->msg_id);
		return;
	case NEO_REQUEST_IDENTIFICATION:
		identification(client, pkt);
		return;
	default:
		snprintf(why, sizeof why, "unexpected packet %s", pkt->type->name);
		refuse(client->conn, pkt->msg_id, NEO_ERROR_PROTOCOL_ERROR, why);
		return;
	}
}

static void client_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct admin_client *client = arg;
	struct admin *a = client->admin;

	/* As upstream, neoctl does not identify: its first packet ends the
	 * handshake deadline. */
	neo_conn_identified(conn);
	/* As upstream: nothing is served without a primary; an unexpected
	 * packet is answered with an error (even a notification) and ends
	 * the connection. */
	if (pkt->code == NEO_FLUSH_LOG) {
		if (!a->identified) {
			neo_conn_close(conn, admin_not_connected);
			return;
		}
		/* as upstream: relayed to the primary master, which has every
		 * other node flush, and flushed here */
		neo_conn_notify(a->master_conn, NEO_FLUSH_LOG, NULL);
		neo_log(NEO_LOG_INFO, "flush_log: relayed to the primary master; "
			"%zu kept log records written", neo_log_flush());
		return;
	}
	if (!a->identified) {
		refuse(conn, pkt->msg_id, NEO_ERROR_NOT_READY, admin_not_connected);
		return;
	}
	client_request(client, pkt);
}

static void client_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct admin_client *client = arg;
	struct admin *a = client->admin;

	neo_log(NEO_LOG_DEBUG, "neoctl %s gone: %s", neo_conn_peer(conn), reason);
	/* Answers still to come from the master have nowhere to go. */
	for (struct admin_relay *r = client->relays; r; r = r->next)
		r->client = NULL;
	admin_monitor_forget(a, client);
	if (client->gone)
		client->gone(a);
	client_release(client);
	if (a->leaving && a->clients == NULL)
		admin_stop(a);
}

/* Forgets a client whose connection went on elsewhere or closed. */
static void client_release(struct admin_client *client)
{
	struct admin *a = client->admin;

	for (struct admin_client **c = &a->clients; *c; c = &(*c)->next)
		if (*c == client) {
			*c = client->next;
			break;
		}
	neo_free(client);
}

struct neo_conn *admin_client_conn(const struct admin_client *client)
{
	return client->conn;
}

struct admin_client *admin_client_adopt(struct admin *a, struct neo_conn *conn,
					void (*gone)(struct admin *a))
{
	static const struct neo_conn_callbacks callbacks = {
		.on_packet = client_packet,
		.on_close = client_closed,
	};
	struct admin_client *client = neo_calloc(1, sizeof *client);

	if (client == NULL)
		return NULL;
	client->admin = a;
	client->conn = conn;
	client->gone = gone;
	client->next = a->clients;
	a->clients = client;
	neo_conn_set_callbacks(conn, &callbacks, client);
	return client;
}

static void client_accepted(struct neo_listener *listener, struct neo_conn *conn, void *arg)
{
	struct admin *a = arg;

	if (admin_client_adopt(a, conn, NULL) == NULL) {
		neo_log(NEO_LOG_ERROR, "%s: out of memory", neo_conn_peer(conn));
		neo_conn_abort(conn, "out of memory");
		return;
	}
	neo_log(NEO_LOG_DEBUG, "neoctl connected from %s", neo_conn_peer(conn));
}

/* --- Life ----------------------------------------------------------------------- */

/* A mail that failed is due again (admin/alerts.h). */
static void monitor_retry(void *arg)
{
	admin_monitor_notify(arg);
}

static int extra_init(struct admin *a, const struct neo_options *opts)
{
	const struct neo_string_list *names = &opts->monitor_backup;

	a->backup_names = neo_calloc(names->count + 1, sizeof *a->backup_names);
	if (a->backup_names == NULL)
		return -1;
	for (size_t i = 0; i < names->count; i++) {
		a->backup_names[i].type = MSGPACK_OBJECT_BIN;
		a->backup_names[i].via.bin.ptr = names->items[i];
		a->backup_names[i].via.bin.size = (uint32_t)strlen(names->items[i]);
	}
	a->extra_keys[0] = neo_bin_str("backup");
	a->extra_values[0].type = MSGPACK_OBJECT_ARRAY;
	a->extra_values[0].via.array.ptr = a->backup_names;
	a->extra_values[0].via.array.size = (uint32_t)names->count;
	/* ours: this admin takes NotifyProgress (admin/progress.c) */
	a->extra_keys[1] = neo_bin_str("progress");
	a->extra_values[1].type = MSGPACK_OBJECT_BOOLEAN;
	a->extra_values[1].via.boolean = true;
	return 0;
}

int admin_init(struct admin *a, struct event_base *base, SSL_CTX *ssl,
	       const struct neo_options *opts, const struct neo_address *bind,
	       const struct neo_address *masters, size_t master_count, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	a->base = base;
	a->ssl = ssl;
	a->cluster = opts->cluster;
	a->nid = opts->has_nid ? (int32_t)opts->nid : 0;
	neo_nodes_init(&a->nodes);
	if (master_count == 0) {
		snprintf(err, errlen, "no master address (--masters)");
		return -1;
	}
	for (size_t i = 0; i < master_count; i++)
		if (learn_master(a, &masters[i]) == SIZE_MAX) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	/* The first try is the first configured master. */
	a->master_index = 0;
	a->retry = evtimer_new(base, retry_fired, a);
	if (a->retry == NULL || extra_init(a, opts) < 0 || admin_backups_init(a, opts) < 0
	    || admin_monitor_init(a) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (alerts_new(base, opts, monitor_retry, a, &a->alerts, err, errlen) < 0)
		return -1;
	a->listener = neo_listener_new(base, bind, ssl, client_accepted, a, err, errlen);
	if (a->listener == NULL)
		return -1;
	a->address = *neo_listener_address(a->listener);
	return 0;
}

void admin_start(struct admin *a)
{
	char where[300];

	neo_log(NEO_LOG_INFO, "admin of cluster '%s' listening on %s", a->cluster,
		neo_address_format(&a->address, where, sizeof where));
	master_connect(a);
}

/* As upstream: no new neoctl, and the loop ends once the answers still
 * queued (e.g. the Ack of "set cluster STOPPING") are out. */
static void admin_leave(struct admin *a)
{
	a->leaving = true;
	if (a->listener) {
		neo_listener_free(a->listener);
		a->listener = NULL;
	}
	if (a->clients == NULL) {
		admin_stop(a);
		return;
	}
	for (struct admin_client *c = a->clients, *next; c; c = next) {
		next = c->next;		/* closing may free c at once */
		neo_conn_close(c->conn, "admin exiting");
	}
}

void admin_stop(struct admin *a)
{
	a->stopped = true;
	event_base_loopbreak(a->base);
}

void admin_close(struct admin *a)
{
	a->stopped = true;
	if (a->listener) {
		neo_listener_free(a->listener);
		a->listener = NULL;
	}
	if (a->master_conn)
		neo_conn_abort(a->master_conn, "admin exiting");
	admin_upstream_close(a);
	for (size_t i = 0; i < a->backup_count; i++)
		if (a->backups[i].conn)
			neo_conn_abort(a->backups[i].conn, "admin exiting");
	while (a->clients)
		neo_conn_abort(a->clients->conn, "admin exiting");
}

void admin_free(struct admin *a)
{
	admin_metrics_free(a);
	admin_progress_free(a);
	if (a->listener)
		neo_listener_free(a->listener);
	if (a->retry)
		event_free(a->retry);
	neo_nodes_free(&a->nodes);
	neo_ptable_free(&a->pt);
	neo_free(a->masters);
	neo_free(a->backup_names);
	admin_monitor_free(a);
	admin_backups_free(a);
	admin_upstream_close(a);
	alerts_free(a->alerts);
	memset(a, 0, sizeof *a);
}
