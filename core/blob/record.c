/*
 * blob/record.c - reading the blob layout of core/client/blobs.md out of
 * a record's bytes (blob/record.h).
 */
#include "blob/record.h"

#include <string.h>

const uint8_t neo_blob_magic[8] = { 'N', 'E', 'O', '-', 'B', 'L', 'O', 'B' };
const uint8_t neo_blob_chunk_magic[8] = { 'N', 'E', 'O', 'C', 'H', 'U', 'N', 'K' };

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool neo_blob_manifest_parse(const uint8_t *record, size_t size, struct neo_blob_manifest *m)
{
	const uint8_t *trailer, *head;
	uint32_t manifest_size;
	uint64_t needed;

	if (record == NULL || size < NEO_BLOB_TRAILER_SIZE + NEO_BLOB_MANIFEST_HEAD)
		return false;
	trailer = record + size - NEO_BLOB_TRAILER_SIZE;
	if (memcmp(trailer + 8, neo_blob_magic, sizeof neo_blob_magic) != 0
	    || get_u32(trailer + 4) != NEO_BLOB_FORMAT_VERSION)
		return false;
	manifest_size = get_u32(trailer);
	if (manifest_size < NEO_BLOB_MANIFEST_HEAD || manifest_size > size - NEO_BLOB_TRAILER_SIZE)
		return false;
	head = trailer - manifest_size;
	m->blob_size = get_u64(head);
	m->chunk_size = get_u32(head + 8);
	m->count = get_u32(head + 12);
	memcpy(m->sha1, head + 16, 20);
	m->oids = head + NEO_BLOB_MANIFEST_HEAD;
	m->data_size = (size_t)(head - record);
	if (m->chunk_size == 0
	    || manifest_size != NEO_BLOB_MANIFEST_HEAD + 8 * (uint64_t)m->count)
		return false;
	needed = (m->blob_size + m->chunk_size - 1) / m->chunk_size;
	return needed == m->count;
}

uint64_t neo_blob_manifest_oid(const struct neo_blob_manifest *m, uint32_t i)
{
	return get_u64(m->oids + 8 * (size_t)i);
}

bool neo_blob_is_chunk(const uint8_t *record, size_t size)
{
	return record && size >= NEO_BLOB_CHUNK_HEADER
	       && memcmp(record, neo_blob_chunk_magic, NEO_BLOB_CHUNK_HEADER) == 0;
}
