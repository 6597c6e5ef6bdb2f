/*
 * proto/wire.c - handshake recognition and msgpack value extents (see proto/wire.h).
 *
 * The scanner walks msgpack headers only; it never allocates and never
 * recurses, so hostile input costs at most one pass over the bytes present.
 */
#include "proto/wire.h"

#include <string.h>

/* As upstream: msgpack of ("NEO", 5) with "NEO" packed as str. */
const uint8_t neo_handshake[NEO_HANDSHAKE_SIZE] = {
	0x92, 0xa3, 'N', 'E', 'O', NEO_PROTOCOL_VERSION
};

enum neo_handshake_status neo_handshake_check(const uint8_t *buf, size_t len,
					      int *peer_version)
{
	size_t magic = len < NEO_HANDSHAKE_MAGIC_SIZE ? len : NEO_HANDSHAKE_MAGIC_SIZE;

	if (memcmp(buf, neo_handshake, magic) != 0)
		return NEO_HANDSHAKE_NOT_NEO;
	if (len < NEO_HANDSHAKE_SIZE)
		return NEO_HANDSHAKE_INCOMPLETE;
	if (buf[NEO_HANDSHAKE_MAGIC_SIZE] == neo_handshake[NEO_HANDSHAKE_MAGIC_SIZE])
		return NEO_HANDSHAKE_OK;
	if (peer_version != NULL) {
		uint8_t v = buf[NEO_HANDSHAKE_MAGIC_SIZE];
		/* A positive fixint is the version itself; anything else
		 * would need more bytes than the handshake has. */
		*peer_version = v <= 0x7f ? (int)v : -1;
	}
	return NEO_HANDSHAKE_VERSION_MISMATCH;
}

static uint32_t read_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * What one msgpack header says: how many bytes the header itself takes
 * (including the length field), how many raw payload bytes follow it, and
 * how many child values follow (array items, or twice the map entries).
 * Returns 0, or -1 for the reserved byte 0xc1.
 */
struct header {
	size_t header_size;	/* bytes of type byte + length field */
	size_t length_size;	/* bytes of the length field alone */
	uint64_t payload;	/* raw bytes after the header */
	uint64_t children;	/* values that follow */
};

static int describe_fixed(uint8_t b, struct header *h)
{
	memset(h, 0, sizeof(*h));
	h->header_size = 1;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;			/* fixint, nil, bool */
	if (b >= 0x80 && b <= 0x8f) {
		h->children = 2u * (b & 0x0f);	/* fixmap */
		return 0;
	}
	if (b >= 0x90 && b <= 0x9f) {
		h->children = b & 0x0f;		/* fixarray */
		return 0;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		h->payload = b & 0x1f;		/* fixstr */
		return 0;
	}
	return 1;				/* needs a length field */
}

static int describe_sized(uint8_t b, struct header *h)
{
	static const struct { uint8_t byte; uint8_t len_size; uint8_t fixed; uint8_t kind; } sized[] = {
		/* kind: 0 raw payload of `fixed` bytes, 1 length-prefixed
		 * raw bytes, 2 ext (length + 1 type byte), 3 array, 4 map */
		{ 0xc4, 1, 0, 1 }, { 0xc5, 2, 0, 1 }, { 0xc6, 4, 0, 1 },	/* bin */
		{ 0xc7, 1, 1, 2 }, { 0xc8, 2, 1, 2 }, { 0xc9, 4, 1, 2 },	/* ext */
		{ 0xca, 0, 4, 0 }, { 0xcb, 0, 8, 0 },				/* float */
		{ 0xcc, 0, 1, 0 }, { 0xcd, 0, 2, 0 }, { 0xce, 0, 4, 0 }, { 0xcf, 0, 8, 0 },
		{ 0xd0, 0, 1, 0 }, { 0xd1, 0, 2, 0 }, { 0xd2, 0, 4, 0 }, { 0xd3, 0, 8, 0 },
		{ 0xd4, 0, 2, 0 }, { 0xd5, 0, 3, 0 }, { 0xd6, 0, 5, 0 },	/* fixext */
		{ 0xd7, 0, 9, 0 }, { 0xd8, 0, 17, 0 },
		{ 0xd9, 1, 0, 1 }, { 0xda, 2, 0, 1 }, { 0xdb, 4, 0, 1 },	/* str */
		{ 0xdc, 2, 0, 3 }, { 0xdd, 4, 0, 3 },				/* array */
		{ 0xde, 2, 0, 4 }, { 0xdf, 4, 0, 4 },				/* map */
	};

	for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
		if (sized[i].byte != b)
			continue;
		h->length_size = sized[i].len_size;
		h->header_size = 1 + sized[i].len_size;
		h->payload = sized[i].kind == 0 ? sized[i].fixed : 0;
		h->children = 0;
		return sized[i].kind;
	}
	return -1;				/* 0xc1: never used */
}

/*
 * Reads the header at buf[pos].  Returns 1 when the header is complete
 * and described in *h, 0 when more bytes are needed (*need set), -1 when
 * malformed.
 */
static int read_header(const uint8_t *buf, size_t len, size_t pos,
		       struct header *h, size_t *need)
{
	int kind;
	uint32_t length;

	if (pos >= len) {
		*need = pos + 1;
		return 0;
	}
	if (describe_fixed(buf[pos], h) == 0)
		return 1;
	kind = describe_sized(buf[pos], h);
	if (kind < 0)
		return -1;
	if (kind == 0)
		return 1;
	if (pos + h->header_size > len) {
		*need = pos + h->header_size;
		return 0;
	}
	length = read_be(buf + pos + 1, h->length_size);
	switch (kind) {
	case 1:
		h->payload = length;
		break;
	case 2:
		h->payload = (uint64_t)length + 1;	/* type byte, then data */
		break;
	case 3:
		h->children = length;
		break;
	default:
		h->children = 2 * (uint64_t)length;
		break;
	}
	return 1;
}

enum neo_scan_status neo_msgpack_scan(const uint8_t *buf, size_t len,
				      size_t *value_len)
{
	/* remaining[d]: values still to read at nesting depth d. */
	uint64_t remaining[NEO_MAX_NESTING + 1];
	int depth = 0;
	size_t pos = 0;

	remaining[0] = 1;
	for (;;) {
		struct header h;
		size_t need = 0;
		int r;

		while (depth > 0 && remaining[depth] == 0)
			depth--;
		if (depth == 0 && remaining[0] == 0) {
			*value_len = pos;
			return NEO_SCAN_COMPLETE;
		}
		r = read_header(buf, len, pos, &h, &need);
		if (r < 0)
			return NEO_SCAN_MALFORMED;
		if (r == 0) {
			*value_len = need;
			return NEO_SCAN_INCOMPLETE;
		}
		/* Every child takes at least one byte: a count that cannot
		 * fit in a maximal packet is a lie, not a reason to wait. */
		if (pos + h.header_size + h.payload + h.children > NEO_MAX_PACKET_SIZE)
			return NEO_SCAN_MALFORMED;
		pos += h.header_size + (size_t)h.payload;
		remaining[depth]--;
		if (h.children > 0) {
			if (depth == NEO_MAX_NESTING)
				return NEO_SCAN_MALFORMED;
			remaining[++depth] = h.children;
		}
		if (pos > len) {
			*value_len = pos;	/* payload still arriving */
			return NEO_SCAN_INCOMPLETE;
		}
	}
}
