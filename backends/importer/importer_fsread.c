/*
 * importer_fsread.c - FileStorage revisions and transactions as the
 * destination holds them once imported: the same data bytes, compressed
 * the same way (zlib format, kept only when smaller, as upstream's
 * import does; importer_deflate.c compresses), the same checksum, the
 * same undo pointer (ZODB's data_txn).
 * Serving them from the Data.fs during the import and from the
 * destination after it thus gives the same answers.
 */
#include <string.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "importer_db.h"
#include "runtime/alloc.h"

static int fs_error(struct neo_db *db)
{
	return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: %s", db->fs->err);
}

/* raw -> what is stored: zlib when it makes it smaller (as upstream). */
int importer_stored_form(struct neo_db *db, struct importer_deflate *zs, const uint8_t *raw,
			 size_t len, uint8_t **buf, size_t *cap, struct neo_bytes *data,
			 uint8_t *compression)
{
	size_t bound = importer_deflate_bound(len), size;

	*compression = 0;
	*data = (struct neo_bytes){ raw, len };
	if (db->conf.compress_level < 0 || len == 0)
		return NEO_BACKEND_OK;
	if (importer_grow(buf, cap, bound) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (importer_deflate(zs, db->conf.compress_level, raw, len, *buf, *cap, &size) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: compression failed");
	if (size < len) {
		*compression = 1;
		*data = (struct neo_bytes){ *buf, size };
	}
	return NEO_BACKEND_OK;
}

/* A blob chunk's stored form: as any record's, but zlib is not tried on
 * a chunk whose first 64 KiB do not shrink by an eighth at level 1 (most
 * blobs are compressed already; libneoclient decides so too,
 * core/client/blobs.md).  The same bytes always give the same form, so
 * reads during the import answer what the import stores. */
int importer_stored_chunk(struct neo_db *db, struct importer_deflate *zs, const uint8_t *raw,
			  size_t len, uint8_t **buf, size_t *cap, struct neo_bytes *data,
			  uint8_t *compression)
{
	size_t sample = len < 65536 ? len : 65536;
	uLongf bound = compressBound((uLong)sample);

	*compression = 0;
	*data = (struct neo_bytes){ raw, len };
	if (db->conf.compress_level < 0 || len == 0)
		return NEO_BACKEND_OK;
	if (importer_grow(buf, cap, (size_t)bound) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (compress2(*buf, &bound, raw, (uLong)sample, 1) != Z_OK)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: zlib failed");
	if ((size_t)bound > sample - sample / 8)
		return NEO_BACKEND_OK;
	return importer_stored_form(db, zs, raw, len, buf, cap, data, compression);
}

/* Reads the data bytes at data_pos into db->out2 and gives them in their
 * stored form (in db->out when compressed). */
static int read_stored(struct neo_db *db, uint64_t data_pos, uint64_t len, uint8_t **buf,
		       size_t *cap, struct neo_bytes *data, uint8_t *compression,
		       uint8_t checksum[20])
{
	int rc;

	if (importer_grow(&db->out2, &db->out2cap, (size_t)len + 1) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (fs_pread(db->fs, data_pos, db->out2, (size_t)len) != FS_OK)
		return fs_error(db);
	rc = importer_stored_form(db, &db->deflate, db->out2, (size_t)len, buf, cap, data,
				  compression);
	if (rc == NEO_BACKEND_OK)
		SHA1(data->data, data->size, checksum);
	return rc;
}

static int resolve(struct neo_db *db, uint64_t pos, struct fs_record *rec, struct fs_resolved *r)
{
	if (fs_read_record(db->fs, pos, rec) != FS_OK || fs_record_resolve(db->fs, rec, r) != FS_OK)
		return fs_error(db);
	return NEO_BACKEND_OK;
}

/* raw (in db->out2) in its stored form, with its checksum. */
static int stored(struct neo_db *db, size_t len, uint8_t **buf, size_t *cap,
		  struct neo_bytes *data, uint8_t *compression, uint8_t checksum[20])
{
	int rc = importer_stored_form(db, &db->deflate, db->out2, len, buf, cap, data,
				      compression);

	if (rc == NEO_BACKEND_OK)
		SHA1(data->data, data->size, checksum);
	return rc;
}

static int stored_chunk(struct neo_db *db, size_t len, uint8_t **buf, size_t *cap,
			struct neo_bytes *data, uint8_t *compression, uint8_t checksum[20])
{
	int rc = importer_stored_chunk(db, &db->deflate, db->out2, len, buf, cap, data,
				       compression);

	if (rc == NEO_BACKEND_OK)
		SHA1(data->data, data->size, checksum);
	return rc;
}

/* A blob chunk's revision (importer_blobs.c), as the import stores it. */
static int chunk_object(struct neo_db *db, size_t rev, struct neo_object *out)
{
	const struct fs_index_rev *v = &db->index.revs[rev];
	bool has_data = false;
	size_t len = 0;
	int rc = importer_blob_chunk(db, v->oid, v->tid, &has_data, &db->out2, &db->out2cap,
				     &len);

	memset(out, 0, sizeof(*out));
	out->serial = v->tid;
	out->has_data = has_data;
	if (rc != NEO_BACKEND_OK || !has_data)
		return rc;
	return stored_chunk(db, len, &db->out, &db->outcap, &out->data, &out->compression,
			    out->checksum);
}

/* A blob revision's record: the Blob's pickle and the manifest. */
static int blob_object(struct neo_db *db, long idx, const struct fs_resolved *r,
		       struct neo_object *out)
{
	size_t len = 0;
	int rc;

	out->data_serial.has = false;	/* an undo's blob has its own chunks */
	if (importer_grow(&db->out2, &db->out2cap, (size_t)r->data_len + 1) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (fs_pread(db->fs, r->data_pos, db->out2, (size_t)r->data_len) != FS_OK)
		return fs_error(db);
	rc = importer_blob_record(db, idx, db->out2, (size_t)r->data_len, &db->out2,
				  &db->out2cap, &len);
	if (rc != NEO_BACKEND_OK)
		return rc;
	return stored(db, len, &db->out, &db->outcap, &out->data, &out->compression,
		      out->checksum);
}

int importer_fs_object(struct neo_db *db, size_t rev, struct neo_object *out)
{
	struct fs_record rec;
	struct fs_resolved r;
	long blob;
	int rc;

	if (db->index.revs[rev].pos & IMPORTER_VIRTUAL_POS)
		return chunk_object(db, rev, out);
	rc = resolve(db, db->index.revs[rev].pos, &rec, &r);
	if (rc != NEO_BACKEND_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->serial = rec.tid;
	out->data_serial = (struct neo_opt_id){ r.has_data_txn, r.data_txn };
	out->has_data = r.has_data;
	if (!r.has_data)
		return NEO_BACKEND_OK;
	blob = importer_blob_rev_at(db, rec.oid, rec.tid);
	if (blob >= 0)
		return blob_object(db, blob, &r, out);
	return read_stored(db, r.data_pos, r.data_len, &db->out, &db->outcap, &out->data,
			   &out->compression, out->checksum);
}

int importer_fs_value_tid(struct neo_db *db, size_t rev, uint64_t *value_tid)
{
	const struct fs_index_rev *v = &db->index.revs[rev];
	struct fs_record rec;
	struct fs_resolved r;
	int rc;

	*value_tid = UINT64_MAX;
	if (v->pos & IMPORTER_VIRTUAL_POS || importer_blob_rev_at(db, v->oid, v->tid) >= 0)
		return NEO_BACKEND_OK;
	rc = resolve(db, v->pos, &rec, &r);
	*value_tid = r.has_data_txn ? r.data_txn : UINT64_MAX;
	return rc;
}

int importer_fs_data_id(struct neo_db *db, size_t rev, struct neo_opt_id *data_id)
{
	const struct fs_index_rev *v = &db->index.revs[rev];
	struct fs_record rec;
	struct fs_resolved r;
	long blob;
	int rc;

	if (v->pos & IMPORTER_VIRTUAL_POS) {
		data_id->has = !(v->pos & 1);
		data_id->id = data_id->has ? importer_blob_chunk_data_id(db, v->oid) : 0;
		return NEO_BACKEND_OK;
	}
	rc = resolve(db, v->pos, &rec, &r);
	if (rc != NEO_BACKEND_OK)
		return rc;
	data_id->has = r.has_data;
	data_id->id = r.has_data ? IMPORTER_FS_DATA_ID | (r.data_pos - FS_DATA_HEADER_LEN) : 0;
	blob = r.has_data ? importer_blob_rev_at(db, v->oid, v->tid) : -1;
	if (blob >= 0)
		data_id->id = importer_blob_record_data_id(blob);
	return NEO_BACKEND_OK;
}

int importer_fs_data(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		     uint8_t checksum[20], struct neo_bytes *data, uint8_t **buf, size_t *cap)
{
	struct fs_record rec;

	if (data_id & (IMPORTER_CHUNK_DATA_ID | IMPORTER_BLOB_DATA_ID)) {
		size_t len = 0;
		int rc = importer_blob_data(db, data_id, &db->out2, &db->out2cap, &len);

		if (rc != NEO_BACKEND_OK)
			return rc;
		if (data_id & IMPORTER_CHUNK_DATA_ID)
			return stored_chunk(db, len, buf, cap, data, compression, checksum);
		return stored(db, len, buf, cap, data, compression, checksum);
	}
	if (fs_read_record(db->fs, data_id & ~IMPORTER_FS_DATA_ID, &rec) != FS_OK)
		return fs_error(db);
	if (rec.plen == 0)
		return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: bad data id");
	return read_stored(db, rec.pos + FS_DATA_HEADER_LEN, rec.plen, buf, cap, data,
			   compression, checksum);
}

/* Transaction txn of the index, with the oids of its records in file
 * order (as upstream's import lists them). */
int importer_fs_trans(struct neo_db *db, size_t txn, uint32_t partition, struct neo_trans *out)
{
	struct fs_iter it;
	struct fs_record rec;
	size_t n = 0, metalen;
	int rc;

	fs_iter_init(&it, db->fs, db->index.txns[txn].pos, 0);
	rc = fs_iter_next_txn(&it);
	if (rc != FS_OK) {
		fs_iter_free(&it);
		return fs_error(db);
	}
	metalen = (size_t)it.txn.ulen + it.txn.dlen + it.txn.elen;
	if (importer_grow(&db->out, &db->outcap, metalen + 1) != 0) {
		fs_iter_free(&it);
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	}
	if (metalen)
		memcpy(db->out, it.buf, metalen);
	while ((rc = fs_iter_next_record(&it, &rec)) == FS_OK) {
		if (importer_grow(&db->out2, &db->out2cap, 8 * (n + 1)) != 0) {
			rc = FS_ENOMEM;
			break;
		}
		fs_put_u64(db->out2 + 8 * n++, rec.oid);
	}
	if (rc == FS_END && db->blobs) {
		/* then the blob chunks it wrote or deleted, as the import lists them */
		uint64_t *chunks = NULL;
		size_t cap = 0, count = importer_blob_chunks_of_txn(db, it.txn.tid, &chunks, &cap);

		if (importer_grow(&db->out2, &db->out2cap, 8 * (n + count + 1)) != 0)
			rc = FS_ENOMEM;
		for (size_t i = 0; rc == FS_END && i < count; i++)
			fs_put_u64(db->out2 + 8 * n++, chunks[i]);
		neo_free(chunks);
	}
	memset(out, 0, sizeof(*out));
	out->partition = partition;
	out->tid = out->ttid = it.txn.tid;
	out->packed = it.txn.status == 'p';
	out->user = (struct neo_bytes){ db->out, it.txn.ulen };
	out->description = (struct neo_bytes){ db->out + it.txn.ulen, it.txn.dlen };
	out->extension = (struct neo_bytes){ db->out + it.txn.ulen + it.txn.dlen, it.txn.elen };
	out->oids = (struct neo_bytes){ db->out2, 8 * n };
	fs_iter_free(&it);
	return rc == FS_END ? NEO_BACKEND_OK : fs_error(db);
}
