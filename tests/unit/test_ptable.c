/* test_ptable.c - the partition table (cluster/ptable.h): cells and their
 * states, which cells serve reads and writes, the whole-table questions
 * (filled, operational), copies, and the wire forms it is loaded from,
 * changed by and sent as. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ptable.h"
#include "tap.h"

#define S1 1
#define S2 2
#define S3 3

/* Set-up steps that must succeed for the checks to mean anything. */
static int setup_failures;

static void init(struct neo_ptable *pt, uint32_t num_partitions, uint32_t num_replicas)
{
	if (neo_ptable_init(pt, num_partitions, num_replicas) < 0)
		setup_failures++;
}

static void set(struct neo_ptable *pt, uint32_t partition, int32_t nid, enum neo_cell_state state)
{
	if (neo_ptable_set_cell(pt, partition, nid, state) < 0)
		setup_failures++;
}

/* Whether two tables hold the same cells, whatever their order in a row. */
static bool same_cells(const struct neo_ptable *a, const struct neo_ptable *b)
{
	if (a->num_partitions != b->num_partitions)
		return false;
	for (uint32_t p = 0; p < a->num_partitions; p++) {
		if (a->rows[p].count != b->rows[p].count)
			return false;
		for (uint32_t i = 0; i < a->rows[p].count; i++) {
			const struct neo_pt_cell *cell = &a->rows[p].cells[i];

			if (neo_ptable_cell_state(b, p, cell->nid) != (int)cell->state)
				return false;
		}
	}
	return true;
}

static void test_init(void)
{
	struct neo_ptable pt = { 0 };

	tap_ok(neo_ptable_init(&pt, 4, 1) == 0, "init: 4 partitions, 1 replica");
	tap_ok(pt.num_partitions == 4 && pt.num_replicas == 1 && pt.ptid == 0,
	       "init: sizes set, no ptid yet");
	tap_ok(pt.rows[0].count == 0 && pt.rows[3].count == 0, "init: every row empty");
	tap_ok(!neo_ptable_filled(&pt), "an empty table is not filled");
	pt.ptid = 9;
	set(&pt, 0, S1, NEO_CELL_UP_TO_DATE);
	tap_ok(neo_ptable_init(&pt, 2, 0) == 0 && pt.num_partitions == 2 && pt.ptid == 0
	       && pt.rows[0].count == 0,
	       "init again empties the table and resets its ptid");
	tap_ok(neo_ptable_init(&pt, 0, 0) == 0 && pt.num_partitions == 0 && pt.rows == NULL,
	       "init with 0 partitions: no rows");
	tap_ok(!neo_ptable_filled(&pt), "a table of 0 partitions is not filled");
	tap_ok(neo_ptable_partition(&pt, 12345) == 0, "a table of 0 partitions maps every id to 0");
	tap_ok(neo_ptable_set_cell(&pt, 0, S1, NEO_CELL_UP_TO_DATE) == -1,
	       "a table of 0 partitions has no row 0");
	neo_ptable_free(&pt);
	tap_ok(pt.rows == NULL && pt.num_partitions == 0, "free leaves an empty table");
	neo_ptable_free(&pt);
	tap_ok(pt.rows == NULL, "free twice is harmless");

	init(&pt, 3, 2);
	pt.ptid = 5;
	set(&pt, 1, S1, NEO_CELL_UP_TO_DATE);
	neo_ptable_clear(&pt);
	tap_ok(pt.rows == NULL && pt.num_partitions == 0 && pt.num_replicas == 0 && pt.ptid == 0,
	       "clear: no row, no replica, ptid 0");
	neo_ptable_clear(&pt);
	tap_ok(pt.rows == NULL, "clear twice is harmless");
}

static void test_cells(void)
{
	struct neo_ptable pt = { 0 };

	init(&pt, 3, 1);
	tap_ok(neo_ptable_cell_state(&pt, 0, S1) == -1, "no cell: state -1");
	tap_ok(neo_ptable_set_cell(&pt, 0, S1, NEO_CELL_OUT_OF_DATE) == 0
	       && neo_ptable_cell_state(&pt, 0, S1) == NEO_CELL_OUT_OF_DATE,
	       "a cell is added with its state");
	tap_ok(neo_ptable_set_cell(&pt, 0, S1, NEO_CELL_UP_TO_DATE) == 0
	       && neo_ptable_cell_state(&pt, 0, S1) == NEO_CELL_UP_TO_DATE && pt.rows[0].count == 1,
	       "setting an existing cell changes its state, no second cell");
	tap_ok(neo_ptable_set_cell(&pt, 0, S2, NEO_CELL_FEEDING) == 0 && pt.rows[0].count == 2
	       && neo_ptable_cell_state(&pt, 0, S2) == NEO_CELL_FEEDING,
	       "a second node gets its own cell in the row");
	tap_ok(neo_ptable_cell_state(&pt, 1, S1) == -1, "cells are per row");
	tap_ok(neo_ptable_set_cell(&pt, 0, S1, NEO_CELL_DISCARDED) == 0
	       && neo_ptable_cell_state(&pt, 0, S1) == -1 && pt.rows[0].count == 1
	       && neo_ptable_cell_state(&pt, 0, S2) == NEO_CELL_FEEDING,
	       "DISCARDED removes the cell and keeps the others");
	tap_ok(neo_ptable_set_cell(&pt, 1, S1, NEO_CELL_DISCARDED) == 0 && pt.rows[1].count == 0,
	       "DISCARDED of a cell that is not there: nothing, no error");
	tap_ok(neo_ptable_set_cell(&pt, 3, S1, NEO_CELL_UP_TO_DATE) == -1,
	       "set_cell refuses a row past the table");
	tap_ok(neo_ptable_cell_state(&pt, 3, S1) == -1, "cell_state of a row past the table: -1");

	/* Rows grow past their first allocation. */
	for (int32_t nid = 1; nid <= 40; nid++)
		set(&pt, 2, nid, nid % 2 ? NEO_CELL_UP_TO_DATE : NEO_CELL_OUT_OF_DATE);
	{
		bool all = pt.rows[2].count == 40;

		for (int32_t nid = 1; nid <= 40 && all; nid++)
			all = neo_ptable_cell_state(&pt, 2, nid)
			      == (nid % 2 ? NEO_CELL_UP_TO_DATE : NEO_CELL_OUT_OF_DATE);
		tap_ok(all, "a row holds 40 cells, each with its state");
	}
	neo_ptable_free(&pt);
}

static void test_states(void)
{
	tap_ok(neo_cell_readable(NEO_CELL_UP_TO_DATE) && neo_cell_readable(NEO_CELL_FEEDING),
	       "UP_TO_DATE and FEEDING cells are readable");
	tap_ok(!neo_cell_readable(NEO_CELL_OUT_OF_DATE) && !neo_cell_readable(NEO_CELL_CORRUPTED)
	       && !neo_cell_readable(NEO_CELL_DISCARDED),
	       "OUT_OF_DATE, CORRUPTED and DISCARDED cells are not");
	tap_ok(neo_cell_writable(NEO_CELL_UP_TO_DATE) && neo_cell_writable(NEO_CELL_FEEDING)
	       && neo_cell_writable(NEO_CELL_OUT_OF_DATE),
	       "UP_TO_DATE, FEEDING and OUT_OF_DATE cells are writable");
	tap_ok(!neo_cell_writable(NEO_CELL_CORRUPTED) && !neo_cell_writable(NEO_CELL_DISCARDED),
	       "CORRUPTED and DISCARDED cells are not");
	tap_ok(neo_cell_state_letter(NEO_CELL_UP_TO_DATE) == 'U'
	       && neo_cell_state_letter(NEO_CELL_OUT_OF_DATE) == 'O'
	       && neo_cell_state_letter(NEO_CELL_FEEDING) == 'F'
	       && neo_cell_state_letter(NEO_CELL_CORRUPTED) == 'C'
	       && neo_cell_state_letter(NEO_CELL_DISCARDED) == 'D',
	       "state letters U O F C D");
}

static void test_partition(void)
{
	struct neo_ptable pt = { 0 };
	bool all = true;

	init(&pt, 12, 0);
	for (uint64_t id = 0; id < 100; id++)
		all = all && neo_ptable_partition(&pt, id) == id % 12;
	tap_ok(all, "the partition of an id is id modulo the partition count");
	tap_ok(neo_ptable_partition(&pt, UINT64_MAX) == UINT64_MAX % 12,
	       "ids are unsigned 64-bit (UINT64_MAX)");
	neo_ptable_free(&pt);
}

static bool running_set(void *ctx, int32_t nid)
{
	const int32_t *running = ctx;

	for (; *running; running++)
		if (*running == nid)
			return true;
	return false;
}

static void test_whole_table(void)
{
	struct neo_ptable pt = { 0 };
	int32_t both[] = { S1, S2, 0 }, only_s1[] = { S1, 0 }, only_s2[] = { S2, 0 };
	int32_t *nids = NULL;
	size_t count = 99;

	init(&pt, 2, 1);
	tap_ok(neo_ptable_nodes(&pt, &nids, &count) == 0 && count == 0 && nids != NULL,
	       "nodes of an empty table: none");
	free(nids);
	tap_ok(!neo_ptable_operational(&pt, running_set, both), "an empty table is not operational");

	set(&pt, 0, S1, NEO_CELL_UP_TO_DATE);
	tap_ok(!neo_ptable_filled(&pt), "one row without a cell: not filled");
	set(&pt, 1, S2, NEO_CELL_OUT_OF_DATE);
	tap_ok(neo_ptable_filled(&pt), "a cell in every row: filled (whatever its state)");
	tap_ok(!neo_ptable_operational(&pt, running_set, both),
	       "a row whose only cell is OUT_OF_DATE: not operational");
	set(&pt, 1, S2, NEO_CELL_FEEDING);
	tap_ok(neo_ptable_operational(&pt, running_set, both),
	       "a readable cell on a running node in every row: operational");
	tap_ok(!neo_ptable_operational(&pt, running_set, only_s1),
	       "not when the only readable cell of a row is on a node not running");
	set(&pt, 1, S1, NEO_CELL_UP_TO_DATE);
	tap_ok(neo_ptable_operational(&pt, running_set, only_s1),
	       "operational again with a readable replica on a running node");
	set(&pt, 0, S2, NEO_CELL_CORRUPTED);
	tap_ok(!neo_ptable_operational(&pt, running_set, only_s2),
	       "a CORRUPTED cell does not make its row readable");

	tap_ok(neo_ptable_has_node(&pt, S1) && neo_ptable_has_node(&pt, S2)
	       && !neo_ptable_has_node(&pt, S3),
	       "has_node: a cell anywhere");
	tap_ok(neo_ptable_has_readable_cell(&pt, S1) && neo_ptable_has_readable_cell(&pt, S2),
	       "has_readable_cell: S1 (UP_TO_DATE), S2 (FEEDING)");
	set(&pt, 1, S2, NEO_CELL_OUT_OF_DATE);
	tap_ok(!neo_ptable_has_readable_cell(&pt, S2) && neo_ptable_has_node(&pt, S2),
	       "S2 with OUT_OF_DATE and CORRUPTED cells: a node of the table, nothing readable");

	set(&pt, 0, 7, NEO_CELL_OUT_OF_DATE);
	set(&pt, 1, -5, NEO_CELL_OUT_OF_DATE);
	tap_ok(neo_ptable_nodes(&pt, &nids, &count) == 0 && count == 4 && nids[0] == -5
	       && nids[1] == S1 && nids[2] == S2 && nids[3] == 7,
	       "nodes: the distinct nids, sorted");
	free(nids);

	tap_ok(neo_ptable_drop_node(&pt, S2) == 2 && !neo_ptable_has_node(&pt, S2),
	       "drop_node removes every cell of the node and counts them");
	tap_ok(neo_ptable_cell_state(&pt, 0, S1) == NEO_CELL_UP_TO_DATE
	       && neo_ptable_cell_state(&pt, 1, S1) == NEO_CELL_UP_TO_DATE
	       && neo_ptable_cell_state(&pt, 0, 7) == NEO_CELL_OUT_OF_DATE,
	       "and keeps the other nodes' cells");
	tap_ok(neo_ptable_drop_node(&pt, S3) == 0, "drop_node of a node without cells: 0");
	neo_ptable_free(&pt);
}

static void test_copy(void)
{
	struct neo_ptable src = { 0 }, dst = { 0 };

	init(&src, 3, 2);
	src.ptid = 42;
	set(&src, 0, S1, NEO_CELL_UP_TO_DATE);
	set(&src, 0, S2, NEO_CELL_FEEDING);
	set(&src, 2, S3, NEO_CELL_CORRUPTED);
	init(&dst, 5, 0);
	set(&dst, 4, S1, NEO_CELL_OUT_OF_DATE);
	tap_ok(neo_ptable_copy(&dst, &src) == 0, "copy over a table that had rows");
	tap_ok(dst.ptid == 42 && dst.num_replicas == 2 && dst.num_partitions == 3,
	       "the copy has the ptid, replicas and partitions of the source");
	tap_ok(same_cells(&dst, &src), "and the same cells");
	tap_ok(dst.rows != src.rows, "in rows of its own");
	set(&dst, 1, S1, NEO_CELL_UP_TO_DATE);
	set(&dst, 0, S2, NEO_CELL_DISCARDED);
	tap_ok(neo_ptable_cell_state(&src, 1, S1) == -1
	       && neo_ptable_cell_state(&src, 0, S2) == NEO_CELL_FEEDING,
	       "changing the copy leaves the source as it was");
	neo_ptable_free(&src);
	tap_ok(neo_ptable_init(&src, 0, 0) == 0 && neo_ptable_copy(&dst, &src) == 0
	       && dst.num_partitions == 0 && dst.rows == NULL,
	       "copying an empty table empties the destination");
	neo_ptable_free(&src);
	neo_ptable_free(&dst);
}

static void test_wire(void)
{
	struct neo_cell row0[] = { { S1, NEO_CELL_UP_TO_DATE }, { S2, NEO_CELL_OUT_OF_DATE } };
	struct neo_cell row1[] = { { S2, NEO_CELL_FEEDING } };
	struct neo_cell row2[] = { { S3, NEO_CELL_DISCARDED } };
	struct neo_list_cell rows_in[] = { { row0, 2 }, { row1, 1 }, { row2, 1 }, { NULL, 0 } };
	struct neo_list_list_cell wire = { rows_in, 4 }, out = { 0 };
	struct neo_ptable pt = { 0 }, back = { 0 };

	tap_ok(neo_ptable_load(&pt, 7, 1, &wire) == 0, "load a table from the wire");
	tap_ok(pt.ptid == 7 && pt.num_replicas == 1 && pt.num_partitions == 4,
	       "the row count sets the partitions; ptid and replicas as given");
	tap_ok(neo_ptable_cell_state(&pt, 0, S1) == NEO_CELL_UP_TO_DATE
	       && neo_ptable_cell_state(&pt, 0, S2) == NEO_CELL_OUT_OF_DATE
	       && neo_ptable_cell_state(&pt, 1, S2) == NEO_CELL_FEEDING,
	       "every cell loaded with its state");
	tap_ok(neo_ptable_cell_state(&pt, 2, S3) == -1 && pt.rows[2].count == 0,
	       "a DISCARDED cell on the wire is no cell");

	{
		struct neo_cell bad_state[] = { { S1, (enum neo_cell_state)9 } };
		struct neo_cell bad_nid[] = { { (int64_t)INT32_MAX + 1, NEO_CELL_UP_TO_DATE } };
		struct neo_list_cell bad_rows[] = { { bad_state, 1 } }, bad_rows2[] = { { bad_nid, 1 } };
		struct neo_list_list_cell bad = { bad_rows, 1 }, bad2 = { bad_rows2, 1 };

		tap_ok(neo_ptable_load(&pt, 8, 1, &bad) == -1 && pt.ptid == 7
		       && pt.num_partitions == 4 && neo_ptable_cell_state(&pt, 0, S1) == NEO_CELL_UP_TO_DATE,
		       "a cell of unknown state: -1 and the table unchanged");
		tap_ok(neo_ptable_load(&pt, 8, 1, &bad2) == -1 && pt.ptid == 7,
		       "a node id beyond 32 bits: -1");
		tap_ok(neo_ptable_load(&pt, 8, -1, &wire) == -1 && pt.ptid == 7,
		       "negative replicas: -1");
	}

	/* NotifyPartitionChanges */
	{
		struct neo_cell_change changes[] = {
			{ 1, S1, NEO_CELL_OUT_OF_DATE },
			{ 0, S2, NEO_CELL_UP_TO_DATE },
			{ 0, S1, NEO_CELL_DISCARDED },
		};
		struct neo_list_cell_change list = { changes, 3 };
		struct neo_cell_change past[] = { { 3, S3, NEO_CELL_OUT_OF_DATE }, { 4, S3, NEO_CELL_OUT_OF_DATE } };
		struct neo_list_cell_change bad = { past, 2 };
		struct neo_cell_change odd[] = { { 0, S3, (enum neo_cell_state)-1 } };
		struct neo_list_cell_change bad_state = { odd, 1 };

		tap_ok(neo_ptable_apply(&pt, 8, -1, &list) == 0, "apply partition changes");
		tap_ok(neo_ptable_cell_state(&pt, 1, S1) == NEO_CELL_OUT_OF_DATE
		       && neo_ptable_cell_state(&pt, 0, S2) == NEO_CELL_UP_TO_DATE
		       && neo_ptable_cell_state(&pt, 0, S1) == -1,
		       "changes add, update and (DISCARDED) remove cells");
		tap_ok(pt.ptid == 8 && pt.num_replicas == 1,
		       "apply sets the ptid; replicas -1 keeps the count");
		tap_ok(neo_ptable_apply(&pt, 9, 2, &(struct neo_list_cell_change){ NULL, 0 }) == 0
		       && pt.ptid == 9 && pt.num_replicas == 2,
		       "no change but a new ptid and replica count");
		tap_ok(neo_ptable_apply(&pt, 10, 3, &bad) == -1 && pt.ptid == 9 && pt.num_replicas == 2
		       && neo_ptable_cell_state(&pt, 3, S3) == -1,
		       "a change past the table: -1 and none applied, not even those before it");
		tap_ok(neo_ptable_apply(&pt, 10, 3, &bad_state) == -1 && pt.ptid == 9
		       && neo_ptable_cell_state(&pt, 0, S3) == -1,
		       "a change to an unknown state: -1");
	}

	/* And back to the wire. */
	tap_ok(neo_ptable_to_wire(&pt, 0, pt.num_partitions, &out) == 0 && out.count == 4,
	       "to_wire: every row");
	tap_ok(neo_ptable_load(&back, pt.ptid, pt.num_replicas, &out) == 0 && same_cells(&back, &pt),
	       "what to_wire writes loads back to the same cells");
	neo_ptable_wire_free(&out);
	tap_ok(out.items == NULL && out.count == 0, "wire_free empties the rows");
	tap_ok(neo_ptable_to_wire(&pt, 1, 2, &out) == 0 && out.count == 1 && out.items[0].count == 2
	       && out.items[0].items[0].uuid == S2 && out.items[0].items[0].state == NEO_CELL_FEEDING
	       && out.items[0].items[1].uuid == S1
	       && out.items[0].items[1].state == NEO_CELL_OUT_OF_DATE,
	       "to_wire of row 1 alone: its two cells");
	neo_ptable_wire_free(&out);
	tap_ok(neo_ptable_to_wire(&pt, 2, 100, &out) == 0 && out.count == 2,
	       "to_wire stops at the last row");
	neo_ptable_wire_free(&out);
	tap_ok(neo_ptable_to_wire(&pt, 9, 3, &out) == 0 && out.count == 0,
	       "to_wire with min past max: no row");
	neo_ptable_wire_free(&out);
	neo_ptable_free(&back);
	neo_ptable_free(&pt);
}

int main(void)
{
	test_init();
	test_cells();
	test_states();
	test_partition();
	test_whole_table();
	test_copy();
	test_wire();
	tap_ok(setup_failures == 0, "every set-up step (init, set_cell) succeeded");
	return tap_done();
}
