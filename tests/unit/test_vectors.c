/*
 * test_vectors.c - our codec against upstream's own bytes.
 *
 * For every line of tests/data/protocol5.jsonl: the typed JSON arguments
 * pack to exactly upstream's bytes; our decoder reads those bytes into the
 * right packet with exactly those arguments; and our encoder, fed the
 * decoded struct, writes the same bytes back.  Then every packet type of
 * protocol 5 must have been seen.
 */
#include <stdio.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/wire.h"
#include "tap.h"
#include "vector_json.h"

static bool same_bytes(const msgpack_sbuffer *sb, const struct vector *v)
{
	return sb->size == v->size && memcmp(sb->data, v->bytes, v->size) == 0;
}

/* The typed JSON arguments, packed as the README says, are upstream's bytes. */
static bool json_packs_to_bytes(const struct vector *v)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i;
	json_t *arg;
	bool ok;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	ok = msgpack_pack_array(&pk, 3) == 0 && msgpack_pack_uint32(&pk, v->msg_id) == 0 &&
	     msgpack_pack_uint16(&pk, v->code) == 0 &&
	     msgpack_pack_array(&pk, json_array_size(v->args)) == 0;
	json_array_foreach(v->args, i, arg)
		ok = ok && vector_pack_arg(&pk, arg) == 0;
	ok = ok && same_bytes(&sb, v);
	msgpack_sbuffer_destroy(&sb);
	return ok;
}

/* Our generic view of the bytes holds the arguments the line lists. */
static bool bytes_hold_args(const struct vector *v, char *why, size_t whylen)
{
	msgpack_zone *zone = msgpack_zone_new(4096);
	msgpack_object frame;
	size_t off = 0;
	bool ok = false;

	json_t *args = json_pack("{s:O}", "array", v->args);

	if (msgpack_unpack((const char *)v->bytes, v->size, &off, zone, &frame) ==
	    MSGPACK_UNPACK_SUCCESS && frame.type == MSGPACK_OBJECT_ARRAY &&
	    frame.via.array.size == 3)
		ok = vector_match_arg(&frame.via.array.ptr[2], args, why, whylen);
	json_decref(args);
	msgpack_zone_free(zone);
	return ok;
}

static void check_packet(const struct vector *v, bool *seen)
{
	struct neo_packet pkt;
	char err[200] = "", why[200] = "";
	size_t scanned = 0;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int r;

	tap_ok(json_packs_to_bytes(v), "line %d %s: JSON arguments pack to upstream's bytes",
	       v->line, v->packet);
	tap_ok(neo_msgpack_scan(v->bytes, v->size, &scanned) == NEO_SCAN_COMPLETE &&
	       scanned == v->size, "line %d %s: scanner finds the whole packet", v->line, v->packet);

	r = neo_packet_decode(v->bytes, v->size, &pkt, err, sizeof(err));
	if (!tap_ok(r == 0, "line %d %s: decodes", v->line, v->packet)) {
		tap_diag("error: %s", err);
		return;
	}
	tap_ok(pkt.msg_id == v->msg_id && pkt.code == v->code &&
	       strcmp(pkt.type->name, v->packet) == 0 &&
	       bytes_hold_args(v, why, sizeof(why)),
	       "line %d %s: id, code, name and arguments as upstream's %s", v->line, v->packet, why);
	seen[pkt.code & 0xff] = true;
	if (pkt.code & NEO_ANSWER_BIT)
		seen[0x100 + (pkt.code & 0xff)] = true;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	r = neo_packet_encode(&pk, pkt.msg_id, pkt.code, pkt.args);
	tap_ok(r == 0 && same_bytes(&sb, v), "line %d %s: re-encodes byte for byte",
	       v->line, v->packet);
	msgpack_sbuffer_destroy(&sb);
	neo_packet_release(&pkt);
}

static void check_every_type_seen(const bool *seen)
{
	size_t count;
	const struct neo_packet_type *types = neo_packet_types(&count);
	size_t missing = 0, upstream = 0;

	for (size_t i = 0; i < count; i++) {
		uint16_t c = types[i].code;
		bool s = (c & NEO_ANSWER_BIT) ? seen[0x100 + (c & 0xff)] : seen[c & 0xff];

		/* ours (pack's GC) have no upstream vector: test_codec */
		if (types[i].ours)
			continue;
		upstream++;
		if (!s) {
			tap_diag("no vector for %s", types[i].name);
			missing++;
		}
	}
	tap_ok(upstream == 111, "protocol 5 has 111 packet types (we define %zu of upstream's)",
	       upstream);
	tap_ok(missing == 0, "every packet type has a vector");
}

int main(void)
{
	struct vector *vectors;
	int count = vectors_load(vectors_data_path("protocol5.jsonl"), &vectors);
	bool seen[0x200] = { false };
	int handshakes = 0;

	if (!tap_ok(count > 0, "vectors load"))
		return tap_done();
	for (int i = 0; i < count; i++) {
		if (vectors[i].handshake) {
			handshakes++;
			tap_ok(vectors[i].size == NEO_HANDSHAKE_SIZE &&
			       memcmp(vectors[i].bytes, neo_handshake, NEO_HANDSHAKE_SIZE) == 0,
			       "handshake is upstream's 6 bytes");
			continue;
		}
		check_packet(&vectors[i], seen);
	}
	tap_ok(handshakes == 1, "one handshake line");
	check_every_type_seen(seen);
	vectors_free(vectors, count);
	return tap_done();
}
