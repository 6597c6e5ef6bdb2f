/*
 * rocksdb_maintenance.c - history, undo history, deleting revisions and
 * pruning data in rocksdb.so, and where the database lives.
 *
 * Data rows are deleted only when no revision references them (no
 * data_ref key under their id): with dedup a row may be shared across
 * oids and partitions, so nothing is ever deleted by id range
 * (core/neo/backend.md section 11.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rocksdb_db.h"

/* The prefix of all revisions of an oid. */
static struct neo_rocks_key oid_prefix(uint32_t partition, uint64_t oid)
{
	struct neo_rocks_key key = neo_rocks_obj_key(partition, oid, 0);

	key.n = 12;
	return key;
}

/* The stored size of a revision's data; 0 without data, as upstream. */
static int stored_size(struct neo_db *db, rocksdb_iterator_t *it, uint64_t *size)
{
	size_t value_size, data_size;
	const char *value = rocksdb_iter_value(it, &value_size);
	struct neo_rocks_key key = { .n = 0 };
	char *data;
	int status;

	*size = 0;
	if (value_size != NEO_ROCKS_OBJ_VALUE)
		return neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "an object row is malformed", NULL);
	if (!(value[0] & NEO_ROCKS_HAS_DATA))
		return NEO_BACKEND_OK;
	neo_rocks_key_u64(&key, neo_rocks_u64_at(value + 1));
	status = neo_rocks_get(db, NEO_CF_DATA, &key, &data, &data_size);
	if (status == NEO_BACKEND_OK && data_size >= NEO_ROCKS_DATA_HEADER)
		*size = data_size - NEO_ROCKS_DATA_HEADER;
	free(data);
	return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : status;
}

int neo_rocks_obj_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			  uint64_t offset, uint64_t length, neo_id_pair_cb cb, void *ctx)
{
	struct neo_rocks_key prefix = oid_prefix(partition, oid);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ);
	uint64_t skipped = 0, sent = 0;
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	/* obj keys are newest first */
	for (rocksdb_iter_seek(it, (const char *)prefix.b, prefix.n);
	     r == NEO_BACKEND_OK && (length == 0 || sent < length) && neo_rocks_iter_in(it, &prefix);
	     rocksdb_iter_next(it)) {
		uint64_t size;

		if (skipped < offset) {
			skipped++;
			continue;
		}
		r = stored_size(db, it, &size);
		if (r == NEO_BACKEND_OK)
			r = cb(ctx, neo_rocks_obj_serial(it), size);
		sent++;
	}
	return neo_rocks_iter_close(db, it, r);
}

int neo_rocks_obj_undo_history(struct neo_db *db, uint32_t partition, uint64_t oid,
			       uint64_t from, neo_id_pair_cb cb, void *ctx)
{
	struct neo_rocks_key prefix = oid_prefix(partition, oid);
	struct neo_rocks_key first = neo_rocks_obj_key(partition, oid, from);
	rocksdb_iterator_t *it = neo_rocks_iter(db, NEO_CF_OBJ);
	int r = NEO_BACKEND_OK;

	if (it == NULL)
		return NEO_BACKEND_EIO;
	/* Ascending serials are descending keys: from the oldest >= from,
	 * backwards. */
	for (rocksdb_iter_seek_for_prev(it, (const char *)first.b, first.n);
	     r == NEO_BACKEND_OK && neo_rocks_iter_in(it, &prefix); rocksdb_iter_prev(it)) {
		size_t size;
		const char *value = rocksdb_iter_value(it, &size);
		bool undo = size == NEO_ROCKS_OBJ_VALUE && (value[0] & NEO_ROCKS_HAS_VALUE_TID);

		/* UINT64_MAX: "no undo pointer" */
		r = cb(ctx, neo_rocks_obj_serial(it), undo ? neo_rocks_u64_at(value + 9) : UINT64_MAX);
	}
	return neo_rocks_iter_close(db, it, r);
}

int neo_rocks_revisions_add(struct neo_db *db, struct neo_rocks_revisions *revs, uint64_t oid,
			    uint64_t tid)
{
	int status = neo_rocks_ids_add(db, &revs->oids, oid);

	return status == NEO_BACKEND_OK ? neo_rocks_ids_add(db, &revs->tids, tid) : status;
}

void neo_rocks_revisions_free(struct neo_rocks_revisions *revs)
{
	neo_rocks_ids_free(&revs->oids);
	neo_rocks_ids_free(&revs->tids);
}

/* Reads the value of each revision (for its data id); a revision that is
 * not there is left out. */
static int read_values(struct neo_db *db, const struct neo_rocks_revisions *revs,
		       uint8_t (*values)[NEO_ROCKS_OBJ_VALUE], struct neo_rocks_ids *data_ids)
{
	int status = NEO_BACKEND_OK;

	for (size_t i = 0; i < revs->oids.count && status == NEO_BACKEND_OK; i++) {
		struct neo_rocks_key key = neo_rocks_obj_key(revs->partition, revs->oids.ids[i],
							     revs->tids.ids[i]);
		char *value;
		size_t size;

		values[i][0] = 0xff;	/* absent */
		status = neo_rocks_get(db, NEO_CF_OBJ, &key, &value, &size);
		if (status == NEO_BACKEND_NOTFOUND) {
			status = NEO_BACKEND_OK;
			continue;
		}
		if (status == NEO_BACKEND_OK && size != NEO_ROCKS_OBJ_VALUE)
			status = neo_rocks_fail(db, NEO_BACKEND_ECORRUPT, "an object row is malformed",
						NULL);
		if (status == NEO_BACKEND_OK) {
			memcpy(values[i], value, NEO_ROCKS_OBJ_VALUE);
			if (value[0] & NEO_ROCKS_HAS_DATA)
				status = neo_rocks_ids_add(db, data_ids, neo_rocks_u64_at(value + 1));
		}
		free(value);
	}
	return status;
}

int neo_rocks_delete_revisions(struct neo_db *db, struct neo_rocks_revisions *revs,
			       neo_id_cb data_ids, void *ctx)
{
	struct neo_rocks_ids ids = { NULL, 0, 0 };
	uint8_t (*values)[NEO_ROCKS_OBJ_VALUE];
	int status;

	if (revs->oids.count == 0)
		return NEO_BACKEND_OK;
	values = malloc(revs->oids.count * sizeof(*values));
	if (values == NULL)
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	status = read_values(db, revs, values, &ids);
	neo_rocks_ids_distinct(&ids);
	if (status == NEO_BACKEND_OK)
		status = neo_rocks_ids_report(&ids, data_ids, ctx);
	for (size_t i = 0; status == NEO_BACKEND_OK && i < revs->oids.count; i++)
		if (values[i][0] != 0xff)
			neo_rocks_obj_erase(db, revs->partition, revs->oids.ids[i], revs->tids.ids[i],
					    values[i]);
	neo_rocks_ids_free(&ids);
	free(values);
	return status;
}

int neo_rocks_obj_delete(struct neo_db *db, uint32_t partition, uint64_t oid,
			 const struct neo_opt_id *serial, neo_id_cb data_ids, void *ctx)
{
	struct neo_rocks_key prefix = oid_prefix(partition, oid);
	struct neo_rocks_revisions revs = { .partition = partition };
	rocksdb_iterator_t *it;
	int status = NEO_BACKEND_OK;

	if (serial != NULL && serial->has) {
		status = neo_rocks_revisions_add(db, &revs, oid, serial->id);
	} else {
		it = neo_rocks_iter(db, NEO_CF_OBJ);
		if (it == NULL)
			return NEO_BACKEND_EIO;
		for (rocksdb_iter_seek(it, (const char *)prefix.b, prefix.n);
		     status == NEO_BACKEND_OK && neo_rocks_iter_in(it, &prefix); rocksdb_iter_next(it))
			status = neo_rocks_revisions_add(db, &revs, oid, neo_rocks_obj_serial(it));
		status = neo_rocks_iter_close(db, it, status);
	}
	if (status == NEO_BACKEND_OK)
		status = neo_rocks_delete_revisions(db, &revs, data_ids, ctx);
	neo_rocks_revisions_free(&revs);
	return status;
}

/* Whether a committed key the batch does not delete is there. */
static bool live_in_batch(struct neo_db *db, const char *key, size_t n, int *status)
{
	char *error = NULL, *value;
	size_t size;

	value = rocksdb_writebatch_wi_get_from_batch_and_db_cf(db->batch, db->rdb, db->read,
							      db->cf[NEO_CF_DATA_REF], key, n,
							      &size, &error);
	if (error != NULL) {
		*status = neo_rocks_fail(db, neo_rocks_status_of(error), "reading a reference",
					 error);
		return true;
	}
	free(value);
	return value != NULL;
}

/*
 * Whether any revision, committed or staged, references data_id.  The
 * seek is bounded to the id's own keys: unbounded, it walks every
 * deleted key after them (a dropped partition's refs, which are
 * contiguous) before it finds a live one.  And when the batch stages no
 * reference, the batch is not iterated either: RocksDB's iterator over
 * a batch walks every key the batch deletes past the id (its bound does
 * not reach the batch), which made each step of a drop quadratic; the
 * committed keys found are checked against the batch one by one.
 */
static bool referenced(struct neo_db *db, uint64_t data_id, int *status)
{
	struct neo_rocks_key prefix = { .n = 0 }, bound = { .n = 0 };
	rocksdb_readoptions_t *bounded = rocksdb_readoptions_create();
	rocksdb_iterator_t *base, *it;
	bool staged = rocksdb_writebatch_wi_count(db->batch) > 0, found = false;

	neo_rocks_key_u64(&prefix, data_id);
	if (data_id != UINT64_MAX)	/* the last id: no bound above it */
		neo_rocks_key_u64(&bound, data_id + 1);
	if (bounded == NULL) {
		*status = neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
		return true;
	}
	if (bound.n)
		rocksdb_readoptions_set_iterate_upper_bound(bounded, (const char *)bound.b, bound.n);
	base = rocksdb_create_iterator_cf(db->rdb, bounded, db->cf[NEO_CF_DATA_REF]);
	it = base == NULL || !staged || db->staged_refs == 0 ? base
		: rocksdb_writebatch_wi_create_iterator_with_base_cf(db->batch, base,
								     db->cf[NEO_CF_DATA_REF]);
	if (it == NULL) {
		rocksdb_readoptions_destroy(bounded);
		*status = neo_rocks_fail(db, NEO_BACKEND_EIO, "cannot create an iterator", NULL);
		return true;
	}
	for (rocksdb_iter_seek(it, (const char *)prefix.b, prefix.n);
	     !found && *status == NEO_BACKEND_OK && neo_rocks_iter_in(it, &prefix);
	     rocksdb_iter_next(it)) {
		size_t n;
		const char *key;

		if (it != base || !staged) {
			found = true;	/* the batch's own view, or no batch */
			break;
		}
		key = rocksdb_iter_key(it, &n);
		found = live_in_batch(db, key, n, status);
	}
	*status = neo_rocks_iter_close(db, it, *status);
	rocksdb_readoptions_destroy(bounded);
	return found;
}

/* Deletes a data row (and its dedup entry); NOTFOUND if it was not there. */
static int delete_data(struct neo_db *db, uint64_t data_id)
{
	struct neo_rocks_key key = { .n = 0 };
	char *value;
	size_t size;
	int status;

	neo_rocks_key_u64(&key, data_id);
	status = neo_rocks_get(db, NEO_CF_DATA, &key, &value, &size);
	if (status != NEO_BACKEND_OK)
		return status;
	neo_rocks_delete(db, NEO_CF_DATA, &key);
	if (db->dedup && size >= NEO_ROCKS_DATA_HEADER) {
		struct neo_rocks_key hash = { .n = 20 };

		memcpy(hash.b, value + 1, 20);
		neo_rocks_key_u8(&hash, (uint8_t)value[0]);
		neo_rocks_delete(db, NEO_CF_DATA_HASH, &hash);
	}
	free(value);
	return NEO_BACKEND_OK;
}

int neo_rocks_data_prune(struct neo_db *db, const uint64_t *ids, size_t count, size_t *pruned)
{
	struct neo_rocks_ids unreferenced = { NULL, 0, 0 };
	int status = NEO_BACKEND_OK;

	*pruned = 0;
	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++)
		if (!referenced(db, ids[i], &status) && status == NEO_BACKEND_OK)
			status = neo_rocks_ids_add(db, &unreferenced, ids[i]);
	neo_rocks_ids_distinct(&unreferenced);
	for (size_t i = 0; i < unreferenced.count && status == NEO_BACKEND_OK; i++) {
		status = delete_data(db, unreferenced.ids[i]);
		if (status == NEO_BACKEND_OK)
			++*pruned;
		else if (status == NEO_BACKEND_NOTFOUND)
			status = NEO_BACKEND_OK;
	}
	neo_rocks_ids_free(&unreferenced);
	return status;
}

int neo_rocks_data_orphans(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	rocksdb_iterator_t *data = neo_rocks_iter(db, NEO_CF_DATA);
	int r = NEO_BACKEND_OK;

	if (data == NULL)
		r = NEO_BACKEND_EIO;
	else
		rocksdb_iter_seek_to_first(data);
	for (; r == NEO_BACKEND_OK && rocksdb_iter_valid(data); rocksdb_iter_next(data)) {
		uint64_t id = neo_rocks_iter_u64(data, 0);

		if (!referenced(db, id, &r) && r == NEO_BACKEND_OK)
			r = cb(ctx, id);
	}
	return neo_rocks_iter_close(db, data, r);
}

int neo_rocks_device_path(struct neo_db *db, struct neo_bytes *path)
{
	/* As upstream: "hostname:device" of the database, so that the master
	 * avoids putting replicas on one disk. */
	char host[256] = "", text[400];
	struct stat st;

	gethostname(host, sizeof(host) - 1);
	if (stat(db->path, &st) != 0)
		snprintf(text, sizeof(text), "%s:unknown", host);
	else
		snprintf(text, sizeof(text), "%s:%lu", host, (unsigned long)st.st_dev);
	return neo_rocks_keep(db, 0, text, strlen(text), path);
}

/* The SST files and memtables of one family: RocksDB's own counts. */
static uint64_t family_size(struct neo_db *db, rocksdb_column_family_handle_t *cf)
{
	uint64_t sst = 0, memtables = 0;

	if (cf == NULL)		/* data_hash without dedup */
		return 0;
	if (rocksdb_property_int_cf(db->rdb, cf, "rocksdb.total-sst-files-size", &sst) != 0)
		sst = 0;
	if (rocksdb_property_int_cf(db->rdb, cf, "rocksdb.cur-size-all-mem-tables",
				    &memtables) != 0)
		memtables = 0;
	return sst + memtables;
}

int neo_rocks_db_size(struct neo_db *db, uint64_t *bytes)
{
	*bytes = 0;
	for (size_t i = 0; i < NEO_CF_COUNT; i++)
		*bytes += family_size(db, db->cf[i]);
	for (size_t i = 0; i < db->other_cf_count; i++)
		*bytes += family_size(db, db->other_cf[i]);
	return NEO_BACKEND_OK;
}
