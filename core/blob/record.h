/*
 * blob/record.h - how a blob is laid out in ordinary object records
 * (core/client/blobs.md): a blob object's record is its own data followed
 * by a manifest (blob size, chunk size, chunk count, SHA-1, chunk oids)
 * and a trailer; each chunk is a record starting with "NEOCHUNK".  Read
 * here for libneoclient, which writes and reads blobs, and for the
 * storages, whose garbage collection counts a blob object's chunks among
 * its references.  Pure functions over a record's bytes; no allocation.
 */
#ifndef NEO_BLOB_RECORD_H
#define NEO_BLOB_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NEO_BLOB_TRAILER_SIZE 16	/* manifest size, format version, magic */
#define NEO_BLOB_MANIFEST_HEAD 36	/* size 8, chunk size 4, count 4, SHA-1 20 */
#define NEO_BLOB_FORMAT_VERSION 1
#define NEO_BLOB_CHUNK_HEADER 8		/* "NEOCHUNK" */

extern const uint8_t neo_blob_magic[8];		/* "NEO-BLOB", the trailer's end */
extern const uint8_t neo_blob_chunk_magic[8];	/* "NEOCHUNK" */

struct neo_blob_manifest {
	uint64_t blob_size;
	uint32_t chunk_size;
	uint32_t count;
	uint8_t sha1[20];
	const uint8_t *oids;		/* count big-endian oids, in the record */
	size_t data_size;		/* the object's own data before it */
};

/* Parses the manifest at the end of a record: false if there is none, or
 * if it is inconsistent (then the record is not taken for a blob's). */
bool neo_blob_manifest_parse(const uint8_t *record, size_t size, struct neo_blob_manifest *m);
/* The i-th chunk oid of a parsed manifest. */
uint64_t neo_blob_manifest_oid(const struct neo_blob_manifest *m, uint32_t i);
/* Whether a record is a blob's chunk. */
bool neo_blob_is_chunk(const uint8_t *record, size_t size);

#endif
