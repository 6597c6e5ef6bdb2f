/*
 * importer_reads.c - the reads of importer.so.  Until the import is
 * finished, revisions and transactions whose tid is at most fs_ltid are
 * read from the Data.fs (through the index), the others from the
 * destination, where they are NEO's own commits; the destination's rows
 * of imported transactions are not looked at.  Since importer_fsread.c
 * gives a FileStorage revision exactly as the import stores it, every
 * answer is the same before, during and after the import, unlike
 * upstream's, whose loadBefore misses next serials not imported yet.
 * Once finished, everything goes to the destination.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "importer_db.h"
#include "runtime/alloc.h"

/* --- Revisions of an oid in the index ------------------------------------------ */

struct oid_revs {
	size_t first, end;		/* [first, end) in index.revs */
};

static struct oid_revs revs_of(struct neo_db *db, uint64_t oid)
{
	struct oid_revs r;
	size_t count;

	fs_index_oid(&db->index, oid, &r.first, &count);
	r.end = r.first + count;
	return r;
}

/* The first revision of r with tid >= tid (r.end: none). */
static size_t rev_from(struct neo_db *db, struct oid_revs r, uint64_t tid)
{
	size_t lo = r.first, hi = r.end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (db->index.revs[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int unlock_rc(struct neo_db *db, int rc)
{
	if (rc != NEO_BACKEND_OK && rc != NEO_BACKEND_NOTFOUND && rc > 0 && rc <= 10 &&
	    db->errmsg[0] == '\0')
		snprintf(db->errmsg, sizeof(db->errmsg), "%s", db->be->errmsg(db->inner));
	pthread_mutex_unlock(&db->lock);
	return rc;
}

static void lock(struct neo_db *db)
{
	pthread_mutex_lock(&db->lock);
	db->errmsg[0] = '\0';
}

static int first_serial(void *ctx, uint64_t serial, uint64_t value_tid)
{
	struct neo_opt_id *next = ctx;

	(void)value_tid;
	next->has = true;
	next->id = serial;
	return 1;
}

/* The first revision of oid in the destination after fs_ltid (NEO's). */
static int first_commit_after_fs(struct neo_db *db, uint32_t partition, uint64_t oid,
				 struct neo_opt_id *next)
{
	int rc;

	next->has = false;
	if (db->be->obj_undo_history == NULL)
		return NEO_BACKEND_OK;
	rc = db->be->obj_undo_history(db->inner, partition, oid, db->fs_ltid + 1, first_serial,
				      next);
	return rc == 1 ? NEO_BACKEND_OK : rc;
}

static int fs_object(struct neo_db *db, uint32_t partition, uint64_t oid, struct oid_revs r,
		     size_t rev, struct neo_object *out)
{
	int rc = importer_fs_object(db, rev, out);

	if (rc != NEO_BACKEND_OK)
		return rc;
	if (rev + 1 < r.end) {
		out->next_serial = (struct neo_opt_id){ true, db->index.revs[rev + 1].tid };
		return NEO_BACKEND_OK;
	}
	return first_commit_after_fs(db, partition, oid, &out->next_serial);
}

static int inner_object(struct neo_db *db, int rc, struct neo_object *out)
{
	if (rc == NEO_BACKEND_OK && out->has_data)
		rc = importer_keep(db, 1, &out->data);
	return rc;
}

static int merged_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
			  enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out)
{
	struct oid_revs r = revs_of(db, oid);
	size_t rev;
	int rc;

	if (at == NEO_BACKEND_OBJ_EXACT) {
		if (tid > db->fs_ltid)
			return inner_object(db, db->be->obj_get(db->inner, partition, oid, at, tid,
								out), out);
		rev = rev_from(db, r, tid);
		if (rev == r.end || db->index.revs[rev].tid != tid)
			return NEO_BACKEND_NOTFOUND;
		return fs_object(db, partition, oid, r, rev, out);
	}
	if (at == NEO_BACKEND_OBJ_LATEST || tid > db->fs_ltid + 1) {
		rc = db->be->obj_get(db->inner, partition, oid, at, tid, out);
		if (rc == NEO_BACKEND_OK && out->serial > db->fs_ltid)
			return inner_object(db, rc, out);
		if (rc != NEO_BACKEND_OK && rc != NEO_BACKEND_NOTFOUND)
			return rc;
		tid = db->fs_ltid + 1;
	}
	/* the newest revision of the Data.fs before tid */
	rev = rev_from(db, r, tid);
	if (rev == r.first)
		return NEO_BACKEND_NOTFOUND;
	return fs_object(db, partition, oid, r, rev - 1, out);
}

static int importer_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
			    enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out)
{
	int rc;

	lock(db);
	if (db->finished)
		rc = inner_object(db, db->be->obj_get(db->inner, partition, oid, at, tid, out), out);
	else
		rc = merged_obj_get(db, partition, oid, at, tid, out);
	return unlock_rc(db, rc);
}

static int importer_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
				    uint64_t *serial)
{
	struct oid_revs r;
	int rc;

	lock(db);
	rc = db->be->obj_last_serial(db->inner, partition, oid, serial);
	if (db->finished || (rc == NEO_BACKEND_OK && *serial > db->fs_ltid) ||
	    (rc != NEO_BACKEND_OK && rc != NEO_BACKEND_NOTFOUND))
		return unlock_rc(db, rc);
	r = revs_of(db, oid);
	if (r.end > r.first) {
		*serial = db->index.revs[r.end - 1].tid;
		rc = NEO_BACKEND_OK;
	}
	return unlock_rc(db, rc);
}

static int importer_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid,
				uint64_t serial, struct neo_opt_id *data_id)
{
	struct oid_revs r;
	size_t rev;
	int rc;

	lock(db);
	if (db->finished || serial > db->fs_ltid)
		return unlock_rc(db, db->be->obj_data_id(db->inner, partition, oid, serial, data_id));
	r = revs_of(db, oid);
	rev = rev_from(db, r, serial);
	if (rev == r.end || db->index.revs[rev].tid != serial)
		rc = NEO_BACKEND_NOTFOUND;
	else
		rc = importer_fs_data_id(db, rev, data_id);
	return unlock_rc(db, rc);
}

/* --- History ---------------------------------------------------------------------- */

struct pairs {
	uint64_t (*items)[2];
	size_t count, cap;
	uint64_t above;			/* keep only first > above */
	uint64_t limit;			/* stop after that many (0: no limit) */
};

static int collect_pair(void *ctx, uint64_t first, uint64_t second)
{
	struct pairs *p = ctx;

	if (first <= p->above)
		return 2;		/* newest first: the rest is older */
	if (neo_grow(&p->items, &p->cap, p->count + 1, sizeof(*p->items)) != 0)
		return 3;
	p->items[p->count][0] = first;
	p->items[p->count][1] = second;
	p->count++;
	return p->limit && p->count >= p->limit ? 2 : 0;
}

static int collect_id(void *ctx, uint64_t id)
{
	return collect_pair(ctx, id, 0);
}

static int scan_end(int rc)
{
	return rc == 2 ? NEO_BACKEND_OK : rc == 3 ? NEO_BACKEND_EIO : rc;
}

/* Calls cb for entries [offset, offset + length) of the sequence made of
 * the destination's newer entries, then of the Data.fs's (given by
 * fs_entry(i) for i < fs_count). */
struct emit {
	uint64_t offset, length, seen, sent;
};

static bool emit_skip(struct emit *e)
{
	return e->seen++ < e->offset;
}

static bool emit_done(const struct emit *e)
{
	return e->length && e->sent >= e->length;
}

static int importer_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
				uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx)
{
	struct pairs newer = { .above = 0 };
	struct emit e = { offset, length, 0, 0 };
	struct oid_revs r;
	int rc;

	if (db->be->obj_history == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no obj_history");
	lock(db);
	if (db->finished)
		return unlock_rc(db, db->be->obj_history(db->inner, partition, oid, offset, length,
							  cb, ctx));
	newer.above = db->fs_ltid;
	rc = scan_end(db->be->obj_history(db->inner, partition, oid, 0, 0, collect_pair, &newer));
	for (size_t i = 0; rc == NEO_BACKEND_OK && i < newer.count && !emit_done(&e); i++)
		if (!emit_skip(&e)) {
			rc = cb(ctx, newer.items[i][0], newer.items[i][1]);
			e.sent++;
		}
	r = revs_of(db, oid);
	for (size_t i = r.end; rc == NEO_BACKEND_OK && i-- > r.first && !emit_done(&e);) {
		struct neo_object o;

		if (emit_skip(&e))
			continue;
		rc = importer_fs_object(db, i, &o);
		if (rc == NEO_BACKEND_OK)
			rc = cb(ctx, o.serial, o.has_data ? o.data.size : 0);
		e.sent++;
	}
	neo_free(newer.items);
	if (rc == NEO_BACKEND_OK && e.seen == 0)
		rc = NEO_BACKEND_NOTFOUND;
	return unlock_rc(db, rc);
}

static int importer_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
				     uint64_t from, neo_id_pair_cb cb, void *ctx)
{
	struct oid_revs r;
	int rc = NEO_BACKEND_OK;

	if (db->be->obj_undo_history == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no obj_undo_history");
	lock(db);
	if (!db->finished) {
		r = revs_of(db, oid);
		for (size_t i = rev_from(db, r, from); rc == NEO_BACKEND_OK && i < r.end; i++) {
			uint64_t value_tid;

			rc = importer_fs_value_tid(db, i, &value_tid);
			if (rc == NEO_BACKEND_OK)
				rc = cb(ctx, db->index.revs[i].tid, value_tid);
		}
		if (rc != NEO_BACKEND_OK)
			return unlock_rc(db, rc);
		if (from <= db->fs_ltid)
			from = db->fs_ltid + 1;
	}
	return unlock_rc(db, db->be->obj_undo_history(db->inner, partition, oid, from, cb, ctx));
}

/* --- Transactions ------------------------------------------------------------- */

static int importer_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			      bool include_locked_temporary, struct neo_trans *out)
{
	uint32_t np;
	long i;
	int rc;

	lock(db);
	if (db->finished || tid > db->fs_ltid) {
		rc = db->be->trans_get(db->inner, partition, tid, include_locked_temporary, out);
		if (rc == NEO_BACKEND_OK)
			rc = importer_keep(db, 0, &out->oids);
		if (rc == NEO_BACKEND_OK)
			rc = importer_keep(db, 1, &out->user);
		if (rc == NEO_BACKEND_OK)
			rc = importer_keep(db, 2, &out->description);
		if (rc == NEO_BACKEND_OK)
			rc = importer_keep(db, 3, &out->extension);
		return unlock_rc(db, rc);
	}
	np = importer_partitions(db);
	i = fs_index_txn(&db->index, tid);
	if (i < 0 || np == 0 || tid % np != partition)
		return unlock_rc(db, NEO_BACKEND_NOTFOUND);
	return unlock_rc(db, importer_fs_trans(db, (size_t)i, partition, out));
}

static int importer_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid)
{
	lock(db);
	if (!db->finished && ttid <= db->fs_ltid && fs_index_txn(&db->index, ttid) >= 0) {
		*tid = ttid;
		return unlock_rc(db, NEO_BACKEND_OK);
	}
	return unlock_rc(db, db->be->final_tid(db->inner, partition, ttid, tid));
}

static int importer_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
			     uint8_t checksum[20], struct neo_bytes *data)
{
	int rc;

	lock(db);
	if (data_id & IMPORTER_FS_DATA_ID)
		return unlock_rc(db, importer_fs_data(db, data_id, compression, checksum, data,
						      &db->out, &db->outcap));
	rc = db->be->data_get(db->inner, data_id, compression, checksum, data);
	if (rc == NEO_BACKEND_OK)
		rc = importer_keep(db, 0, data);
	return unlock_rc(db, rc);
}

static bool in_partitions(uint64_t id, uint32_t np, const uint32_t *partitions, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (id % np == partitions[i])
			return true;
	return false;
}

static int importer_tid_list_desc(struct neo_db *db, const uint32_t *partitions, size_t count,
				  uint64_t offset, uint64_t length, neo_id_cb cb, void *ctx)
{
	struct pairs newer = { .above = 0 };
	struct emit e = { offset, length, 0, 0 };
	uint32_t np;
	int rc;

	if (db->be->tid_list_desc == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no tid_list_desc");
	lock(db);
	np = importer_partitions(db);
	if (db->finished || np == 0)
		return unlock_rc(db, db->be->tid_list_desc(db->inner, partitions, count, offset,
							    length, cb, ctx));
	newer.above = db->fs_ltid;
	newer.limit = length ? offset + length : 0;
	rc = scan_end(db->be->tid_list_desc(db->inner, partitions, count, 0, newer.limit,
					    collect_id, &newer));
	for (size_t i = 0; rc == NEO_BACKEND_OK && i < newer.count && !emit_done(&e); i++)
		if (!emit_skip(&e)) {
			rc = cb(ctx, newer.items[i][0]);
			e.sent++;
		}
	for (size_t i = db->index.ntxns; rc == NEO_BACKEND_OK && i-- > 0 && !emit_done(&e);) {
		if (!in_partitions(db->index.txns[i].tid, np, partitions, count) || emit_skip(&e))
			continue;
		rc = cb(ctx, db->index.txns[i].tid);
		e.sent++;
	}
	neo_free(newer.items);
	return unlock_rc(db, rc);
}

static int importer_tid_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			      uint64_t max_tid, uint64_t length, neo_id_cb cb, void *ctx)
{
	uint64_t sent = 0;
	uint32_t np;
	int rc = NEO_BACKEND_OK;

	lock(db);
	np = importer_partitions(db);
	if (!db->finished && np != 0) {
		for (size_t i = fs_index_txn_from(&db->index, min_tid);
		     rc == NEO_BACKEND_OK && i < db->index.ntxns && db->index.txns[i].tid <= max_tid;
		     i++) {
			if (db->index.txns[i].tid % np != partition)
				continue;
			rc = cb(ctx, db->index.txns[i].tid);
			if (length && ++sent == length)
				return unlock_rc(db, rc);
		}
		if (rc != NEO_BACKEND_OK || max_tid <= db->fs_ltid)
			return unlock_rc(db, rc);
		if (min_tid <= db->fs_ltid)
			min_tid = db->fs_ltid + 1;
	}
	return unlock_rc(db, db->be->tid_range(db->inner, partition, min_tid, max_tid,
					       length ? length - sent : 0, cb, ctx));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The blob chunks transaction tid wrote or deleted (importer_blobs.c). */
static int add_chunk_oids(struct neo_db *db, uint64_t tid, uint32_t np, uint32_t partition,
			  uint64_t min_oid, uint64_t **oids, size_t *count, size_t *cap)
{
	uint64_t *chunks = NULL;
	size_t chunkcap = 0, n = importer_blob_chunks_of_txn(db, tid, &chunks, &chunkcap);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (chunks[i] % np != partition || chunks[i] < min_oid)
			continue;
		rc = neo_grow(oids, cap, *count + 1, sizeof(**oids));
		if (rc == 0)
			(*oids)[(*count)++] = chunks[i];
	}
	neo_free(chunks);
	return rc;
}

/* The oids of partition written by transaction txn of the index, sorted,
 * those below min_oid left out. */
static int txn_oids(struct neo_db *db, size_t txn, uint32_t np, uint32_t partition,
		    uint64_t min_oid, uint64_t **oids, size_t *count, size_t *cap)
{
	struct fs_iter it;
	struct fs_record rec;
	int rc;

	*count = 0;
	fs_iter_init(&it, db->fs, db->index.txns[txn].pos, 0);
	rc = fs_iter_next_txn(&it);
	while (rc == FS_OK && (rc = fs_iter_next_record(&it, &rec)) == FS_OK) {
		if (rec.oid % np != partition || rec.oid < min_oid)
			continue;
		if (neo_grow(oids, cap, *count + 1, sizeof(**oids)) != 0) {
			rc = FS_ENOMEM;
			break;
		}
		(*oids)[(*count)++] = rec.oid;
	}
	fs_iter_free(&it);
	if (rc != FS_END)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: %s", db->fs->err);
	if (db->blobs && add_chunk_oids(db, db->index.txns[txn].tid, np, partition, min_oid,
					oids, count, cap) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (*count > 1)
		qsort(*oids, *count, sizeof(**oids), cmp_u64);
	return NEO_BACKEND_OK;
}

static int importer_obj_range(struct neo_db *db, uint32_t partition, uint64_t min_tid,
			      uint64_t min_oid, uint64_t max_tid, uint64_t length,
			      neo_id_pair_cb cb, void *ctx)
{
	uint64_t *oids = NULL, sent = 0;
	size_t count, cap = 0;
	uint32_t np;
	int rc = NEO_BACKEND_OK;

	lock(db);
	np = importer_partitions(db);
	if (!db->finished && np != 0) {
		for (size_t i = fs_index_txn_from(&db->index, min_tid);
		     rc == NEO_BACKEND_OK && i < db->index.ntxns && db->index.txns[i].tid <= max_tid;
		     i++) {
			uint64_t tid = db->index.txns[i].tid;

			rc = txn_oids(db, i, np, partition, tid == min_tid ? min_oid : 0, &oids,
				      &count, &cap);
			for (size_t j = 0; rc == NEO_BACKEND_OK && j < count; j++) {
				rc = cb(ctx, tid, oids[j]);
				if (length && ++sent == length) {
					neo_free(oids);
					return unlock_rc(db, rc);
				}
			}
		}
		neo_free(oids);
		if (rc != NEO_BACKEND_OK || max_tid <= db->fs_ltid)
			return unlock_rc(db, rc);
		if (min_tid <= db->fs_ltid) {
			min_tid = db->fs_ltid + 1;
			min_oid = 0;
		}
	}
	return unlock_rc(db, db->be->obj_range(db->inner, partition, min_tid, min_oid, max_tid,
					       length ? length - sent : 0, cb, ctx));
}

static int importer_oid_range(struct neo_db *db, uint32_t partition, uint64_t min_oid,
			      uint64_t tid, uint64_t length, neo_id_cb cb, void *ctx)
{
	struct pairs theirs = { .above = 0 };
	size_t i, j = 0;
	uint64_t sent = 0, last = 0;
	bool any = false;
	uint32_t np;
	int rc;

	if (db->be->oid_range == NULL)
		return importer_fail(db, NEO_BACKEND_ENOTSUP, "importer: no oid_range");
	lock(db);
	np = importer_partitions(db);
	if (db->finished || np == 0)
		return unlock_rc(db, db->be->oid_range(db->inner, partition, min_oid, tid, length,
							cb, ctx));
	theirs.limit = length;
	theirs.above = 0;
	rc = scan_end(db->be->oid_range(db->inner, partition, min_oid, tid, length, collect_id,
					&theirs));
	/* merge the index's oids (first revision <= tid) with theirs */
	fs_index_oid(&db->index, min_oid, &i, &(size_t){ 0 });
	while (rc == NEO_BACKEND_OK && !(length && sent >= length)) {
		uint64_t next;
		bool from_fs = false;

		while (i < db->index.nrevs && (db->index.revs[i].oid % np != partition ||
					       db->index.revs[i].tid > tid ||
					       (any && db->index.revs[i].oid == last)))
			i++;
		if (i < db->index.nrevs)
			from_fs = true;
		if (j < theirs.count && (!from_fs || theirs.items[j][0] <= db->index.revs[i].oid))
			next = theirs.items[j++][0];
		else if (from_fs)
			next = db->index.revs[i++].oid;
		else
			break;
		if (any && next == last)
			continue;
		rc = cb(ctx, next);
		last = next;
		any = true;
		sent++;
	}
	neo_free(theirs.items);
	return unlock_rc(db, rc);
}

/* --- Last ids ------------------------------------------------------------------ */

/* Per partition, the last tid and oid of the index's revisions. */
static int fs_last_ids(struct neo_db *db, uint32_t np)
{
	if (db->last_np == np)
		return NEO_BACKEND_OK;
	neo_free(db->last_tid_of);
	neo_free(db->last_oid_of);
	neo_free(db->has_last_of);
	db->last_np = 0;
	db->last_tid_of = neo_calloc(np, sizeof(uint64_t));
	db->last_oid_of = neo_calloc(np, sizeof(uint64_t));
	db->has_last_of = neo_calloc(np, sizeof(bool));
	if (!db->last_tid_of || !db->last_oid_of || !db->has_last_of)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	for (size_t i = 0; i < db->index.nrevs; i++) {
		const struct fs_index_rev *r = &db->index.revs[i];
		uint32_t p = (uint32_t)(r->oid % np);

		if (!db->has_last_of[p] || r->tid > db->last_tid_of[p])
			db->last_tid_of[p] = r->tid;
		if (!db->has_last_of[p] || r->oid > db->last_oid_of[p])
			db->last_oid_of[p] = r->oid;
		db->has_last_of[p] = true;
	}
	db->last_np = np;
	return NEO_BACKEND_OK;
}

static int importer_last_obj_ids(struct neo_db *db, uint32_t partition, uint64_t *tid,
				 uint64_t *oid)
{
	uint32_t np;
	int rc;

	lock(db);
	rc = db->be->last_obj_ids(db->inner, partition, tid, oid);
	np = importer_partitions(db);
	if (db->finished || np == 0 || partition >= np ||
	    (rc != NEO_BACKEND_OK && rc != NEO_BACKEND_NOTFOUND))
		return unlock_rc(db, rc);
	if (fs_last_ids(db, np) != NEO_BACKEND_OK)
		return unlock_rc(db, NEO_BACKEND_EIO);
	if (db->has_last_of[partition]) {
		if (rc == NEO_BACKEND_NOTFOUND) {
			*tid = 0;
			*oid = 0;
		}
		if (db->last_tid_of[partition] > *tid)
			*tid = db->last_tid_of[partition];
		if (db->last_oid_of[partition] > *oid)
			*oid = db->last_oid_of[partition];
		rc = NEO_BACKEND_OK;
	}
	return unlock_rc(db, rc);
}

static int importer_last_trans_tid(struct neo_db *db, uint32_t partition, uint64_t max_tid,
				   uint64_t *tid)
{
	uint32_t np;
	int rc;

	lock(db);
	rc = db->be->last_trans_tid(db->inner, partition, max_tid, tid);
	np = importer_partitions(db);
	if (db->finished || np == 0 || (rc == NEO_BACKEND_OK && *tid > db->fs_ltid) ||
	    (rc != NEO_BACKEND_OK && rc != NEO_BACKEND_NOTFOUND))
		return unlock_rc(db, rc);
	for (size_t i = fs_index_txn_from(&db->index, max_tid < UINT64_MAX ? max_tid + 1 : max_tid);
	     i-- > 0;)
		if (db->index.txns[i].tid % np == partition) {
			*tid = db->index.txns[i].tid;
			return unlock_rc(db, NEO_BACKEND_OK);
		}
	return unlock_rc(db, rc);
}

static int importer_first_trans_tid(struct neo_db *db, uint32_t partition, uint64_t *tid)
{
	uint32_t np;

	lock(db);
	np = importer_partitions(db);
	if (!db->finished && np != 0)
		for (size_t i = 0; i < db->index.ntxns; i++)
			if (db->index.txns[i].tid % np == partition) {
				*tid = db->index.txns[i].tid;
				return unlock_rc(db, NEO_BACKEND_OK);
			}
	return unlock_rc(db, db->be->first_trans_tid(db->inner, partition, tid));
}

void importer_reads_table(struct neo_backend *t)
{
	t->obj_get = importer_obj_get;
	t->obj_last_serial = importer_obj_last_serial;
	t->obj_data_id = importer_obj_data_id;
	t->obj_history = importer_obj_history;
	t->obj_undo_history = importer_obj_undo_history;
	t->trans_get = importer_trans_get;
	t->final_tid = importer_final_tid;
	t->data_get = importer_data_get;
	t->tid_list_desc = importer_tid_list_desc;
	t->tid_range = importer_tid_range;
	t->obj_range = importer_obj_range;
	t->oid_range = importer_oid_range;
	t->last_obj_ids = importer_last_obj_ids;
	t->last_trans_tid = importer_last_trans_tid;
	t->first_trans_tid = importer_first_trans_tid;
}
