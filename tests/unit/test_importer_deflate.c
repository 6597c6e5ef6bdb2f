/*
 * test_importer_deflate.c - the importer's compressor
 * (backends/importer/importer_deflate.c: libdeflate when configure found
 * it, else zlib) writes zlib-format streams that zlib's uncompress, as
 * libneoclient and upstream's clients use, turns back into the original
 * bytes, at every level the importer's compress option accepts; the same
 * data and level always give the same bytes (reads during an import
 * answer what the import stores); one compressor follows a level change.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "importer_db.h"
#include "tap.h"

/* Pickle-like text: compressible, as most ZODB records are. */
static void fill_text(uint8_t *buf, size_t len)
{
	static const char words[] = "persistent.mapping PersistentMapping data oid BTrees OOBucket ";
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)words[(i * 7 + i / 13) % (sizeof(words) - 1)];
}

/* Pseudo-random bytes: incompressible, as most blobs are. */
static void fill_random(uint8_t *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

/* Compresses raw at level with zs, checks zlib gives raw back; the
 * compressed bytes in *out (caller frees). */
static bool round_trip(struct importer_deflate *zs, int level, const uint8_t *raw, size_t len,
		       uint8_t **out, size_t *outlen)
{
	size_t cap = importer_deflate_bound(len);
	uint8_t *buf = malloc(cap), *back = malloc(len + 1);
	uLongf backlen = (uLongf)len + 1;
	bool ok;

	*out = buf;
	*outlen = 0;
	if (buf == NULL || back == NULL || importer_deflate(zs, level, raw, len, buf, cap, outlen) != 0) {
		free(back);
		return false;
	}
	ok = uncompress(back, &backlen, buf, (uLong)*outlen) == Z_OK && backlen == len &&
	     memcmp(back, raw, len) == 0;
	free(back);
	return ok;
}

static void check_level(int level, const char *what, const uint8_t *raw, size_t len)
{
	struct importer_deflate a = { 0 }, b = { 0 };
	uint8_t *one, *two;
	size_t n1, n2;

	tap_ok(round_trip(&a, level, raw, len, &one, &n1),
	       "level %d, %s (%zu bytes): zlib decompresses it to the original", level, what, len);
	tap_ok(round_trip(&b, level, raw, len, &two, &n2) && n1 == n2 && memcmp(one, two, n1) == 0,
	       "level %d, %s: a second compressor gives the same bytes", level, what);
	free(two);
	tap_ok(round_trip(&a, level, raw, len, &two, &n2) && n1 == n2 && memcmp(one, two, n1) == 0,
	       "level %d, %s: the same compressor, reused, gives the same bytes", level, what);
	free(one);
	free(two);
	importer_deflate_end(&a);
	importer_deflate_end(&b);
}

int main(void)
{
	size_t sizes[] = { 1, 300, 70000, 4u << 20 }, i;
	int levels[] = { 1, 6, 9 }, l;
	struct importer_deflate zs = { 0 };
	uint8_t *text, *random, *out;
	size_t n, small;

#ifdef HAVE_LIBDEFLATE
	tap_diag("compressor: libdeflate");
#else
	tap_diag("compressor: zlib");
#endif
	text = malloc(sizes[3]);
	random = malloc(sizes[3]);
	if (text == NULL || random == NULL)
		return 1;
	fill_text(text, sizes[3]);
	fill_random(random, sizes[3]);
	for (l = 0; l < 3; l++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			check_level(levels[l], "text", text, sizes[i]);
			check_level(levels[l], "random", random, sizes[i]);
		}

	/* Text shrinks (the importer then stores it compressed); random
	 * bytes do not (stored raw): the decision stays the same. */
	tap_ok(round_trip(&zs, 6, text, 70000, &out, &n) && n < 70000 / 4,
	       "text shrinks at level 6 (%zu bytes of 70000)", n);
	free(out);
	tap_ok(round_trip(&zs, 6, random, 70000, &out, &n) && n >= 70000,
	       "random bytes do not shrink (%zu bytes of 70000)", n);
	free(out);

	/* One compressor, levels changing: each call at its own level. */
	tap_ok(round_trip(&zs, 1, text, 70000, &out, &small), "level 1 after level 6");
	free(out);
	tap_ok(round_trip(&zs, 9, text, 70000, &out, &n) && n <= small,
	       "level 9 after level 1 on the same compressor: no larger (%zu <= %zu)", n, small);
	free(out);
	importer_deflate_end(&zs);
	importer_deflate_end(&zs);
	tap_ok(zs.state == NULL, "ending twice is harmless");

	free(text);
	free(random);
	return tap_done();
}
