/* ctl/progress.c - see ctl/progress.h. */
#include "ctl/progress.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cluster/nid.h"
#include "proto/enums.h"
#include "runtime/alloc.h"

/* A bounded text: what does not fit is cut (the size is computed ahead). */
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

static void count_cells(const struct neo_list_list_cell *rows, uint32_t *behind,
			uint32_t *total)
{
	*behind = *total = 0;
	for (uint32_t p = 0; p < rows->count; p++)
		for (uint32_t i = 0; i < rows->items[p].count; i++) {
			*total += 1;
			*behind += rows->items[p].items[i].state == NEO_CELL_OUT_OF_DATE;
		}
}

static bool row_settled(const struct neo_list_cell *row)
{
	for (uint32_t i = 0; i < row->count; i++)
		if (row->items[i].state != NEO_CELL_UP_TO_DATE)
			return false;
	return true;
}

/* Keeps the per-partition times in step with the table. */
static int watch_track(struct ctl_watch *w, const struct neo_list_list_cell *rows)
{
	if (w->partitions != rows->count) {
		neo_free(w->since);
		w->since = neo_calloc(rows->count + 1, sizeof *w->since);
		if (w->since == NULL)
			return -1;
		w->partitions = rows->count;
	}
	for (uint32_t p = 0; p < rows->count; p++) {
		if (row_settled(&rows->items[p]))
			w->since[p] = 0;
		else if (w->since[p] == 0)
			w->since[p] = w->now;
	}
	return 0;
}

/* A catch-up starts when cells are first behind, and again when more
 * fall behind than at its start. */
static void watch_pace(struct ctl_watch *w, uint32_t behind)
{
	if (behind == 0) {
		w->samples = 0;
		return;
	}
	if (w->samples == 0 || behind > w->start_remaining) {
		w->start_time = w->now;
		w->start_remaining = behind;
		w->samples = 0;
	}
	w->samples++;
}

static void add_pace(struct out *o, const struct ctl_watch *w, uint32_t behind)
{
	double elapsed = w->now - w->start_time;
	double rate = elapsed > 0 ? (w->start_remaining - behind) / elapsed : 0;

	if (w->samples < 2 || elapsed <= 0)
		return;
	if (rate <= 0) {
		out_add(o, "  pace: no cell caught up in ");
		add_duration(o, elapsed);
		out_add(o, "\n");
		return;
	}
	out_add(o, "  pace: %.2f cells/s over ", rate);
	add_duration(o, elapsed);
	out_add(o, ", about ");
	add_duration(o, behind / rate);
	out_add(o, " left\n");
}

static void add_row(struct out *o, uint32_t p, const struct neo_list_cell *row,
		    const struct ctl_watch *w)
{
	char nid[32];

	out_add(o, "  partition %u:", p);
	for (uint32_t i = 0; i < row->count; i++) {
		const char *state = neo_enum_name(NEO_ENUM_CELL_STATES, row->items[i].state);

		if (row->items[i].state == NEO_CELL_UP_TO_DATE)
			continue;
		out_add(o, " %s %s,", neo_nid_format(row->items[i].uuid, nid, sizeof nid),
			state ? state : "?");
	}
	o->len -= o->data[o->len - 1] == ',';
	if (w != NULL && w->since && w->since[p] > 0) {
		out_add(o, " (for ");
		add_duration(o, w->now - w->since[p]);
		out_add(o, ")");
	}
	out_add(o, "\n");
}

char *ctl_format_replication(const struct neo_list_list_cell *rows, struct ctl_watch *watch)
{
	uint32_t behind, total;
	struct out o = { 0 };

	count_cells(rows, &behind, &total);
	if (watch != NULL) {
		if (watch_track(watch, rows) < 0)
			return NULL;
		watch_pace(watch, behind);
	}
	o.size = 256 + (size_t)total * 48 + (size_t)rows->count * 48;
	o.data = neo_malloc(o.size);
	if (o.data == NULL)
		return NULL;
	o.data[0] = '\0';
	for (uint32_t p = 0; p < rows->count && o.len == 0; p++)
		if (!row_settled(&rows->items[p]))
			out_add(&o, "replication: %u of %u cells to catch up\n", behind, total);
	if (o.len == 0)
		return o.data;
	if (watch != NULL)
		add_pace(&o, watch, behind);
	for (uint32_t p = 0; p < rows->count; p++)
		if (!row_settled(&rows->items[p]))
			add_row(&o, p, &rows->items[p], watch);
	if (o.len > 0 && o.data[o.len - 1] == '\n')
		o.data[--o.len] = '\0';
	return o.data;
}

void ctl_watch_free(struct ctl_watch *watch)
{
	neo_free(watch->since);
	watch->since = NULL;
	watch->partitions = 0;
}
