/*
 * client/blob.c - blobs as ordinary records (core/client/blobs.md): a
 * blob object's record is its own data followed by a manifest and a
 * trailer; the blob's bytes are chunk records under new oids, stored in
 * the same transaction.  Only the public calls of read.c and txn.c are
 * used, plus the uncached load: at most READ_AHEAD chunks are in memory
 * here.
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "runtime/alloc.h"

/* The trailer ends the record: manifest size, format version, magic. */
#define TRAILER_SIZE 16
#define MANIFEST_HEAD 36		/* size 8, chunk size 4, count 4, SHA-1 20 */
#define FORMAT_VERSION 1
static const uint8_t blob_magic[8] = { 'N', 'E', 'O', '-', 'B', 'L', 'O', 'B' };
/* A chunk record starts with it, so that an iterator can leave chunks out. */
static const uint8_t chunk_magic[8] = { 'N', 'E', 'O', 'C', 'H', 'U', 'N', 'K' };
#define CHUNK_HEADER 8

/* Chunk oids asked of the master at once. */
#define OID_BATCH 64

struct manifest {
	uint64_t blob_size;
	uint32_t chunk_size;
	uint32_t count;
	uint8_t sha1[20];
	const uint8_t *oids;		/* count big-endian oids, in the record */
	size_t data_size;		/* the object's own data before it */
};

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

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Parses the manifest at the end of a record; false if there is none
 * (or it is inconsistent: then the record is not taken for a blob's). */
static bool manifest_parse(const uint8_t *record, size_t size, struct manifest *m)
{
	const uint8_t *trailer, *head;
	uint32_t manifest_size;
	uint64_t needed;

	if (record == NULL || size < TRAILER_SIZE + MANIFEST_HEAD)
		return false;
	trailer = record + size - TRAILER_SIZE;
	if (memcmp(trailer + 8, blob_magic, sizeof blob_magic) != 0
	    || get_u32(trailer + 4) != FORMAT_VERSION)
		return false;
	manifest_size = get_u32(trailer);
	if (manifest_size < MANIFEST_HEAD || manifest_size > size - TRAILER_SIZE)
		return false;
	head = trailer - manifest_size;
	m->blob_size = get_u64(head);
	m->chunk_size = get_u32(head + 8);
	m->count = get_u32(head + 12);
	memcpy(m->sha1, head + 16, 20);
	m->oids = head + MANIFEST_HEAD;
	m->data_size = (size_t)(head - record);
	if (m->chunk_size == 0 || manifest_size != MANIFEST_HEAD + 8 * (uint64_t)m->count)
		return false;
	needed = (m->blob_size + m->chunk_size - 1) / m->chunk_size;
	return needed == m->count;
}

size_t neo_client_blob_data_size(const void *record, size_t size)
{
	struct manifest m;

	return manifest_parse(record, size, &m) ? m.data_size : size;
}

bool neo_client_record_is_blob(const void *record, size_t size)
{
	struct manifest m;

	return manifest_parse(record, size, &m);
}

bool neo_client_record_is_blob_chunk(const void *record, size_t size)
{
	return record && size >= CHUNK_HEADER && memcmp(record, chunk_magic, CHUNK_HEADER) == 0;
}

int neo_client_blob_chunk_oids(const void *record, size_t size, uint64_t **oids, size_t *count)
{
	struct manifest m;

	*oids = NULL;
	*count = 0;
	if (!manifest_parse(record, size, &m))
		return client_fail(NEO_CLIENT_NOT_BLOB, "not a blob object's record");
	*oids = neo_malloc(m.count ? 8 * (size_t)m.count : 1);
	if (*oids == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	for (uint32_t i = 0; i < m.count; i++)
		(*oids)[i] = get_u64(m.oids + 8 * (size_t)i);
	*count = m.count;
	return NEO_CLIENT_OK;
}

/* --- Files ------------------------------------------------------------------------- */

/* Reads up to size bytes (less only at the end of the file). */
static int read_full(int fd, uint8_t *buffer, size_t size, size_t *got)
{
	*got = 0;
	while (*got < size) {
		ssize_t n = read(fd, buffer + *got, size - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return client_fail(NEO_CLIENT_IO, "blob: read: %s", strerror(errno));
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return NEO_CLIENT_OK;
}

static int write_full(int fd, const uint8_t *data, size_t size)
{
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return client_fail(NEO_CLIENT_IO, "blob: write: %s", strerror(errno));
		data += n;
		size -= (size_t)n;
	}
	return NEO_CLIENT_OK;
}

/* --- Store ------------------------------------------------------------------------- */

/* A blob being stored: its chunk oids so far, its digest. */
struct blob_writer {
	struct neo_txn *txn;
	EVP_MD_CTX *sha1;
	uint64_t *oids;			/* chunk oids, in order */
	size_t count, capacity;
	uint64_t spare[OID_BATCH];	/* oids from the master not used yet */
	size_t spare_count;
	uint64_t size;
	bool compress;			/* decided on the first chunk */
};

static int next_oid(struct blob_writer *w, uint64_t *oid)
{
	if (w->spare_count == 0) {
		int status = neo_client_new_oids(client_txn_owner(w->txn), OID_BATCH, w->spare);

		if (status != NEO_CLIENT_OK)
			return status;
		/* Used from the first one on. */
		for (size_t i = 0; i < OID_BATCH / 2; i++) {
			uint64_t t = w->spare[i];

			w->spare[i] = w->spare[OID_BATCH - 1 - i];
			w->spare[OID_BATCH - 1 - i] = t;
		}
		w->spare_count = OID_BATCH;
	}
	*oid = w->spare[--w->spare_count];
	return NEO_CLIENT_OK;
}

/* chunk: the record, CHUNK_HEADER bytes of header then size bytes of blob. */
static int store_chunk(struct blob_writer *w, const uint8_t *chunk, size_t size)
{
	uint64_t oid;
	int status;

	if (neo_grow(&w->oids, &w->capacity, w->count + 1, sizeof *w->oids) != 0)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (w->count == 0)
		w->compress = client_txn_owner(w->txn)->compress != 0
			      && client_compresses(chunk + CHUNK_HEADER, size);
	status = next_oid(w, &oid);
	if (status == NEO_CLIENT_OK)
		status = client_txn_store_uncached(w->txn, oid, 0, chunk, CHUNK_HEADER + size,
						   w->compress);
	if (status != NEO_CLIENT_OK)
		return status;
	w->oids[w->count++] = oid;
	w->size += size;
	if (!EVP_DigestUpdate(w->sha1, chunk + CHUNK_HEADER, size))
		return client_fail(NEO_CLIENT_NOMEM, "blob: SHA-1 failed");
	return NEO_CLIENT_OK;
}

/* Stores every chunk of what fd reads. */
static int store_chunks(struct blob_writer *w, int fd)
{
	uint8_t *buffer = neo_malloc(CHUNK_HEADER + NEO_CLIENT_BLOB_CHUNK_SIZE);
	int status = NEO_CLIENT_OK;
	size_t got = NEO_CLIENT_BLOB_CHUNK_SIZE;

	if (buffer == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	memcpy(buffer, chunk_magic, CHUNK_HEADER);
	while (status == NEO_CLIENT_OK && got == NEO_CLIENT_BLOB_CHUNK_SIZE) {
		status = read_full(fd, buffer + CHUNK_HEADER, NEO_CLIENT_BLOB_CHUNK_SIZE, &got);
		if (status == NEO_CLIENT_OK && got > 0)
			status = store_chunk(w, buffer, got);
	}
	neo_free(buffer);
	return status;
}

/* The object's record: its data, the manifest, the trailer. */
static int store_record(struct blob_writer *w, uint64_t oid, uint64_t serial, const void *data,
			size_t size)
{
	size_t manifest_size = MANIFEST_HEAD + 8 * w->count;
	size_t total = size + manifest_size + TRAILER_SIZE;
	uint8_t *record, *p;
	unsigned int digest_size = 0;
	int status;

	if (total > UINT32_MAX)
		return client_fail(NEO_CLIENT_INVALID, "blob too big");
	record = neo_malloc(total);
	if (record == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (size)
		memcpy(record, data, size);
	p = record + size;
	put_u64(p, w->size);
	put_u32(p + 8, NEO_CLIENT_BLOB_CHUNK_SIZE);
	put_u32(p + 12, (uint32_t)w->count);
	if (!EVP_DigestFinal_ex(w->sha1, p + 16, &digest_size) || digest_size != 20) {
		neo_free(record);
		return client_fail(NEO_CLIENT_NOMEM, "blob: SHA-1 failed");
	}
	for (size_t i = 0; i < w->count; i++)
		put_u64(p + MANIFEST_HEAD + 8 * i, w->oids[i]);
	p += manifest_size;
	put_u32(p, (uint32_t)manifest_size);
	put_u32(p + 4, FORMAT_VERSION);
	memcpy(p + 8, blob_magic, sizeof blob_magic);
	status = neo_txn_store(w->txn, oid, serial, record, total);
	neo_free(record);
	return status;
}

/* As blobs.md says: the chunks of the base revision are deleted with it
 * replaced (their current serial is the blob's, as they are only ever
 * written with it). */
static int delete_old_chunks(struct neo_txn *txn, uint64_t oid, uint64_t serial)
{
	struct neo_client_record record;
	struct manifest m;
	int status;

	if (serial == 0)
		return NEO_CLIENT_OK;
	status = neo_client_load_serial(client_txn_owner(txn), oid, serial, &record);
	if (status == NEO_CLIENT_NOT_FOUND || status == NEO_CLIENT_NO_DATA)
		return NEO_CLIENT_OK;
	if (status != NEO_CLIENT_OK)
		return status;
	if (manifest_parse(record.data, record.size, &m))
		for (uint32_t i = 0; i < m.count && status == NEO_CLIENT_OK; i++)
			status = neo_txn_delete(txn, get_u64(m.oids + 8 * i), record.serial);
	neo_client_record_clear(&record);
	return status;
}

int neo_txn_store_blob_fd(struct neo_txn *txn, uint64_t oid, uint64_t serial, const void *data,
			  size_t size, int fd)
{
	struct blob_writer w = { .txn = txn };
	int status;

	if (txn == NULL || fd < 0 || (data == NULL && size))
		return client_fail(NEO_CLIENT_INVALID, "blob: bad arguments");
	w.sha1 = EVP_MD_CTX_new();
	if (w.sha1 == NULL || !EVP_DigestInit_ex(w.sha1, EVP_sha1(), NULL))
		status = client_fail(NEO_CLIENT_NOMEM, "blob: SHA-1 failed");
	else
		status = delete_old_chunks(txn, oid, serial);
	if (status == NEO_CLIENT_OK)
		status = store_chunks(&w, fd);
	if (status == NEO_CLIENT_OK)
		status = store_record(&w, oid, serial, data, size);
	EVP_MD_CTX_free(w.sha1);
	neo_free(w.oids);
	return status;
}

int neo_txn_store_blob_path(struct neo_txn *txn, uint64_t oid, uint64_t serial,
			    const void *data, size_t size, const char *path)
{
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	int status;

	if (fd < 0)
		return client_fail(NEO_CLIENT_IO, "blob: %s: %s", path ? path : "(null)",
				   strerror(errno));
	status = neo_txn_store_blob_fd(txn, oid, serial, data, size, fd);
	close(fd);
	return status;
}

/* --- Load -------------------------------------------------------------------------- */

/* Chunks asked at once while loading: the round trips overlap, and at
 * most this many chunks are in memory. */
#define READ_AHEAD 4

/* One chunk being loaded, in a thread of its own but the first of each
 * window (the caller's). */
struct chunk_fetch {
	struct neo_client *client;
	const struct manifest *m;
	uint32_t index;
	uint64_t serial;
	struct neo_client_record record;
	int status;
	char err[256];			/* the loading thread's message */
	pthread_t thread;
	bool threaded;
};

static void *fetch_chunk(void *arg)
{
	struct chunk_fetch *f = arg;
	const struct manifest *m = f->m;
	uint64_t oid = get_u64(m->oids + 8 * (size_t)f->index);
	uint64_t expected = f->index + 1 < m->count ? m->chunk_size
			    : m->blob_size - (uint64_t)f->index * m->chunk_size;
	int status;

	/* The newest chunk revision up to the blob's: the chunk's serial is
	 * the blob's (blobs.md), newer ones are its deletion. */
	status = client_load_uncached(f->client, oid, f->serial + 1, &f->record);
	if (status == NEO_CLIENT_NOT_FOUND || status == NEO_CLIENT_NO_DATA)
		status = client_fail(NEO_CLIENT_PROTOCOL, "blob: chunk %u (oid 0x%016llx) is "
				     "missing", f->index, (unsigned long long)oid);
	else if (status == NEO_CLIENT_OK
		 && (!neo_client_record_is_blob_chunk(f->record.data, f->record.size)
		     || f->record.size - CHUNK_HEADER != expected))
		status = client_fail(NEO_CLIENT_PROTOCOL, "blob: chunk %u (oid 0x%016llx) is not "
				     "a chunk of %llu bytes", f->index, (unsigned long long)oid,
				     (unsigned long long)expected);
	f->status = status;
	if (status != NEO_CLIENT_OK)
		snprintf(f->err, sizeof f->err, "%s", neo_client_errmsg());
	return NULL;
}

/* Loads chunks [first, first + count) at once, then writes them in order. */
static int load_window(struct chunk_fetch *fetches, uint32_t count, int fd, EVP_MD_CTX *sha1)
{
	int status = NEO_CLIENT_OK;

	for (uint32_t j = 1; j < count; j++)
		fetches[j].threaded = pthread_create(&fetches[j].thread, NULL, fetch_chunk,
						     &fetches[j]) == 0;
	for (uint32_t j = 0; j < count; j++)
		if (!fetches[j].threaded)
			fetch_chunk(&fetches[j]);
	for (uint32_t j = 1; j < count; j++)
		if (fetches[j].threaded)
			pthread_join(fetches[j].thread, NULL);
	for (uint32_t j = 0; j < count; j++) {
		struct chunk_fetch *f = &fetches[j];

		if (status == NEO_CLIENT_OK && f->status != NEO_CLIENT_OK)
			status = client_fail(f->status, "%s", f->err);
		if (status == NEO_CLIENT_OK
		    && !EVP_DigestUpdate(sha1, f->record.data + CHUNK_HEADER,
					 f->record.size - CHUNK_HEADER))
			status = client_fail(NEO_CLIENT_NOMEM, "blob: SHA-1 failed");
		if (status == NEO_CLIENT_OK)
			status = write_full(fd, f->record.data + CHUNK_HEADER,
					    f->record.size - CHUNK_HEADER);
		neo_client_record_clear(&f->record);
	}
	return status;
}

static int load_chunks(struct neo_client *client, const struct manifest *m, uint64_t serial,
		       int fd)
{
	EVP_MD_CTX *sha1 = EVP_MD_CTX_new();
	struct chunk_fetch fetches[READ_AHEAD];
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int digest_size = 0;
	int status = NEO_CLIENT_OK;

	if (sha1 == NULL || !EVP_DigestInit_ex(sha1, EVP_sha1(), NULL))
		status = client_fail(NEO_CLIENT_NOMEM, "blob: SHA-1 failed");
	for (uint32_t first = 0; first < m->count && status == NEO_CLIENT_OK;
	     first += READ_AHEAD) {
		uint32_t count = m->count - first < READ_AHEAD ? m->count - first : READ_AHEAD;

		for (uint32_t j = 0; j < count; j++)
			fetches[j] = (struct chunk_fetch){ .client = client, .m = m,
							   .index = first + j, .serial = serial };
		status = load_window(fetches, count, fd, sha1);
	}
	if (status == NEO_CLIENT_OK
	    && (!EVP_DigestFinal_ex(sha1, digest, &digest_size) || digest_size != 20
		|| memcmp(digest, m->sha1, 20) != 0))
		status = client_fail(NEO_CLIENT_PROTOCOL, "blob: SHA-1 of the chunks differs "
				     "from the manifest's");
	EVP_MD_CTX_free(sha1);
	return status;
}

int neo_client_load_blob_fd(struct neo_client *client, uint64_t oid, uint64_t serial, int fd,
			    uint64_t *blob_size)
{
	struct neo_client_record record;
	struct manifest m;
	int status;

	if (client == NULL || fd < 0 || serial == 0)
		return client_fail(NEO_CLIENT_INVALID, "blob: bad arguments");
	status = neo_client_load_serial(client, oid, serial, &record);
	if (status != NEO_CLIENT_OK)
		return status;
	if (!manifest_parse(record.data, record.size, &m))
		status = client_fail(NEO_CLIENT_NOT_BLOB, "oid 0x%016llx has no blob at 0x%016llx",
				     (unsigned long long)oid, (unsigned long long)serial);
	else
		status = load_chunks(client, &m, record.serial, fd);
	if (status == NEO_CLIENT_OK && blob_size)
		*blob_size = m.blob_size;
	neo_client_record_clear(&record);
	return status;
}

int neo_client_load_blob_path(struct neo_client *client, uint64_t oid, uint64_t serial,
			      const char *path, uint64_t *blob_size)
{
	size_t length = path ? strlen(path) : 0;
	char *temporary;
	int fd, status;

	if (path == NULL)
		return client_fail(NEO_CLIENT_INVALID, "blob: no path");
	temporary = neo_malloc(length + sizeof ".tmp-XXXXXX");
	if (temporary == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	memcpy(temporary, path, length);
	memcpy(temporary + length, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
	fd = mkstemp(temporary);
	if (fd < 0) {
		status = client_fail(NEO_CLIENT_IO, "blob: %s: %s", temporary, strerror(errno));
		neo_free(temporary);
		return status;
	}
	status = neo_client_load_blob_fd(client, oid, serial, fd, blob_size);
	if (status == NEO_CLIENT_OK && fsync(fd) != 0)
		status = client_fail(NEO_CLIENT_IO, "blob: fsync: %s", strerror(errno));
	if (close(fd) != 0 && status == NEO_CLIENT_OK)
		status = client_fail(NEO_CLIENT_IO, "blob: close: %s", strerror(errno));
	if (status == NEO_CLIENT_OK && rename(temporary, path) != 0)
		status = client_fail(NEO_CLIENT_IO, "blob: %s: %s", path, strerror(errno));
	if (status != NEO_CLIENT_OK)
		unlink(temporary);
	neo_free(temporary);
	return status;
}
