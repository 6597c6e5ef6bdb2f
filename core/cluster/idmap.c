/*
 * cluster/idmap.c - open addressing with linear probing and backward-shift
 * deletion (no tombstones, so lookups stay short after many removals).
 */
#include "cluster/idmap.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

static size_t idmap_hash(uint64_t key, size_t mask)
{
	/* Ids are often sequential: mix them (splitmix64's finalizer). */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return (size_t)key & mask;
}

void neo_idmap_init(struct neo_idmap *map)
{
	memset(map, 0, sizeof *map);
}

void neo_idmap_free(struct neo_idmap *map)
{
	neo_free(map->slots);
	memset(map, 0, sizeof *map);
}

void *neo_idmap_get(const struct neo_idmap *map, uint64_t key)
{
	size_t mask, i;

	if (map->capacity == 0)
		return NULL;
	mask = map->capacity - 1;
	for (i = idmap_hash(key, mask); map->slots[i].value; i = (i + 1) & mask)
		if (map->slots[i].key == key)
			return map->slots[i].value;
	return NULL;
}

/* Stores into a table that has room: never allocates, never fails. */
static void idmap_store(struct neo_idmap *map, uint64_t key, void *value)
{
	size_t mask = map->capacity - 1, i;

	for (i = idmap_hash(key, mask); map->slots[i].value; i = (i + 1) & mask)
		if (map->slots[i].key == key) {
			map->slots[i].value = value;
			return;
		}
	map->slots[i].key = key;
	map->slots[i].value = value;
	map->count++;
}

static int idmap_grow(struct neo_idmap *map)
{
	size_t capacity = map->capacity ? map->capacity * 2 : 16;
	struct neo_idmap_slot *old = map->slots;
	size_t old_capacity = map->capacity;

	map->slots = neo_calloc(capacity, sizeof *map->slots);
	if (map->slots == NULL) {
		map->slots = old;
		return -1;
	}
	map->capacity = capacity;
	map->count = 0;
	for (size_t i = 0; i < old_capacity; i++)
		if (old[i].value)
			idmap_store(map, old[i].key, old[i].value);
	neo_free(old);
	return 0;
}

int neo_idmap_put(struct neo_idmap *map, uint64_t key, void *value)
{
	if ((map->count + 1) * 4 > map->capacity * 3 && idmap_grow(map) < 0)
		return -1;
	idmap_store(map, key, value);
	return 0;
}

void *neo_idmap_remove(struct neo_idmap *map, uint64_t key)
{
	size_t mask, i, j;
	void *value;

	if (map->capacity == 0)
		return NULL;
	mask = map->capacity - 1;
	for (i = idmap_hash(key, mask); map->slots[i].value; i = (i + 1) & mask)
		if (map->slots[i].key == key)
			break;
	if (map->slots[i].value == NULL)
		return NULL;
	value = map->slots[i].value;
	map->slots[i].value = NULL;
	map->count--;
	/* Shift back the entries that probed past the freed slot. */
	for (j = (i + 1) & mask; map->slots[j].value; j = (j + 1) & mask) {
		size_t home = idmap_hash(map->slots[j].key, mask);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			map->slots[i] = map->slots[j];
			map->slots[j].value = NULL;
			i = j;
		}
	}
	return value;
}

bool neo_idmap_next(const struct neo_idmap *map, size_t *index, uint64_t *key, void **value)
{
	for (; *index < map->capacity; (*index)++)
		if (map->slots[*index].value) {
			*key = map->slots[*index].key;
			*value = map->slots[*index].value;
			(*index)++;
			return true;
		}
	return false;
}

int neo_id_list_add(void *list, uint64_t id)
{
	struct neo_id_list *l = list;

	if (l->count == UINT32_MAX || neo_grow(&l->ids, &l->capacity, l->count + 1, sizeof *l->ids))
		return -1;
	l->ids[l->count++] = id;
	return 0;
}

void neo_id_list_free(struct neo_id_list *list)
{
	neo_free(list->ids);
	memset(list, 0, sizeof *list);
}
