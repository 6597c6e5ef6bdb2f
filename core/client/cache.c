/*
 * client/cache.c - the client's MVCC object cache with multi-queue
 * eviction (see client/cache.h for what it promises).
 *
 * Every revision sits in exactly one queue: queues 1..LEVELS hold
 * revisions with data, oldest access first; queue 0 (the history) holds
 * evicted revisions, without data, that are remembered for their hit
 * count.  The revisions of one oid are also kept in an array sorted by
 * serial, for lookups by time.
 */
#include "client/cache.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/idmap.h"
#include "runtime/alloc.h"

#define LEVELS 16
#define DEFAULT_LIFE_TIME 10000
#define DEFAULT_MAX_HISTORY 100000

struct cache_rev {
	uint64_t oid, serial, next_serial;	/* next_serial 0: current */
	uint8_t *data;				/* NULL: in the history */
	size_t size;
	uint32_t hits;
	int level;				/* the queue it is in; -1: none */
	uint64_t expire;			/* when it ages a level down */
	struct cache_rev *older, *newer;	/* queue links */
};

/* The revisions of one oid, sorted by serial. */
struct cache_oid {
	struct cache_rev **revs;
	uint32_t count, capacity;
};

struct cache_queue {
	struct cache_rev *oldest, *newest;
};

struct client_cache {
	struct neo_idmap oids;			/* oid -> struct cache_oid */
	struct cache_queue queues[LEVELS + 1];
	size_t bytes, max_bytes;
	size_t revisions, history, max_history;
	uint64_t time, life_time;
	uint64_t hits, misses;
};

struct client_cache *client_cache_new(size_t max_bytes)
{
	struct client_cache *cache = neo_calloc(1, sizeof *cache);

	if (cache == NULL)
		return NULL;
	neo_idmap_init(&cache->oids);
	cache->max_bytes = max_bytes;
	cache->life_time = DEFAULT_LIFE_TIME;
	cache->max_history = DEFAULT_MAX_HISTORY;
	return cache;
}

void client_cache_tune(struct client_cache *cache, uint64_t life_time, size_t max_history)
{
	cache->life_time = life_time;
	cache->max_history = max_history;
}

size_t client_cache_max_bytes(const struct client_cache *cache)
{
	return cache->max_bytes;
}

/* --- Queues ------------------------------------------------------------------ */

static void queue_remove(struct client_cache *cache, struct cache_rev *rev)
{
	struct cache_queue *queue;

	if (rev->level < 0)
		return;
	queue = &cache->queues[rev->level];
	if (rev->newer)
		rev->newer->older = rev->older;
	else
		queue->newest = rev->older;
	if (rev->older)
		rev->older->newer = rev->newer;
	else
		queue->oldest = rev->newer;
	rev->older = rev->newer = NULL;
	if (rev->level == 0)
		cache->history--;
	rev->level = -1;
}

static void forget(struct client_cache *cache, struct cache_rev *rev);

static void queue_append(struct client_cache *cache, struct cache_rev *rev, int level)
{
	struct cache_queue *queue = &cache->queues[level];

	rev->level = level;
	rev->older = queue->newest;
	rev->newer = NULL;
	if (queue->newest)
		queue->newest->newer = rev;
	else
		queue->oldest = rev;
	queue->newest = rev;
	rev->expire = cache->time + cache->life_time;
	if (level == 0 && ++cache->history > cache->max_history)
		forget(cache, queue->oldest);
}

/* 1 + floor(log2(hits)): a revision climbs a queue each time its hits
 * double (as upstream). */
static int level_of(uint32_t hits)
{
	int level = 1;

	while (hits > 1 && level < LEVELS) {
		hits >>= 1;
		level++;
	}
	return level;
}

/* --- Revisions of an oid -------------------------------------------------------- */

static struct cache_oid *oid_entry(struct client_cache *cache, uint64_t oid, bool create)
{
	struct cache_oid *entry = neo_idmap_get(&cache->oids, oid);

	if (entry || !create)
		return entry;
	entry = neo_calloc(1, sizeof *entry);
	if (entry && neo_idmap_put(&cache->oids, oid, entry) < 0) {
		neo_free(entry);
		return NULL;
	}
	return entry;
}

static void oid_entry_free(struct cache_oid *entry)
{
	neo_free(entry->revs);
	neo_free(entry);
}

static int entry_insert(struct cache_oid *entry, struct cache_rev *rev)
{
	uint32_t at = entry->count;

	if (entry->count == entry->capacity) {
		uint32_t capacity = entry->capacity ? entry->capacity * 2 : 2;
		struct cache_rev **revs = neo_realloc(entry->revs, capacity * sizeof *revs);

		if (revs == NULL)
			return -1;
		entry->revs = revs;
		entry->capacity = capacity;
	}
	while (at > 0 && entry->revs[at - 1]->serial > rev->serial) {
		entry->revs[at] = entry->revs[at - 1];
		at--;
	}
	entry->revs[at] = rev;
	entry->count++;
	return 0;
}

static void entry_remove(struct cache_oid *entry, struct cache_rev *rev)
{
	for (uint32_t i = 0; i < entry->count; i++)
		if (entry->revs[i] == rev) {
			memmove(&entry->revs[i], &entry->revs[i + 1],
				(entry->count - i - 1) * sizeof *entry->revs);
			entry->count--;
			return;
		}
}

static struct cache_rev *entry_find_serial(const struct cache_oid *entry, uint64_t serial)
{
	for (uint32_t i = 0; i < entry->count; i++)
		if (entry->revs[i]->serial == serial)
			return entry->revs[i];
	return NULL;
}

/* The revision valid just before `before` (0: the current one), with or
 * without data. */
static struct cache_rev *entry_lookup(const struct cache_oid *entry, uint64_t before)
{
	struct cache_rev *rev;

	if (entry == NULL || entry->count == 0)
		return NULL;
	if (before == 0) {
		rev = entry->revs[entry->count - 1];
		return rev->next_serial == 0 ? rev : NULL;
	}
	for (uint32_t i = entry->count; i-- > 0;) {
		rev = entry->revs[i];
		if (rev->serial < before)
			return rev->next_serial == 0 || before <= rev->next_serial ? rev : NULL;
	}
	return NULL;
}

/* Removes a revision from everything and frees it. */
static void forget(struct client_cache *cache, struct cache_rev *rev)
{
	struct cache_oid *entry = neo_idmap_get(&cache->oids, rev->oid);

	queue_remove(cache, rev);
	if (rev->data) {
		cache->bytes -= rev->size;
		cache->revisions--;
		neo_free(rev->data);
	}
	if (entry) {
		entry_remove(entry, rev);
		if (entry->count == 0) {
			neo_idmap_remove(&cache->oids, rev->oid);
			oid_entry_free(entry);
		}
	}
	neo_free(rev);
}

/* Frees the data; the hit count stays in the history. */
static void to_history(struct client_cache *cache, struct cache_rev *rev)
{
	queue_remove(cache, rev);
	if (rev->data) {
		cache->bytes -= rev->size;
		cache->revisions--;
		neo_free(rev->data);
		rev->data = NULL;
		rev->size = 0;
	}
	if (rev->hits == 0)
		forget(cache, rev);
	else
		queue_append(cache, rev, 0);
}

/* One more hit: the revision moves up to its level, and the oldest
 * revision not hit for life_time accesses ages one level down. */
static void hit(struct client_cache *cache, struct cache_rev *rev)
{
	queue_remove(cache, rev);
	if (rev->hits < UINT32_MAX)
		rev->hits++;
	queue_append(cache, rev, level_of(rev->hits));
	cache->time++;
	for (int level = 1; level <= LEVELS; level++) {
		struct cache_rev *oldest = cache->queues[level].oldest;

		if (oldest == NULL || oldest->expire >= cache->time)
			continue;
		if (level > 1) {
			queue_remove(cache, oldest);
			queue_append(cache, oldest, level - 1);
		} else {
			to_history(cache, oldest);
		}
		break;
	}
}

static void evict(struct client_cache *cache)
{
	for (int level = 1; level <= LEVELS && cache->bytes > cache->max_bytes; level++)
		while (cache->queues[level].oldest && cache->bytes > cache->max_bytes)
			to_history(cache, cache->queues[level].oldest);
}

/* --- Lookups --------------------------------------------------------------------- */

static bool copy_out(struct client_cache *cache, struct cache_rev *rev,
		     struct neo_client_record *out)
{
	uint8_t *data = neo_malloc(rev->size ? rev->size : 1);

	if (data == NULL)
		return false;
	memcpy(data, rev->data, rev->size);
	out->oid = rev->oid;
	out->serial = rev->serial;
	out->next_serial = rev->next_serial;
	out->data = data;
	out->size = rev->size;
	cache->hits++;
	hit(cache, rev);
	return true;
}

bool client_cache_load(struct client_cache *cache, uint64_t oid, uint64_t before,
		       struct neo_client_record *out)
{
	struct cache_rev *rev = entry_lookup(neo_idmap_get(&cache->oids, oid), before);

	if (rev && rev->data && copy_out(cache, rev, out))
		return true;
	cache->misses++;
	return false;
}

bool client_cache_load_serial(struct client_cache *cache, uint64_t oid, uint64_t serial,
			      struct neo_client_record *out)
{
	struct cache_oid *entry = neo_idmap_get(&cache->oids, oid);
	struct cache_rev *rev = entry ? entry_find_serial(entry, serial) : NULL;

	if (rev && rev->data && copy_out(cache, rev, out))
		return true;
	cache->misses++;
	return false;
}

/* --- Changes --------------------------------------------------------------------- */

/* Gives data to a revision out of every queue (new, or from the history). */
static void fill(struct client_cache *cache, struct cache_rev *rev, uint8_t *data, size_t size)
{
	rev->data = data;
	rev->size = size;
	cache->bytes += size;
	cache->revisions++;
	hit(cache, rev);
}

/* A new current revision (the last of entry) takes over the rank of the
 * previous one (as upstream), which then only serves loads of the past. */
static void succeed(struct client_cache *cache, struct cache_oid *entry, struct cache_rev *rev)
{
	struct cache_rev *previous;

	if (entry->count < 2)
		return;
	previous = entry->revs[entry->count - 2];
	rev->hits = previous->hits;
	if (previous->data == NULL) {
		forget(cache, previous);
		return;
	}
	previous->hits = 0;
	if (previous->level > 1) {
		queue_remove(cache, previous);
		queue_append(cache, previous, 1);
	}
}

static void drop_if_empty(struct client_cache *cache, struct cache_oid *entry, uint64_t oid)
{
	if (entry->count == 0) {
		neo_idmap_remove(&cache->oids, oid);
		oid_entry_free(entry);
	}
}

/*
 * Whether [serial, next_serial) fits with what entry knows.  When another
 * revision claims part of that time, one of the two is stale: the other
 * is dropped and the new one not stored.
 */
static bool fits(struct client_cache *cache, struct cache_oid *entry, uint64_t serial,
		 uint64_t next_serial)
{
	struct cache_rev *other = entry_lookup(entry, next_serial);
	struct cache_rev *last;

	if (other) {
		forget(cache, other);
		return false;
	}
	if (next_serial || entry->count == 0)
		return true;
	last = entry->revs[entry->count - 1];
	return last->serial < serial && last->next_serial <= serial;
}

static struct cache_rev *new_rev(struct cache_oid *entry, uint64_t oid, uint64_t serial,
				 uint64_t next_serial)
{
	struct cache_rev *rev = neo_calloc(1, sizeof *rev);

	if (rev == NULL)
		return NULL;
	rev->oid = oid;
	rev->serial = serial;
	rev->next_serial = next_serial;
	rev->level = -1;
	if (entry_insert(entry, rev) < 0) {
		neo_free(rev);
		return NULL;
	}
	return rev;
}

void client_cache_store(struct client_cache *cache, uint64_t oid, uint64_t serial,
			uint64_t next_serial, const void *data, size_t size)
{
	struct cache_oid *entry;
	struct cache_rev *rev;
	uint8_t *copy;

	if (size >= cache->max_bytes || (next_serial && next_serial <= serial))
		return;
	entry = oid_entry(cache, oid, true);
	if (entry == NULL)
		return;
	rev = entry_find_serial(entry, serial);
	if (rev && rev->data) {
		if (rev->next_serial == 0)
			rev->next_serial = next_serial;
		return;
	}
	if (rev == NULL && !fits(cache, entry, serial, next_serial)) {
		/* fits may have emptied and freed the entry already. */
		entry = neo_idmap_get(&cache->oids, oid);
		if (entry)
			drop_if_empty(cache, entry, oid);
		return;
	}
	copy = neo_malloc(size ? size : 1);
	if (copy == NULL) {
		drop_if_empty(cache, entry, oid);
		return;
	}
	if (size)
		memcpy(copy, data, size);
	if (rev) {
		/* Back from the history, with its hit count. */
		queue_remove(cache, rev);
		if (rev->next_serial == 0)
			rev->next_serial = next_serial;
	} else {
		rev = new_rev(entry, oid, serial, next_serial);
		if (rev == NULL) {
			neo_free(copy);
			drop_if_empty(cache, entry, oid);
			return;
		}
		if (next_serial == 0)
			succeed(cache, entry, rev);
	}
	fill(cache, rev, copy, size);
	evict(cache);
}

void client_cache_invalidate(struct client_cache *cache, uint64_t oid, uint64_t tid)
{
	struct cache_oid *entry = neo_idmap_get(&cache->oids, oid);
	struct cache_rev *last;

	if (entry == NULL || entry->count == 0)
		return;
	last = entry->revs[entry->count - 1];
	/* A revision at or after tid is already the new one. */
	if (last->next_serial == 0 && last->serial < tid)
		last->next_serial = tid;
}

/* The oids of the map, so that it can change while they are visited. */
static uint64_t *all_oids(const struct client_cache *cache, size_t *count)
{
	uint64_t *oids = neo_malloc((cache->oids.count + 1) * sizeof *oids);
	size_t index = 0;
	uint64_t key;
	void *value;

	*count = 0;
	while (oids && neo_idmap_next(&cache->oids, &index, &key, &value))
		oids[(*count)++] = key;
	return oids;
}

void client_cache_clear_current(struct client_cache *cache)
{
	size_t count;
	uint64_t *oids = all_oids(cache, &count);

	if (oids == NULL) {
		client_cache_clear(cache);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		struct cache_oid *entry = neo_idmap_get(&cache->oids, oids[i]);
		struct cache_rev *last = entry->revs[entry->count - 1];

		if (last->next_serial == 0)
			forget(cache, last);
	}
	neo_free(oids);
}

void client_cache_clear(struct client_cache *cache)
{
	for (int level = 0; level <= LEVELS; level++)
		while (cache->queues[level].oldest)
			forget(cache, cache->queues[level].oldest);
}

void client_cache_free(struct client_cache *cache)
{
	if (cache == NULL)
		return;
	client_cache_clear(cache);
	neo_idmap_free(&cache->oids);
	neo_free(cache);
}

void client_cache_stats(const struct client_cache *cache, struct client_cache_stats *stats)
{
	stats->bytes = cache->bytes;
	stats->revisions = cache->revisions;
	stats->history = cache->history;
	stats->hits = cache->hits;
	stats->misses = cache->misses;
}
