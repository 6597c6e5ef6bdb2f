/*
 * rocksdb_schema.c - options, column families and the layout version of
 * rocksdb.so.
 *
 * A database is new when it has no config family.  Families are created
 * config last, and the version is written (synced) right after, so a
 * database with a config family has all the others.  A database of any
 * other version is refused, never rewritten.  With dedup the data_hash
 * family exists; as upstream, that is chosen when the database is created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rocksdb_db.h"

static const char *const family_names[NEO_CF_COUNT] = {
	[NEO_CF_CONFIG] = "config", [NEO_CF_PT] = "pt", [NEO_CF_PACK] = "pack",
	[NEO_CF_TRANS] = "trans", [NEO_CF_OBJ] = "obj", [NEO_CF_OBJ_TID] = "obj_tid",
	[NEO_CF_DATA] = "data", [NEO_CF_DATA_REF] = "data_ref", [NEO_CF_TTRANS] = "ttrans",
	[NEO_CF_TOBJ] = "tobj", [NEO_CF_DATA_HASH] = "data_hash",
};

/* Memory for reads shared by every family. */
#define BLOCK_CACHE_BYTES (64u << 20)
/* Memtables of all families together, and of one.  With
 * tests/bench/backend_bench, 16 MiB per family beat RocksDB's default
 * 64 MiB (and 4, 8, 32) on stores and loads alike: inserting into and
 * seeking a big skiplist costs more than reading flushed, filtered and
 * cached blocks. */
#define WRITE_BUFFER_BYTES (64u << 20)
#define FAMILY_WRITE_BUFFER_BYTES (16u << 20)
/* The WAL a restart replays, at most (about: RocksDB checks it between
 * writes). */
#define RESTART_WAL_BYTES (32u << 20)

/* db->options with the options below set; unchanged if this RocksDB
 * does not know one.  At open, RocksDB reads the properties and sizes of
 * every table file (it can take seconds on a busy disk): only
 * compaction's statistics need them. */
#define OPEN_OPTIONS "avoid_flush_during_recovery=true;skip_stats_update_on_db_open=true;" \
	"skip_checking_sst_file_sizes_on_db_open=true"

static int set_open_options(struct neo_db *db)
{
	rocksdb_options_t *tuned = rocksdb_options_create();
	char *error = NULL;

	if (tuned == NULL)
		return NEO_BACKEND_EIO;
	rocksdb_get_options_from_string(db->options, OPEN_OPTIONS, tuned, &error);
	if (error != NULL) {
		free(error);
		rocksdb_options_destroy(tuned);
		return NEO_BACKEND_OK;
	}
	rocksdb_options_destroy(db->options);
	db->options = tuned;
	return NEO_BACKEND_OK;
}

int neo_rocks_make_options(struct neo_db *db)
{
	db->options = rocksdb_options_create();
	db->table = rocksdb_block_based_options_create();
	db->cache = rocksdb_cache_create_lru(BLOCK_CACHE_BYTES);
	db->read = rocksdb_readoptions_create();
	db->write_sync = rocksdb_writeoptions_create();
	db->write_lazy = rocksdb_writeoptions_create();
	db->batch = rocksdb_writebatch_wi_create(0, 1);
	if (!db->options || !db->table || !db->cache || !db->read || !db->write_sync ||
	    !db->write_lazy || !db->batch)
		return NEO_BACKEND_EIO;
	rocksdb_options_set_create_if_missing(db->options, 1);
	rocksdb_options_set_max_background_jobs(db->options, 2);
	rocksdb_options_set_db_write_buffer_size(db->options, WRITE_BUFFER_BYTES);
	rocksdb_options_set_keep_log_file_num(db->options, 4);
	rocksdb_options_set_write_buffer_size(db->options, FAMILY_WRITE_BUFFER_BYTES);
	/* A filter in memtables too: the duplicate checks of every store
	 * look for keys that are almost never there. */
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(db->options, 0.05);
	rocksdb_options_set_memtable_whole_key_filtering(db->options, 1);
	/* Most lookups are point reads (data, conflict checks, duplicate
	 * checks): a filter spares a disk read per table that lacks the key. */
	rocksdb_block_based_options_set_block_cache(db->table, db->cache);
	rocksdb_block_based_options_set_filter_policy(db->table,
						      rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(db->table, 1);
	rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(db->table, 1);
	rocksdb_options_set_block_based_table_factory(db->options, db->table);
	rocksdb_options_set_compression(db->options, rocksdb_lz4_compression);
	rocksdb_options_set_level_compaction_dynamic_level_bytes(db->options, 1);
	rocksdb_writeoptions_set_sync(db->write_sync, 1);
	/* Back fast after a crash (issue 20: under 2 s after a kill -9): the
	 * WAL to replay stays under RESTART_WAL_BYTES (the families holding
	 * the oldest log are flushed past it), and what it replays stays in
	 * memtables instead of being flushed to tables before the open
	 * returns (the C API has no setter for that one: OPEN_OPTIONS). */
	rocksdb_options_set_max_total_wal_size(db->options, RESTART_WAL_BYTES);
	return set_open_options(db);
}

int neo_rocks_write(struct neo_db *db, bool sync)
{
	char *error = NULL;

	if (rocksdb_writebatch_wi_count(db->batch) > 0) {
		rocksdb_write_writebatch_wi(db->rdb, sync ? db->write_sync : db->write_lazy,
					    db->batch, &error);
		if (error != NULL)
			return neo_rocks_fail(db, neo_rocks_status_of(error), "commit", error);
		rocksdb_writebatch_wi_clear(db->batch);
		db->staged_refs = 0;
		if (!sync)
			db->unsynced = true;
	} else if (sync && db->unsynced) {
		/* Nothing new, but what an earlier LAZY commit wrote must now
		 * be on disk. */
		rocksdb_flush_wal(db->rdb, 1, &error);
		if (error != NULL)
			return neo_rocks_fail(db, NEO_BACKEND_EIO, "sync", error);
	}
	if (sync)
		db->unsynced = false;
	return NEO_BACKEND_OK;
}

static int family_of(const char *name)
{
	for (int i = 0; i < NEO_CF_COUNT; i++)
		if (strcmp(name, family_names[i]) == 0)
			return i;
	return -1;
}

/* The families on disk; NULL for a new directory. */
static char **listed_families(struct neo_db *db, size_t *count)
{
	char *error = NULL;
	char **names = rocksdb_list_column_families(db->options, db->path, count, &error);

	if (error != NULL || *count == 0) {
		/* no database there yet */
		if (names != NULL)
			rocksdb_list_column_families_destroy(names, *count);
		names = NULL;
	}
	rocksdb_free(error);
	return names;
}

/* Keeps each opened handle: ours by kind, the others to close later. */
static void sort_handles(struct neo_db *db, char *const *names, size_t count,
			 rocksdb_column_family_handle_t **handles)
{
	for (size_t i = 0; i < count; i++) {
		int kind = family_of(names[i]);

		if (kind >= 0)
			db->cf[kind] = handles[i];
		else
			db->other_cf[db->other_cf_count++] = handles[i];
	}
}

static int open_listed(struct neo_db *db, char *err, size_t errlen)
{
	static char default_name[] = "default";
	char *fresh_names[] = { default_name };
	size_t listed = 0;
	char **names = listed_families(db, &listed);
	char **open_names = names != NULL ? names : fresh_names;
	size_t count = names != NULL ? listed : 1;
	const rocksdb_options_t **options = calloc(count, sizeof(*options));
	rocksdb_column_family_handle_t **handles = calloc(count, sizeof(*handles));
	char *error = NULL;
	int status = NEO_BACKEND_EIO;

	db->other_cf = calloc(count, sizeof(*db->other_cf));
	if (options == NULL || handles == NULL || db->other_cf == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < count; i++)
		options[i] = db->options;
	db->rdb = rocksdb_open_column_families(db->options, db->path, (int)count,
					       (const char *const *)open_names, options, handles,
					       &error);
	if (db->rdb == NULL) {
		snprintf(err, errlen, "rocksdb: cannot open '%s': %s", db->path,
			 error ? error : "unknown error");
		status = neo_rocks_status_of(error);
		goto done;
	}
	sort_handles(db, open_names, count, handles);
	status = NEO_BACKEND_OK;
done:
	rocksdb_free(error);
	if (names != NULL)
		rocksdb_list_column_families_destroy(names, listed);
	free(options);
	free(handles);
	return status;
}

/* --reset: every family of ours goes, to be created again. */
static int drop_families(struct neo_db *db, char *err, size_t errlen)
{
	for (int i = 0; i < NEO_CF_COUNT; i++) {
		char *error = NULL;

		if (db->cf[i] == NULL)
			continue;
		rocksdb_drop_column_family(db->rdb, db->cf[i], &error);
		rocksdb_column_family_handle_destroy(db->cf[i]);
		db->cf[i] = NULL;
		if (error != NULL) {
			snprintf(err, errlen, "rocksdb: cannot erase '%s': %s", family_names[i], error);
			rocksdb_free(error);
			return NEO_BACKEND_EIO;
		}
	}
	return NEO_BACKEND_OK;
}

static int create_families(struct neo_db *db, bool dedup, char *err, size_t errlen)
{
	char version[16];
	struct neo_rocks_key key = { .n = 0 };

	/* config last: its presence says the others are there */
	for (int i = NEO_CF_COUNT - 1; i >= 0; i--) {
		char *error = NULL;

		if (i == NEO_CF_DATA_HASH && !dedup)
			continue;
		db->cf[i] = rocksdb_create_column_family(db->rdb, db->options, family_names[i], &error);
		if (error != NULL) {
			snprintf(err, errlen, "rocksdb: cannot create '%s': %s", family_names[i], error);
			rocksdb_free(error);
			return NEO_BACKEND_EIO;
		}
	}
	snprintf(version, sizeof(version), "%d", NEO_ROCKSDB_SCHEMA_VERSION);
	memcpy(key.b, "version", 7);
	key.n = 7;
	neo_rocks_put(db, NEO_CF_CONFIG, &key, version, strlen(version));
	db->dedup = dedup;
	if (neo_rocks_write(db, true) != NEO_BACKEND_OK) {
		snprintf(err, errlen, "rocksdb: %s", db->errmsg);
		return NEO_BACKEND_EIO;
	}
	return NEO_BACKEND_OK;
}

/* The stored layout version; -1 when config does not say. */
static int stored_version(struct neo_db *db)
{
	struct neo_rocks_key key = { .n = 7 };
	char *value = NULL, text[16];
	size_t size = 0;
	int version = -1;

	memcpy(key.b, "version", 7);
	if (neo_rocks_get(db, NEO_CF_CONFIG, &key, &value, &size) == NEO_BACKEND_OK &&
	    size < sizeof(text)) {
		memcpy(text, value, size);
		text[size] = '\0';
		version = atoi(text);
	}
	free(value);
	return version;
}

static int check_existing(struct neo_db *db, char *err, size_t errlen)
{
	int version = stored_version(db);

	if (version != NEO_ROCKSDB_SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %d; this module handles "
			 "version %d only and does not convert databases", version,
			 NEO_ROCKSDB_SCHEMA_VERSION);
		return NEO_BACKEND_EVERSION;
	}
	for (int i = 0; i < NEO_CF_COUNT; i++)
		if (db->cf[i] == NULL && i != NEO_CF_DATA_HASH) {
			snprintf(err, errlen, "rocksdb: the database lacks column family '%s'",
				 family_names[i]);
			return NEO_BACKEND_ECORRUPT;
		}
	db->dedup = db->cf[NEO_CF_DATA_HASH] != NULL;
	return NEO_BACKEND_OK;
}

int neo_rocks_open_families(struct neo_db *db, bool reset, bool dedup, char *err, size_t errlen)
{
	int status = open_listed(db, err, errlen);

	if (status == NEO_BACKEND_OK && reset)
		status = drop_families(db, err, errlen);
	if (status != NEO_BACKEND_OK)
		return status;
	if (db->cf[NEO_CF_CONFIG] == NULL)
		return create_families(db, dedup, err, errlen);
	return check_existing(db, err, errlen);
}
