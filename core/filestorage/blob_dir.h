/*
 * filestorage/blob_dir.h - ZODB's blob directory (blob-dir of a
 * FileStorage), read by the Importer and neomigrate, written by
 * neomigrate (fs_blobdir.c says where ZODB puts the files).
 */
#ifndef NEO_FILESTORAGE_BLOB_DIR_H
#define NEO_FILESTORAGE_BLOB_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blob_dir {
	const char *path;		/* the caller's */
	bool bushy;			/* else lawn */
};

/* An existing directory; its layout from .layout (as ZODB). */
int blob_dir_open(const char *path, struct blob_dir *bd, char *err, size_t errlen);
/* Makes the directory (0700, as ZODB wants it) if missing, bushy when new. */
int blob_dir_create(const char *path, struct blob_dir *bd, char *err, size_t errlen);
/* The path of the blob file of revision tid of oid. */
int blob_dir_file(const struct blob_dir *bd, uint64_t oid, uint64_t tid, char *out, size_t len);
/* Makes the directories of oid's files. */
int blob_dir_make_parents(const struct blob_dir *bd, uint64_t oid, char *err, size_t errlen);
/* Whether a record may be a ZODB blob's (ZODB's is_blob_record test:
 * true for records that refer to blobs too). */
bool blob_record_may_be_blob(const void *data, size_t size);
/* Whether a record is a ZODB.blob.Blob's own (its class pickle). */
bool blob_record_is_zodb_blob(const void *data, size_t size);

#endif
