/*
 * master/pt.c - the primary's changes to the partition table: building it
 * for a new cluster, tweaking it over the running storages, outdating the
 * cells of a lost storage, and telling every node what changed.
 *
 * Changes are made on m->pt and then published with master_pt_commit,
 * which compares with a copy taken before and broadcasts the difference
 * as one NotifyPartitionChanges with ptid + 1 (as upstream).
 */
#include "master/master.h"

#include <string.h>

#include "cluster/nid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

int master_pt_make(struct master *m, const int32_t *nids, size_t count)
{
	uint32_t np = (uint32_t)m->opts->partitions, nr = (uint32_t)m->opts->replicas;
	size_t per_row = nr + 1 < count ? nr + 1 : count;

	if (count == 0 || neo_ptable_init(&m->pt, np, nr) < 0)
		return -1;
	/* Consecutive partitions on different nodes, since new oids are
	 * roughly sequential (as upstream). */
	for (uint32_t p = 0; p < np; p++)
		for (size_t k = 0; k < per_row; k++)
			if (neo_ptable_set_cell(&m->pt, p, nids[(p + k) % count],
						NEO_CELL_UP_TO_DATE) < 0) {
				neo_ptable_clear(&m->pt);
				return -1;
			}
	m->pt.ptid = 1;
	return 0;
}

/* Readable cells of a row on running nodes, but for nid. */
static uint32_t row_readable_without(struct master *m, const struct neo_ptable *pt,
				     uint32_t partition, int32_t nid)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < pt->rows[partition].count; i++) {
		const struct neo_pt_cell *cell = &pt->rows[partition].cells[i];

		if (cell->nid != nid && neo_cell_readable(cell->state)
		    && master_is_running(m, cell->nid))
			count++;
	}
	return count;
}

void master_pt_outdate(struct master *m, int32_t nid)
{
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		int state = neo_ptable_cell_state(&m->pt, p, nid);

		if (state < 0 || !neo_cell_readable(state))
			continue;
		/* As upstream: the last readable copy stays readable, so that
		 * the cluster can start again from it. */
		if (row_readable_without(m, &m->pt, p, nid) == 0)
			continue;
		/* a cell that stays cannot fail to change state */
		if (neo_ptable_set_cell(&m->pt, p, nid,
					state == NEO_CELL_FEEDING ? NEO_CELL_DISCARDED
								  : NEO_CELL_OUT_OF_DATE) < 0)
			neo_log(NEO_LOG_ERROR, "cannot outdate a cell of partition %u", p);
	}
}

int master_pt_commit(struct master *m, struct neo_ptable *before)
{
	struct neo_notify_partition_changes notify = { 0 };
	size_t capacity = 0;
	uint32_t count = 0;
	struct neo_cell_change *changes = NULL;

	for (uint32_t p = 0; p < m->pt.num_partitions; p++)
		capacity += m->pt.rows[p].count + (p < before->num_partitions ? before->rows[p].count : 0);
	changes = neo_calloc(capacity + 1, sizeof *changes);
	if (changes == NULL) {
		/* nothing told: the table goes back to what the nodes know */
		struct neo_ptable failed = m->pt;

		m->pt = *before;
		*before = failed;
		neo_log(NEO_LOG_ERROR, "partition table change refused: out of memory");
		return -1;
	}
	for (uint32_t p = 0; p < m->pt.num_partitions; p++) {
		for (uint32_t i = 0; i < m->pt.rows[p].count; i++) {
			const struct neo_pt_cell *cell = &m->pt.rows[p].cells[i];

			if (neo_ptable_cell_state(before, p, cell->nid) != (int)cell->state)
				changes[count++] = (struct neo_cell_change){ p, cell->nid, cell->state };
		}
		if (p >= before->num_partitions)
			continue;
		for (uint32_t i = 0; i < before->rows[p].count; i++) {
			const struct neo_pt_cell *cell = &before->rows[p].cells[i];

			if (neo_ptable_cell_state(&m->pt, p, cell->nid) < 0)
				changes[count++] = (struct neo_cell_change){ p, cell->nid,
									     NEO_CELL_DISCARDED };
		}
	}
	if (count || m->pt.num_replicas != before->num_replicas) {
		m->pt.ptid = before->ptid + 1;
		notify.ptid = m->pt.ptid;
		notify.num_replicas = m->pt.num_replicas;
		notify.changes.items = changes;
		notify.changes.count = count;
		master_broadcast(m, NEO_NOTIFY_PARTITION_CHANGES, &notify, true, true, true);
		neo_log(NEO_LOG_INFO, "partition table %lld: %u cell(s) changed",
			(long long)m->pt.ptid, count);
	}
	neo_free(changes);
	return 0;
}

void master_pt_replicated(struct master *m, uint32_t partition, int32_t nid)
{
	struct neo_ptable before = { 0 };
	struct neo_pt_cells *row = &m->pt.rows[partition];
	char name[16];

	if (neo_ptable_cell_state(&m->pt, partition, nid) != NEO_CELL_OUT_OF_DATE)
		return;
	if (neo_ptable_copy(&before, &m->pt) < 0) {
		/* the storage tells again after its next replication */
		neo_log(NEO_LOG_ERROR, "partition %u replicated: table not changed (out of memory)",
			partition);
		return;
	}
	if (neo_ptable_set_cell(&m->pt, partition, nid, NEO_CELL_UP_TO_DATE) < 0) {
		neo_ptable_free(&before);
		return;
	}
	neo_log(NEO_LOG_INFO, "partition %u replicated by %s", partition,
		neo_nid_format(nid, name, sizeof name));
	/* FEEDING cells can go once enough copies are readable. */
	for (uint32_t i = 0; i < row->count;) {
		struct neo_pt_cell *cell = &row->cells[i];
		uint32_t others = row_readable_without(m, &m->pt, partition, cell->nid);

		if (cell->state == NEO_CELL_FEEDING && others >= m->pt.num_replicas + 1
		    && neo_ptable_set_cell(&m->pt, partition, cell->nid, NEO_CELL_DISCARDED) == 0)
			continue;
		i++;
	}
	/* on failure the table stays as it was (logged) */
	if (master_pt_commit(m, &before) < 0)
		neo_log(NEO_LOG_ERROR, "partition %u replicated: table not changed", partition);
	neo_ptable_free(&before);
}

/* --- Tweak ------------------------------------------------------------------ */

static bool nid_listed(const int32_t *list, size_t count, int32_t nid)
{
	for (size_t i = 0; i < count; i++)
		if (list[i] == nid)
			return true;
	return false;
}

static uint32_t node_cell_count(const struct neo_ptable *pt, int32_t nid)
{
	uint32_t count = 0;

	for (uint32_t p = 0; p < pt->num_partitions; p++) {
		int state = neo_ptable_cell_state(pt, p, nid);

		if (state >= 0 && state != NEO_CELL_FEEDING)
			count++;
	}
	return count;
}

static uint32_t row_kept_cells(const struct neo_ptable *pt, uint32_t p)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < pt->rows[p].count; i++)
		if (pt->rows[p].cells[i].state != NEO_CELL_FEEDING)
			count++;
	return count;
}

/* Removes a cell in a tweak: FEEDING while it is needed as a source.
 * Changes a cell that exists: cannot fail. */
static int tweak_remove(struct neo_ptable *pt, uint32_t p, int32_t nid)
{
	int state = neo_ptable_cell_state(pt, p, nid);
	uint32_t up = 0;

	for (uint32_t i = 0; i < pt->rows[p].count; i++)
		if (pt->rows[p].cells[i].nid != nid
		    && pt->rows[p].cells[i].state == NEO_CELL_UP_TO_DATE)
			up++;
	if (state == NEO_CELL_UP_TO_DATE && up == 0)
		return neo_ptable_set_cell(pt, p, nid, NEO_CELL_FEEDING);
	if (state != NEO_CELL_FEEDING)
		return neo_ptable_set_cell(pt, p, nid, NEO_CELL_DISCARDED);
	return 0;
}

/*
 * A row with more kept cells than per_row (the replicas were lowered;
 * core/cluster/cluster.md section 7.4):
 * as upstream's tweak, the surplus goes, cells that are not readable
 * first, then those of the most loaded nodes; a readable cell becomes
 * FEEDING rather than DISCARDED only while the row would keep fewer than
 * per_row readable cells without it.
 */
static int tweak_trim_row(struct neo_ptable *pt, uint32_t p, uint32_t per_row)
{
	while (row_kept_cells(pt, p) > per_row) {
		const struct neo_pt_cells *row = &pt->rows[p];
		int32_t victim = 0;
		bool victim_readable = true;
		uint32_t victim_load = 0, readable = 0;

		for (uint32_t i = 0; i < row->count; i++) {
			const struct neo_pt_cell *cell = &row->cells[i];
			bool is_readable = neo_cell_readable(cell->state);
			uint32_t load;

			if (cell->state == NEO_CELL_FEEDING)
				continue;
			readable += is_readable;
			load = node_cell_count(pt, cell->nid);
			if (victim == 0 || (victim_readable && !is_readable)
			    || (victim_readable == is_readable && load > victim_load)) {
				victim = cell->nid;
				victim_readable = is_readable;
				victim_load = load;
			}
		}
		if (victim == 0)
			return 0;
		if (neo_ptable_set_cell(pt, p, victim,
					victim_readable && readable - 1 < per_row
						? NEO_CELL_FEEDING : NEO_CELL_DISCARDED) < 0)
			return -1;
	}
	return 0;
}

/* The valid node with the fewest cells that has none in row p. */
static int32_t least_loaded_without(const struct neo_ptable *pt, const int32_t *valid,
				    size_t count, uint32_t p)
{
	int32_t best = 0;
	uint32_t best_load = UINT32_MAX;

	for (size_t i = 0; i < count; i++) {
		uint32_t load;

		if (neo_ptable_cell_state(pt, p, valid[i]) >= 0)
			continue;
		load = node_cell_count(pt, valid[i]);
		if (load < best_load) {
			best = valid[i];
			best_load = load;
		}
	}
	return best;
}

/*
 * As upstream's tweak in spirit: every valid node (running storages not
 * excluded) ends with the same number of cells within one, each row has
 * min(nr + 1, nodes) cells (surplus cells go, as after lowering the
 * replicas: tweak_trim_row), new cells are OUT_OF_DATE, and a readable
 * cell that must go stays FEEDING until another copy is up to date.
 */
int master_pt_tweak(struct master *m, const int32_t *excluded, size_t excluded_count,
		    bool dry_run, struct neo_ptable *result, bool *changed)
{
	struct neo_ptable pt = { 0 };
	int32_t *valid = neo_calloc(m->nodes.count + 1, sizeof *valid);
	size_t count = 0;
	uint32_t per_row, target_max;
	int rc = 0;

	if (valid == NULL || neo_ptable_copy(&pt, &m->pt) < 0) {
		neo_free(valid);
		return -1;
	}
	for (size_t i = 0; i < m->nodes.count; i++) {
		struct neo_node *node = m->nodes.nodes[i];

		if (node->type == NEO_NODE_STORAGE && node->state == NEO_NODE_RUNNING
		    && !nid_listed(excluded, excluded_count, node->nid))
			valid[count++] = node->nid;
	}
	if (count == 0) {
		neo_free(valid);
		neo_ptable_free(&pt);
		return -2;
	}
	per_row = pt.num_replicas + 1 < count ? pt.num_replicas + 1 : (uint32_t)count;
	target_max = (uint32_t)((pt.num_partitions * (uint64_t)per_row + count - 1) / count);
	/* Cells on excluded nodes go; surplus cells of a row go. */
	for (uint32_t p = 0; p < pt.num_partitions; p++) {
		for (uint32_t i = 0; i < pt.rows[p].count; i++) {
			int32_t nid = pt.rows[p].cells[i].nid;
			struct neo_node *node = neo_nodes_by_nid(&m->nodes, nid);

			if ((nid_listed(excluded, excluded_count, nid)
			     || (node && node->state == NEO_NODE_RUNNING
				 && !nid_listed(valid, count, nid)))
			    && tweak_remove(&pt, p, nid) < 0)
				rc = -1;
		}
	}
	for (uint32_t p = 0; p < pt.num_partitions; p++)
		if (tweak_trim_row(&pt, p, per_row) < 0)
			rc = -1;
	/* Fill rows, then move cells from overloaded to underloaded nodes. */
	for (uint32_t p = 0; p < pt.num_partitions; p++)
		while (row_kept_cells(&pt, p) < per_row) {
			int32_t nid = least_loaded_without(&pt, valid, count, p);

			if (nid == 0)
				break;
			if (neo_ptable_set_cell(&pt, p, nid, NEO_CELL_OUT_OF_DATE) < 0) {
				rc = -1;
				break;
			}
		}
	for (int pass = 0; pass < 4; pass++)
		for (uint32_t p = 0; p < pt.num_partitions; p++)
			for (uint32_t i = 0; i < pt.rows[p].count; i++) {
				struct neo_pt_cell cell = pt.rows[p].cells[i];
				int32_t target;

				if (cell.state == NEO_CELL_FEEDING
				    || node_cell_count(&pt, cell.nid) <= target_max)
					continue;
				target = least_loaded_without(&pt, valid, count, p);
				if (target == 0 || node_cell_count(&pt, target) + 1 >= node_cell_count(&pt, cell.nid))
					continue;
				if (neo_ptable_set_cell(&pt, p, target, NEO_CELL_OUT_OF_DATE) < 0
				    || tweak_remove(&pt, p, cell.nid) < 0)
					rc = -1;
				break;
			}
	neo_free(valid);
	if (rc < 0) {
		/* a cell could not be added: no half-made table */
		neo_ptable_free(&pt);
		return -1;
	}
	*changed = false;
	for (uint32_t p = 0; p < pt.num_partitions && !*changed; p++) {
		if (pt.rows[p].count != m->pt.rows[p].count)
			*changed = true;
		for (uint32_t i = 0; i < pt.rows[p].count && !*changed; i++)
			*changed = neo_ptable_cell_state(&m->pt, p, pt.rows[p].cells[i].nid)
				   != (int)pt.rows[p].cells[i].state;
	}
	if (!dry_run && *changed) {
		/* the new table replaces the old (moved, not copied) */
		struct neo_ptable before = m->pt;

		m->pt = pt;
		m->pt.ptid = before.ptid;
		pt = (struct neo_ptable){ 0 };
		if (master_pt_commit(m, &before) < 0) {
			/* m->pt is back as it was */
			neo_ptable_free(&before);
			return -1;
		}
		neo_ptable_free(&before);
	}
	if (result && neo_ptable_copy(result, dry_run ? &pt : &m->pt) < 0)
		rc = -1;
	neo_ptable_free(&pt);
	return rc;
}
