/*
 * sqlite_db.h - what the files of sqlite.so share: the handle and small
 * helpers around prepared statements.
 *
 * The handle keeps one write transaction open at all times (BEGIN after
 * open and after every commit), so that everything between two commits
 * is atomic, as the node expects.  Blobs returned to the node are copied
 * into the handle's scratch buffers, valid until the next call.
 */
#ifndef NEO_SQLITE_DB_H
#define NEO_SQLITE_DB_H

#include <sqlite3.h>

#include <neo/backend.h>

#define NEO_SQLITE_SCHEMA_VERSION 4

struct neo_db {
	sqlite3 *sql;
	char errmsg[512];
	bool dedup;
	uint8_t *scratch[4];		/* copies of returned blobs */
	size_t scratch_size[4];
};

/* Records the message of the last failure; returns status. */
int neo_sqlite_fail(struct neo_db *db, int status, const char *what);

/* Prepares sql; NULL with the error recorded. */
sqlite3_stmt *neo_sqlite_prepare(struct neo_db *db, const char *sql);

/* Runs statements with no result; returns a backend status. */
int neo_sqlite_exec(struct neo_db *db, const char *sql);

/* Copies a blob into scratch slot `slot`; returns a neo_bytes over it. */
int neo_sqlite_keep_blob(struct neo_db *db, int slot, const void *data, int size,
			 struct neo_bytes *out);

/* Table creation and the schema version check (sqlite_schema.c). */
int neo_sqlite_setup_schema(struct neo_db *db, bool dedup, char *err, size_t errlen);

#endif
