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

#include "blob/record.h"
#include "runtime/alloc.h"

/* Chunk oids asked of the master at once. */
#define OID_BATCH 64

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

size_t neo_client_blob_data_size(const void *record, size_t size)
{
	struct neo_blob_manifest m;

	return neo_blob_manifest_parse(record, size, &m) ? m.data_size : size;
}

bool neo_client_record_is_blob(const void *record, size_t size)
{
	struct neo_blob_manifest m;

	return neo_blob_manifest_parse(record, size, &m);
}

bool neo_client_record_is_blob_chunk(const void *record, size_t size)
{
	return neo_blob_is_chunk(record, size);
}

int neo_client_blob_chunk_oids(const void *record, size_t size, uint64_t **oids, size_t *count)
{
	struct neo_blob_manifest m;

	*oids = NULL;
	*count = 0;
	if (!neo_blob_manifest_parse(record, size, &m))
		return client_fail(NEO_CLIENT_NOT_BLOB, "not a blob object's record");
	*oids = neo_malloc(m.count ? 8 * (size_t)m.count : 1);
	if (*oids == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	for (uint32_t i = 0; i < m.count; i++)
		(*oids)[i] = neo_blob_manifest_oid(&m, i);
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
	uint64_t size;
	bool compress;			/* decided on the first chunk */
};

/* A new oid for a chunk: from the client's spare ones (under its lock),
 * else OID_BATCH more from the master, the rest kept for the next
 * chunks and blobs. */
static int next_oid(struct blob_writer *w, uint64_t *oid)
{
	struct neo_client *c = client_txn_owner(w->txn);
	size_t room = sizeof c->blob_oids / sizeof c->blob_oids[0];
	uint64_t fresh[OID_BATCH];
	bool spare;
	int status;

	pthread_mutex_lock(&c->lock);
	spare = c->blob_oid_count > 0;
	if (spare)
		*oid = c->blob_oids[--c->blob_oid_count];
	pthread_mutex_unlock(&c->lock);
	if (spare)
		return NEO_CLIENT_OK;
	status = neo_client_new_oids(c, OID_BATCH, fresh);
	if (status != NEO_CLIENT_OK)
		return status;
	*oid = fresh[0];
	/* Kept so that they are used in order (the last one taken first);
	 * any beyond the room (another thread filled it meanwhile) are
	 * left unused, as oids may be. */
	pthread_mutex_lock(&c->lock);
	for (size_t i = OID_BATCH - 1; i >= 1 && c->blob_oid_count < room; i--)
		c->blob_oids[c->blob_oid_count++] = fresh[i];
	pthread_mutex_unlock(&c->lock);
	return NEO_CLIENT_OK;
}

/* chunk: the record, NEO_BLOB_CHUNK_HEADER bytes of header then size bytes of blob. */
static int store_chunk(struct blob_writer *w, const uint8_t *chunk, size_t size)
{
	uint64_t oid;
	int status;

	if (neo_grow(&w->oids, &w->capacity, w->count + 1, sizeof *w->oids) != 0)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	if (w->count == 0)
		w->compress = client_txn_owner(w->txn)->compress != 0
			      && client_compresses(chunk + NEO_BLOB_CHUNK_HEADER, size);
	status = next_oid(w, &oid);
	if (status == NEO_CLIENT_OK)
		status = client_txn_store_uncached(w->txn, oid, 0, chunk, NEO_BLOB_CHUNK_HEADER + size,
						   w->compress);
	if (status != NEO_CLIENT_OK)
		return status;
	w->oids[w->count++] = oid;
	w->size += size;
	if (!EVP_DigestUpdate(w->sha1, chunk + NEO_BLOB_CHUNK_HEADER, size))
		return client_fail(NEO_CLIENT_NOMEM, "blob: SHA-1 failed");
	return NEO_CLIENT_OK;
}

/* Stores every chunk of what fd reads. */
static int store_chunks(struct blob_writer *w, int fd)
{
	uint8_t *buffer = neo_malloc(NEO_BLOB_CHUNK_HEADER + NEO_CLIENT_BLOB_CHUNK_SIZE);
	int status = NEO_CLIENT_OK;
	size_t got = NEO_CLIENT_BLOB_CHUNK_SIZE;

	if (buffer == NULL)
		return client_fail(NEO_CLIENT_NOMEM, "out of memory");
	memcpy(buffer, neo_blob_chunk_magic, NEO_BLOB_CHUNK_HEADER);
	while (status == NEO_CLIENT_OK && got == NEO_CLIENT_BLOB_CHUNK_SIZE) {
		status = read_full(fd, buffer + NEO_BLOB_CHUNK_HEADER, NEO_CLIENT_BLOB_CHUNK_SIZE, &got);
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
	size_t manifest_size = NEO_BLOB_MANIFEST_HEAD + 8 * w->count;
	size_t total = size + manifest_size + NEO_BLOB_TRAILER_SIZE;
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
		put_u64(p + NEO_BLOB_MANIFEST_HEAD + 8 * i, w->oids[i]);
	p += manifest_size;
	put_u32(p, (uint32_t)manifest_size);
	put_u32(p + 4, NEO_BLOB_FORMAT_VERSION);
	memcpy(p + 8, neo_blob_magic, sizeof neo_blob_magic);
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
	struct neo_blob_manifest m;
	int status;

	if (serial == 0)
		return NEO_CLIENT_OK;
	status = neo_client_load_serial(client_txn_owner(txn), oid, serial, &record);
	if (status == NEO_CLIENT_NOT_FOUND || status == NEO_CLIENT_NO_DATA)
		return NEO_CLIENT_OK;
	if (status != NEO_CLIENT_OK)
		return status;
	if (neo_blob_manifest_parse(record.data, record.size, &m))
		for (uint32_t i = 0; i < m.count && status == NEO_CLIENT_OK; i++)
			status = neo_txn_delete(txn, neo_blob_manifest_oid(&m, i), record.serial);
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

/* Chunks asked ahead while loading: each in a thread of its own, so that
 * their round trips overlap and the next ones come while one is written
 * to the file; at most this many chunks are in memory. */
#define READ_AHEAD 4

/* One chunk being loaded, in a thread of its own (in the caller's if no
 * thread could be made). */
struct chunk_fetch {
	struct neo_client *client;
	const struct neo_blob_manifest *m;
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
	const struct neo_blob_manifest *m = f->m;
	uint64_t oid = neo_blob_manifest_oid(m, f->index);
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
		     || f->record.size - NEO_BLOB_CHUNK_HEADER != expected
		     || f->record.serial != f->serial))
		status = client_fail(NEO_CLIENT_PROTOCOL, "blob: chunk %u (oid 0x%016llx) is not "
				     "a chunk of %llu bytes at 0x%016llx", f->index,
				     (unsigned long long)oid, (unsigned long long)expected,
				     (unsigned long long)f->serial);
	f->status = status;
	if (status != NEO_CLIENT_OK)
		snprintf(f->err, sizeof f->err, "%s", neo_client_errmsg());
	return NULL;
}

/* Starts loading chunk index into f: in a thread of its own, or in the
 * caller's (inline, or no thread could be made). */
static void fetch_start(struct chunk_fetch *f, struct neo_client *client,
			const struct neo_blob_manifest *m, uint64_t serial, uint32_t index,
			bool inline_)
{
	*f = (struct chunk_fetch){ .client = client, .m = m, .index = index, .serial = serial };
	f->threaded = !inline_ && pthread_create(&f->thread, NULL, fetch_chunk, f) == 0;
	if (!f->threaded)
		fetch_chunk(f);
}

/* Waits for f's chunk, then appends it to the file (if all went well so far). */
static int fetch_finish(struct chunk_fetch *f, int status, int fd)
{
	const uint8_t *bytes;
	size_t size;

	if (f->threaded)
		pthread_join(f->thread, NULL);
	f->threaded = false;
	bytes = f->record.data + NEO_BLOB_CHUNK_HEADER;
	size = f->record.size - NEO_BLOB_CHUNK_HEADER;
	if (status == NEO_CLIENT_OK && f->status != NEO_CLIENT_OK)
		status = client_fail(f->status, "%s", f->err);
	if (status == NEO_CLIENT_OK)
		status = write_full(fd, bytes, size);
	neo_client_record_clear(&f->record);
	return status;
}

/* Chunk i is written while chunks i+1 .. i+READ_AHEAD-1 are on their way;
 * once written, its slot loads chunk i+READ_AHEAD.  Each chunk is checked
 * as it comes (blobs.md): its record's checksum (by the load), its size,
 * and its serial, the blob's; the manifest's SHA-1 of the whole blob is
 * not computed again (it would double the CPU time of a load). */
static int load_chunks(struct neo_client *client, const struct neo_blob_manifest *m, uint64_t serial,
		       int fd)
{
	struct chunk_fetch fetches[READ_AHEAD];
	int status = NEO_CLIENT_OK;
	uint32_t started = 0;

	/* The first chunk in the caller's thread, after the next ones are
	 * asked: a blob of one chunk (1 MiB) makes no thread. */
	for (started = 1; started < m->count && started < READ_AHEAD; started++)
		fetch_start(&fetches[started], client, m, serial, started, false);
	if (m->count > 0)
		fetch_start(&fetches[0], client, m, serial, 0, true);
	else
		started = 0;
	/* Every chunk started is waited for, even after an error. */
	for (uint32_t i = 0; i < started; i++) {
		struct chunk_fetch *f = &fetches[i % READ_AHEAD];

		status = fetch_finish(f, status, fd);
		if (status == NEO_CLIENT_OK && started < m->count)
			fetch_start(f, client, m, serial, started++, false);
	}
	return status;
}

int neo_client_load_blob_fd(struct neo_client *client, uint64_t oid, uint64_t serial, int fd,
			    uint64_t *blob_size)
{
	struct neo_client_record record;
	struct neo_blob_manifest m;
	int status;

	if (client == NULL || fd < 0 || serial == 0)
		return client_fail(NEO_CLIENT_INVALID, "blob: bad arguments");
	status = neo_client_load_serial(client, oid, serial, &record);
	if (status != NEO_CLIENT_OK)
		return status;
	if (!neo_blob_manifest_parse(record.data, record.size, &m))
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
	/* Not synced (client.h): a sync costs more than the transfer of a
	 * 1 MiB blob (about 17 ms on a shared disk), which ZEO's and
	 * RelStorage's caches do not pay either. */
	status = neo_client_load_blob_fd(client, oid, serial, fd, blob_size);
	if (close(fd) != 0 && status == NEO_CLIENT_OK)
		status = client_fail(NEO_CLIENT_IO, "blob: close: %s", strerror(errno));
	if (status == NEO_CLIENT_OK && rename(temporary, path) != 0)
		status = client_fail(NEO_CLIENT_IO, "blob: %s: %s", path, strerror(errno));
	if (status != NEO_CLIENT_OK)
		unlink(temporary);
	neo_free(temporary);
	return status;
}
