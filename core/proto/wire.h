/*
 * proto/wire.h - the bytes of a NEO protocol 5 stream, before any typing.
 *
 * A NEO stream is the 6-byte handshake followed by msgpack values laid end
 * to end with no length prefix, one per packet (protocol.md section 4).  This
 * module recognises the handshake and finds where one msgpack value ends,
 * without trusting any length read from the wire: a declared length or
 * count that could not fit in NEO_MAX_PACKET_SIZE is malformed input, not
 * a reason to allocate.
 */
#ifndef NEO_WIRE_H
#define NEO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define NEO_PROTOCOL_VERSION 5

/* msgpack of the array ["NEO", 5], "NEO" as str; sent first by both sides. */
#define NEO_HANDSHAKE_SIZE 6
extern const uint8_t neo_handshake[NEO_HANDSHAKE_SIZE];

/* As upstream: the first 5 bytes tell a NEO peer from anything else. */
#define NEO_HANDSHAKE_MAGIC_SIZE 5

/* As upstream's unpacker buffer: no packet may be larger than 64 MiB. */
#define NEO_MAX_PACKET_SIZE (64u * 1024u * 1024u)

/* Nesting deeper than this is refused (msgpack-c's own decoder limit). */
#define NEO_MAX_NESTING 32

enum neo_handshake_status {
	NEO_HANDSHAKE_OK,		/* the 6 bytes are ours */
	NEO_HANDSHAKE_INCOMPLETE,	/* a prefix of ours: wait for more */
	NEO_HANDSHAKE_VERSION_MISMATCH,	/* a NEO peer of another version */
	NEO_HANDSHAKE_NOT_NEO		/* not a NEO peer at all */
};

/*
 * Classifies the first bytes received on a connection.  On a version
 * mismatch, *peer_version (if not NULL) gets the peer's version, or -1 when
 * it cannot be read as a small integer.
 */
enum neo_handshake_status neo_handshake_check(const uint8_t *buf, size_t len,
					      int *peer_version);

enum neo_scan_status {
	NEO_SCAN_COMPLETE,	/* *value_len bytes hold one whole value */
	NEO_SCAN_INCOMPLETE,	/* need at least *value_len bytes in all */
	NEO_SCAN_MALFORMED	/* never valid, whatever follows */
};

/*
 * Finds the extent of the msgpack value starting at buf.  On COMPLETE,
 * *value_len is its size.  On INCOMPLETE, *value_len is a lower bound on
 * the bytes needed before scanning again can make progress (the caller
 * may wait for that much, so a large bin is scanned once, not once per
 * read).  MALFORMED covers reserved bytes (0xc1), nesting beyond
 * NEO_MAX_NESTING and values that cannot fit in NEO_MAX_PACKET_SIZE.
 */
enum neo_scan_status neo_msgpack_scan(const uint8_t *buf, size_t len,
				      size_t *value_len);

#endif
