/*
 * client_cache.c - the client's object cache: one revision per oid (the
 * last one loaded), valid over [serial, next_serial), evicted least
 * recently used first once the total data size passes the bound.
 * Invalidation of (oid, tid) closes the validity of the current revision
 * at tid, so that it still serves loads before tid (MVCC).
 */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

struct cache_entry {
	uint64_t oid, serial, next_serial;	/* next_serial 0: current */
	uint8_t *data;
	size_t size;
	struct cache_entry *newer, *older;	/* LRU list */
};

struct client_cache {
	struct neo_idmap entries;
	struct cache_entry *newest, *oldest;
	size_t bytes, max_bytes;
};

struct client_cache *client_cache_new(size_t max_bytes)
{
	struct client_cache *cache = calloc(1, sizeof *cache);

	if (cache)
		cache->max_bytes = max_bytes;
	return cache;
}

static void lru_unlink(struct client_cache *cache, struct cache_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		cache->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		cache->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct client_cache *cache, struct cache_entry *e)
{
	e->older = cache->newest;
	e->newer = NULL;
	if (cache->newest)
		cache->newest->newer = e;
	cache->newest = e;
	if (cache->oldest == NULL)
		cache->oldest = e;
}

static void entry_drop(struct client_cache *cache, struct cache_entry *e)
{
	lru_unlink(cache, e);
	neo_idmap_remove(&cache->entries, e->oid);
	cache->bytes -= e->size;
	free(e->data);
	free(e);
}

void client_cache_clear(struct client_cache *cache)
{
	while (cache->oldest)
		entry_drop(cache, cache->oldest);
}

void client_cache_free(struct client_cache *cache)
{
	if (cache == NULL)
		return;
	client_cache_clear(cache);
	neo_idmap_free(&cache->entries);
	free(cache);
}

bool client_cache_get(struct client_cache *cache, uint64_t oid, uint64_t before,
		      struct neo_client_record *out)
{
	struct cache_entry *e = neo_idmap_get(&cache->entries, oid);

	if (e == NULL)
		return false;
	if (before) {
		if (e->serial >= before || (e->next_serial && e->next_serial < before))
			return false;
	} else if (e->next_serial) {
		return false;
	}
	out->data = malloc(e->size ? e->size : 1);
	if (out->data == NULL)
		return false;
	memcpy(out->data, e->data, e->size);
	out->size = e->size;
	out->oid = oid;
	out->serial = e->serial;
	out->next_serial = e->next_serial;
	lru_unlink(cache, e);
	lru_push(cache, e);
	return true;
}

void client_cache_put(struct client_cache *cache, const struct neo_client_record *record)
{
	struct cache_entry *e = neo_idmap_get(&cache->entries, record->oid);

	if (record->size > cache->max_bytes / 2)
		return;
	if (e) {
		/* Keep the newer revision. */
		if (e->serial > record->serial)
			return;
		entry_drop(cache, e);
	}
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return;
	e->data = malloc(record->size ? record->size : 1);
	if (e->data == NULL || neo_idmap_put(&cache->entries, record->oid, e) < 0) {
		free(e->data);
		free(e);
		return;
	}
	memcpy(e->data, record->data, record->size);
	e->oid = record->oid;
	e->serial = record->serial;
	e->next_serial = record->next_serial;
	e->size = record->size;
	cache->bytes += e->size;
	lru_push(cache, e);
	while (cache->bytes > cache->max_bytes && cache->oldest && cache->oldest != e)
		entry_drop(cache, cache->oldest);
}

void client_cache_invalidate(struct client_cache *cache, uint64_t oid, uint64_t tid)
{
	struct cache_entry *e = neo_idmap_get(&cache->entries, oid);

	if (e && e->next_serial == 0) {
		if (e->serial < tid)
			e->next_serial = tid;
		else
			entry_drop(cache, e);
	}
}

size_t client_cache_bytes(const struct client_cache *cache)
{
	return cache->bytes;
}
