/*
 * cluster/ptable.h - the partition table as every node keeps it: num_partitions
 * rows, each a short list of cells (storage nid, cell state), a version
 * (ptid) and the number of replicas.
 *
 * A cell is readable when UP_TO_DATE or FEEDING, writable unless
 * CORRUPTED (as upstream).  DISCARDED never stays in a table: setting a
 * cell to it removes the cell.
 *
 * Ownership: the table owns its rows.  neo_ptable_to_wire fills a wire
 * struct with arrays the caller frees with neo_ptable_wire_free.
 */
#ifndef NEO_PTABLE_H
#define NEO_PTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/enums.h"
#include "proto/packets.h"

struct neo_pt_cell {
	int32_t nid;
	enum neo_cell_state state;
};

struct neo_pt_cells {
	struct neo_pt_cell *cells;
	uint32_t count, capacity;
};

struct neo_ptable {
	int64_t ptid;			/* 0: no table yet */
	uint32_t num_partitions;
	uint32_t num_replicas;
	struct neo_pt_cells *rows;	/* num_partitions of them */
};

/*
 * The functions that change a table and can fail say so in their result,
 * which callers must check (warn_unused_result): on failure the table is
 * as it was.
 */

/* Empties pt and gives it np rows (np may be 0).  Returns 0 or -1. */
int neo_ptable_init(struct neo_ptable *pt, uint32_t num_partitions, uint32_t num_replicas)
	__attribute__((warn_unused_result));
void neo_ptable_free(struct neo_ptable *pt);
/* Empties pt: no row, no replica, ptid 0 (cannot fail). */
void neo_ptable_clear(struct neo_ptable *pt);
/* Copies src over dst (dst freed first).  Returns 0, or -1 with dst
 * unchanged. */
int neo_ptable_copy(struct neo_ptable *dst, const struct neo_ptable *src)
	__attribute__((warn_unused_result));

/* Sets, or with DISCARDED removes, a cell.  Returns 0 or -1 (bad row). */
int neo_ptable_set_cell(struct neo_ptable *pt, uint32_t partition, int32_t nid,
			enum neo_cell_state state)
	__attribute__((warn_unused_result));
/* The state of nid's cell in the row, or -1 if it has none. */
int neo_ptable_cell_state(const struct neo_ptable *pt, uint32_t partition, int32_t nid);
/* Removes every cell of nid.  Returns how many went. */
size_t neo_ptable_drop_node(struct neo_ptable *pt, int32_t nid);

static inline bool neo_cell_readable(enum neo_cell_state state)
{
	return state == NEO_CELL_UP_TO_DATE || state == NEO_CELL_FEEDING;
}

static inline bool neo_cell_writable(enum neo_cell_state state)
{
	return state != NEO_CELL_CORRUPTED && state != NEO_CELL_DISCARDED;
}

/* The partition of an oid or tid. */
static inline uint32_t neo_ptable_partition(const struct neo_ptable *pt, uint64_t id)
{
	return pt->num_partitions ? (uint32_t)(id % pt->num_partitions) : 0;
}

/* Every row has a cell. */
bool neo_ptable_filled(const struct neo_ptable *pt);
/* Every row has a readable cell on a node for which is_running says yes. */
bool neo_ptable_operational(const struct neo_ptable *pt,
			    bool (*is_running)(void *ctx, int32_t nid), void *ctx);
/* Whether nid has any cell; any readable cell. */
bool neo_ptable_has_node(const struct neo_ptable *pt, int32_t nid);
bool neo_ptable_has_readable_cell(const struct neo_ptable *pt, int32_t nid);

/* The sorted distinct nids having a cell; *out malloc'ed (caller frees). */
int neo_ptable_nodes(const struct neo_ptable *pt, int32_t **out, size_t *count);

/*
 * Loads a whole table from the wire (SendPartitionTable,
 * AnswerPartitionTable); the row count sets num_partitions.  Returns 0, or
 * -1 when a cell is malformed (pt unchanged).
 */
int neo_ptable_load(struct neo_ptable *pt, int64_t ptid, int64_t num_replicas,
		    const struct neo_list_list_cell *rows)
	__attribute__((warn_unused_result));
/*
 * Applies NotifyPartitionChanges.  Returns 0, or -1 when a change names a
 * partition outside the table (nothing applied).
 */
int neo_ptable_apply(struct neo_ptable *pt, int64_t ptid, int64_t num_replicas,
		     const struct neo_list_cell_change *changes)
	__attribute__((warn_unused_result));

/* Rows min..max-1 as the wire wants them. */
int neo_ptable_to_wire(const struct neo_ptable *pt, uint32_t min, uint32_t max,
		       struct neo_list_list_cell *rows);
void neo_ptable_wire_free(struct neo_list_list_cell *rows);

/* The letter of a cell state in the text form: U O F C D. */
char neo_cell_state_letter(enum neo_cell_state state);

#endif
