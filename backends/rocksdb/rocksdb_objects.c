/*
 * rocksdb_objects.c - object data and revisions in rocksdb.so.
 *
 * Data ids are allocated per partition, as upstream: (partition << 48) + n,
 * so the contents of a partition cluster together.  The next id of a
 * partition is learnt once from the greatest stored id, then counted in
 * memory.
 *
 * Every revision that references data also has a data_ref key, so that
 * "is this data row still referenced" is one prefix probe rather than a
 * scan of obj (SQL backends have an index on obj.data_id for that).
 */
#include <stdlib.h>
#include <string.h>

#include "rocksdb_db.h"

static struct neo_rocks_key id_key(uint64_t id)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u64(&key, id);
	return key;
}

static struct neo_rocks_key hash_key(const uint8_t checksum[20], uint8_t compression)
{
	struct neo_rocks_key key = { .n = 20 };

	memcpy(key.b, checksum, 20);
	neo_rocks_key_u8(&key, compression);
	return key;
}

/* With dedup: the id of identical stored bytes, NOTFOUND, or EDUP when
 * other bytes have the same checksum. */
static int find_duplicate(struct neo_db *db, const uint8_t checksum[20], uint8_t compression,
			  struct neo_bytes data, uint64_t *data_id)
{
	struct neo_rocks_key key = hash_key(checksum, compression);
	char *value;
	size_t size;
	uint64_t id;
	int status = neo_rocks_get(db, NEO_CF_DATA_HASH, &key, &value, &size);

	if (status != NEO_BACKEND_OK)
		return status;
	id = size == 8 ? neo_rocks_u64_at(value) : 0;
	free(value);
	key = id_key(id);
	status = neo_rocks_get(db, NEO_CF_DATA, &key, &value, &size);
	if (status == NEO_BACKEND_NOTFOUND)
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a data hash refers to missing data",
				      NULL);
	if (status != NEO_BACKEND_OK)
		return status;
	if (size == NEO_ROCKS_DATA_HEADER + data.size &&
	    (data.size == 0 || memcmp(value + NEO_ROCKS_DATA_HEADER, data.data, data.size) == 0)) {
		*data_id = id;
	} else {
		status = neo_rocks_fail(db, NEO_BACKEND_EDUP,
					"two different values have the same checksum", NULL);
	}
	free(value);
	return status;
}

/* Makes room for partition in the table of next ids. */
static int grow_next_ids(struct neo_db *db, uint32_t partition)
{
	size_t count = (size_t)partition + 1;
	uint64_t *grown;

	if (count <= db->next_data_id_count)
		return NEO_BACKEND_OK;
	grown = realloc(db->next_data_id, count * sizeof(*grown));
	if (grown == NULL)
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	for (size_t i = db->next_data_id_count; i < count; i++)
		grown[i] = UINT64_MAX;
	db->next_data_id = grown;
	db->next_data_id_count = count;
	return NEO_BACKEND_OK;
}

/* The greatest stored id of the partition + 1, or its first id. */
static int learn_next_id(struct neo_db *db, uint32_t partition, uint64_t *next)
{
	uint64_t first = (uint64_t)partition << 48, last = first + ((1ull << 48) - 1);
	struct neo_rocks_key key = id_key(last);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_DATA);

	if (it == NULL)
		return NEO_BACKEND_EIO;
	rocksdb_iter_seek_for_prev(it, (const char *)key.b, key.n);
	*next = first;
	if (rocksdb_iter_valid(it) && neo_rocks_iter_u64(it, 0) >= first)
		*next = neo_rocks_iter_u64(it, 0) + 1;
	return neo_rocks_iter_close(db, it, NEO_BACKEND_OK);
}

static int next_data_id(struct neo_db *db, uint32_t partition, uint64_t *id)
{
	int status;

	if (partition >= NEO_ROCKSDB_MAX_PARTITIONS)
		return neo_rocks_fail(db, NEO_BACKEND_EINVAL, "partition out of range for data ids",
				      NULL);
	status = grow_next_ids(db, partition);
	if (status == NEO_BACKEND_OK && db->next_data_id[partition] == UINT64_MAX)
		status = learn_next_id(db, partition, &db->next_data_id[partition]);
	if (status == NEO_BACKEND_OK)
		*id = db->next_data_id[partition];
	return status;
}

int neo_rocks_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
		       uint8_t compression, struct neo_bytes data, uint64_t *data_id)
{
	uint8_t header[NEO_ROCKS_DATA_HEADER];
	const char *parts[2] = { (const char *)header, data.size ? (const char *)data.data : "" };
	size_t sizes[2] = { sizeof(header), data.size };
	struct neo_rocks_key key;
	uint64_t id = 0;
	int status;

	if (db->dedup) {
		status = find_duplicate(db, checksum, compression, data, data_id);
		if (status != NEO_BACKEND_NOTFOUND)
			return status;
	}
	status = next_data_id(db, partition, &id);
	if (status != NEO_BACKEND_OK)
		return status;
	header[0] = compression;
	memcpy(header + 1, checksum, 20);
	key = id_key(id);
	/* two parts: the value is not copied once more to prefix it */
	rocksdb_writebatch_wi_putv_cf(db->batch, db->cf[NEO_CF_DATA], 1,
				      (const char *const[]){ (const char *)key.b }, &key.n,
				      2, parts, sizes);
	if (db->dedup) {
		struct neo_rocks_key hkey = hash_key(checksum, compression);
		uint8_t value[8];

		neo_rocks_put_u64(value, id);
		neo_rocks_put(db, NEO_CF_DATA_HASH, &hkey, value, sizeof(value));
	}
	db->next_data_id[partition] = id + 1;
	*data_id = id;
	return NEO_BACKEND_OK;
}

int neo_rocks_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		       uint8_t checksum[20], struct neo_bytes *data)
{
	struct neo_rocks_key key = id_key(data_id);
	char *value;
	size_t size;
	int status = neo_rocks_get(db, NEO_CF_DATA, &key, &value, &size);

	if (status != NEO_BACKEND_OK)
		return status;
	if (size < NEO_ROCKS_DATA_HEADER) {
		free(value);
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a data row is malformed", NULL);
	}
	*compression = (uint8_t)value[0];
	memcpy(checksum, value + 1, 20);
	status = neo_rocks_keep(db, 1, value + NEO_ROCKS_DATA_HEADER, size - NEO_ROCKS_DATA_HEADER,
				data);
	free(value);
	return status;
}

struct neo_rocks_key neo_rocks_obj_key(uint32_t partition, uint64_t oid, uint64_t tid)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u32(&key, partition);
	neo_rocks_key_u64(&key, oid);
	neo_rocks_key_u64(&key, ~tid);
	return key;
}

uint64_t neo_rocks_obj_serial(rocksdb_iterator_t *it)
{
	return ~neo_rocks_iter_u64(it, 12);
}

/* A revision as stored: flags, data_id, value_tid. */
struct revision {
	bool has_data, has_value_tid;
	uint64_t data_id, value_tid;
};

static int decode_revision(struct neo_db *db, const char *value, size_t size, struct revision *r)
{
	if (size != NEO_ROCKS_OBJ_VALUE)
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "an object row is malformed", NULL);
	r->has_data = (value[0] & NEO_ROCKS_HAS_DATA) != 0;
	r->has_value_tid = (value[0] & NEO_ROCKS_HAS_VALUE_TID) != 0;
	r->data_id = neo_rocks_u64_at(value + 1);
	r->value_tid = neo_rocks_u64_at(value + 9);
	return NEO_BACKEND_OK;
}

/* Puts the iterator on the wanted revision of (partition, oid); false if
 * there is none.  Newest first: the first key at or after ~tid is the
 * newest revision <= tid. */
static bool seek_revision(rocksdb_iterator_t *it, uint32_t partition, uint64_t oid,
			  enum neo_backend_obj_at at, uint64_t tid)
{
	struct neo_rocks_key prefix = neo_rocks_obj_key(partition, oid, UINT64_MAX), key;

	prefix.n = 12;
	switch (at) {
	case NEO_BACKEND_OBJ_LATEST:
		key = prefix;
		break;
	case NEO_BACKEND_OBJ_EXACT:
		key = neo_rocks_obj_key(partition, oid, tid);
		break;
	case NEO_BACKEND_OBJ_BEFORE:
		if (tid == 0)
			return false;
		key = neo_rocks_obj_key(partition, oid, tid - 1);
		break;
	default:
		return false;
	}
	rocksdb_iter_seek(it, (const char *)key.b, key.n);
	return neo_rocks_iter_in(it, &prefix) &&
	       (at != NEO_BACKEND_OBJ_EXACT || neo_rocks_obj_serial(it) == tid);
}

/* Reads the revision the iterator is on, and the serial after it (the
 * key before, newest first). */
static int read_revision(struct neo_db *db, rocksdb_iterator_t *it, bool want_next,
			 struct neo_object *out, struct revision *r)
{
	struct neo_rocks_key prefix;
	size_t size;
	const char *value = rocksdb_iter_value(it, &size);
	int status = decode_revision(db, value, size, r);

	if (status != NEO_BACKEND_OK)
		return status;
	memcpy(prefix.b, rocksdb_iter_key(it, &size), 12);
	prefix.n = 12;
	out->serial = neo_rocks_obj_serial(it);
	out->has_data = r->has_data;
	out->data_serial.has = r->has_value_tid;
	out->data_serial.id = r->value_tid;
	if (want_next) {
		rocksdb_iter_prev(it);
		out->next_serial.has = neo_rocks_iter_in(it, &prefix);
		out->next_serial.id = out->next_serial.has ? neo_rocks_obj_serial(it) : 0;
	}
	return NEO_BACKEND_OK;
}

int neo_rocks_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
		      enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out)
{
	rocksdb_iterator_t *it;
	struct revision r = { false, false, 0, 0 };
	int status = NEO_BACKEND_NOTFOUND;

	if ((unsigned)at > NEO_BACKEND_OBJ_BEFORE)
		return NEO_BACKEND_EINVAL;
	memset(out, 0, sizeof(*out));
	it = neo_rocks_iter(db, NEO_CF_OBJ);
	if (it == NULL)
		return NEO_BACKEND_EIO;
	/* the latest revision has no next one: one step less per load */
	if (seek_revision(it, partition, oid, at, tid))
		status = read_revision(db, it, at != NEO_BACKEND_OBJ_LATEST, out, &r);
	status = neo_rocks_iter_close(db, it, status);
	if (status != NEO_BACKEND_OK || !r.has_data)
		return status;
	status = neo_rocks_data_get(db, r.data_id, &out->compression, out->checksum, &out->data);
	if (status == NEO_BACKEND_NOTFOUND)
		status = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "a revision refers to missing data",
					NULL);
	return status;
}

int neo_rocks_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
			      uint64_t *serial)
{
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ);
	int status = NEO_BACKEND_NOTFOUND;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	if (seek_revision(it, partition, oid, NEO_BACKEND_OBJ_LATEST, 0)) {
		*serial = neo_rocks_obj_serial(it);
		status = NEO_BACKEND_OK;
	}
	return neo_rocks_iter_close(db, it, status);
}

int neo_rocks_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
			  struct neo_opt_id *data_id)
{
	struct neo_rocks_key key = neo_rocks_obj_key(partition, oid, serial);
	struct revision r = { false, false, 0, 0 };
	char *value;
	size_t size;
	int status = neo_rocks_get(db, NEO_CF_OBJ, &key, &value, &size);

	if (status != NEO_BACKEND_OK)
		return status;
	status = decode_revision(db, value, size, &r);
	free(value);
	data_id->has = r.has_data;
	data_id->id = r.has_data ? r.data_id : 0;
	return status;
}

static void encode_revision(const struct neo_obj_row *row, uint8_t value[NEO_ROCKS_OBJ_VALUE])
{
	value[0] = (uint8_t)((row->data_id.has ? NEO_ROCKS_HAS_DATA : 0) |
			     (row->value_tid.has ? NEO_ROCKS_HAS_VALUE_TID : 0));
	neo_rocks_put_u64(value + 1, row->data_id.has ? row->data_id.id : 0);
	neo_rocks_put_u64(value + 9, row->value_tid.has ? row->value_tid.id : 0);
}

/* data_ref keys: data_id, then who refers to it. */
static struct neo_rocks_key ref_key(uint64_t data_id, char kind, uint32_t partition,
				    uint64_t oid, uint64_t tid)
{
	struct neo_rocks_key key = id_key(data_id);

	neo_rocks_key_u8(&key, (uint8_t)kind);
	if (kind == 'o')
		neo_rocks_key_u32(&key, partition);
	neo_rocks_key_u64(&key, kind == 'o' ? oid : tid);
	neo_rocks_key_u64(&key, kind == 'o' ? tid : oid);
	return key;
}

void neo_rocks_obj_write(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t tid,
			 const uint8_t value[NEO_ROCKS_OBJ_VALUE])
{
	struct neo_rocks_key key = neo_rocks_obj_key(partition, oid, tid), index = { .n = 0 };

	neo_rocks_put(db, NEO_CF_OBJ, &key, value, NEO_ROCKS_OBJ_VALUE);
	neo_rocks_key_u32(&index, partition);
	neo_rocks_key_u64(&index, tid);
	neo_rocks_key_u64(&index, oid);
	neo_rocks_put(db, NEO_CF_OBJ_TID, &index, NULL, 0);
	if (value[0] & NEO_ROCKS_HAS_DATA) {
		key = ref_key(neo_rocks_u64_at(value + 1), 'o', partition, oid, tid);
		neo_rocks_put(db, NEO_CF_DATA_REF, &key, NULL, 0);
		db->staged_refs++;
	}
}

void neo_rocks_obj_erase(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t tid,
			 const uint8_t value[NEO_ROCKS_OBJ_VALUE])
{
	struct neo_rocks_key key = neo_rocks_obj_key(partition, oid, tid), index = { .n = 0 };

	neo_rocks_delete(db, NEO_CF_OBJ, &key);
	neo_rocks_key_u32(&index, partition);
	neo_rocks_key_u64(&index, tid);
	neo_rocks_key_u64(&index, oid);
	neo_rocks_delete(db, NEO_CF_OBJ_TID, &index);
	if (value[0] & NEO_ROCKS_HAS_DATA) {
		key = ref_key(neo_rocks_u64_at(value + 1), 'o', partition, oid, tid);
		neo_rocks_delete(db, NEO_CF_DATA_REF, &key);
	}
}

struct neo_rocks_key neo_rocks_tobj_key(uint64_t ttid, uint64_t oid)
{
	struct neo_rocks_key key = { .n = 0 };

	neo_rocks_key_u64(&key, ttid);
	neo_rocks_key_u64(&key, oid);
	return key;
}

void neo_rocks_tobj_write(struct neo_db *db, uint64_t ttid, uint64_t oid, uint32_t partition,
			  const uint8_t value[NEO_ROCKS_OBJ_VALUE])
{
	struct neo_rocks_key key = neo_rocks_tobj_key(ttid, oid);
	uint8_t stored[4 + NEO_ROCKS_OBJ_VALUE];

	neo_rocks_put_u32(stored, partition);
	memcpy(stored + 4, value, NEO_ROCKS_OBJ_VALUE);
	neo_rocks_put(db, NEO_CF_TOBJ, &key, stored, sizeof(stored));
	if (value[0] & NEO_ROCKS_HAS_DATA) {
		key = ref_key(neo_rocks_u64_at(value + 1), 't', 0, oid, ttid);
		neo_rocks_put(db, NEO_CF_DATA_REF, &key, NULL, 0);
		db->staged_refs++;
	}
}

void neo_rocks_tobj_erase(struct neo_db *db, uint64_t ttid, uint64_t oid,
			  const uint8_t value[NEO_ROCKS_OBJ_VALUE])
{
	struct neo_rocks_key key = neo_rocks_tobj_key(ttid, oid);

	neo_rocks_delete(db, NEO_CF_TOBJ, &key);
	if (value[0] & NEO_ROCKS_HAS_DATA) {
		key = ref_key(neo_rocks_u64_at(value + 1), 't', 0, oid, ttid);
		neo_rocks_delete(db, NEO_CF_DATA_REF, &key);
	}
}

static int put_one(struct neo_db *db, const struct neo_obj_row *row, bool temporary)
{
	struct neo_rocks_key key = temporary ? neo_rocks_tobj_key(row->tid, row->oid) :
				   neo_rocks_obj_key(row->partition, row->oid, row->tid);
	uint8_t value[NEO_ROCKS_OBJ_VALUE];
	int status = neo_rocks_exists(db, temporary ? NEO_CF_TOBJ : NEO_CF_OBJ, &key);

	if (status == NEO_BACKEND_OK)
		return neo_rocks_fail(db, NEO_BACKEND_EDUP, "this revision is already stored", NULL);
	if (status != NEO_BACKEND_NOTFOUND)
		return status;
	encode_revision(row, value);
	if (temporary)
		neo_rocks_tobj_write(db, row->tid, row->oid, row->partition, value);
	else
		neo_rocks_obj_write(db, row->partition, row->oid, row->tid, value);
	return NEO_BACKEND_OK;
}

int neo_rocks_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		      bool temporary)
{
	int status = NEO_BACKEND_OK;

	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++)
		status = put_one(db, &rows[i], temporary);
	return status;
}
