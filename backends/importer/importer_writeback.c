/*
 * importer_writeback.c - writeback=true, as upstream: the transactions
 * NEO commits are appended to the source Data.fs, asynchronously (by the
 * import thread, once they are committed in the destination), so that
 * the import can be abandoned without losing data.  An undo keeps its
 * back pointer; data are written uncompressed, as ZODB writes them.  The
 * Data.fs's last tid says where to go on after a restart.
 */
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "blob/record.h"
#include "importer_db.h"
#include "runtime/alloc.h"

#define WRITEBACK_BATCH 50

static int remember(struct neo_db *db, uint64_t oid, uint64_t tid, uint64_t pos)
{
	if (neo_grow(&db->appended, &db->appended_cap, db->nappended + 1,
		     sizeof(*db->appended)) != 0)
		return -1;
	db->appended[db->nappended++] = (struct importer_appended){ oid, tid, pos };
	return 0;
}

/* Records after the index (appended by an earlier run) are remembered. */
int importer_writeback_open(struct neo_db *db)
{
	struct fs_iter it;
	struct fs_record rec;
	int rc;

	if (fs_scan_end(db->fs) != FS_OK) {
		importer_fail(db, NEO_BACKEND_EIO, "importer: %s", db->fs->err);
		return -1;
	}
	db->wb_last_tid = db->fs->last_tid;
	fs_iter_init(&it, db->fs, db->index.end, 0);
	while ((rc = fs_iter_next_txn(&it)) == FS_OK) {
		while ((rc = fs_iter_next_record(&it, &rec)) == FS_OK)
			if (remember(db, rec.oid, rec.tid, rec.pos) != 0)
				rc = FS_ENOMEM;
		if (rc != FS_END)
			break;
	}
	fs_iter_free(&it);
	if (rc != FS_END) {
		importer_fail(db, NEO_BACKEND_EIO, "importer: writeback: %s", db->fs->err);
		return -1;
	}
	return 0;
}

/* Position in the Data.fs of the record (oid, tid), or of the last record
 * of oid when tid is 0; 0 when none. */
static uint64_t record_pos(struct neo_db *db, uint64_t oid, uint64_t tid)
{
	size_t first, count;

	for (size_t i = db->nappended; i-- > 0;)
		if (db->appended[i].oid == oid && (tid == 0 || db->appended[i].tid == tid))
			return db->appended[i].pos;
	fs_index_oid(&db->index, oid, &first, &count);
	for (size_t i = first + count; i-- > first;)
		if (tid == 0 || db->index.revs[i].tid == tid)
			return db->index.revs[i].pos;
	return 0;
}

static int next_tid(void *ctx, uint64_t tid)
{
	uint64_t *best = ctx;

	if (tid < *best)
		*best = tid;
	return 1;
}

struct wb_txn {
	uint8_t *meta, *oids, *data;
	size_t metacap, oidscap, datacap, datalen;
	struct fs_new_record *recs;
	size_t reccap, nrecs;
	size_t *data_off;
	size_t offcap;
};

static int inflate_into(struct wb_txn *w, const struct neo_object *o)
{
	uLongf len = (uLongf)(o->data.size * 4 + 64);

	if (o->compression == 0) {
		if (importer_grow(&w->data, &w->datacap, w->datalen + o->data.size) != 0)
			return -1;
		memcpy(w->data + w->datalen, o->data.data, o->data.size);
		w->datalen += o->data.size;
		return 0;
	}
	for (;;) {
		int z;

		if (importer_grow(&w->data, &w->datacap, w->datalen + len) != 0)
			return -1;
		z = uncompress(w->data + w->datalen, &len, o->data.data, (uLong)o->data.size);
		if (z == Z_OK) {
			w->datalen += len;
			return 0;
		}
		if (z != Z_BUF_ERROR)
			return -1;
		len *= 4;
	}
}

/* NEO's blobs (core/client/blobs.md) have no place in a Data.fs without
 * its blob directory: writeback stops at the first one, said once,
 * rather than append records whose blobs would be lost. */
static bool is_blob_record(const uint8_t *data, size_t size)
{
	struct neo_blob_manifest m;

	return neo_blob_is_chunk(data, size) || neo_blob_manifest_parse(data, size, &m);
}

static int refuse_blob(struct neo_db *db, uint64_t oid, uint64_t tid)
{
	db->wb_blocked = true;
	importer_log(db, NEO_BACKEND_LOG_ERROR, "importer: writeback cannot carry blobs (oid "
		     "%016llx at %016llx is a blob's): writeback stops there; the Data.fs ends "
		     "at %016llx (copy the database out with neomigrate --blob-dir)",
		     (unsigned long long)oid, (unsigned long long)tid,
		     (unsigned long long)db->wb_last_tid);
	return -1;
}

static int add_record(struct neo_db *db, struct wb_txn *w, uint32_t np, uint64_t oid,
		      uint64_t tid)
{
	struct neo_object o;
	struct fs_new_record *r;
	int rc = db->be->obj_get(db->inner, (uint32_t)(oid % np), oid, NEO_BACKEND_OBJ_EXACT,
				 tid, &o);

	if (rc == NEO_BACKEND_NOTFOUND)
		return 0;	/* as upstream: only checked, not written */
	if (rc != NEO_BACKEND_OK ||
	    neo_grow(&w->recs, &w->reccap, w->nrecs + 1, sizeof(*w->recs)) != 0 ||
	    neo_grow(&w->data_off, &w->offcap, w->nrecs + 1, sizeof(*w->data_off)) != 0)
		return -1;
	r = &w->recs[w->nrecs];
	memset(r, 0, sizeof(*r));
	r->oid = oid;
	r->prev = record_pos(db, oid, 0);
	w->data_off[w->nrecs] = w->datalen;
	if (o.data_serial.has) {
		r->back = record_pos(db, oid, o.data_serial.id);
	} else if (o.has_data && o.data.size > 0) {
		r->has_data = true;
		if (inflate_into(w, &o) != 0)
			return -1;
		r->len = w->datalen - w->data_off[w->nrecs];
		if (is_blob_record(w->data + w->data_off[w->nrecs], r->len))
			return refuse_blob(db, oid, tid);
	}
	w->nrecs++;
	return 0;
}

static int write_txn(struct neo_db *db, struct wb_txn *w, uint32_t np, uint64_t tid)
{
	struct neo_trans t;
	size_t ul, dl, el, noids;
	uint64_t *pos;
	int rc = db->be->trans_get(db->inner, (uint32_t)(tid % np), tid, false, &t);

	if (rc != NEO_BACKEND_OK)
		return -1;
	ul = t.user.size;
	dl = t.description.size;
	el = t.extension.size;
	noids = t.oids.size / 8;
	if (importer_grow(&w->meta, &w->metacap, ul + dl + el + 1) != 0 ||
	    importer_grow(&w->oids, &w->oidscap, t.oids.size + 1) != 0)
		return -1;
	if (ul)
		memcpy(w->meta, t.user.data, ul);
	if (dl)
		memcpy(w->meta + ul, t.description.data, dl);
	if (el)
		memcpy(w->meta + ul + dl, t.extension.data, el);
	if (t.oids.size)
		memcpy(w->oids, t.oids.data, t.oids.size);
	w->nrecs = 0;
	w->datalen = 0;
	for (size_t i = 0; i < noids; i++)
		if (add_record(db, w, np, fs_u64(w->oids + 8 * i), tid) != 0)
			return -1;
	for (size_t i = 0; i < w->nrecs; i++)
		if (w->recs[i].has_data)
			w->recs[i].data = w->data + w->data_off[i];
	pos = neo_malloc(sizeof(*pos) * (w->nrecs + 1));
	if (pos == NULL)
		return -1;
	rc = fs_append_txn(db->fs, tid, ' ', w->meta, ul, w->meta + ul, dl, w->meta + ul + dl, el,
			   w->recs, w->nrecs, pos);
	for (size_t i = 0; rc == FS_OK && i < w->nrecs; i++)
		if (remember(db, w->recs[i].oid, tid, pos[i]) != 0)
			rc = FS_ENOMEM;
	neo_free(pos);
	if (rc != FS_OK) {
		importer_fail(db, NEO_BACKEND_EIO, "importer: writeback: %s", db->fs->err);
		return -1;
	}
	db->wb_last_tid = tid;
	return 0;
}

/* Appends up to WRITEBACK_BATCH committed transactions; the lock held. */
int importer_writeback_step(struct neo_db *db)
{
	struct wb_txn w = { 0 };
	uint32_t np = importer_partitions(db);
	int rc = 0;

	if (db->wb_blocked)
		return 0;	/* a blob stopped it (refuse_blob) */
	for (int n = 0; np != 0 && n < WRITEBACK_BATCH && rc == 0; n++) {
		uint64_t best = UINT64_MAX;

		for (uint32_t p = 0; p < np && rc == 0; p++) {
			int s = db->be->tid_range(db->inner, p, db->wb_last_tid + 1,
						  IMPORTER_MAX_TID, 1, next_tid, &best);

			if (s != NEO_BACKEND_OK && s != 1)
				rc = -1;
		}
		if (rc != 0 || best == UINT64_MAX)
			break;
		db->thread_err[0] = '\0';
		rc = write_txn(db, &w, np, best);
		if (db->wb_blocked)
			rc = 0;		/* said once */
		else if (rc != 0 && db->thread_err[0] == '\0')
			importer_fail(db, NEO_BACKEND_EIO, "importer: writeback of %016llx failed",
				      (unsigned long long)best);
	}
	neo_free(w.meta);
	neo_free(w.oids);
	neo_free(w.data);
	neo_free(w.recs);
	neo_free(w.data_off);
	return rc;
}
