/*
 * storage/drop.c - deleting the rows of partitions this node no longer holds
 * (core/neo/backend.md section 16), in the background: a discarded cell, or,
 * when the master sends a whole table, every partition without a cell here.
 *
 * As upstream, the work goes in small steps (drop_step, DROP_BATCH rows)
 * from the event loop, so that requests are served in between, and a
 * partition given back to this node before the end is left alone (its
 * replication starts from scratch anyway).
 *
 * With --disable-drop-partitions (core/cluster/cluster.md section 7.4)
 * nothing is deleted, as upstream: the
 * rows of the partitions left stay in the database, and a log line says
 * which partitions were kept.
 */
#include "storage/storage.h"

#include <stdlib.h>

#include "runtime/log.h"

#define DROP_BATCH 1000

struct dropper {
	bool *pending;			/* partitions to empty */
	uint32_t count;			/* partitions pending covers */
	size_t capacity;		/* room in pending */
	struct event *step;
};

static void schedule(struct dropper *d, long ms)
{
	struct timeval delay = { ms / 1000, (ms % 1000) * 1000 };

	event_add(d->step, &delay);
}

/* One batch of the first pending partition. */
static void drop_step(evutil_socket_t fd, short what, void *arg)
{
	struct storage *s = arg;
	struct dropper *d = s->dropper;
	struct neo_id_list data_ids = { 0 };
	bool done = false;
	int rc;

	(void)fd;
	(void)what;
	if (!s->operational) {
		/* only a table the cluster runs with says what to drop */
		schedule(d, 1000);
		return;
	}
	for (uint32_t p = 0; p < d->count; p++) {
		if (!d->pending[p])
			continue;
		if (p < s->pt.num_partitions && storage_cell_state(s, p) >= 0) {
			d->pending[p] = false;	/* given back to us meanwhile */
			continue;
		}
		rc = s->be->drop_step(s->db, p, DROP_BATCH, neo_id_list_add, &data_ids, &done);
		if (rc == NEO_BACKEND_OK)
			rc = storage_prune_unheld(s, &data_ids);
		if (rc == NEO_BACKEND_OK)
			rc = s->be->commit(s->db, NEO_BACKEND_COMMIT_LAZY);
		neo_id_list_free(&data_ids);
		if (storage_db_failed(s, rc, "dropping a partition"))
			return;
		if (done) {
			d->pending[p] = false;
			neo_log(NEO_LOG_INFO, "partition %u dropped", p);
		}
		schedule(d, 0);
		return;
	}
}

static struct dropper *dropper_get(struct storage *s)
{
	struct dropper *d = s->dropper;

	if (d && d->count >= s->pt.num_partitions)
		return d;
	if (d == NULL) {
		d = neo_calloc(1, sizeof *d);
		if (d == NULL)
			return NULL;
		d->step = evtimer_new(s->base, drop_step, s);
		if (d->step == NULL) {
			neo_free(d);
			return NULL;
		}
		s->dropper = d;
	}
	if (neo_grow(&d->pending, &d->capacity, (size_t)s->pt.num_partitions + 1,
		     sizeof *d->pending) < 0)
		return NULL;
	for (uint32_t p = d->count; p <= s->pt.num_partitions; p++)
		d->pending[p] = false;
	d->count = s->pt.num_partitions;
	return d;
}

void storage_drop_partition(struct storage *s, uint32_t partition)
{
	struct dropper *d;

	if (s->opts->disable_drop_partitions) {
		/* as upstream: the rows stay, and the log says so */
		neo_log(NEO_LOG_INFO, "don't drop data for partition %u (--disable-drop-partitions)",
			partition);
		return;
	}
	if (!storage_backend_require(s, NULL, 0, drop_step, "dropping a partition's rows"))
		return;	/* the rows stay; nothing reads them */
	d = dropper_get(s);
	if (d == NULL || partition >= d->count)
		return;
	d->pending[partition] = true;
	schedule(d, 0);
}

void storage_drop_unassigned(struct storage *s)
{
	uint32_t kept = 0;

	for (uint32_t p = 0; p < s->pt.num_partitions; p++) {
		if (storage_cell_state(s, p) >= 0)
			continue;
		if (s->opts->disable_drop_partitions)
			kept++;
		else
			storage_drop_partition(s, p);
	}
	if (kept)
		neo_log(NEO_LOG_INFO, "don't drop data for the %u partition(s) not assigned here "
			"(--disable-drop-partitions)", kept);
}

void storage_drop_stop(struct storage *s)
{
	struct dropper *d = s->dropper;

	if (d == NULL)
		return;
	event_free(d->step);
	neo_free(d->pending);
	neo_free(d);
	s->dropper = NULL;
}
