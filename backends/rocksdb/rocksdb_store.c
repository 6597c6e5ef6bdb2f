/*
 * rocksdb_store.c - keys, values and the reads and writes of rocksdb.so:
 * every write goes to the pending batch, every read sees the database
 * as the batch would leave it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rocksdb_db.h"

void neo_rocks_key_u8(struct neo_rocks_key *k, uint8_t v)
{
	k->b[k->n++] = v;
}

void neo_rocks_key_u32(struct neo_rocks_key *k, uint32_t v)
{
	neo_rocks_put_u32(k->b + k->n, v);
	k->n += 4;
}

void neo_rocks_key_u64(struct neo_rocks_key *k, uint64_t v)
{
	neo_rocks_put_u64(k->b + k->n, v);
	k->n += 8;
}

void neo_rocks_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void neo_rocks_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint32_t neo_rocks_u32_at(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t neo_rocks_u64_at(const void *p)
{
	const uint8_t *b = p;

	return (uint64_t)neo_rocks_u32_at(b) << 32 | neo_rocks_u32_at(b + 4);
}

int neo_rocks_fail(struct neo_db *db, int status, const char *what, char *rocks_error)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "%s%s%s", what, rocks_error ? ": " : "",
		 rocks_error ? rocks_error : "");
	rocksdb_free(rocks_error);
	return status;
}

int neo_rocks_status_of(const char *rocks_error)
{
	return rocks_error != NULL && strncmp(rocks_error, "Corruption", 10) == 0 ?
	       NEO_BACKEND_ECORRUPT : NEO_BACKEND_EIO;
}

/* The batch is only worth consulting when it holds something. */
static bool batch_empty(struct neo_db *db)
{
	return rocksdb_writebatch_wi_count(db->batch) == 0;
}

int neo_rocks_get(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key,
		  char **value, size_t *size)
{
	char *error = NULL;

	if (batch_empty(db))
		*value = rocksdb_get_cf(db->rdb, db->read, db->cf[cf], (const char *)key->b, key->n,
					size, &error);
	else
		*value = rocksdb_writebatch_wi_get_from_batch_and_db_cf(db->batch, db->rdb, db->read,
			db->cf[cf], (const char *)key->b, key->n, size, &error);
	if (error != NULL)
		return neo_rocks_fail(db, neo_rocks_status_of(error), "read", error);
	return *value != NULL ? NEO_BACKEND_OK : NEO_BACKEND_NOTFOUND;
}

int neo_rocks_exists(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key)
{
	char *value;
	size_t size;
	int status = neo_rocks_get(db, cf, key, &value, &size);

	free(value);
	return status;
}

void neo_rocks_put(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key,
		   const void *value, size_t size)
{
	rocksdb_writebatch_wi_put_cf(db->batch, db->cf[cf], (const char *)key->b, key->n,
				     size ? value : "", size);
}

void neo_rocks_delete(struct neo_db *db, enum neo_rocks_cf cf, const struct neo_rocks_key *key)
{
	rocksdb_writebatch_wi_delete_cf(db->batch, db->cf[cf], (const char *)key->b, key->n);
}

rocksdb_iterator_t *neo_rocks_iter(struct neo_db *db, enum neo_rocks_cf cf)
{
	rocksdb_iterator_t *base = rocksdb_create_iterator_cf(db->rdb, db->read, db->cf[cf]);

	if (base == NULL) {
		neo_rocks_fail(db, NEO_BACKEND_EIO, "cannot create an iterator", NULL);
		return NULL;
	}
	if (batch_empty(db))
		return base;
	/* Takes ownership of base. */
	return rocksdb_writebatch_wi_create_iterator_with_base_cf(db->batch, base, db->cf[cf]);
}

int neo_rocks_iter_close(struct neo_db *db, rocksdb_iterator_t *it, int status)
{
	char *error = NULL;

	if (it == NULL)
		return status;
	rocksdb_iter_get_error(it, &error);
	rocksdb_iter_destroy(it);
	if (error != NULL && status == NEO_BACKEND_OK)
		return neo_rocks_fail(db, neo_rocks_status_of(error), "scan", error);
	rocksdb_free(error);
	return status;
}

bool neo_rocks_iter_in(rocksdb_iterator_t *it, const struct neo_rocks_key *prefix)
{
	const char *key;
	size_t size;

	if (!rocksdb_iter_valid(it))
		return false;
	key = rocksdb_iter_key(it, &size);
	return size >= prefix->n && memcmp(key, prefix->b, prefix->n) == 0;
}

uint64_t neo_rocks_iter_u64(rocksdb_iterator_t *it, size_t offset)
{
	size_t size;
	const char *key = rocksdb_iter_key(it, &size);

	return size >= offset + 8 ? neo_rocks_u64_at(key + offset) : 0;
}

uint32_t neo_rocks_iter_u32(rocksdb_iterator_t *it, size_t offset)
{
	size_t size;
	const char *key = rocksdb_iter_key(it, &size);

	return size >= offset + 4 ? neo_rocks_u32_at(key + offset) : 0;
}

int neo_rocks_keep(struct neo_db *db, int slot, const void *data, size_t size,
		   struct neo_bytes *out)
{
	if (size > db->scratch_size[slot]) {
		uint8_t *grown = realloc(db->scratch[slot], size);

		if (grown == NULL)
			return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
		db->scratch[slot] = grown;
		db->scratch_size[slot] = size;
	}
	if (size > 0)
		memcpy(db->scratch[slot], data, size);
	out->data = db->scratch[slot];
	out->size = size;
	return NEO_BACKEND_OK;
}

int neo_rocks_grow(struct neo_db *db, void *items, size_t *capacity, size_t needed,
		   size_t item_size)
{
	size_t room = *capacity < 16 ? 16 : *capacity;
	void *array, *grown;

	if (needed <= *capacity)
		return NEO_BACKEND_OK;
	while (room < needed && room <= SIZE_MAX / 2)
		room *= 2;
	if (room < needed || (item_size != 0 && room > SIZE_MAX / item_size))
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	memcpy(&array, items, sizeof(array));
	grown = realloc(array, room * item_size);
	if (grown == NULL)
		return neo_rocks_fail(db, NEO_BACKEND_EIO, "out of memory", NULL);
	memcpy(items, &grown, sizeof(grown));
	*capacity = room;
	return NEO_BACKEND_OK;
}

int neo_rocks_ids_add(struct neo_db *db, struct neo_rocks_ids *list, uint64_t id)
{
	int status = neo_rocks_grow(db, &list->ids, &list->capacity, list->count + 1,
				    sizeof(*list->ids));

	if (status != NEO_BACKEND_OK)
		return status;
	list->ids[list->count++] = id;
	return NEO_BACKEND_OK;
}

static int compare_ids(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void neo_rocks_ids_distinct(struct neo_rocks_ids *list)
{
	size_t kept = 0;

	if (list->count == 0)
		return;
	qsort(list->ids, list->count, sizeof(*list->ids), compare_ids);
	for (size_t i = 1; i < list->count; i++)
		if (list->ids[i] != list->ids[kept])
			list->ids[++kept] = list->ids[i];
	list->count = kept + 1;
}

int neo_rocks_ids_report(const struct neo_rocks_ids *list, neo_id_cb cb, void *ctx)
{
	int r = NEO_BACKEND_OK;

	for (size_t i = 0; cb != NULL && i < list->count && r == NEO_BACKEND_OK; i++)
		r = cb(ctx, list->ids[i]);
	return r;
}

void neo_rocks_ids_free(struct neo_rocks_ids *list)
{
	free(list->ids);
	list->ids = NULL;
	list->count = list->capacity = 0;
}
