/*
 * rocksdb_transactions.c - transaction metadata and the two-phase commit
 * of staged rows in rocksdb.so (core/neo/backend.md section 12).
 *
 * At vote the node stages revisions in tobj (keyed by ttid) and metadata
 * in ttrans (not locked).  Lock marks the ttrans row with the final tid;
 * the node commits SYNC before answering, so a crash after lock leaves a
 * locked ttrans row, which recovery replays.  Unlock moves the rows to obj
 * and trans under the final tid.
 */
#include <stdlib.h>
#include <string.h>

#include "rocksdb_db.h"

/* ttrans values start with partition, locked, tid; then as trans. */
#define TTRANS_HEADER 13
/* trans values start with packed, ttid; then 4 length-prefixed blobs. */
#define TRANS_HEADER 9

static struct neo_rocks_key trans_key(uint32_t partition, uint64_t tid)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u32(&key, partition);
	neo_rocks_key_u64(&key, tid);
	return key;
}

static struct neo_rocks_key ttid_key(uint64_t ttid)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u64(&key, ttid);
	return key;
}

static uint8_t *put_blob(uint8_t *p, struct neo_bytes b)
{
	neo_rocks_put_u32(p, (uint32_t)b.size);
	if (b.size > 0)
		memcpy(p + 4, b.data, b.size);
	return p + 4 + b.size;
}

/* Writes the value of a trans row (ttrans with a header of `header`
 * bytes left for the caller); malloc()ed, the caller frees it. */
static uint8_t *encode_trans(const struct neo_trans *t, size_t header, size_t *size)
{
	const struct neo_bytes blobs[4] = { t->oids, t->user, t->description, t->extension };
	uint8_t *value, *p;

	*size = header + TRANS_HEADER;
	for (int i = 0; i < 4; i++)
		*size += 4 + blobs[i].size;
	value = malloc(*size);
	if (value == NULL)
		return NULL;
	p = value + header;
	p[0] = t->packed;
	neo_rocks_put_u64(p + 1, t->ttid);
	p += TRANS_HEADER;
	for (int i = 0; i < 4; i++)
		p = put_blob(p, blobs[i]);
	return value;
}

/* Reads a trans value into out, its blobs copied into scratch slots 0-3. */
static int decode_trans(struct neo_db *db, const char *value, size_t size, struct neo_trans *out)
{
	struct neo_bytes *blobs[4] = { &out->oids, &out->user, &out->description, &out->extension };
	size_t at = TRANS_HEADER;
	int status = NEO_BACKEND_OK;

	if (size < TRANS_HEADER)
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a transaction row is malformed", NULL);
	out->packed = value[0] != 0;
	out->ttid = neo_rocks_u64_at(value + 1);
	for (int i = 0; i < 4 && status == NEO_BACKEND_OK; i++) {
		size_t length = size - at >= 4 ? neo_rocks_u32_at(value + at) : SIZE_MAX;

		if (length == SIZE_MAX || length > size - at - 4)
			return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT,
					      "a transaction row is malformed", NULL);
		status = neo_rocks_keep(db, i, value + at + 4, length, blobs[i]);
		at += 4 + length;
	}
	if (status == NEO_BACKEND_OK && out->oids.size % 8 != 0)
		status = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT,
					"a transaction's oid list is not a multiple of 8 bytes", NULL);
	return status;
}

int neo_rocks_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary)
{
	struct neo_rocks_key key = temporary ? ttid_key(trans->ttid) :
				   trans_key(trans->partition, trans->tid);
	enum neo_rocks_cf cf = temporary ? NEO_CF_TTRANS : NEO_CF_TRANS;
	size_t size;
	uint8_t *value;
	int status = neo_rocks_exists(db, cf, &key);

	if (status == NEO_BACKEND_OK)
		return neo_rocks_fail(db, NEO_BACKEND_EDUP, "this transaction is already stored", NULL);
	if (status != NEO_BACKEND_NOTFOUND)
		return status;
	value = encode_trans(trans, temporary ? TTRANS_HEADER : 0, &size);
	if (value == NULL)
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	if (temporary) {
		/* not locked: no final tid yet */
		neo_rocks_put_u32(value, trans->partition);
		value[4] = 0;
		neo_rocks_put_u64(value + 5, 0);
	}
	neo_rocks_put(db, cf, &key, value, size);
	free(value);
	return NEO_BACKEND_OK;
}

/* The locked ttrans row of (partition, tid), if any: staged rows are few,
 * a scan is cheap. */
static int find_locked(struct neo_db *db, uint32_t partition, uint64_t tid,
		       struct neo_trans *out)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TTRANS);
	int status = NEO_BACKEND_NOTFOUND;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek_to_first(it); status == NEO_BACKEND_NOTFOUND && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);

		if (size < TTRANS_HEADER || neo_rocks_u32_at(value) != partition || value[4] == 0 ||
		    neo_rocks_u64_at(value + 5) != tid)
			continue;
		status = decode_trans(db, value + TTRANS_HEADER, size - TTRANS_HEADER, out);
	}
	return neo_rocks_iter_close(db, it, status);
}

int neo_rocks_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			bool include_locked_temporary, struct neo_trans *out)
{
	struct neo_rocks_key key = trans_key(partition, tid);
	char *value;
	size_t size;
	int status;

	memset(out, 0, sizeof(*out));
	out->partition = partition;
	out->tid = tid;
	status = neo_rocks_get(db, NEO_CF_TRANS, &key, &value, &size);
	if (status == NEO_BACKEND_OK) {
		status = decode_trans(db, value, size, out);
		free(value);
	} else if (status == NEO_BACKEND_NOTFOUND && include_locked_temporary) {
		status = find_locked(db, partition, tid, out);
	}
	return status;
}

int neo_rocks_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid)
{
	struct neo_rocks_key key = trans_key(partition, tid);

	neo_rocks_delete(db, NEO_CF_TRANS, &key);
	key = ttid_key(tid);
	neo_rocks_delete(db, NEO_CF_PACK, &key);
	return NEO_BACKEND_OK;
}

int neo_rocks_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid)
{
	/* As upstream: the final tid is >= ttid in the same partition, and
	 * there is no index on ttid, so scan forward from it. */
	struct neo_rocks_key key = trans_key(partition, ttid), prefix = key;
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TRANS);
	int status = NEO_BACKEND_NOTFOUND;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	prefix.n = 4;
	for (rocksdb_iter_seek(it, (const char *)key.b, key.n);
	     status == NEO_BACKEND_NOTFOUND && neo_rocks_iter_in(it, &prefix); rocksdb_iter_next(it)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);

		if (size >= TRANS_HEADER && neo_rocks_u64_at(value + 1) == ttid) {
			*tid = neo_rocks_iter_u64(it, 4);
			status = NEO_BACKEND_OK;
		}
	}
	return neo_rocks_iter_close(db, it, status);
}

int neo_rocks_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	struct neo_rocks_key key = ttid_key(ttid);
	char *value;
	size_t size;
	int status = neo_rocks_get(db, NEO_CF_TTRANS, &key, &value, &size);

	/* As upstream: nothing to lock on a node without the metadata. */
	if (status == NEO_BACKEND_NOTFOUND)
		return NEO_BACKEND_OK;
	if (status != NEO_BACKEND_OK)
		return status;
	if (size >= TTRANS_HEADER) {
		value[4] = 1;
		neo_rocks_put_u64((uint8_t *)value + 5, tid);
		neo_rocks_put(db, NEO_CF_TTRANS, &key, value, size);
	} else {
		status = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a staged transaction is malformed",
					NULL);
	}
	free(value);
	return status;
}

/* The staged revisions of a ttid, read before any of them is moved. */
struct staged_row {
	uint64_t oid;
	uint32_t partition;
	uint8_t value[NEO_ROCKS_OBJ_VALUE];
};

struct staged {
	struct staged_row *rows;
	size_t count, capacity;
};

static int staged_add(struct neo_db *db, struct staged *s, rocksdb_iterator_t *it)
{
	size_t size;
	const char *value = rocksdb_iter_value(it, &size);
	struct staged_row *row;

	if (size != 4 + NEO_ROCKS_OBJ_VALUE)
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a staged revision is malformed", NULL);
	if (neo_rocks_grow(db, &s->rows, &s->capacity, s->count + 1, sizeof(*s->rows))
	    != NEO_BACKEND_OK)
		return NEO_BACKEND_EIO;
	row = &s->rows[s->count++];
	row->oid = neo_rocks_iter_u64(it, 8);
	row->partition = neo_rocks_u32_at(value);
	memcpy(row->value, value + 4, NEO_ROCKS_OBJ_VALUE);
	return NEO_BACKEND_OK;
}

static int collect_staged(struct neo_db *db, uint64_t ttid, struct staged *s)
{
	struct neo_rocks_key prefix = ttid_key(ttid);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TOBJ);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek(it, (const char *)prefix.b, prefix.n);
	     status == NEO_BACKEND_OK && neo_rocks_iter_in(it, &prefix); rocksdb_iter_next(it))
		status = staged_add(db, s, it);
	return neo_rocks_iter_close(db, it, status);
}

/* One data id per staged revision with data: each store took a hold. */
static int report_staged(const struct staged *s, neo_id_cb cb, void *ctx)
{
	int r = NEO_BACKEND_OK;

	for (size_t i = 0; cb != NULL && i < s->count && r == NEO_BACKEND_OK; i++)
		if (s->rows[i].value[0] & NEO_ROCKS_HAS_DATA)
			r = cb(ctx, neo_rocks_u64_at(s->rows[i].value + 1));
	return r;
}

/* Copies the ttrans row of ttid, if any, to trans under tid. */
static int commit_metadata(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	struct neo_rocks_key key = ttid_key(ttid), final;
	char *value;
	size_t size;
	int status = neo_rocks_get(db, NEO_CF_TTRANS, &key, &value, &size);

	if (status == NEO_BACKEND_NOTFOUND)
		return NEO_BACKEND_OK;
	if (status != NEO_BACKEND_OK)
		return status;
	if (size >= TTRANS_HEADER) {
		final = trans_key(neo_rocks_u32_at(value), tid);
		neo_rocks_put(db, NEO_CF_TRANS, &final, value + TTRANS_HEADER, size - TTRANS_HEADER);
		neo_rocks_delete(db, NEO_CF_TTRANS, &key);
	} else {
		status = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a staged transaction is malformed",
					NULL);
	}
	free(value);
	return status;
}

int neo_rocks_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			 void *ctx)
{
	struct staged s = { NULL, 0, 0 };
	int status = commit_metadata(db, ttid, tid);

	if (status == NEO_BACKEND_OK)
		status = neo_rocks_pack_order_rename(db, ttid, tid);
	if (status == NEO_BACKEND_OK)
		status = collect_staged(db, ttid, &s);
	if (status == NEO_BACKEND_OK)
		status = report_staged(&s, data_ids, ctx);
	for (size_t i = 0; status == NEO_BACKEND_OK && i < s.count; i++) {
		neo_rocks_tobj_erase(db, ttid, s.rows[i].oid, s.rows[i].value);
		neo_rocks_obj_write(db, s.rows[i].partition, s.rows[i].oid, tid, s.rows[i].value);
	}
	free(s.rows);
	return status;
}

int neo_rocks_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx)
{
	struct neo_rocks_key key = ttid_key(ttid);
	struct staged s = { NULL, 0, 0 };
	int status = collect_staged(db, ttid, &s);

	if (status == NEO_BACKEND_OK)
		status = report_staged(&s, data_ids, ctx);
	for (size_t i = 0; status == NEO_BACKEND_OK && i < s.count; i++)
		neo_rocks_tobj_erase(db, ttid, s.rows[i].oid, s.rows[i].value);
	free(s.rows);
	if (status != NEO_BACKEND_OK)
		return status;
	neo_rocks_delete(db, NEO_CF_TTRANS, &key);
	/* Unlike upstream, a pack order staged under the ttid goes too. */
	neo_rocks_delete(db, NEO_CF_PACK, &key);
	return NEO_BACKEND_OK;
}

/* (ttid, tid or 0) of every ttrans row, in ttid order. */
static int collect_ttrans(struct neo_db *db, struct neo_rocks_ids *ttids, struct neo_rocks_ids *tids)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TTRANS);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek_to_first(it); status == NEO_BACKEND_OK && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);
		bool locked = size >= TTRANS_HEADER && value[4] != 0;

		status = neo_rocks_ids_add(db, ttids, neo_rocks_iter_u64(it, 0));
		if (status == NEO_BACKEND_OK)
			status = neo_rocks_ids_add(db, tids, locked ? neo_rocks_u64_at(value + 5) : 0);
	}
	return neo_rocks_iter_close(db, it, status);
}

/* The distinct ttids of tobj, ascending: one seek per ttid. */
static int collect_tobj_ttids(struct neo_db *db, struct neo_rocks_ids *ttids)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TOBJ);
	int status = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	rocksdb_iter_seek_to_first(it);
	while (status == NEO_BACKEND_OK && rocksdb_iter_valid(it)) {
		uint64_t ttid = neo_rocks_iter_u64(it, 0);
		struct neo_rocks_key next = ttid_key(ttid + 1);

		status = neo_rocks_ids_add(db, ttids, ttid);
		if (ttid == UINT64_MAX)
			break;
		rocksdb_iter_seek(it, (const char *)next.b, next.n);
	}
	return neo_rocks_iter_close(db, it, status);
}

/* Merges both ascending lists: a ttrans row wins over staged revisions. */
static int report_unfinished(const struct neo_rocks_ids *ttids, const struct neo_rocks_ids *tids,
			     const struct neo_rocks_ids *staged, neo_id_pair_cb cb, void *ctx)
{
	size_t i = 0, j = 0;
	int r = NEO_BACKEND_OK;

	while (r == NEO_BACKEND_OK && (i < ttids->count || j < staged->count)) {
		if (j == staged->count || (i < ttids->count && ttids->ids[i] <= staged->ids[j])) {
			if (j < staged->count && staged->ids[j] == ttids->ids[i])
				j++;
			r = cb(ctx, ttids->ids[i], tids->ids[i]);
			i++;
		} else {
			r = cb(ctx, staged->ids[j++], 0);
		}
	}
	return r;
}

int neo_rocks_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx)
{
	struct neo_rocks_ids ttids = { NULL, 0, 0 }, tids = { NULL, 0, 0 }, staged = { NULL, 0, 0 };
	int status = collect_ttrans(db, &ttids, &tids);

	if (status == NEO_BACKEND_OK)
		status = collect_tobj_ttids(db, &staged);
	if (status == NEO_BACKEND_OK)
		status = report_unfinished(&ttids, &tids, &staged, cb, ctx);
	neo_rocks_ids_free(&ttids);
	neo_rocks_ids_free(&tids);
	neo_rocks_ids_free(&staged);
	return status;
}

int neo_rocks_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_TOBJ);
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	for (rocksdb_iter_seek_to_first(it); r == NEO_BACKEND_OK && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);

		if (size == 4 + NEO_ROCKS_OBJ_VALUE && (value[4] & NEO_ROCKS_HAS_DATA))
			r = cb(ctx, neo_rocks_u64_at(value + 5));
	}
	return neo_rocks_iter_close(db, it, r);
}
