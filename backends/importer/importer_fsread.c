/*
 * importer_fsread.c - FileStorage revisions and transactions as the
 * destination holds them once imported: the same data bytes, compressed
 * the same way (zlib, kept only when smaller, as upstream's import
 * does), the same checksum, the same undo pointer (ZODB's data_txn).
 * Serving them from the Data.fs during the import and from the
 * destination after it thus gives the same answers.
 */
#include <limits.h>
#include <string.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "importer_db.h"
#include "runtime/alloc.h"

static int fs_error(struct neo_db *db)
{
	return importer_fail(db, NEO_BACKEND_ECORRUPT, "importer: %s", db->fs->err);
}

/* One zlib compression of len bytes into buf, with the caller's stream
 * reused: deflateReset instead of compress2's setting up and freeing of
 * zlib's state at each call, which costs more than compressing a record
 * of a few KB.  The bytes are compress2's (same level and parameters). */
static int deflate_once(struct importer_deflate *zs, int level, const uint8_t *raw, size_t len,
			uint8_t *buf, size_t cap, size_t *out)
{
	int rc;

	if (len > UINT_MAX / 2) {
		uLongf n = (uLongf)cap;

		rc = compress2(buf, &n, raw, (uLong)len, level);
		*out = (size_t)n;
		return rc == Z_OK ? 0 : -1;
	}
	if (!zs->ready) {
		memset(&zs->z, 0, sizeof(zs->z));
		if (deflateInit(&zs->z, level) != Z_OK)
			return -1;
		zs->ready = true;
	} else if (deflateReset(&zs->z) != Z_OK) {
		return -1;
	}
	zs->z.next_in = (Bytef *)raw;
	zs->z.avail_in = (uInt)len;
	zs->z.next_out = buf;
	zs->z.avail_out = (uInt)(cap > UINT_MAX ? UINT_MAX : cap);
	rc = deflate(&zs->z, Z_FINISH);
	*out = (size_t)zs->z.total_out;
	return rc == Z_STREAM_END ? 0 : -1;
}

void importer_deflate_end(struct importer_deflate *zs)
{
	if (zs->ready)
		deflateEnd(&zs->z);
	zs->ready = false;
}

/* raw -> what is stored: zlib when it makes it smaller (as upstream). */
int importer_stored_form(struct neo_db *db, struct importer_deflate *zs, const uint8_t *raw,
			 size_t len, uint8_t **buf, size_t *cap, struct neo_bytes *data,
			 uint8_t *compression)
{
	size_t bound = (size_t)compressBound((uLong)len), size;

	*compression = 0;
	*data = (struct neo_bytes){ raw, len };
	if (db->conf.compress_level < 0 || len == 0)
		return NEO_BACKEND_OK;
	if (importer_grow(buf, cap, bound) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: out of memory");
	if (deflate_once(zs, db->conf.compress_level, raw, len, *buf, *cap, &size) != 0)
		return importer_fail(db, NEO_BACKEND_EIO, "importer: zlib failed");
	if (size < len) {
		*compression = 1;
		*data = (struct neo_bytes){ *buf, size };
	}
	return NEO_BACKEND_OK;
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

int importer_fs_object(struct neo_db *db, size_t rev, struct neo_object *out)
{
	struct fs_record rec;
	struct fs_resolved r;
	int rc = resolve(db, db->index.revs[rev].pos, &rec, &r);

	if (rc != NEO_BACKEND_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->serial = rec.tid;
	out->data_serial = (struct neo_opt_id){ r.has_data_txn, r.data_txn };
	out->has_data = r.has_data;
	if (!r.has_data)
		return NEO_BACKEND_OK;
	return read_stored(db, r.data_pos, r.data_len, &db->out, &db->outcap, &out->data,
			   &out->compression, out->checksum);
}

int importer_fs_value_tid(struct neo_db *db, size_t rev, uint64_t *value_tid)
{
	struct fs_record rec;
	struct fs_resolved r;
	int rc = resolve(db, db->index.revs[rev].pos, &rec, &r);

	*value_tid = r.has_data_txn ? r.data_txn : UINT64_MAX;
	return rc;
}

int importer_fs_data_id(struct neo_db *db, size_t rev, struct neo_opt_id *data_id)
{
	struct fs_record rec;
	struct fs_resolved r;
	int rc = resolve(db, db->index.revs[rev].pos, &rec, &r);

	if (rc != NEO_BACKEND_OK)
		return rc;
	data_id->has = r.has_data;
	data_id->id = r.has_data ? IMPORTER_FS_DATA_ID | (r.data_pos - FS_DATA_HEADER_LEN) : 0;
	return NEO_BACKEND_OK;
}

int importer_fs_data(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		     uint8_t checksum[20], struct neo_bytes *data, uint8_t **buf, size_t *cap)
{
	struct fs_record rec;

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
