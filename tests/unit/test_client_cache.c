/* test_client_cache.c - libneoclient's object cache: MVCC lookups,
 * invalidations, the byte bound and multi-queue eviction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cache.h"
#include "tap.h"

static struct neo_client_record rec;

static void store_text(struct client_cache *cache, uint64_t oid, uint64_t serial,
		       uint64_t next_serial, const char *text)
{
	client_cache_store(cache, oid, serial, next_serial, text, strlen(text));
}

/* Loads before `before` (0: current) and compares with the expectation
 * (text NULL: a miss is expected). */
static bool loads(struct client_cache *cache, uint64_t oid, uint64_t before, const char *text,
		  uint64_t serial, uint64_t next_serial)
{
	bool hit = client_cache_load(cache, oid, before, &rec);
	bool same;

	if (!hit)
		return text == NULL;
	same = text && rec.size == strlen(text) && memcmp(rec.data, text, rec.size) == 0
	       && rec.oid == oid && rec.serial == serial && rec.next_serial == next_serial;
	free(rec.data);
	memset(&rec, 0, sizeof rec);
	return same;
}

static bool loads_serial(struct client_cache *cache, uint64_t oid, uint64_t serial,
			 const char *text)
{
	bool hit = client_cache_load_serial(cache, oid, serial, &rec);
	bool same;

	if (!hit)
		return text == NULL;
	same = text && rec.size == strlen(text) && memcmp(rec.data, text, rec.size) == 0
	       && rec.serial == serial;
	free(rec.data);
	memset(&rec, 0, sizeof rec);
	return same;
}

static void test_mvcc(void)
{
	struct client_cache *cache = client_cache_new(1 << 20);

	tap_ok(cache != NULL, "a cache is made");
	tap_ok(loads(cache, 1, 0, NULL, 0, 0), "empty cache: a miss");
	store_text(cache, 1, 10, 0, "ten");
	tap_ok(loads(cache, 1, 0, "ten", 10, 0), "the current revision loads");
	tap_ok(loads(cache, 1, 11, "ten", 10, 0), "and loads before a later tid");
	tap_ok(loads(cache, 1, 10, NULL, 0, 0), "but not before its own serial");
	tap_ok(loads_serial(cache, 1, 10, "ten"), "by serial too");
	tap_ok(loads_serial(cache, 1, 9, NULL), "not at another serial");

	client_cache_invalidate(cache, 1, 20);
	tap_ok(loads(cache, 1, 0, NULL, 0, 0), "invalidated: no current revision");
	tap_ok(loads(cache, 1, 20, "ten", 10, 20), "the old one serves loads before the new tid");
	tap_ok(loads(cache, 1, 15, "ten", 10, 20), "and any time in its range");
	tap_ok(loads(cache, 1, 21, NULL, 0, 0), "but not after the new tid");

	store_text(cache, 1, 20, 0, "twenty");
	tap_ok(loads(cache, 1, 0, "twenty", 20, 0), "the new revision is current");
	tap_ok(loads(cache, 1, 20, "ten", 10, 20), "the old one is still there");
	tap_ok(loads_serial(cache, 1, 10, "ten") && loads_serial(cache, 1, 20, "twenty"),
	       "both load by serial");

	client_cache_invalidate(cache, 1, 20);
	tap_ok(loads(cache, 1, 0, "twenty", 20, 0),
	       "an invalidation at the current serial changes nothing");
	client_cache_invalidate(cache, 2, 30);
	tap_ok(loads(cache, 2, 0, NULL, 0, 0), "invalidating an oid not cached adds nothing");

	store_text(cache, 1, 20, 30, "twenty");
	tap_ok(loads(cache, 1, 0, "twenty", 20, 30) == false && loads(cache, 1, 30, "twenty", 20, 30),
	       "storing a cached revision again teaches it its next serial");

	store_text(cache, 3, 5, 8, "past");
	tap_ok(loads(cache, 3, 8, "past", 5, 8), "a revision of the past is stored");
	tap_ok(loads(cache, 3, 0, NULL, 0, 0), "and is not current");
	store_text(cache, 3, 6, 0, "stale");
	tap_ok(loads(cache, 3, 0, NULL, 0, 0) && loads(cache, 3, 8, "past", 5, 8),
	       "a current revision overlapping a known range is refused");

	store_text(cache, 4, 40, 0, "current");
	store_text(cache, 4, 30, 50, "overlap");
	tap_ok(loads(cache, 4, 0, NULL, 0, 0) && loads(cache, 4, 45, NULL, 0, 0),
	       "two revisions claiming the same time: neither is trusted");

	client_cache_store(cache, 5, 1, 0, "", 0);
	tap_ok(client_cache_load(cache, 5, 0, &rec) && rec.size == 0 && rec.data != NULL,
	       "an empty record loads as empty data");
	free(rec.data);
	memset(&rec, 0, sizeof rec);

	client_cache_clear_current(cache);
	tap_ok(loads(cache, 1, 0, NULL, 0, 0) && loads(cache, 1, 20, "ten", 10, 20)
	       && loads(cache, 1, 30, "twenty", 20, 30),
	       "clear_current keeps closed revisions");
	store_text(cache, 6, 60, 0, "six");
	client_cache_clear_current(cache);
	tap_ok(loads(cache, 6, 0, NULL, 0, 0), "clear_current drops current ones");
	client_cache_clear(cache);
	{
		struct client_cache_stats stats;

		client_cache_stats(cache, &stats);
		tap_ok(stats.bytes == 0 && stats.revisions == 0 && stats.history == 0
		       && loads(cache, 1, 20, NULL, 0, 0), "clear drops everything");
	}
	client_cache_free(cache);
}

static char payload[100];

static void store_sized(struct client_cache *cache, uint64_t oid)
{
	memset(payload, 'a' + (int)(oid % 26), sizeof payload);
	client_cache_store(cache, oid, oid * 10, 0, payload, sizeof payload);
}

static bool cached(struct client_cache *cache, uint64_t oid)
{
	bool hit = client_cache_load(cache, oid, 0, &rec);

	free(rec.data);
	memset(&rec, 0, sizeof rec);
	return hit;
}

static void test_bound(void)
{
	struct client_cache *cache = client_cache_new(1000);
	struct client_cache_stats stats;
	bool bounded = true;

	for (uint64_t oid = 1; oid <= 50; oid++) {
		store_sized(cache, oid);
		client_cache_stats(cache, &stats);
		bounded &= stats.bytes <= 1000;
	}
	tap_ok(bounded, "the data held never passes the bound");
	tap_ok(stats.revisions == 10 && stats.bytes == 1000, "the cache is full (%zu revisions)",
	       stats.revisions);
	tap_ok(cached(cache, 50) && !cached(cache, 1), "the newest stay, the oldest went");
	tap_ok(stats.history > 0, "evicted revisions are remembered (%zu)", stats.history);

	{
		char *big = calloc(1, 1000);

		client_cache_store(cache, 100, 1, 0, big, 1000);
		free(big);
	}
	tap_ok(!cached(cache, 100), "a record as big as the cache is not cached");
	client_cache_free(cache);

	cache = client_cache_new(1000);
	client_cache_tune(cache, 10000, 3);
	for (uint64_t oid = 1; oid <= 30; oid++)
		store_sized(cache, oid);
	client_cache_stats(cache, &stats);
	tap_ok(stats.history <= 3, "the history is bounded too (%zu)", stats.history);
	client_cache_free(cache);
}

/* Five objects read often, then a scan of many objects read once. */
static int hot_survive_scan(void)
{
	struct client_cache *cache = client_cache_new(1000);
	int survivors = 0;

	for (uint64_t oid = 1; oid <= 5; oid++) {
		store_sized(cache, oid);
		for (int i = 0; i < 8; i++)
			cached(cache, oid);
	}
	for (uint64_t oid = 100; oid < 200; oid++)
		store_sized(cache, oid);
	for (uint64_t oid = 1; oid <= 5; oid++)
		survivors += cached(cache, oid);
	client_cache_free(cache);
	return survivors;
}

/* Five objects read often, then many reads of another one: with a short
 * life, the five age down to the history. */
static int hot_survive_aging(uint64_t life_time)
{
	struct client_cache *cache = client_cache_new(1000);
	int survivors = 0;

	client_cache_tune(cache, life_time, 100000);
	for (uint64_t oid = 1; oid <= 5; oid++) {
		store_sized(cache, oid);
		for (int i = 0; i < 8; i++)
			cached(cache, oid);
	}
	store_sized(cache, 6);
	for (int i = 0; i < 200; i++)
		cached(cache, 6);
	for (uint64_t oid = 1; oid <= 5; oid++)
		survivors += cached(cache, oid);
	client_cache_free(cache);
	return survivors;
}

static void test_frequency(void)
{
	struct client_cache *cache;
	struct client_cache_stats stats;
	int survivors = hot_survive_scan();

	tap_ok(survivors == 5, "objects read often survive a scan (%d of 5)", survivors);
	survivors = hot_survive_aging(10000);
	tap_ok(survivors == 5, "and many reads of another object (%d of 5)", survivors);
	survivors = hot_survive_aging(3);
	tap_ok(survivors == 0, "unless not read for longer than their life (%d of 5 left)",
	       survivors);

	/* Aged into the history, then stored again: its rank comes back. */
	cache = client_cache_new(1000);
	client_cache_tune(cache, 3, 100000);
	store_sized(cache, 1);
	for (int i = 0; i < 8; i++)
		cached(cache, 1);
	store_sized(cache, 2);
	for (int i = 0; i < 200; i++)
		cached(cache, 2);
	client_cache_stats(cache, &stats);
	tap_ok(!cached(cache, 1) && stats.history == 1, "an object not read for long is evicted");
	client_cache_tune(cache, 10000, 100000);
	store_sized(cache, 1);
	for (uint64_t oid = 100; oid < 200; oid++)
		store_sized(cache, oid);
	tap_ok(cached(cache, 1), "stored again, it keeps its rank over objects read once");
	client_cache_free(cache);

	/* The same without the history: read once more, it is just cold. */
	cache = client_cache_new(1000);
	store_sized(cache, 1);
	for (int i = 0; i < 8; i++)
		cached(cache, 1);
	client_cache_clear_current(cache);	/* forgets it, history included */
	store_sized(cache, 1);
	for (uint64_t oid = 100; oid < 200; oid++)
		store_sized(cache, oid);
	tap_ok(!cached(cache, 1), "without its history, an object read once is evicted");
	client_cache_free(cache);
}

static void test_succession(void)
{
	struct client_cache *cache = client_cache_new(1000);

	store_sized(cache, 1);	/* serial 10 */
	for (int i = 0; i < 8; i++)
		cached(cache, 1);
	client_cache_invalidate(cache, 1, 15);
	memset(payload, 'z', sizeof payload);
	client_cache_store(cache, 1, 15, 0, payload, sizeof payload);
	for (uint64_t oid = 100; oid < 140; oid++)
		store_sized(cache, oid);
	tap_ok(cached(cache, 1), "a new current revision inherits the rank of the old one");
	tap_ok(!client_cache_load(cache, 1, 15, &rec), "while the old one goes first");
	free(rec.data);
	memset(&rec, 0, sizeof rec);
	client_cache_free(cache);
}

int main(void)
{
	test_mvcc();
	test_bound();
	test_frequency();
	test_succession();
	return tap_done();
}
