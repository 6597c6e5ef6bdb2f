/*
 * admin/upstream.c - in a backup cluster, reporting to the upstream
 * cluster's admin, as upstream's admin does: our master names it
 * (NotifyUpstreamAdmin); we connect, identify as an ADMIN with our
 * cluster's name, tell our health (NotifyMonitorInformation: cluster
 * state, storage nodes down, cells per state) and then each change of
 * it, and serve its requests as neoctl's (see admin/admin.h).
 */
#include "admin/admin.h"

#include <stdio.h>
#include <string.h>

#include "proto/enums.h"
#include "runtime/log.h"

/* as upstream's connection limit: a lost or refused connection is tried
 * again after a second */
#define UPSTREAM_RETRY_MS 1000
#define UPSTREAM_IDENTIFY_TIMEOUT_MS 60000

static void upstream_connect(struct admin *a);

static void retry_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	upstream_connect(arg);
}

static void schedule_retry(struct admin *a)
{
	struct timeval delay = { UPSTREAM_RETRY_MS / 1000, (UPSTREAM_RETRY_MS % 1000) * 1000 };

	if (a->stopped || a->leaving || a->upstream_admin[0] == '\0')
		return;
	if (a->upstream_retry == NULL)
		a->upstream_retry = evtimer_new(a->base, retry_fired, a);
	if (a->upstream_retry == NULL || evtimer_add(a->upstream_retry, &delay) != 0)
		neo_log(NEO_LOG_ERROR, "cannot schedule the connection to the upstream admin");
}

/* --- What we tell -------------------------------------------------------------- */

/* Our view as upstream's admin has it: the cluster state is None without
 * a primary; down and cells are those of the last table seen. */
static void reported(const struct admin *a, const struct admin_monitor_view *view,
		     struct admin_monitor_view *out, bool *has_pt)
{
	*out = a->upstream_sent;
	*has_pt = a->upstream_has_pt;
	out->has_state = view->connected && view->has_state;
	out->state = out->has_state ? view->state : 0;
	if (view->connected && a->pt.num_partitions) {
		out->down = view->down;
		memcpy(out->counts, view->counts, sizeof out->counts);
		*has_pt = true;
	}
}

/* An enum as upstream packs it: ext of the enum's code around an int. */
static void enum_object(msgpack_object *o, enum neo_enum_type type, const char *payload)
{
	o->type = MSGPACK_OBJECT_EXT;
	o->via.ext.type = (int8_t)type;
	o->via.ext.ptr = payload;
	o->via.ext.size = 1;
}

/* Sends the keys that differ from what was told (all of them: first). */
static void send_information(struct admin *a, const struct admin_monitor_view *now, bool has_pt,
			     bool all)
{
	const struct admin_monitor_view *was = &a->upstream_sent;
	struct neo_bin keys[3];
	msgpack_object values[3];
	msgpack_object_kv cells[NEO_CELL_DISCARDED + 1];
	char state_payload = (char)now->state, cell_payloads[NEO_CELL_DISCARDED + 1];
	struct neo_notify_monitor_information info = { { keys, values, 0 } };
	uint32_t n = 0, cell_count = 0;

	if (all || now->has_state != was->has_state || now->state != was->state) {
		keys[n] = neo_bin_str("cluster_state");
		if (now->has_state)
			enum_object(&values[n], NEO_ENUM_CLUSTER_STATES, &state_payload);
		else
			values[n].type = MSGPACK_OBJECT_NIL;
		n++;
	}
	if (all || now->down != was->down) {
		keys[n] = neo_bin_str("down");
		values[n].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		values[n].via.u64 = now->down;
		n++;
	}
	if (all || has_pt != a->upstream_has_pt
	    || memcmp(now->counts, was->counts, sizeof now->counts) != 0) {
		keys[n] = neo_bin_str("pt_summary");
		values[n].type = has_pt ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_NIL;
		for (int state = 0; has_pt && state <= NEO_CELL_DISCARDED; state++) {
			if (now->counts[state] == 0)
				continue;
			cell_payloads[state] = (char)state;
			enum_object(&cells[cell_count].key, NEO_ENUM_CELL_STATES, &cell_payloads[state]);
			cells[cell_count].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			cells[cell_count].val.via.u64 = now->counts[state];
			cell_count++;
		}
		values[n].via.map.ptr = cells;
		values[n].via.map.size = cell_count;
		n++;
	}
	a->upstream_sent = *now;
	a->upstream_has_pt = has_pt;
	if (n == 0)
		return;
	info.information.count = n;
	neo_conn_notify(a->upstream_conn, NEO_NOTIFY_MONITOR_INFORMATION, &info);
}

void admin_upstream_update(struct admin *a, const struct admin_monitor_view *view)
{
	struct admin_monitor_view now;
	bool has_pt;

	reported(a, view, &now, &has_pt);
	if (a->upstream_conn == NULL || !a->upstream_identified) {
		/* told in full once identified */
		a->upstream_sent = now;
		a->upstream_has_pt = has_pt;
		return;
	}
	send_information(a, &now, has_pt, false);
}

/* --- The connection ------------------------------------------------------------ */

/* The identified connection, served as neoctl's, is gone. */
static void upstream_gone(struct admin *a)
{
	a->upstream_conn = NULL;
	a->upstream_identified = false;
	schedule_retry(a);
}

static void upstream_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct admin *a = arg;

	if (conn != a->upstream_conn)
		return;
	neo_log(NEO_LOG_INFO, "upstream admin %s: %s", a->upstream_admin, reason);
	upstream_gone(a);
}

static void upstream_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	(void)conn;
	(void)arg;
	neo_log(NEO_LOG_DEBUG, "%s from the upstream admin before identification, ignored",
		pkt->type->name);
}

static void identified(struct neo_conn *conn, enum neo_ask_status status,
		       struct neo_packet *answer, void *arg)
{
	struct admin *a = arg;
	struct admin_monitor_view view = a->upstream_sent;

	if (conn != a->upstream_conn || status != NEO_ASK_ANSWERED)
		return;		/* upstream_closed retries */
	if (answer->code == NEO_ERROR) {
		const struct neo_error *e = answer->args;

		neo_log(NEO_LOG_WARNING, "upstream admin %s refused us: %.*s", a->upstream_admin,
			(int)e->message.size, (const char *)e->message.data);
		neo_conn_close(conn, "identification refused");
		return;
	}
	if (answer->code != NEO_ACCEPT_IDENTIFICATION) {
		neo_conn_close(conn, "unexpected identification answer");
		return;
	}
	if (admin_client_adopt(a, conn, upstream_gone) == NULL) {
		neo_conn_close(conn, "out of memory");
		return;
	}
	a->upstream_identified = true;
	neo_log(NEO_LOG_INFO, "reporting to the upstream admin %s", a->upstream_admin);
	/* as upstream: the whole health first */
	send_information(a, &view, a->upstream_has_pt, true);
}

static void upstream_ready(struct neo_conn *conn, void *arg)
{
	struct admin *a = arg;
	struct neo_request_identification req = { 0 };

	/* as upstream: an ADMIN with no id, no address, our cluster's name */
	req.node_type = NEO_NODE_ADMIN;
	req.cluster_name = neo_bin_str(a->cluster);
	if (neo_conn_ask(conn, NEO_REQUEST_IDENTIFICATION, &req, UPSTREAM_IDENTIFY_TIMEOUT_MS,
			 identified, a) < 0)
		neo_conn_abort(conn, "cannot send the identification");
}

static void upstream_connect(struct admin *a)
{
	static const struct neo_conn_callbacks callbacks = {
		.on_ready = upstream_ready,
		.on_packet = upstream_packet,
		.on_close = upstream_closed,
	};
	char err[300];

	if (a->stopped || a->leaving || a->upstream_conn || a->upstream_admin[0] == '\0')
		return;
	a->upstream_conn = neo_conn_connect(a->base, &a->upstream_address, a->ssl, &callbacks, a,
					    err, sizeof err);
	if (a->upstream_conn == NULL) {
		neo_log(NEO_LOG_WARNING, "upstream admin %s: %s", a->upstream_admin, err);
		schedule_retry(a);
	}
}

void admin_upstream_set(struct admin *a, const struct neo_wire_address *wire)
{
	struct neo_address address;
	char text[sizeof a->upstream_admin];

	/* as upstream: a known address is nothing new */
	if (!neo_address_from_wire(wire, &address))
		return;
	snprintf(text, sizeof text, "%s:%u", address.host, address.port);
	if (strcmp(text, a->upstream_admin) == 0)
		return;
	memcpy(a->upstream_admin, text, sizeof text);
	a->upstream_address = address;
	neo_log(NEO_LOG_INFO, "upstream admin at %s: reporting to it", text);
	if (a->upstream_conn)
		neo_conn_close(a->upstream_conn, "another upstream admin");	/* retries */
	else
		upstream_connect(a);
}

void admin_upstream_close(struct admin *a)
{
	if (a->upstream_retry) {
		event_free(a->upstream_retry);
		a->upstream_retry = NULL;
	}
	if (a->upstream_conn && !a->upstream_identified)
		neo_conn_abort(a->upstream_conn, "admin exiting");
	/* identified, it is one of the clients (admin_close) */
}
