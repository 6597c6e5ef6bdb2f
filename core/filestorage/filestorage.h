/*
 * filestorage/filestorage.h - ZODB's FileStorage (Data.fs) read and
 * written natively, for the Importer backend (backends/importer) and
 * neomigrate.  The format is described in core/filestorage/format.md.
 *
 * What this library promises:
 *   - fs_open() accepts a file that starts with "FS30" (ZODB on Python 3)
 *     or "FS21" (ZODB on Python 2; the records are the same), or an empty
 *     file when creating (it then writes "FS30"), and refuses anything
 *     else with a message.
 *   - Transactions are read in file order, which is tid order.  As ZODB's
 *     own reader, the scan stops without error at the first transaction
 *     that is incomplete (a truncated tail: its length runs past the end
 *     of the file, or its status is 'c', an unfinished checkpoint), and
 *     fs_scan_end() tells where the valid part ends.  Inconsistent data
 *     inside the valid part (a data record outside its transaction, a
 *     redundant length that differs, versions) is FS_ECORRUPT.
 *   - Each data record gives oid, serial, prev, tpos, data length and,
 *     when it has no data, its back pointer; fs_record_resolve() follows
 *     back pointers as ZODB does and gives the data and the data_txn (the
 *     tid of the record the back pointer names, one link back, as ZODB's
 *     iterator reports it).
 *   - fs_append_txn() appends one transaction in the same format, written
 *     at the end of the valid part with a single write, then synced, so a
 *     crash leaves at worst a truncated tail, which readers skip and the
 *     next append overwrites.
 *   - fs_index_build() builds an in-memory index: every transaction (tid,
 *     position) and every revision (oid, tid, position) sorted by (oid,
 *     tid), for random reads by oid and tid.
 *
 * ZODB's blob directory beside a FileStorage (its blob-dir) is in
 * filestorage/blob_dir.h.
 *
 * Memory: everything is allocated with runtime/alloc.h and owned by the
 * struct that holds it; free with the matching *_free / fs_close.
 * Errors: functions return enum fs_status; a message is in fs->err.
 */
#ifndef NEO_FILESTORAGE_H
#define NEO_FILESTORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fs_status {
	FS_OK = 0,
	FS_END = 1,		/* no more transactions / records */
	FS_ENOTFOUND = 2,	/* no such oid or revision */
	FS_EIO = 3,
	FS_ECORRUPT = 4,
	FS_EFORMAT = 5,		/* not a FileStorage */
	FS_ENOMEM = 6
};

#define FS_MAGIC "FS30"		/* written by us, as ZODB on Python 3 */
#define FS_MAGIC_PY2 "FS21"
#define FS_MAGIC_LEN 4
#define FS_TXN_HEADER_LEN 23
#define FS_DATA_HEADER_LEN 42

struct fs_file {
	int fd;
	bool writable;
	uint64_t size;			/* bytes in the file when last looked */
	uint64_t end;			/* end of the valid part, once scanned */
	uint64_t last_tid;		/* tid of the last valid transaction, 0: none */
	char path[4096];
	char err[512];
};

/* A transaction header and its metadata (user, description, extension
 * point into the owner's buffer, valid until the next read). */
struct fs_txn {
	uint64_t tid;
	uint64_t pos;			/* of the header */
	uint64_t tlen;			/* the length stored in the header */
	char status;			/* ' ', 'p', 'u' */
	const uint8_t *user, *description, *extension;
	uint16_t ulen, dlen, elen;
	uint64_t records;		/* position of its first data record */
	uint64_t end;			/* position of its redundant length */
};

/* A data record header. */
struct fs_record {
	uint64_t pos;
	uint64_t oid, tid, prev, tpos;
	uint64_t plen;			/* 0: no data here, see back */
	uint64_t back;			/* back pointer when plen == 0 */
};

/* What a record stands for, back pointers followed. */
struct fs_resolved {
	bool has_data;			/* false: a deletion, an undone creation */
	uint64_t data_pos;		/* where the data bytes are (has_data) */
	uint64_t data_len;
	bool has_data_txn;		/* the record was a back pointer */
	uint64_t data_txn;
};

/* Opens an existing file (create: makes an empty FileStorage when the
 * file is missing or empty; the caller must ask writable). */
int fs_open(const char *path, bool writable, bool create, struct fs_file **out,
	    char *err, size_t errlen);
void fs_close(struct fs_file *fs);

/* Low-level reads at a position. */
int fs_read_txn(struct fs_file *fs, uint64_t pos, struct fs_txn *txn, uint8_t **buf,
		size_t *bufcap);
int fs_read_record(struct fs_file *fs, uint64_t pos, struct fs_record *rec);
int fs_record_resolve(struct fs_file *fs, const struct fs_record *rec, struct fs_resolved *out);
/* Reads len bytes at pos into buf (exactly, or FS_EIO/FS_ECORRUPT). */
int fs_pread(struct fs_file *fs, uint64_t pos, void *buf, size_t len);

/* Iterates over transactions in file order, then over the data records
 * of the current one. */
struct fs_iter {
	struct fs_file *fs;
	uint64_t pos;			/* next transaction */
	uint64_t stop_tid;		/* transactions after it are not given; 0: all */
	struct fs_txn txn;		/* the current one */
	uint64_t rec_pos;		/* next record of the current one */
	uint8_t *buf;			/* metadata of txn */
	size_t bufcap;
	bool ended;
};
void fs_iter_init(struct fs_iter *it, struct fs_file *fs, uint64_t start_pos, uint64_t stop_tid);
/* FS_OK with it->txn filled, FS_END after the last valid transaction. */
int fs_iter_next_txn(struct fs_iter *it);
/* FS_OK with *rec filled, FS_END after the last record of it->txn. */
int fs_iter_next_record(struct fs_iter *it, struct fs_record *rec);
void fs_iter_free(struct fs_iter *it);

/* Sets fs->end and fs->last_tid by scanning the whole file. */
int fs_scan_end(struct fs_file *fs);

/* --- Index ---------------------------------------------------------------- */

struct fs_index_txn {
	uint64_t tid;
	uint64_t pos;
};

struct fs_index_rev {
	uint64_t oid;
	uint64_t tid;
	uint64_t pos;			/* of the data record */
};

struct fs_index {
	struct fs_index_txn *txns;	/* in tid order */
	size_t ntxns;
	struct fs_index_rev *revs;	/* sorted by (oid, tid) */
	size_t nrevs;
	uint64_t max_oid;
	bool has_oid;
	uint64_t end;			/* end of the indexed part */
	uint64_t bytes;			/* of the indexed part, for progress */
};

/* Indexes transactions with tid <= stop_tid (0: all).  Returns FS_OK. */
int fs_index_build(struct fs_file *fs, uint64_t stop_tid, struct fs_index *index);
void fs_index_free(struct fs_index *index);
/* The revisions of oid: *first and *count in index->revs (count 0: none). */
void fs_index_oid(const struct fs_index *index, uint64_t oid, size_t *first, size_t *count);
/* The index in txns of the transaction tid, or -1. */
long fs_index_txn(const struct fs_index *index, uint64_t tid);
/* The index in txns of the first transaction with tid >= tid. */
size_t fs_index_txn_from(const struct fs_index *index, uint64_t tid);

/* --- Writing -------------------------------------------------------------- */

struct fs_new_record {
	uint64_t oid;
	uint64_t prev;			/* previous record of oid, 0: none */
	bool has_data;
	const uint8_t *data;
	size_t len;			/* > 0 when has_data */
	uint64_t back;			/* !has_data: record position or 0 */
};

/* Appends a committed transaction at fs->end (scanned first if needed);
 * *record_pos receives the position of each record (may be NULL).
 * status is ' ' or 'p'. */
int fs_append_txn(struct fs_file *fs, uint64_t tid, char status,
		  const uint8_t *user, size_t ulen, const uint8_t *desc, size_t dlen,
		  const uint8_t *ext, size_t elen, const struct fs_new_record *records,
		  size_t count, uint64_t *record_pos);

/* Sets fs->err to "PATH: message" and returns status. */
int fs_fail(struct fs_file *fs, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Big-endian helpers. */
uint64_t fs_u64(const uint8_t *p);
void fs_put_u64(uint8_t *p, uint64_t v);

#endif
