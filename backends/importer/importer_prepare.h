/*
 * importer_prepare.h - the first stage of the import: worker threads read
 * the Data.fs's transactions and put their records in the form they are
 * stored (compressed, checksummed) in chunks of consecutive transactions,
 * ahead of the import thread, which writes the chunks into the
 * destination in order (importer_import.c).  Compression, half of the
 * work, thus runs on several cores and never waits for the destination.
 *
 * A chunk is a run of consecutive transactions of the index of about
 * CHUNK_BYTES of the Data.fs (at least one).  Chunks are numbered in tid
 * order; a ring of slots holds the ones prepared and not written yet, so
 * that memory is bounded (slots * about CHUNK_BYTES).  Each worker reads
 * with its own handle on the Data.fs: nothing it uses is shared with the
 * node's thread but the index, which does not change once built.
 */
#ifndef NEO_IMPORTER_PREPARE_H
#define NEO_IMPORTER_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "importer_db.h"

enum prepared_kind { PREPARED_DATA, PREPARED_UNDO, PREPARED_NO_DATA };

/* A record read and put in the form it is stored. */
struct prepared_record {
	uint64_t oid;
	enum prepared_kind kind;
	uint64_t data_txn;		/* PREPARED_UNDO */
	uint8_t compression, checksum[20];
	size_t off, len;		/* PREPARED_DATA: in chunk.bytes */
};

struct prepared_txn {
	uint64_t tid;
	bool packed;
	size_t meta;			/* user, description, extension in chunk.bytes */
	uint16_t ulen, dlen, elen;
	size_t first, count;		/* its records in chunk.recs */
};

/* Transactions index.txns[first .. first + ntxns), ready to write. */
struct chunk {
	size_t first, ntxns;
	struct prepared_txn *txns;
	size_t txncap;
	struct prepared_record *recs;
	size_t nrecs, reccap;
	uint8_t *bytes;
	size_t nbytes, bytecap;
	bool failed;
	char err[1024];			/* when failed */
};

struct prepare;

/* Starts the workers on the transactions from index.txns[first]; one
 * transaction per chunk when one_txn_chunks (tests that look at a slowed
 * import).  NULL when out of memory or when no thread could start. */
struct prepare *prepare_start(struct neo_db *db, size_t first, bool one_txn_chunks);
/* The next chunk in tid order, once prepared (c->failed: a read failed,
 * c->err says why); NULL after prepare_cancel().  It stays the caller's
 * until prepare_release(). */
struct chunk *prepare_next(struct prepare *p);
/* The next chunk if it is prepared already, else NULL (never waits). */
struct chunk *prepare_next_ready(struct prepare *p);
/* Gives a chunk's slot back to the workers, in the order taken. */
void prepare_release(struct prepare *p, struct chunk *c);
/* Wakes whoever waits in prepare_next; the workers stop soon. */
void prepare_cancel(struct prepare *p);
/* Cancels, joins the workers, frees everything. */
void prepare_stop(struct prepare *p);

#endif
