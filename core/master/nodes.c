/*
 * master/nodes.c - what every other file of the master calls: the master's
 * data of a node, telling nodes about nodes, broadcasts, the table sent
 * whole, and the two state setters with the forgetting of a node.
 *
 * A leaf: it calls nothing in the other files of master/ (call_graph.py
 * checks), so that they call each other one way.
 *
 * The setters are the only writers of m->state and of a node's state
 * (memcached's conn_set_state is the model): each checks the transition
 * is legal, refuses and logs one that is not (never aborts), and logs the
 * change.
 */
#include "master/master.h"

#include <string.h>
#include <time.h>

#include "cluster/nid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static void master_quit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Leaves the loop soon: what is queued for peers goes out first. */
void master_exit_loop(struct master *m)
{
	struct timeval soon = { 0, 200000 };

	event_base_once(m->base, -1, EV_TIMEOUT, master_quit, m->base, &soon);
}

static double wall_clock_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* as upstream (monotonic_time in neo/master/app.py): id timestamps and
 * election keys are wall-clock time (neoctl prints them as dates, and
 * masters compare them across machines), forced to increase by 1 ms
 * whenever the clock stands still or goes back. */
double master_next_clock(struct master *m)
{
	double now = wall_clock_now();

	if (now <= m->node_clock)
		now = m->node_clock + 1e-3;
	m->node_clock = now;
	return now;
}

struct master_node *master_node_data(struct neo_node *node)
{
	if (node->owner_data == NULL) {
		struct master_node *data = neo_calloc(1, sizeof *data);

		if (data == NULL)
			return NULL;
		data->recovery_ptid = -1;
		node->owner_data = data;
	}
	return node->owner_data;
}

bool master_is_running(void *ctx, int32_t nid)
{
	struct master *m = ctx;
	struct neo_node *node = neo_nodes_by_nid(&m->nodes, nid);

	return node && node->state == NEO_NODE_RUNNING && node->conn;
}

/* --- Notifications -------------------------------------------------------- */

/* As upstream: a client hears of an admin only when it is the master of
 * a backup cluster that admin watches (--monitor-backup), so that the
 * backup's admin reports to it (NotifyUpstreamAdmin). */
static bool admin_watches(const struct neo_node *admin, const struct neo_node *client)
{
	const struct master_node *a = admin->owner_data, *c = client->owner_data;

	if (a == NULL || c == NULL || !c->backup || c->backup_name[0] == '\0')
		return false;
	for (const char *name = a->watched; *name; name += strlen(name) + 1)
		if (strcmp(name, c->backup_name) == 0)
			return true;
	return false;
}

bool master_node_news_for(const struct neo_node *to, const struct neo_node *about)
{
	if (to->type == NEO_NODE_CLIENT && about->type == NEO_NODE_ADMIN)
		return admin_watches(about, to);
	/* Clients need not know each other; everyone else is told all. */
	return !(to->type == NEO_NODE_CLIENT && about->type == NEO_NODE_CLIENT);
}

int master_send_node_list(struct master *m, struct neo_node *to, struct neo_node *first,
			  struct neo_node **nodes, size_t count)
{
	struct neo_notify_node_information notify = { 0 };
	struct neo_node_info *infos = neo_calloc(count + 1, sizeof *infos);
	uint32_t n = 0;
	int rc;

	if (infos == NULL)
		return -1;
	if (first)
		neo_node_to_wire(first, &infos[n++]);
	for (size_t i = 0; i < count; i++)
		if (nodes[i] != first && master_node_news_for(to, nodes[i]))
			neo_node_to_wire(nodes[i], &infos[n++]);
	notify.timestamp = master_next_clock(m);
	notify.nodes.items = infos;
	notify.nodes.count = n;
	rc = n ? neo_conn_notify(to->conn, NEO_NOTIFY_NODE_INFORMATION, &notify) : 0;
	neo_free(infos);
	return rc;
}

void master_notify_nodes(struct master *m, struct neo_node **changed, size_t count)
{
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *peer = m->nodes.nodes[i];

		if (peer->conn && peer->type != NEO_NODE_MASTER)
			master_send_node_list(m, peer, NULL, changed, count);
	}
}

void master_broadcast(struct master *m, uint16_t code, const void *args, bool to_storages,
		      bool to_clients, bool to_admins)
{
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *peer = m->nodes.nodes[i];

		if (peer->conn == NULL)
			continue;
		if ((peer->type == NEO_NODE_STORAGE && to_storages)
		    || (peer->type == NEO_NODE_CLIENT && to_clients)
		    || (peer->type == NEO_NODE_ADMIN && to_admins))
			neo_conn_notify(peer->conn, code, args);
	}
}

int master_send_pt(struct master *m, struct neo_conn *conn)
{
	struct neo_send_partition_table send = { 0 };
	int rc;

	if (neo_ptable_to_wire(&m->pt, 0, m->pt.num_partitions, &send.rows) < 0)
		return -1;
	send.ptid.has = m->pt.ptid > 0;
	send.ptid.v = m->pt.ptid;
	send.num_replicas = m->pt.num_replicas;
	rc = neo_conn_notify(conn, NEO_SEND_PARTITION_TABLE, &send);
	neo_ptable_wire_free(&send.rows);
	return rc;
}

/* --- The cluster's state -------------------------------------------------- */

/*
 * RECOVERING -> VERIFYING -> RUNNING; back to RECOVERING when operation
 * is lost (from VERIFYING, RUNNING or a backup state) or a new candidacy
 * starts; any -> STOPPING, which is final.  Backup mode (master/backup.c),
 * as upstream: VERIFYING or RUNNING -> STARTING_BACKUP <-> BACKINGUP, both
 * -> STOPPING_BACKUP -> RECOVERING (the truncation).
 */
bool master_cluster_transition_ok(enum neo_cluster_state from, enum neo_cluster_state to)
{
	switch (to) {
	case NEO_CLUSTER_RECOVERING:
		return from == NEO_CLUSTER_RECOVERING || from == NEO_CLUSTER_VERIFYING
		       || from == NEO_CLUSTER_RUNNING || from == NEO_CLUSTER_STARTING_BACKUP
		       || from == NEO_CLUSTER_BACKINGUP || from == NEO_CLUSTER_STOPPING_BACKUP;
	case NEO_CLUSTER_VERIFYING:
		return from == NEO_CLUSTER_RECOVERING;
	case NEO_CLUSTER_RUNNING:
		return from == NEO_CLUSTER_VERIFYING;
	case NEO_CLUSTER_STARTING_BACKUP:
		return from == NEO_CLUSTER_VERIFYING || from == NEO_CLUSTER_RUNNING
		       || from == NEO_CLUSTER_BACKINGUP;
	case NEO_CLUSTER_BACKINGUP:
		return from == NEO_CLUSTER_STARTING_BACKUP;
	case NEO_CLUSTER_STOPPING_BACKUP:
		return from == NEO_CLUSTER_STARTING_BACKUP || from == NEO_CLUSTER_BACKINGUP;
	case NEO_CLUSTER_STOPPING:
		return true;
	default:
		return false;
	}
}

bool master_change_state(struct master *m, enum neo_cluster_state state)
{
	const char *from = neo_enum_name(NEO_ENUM_CLUSTER_STATES, m->state);
	const char *to = neo_enum_name(NEO_ENUM_CLUSTER_STATES, state);

	if (m->state == state)
		return true;
	if (!master_cluster_transition_ok(m->state, state)) {
		neo_log(NEO_LOG_ERROR, "illegal cluster state change refused: %s -> %s",
			from ? from : "?", to ? to : "?");
		return false;
	}
	neo_log(NEO_LOG_INFO, "cluster state: %s (was %s)", to, from ? from : "?");
	m->state = state;
	return true;
}

bool master_set_state(struct master *m, enum neo_cluster_state state)
{
	struct neo_notify_cluster_information info = { .state = state };

	if (m->state == state)
		return true;
	if (!master_change_state(m, state))
		return false;
	master_broadcast(m, NEO_NOTIFY_CLUSTER_INFORMATION, &info, true, true, true);
	return true;
}

/* --- A node's state ------------------------------------------------------- */

/*
 * As upstream, PENDING is for storages only (waiting to be given cells);
 * UNKNOWN is the state of a node being forgotten; DOWN and RUNNING may
 * follow any state (a node lost, a node identified again).
 */
bool master_node_transition_ok(enum neo_node_type type, enum neo_node_state from,
			       enum neo_node_state to)
{
	(void)from;
	switch (to) {
	case NEO_NODE_UNKNOWN:
	case NEO_NODE_DOWN:
	case NEO_NODE_RUNNING:
		return true;
	case NEO_NODE_PENDING:
		return type == NEO_NODE_STORAGE;
	default:
		return false;
	}
}

bool master_change_node_state(struct master *m, struct neo_node *node, enum neo_node_state state)
{
	const char *type = neo_enum_name(NEO_ENUM_NODE_TYPES, node->type);
	const char *from = neo_enum_name(NEO_ENUM_NODE_STATES, node->state);
	const char *to = neo_enum_name(NEO_ENUM_NODE_STATES, state);
	char nid[16];

	(void)m;
	if (node->state == state)
		return true;
	neo_nid_format(node->nid, nid, sizeof nid);
	if (!master_node_transition_ok(node->type, node->state, state)) {
		neo_log(NEO_LOG_ERROR, "illegal state change of %s %s refused: %s -> %s",
			type ? type : "node", nid, from ? from : "?", to ? to : "?");
		return false;
	}
	neo_log(node->type == NEO_NODE_CLIENT ? NEO_LOG_DEBUG : NEO_LOG_INFO,
		"%s %s: %s -> %s", type ? type : "node", nid, from ? from : "?", to ? to : "?");
	node->state = state;
	return true;
}

bool master_set_node_state(struct master *m, struct neo_node *node, enum neo_node_state state)
{
	if (node->state == state)
		return true;
	if (!master_change_node_state(m, node, state))
		return false;
	master_notify_nodes(m, &node, 1);
	return true;
}

void master_forget_node(struct master *m, struct neo_node *node)
{
	/* As upstream: the others learn it as UNKNOWN, then it is gone. */
	master_set_node_state(m, node, NEO_NODE_UNKNOWN);
	neo_free(node->owner_data);
	node->owner_data = NULL;
	neo_nodes_remove(&m->nodes, node);
}
