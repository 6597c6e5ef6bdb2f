/*
 * sqlite_module.c - sqlite.so's entry point, lifecycle, configuration keys
 * and partition table.
 *
 * Durability: WAL journal with synchronous=NORMAL (every commit is
 * atomic, a crash never leaves part of one), and a SYNC commit syncs the
 * WAL itself before it returns: the node commits SYNC at vote and lock
 * before answering, as the protocol requires, and LAZY at unlock, which
 * costs no fsync (core/neo/backend.md section 8).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sqlite_db.h"

/* SQLite's page cache of a database, in KiB (cache_size is negative for
 * KiB): 32 MiB. */
#define CACHE_SIZE_KIB "32768"

/*
 * As upstream: the lock that keeps two storage nodes off one database
 * file is a Unix socket bound in the abstract namespace under a name made
 * of the file's device and inode ("neostorage:DEV:INO"), held as long as
 * the node runs.  Taking the very same lock keeps upstream's storage and
 * ours off each other's database too (the write transaction ours keeps
 * open is a second lock, between nodes of ours).  No file (in memory):
 * no lock, as upstream.  Returns OK, ELOCKED or EIO.
 */
static int take_file_lock(struct neo_db *db, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int n;

	if (path == NULL || stat(path, &st) != 0)
		return NEO_BACKEND_OK;
	n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "neostorage:%llu:%llu",
		     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	db->lock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (db->lock_fd < 0) {
		snprintf(err, errlen, "sqlite: lock socket: %s", strerror(errno));
		return NEO_BACKEND_EIO;
	}
	if (bind(db->lock_fd, (struct sockaddr *)&addr,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
		int error = errno;

		close(db->lock_fd);
		db->lock_fd = -1;
		if (error == EADDRINUSE) {
			snprintf(err, errlen, "sqlite: database '%s' is locked (used by another "
				 "storage node, upstream's or ours?)", path);
			return NEO_BACKEND_ELOCKED;
		}
		snprintf(err, errlen, "sqlite: lock socket: %s", strerror(error));
		return NEO_BACKEND_EIO;
	}
	return NEO_BACKEND_OK;
}

int neo_sqlite_fail(struct neo_db *db, int status, const char *what)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "%s: %s", what, sqlite3_errmsg(db->sql));
	return status;
}

sqlite3_stmt *neo_sqlite_prepare(struct neo_db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	struct neo_sqlite_cached *slot;

	/* the same text may be in use twice (nested scans): a free copy */
	for (size_t i = 0; i < db->statement_count; i++) {
		slot = &db->statements[i];
		if (!slot->in_use && strcmp(slot->sql, sql) == 0) {
			slot->in_use = true;
			return slot->st;
		}
	}
	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK) {
		neo_sqlite_fail(db, NEO_BACKEND_EIO, "prepare");
		return NULL;
	}
	if (db->statement_count < NEO_SQLITE_CACHED_STATEMENTS) {
		slot = &db->statements[db->statement_count];
		slot->sql = strdup(sql);
		if (slot->sql != NULL) {
			slot->st = st;
			slot->in_use = true;
			db->statement_count++;
		}
	}
	return st;
}

void neo_sqlite_finalize(struct neo_db *db, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < db->statement_count; i++)
		if (db->statements[i].st == st) {
			/* ends its read and frees its bindings' copies */
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			db->statements[i].in_use = false;
			return;
		}
	sqlite3_finalize(st);
}

void neo_sqlite_forget_statements(struct neo_db *db)
{
	for (size_t i = 0; i < db->statement_count; i++) {
		sqlite3_finalize(db->statements[i].st);
		free(db->statements[i].sql);
	}
	db->statement_count = 0;
}

int neo_sqlite_exec(struct neo_db *db, const char *sql)
{
	if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK)
		return neo_sqlite_fail(db, NEO_BACKEND_EIO, sql);
	return NEO_BACKEND_OK;
}

int neo_sqlite_keep_blob(struct neo_db *db, int slot, const void *data, int size,
			 struct neo_bytes *out)
{
	if ((size_t)size > db->scratch_size[slot]) {
		uint8_t *grown = realloc(db->scratch[slot], (size_t)size);

		if (grown == NULL) {
			snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
			return NEO_BACKEND_EIO;
		}
		db->scratch[slot] = grown;
		db->scratch_size[slot] = (size_t)size;
	}
	if (size > 0)
		memcpy(db->scratch[slot], data, (size_t)size);
	out->data = db->scratch[slot];
	out->size = (size_t)size;
	return NEO_BACKEND_OK;
}

/* Binds ?1, ?2, ?3 from ids, as many as the statement has. */
static void bind_ids(sqlite3_stmt *st, uint64_t a, uint64_t b, uint64_t c)
{
	const uint64_t ids[3] = { a, b, c };
	int n = sqlite3_bind_parameter_count(st);

	for (int i = 0; i < n && i < 3; i++)
		sqlite3_bind_int64(st, i + 1, (sqlite3_int64)ids[i]);
}

int neo_sqlite_run(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, sql);
	int status = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	bind_ids(st, a, b, c);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = neo_sqlite_fail(db, NEO_BACKEND_EIO, sql);
	neo_sqlite_finalize(db, st);
	return status;
}

int neo_sqlite_each_id(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c,
		       neo_id_cb cb, void *ctx)
{
	sqlite3_stmt *st;
	int r = NEO_BACKEND_OK;

	if (cb == NULL)
		return NEO_BACKEND_OK;
	st = neo_sqlite_prepare(db, sql);
	if (st == NULL)
		return NEO_BACKEND_EIO;
	bind_ids(st, a, b, c);
	while (r == NEO_BACKEND_OK && sqlite3_step(st) == SQLITE_ROW)
		r = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0));
	neo_sqlite_finalize(db, st);
	return r;
}

int neo_sqlite_bind_partitions(struct neo_db *db, sqlite3_stmt *st, int index,
			       const uint32_t *partitions, size_t count)
{
	char *list = malloc(count * 12 + 3);
	size_t used = 0;

	if (list == NULL) {
		snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
		return NEO_BACKEND_EIO;
	}
	list[used++] = '[';
	for (size_t i = 0; i < count; i++)
		used += (size_t)sprintf(list + used, i ? ",%u" : "%u", (unsigned)partitions[i]);
	strcpy(list + used, "]");
	/* SQLite frees the list when the statement is done with it. */
	return sqlite3_bind_text(st, index, list, -1, free) == SQLITE_OK ? NEO_BACKEND_OK :
	       neo_sqlite_fail(db, NEO_BACKEND_EIO, "bind");
}

static void sqlite_close(struct neo_db *db)
{
	if (db == NULL)
		return;
	/* Uncommitted work is dropped, as on a crash: the node commits what
	 * must last. */
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	neo_sqlite_forget_statements(db);
	sqlite3_close(db->sql);
	if (db->lock_fd >= 0)
		close(db->lock_fd);
	for (int i = 0; i < 4; i++)
		free(db->scratch[i]);
	free(db);
}

static int sqlite_open(const struct neo_backend_open_args *args, struct neo_db **out,
		       char *err, size_t errlen)
{
	struct neo_db *db = calloc(1, sizeof(*db));
	int status;

	if (db != NULL)
		db->lock_fd = -1;
	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NEO_BACKEND_EIO;
	}
	if (args->database == NULL || *args->database == '\0') {
		snprintf(err, errlen, "sqlite: database= must name the database file");
		free(db);
		return NEO_BACKEND_EINVAL;
	}
	if (args->engine != NULL) {
		snprintf(err, errlen, "sqlite: engine '%s' is a MySQL engine", args->engine);
		free(db);
		return NEO_BACKEND_EINVAL;
	}
	if (sqlite3_open_v2(args->database, &db->sql,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sqlite: cannot open '%s': %s", args->database,
			 db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
		sqlite_close(db);
		return NEO_BACKEND_EIO;
	}
	status = take_file_lock(db, sqlite3_db_filename(db->sql, "main"), err, errlen);
	if (status != NEO_BACKEND_OK) {
		sqlite_close(db);
		return status;
	}
	sqlite3_busy_timeout(db->sql, 1000);
	/* The page cache: SQLite's default (2 MB) holds little more than
	 * the tables' root pages, so at 1M objects a load read 6 to 8 pages
	 * through the OS (a pread each); with CACHE_SIZE_KIB the inner pages
	 * of the tables stay here and a load reads about 2 (issue 20: load
	 * p50 at 1M objects next to 5k).  tests/bench/scale_bench prints the
	 * storage's RSS next to it. */
	if (neo_sqlite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			    " PRAGMA cache_size=-" CACHE_SIZE_KIB) != NEO_BACKEND_OK ||
	    ((args->flags & NEO_BACKEND_OPEN_RESET) && neo_sqlite_exec(db,
		"DROP TABLE IF EXISTS config; DROP TABLE IF EXISTS pt; DROP TABLE IF EXISTS pack;"
		"DROP TABLE IF EXISTS trans; DROP TABLE IF EXISTS obj; DROP TABLE IF EXISTS data;"
		"DROP TABLE IF EXISTS ttrans; DROP TABLE IF EXISTS tobj") != NEO_BACKEND_OK) ||
	    neo_sqlite_exec(db, "BEGIN IMMEDIATE") != NEO_BACKEND_OK) {
		/* The write transaction we keep open is the lock that keeps two
		 * storage nodes off one database, as upstream's. */
		bool locked = sqlite3_errcode(db->sql) == SQLITE_BUSY;

		if (locked)
			snprintf(err, errlen, "sqlite: database '%s' is locked (used by another "
				 "storage node?)", args->database);
		else
			snprintf(err, errlen, "sqlite: %s", db->errmsg);
		sqlite_close(db);
		return locked ? NEO_BACKEND_ELOCKED : NEO_BACKEND_EIO;
	}
	db->log = args->log;
	db->log_ctx = args->log_ctx;
	status = neo_sqlite_setup_schema(db, (args->flags & NEO_BACKEND_OPEN_DEDUP) != 0, err, errlen);
	if (status != NEO_BACKEND_OK) {
		sqlite_close(db);
		return status;
	}
	*out = db;
	return NEO_BACKEND_OK;
}

static const char *sqlite_errmsg(struct neo_db *db)
{
	return db->errmsg;
}

/* What synchronous=FULL would do at each commit, for the SYNC ones only:
 * the WAL's frames (this commit's and the lazy ones before it) reach the
 * disk.  In memory there is no file: nothing to do. */
static int sync_wal(struct neo_db *db)
{
	sqlite3_file *wal = NULL;

	if (sqlite3_file_control(db->sql, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK
	    || wal == NULL || wal->pMethods == NULL)
		return NEO_BACKEND_OK;
	if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
		snprintf(db->errmsg, sizeof db->errmsg, "sqlite: cannot sync the WAL");
		return NEO_BACKEND_EIO;
	}
	return NEO_BACKEND_OK;
}

static int sqlite_commit(struct neo_db *db, enum neo_backend_commit_mode mode)
{
	int status = neo_sqlite_exec(db, "COMMIT");
	int begun;

	if (status != NEO_BACKEND_OK)
		return status;
	if (mode == NEO_BACKEND_COMMIT_SYNC)
		status = sync_wal(db);
	/* The write transaction stays open (the lock between nodes). */
	begun = neo_sqlite_exec(db, "BEGIN IMMEDIATE");
	return status != NEO_BACKEND_OK ? status : begun;
}

static int sqlite_rollback(struct neo_db *db)
{
	return neo_sqlite_exec(db, "ROLLBACK; BEGIN IMMEDIATE");
}

static int sqlite_config_get(struct neo_db *db, const char *key, struct neo_bytes *value)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, "SELECT value FROM config WHERE name = ?");
	int status = NEO_BACKEND_NOTFOUND;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		status = neo_sqlite_keep_blob(db, 0, sqlite3_column_text(st, 0),
					      sqlite3_column_bytes(st, 0), value);
	neo_sqlite_finalize(db, st);
	return status;
}

static int sqlite_config_set(struct neo_db *db, const char *key, const struct neo_bytes *value)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db, value != NULL ?
		"REPLACE INTO config (name, value) VALUES (?, ?)" :
		"DELETE FROM config WHERE name = ?");
	int status = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, (const char *)value->data, (int)value->size, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "config");
	neo_sqlite_finalize(db, st);
	return status;
}

static int sqlite_pt_scan(struct neo_db *db, neo_pt_row_cb cb, void *ctx)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"SELECT partition, nid, tid, pack FROM pt ORDER BY partition, nid");
	int r = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	while (r == NEO_BACKEND_OK && sqlite3_step(st) == SQLITE_ROW) {
		struct neo_pt_row row = {
			.partition = (uint32_t)sqlite3_column_int64(st, 0),
			.nid = (int32_t)sqlite3_column_int64(st, 1),
			.tid = sqlite3_column_int64(st, 2),
			.pack = { sqlite3_column_type(st, 3) != SQLITE_NULL,
				  (uint64_t)sqlite3_column_int64(st, 3) },
		};

		r = cb(ctx, &row);
	}
	neo_sqlite_finalize(db, st);
	return r;
}

static int sqlite_pt_apply(struct neo_db *db, const struct neo_pt_row *rows, size_t count,
			   bool reset)
{
	sqlite3_stmt *update = neo_sqlite_prepare(db,
		"UPDATE pt SET tid = ?3 WHERE partition = ?1 AND nid = ?2");
	sqlite3_stmt *insert = neo_sqlite_prepare(db,
		"INSERT OR IGNORE INTO pt (partition, nid, tid, pack) VALUES (?1, ?2, ?3, ?4)");
	sqlite3_stmt *delete = neo_sqlite_prepare(db,
		"DELETE FROM pt WHERE partition = ?1 AND nid = ?2");
	int status = NEO_BACKEND_OK;

	if (update == NULL || insert == NULL || delete == NULL)
		status = NEO_BACKEND_EIO;
	if (status == NEO_BACKEND_OK && reset)
		status = neo_sqlite_exec(db, "DELETE FROM pt");
	for (size_t i = 0; i < count && status == NEO_BACKEND_OK; i++) {
		const struct neo_pt_row *row = &rows[i];
		sqlite3_stmt *st[2] = { row->tid == INT64_MIN ? delete : update, insert };
		int steps = row->tid == INT64_MIN ? 1 : 2;

		/* As upstream: an existing row keeps its pack, only tid changes. */
		for (int k = 0; k < steps && status == NEO_BACKEND_OK; k++) {
			sqlite3_reset(st[k]);
			sqlite3_bind_int64(st[k], 1, row->partition);
			sqlite3_bind_int64(st[k], 2, row->nid);
			if (k == 1 || st[k] == update)
				sqlite3_bind_int64(st[k], 3, row->tid);
			if (k == 1 && row->pack.has)
				sqlite3_bind_int64(st[k], 4, (sqlite3_int64)row->pack.id);
			else if (k == 1)
				sqlite3_bind_null(st[k], 4);
			if (sqlite3_step(st[k]) != SQLITE_DONE)
				status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "pt");
		}
	}
	neo_sqlite_finalize(db, update);
	neo_sqlite_finalize(db, insert);
	neo_sqlite_finalize(db, delete);
	return status;
}

static int sqlite_pt_set_packed(struct neo_db *db, uint32_t partition, int32_t nid, uint64_t pack_id)
{
	sqlite3_stmt *st = neo_sqlite_prepare(db,
		"UPDATE pt SET pack = ? WHERE partition = ? AND nid = ?");
	int status = NEO_BACKEND_OK;

	if (st == NULL)
		return NEO_BACKEND_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)pack_id);
	sqlite3_bind_int64(st, 2, partition);
	sqlite3_bind_int64(st, 3, nid);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = neo_sqlite_fail(db, NEO_BACKEND_EIO, "pt pack");
	else if (sqlite3_changes(db->sql) == 0)
		status = NEO_BACKEND_NOTFOUND;
	neo_sqlite_finalize(db, st);
	return status;
}

static const struct neo_backend sqlite_backend = {
	.abi_major = NEO_BACKEND_ABI_MAJOR,
	.abi_minor = NEO_BACKEND_ABI_MINOR,
	.struct_size = sizeof(struct neo_backend),
	.name = "sqlite",
	.engines = NULL,
	.open = sqlite_open,
	.close = sqlite_close,
	.errmsg = sqlite_errmsg,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.config_get = sqlite_config_get,
	.config_set = sqlite_config_set,
	.pt_scan = sqlite_pt_scan,
	.pt_apply = sqlite_pt_apply,
	.pt_set_packed = sqlite_pt_set_packed,
	.data_put = neo_sqlite_data_put,
	.data_get = neo_sqlite_data_get,
	.obj_get = neo_sqlite_obj_get,
	.obj_last_serial = neo_sqlite_obj_last_serial,
	.obj_put = neo_sqlite_obj_put,
	.obj_data_id = neo_sqlite_obj_data_id,
	.trans_put = neo_sqlite_trans_put,
	.trans_get = neo_sqlite_trans_get,
	.trans_delete = neo_sqlite_trans_delete,
	.final_tid = neo_sqlite_final_tid,
	.txn_lock = neo_sqlite_txn_lock,
	.txn_unlock = neo_sqlite_txn_unlock,
	.txn_abort = neo_sqlite_txn_abort,
	.txn_unfinished = neo_sqlite_txn_unfinished,
	.txn_staged_data_ids = neo_sqlite_txn_staged_data_ids,
	.tid_list_desc = neo_sqlite_tid_list_desc,
	.tid_range = neo_sqlite_tid_range,
	.obj_range = neo_sqlite_obj_range,
	.oid_range = neo_sqlite_oid_range,
	.last_obj_ids = neo_sqlite_last_obj_ids,
	.last_trans_tid = neo_sqlite_last_trans_tid,
	.first_trans_tid = neo_sqlite_first_trans_tid,
	.obj_history = neo_sqlite_obj_history,
	.obj_undo_history = neo_sqlite_obj_undo_history,
	.obj_delete = neo_sqlite_obj_delete,
	.data_prune = neo_sqlite_data_prune,
	.data_orphans = neo_sqlite_data_orphans,
	.device_path = neo_sqlite_device_path,
	.db_size = neo_sqlite_db_size,
	.pack_order_put = neo_sqlite_pack_order_put,
	.pack_order_rename = neo_sqlite_pack_order_rename,
	.pack_order_sign = neo_sqlite_pack_order_sign,
	.pack_orders_from = neo_sqlite_pack_orders_from,
	.pack_oid = neo_sqlite_pack_oid,
	.range_delete = neo_sqlite_range_delete,
	.drop_step = neo_sqlite_drop_step,
};

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	if (host_abi_major != NEO_BACKEND_ABI_MAJOR)
		return NULL;
	return &sqlite_backend;
}
