/*
 * mysql_statements.c - prepared statements of mysql_innodb.so: the cache,
 * parameters, execution with the reconnection rule, and reading rows.
 *
 * Reconnection (core/neo/backend.md section 6.1, as upstream): when the
 * server is gone (restarted, or the connection KILLed) and nothing was left
 * uncommitted, the statement is retried once on a new connection, so a read
 * or the first write of a transaction never notices.  When changes were
 * uncommitted, the server has rolled them back: the operation fails with
 * ETRANSIENT, and so does every later one until the node calls rollback(),
 * lest it commit half a transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "mysql_db.h"

int neo_mysql_fail(struct neo_db *db, int status, const char *what)
{
	if (db->conn == NULL)
		snprintf(db->errmsg, sizeof(db->errmsg), "%.200s: not connected", what);
	else
		snprintf(db->errmsg, sizeof(db->errmsg), "%.200s: MySQL error %u: %s", what,
			 mysql_errno(db->conn), mysql_error(db->conn));
	return status;
}

static int statement_failure(struct neo_db *db, MYSQL_STMT *st, const char *sql)
{
	unsigned int code = mysql_stmt_errno(st);

	snprintf(db->errmsg, sizeof(db->errmsg), "%.160s: MySQL error %u: %s", sql, code,
		 mysql_stmt_error(st));
	if (code == ER_DUP_ENTRY)
		return NEO_BACKEND_EDUP;
	if (code == ER_DATA_TOO_LONG || code == ER_NET_PACKET_TOO_LARGE)
		return NEO_BACKEND_EINVAL;
	return NEO_BACKEND_EIO;
}

/* --- Parameters ---------------------------------------------------------- */

void neo_mysql_bind_id(MYSQL_BIND *bind, const uint64_t *value)
{
	memset(bind, 0, sizeof(*bind));
	bind->buffer_type = MYSQL_TYPE_LONGLONG;
	bind->buffer = (void *)value;
	bind->is_unsigned = 1;
}

void neo_mysql_bind_int(MYSQL_BIND *bind, const int64_t *value)
{
	memset(bind, 0, sizeof(*bind));
	bind->buffer_type = MYSQL_TYPE_LONGLONG;
	bind->buffer = (void *)value;
}

void neo_mysql_bind_null(MYSQL_BIND *bind)
{
	memset(bind, 0, sizeof(*bind));
	bind->buffer_type = MYSQL_TYPE_NULL;
}

void neo_mysql_bind_opt(MYSQL_BIND *bind, const struct neo_opt_id *value)
{
	if (value->has)
		neo_mysql_bind_id(bind, &value->id);
	else
		neo_mysql_bind_null(bind);
}

void neo_mysql_bind_bytes(MYSQL_BIND *bind, const void *data, const unsigned long *length)
{
	memset(bind, 0, sizeof(*bind));
	bind->buffer_type = MYSQL_TYPE_BLOB;
	bind->buffer = (void *)(data != NULL ? data : "");
	bind->buffer_length = *length;
	bind->length = (unsigned long *)length;
}

/* --- The cache ----------------------------------------------------------- */

static MYSQL_STMT *cached_statement(struct neo_db *db, const char *sql)
{
	/* By text only: a pointer seen before may now hold another text
	 * (insert_text's buffers are freed and malloc hands the address out
	 * again), and a staged write then ran the cached INSERT INTO obj,
	 * committing revisions under their ttid. */
	for (size_t i = 0; i < db->statement_count; i++)
		if (!db->statements[i].in_use && strcmp(db->statements[i].sql, sql) == 0)
			return db->statements[i].st;
	return NULL;
}

static struct neo_mysql_cached *slot_of(struct neo_db *db, MYSQL_STMT *st)
{
	for (size_t i = 0; i < db->statement_count; i++)
		if (db->statements[i].st == st)
			return &db->statements[i];
	return NULL;
}

static void remember(struct neo_db *db, const char *sql, MYSQL_STMT *st)
{
	struct neo_mysql_cached *slot;

	if (db->statement_count == NEO_MYSQL_CACHED_STATEMENTS)
		return;
	slot = &db->statements[db->statement_count];
	slot->sql = strdup(sql);
	if (slot->sql == NULL)
		return;
	slot->st = st;
	db->statement_count++;
}

/* A prepared statement for sql, marked in use; NULL with *code set. */
static MYSQL_STMT *prepare(struct neo_db *db, const char *sql, bool cache, unsigned int *code)
{
	MYSQL_STMT *st = cache ? cached_statement(db, sql) : NULL;
	struct neo_mysql_cached *slot;

	if (st == NULL) {
		st = mysql_stmt_init(db->conn);
		if (st == NULL) {
			*code = mysql_errno(db->conn);
			neo_mysql_fail(db, NEO_BACKEND_EIO, "statement");
			return NULL;
		}
		if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
			*code = mysql_stmt_errno(st);
			statement_failure(db, st, sql);
			mysql_stmt_close(st);
			return NULL;
		}
		if (cache)
			remember(db, sql, st);
	}
	slot = slot_of(db, st);
	if (slot != NULL)
		slot->in_use = true;
	return st;
}

void neo_mysql_done(struct neo_db *db, MYSQL_STMT *st)
{
	struct neo_mysql_cached *slot;

	if (st == NULL)
		return;
	slot = slot_of(db, st);
	if (slot == NULL) {
		mysql_stmt_close(st);
		return;
	}
	mysql_stmt_free_result(st);
	slot->in_use = false;
}

void neo_mysql_forget_statements(struct neo_db *db)
{
	for (size_t i = 0; i < db->statement_count; i++) {
		mysql_stmt_close(db->statements[i].st);
		free(db->statements[i].sql);
	}
	db->statement_count = 0;
}

/* --- Execution ----------------------------------------------------------- */

/* One try; on failure *code is the MySQL error (0 when there is none,
 * e.g. a failed reconnection whose status is returned as is). */
static int attempt(struct neo_db *db, const char *sql, bool cache, MYSQL_BIND *params,
		   MYSQL_STMT **out, unsigned int *code)
{
	MYSQL_STMT *st;
	int status;

	*code = 0;
	if (db->conn == NULL) {
		status = neo_mysql_connect(db);
		if (status != NEO_BACKEND_OK)
			return status;
	}
	st = prepare(db, sql, cache, code);
	if (st == NULL)
		return *code == ER_DUP_ENTRY ? NEO_BACKEND_EDUP : NEO_BACKEND_EIO;
	if ((params != NULL && mysql_stmt_bind_param(st, params) != 0) ||
	    mysql_stmt_execute(st) != 0 ||
	    (mysql_stmt_field_count(st) > 0 && mysql_stmt_store_result(st) != 0)) {
		*code = mysql_stmt_errno(st);
		status = statement_failure(db, st, sql);
		neo_mysql_done(db, st);
		return status;
	}
	*out = st;
	return NEO_BACKEND_OK;
}

static int lost_with_changes(struct neo_db *db)
{
	db->lost = true;
	snprintf(db->errmsg, sizeof(db->errmsg), "lost the connection to the MySQL server with "
		 "uncommitted changes, which the server rolled back; roll back and redo them");
	return NEO_BACKEND_ETRANSIENT;
}

static int execute(struct neo_db *db, const char *sql, bool cache, MYSQL_BIND *params,
		   MYSQL_STMT **out)
{
	unsigned int code;
	int status;

	*out = NULL;
	if (db->lost)
		return lost_with_changes(db);
	for (int tries = 0; tries < 2; tries++) {
		status = attempt(db, sql, cache, params, out, &code);
		if (status == NEO_BACKEND_OK) {
			/* A read leaves nothing to lose; anything else may. */
			if (strncmp(sql, "SELECT", 6) != 0)
				db->active = true;
			return status;
		}
		if (!neo_mysql_is_lost(code))
			return status;
		neo_mysql_disconnect(db);
		if (db->active)
			return lost_with_changes(db);
		neo_mysql_log(db, NEO_BACKEND_LOG_INFO, "the MySQL server is gone; reconnecting");
	}
	return NEO_BACKEND_ETRANSIENT;
}

int neo_mysql_execute(struct neo_db *db, const char *sql, MYSQL_BIND *params, MYSQL_STMT **st)
{
	return execute(db, sql, true, params, st);
}

int neo_mysql_execute_once(struct neo_db *db, const char *sql, MYSQL_BIND *params,
			   MYSQL_STMT **st)
{
	return execute(db, sql, false, params, st);
}

int neo_mysql_run(struct neo_db *db, const char *sql, MYSQL_BIND *params, uint64_t *affected)
{
	MYSQL_STMT *st;
	int status = neo_mysql_execute(db, sql, params, &st);

	if (status == NEO_BACKEND_OK && affected != NULL)
		*affected = (uint64_t)mysql_stmt_affected_rows(st);
	neo_mysql_done(db, st);
	return status;
}

/* Binds ids to as many parameters as sql has: the count of '?'. */
static int bind_ids(MYSQL_BIND *params, const char *sql, uint64_t *ids)
{
	int n = 0;

	for (const char *p = sql; *p != '\0' && n < 3; p++)
		if (*p == '?') {
			neo_mysql_bind_id(&params[n], &ids[n]);
			n++;
		}
	return n;
}

int neo_mysql_run_ids(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *affected)
{
	uint64_t ids[3] = { a, b, c };
	MYSQL_BIND params[3];

	return neo_mysql_run(db, sql, bind_ids(params, sql, ids) ? params : NULL, affected);
}

/* --- Rows ---------------------------------------------------------------- */

int neo_mysql_keep(struct neo_db *db, int slot, const void *data, size_t size,
		   struct neo_bytes *out)
{
	/* never a NULL pointer, even for no bytes: callers memcmp it */
	if (size + 1 > db->scratch_size[slot]) {
		uint8_t *grown = realloc(db->scratch[slot], size + 1);

		if (grown == NULL) {
			snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
			return NEO_BACKEND_EIO;
		}
		db->scratch[slot] = grown;
		db->scratch_size[slot] = size + 1;
	}
	if (data != NULL && size > 0)
		memcpy(db->scratch[slot], data, size);
	out->data = db->scratch[slot];
	out->size = size;
	return NEO_BACKEND_OK;
}

/* Fetches blob column `column` of the current row into scratch `slot`. */
static int fetch_blob(struct neo_db *db, MYSQL_STMT *st, unsigned int column, int slot,
		      unsigned long length, struct neo_bytes *out)
{
	MYSQL_BIND bind;
	int status = neo_mysql_keep(db, slot, NULL, length, out);

	if (status != NEO_BACKEND_OK || length == 0)
		return status;
	memset(&bind, 0, sizeof(bind));
	bind.buffer_type = MYSQL_TYPE_BLOB;
	bind.buffer = db->scratch[slot];
	bind.buffer_length = length;
	if (mysql_stmt_fetch_column(st, &bind, column, 0) != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "fetch: MySQL error %u: %s",
			 mysql_stmt_errno(st), mysql_stmt_error(st));
		return NEO_BACKEND_EIO;
	}
	return NEO_BACKEND_OK;
}

int neo_mysql_fetch(struct neo_db *db, MYSQL_STMT *st, struct neo_mysql_row *row)
{
	MYSQL_BIND out[NEO_MYSQL_MAX_IDS + NEO_MYSQL_MAX_BLOBS];
	neo_mysql_flag nulls[NEO_MYSQL_MAX_IDS + NEO_MYSQL_MAX_BLOBS];
	unsigned long lengths[NEO_MYSQL_MAX_IDS + NEO_MYSQL_MAX_BLOBS];
	int n = row->ids + row->blobs, r, status = NEO_BACKEND_OK;

	memset(out, 0, sizeof(out));
	for (int i = 0; i < n; i++) {
		/* ids are read as unsigned: a signed column (pt.tid) keeps
		 * its bits, and the caller casts it back */
		out[i].buffer_type = i < row->ids ? MYSQL_TYPE_LONGLONG : MYSQL_TYPE_BLOB;
		out[i].buffer = i < row->ids ? (void *)&row->id[i] : NULL;
		out[i].is_unsigned = 1;
		out[i].is_null = &nulls[i];
		out[i].length = &lengths[i];
	}
	if (mysql_stmt_bind_result(st, out) != 0)
		return neo_mysql_fail(db, NEO_BACKEND_EIO, "bind result");
	r = mysql_stmt_fetch(st);
	if (r == MYSQL_NO_DATA)
		return NEO_BACKEND_NOTFOUND;
	if (r != 0 && r != MYSQL_DATA_TRUNCATED)
		return neo_mysql_fail(db, NEO_BACKEND_EIO, "fetch");
	for (int i = 0; i < row->ids; i++) {
		row->null[i] = nulls[i] != 0;
		if (row->null[i])
			row->id[i] = 0;
	}
	for (int j = 0; j < row->blobs && status == NEO_BACKEND_OK; j++) {
		int column = row->ids + j;

		row->blob_null[j] = nulls[column] != 0;
		status = fetch_blob(db, st, (unsigned int)column, j,
				    row->blob_null[j] ? 0 : lengths[column], &row->blob[j]);
	}
	return status;
}

int neo_mysql_scan(struct neo_db *db, MYSQL_STMT *st, neo_id_cb one, neo_id_pair_cb two,
		   void *ctx)
{
	struct neo_mysql_row row = { .ids = one != NULL ? 1 : 2 };
	int status = NEO_BACKEND_OK, r = NEO_BACKEND_OK;

	while (r == NEO_BACKEND_OK && (status = neo_mysql_fetch(db, st, &row)) == NEO_BACKEND_OK) {
		if (one != NULL)
			r = one(ctx, row.id[0]);
		else
			r = two(ctx, row.id[0], row.null[1] ? UINT64_MAX : row.id[1]);
	}
	neo_mysql_done(db, st);
	if (r != NEO_BACKEND_OK)
		return r;
	return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : status;
}

int neo_mysql_each_id(struct neo_db *db, const char *sql, uint64_t a, uint64_t b, uint64_t c,
		      neo_id_cb cb, void *ctx)
{
	uint64_t ids[3] = { a, b, c };
	MYSQL_BIND params[3];
	MYSQL_STMT *st;
	int status;

	if (cb == NULL)
		return NEO_BACKEND_OK;
	status = neo_mysql_execute(db, sql, bind_ids(params, sql, ids) ? params : NULL, &st);
	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, cb, NULL, ctx);
}

char *neo_mysql_partition_list(const uint32_t *partitions, size_t count)
{
	char *list = malloc(count * 12 + 8);
	size_t used;

	if (list == NULL)
		return NULL;
	used = (size_t)sprintf(list, "IN (");
	for (size_t i = 0; i < count; i++)
		used += (size_t)sprintf(list + used, i ? ",%u" : "%u", (unsigned)partitions[i]);
	strcpy(list + used, ")");
	return list;
}

uint64_t neo_mysql_limit(uint64_t length)
{
	return length == 0 ? UINT64_MAX : length;
}

int neo_mysql_query_row(struct neo_db *db, const char *sql, MYSQL_BIND *params,
			struct neo_mysql_row *row)
{
	MYSQL_STMT *st;
	int status = neo_mysql_execute(db, sql, params, &st);

	if (status != NEO_BACKEND_OK)
		return status;
	status = neo_mysql_fetch(db, st, row);
	neo_mysql_done(db, st);
	return status;
}
