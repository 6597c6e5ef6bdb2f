/*
 * ctl/progress.h - the replication part of `neoctl print summary` (ours,
 * not upstream's): which cells are still to catch up, per partition, and
 * under `neoctl -w` the pace and the time left, from one answer to the
 * next.  No I/O: the caller gives the time.
 *
 * Promises:
 *   - when every cell is UP_TO_DATE the text is empty, so that the
 *     summary is upstream's byte for byte;
 *   - else "replication: N of M cells to catch up" and one line per
 *     partition with a cell that is not UP_TO_DATE ("  partition 3: S2
 *     OUT_OF_DATE, S1 FEEDING"), with, under -w, how long it has been so;
 *   - under -w, from the second answer on: the cells caught up per second
 *     since the catch-up was first seen and the time left at that pace.
 *
 * Ownership: struct ctl_watch owns its per-partition times (free with
 * ctl_watch_free); the texts are the caller's (neo_free).
 */
#ifndef NEO_CTL_PROGRESS_H
#define NEO_CTL_PROGRESS_H

#include <stdint.h>

#include "proto/packet.h"

/* What -w remembers between two answers. */
struct ctl_watch {
	double now;			/* set by the caller before each session */
	double start_time;		/* when the current catch-up was first seen */
	uint32_t start_remaining;	/* cells to catch up then (the most since) */
	uint32_t samples;		/* answers seen in this catch-up */
	double *since;			/* per partition: when first seen behind, 0 */
	uint32_t partitions;
};

/* The text for the rows of the whole table (malloc'ed, "" when all is up
 * to date); NULL on ENOMEM.  watch may be NULL (one answer, no pace). */
char *ctl_format_replication(const struct neo_list_list_cell *rows, struct ctl_watch *watch);

void ctl_watch_free(struct ctl_watch *watch);

#endif
