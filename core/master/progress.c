/*
 * master/progress.c - progress of long work, for neoctl print summary and
 * the admin's metrics (ours, core/proto/protocol.md section 9).  While an
 * admin of ours is connected ("progress" in its identification's extra),
 * the primary asks its storages of ours ("progress" in theirs too) every
 * PROGRESS_POLL_MS what they import and pack (AskProgress), and tells
 * those admins the last answers with its own pack GC (NotifyProgress).
 * An upstream admin or storage is never sent either packet.
 */
#include "master/master.h"

#include <string.h>

#include "proto/codec.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define PROGRESS_POLL_MS 1000
#define PROGRESS_STALE_S 3.0	/* an answer older than this is dropped */
#define PROGRESS_PER_NODE 3	/* import, pack and replication */
#define PROGRESS_LOG_S 30.0	/* a long collection's progress in the log */

/* An answer item, its texts copied. */
struct kept_item {
	struct neo_progress item;
	char task[16], phase[16], unit[24], count_unit[24];
};

struct kept_node {
	int32_t nid;
	double when;			/* master_metrics_clock() of the answer */
	uint32_t count;
	struct kept_item items[PROGRESS_PER_NODE];
};

struct master_progress {
	struct event *timer;
	double gc_logged;		/* the collection's last progress line, or start */
	struct kept_node *nodes;
	size_t count, capacity;
};

struct progress_ask {
	struct master *m;
	int32_t nid;
};

static void copy_text(char *to, size_t size, struct neo_bin from)
{
	size_t n = from.size < size - 1 ? from.size : size - 1;

	if (n)
		memcpy(to, from.data, n);
	to[n] = '\0';
}

static struct kept_node *kept_of(struct master_progress *p, int32_t nid)
{
	for (size_t i = 0; i < p->count; i++)
		if (p->nodes[i].nid == nid)
			return &p->nodes[i];
	if (neo_grow(&p->nodes, &p->capacity, p->count + 1, sizeof *p->nodes) != 0)
		return NULL;
	memset(&p->nodes[p->count], 0, sizeof *p->nodes);
	p->nodes[p->count].nid = nid;
	return &p->nodes[p->count++];
}

static void answered(struct neo_conn *conn, enum neo_ask_status status, struct neo_packet *answer,
		     void *arg)
{
	struct progress_ask *ask = arg;
	struct master_progress *p = ask->m->progress;
	const struct neo_answer_progress *a;
	struct kept_node *kept;

	(void)conn;
	if (p == NULL || status != NEO_ASK_ANSWERED || answer->code != NEO_ANSWER_PROGRESS
	    || (kept = kept_of(p, ask->nid)) == NULL) {
		neo_free(ask);
		return;
	}
	a = answer->args;
	kept->when = master_metrics_clock();
	kept->count = 0;
	for (uint32_t i = 0; i < a->items.count && kept->count < PROGRESS_PER_NODE; i++) {
		struct kept_item *k = &kept->items[kept->count++];

		k->item = a->items.items[i];
		k->item.nid = ask->nid;
		copy_text(k->task, sizeof k->task, k->item.task);
		copy_text(k->phase, sizeof k->phase, k->item.phase);
		copy_text(k->unit, sizeof k->unit, k->item.unit);
		copy_text(k->count_unit, sizeof k->count_unit, k->item.count_unit);
	}
	neo_free(ask);
}

static bool takes_progress(struct neo_node *node)
{
	struct master_node *data = node->owner_data;

	return node->type == NEO_NODE_ADMIN && node->conn && data && data->progress;
}

static void ask_storages(struct master *m)
{
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];
		struct master_node *data = node->owner_data;
		struct progress_ask *ask;

		if (node->type != NEO_NODE_STORAGE || node->conn == NULL || data == NULL
		    || !data->progress || node->state != NEO_NODE_RUNNING)
			continue;
		ask = neo_malloc(sizeof *ask);
		if (ask == NULL)
			return;
		*ask = (struct progress_ask){ m, node->nid };
		if (neo_conn_ask(node->conn, NEO_ASK_PROGRESS, NULL, PROGRESS_POLL_MS * 5, answered,
				 ask) < 0)
			neo_free(ask);
	}
}

/* The items to tell: the GC's, then every fresh answer's. */
static void tell_admins(struct master *m, const bool *admins)
{
	struct master_progress *p = m->progress;
	struct neo_progress *items = neo_calloc(p->count * PROGRESS_PER_NODE + 2, sizeof *items);
	struct neo_notify_progress notify = { { items, 0 } };
	double now = master_metrics_clock();

	if (items == NULL)
		return;
	if (master_gc_progress(m, &items[0]))
		notify.items.count++;
	for (size_t i = 0; i < p->count; i++) {
		struct kept_node *kept = &p->nodes[i];

		if (now - kept->when > PROGRESS_STALE_S)
			continue;
		for (uint32_t k = 0; k < kept->count; k++) {
			struct neo_progress *item = &items[notify.items.count++];

			*item = kept->items[k].item;
			item->task = neo_bin_str(kept->items[k].task);
			item->phase = neo_bin_str(kept->items[k].phase);
			item->unit = neo_bin_str(kept->items[k].unit);
			item->count_unit = neo_bin_str(kept->items[k].count_unit);
		}
	}
	for (size_t i = 0; i < m->nodes.count; i++)
		if (admins[i])
			neo_conn_notify(m->nodes.nodes[i]->conn, NEO_NOTIFY_PROGRESS, &notify);
	neo_free(items);
}

/* Every PROGRESS_LOG_S of a collection (phase changes are logged by
 * gc.c), with or without an admin. */
static void log_gc(struct master *m)
{
	struct master_progress *p = m->progress;
	struct neo_progress g;
	double now = master_metrics_clock();
	char partitions[64] = "", left[48] = "", total[40] = "";

	if (!master_gc_progress(m, &g)) {
		p->gc_logged = now;
		return;
	}
	if (now - p->gc_logged < PROGRESS_LOG_S)
		return;
	p->gc_logged = now;
	if (g.count_total.has)
		snprintf(partitions, sizeof partitions, ", partition %lld of %lld", (long long)g.count,
			 (long long)g.count_total.v);
	if (g.left.has)
		snprintf(left, sizeof left, ", about %.0f s left", g.left.v);
	if (g.total.has)
		snprintf(total, sizeof total, " of %lld", (long long)g.total.v);
	neo_log(NEO_LOG_INFO, "pack %016llx: garbage collection, %.*s%s, %lld%s %.*s, %.0f/s%s",
		(unsigned long long)g.id.v, (int)g.phase.size, (const char *)g.phase.data, partitions,
		(long long)g.done, total, (int)g.unit.size, (const char *)g.unit.data, g.rate, left);
}

static void schedule(struct master *m)
{
	struct timeval delay = { PROGRESS_POLL_MS / 1000, PROGRESS_POLL_MS % 1000 * 1000 };

	evtimer_add(m->progress->timer, &delay);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	bool *admins, any = false;

	(void)fd;
	(void)what;
	schedule(m);
	if (!m->primary || m->nodes.count == 0)
		return;
	log_gc(m);
	admins = neo_calloc(m->nodes.count, sizeof *admins);
	if (admins == NULL)
		return;
	for (size_t i = 0; i < m->nodes.count; i++)
		any |= admins[i] = takes_progress(m->nodes.nodes[i]);
	if (any) {
		tell_admins(m, admins);
		ask_storages(m);
	}
	neo_free(admins);
}

int master_progress_start(struct master *m)
{
	m->progress = neo_calloc(1, sizeof *m->progress);
	if (m->progress == NULL)
		return -1;
	m->progress->timer = evtimer_new(m->base, tick, m);
	if (m->progress->timer == NULL)
		return -1;
	schedule(m);
	return 0;
}

void master_progress_stop(struct master *m)
{
	if (m->progress == NULL)
		return;
	if (m->progress->timer)
		event_free(m->progress->timer);
	neo_free(m->progress->nodes);
	neo_free(m->progress);
	m->progress = NULL;
}
