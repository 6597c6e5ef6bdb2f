/*
 * admin/progress.c - long work in the cluster as our master tells it
 * (NotifyProgress, ours: core/proto/protocol.md section 9): each storage's
 * import and pack, and the master's garbage collection of a pack.  The
 * admin keeps the last report; neoctl print summary shows it under the
 * summary (one line per task, the partition where it applies, the pace
 * and the time left, which the nodes doing the work compute), and the
 * metrics give the same numbers (README, Metrics).  A report older than
 * PROGRESS_STALE_S (the master lost, or upstream's) shows nothing.
 */
#include "admin/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/nid.h"
#include "proto/codec.h"
#include "runtime/alloc.h"

#define PROGRESS_STALE_S 5.0

struct progress_item {
	struct neo_progress p;
	char task[16], phase[24], unit[24], count_unit[24];
};

struct admin_progress {
	double when;			/* clock() of the last report */
	struct progress_item *items;
	size_t count;
	struct neo_metric *done, *expected, *rate, *left, *partition, *info;
};

static double clock_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void copy_text(char *to, size_t size, struct neo_bin from)
{
	size_t n = from.size < size - 1 ? from.size : size - 1;

	if (n)
		memcpy(to, from.data, n);
	to[n] = '\0';
}

static struct admin_progress *progress_of(struct admin *a)
{
	if (a->progress == NULL)
		a->progress = neo_calloc(1, sizeof *a->progress);
	return a->progress;
}

void admin_progress_learn(struct admin *a, const struct neo_notify_progress *report)
{
	struct admin_progress *p = progress_of(a);
	struct progress_item *items;

	if (p == NULL)
		return;
	items = neo_calloc(report->items.count + 1, sizeof *items);
	if (items == NULL)
		return;
	for (uint32_t i = 0; i < report->items.count; i++) {
		items[i].p = report->items.items[i];
		copy_text(items[i].task, sizeof items[i].task, items[i].p.task);
		copy_text(items[i].phase, sizeof items[i].phase, items[i].p.phase);
		copy_text(items[i].unit, sizeof items[i].unit, items[i].p.unit);
		copy_text(items[i].count_unit, sizeof items[i].count_unit, items[i].p.count_unit);
	}
	neo_free(p->items);
	p->items = items;
	p->count = report->items.count;
	p->when = clock_now();
}

void admin_progress_forget(struct admin *a)
{
	if (a->progress == NULL)
		return;
	neo_free(a->progress->items);
	a->progress->items = NULL;
	a->progress->count = 0;
}

void admin_progress_free(struct admin *a)
{
	admin_progress_forget(a);
	neo_free(a->progress);
	a->progress = NULL;
}

/* The items of a fresh report: *count of them, or none. */
static const struct progress_item *fresh(const struct admin *a, size_t *count)
{
	*count = 0;
	if (a->progress == NULL || clock_now() - a->progress->when > PROGRESS_STALE_S)
		return NULL;
	*count = a->progress->count;
	return a->progress->items;
}

/* An import done stays in the metrics, not in the summary. */
static bool shown(const struct progress_item *item)
{
	return !(strcmp(item->task, "import") == 0 && strcmp(item->phase, "done") == 0);
}

/* --- Text ------------------------------------------------------------------------ */

struct out {
	char *data;
	size_t len, size;
};

static void out_add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->data + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len = o->len + (size_t)n < o->size ? o->len + (size_t)n : o->size - 1;
}

/* "12 s", "3 min 20 s", "2 h 05 min". */
static void add_duration(struct out *o, double seconds)
{
	long s = seconds < 0 ? 0 : (long)(seconds + 0.5);

	if (s < 60)
		out_add(o, "%ld s", s);
	else if (s < 3600)
		out_add(o, "%ld min %02ld s", s / 60, s % 60);
	else
		out_add(o, "%ld h %02ld min", s / 3600, s % 3600 / 60);
}

/* An amount in its unit: bytes as MB. */
static void add_amount(struct out *o, double amount, const char *unit, bool with_unit)
{
	if (strcmp(unit, "bytes") == 0)
		out_add(o, "%.1f%s", amount / 1e6, with_unit ? " MB" : "");
	else
		out_add(o, "%.0f%s%s", amount, with_unit ? " " : "", with_unit ? unit : "");
}

static void add_item(struct out *o, const struct progress_item *item)
{
	const struct neo_progress *p = &item->p;
	char nid[32];

	neo_nid_format((int32_t)p->nid, nid, sizeof nid);
	if (strcmp(item->task, "import") == 0 || strcmp(item->task, "replicate") == 0)
		out_add(o, "%s %s: ", item->task, nid);
	else if (strcmp(item->task, "gc") == 0)
		out_add(o, "pack %016llx garbage collection (%s): ",
			(unsigned long long)(p->id.has ? p->id.v : 0), nid);
	else
		out_add(o, "%s %016llx %s: ", item->task,
			(unsigned long long)(p->id.has ? p->id.v : 0), nid);
	if (item->phase[0])
		out_add(o, "%s, ", item->phase);
	if (p->partition.has)
		out_add(o, "partition %lld, ", (long long)p->partition.v);
	if (p->count_total.has)
		out_add(o, "%lld of %lld %s, ", (long long)p->count,
			(long long)p->count_total.v, item->count_unit);
	add_amount(o, (double)p->done, item->unit, !p->total.has);
	if (p->total.has) {
		out_add(o, " of ");
		add_amount(o, (double)p->total.v, item->unit, true);
		if (p->total.v > 0)
			out_add(o, " (%.0f%%)", 100.0 * (double)p->done / (double)p->total.v);
	}
	if (p->rate > 0) {
		out_add(o, ", ");
		if (strcmp(item->unit, "bytes") == 0)
			out_add(o, "%.2f MB/s", p->rate / 1e6);
		else
			out_add(o, "%.0f %s/s", p->rate, item->unit);
	}
	if (p->left.has) {
		out_add(o, ", about ");
		add_duration(o, p->left.v);
		out_add(o, " left");
	}
	out_add(o, "\n");
}

char *admin_progress_text(const struct admin *a)
{
	size_t count;
	const struct progress_item *items = fresh(a, &count);
	struct out o = { NULL, 0, 256 + count * 256 };

	o.data = neo_malloc(o.size);
	if (o.data == NULL)
		return NULL;
	o.data[0] = '\0';
	for (size_t i = 0; i < count; i++)
		if (shown(&items[i]))
			add_item(&o, &items[i]);
	if (o.len > 0 && o.data[o.len - 1] == '\n')
		o.data[--o.len] = '\0';
	return o.data;
}

/* --- Metrics ----------------------------------------------------------------------- */

int admin_progress_metrics_init(struct admin *a, struct neo_metrics *r)
{
	static const char *const by_unit[] = { "task", "node", "unit", NULL };
	static const char *const by_task[] = { "task", "node", NULL };
	static const char *const info[] = { "task", "node", "id", "phase", NULL };
	struct admin_progress *p = progress_of(a);

	if (p == NULL)
		return -1;
	p->done = neo_metrics_gauge(r, "neo_progress_done",
		"Work done so far by a long task (task import, pack or gc), in its unit", by_unit);
	p->expected = neo_metrics_gauge(r, "neo_progress_expected",
		"The whole work of the task, in that unit, where it is known", by_unit);
	p->rate = neo_metrics_gauge(r, "neo_progress_rate",
		"Units of work per second since the task (or its phase) started", by_unit);
	p->left = neo_metrics_gauge(r, "neo_progress_remaining_seconds",
		"Estimated seconds left at that pace, where it can be estimated", by_task);
	p->partition = neo_metrics_gauge(r, "neo_progress_partition",
		"The partition the task is working on, where it goes by partition", by_task);
	p->info = neo_metrics_gauge(r, "neo_progress_info",
		"Always 1 per task in progress: the pack order's id (tid) and the phase", info);
	return p->done && p->expected && p->rate && p->left && p->partition && p->info ? 0 : -1;
}

static void collect_item(struct admin_progress *p, const struct progress_item *item)
{
	const struct neo_progress *q = &item->p;
	char nid[32], id[20];
	const char *task_node[] = { item->task, nid };
	const char *main_unit[] = { item->task, nid, item->unit };
	const char *count_unit[] = { item->task, nid, item->count_unit };
	const char *info[] = { item->task, nid, id, item->phase };

	neo_nid_format((int32_t)q->nid, nid, sizeof nid);
	snprintf(id, sizeof id, "%016llx", (unsigned long long)(q->id.has ? q->id.v : 0));
	if (!q->id.has)
		id[0] = '\0';
	(void)neo_metric_set(p->info, info, 1);
	(void)neo_metric_set(p->done, main_unit, (double)q->done);
	if (q->total.has)
		(void)neo_metric_set(p->expected, main_unit, (double)q->total.v);
	(void)neo_metric_set(p->rate, main_unit, q->rate);
	if (item->count_unit[0]) {
		(void)neo_metric_set(p->done, count_unit, (double)q->count);
		if (q->count_total.has)
			(void)neo_metric_set(p->expected, count_unit, (double)q->count_total.v);
	}
	if (q->left.has)
		(void)neo_metric_set(p->left, task_node, q->left.v);
	if (q->partition.has)
		(void)neo_metric_set(p->partition, task_node, (double)q->partition.v);
}

void admin_progress_collect(struct admin *a)
{
	struct admin_progress *p = a->progress;
	size_t count;
	const struct progress_item *items = fresh(a, &count);

	if (p == NULL)
		return;
	neo_metric_clear(p->done);
	neo_metric_clear(p->expected);
	neo_metric_clear(p->rate);
	neo_metric_clear(p->left);
	neo_metric_clear(p->partition);
	neo_metric_clear(p->info);
	for (size_t i = 0; i < count; i++)
		collect_item(p, &items[i]);
}
