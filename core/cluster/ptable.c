/*
 * cluster/ptable.c - the partition table kept by every node.
 */
#include "cluster/ptable.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

int neo_ptable_init(struct neo_ptable *pt, uint32_t num_partitions, uint32_t num_replicas)
{
	struct neo_pt_cells *rows = NULL;

	if (num_partitions) {
		rows = neo_calloc(num_partitions, sizeof *rows);
		if (rows == NULL)
			return -1;
	}
	neo_ptable_free(pt);
	pt->rows = rows;
	pt->num_partitions = num_partitions;
	pt->num_replicas = num_replicas;
	pt->ptid = 0;
	return 0;
}

void neo_ptable_free(struct neo_ptable *pt)
{
	if (pt->rows)
		for (uint32_t i = 0; i < pt->num_partitions; i++)
			neo_free(pt->rows[i].cells);
	neo_free(pt->rows);
	pt->rows = NULL;
	pt->num_partitions = 0;
	pt->ptid = 0;
}

void neo_ptable_clear(struct neo_ptable *pt)
{
	neo_ptable_free(pt);
	pt->num_replicas = 0;
}

int neo_ptable_copy(struct neo_ptable *dst, const struct neo_ptable *src)
{
	struct neo_ptable copy = { 0 };

	if (neo_ptable_init(&copy, src->num_partitions, src->num_replicas) < 0)
		return -1;
	for (uint32_t p = 0; p < src->num_partitions; p++)
		for (uint32_t i = 0; i < src->rows[p].count; i++)
			if (neo_ptable_set_cell(&copy, p, src->rows[p].cells[i].nid,
						src->rows[p].cells[i].state) < 0) {
				neo_ptable_free(&copy);
				return -1;
			}
	copy.ptid = src->ptid;
	neo_ptable_free(dst);
	*dst = copy;
	return 0;
}

int neo_ptable_set_cell(struct neo_ptable *pt, uint32_t partition, int32_t nid,
			enum neo_cell_state state)
{
	struct neo_pt_cells *row;

	if (partition >= pt->num_partitions)
		return -1;
	row = &pt->rows[partition];
	for (uint32_t i = 0; i < row->count; i++) {
		if (row->cells[i].nid != nid)
			continue;
		if (state == NEO_CELL_DISCARDED)
			row->cells[i] = row->cells[--row->count];
		else
			row->cells[i].state = state;
		return 0;
	}
	if (state == NEO_CELL_DISCARDED)
		return 0;
	if (row->count == row->capacity) {
		/* The row counts in uint32_t (ptable.h); neo_grow in size_t. */
		size_t room = row->capacity;

		if (room >= UINT32_MAX / 2 ||
		    neo_grow(&row->cells, &room, row->count + 1, sizeof *row->cells))
			return -1;
		row->capacity = (uint32_t)room;
	}
	row->cells[row->count].nid = nid;
	row->cells[row->count].state = state;
	row->count++;
	return 0;
}

int neo_ptable_cell_state(const struct neo_ptable *pt, uint32_t partition, int32_t nid)
{
	if (partition >= pt->num_partitions)
		return -1;
	for (uint32_t i = 0; i < pt->rows[partition].count; i++)
		if (pt->rows[partition].cells[i].nid == nid)
			return (int)pt->rows[partition].cells[i].state;
	return -1;
}

size_t neo_ptable_drop_node(struct neo_ptable *pt, int32_t nid)
{
	size_t dropped = 0;

	/* removing a cell cannot fail */
	for (uint32_t p = 0; p < pt->num_partitions; p++) {
		struct neo_pt_cells *row = &pt->rows[p];

		for (uint32_t i = 0; i < row->count; i++)
			if (row->cells[i].nid == nid) {
				row->cells[i] = row->cells[--row->count];
				dropped++;
				break;
			}
	}
	return dropped;
}

bool neo_ptable_filled(const struct neo_ptable *pt)
{
	if (pt->num_partitions == 0)
		return false;
	for (uint32_t p = 0; p < pt->num_partitions; p++)
		if (pt->rows[p].count == 0)
			return false;
	return true;
}

bool neo_ptable_operational(const struct neo_ptable *pt,
			    bool (*is_running)(void *ctx, int32_t nid), void *ctx)
{
	if (pt->num_partitions == 0)
		return false;
	for (uint32_t p = 0; p < pt->num_partitions; p++) {
		bool readable = false;

		for (uint32_t i = 0; i < pt->rows[p].count && !readable; i++)
			readable = neo_cell_readable(pt->rows[p].cells[i].state)
				   && is_running(ctx, pt->rows[p].cells[i].nid);
		if (!readable)
			return false;
	}
	return true;
}

bool neo_ptable_has_node(const struct neo_ptable *pt, int32_t nid)
{
	for (uint32_t p = 0; p < pt->num_partitions; p++)
		if (neo_ptable_cell_state(pt, p, nid) >= 0)
			return true;
	return false;
}

bool neo_ptable_has_readable_cell(const struct neo_ptable *pt, int32_t nid)
{
	for (uint32_t p = 0; p < pt->num_partitions; p++) {
		int state = neo_ptable_cell_state(pt, p, nid);

		if (state >= 0 && neo_cell_readable(state))
			return true;
	}
	return false;
}

static int compare_nid(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

int neo_ptable_nodes(const struct neo_ptable *pt, int32_t **out, size_t *count)
{
	size_t total = 0, distinct = 0;
	int32_t *nids;

	for (uint32_t p = 0; p < pt->num_partitions; p++)
		total += pt->rows[p].count;
	nids = neo_malloc((total ? total : 1) * sizeof *nids);
	if (nids == NULL)
		return -1;
	total = 0;
	for (uint32_t p = 0; p < pt->num_partitions; p++)
		for (uint32_t i = 0; i < pt->rows[p].count; i++)
			nids[total++] = pt->rows[p].cells[i].nid;
	qsort(nids, total, sizeof *nids, compare_nid);
	for (size_t i = 0; i < total; i++)
		if (distinct == 0 || nids[distinct - 1] != nids[i])
			nids[distinct++] = nids[i];
	*out = nids;
	*count = distinct;
	return 0;
}

static bool cell_state_valid(int64_t state)
{
	return state >= NEO_CELL_OUT_OF_DATE && state <= NEO_CELL_DISCARDED;
}

int neo_ptable_load(struct neo_ptable *pt, int64_t ptid, int64_t num_replicas,
		    const struct neo_list_list_cell *rows)
{
	struct neo_ptable loaded = { 0 };

	if (num_replicas < 0 || neo_ptable_init(&loaded, rows->count, (uint32_t)num_replicas) < 0)
		return -1;
	for (uint32_t p = 0; p < rows->count; p++)
		for (uint32_t i = 0; i < rows->items[p].count; i++) {
			const struct neo_cell *cell = &rows->items[p].items[i];

			if (!cell_state_valid(cell->state) || cell->uuid < INT32_MIN
			    || cell->uuid > INT32_MAX
			    || neo_ptable_set_cell(&loaded, p, (int32_t)cell->uuid,
						   cell->state) < 0) {
				neo_ptable_free(&loaded);
				return -1;
			}
		}
	loaded.ptid = ptid;
	neo_ptable_free(pt);
	*pt = loaded;
	return 0;
}

int neo_ptable_apply(struct neo_ptable *pt, int64_t ptid, int64_t num_replicas,
		     const struct neo_list_cell_change *changes)
{
	for (uint32_t i = 0; i < changes->count; i++) {
		const struct neo_cell_change *change = &changes->items[i];

		if (change->partition < 0 || change->partition >= pt->num_partitions
		    || !cell_state_valid(change->state) || change->uuid < INT32_MIN
		    || change->uuid > INT32_MAX)
			return -1;
	}
	for (uint32_t i = 0; i < changes->count; i++) {
		const struct neo_cell_change *change = &changes->items[i];

		if (neo_ptable_set_cell(pt, (uint32_t)change->partition, (int32_t)change->uuid,
					change->state) < 0)
			return -1;
	}
	pt->ptid = ptid;
	if (num_replicas >= 0)
		pt->num_replicas = (uint32_t)num_replicas;
	return 0;
}

int neo_ptable_to_wire(const struct neo_ptable *pt, uint32_t min, uint32_t max,
		       struct neo_list_list_cell *rows)
{
	if (max > pt->num_partitions)
		max = pt->num_partitions;
	if (min > max)
		min = max;
	rows->count = max - min;
	rows->items = neo_calloc(rows->count ? rows->count : 1, sizeof *rows->items);
	if (rows->items == NULL)
		return -1;
	for (uint32_t p = min; p < max; p++) {
		const struct neo_pt_cells *row = &pt->rows[p];
		struct neo_list_cell *out = &rows->items[p - min];

		out->items = neo_calloc(row->count ? row->count : 1, sizeof *out->items);
		if (out->items == NULL) {
			neo_ptable_wire_free(rows);
			return -1;
		}
		out->count = row->count;
		for (uint32_t i = 0; i < row->count; i++) {
			out->items[i].uuid = row->cells[i].nid;
			out->items[i].state = row->cells[i].state;
		}
	}
	return 0;
}

void neo_ptable_wire_free(struct neo_list_list_cell *rows)
{
	if (rows->items)
		for (uint32_t p = 0; p < rows->count; p++)
			neo_free(rows->items[p].items);
	neo_free(rows->items);
	rows->items = NULL;
	rows->count = 0;
}

char neo_cell_state_letter(enum neo_cell_state state)
{
	static const char letters[] = "UOFCD";

	switch (state) {
	case NEO_CELL_UP_TO_DATE: return letters[0];
	case NEO_CELL_OUT_OF_DATE: return letters[1];
	case NEO_CELL_FEEDING: return letters[2];
	case NEO_CELL_CORRUPTED: return letters[3];
	default: return letters[4];
	}
}
