/*
 * client/cache.h - libneoclient's object cache: uncompressed revisions
 * of objects, each valid over [serial, next_serial), bounded in bytes.
 *
 * Promises (as upstream's neo/client/cache.py, core/cluster/cluster.md
 * section 11.3):
 *   - several revisions of an oid may be cached; a lookup "before tid"
 *     returns the revision with serial < tid <= next_serial (next_serial
 *     0 means current: valid up to the last tid the client knows);
 *   - invalidating (oid, tid) closes the current revision at tid, so that
 *     it keeps serving loads before tid;
 *   - eviction is multi-queue (frequency based): a revision moves to a
 *     longer-lived queue each time its hit count doubles, ages one queue
 *     down when not hit for `life_time` accesses, and the data of evicted
 *     revisions is freed while their hit count is remembered for a while
 *     (the history), so a revision loaded again gets its rank back;
 *   - the data kept never exceeds max_bytes; a record of max_bytes or more
 *     is not cached at all.
 *
 * Not thread-safe: the client calls it under its lock.  Records returned
 * are copies the caller owns (neo_client_record_clear).
 */
#ifndef NEO_CLIENT_CACHE_H
#define NEO_CLIENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "neo/client.h"

struct client_cache;

struct client_cache_stats {
	size_t bytes;		/* data held */
	size_t revisions;	/* revisions with data */
	size_t history;		/* evicted revisions whose hit count is kept */
	uint64_t hits, misses;
};

/* NULL on ENOMEM.  max_bytes is the bound on data held. */
struct client_cache *client_cache_new(size_t max_bytes);
void client_cache_free(struct client_cache *cache);

/*
 * The revision valid before `before` (0: the current one), copied into
 * out (data malloc'ed).  false on a miss (or ENOMEM).
 */
bool client_cache_load(struct client_cache *cache, uint64_t oid, uint64_t before,
		       struct neo_client_record *out);
/* The revision whose serial is exactly `serial`. */
bool client_cache_load_serial(struct client_cache *cache, uint64_t oid, uint64_t serial,
			      struct neo_client_record *out);

/*
 * Adds a revision (data copied): [serial, next_serial), next_serial 0 when
 * current.  A revision already cached is left as is (its data is the
 * same), except that a current one learns its next_serial.
 */
void client_cache_store(struct client_cache *cache, uint64_t oid, uint64_t serial,
			uint64_t next_serial, const void *data, size_t size);

/* oid changed at tid: its current revision (if older) ends at tid. */
void client_cache_invalidate(struct client_cache *cache, uint64_t oid, uint64_t tid);

/* Drops every current revision (after missing invalidations). */
void client_cache_clear_current(struct client_cache *cache);
/* Drops everything, history included. */
void client_cache_clear(struct client_cache *cache);

void client_cache_stats(const struct client_cache *cache, struct client_cache_stats *stats);
size_t client_cache_max_bytes(const struct client_cache *cache);

/* Tuning (tests): accesses before a revision ages one queue down
 * (default 10000), and the number of evicted revisions remembered
 * (default 100000).  As upstream's defaults. */
void client_cache_tune(struct client_cache *cache, uint64_t life_time, size_t max_history);

#endif
