/*
 * test_stream.c - a NEO stream as it arrives from a socket: the handshake,
 * then packets laid end to end with no length prefix.
 *
 * The whole vector file, concatenated after the handshake, must decode
 * packet by packet whether it arrives at once, a byte at a time, or in
 * chunks of any size; truncated and garbage input must be told apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/wire.h"
#include "tap.h"
#include "vector_json.h"

/* A receiving side reduced to what the wire defines. */
struct receiver {
	uint8_t *buf;
	size_t len, cap;
	size_t wait_for;	/* the scanner's lower bound */
	bool handshaken;
	bool failed;
	int packets;
	uint16_t *codes;	/* codes in arrival order */
	uint32_t *ids;
};

static void receiver_init(struct receiver *r, size_t max_packets)
{
	memset(r, 0, sizeof(*r));
	r->codes = calloc(max_packets, sizeof(*r->codes));
	r->ids = calloc(max_packets, sizeof(*r->ids));
}

static void receiver_free(struct receiver *r)
{
	free(r->buf);
	free(r->codes);
	free(r->ids);
}

static void consume(struct receiver *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

static void drain_packets(struct receiver *r)
{
	while (!r->failed && r->len > 0 && r->len >= r->wait_for) {
		size_t size;
		enum neo_scan_status s = neo_msgpack_scan(r->buf, r->len, &size);
		struct neo_packet pkt;
		char err[160];

		if (s == NEO_SCAN_INCOMPLETE) {
			r->wait_for = size;
			return;
		}
		if (s == NEO_SCAN_MALFORMED || neo_packet_decode(r->buf, size, &pkt, err, sizeof(err))) {
			r->failed = true;
			return;
		}
		r->codes[r->packets] = pkt.code;
		r->ids[r->packets] = pkt.msg_id;
		r->packets++;
		neo_packet_release(&pkt);
		consume(r, size);
		r->wait_for = 0;
	}
}

static void receive(struct receiver *r, const uint8_t *data, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->buf = realloc(r->buf, r->cap);
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	if (!r->handshaken) {
		enum neo_handshake_status h = neo_handshake_check(r->buf, r->len, NULL);

		if (h == NEO_HANDSHAKE_INCOMPLETE)
			return;
		if (h != NEO_HANDSHAKE_OK) {
			r->failed = true;
			return;
		}
		r->handshaken = true;
		consume(r, NEO_HANDSHAKE_SIZE);
	}
	drain_packets(r);
}

static struct vector *vectors;
static int vector_count;
static uint8_t *stream;
static size_t stream_size;

static void build_stream(void)
{
	for (int i = 0; i < vector_count; i++)
		stream_size += vectors[i].size;
	stream = malloc(stream_size);
	stream_size = 0;
	/* The handshake is the file's first line. */
	for (int i = 0; i < vector_count; i++) {
		memcpy(stream + stream_size, vectors[i].bytes, vectors[i].size);
		stream_size += vectors[i].size;
	}
}

static bool all_arrived_in_order(const struct receiver *r)
{
	int k = 0;

	if (r->failed || r->len != 0)
		return false;
	for (int i = 0; i < vector_count; i++) {
		if (vectors[i].handshake)
			continue;
		if (k >= r->packets || r->codes[k] != vectors[i].code || r->ids[k] != vectors[i].msg_id)
			return false;
		k++;
	}
	return k == r->packets;
}

static void feed_in_chunks(const char *name, size_t (*next_size)(size_t))
{
	struct receiver r;
	size_t pos = 0;

	receiver_init(&r, vector_count);
	while (pos < stream_size) {
		size_t n = next_size(pos);

		if (n > stream_size - pos)
			n = stream_size - pos;
		receive(&r, stream + pos, n);
		pos += n;
	}
	tap_ok(all_arrived_in_order(&r), "whole vector stream, %s: %d packets in order",
	       name, r.packets);
	receiver_free(&r);
}

static size_t all_at_once(size_t pos) { (void)pos; return SIZE_MAX; }
static size_t one_byte(size_t pos) { (void)pos; return 1; }
static size_t seven_bytes(size_t pos) { (void)pos; return 7; }
static size_t random_chunks(size_t pos) { (void)pos; return 1 + (size_t)(rand() % 700); }

static void test_truncated_stream(void)
{
	struct receiver r;

	receiver_init(&r, vector_count);
	receive(&r, stream, stream_size - 3);
	tap_ok(!r.failed && r.packets == vector_count - 2 && r.len > 0,
	       "a stream cut short waits for the rest of its last packet");
	receiver_free(&r);
}

static void test_garbage_after_packets(void)
{
	struct receiver r;
	static const uint8_t garbage[] = { 0xc1, 0x00, 0x00 };

	receiver_init(&r, vector_count);
	receive(&r, stream, stream_size);
	receive(&r, garbage, sizeof(garbage));
	tap_ok(r.failed && r.packets == vector_count - 1,
	       "garbage after good packets is a protocol error after the good ones");
	receiver_free(&r);
}

static void test_handshakes(void)
{
	static const uint8_t v4[] = { 0x92, 0xa3, 'N', 'E', 'O', 0x04 };
	static const uint8_t http[] = "GET / HTTP/1.0\r\n";
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
	int version = 0;

	tap_ok(neo_handshake_check(neo_handshake, 6, NULL) == NEO_HANDSHAKE_OK, "our handshake");
	tap_ok(neo_handshake_check(neo_handshake, 3, NULL) == NEO_HANDSHAKE_INCOMPLETE,
	       "a handshake prefix waits");
	tap_ok(neo_handshake_check(v4, 6, &version) == NEO_HANDSHAKE_VERSION_MISMATCH && version == 4,
	       "protocol 4 peer is a version mismatch, version read");
	tap_ok(neo_handshake_check(http, 6, NULL) == NEO_HANDSHAKE_NOT_NEO, "HTTP is not NEO");
	tap_ok(neo_handshake_check(tls, 1, NULL) == NEO_HANDSHAKE_NOT_NEO,
	       "a TLS ClientHello is not NEO from its first byte");
}

static void test_scanner_limits(void)
{
	uint8_t buf[64];
	size_t n = 0;
	/* array 32 claiming 2^32-1 items cannot fit in 64 MiB. */
	static const uint8_t huge_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };
	/* bin 32 of 2 GiB. */
	static const uint8_t huge_bin[] = { 0xc6, 0x7f, 0xff, 0xff, 0xff };
	/* bin 32 of 1000 bytes, 10 present: wait for all 1005. */
	uint8_t partial_bin[15] = { 0xc6, 0x00, 0x00, 0x03, 0xe8 };
	static const uint8_t reserved[] = { 0xc1 };

	tap_ok(neo_msgpack_scan(huge_array, sizeof(huge_array), &n) == NEO_SCAN_MALFORMED,
	       "an impossible item count is malformed, not a wait");
	tap_ok(neo_msgpack_scan(huge_bin, sizeof(huge_bin), &n) == NEO_SCAN_MALFORMED,
	       "a bin larger than a packet may be is malformed");
	tap_ok(neo_msgpack_scan(partial_bin, sizeof(partial_bin), &n) == NEO_SCAN_INCOMPLETE &&
	       n == 1005, "a partial bin asks for its whole length at once");
	tap_ok(neo_msgpack_scan(reserved, 1, &n) == NEO_SCAN_MALFORMED, "0xc1 is malformed");

	memset(buf, 0x91, NEO_MAX_NESTING);	/* 32 nested arrays of 1 */
	buf[NEO_MAX_NESTING] = 0xc0;
	tap_ok(neo_msgpack_scan(buf, NEO_MAX_NESTING + 1, &n) == NEO_SCAN_COMPLETE &&
	       n == NEO_MAX_NESTING + 1, "nesting up to the limit is fine");
	memset(buf, 0x91, NEO_MAX_NESTING + 1);
	buf[NEO_MAX_NESTING + 1] = 0xc0;
	tap_ok(neo_msgpack_scan(buf, NEO_MAX_NESTING + 2, &n) == NEO_SCAN_MALFORMED,
	       "nesting beyond the limit is malformed");
}

static void test_every_prefix_incomplete(void)
{
	bool ok = true;

	/* Every proper prefix of every packet is incomplete, never malformed,
	 * and its lower bound never exceeds the real size. */
	for (int i = 0; i < vector_count && ok; i++) {
		if (vectors[i].handshake)
			continue;
		for (size_t k = 0; k < vectors[i].size && ok; k++) {
			size_t need = 0;

			ok = neo_msgpack_scan(vectors[i].bytes, k, &need) == NEO_SCAN_INCOMPLETE &&
			     need > k && need <= vectors[i].size;
		}
	}
	tap_ok(ok, "every prefix of every vector is incomplete with a sound lower bound");
}

int main(void)
{
	vector_count = vectors_load(vectors_data_path("protocol5.jsonl"), &vectors);
	if (!tap_ok(vector_count > 0, "vectors load"))
		return tap_done();
	build_stream();
	srand(5);
	feed_in_chunks("at once", all_at_once);
	feed_in_chunks("one byte at a time", one_byte);
	feed_in_chunks("7 bytes at a time", seven_bytes);
	feed_in_chunks("random chunks", random_chunks);
	test_truncated_stream();
	test_garbage_after_packets();
	test_handshakes();
	test_scanner_limits();
	test_every_prefix_incomplete();
	free(stream);
	vectors_free(vectors, vector_count);
	return tap_done();
}
