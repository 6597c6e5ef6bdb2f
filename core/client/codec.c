/*
 * client/codec.c - the data codec: as upstream, SHA-1 checksums over the
 * stored bytes and zlib compression only when it makes data smaller.
 * Stores compress with libdeflate when configure found it (the same
 * zlib-format streams, with less CPU; zlib level N is libdeflate's level
 * N, as in backends/importer/importer_deflate.c), else with zlib.
 * Calls no other file of client/.
 */
#include "autoconfig.h"

#include "client/internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif
#include <zlib.h>

#include "runtime/alloc.h"

bool client_checksum_is_zero(const struct neo_bin *checksum)
{
	for (uint32_t i = 0; i < checksum->size; i++)
		if (checksum->data[i])
			return false;
	return true;
}

static int inflate_all(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size)
{
	for (size_t capacity = size * 4 + 64;; capacity *= 2) {
		uLongf length = capacity;
		uint8_t *buffer = neo_malloc(capacity);
		int rc;

		if (buffer == NULL)
			return NEO_CLIENT_NOMEM;
		rc = uncompress(buffer, &length, data, size);
		if (rc == Z_OK) {
			*out = buffer;
			*out_size = length;
			return NEO_CLIENT_OK;
		}
		neo_free(buffer);
		if (rc != Z_BUF_ERROR || capacity > (1u << 30))
			return NEO_CLIENT_PROTOCOL;
	}
}

int client_decode_data(const uint8_t *data, size_t size, int compression,
		       const uint8_t checksum[20], uint8_t **out, size_t *out_size,
		       char *err, size_t errlen)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int digest_size = 0;

	*out = NULL;
	*out_size = 0;
	if (!EVP_Digest(data, size, digest, &digest_size, EVP_sha1(), NULL) || digest_size != 20
	    || memcmp(digest, checksum, 20) != 0) {
		snprintf(err, errlen, "wrong checksum");
		return NEO_CLIENT_PROTOCOL;
	}
	if (compression == 0) {
		*out = neo_malloc(size ? size : 1);
		if (*out == NULL)
			return NEO_CLIENT_NOMEM;
		if (size)
			memcpy(*out, data, size);
		*out_size = size;
		return NEO_CLIENT_OK;
	}
	if (compression != 1) {
		snprintf(err, errlen, "unknown compression %d", compression);
		return NEO_CLIENT_PROTOCOL;
	}
	if (inflate_all(data, size, out, out_size) != NEO_CLIENT_OK) {
		snprintf(err, errlen, "cannot decompress data");
		return NEO_CLIENT_PROTOCOL;
	}
	return NEO_CLIENT_OK;
}

/* A sample of up to 64 KiB, at level 1: whether zlib gains an eighth. */
bool client_compresses(const void *data, size_t size)
{
	size_t sample = size < 65536 ? size : 65536;
	uLongf length = compressBound(sample);
	uint8_t *buffer = neo_malloc(length);
	bool gains;

	if (buffer == NULL || sample == 0) {
		neo_free(buffer);
		return false;
	}
	gains = compress2(buffer, &length, data, sample, 1) == Z_OK && length < sample - sample / 8;
	neo_free(buffer);
	return gains;
}

/* data compressed at level (1..9) into a new *out, only if it gets
 * smaller (as upstream); false otherwise, *out then NULL. */
static bool compress_smaller(int level, const void *data, size_t size, uint8_t **out,
			     size_t *out_size)
{
#ifdef HAVE_LIBDEFLATE
	/* A buffer of size - 1 bytes: libdeflate gives 0 when the stream does
	 * not fit, i.e. is not smaller. */
	struct libdeflate_compressor *compressor = libdeflate_alloc_compressor(level);
	uint8_t *buffer = size > 1 ? neo_malloc(size - 1) : NULL;
	size_t length = 0;

	if (compressor != NULL && buffer != NULL)
		length = libdeflate_zlib_compress(compressor, data, size, buffer, size - 1);
	if (compressor != NULL)
		libdeflate_free_compressor(compressor);
#else
	uLongf length = compressBound(size);
	uint8_t *buffer = neo_malloc(length);

	if (buffer == NULL || compress2(buffer, &length, data, size, level) != Z_OK ||
	    length >= size)
		length = 0;
#endif
	*out = NULL;
	if (length == 0) {
		neo_free(buffer);
		return false;
	}
	*out = buffer;
	*out_size = length;
	return true;
}

int client_encode_data(int level, const void *data, size_t size, uint8_t **out,
		       size_t *out_size, int *compression, uint8_t checksum[20])
{
	unsigned int digest_size = 0;
	uint8_t digest[EVP_MAX_MD_SIZE];

	*compression = 0;
	*out = NULL;
	/* As upstream: compressed only when it makes data smaller. */
	if (level != 0 && size > 0 && compress_smaller(level < 0 ? 6 : level, data, size, out,
						       out_size))
		*compression = 1;
	if (*out == NULL) {
		*out = neo_malloc(size ? size : 1);
		if (*out == NULL)
			return NEO_CLIENT_NOMEM;
		if (size)
			memcpy(*out, data, size);
		*out_size = size;
	}
	if (!EVP_Digest(*out, *out_size, digest, &digest_size, EVP_sha1(), NULL)
	    || digest_size != 20) {
		neo_free(*out);
		*out = NULL;
		return NEO_CLIENT_NOMEM;
	}
	memcpy(checksum, digest, 20);
	return NEO_CLIENT_OK;
}
