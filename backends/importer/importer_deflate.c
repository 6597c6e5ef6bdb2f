/*
 * importer_deflate.c - the compressor of the importer's stored forms
 * (importer_fsread.c): libdeflate when configure found it, else zlib.
 * Both write standard zlib streams (RFC 1950), which libneoclient and
 * upstream's clients decompress with zlib; libdeflate is faster (an
 * import takes about 40% less CPU: make bench-import), and compression
 * is most of an import's CPU.
 *
 * Levels: the importer's compress option takes zlib's 1 to 9 (as
 * upstream); libdeflate's levels 1 to 9 aim at the same trade-offs (1
 * fastest, 6 the default, 9 smallest), so level N is libdeflate's level
 * N; its levels 10 to 12 (much slower) are not used.  The bytes differ
 * from zlib's, but one build always gives the same bytes for the same
 * data and level, so reads during the import answer what it stores.
 *
 * One struct importer_deflate per thread (each worker, the node's thread):
 * neither zlib's stream nor libdeflate's compressor may be shared.
 */
#include "autoconfig.h"

#include <limits.h>
#include <string.h>

#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif
#include <zlib.h>

#include "importer_db.h"
#include "runtime/alloc.h"

#ifdef HAVE_LIBDEFLATE

size_t importer_deflate_bound(size_t len)
{
	return libdeflate_zlib_compress_bound(NULL, len);
}

int importer_deflate(struct importer_deflate *zs, int level, const uint8_t *raw, size_t len,
		     uint8_t *buf, size_t cap, size_t *out)
{
	if (zs->state != NULL && zs->level != level)
		importer_deflate_end(zs);
	if (zs->state == NULL) {
		zs->state = libdeflate_alloc_compressor(level);
		if (zs->state == NULL)
			return -1;
		zs->level = level;
	}
	/* 0 only when buf is too small, which the bound rules out. */
	*out = libdeflate_zlib_compress(zs->state, raw, len, buf, cap);
	return *out == 0 ? -1 : 0;
}

void importer_deflate_end(struct importer_deflate *zs)
{
	if (zs->state != NULL)
		libdeflate_free_compressor(zs->state);
	zs->state = NULL;
}

#else /* zlib */

size_t importer_deflate_bound(size_t len)
{
	return (size_t)compressBound((uLong)len);
}

/* The stream is kept from one record to the next: deflateReset instead of
 * compress2's setting up and freeing of zlib's state at each call, which
 * costs more than compressing a record of a few KB.  The bytes are
 * compress2's (same level and parameters). */
int importer_deflate(struct importer_deflate *zs, int level, const uint8_t *raw, size_t len,
		     uint8_t *buf, size_t cap, size_t *out)
{
	z_stream *z;
	int rc;

	if (len > UINT_MAX / 2) {
		uLongf n = (uLongf)cap;

		rc = compress2(buf, &n, raw, (uLong)len, level);
		*out = (size_t)n;
		return rc == Z_OK ? 0 : -1;
	}
	if (zs->state != NULL && zs->level != level)
		importer_deflate_end(zs);
	if (zs->state == NULL) {
		z = neo_calloc(1, sizeof(*z));
		if (z == NULL)
			return -1;
		if (deflateInit(z, level) != Z_OK) {
			neo_free(z);
			return -1;
		}
		zs->state = z;
		zs->level = level;
	} else if (deflateReset(zs->state) != Z_OK) {
		return -1;
	}
	z = zs->state;
	z->next_in = (Bytef *)raw;
	z->avail_in = (uInt)len;
	z->next_out = buf;
	z->avail_out = (uInt)(cap > UINT_MAX ? UINT_MAX : cap);
	rc = deflate(z, Z_FINISH);
	*out = (size_t)z->total_out;
	return rc == Z_STREAM_END ? 0 : -1;
}

void importer_deflate_end(struct importer_deflate *zs)
{
	if (zs->state != NULL) {
		deflateEnd(zs->state);
		neo_free(zs->state);
	}
	zs->state = NULL;
}

#endif
