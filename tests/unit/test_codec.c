/*
 * test_codec.c - the codec against bytes derived by hand from the msgpack
 * specification and upstream's packet definitions, and against malformed
 * input.  Each expected byte string is commented with its derivation.
 */
#include <stdio.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/wire.h"
#include "tap.h"

static msgpack_sbuffer out;
static msgpack_packer packer;

static void start(void)
{
	msgpack_sbuffer_clear(&out);
}

static bool encoded_as(const uint8_t *want, size_t size)
{
	return out.size == size && memcmp(out.data, want, size) == 0;
}

static void test_ping(void)
{
	/* [0, 2, []]: fixarray 3, fixint 0, fixint 2, fixarray 0. */
	static const uint8_t want[] = { 0x93, 0x00, 0x02, 0x90 };

	start();
	tap_ok(neo_packet_encode(&packer, 0, NEO_PING, NULL) == 0 &&
	       encoded_as(want, sizeof(want)), "Ping id 0 is 93 00 02 90");
}

static void test_ask_object(void)
{
	/* [7, 0x20, [oid, nil, before]]: oids are bin 8 (c4 08 + 8 bytes,
	 * big-endian); nil is c0. */
	static const uint8_t want[] = {
		0x93, 0x07, 0x20, 0x93,
		0xc4, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0xc0,
		0xc4, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	struct neo_ask_object req = {
		.oid = 1,
		.at = { .has = false },
		.before = { .has = true, .v = 0x0102030405060708ull },
	};
	struct neo_packet pkt;
	char err[160];
	struct neo_ask_object *got;

	start();
	tap_ok(neo_packet_encode(&packer, 7, NEO_ASK_OBJECT, &req) == 0 &&
	       encoded_as(want, sizeof(want)), "AskObject: p64 as bin 8, nil for absent");
	tap_ok(neo_packet_decode(want, sizeof(want), &pkt, err, sizeof(err)) == 0,
	       "AskObject decodes");
	got = pkt.args;
	tap_ok(pkt.msg_id == 7 && pkt.code == NEO_ASK_OBJECT && got->oid == 1 &&
	       !got->at.has && got->before.has && got->before.v == 0x0102030405060708ull,
	       "AskObject decoded fields");
	neo_packet_release(&pkt);
}

static void test_accept_identification(void)
{
	/* msg_id 300 is uint16 cd 01 2c; code 0x8001 is cd 80 01; MASTER is
	 * ext type 4 (NodeTypes) holding fixint 0: fixext1 d4 04 00; master
	 * id 0xF0000001 as a signed 32-bit int is int32 d2 f0 00 00 01. */
	static const uint8_t want[] = {
		0x93, 0xcd, 0x01, 0x2c, 0xcd, 0x80, 0x01, 0x93,
		0xd4, 0x04, 0x00,
		0xd2, 0xf0, 0x00, 0x00, 0x01,
		0xc0,
	};
	struct neo_accept_identification ans = {
		.node_type = NEO_NODE_MASTER,
		.my_uuid = { .has = true, .v = (int32_t)0xf0000001u },
		.your_uuid = { .has = false },
	};

	start();
	tap_ok(neo_packet_encode(&packer, 300, NEO_ACCEPT_IDENTIFICATION, &ans) == 0 &&
	       encoded_as(want, sizeof(want)),
	       "AcceptIdentification: enum as fixext, signed node id, answer code");
}

static void test_error(void)
{
	/* Error is code 0x8000 (cd 80 00); its error code is a plain int
	 * (NOT_READY = 02), not an ext; the message is bin, never str. */
	static const uint8_t want[] = {
		0x93, 0x05, 0xcd, 0x80, 0x00, 0x92, 0x02,
		0xc4, 0x04, 'b', 'u', 's', 'y',
	};

	start();
	tap_ok(neo_packet_encode_error(&packer, 5, NEO_ERROR_NOT_READY, "busy") == 0 &&
	       encoded_as(want, sizeof(want)), "Error: plain int code, bin message");
}

static void test_node_information(void)
{
	/* 1.5 as float 64 is cb 3f f8 00 00 00 00 00 00; port 20000 is
	 * uint16 cd 4e 20; RUNNING is NodeStates (ext 3) value 2. */
	static const uint8_t want[] = {
		0x93, 0x01, 0x06, 0x92,
		0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
		0x91, 0x95,
		0xd4, 0x04, 0x01,
		0x92, 0xc4, 0x09, '1', '2', '7', '.', '0', '.', '0', '.', '1', 0xcd, 0x4e, 0x20,
		0x01,
		0xd4, 0x03, 0x02,
		0xc0,
	};
	struct neo_packet pkt;
	char err[160];
	struct neo_notify_node_information *info;
	struct neo_node_info *node;

	tap_ok(neo_packet_decode(want, sizeof(want), &pkt, err, sizeof(err)) == 0,
	       "NotifyNodeInformation decodes");
	info = pkt.args;
	node = &info->nodes.items[0];
	tap_ok(info->timestamp == 1.5 && info->nodes.count == 1 &&
	       node->type == NEO_NODE_STORAGE && node->address.has &&
	       node->address.v.host.size == 9 &&
	       memcmp(node->address.v.host.data, "127.0.0.1", 9) == 0 &&
	       node->address.v.port == 20000 && node->uuid.has && node->uuid.v == 1 &&
	       node->state == NEO_NODE_RUNNING && !node->id_timestamp.has,
	       "NotifyNodeInformation decoded fields");
	start();
	tap_ok(neo_packet_encode(&packer, pkt.msg_id, pkt.code, pkt.args) == 0 &&
	       encoded_as(want, sizeof(want)), "NotifyNodeInformation re-encodes");
	neo_packet_release(&pkt);
}

static void test_big_bin(void)
{
	/* 70000 bytes of data need bin 32: c6 00 01 11 70. */
	static uint8_t data[70000];
	struct neo_add_object obj = {
		.oid = 5, .serial = 6, .compression = 0,
		.checksum = { NULL, 0 },
		.data = { data, sizeof(data) },
		.data_serial = { .has = false },
	};
	static const uint8_t header[] = { 0xc6, 0x00, 0x01, 0x11, 0x70 };
	struct neo_packet pkt;
	char err[160];
	const uint8_t *p;

	memset(data, 0xab, sizeof(data));
	start();
	tap_ok(neo_packet_encode(&packer, 1, NEO_ADD_OBJECT, &obj) == 0, "AddObject 70000 bytes encodes");
	p = memmem(out.data, out.size, header, sizeof(header));
	tap_ok(p != NULL, "big data uses bin 32");
	tap_ok(neo_packet_decode((const uint8_t *)out.data, out.size, &pkt, err, sizeof(err)) == 0 &&
	       ((struct neo_add_object *)pkt.args)->data.size == sizeof(data) &&
	       memcmp(((struct neo_add_object *)pkt.args)->data.data, data, sizeof(data)) == 0,
	       "big data decodes intact");
	neo_packet_release(&pkt);
}

static void test_map_order_kept(void)
{
	/* {tid 2: nil, tid 1: tid 3}: maps encode in the order given. */
	uint64_t keys[] = { 2, 1 };
	struct neo_opt_p64 values[] = { { false, 0 }, { true, 3 } };
	struct neo_answer_locked_transactions ans = { .locked = { keys, values, 2 } };
	static const uint8_t want[] = {
		0x93, 0x00, 0xcd, 0x80, 0x0f, 0x91, 0x82,
		0xc4, 0x08, 0, 0, 0, 0, 0, 0, 0, 2, 0xc0,
		0xc4, 0x08, 0, 0, 0, 0, 0, 0, 0, 1,
		0xc4, 0x08, 0, 0, 0, 0, 0, 0, 0, 3,
	};

	start();
	tap_ok(neo_packet_encode(&packer, 0, NEO_ANSWER_LOCKED_TRANSACTIONS, &ans) == 0 &&
	       encoded_as(want, sizeof(want)), "map entries keep their order");
}

/* Decoding this must fail with `want` (-1 or -2) and an error containing
 * `needle`. */
static void expect_bad(const uint8_t *bytes, size_t size, int want, const char *needle,
		       const char *name)
{
	struct neo_packet pkt;
	char err[160] = "";
	int r = neo_packet_decode(bytes, size, &pkt, err, sizeof(err));

	if (!tap_ok(r == want && strstr(err, needle) != NULL, "refused: %s", name))
		tap_diag("got %d, error '%s'", r, err);
	if (r == 0)
		neo_packet_release(&pkt);
}

static void test_malformed(void)
{
	static const uint8_t not_array[] = { 0x92, 0x00, 0x02 };
	static const uint8_t negative_id[] = { 0x93, 0xff, 0x02, 0x90 };
	static const uint8_t big_code[] = { 0x93, 0x00, 0xce, 0x00, 0x01, 0x00, 0x00, 0x90 };
	static const uint8_t trailing[] = { 0x93, 0x00, 0x02, 0x90, 0x00 };
	static const uint8_t ping_with_arg[] = { 0x93, 0x09, 0x02, 0x91, 0x01 };
	static const uint8_t unknown_code[] = { 0x93, 0x09, 0xcd, 0x77, 0x77, 0x90 };
	static const uint8_t short_oid[] = { 0x93, 0x01, 0x10, 0x91, 0xc4, 0x07, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t str_not_bin[] = { 0x93, 0x01, 0x10, 0x91, 0xa8, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t wrong_enum[] = { 0x93, 0x01, 0x25, 0x91, 0xd4, 0x03, 0x01 };
	static const uint8_t enum_range[] = { 0x93, 0x01, 0x25, 0x91, 0xd4, 0x04, 0x09 };
	static const uint8_t unknown_ext[] = { 0x93, 0x01, 0x48, 0x91, 0x81, 0xc4, 0x01, 'k', 0xd4, 0x07, 0x00 };
	static const uint8_t int_range[] = { 0x93, 0x01, 0x19, 0x91, 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t float_for_int[] = { 0x93, 0x01, 0x19, 0x91, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0 };
	static const uint8_t list_not_map[] = { 0x93, 0x01, 0x48, 0x91, 0x90 };

	expect_bad(not_array, sizeof(not_array), -1, "3-item array", "a 2-item frame");
	expect_bad(negative_id, sizeof(negative_id), -1, "packet id", "a negative msg_id");
	expect_bad(big_code, sizeof(big_code), -1, "packet code", "a code beyond 16 bits");
	expect_bad(trailing, sizeof(trailing), -1, "not one msgpack value", "trailing bytes");
	expect_bad(ping_with_arg, sizeof(ping_with_arg), -2, "expected 0 items", "Ping with an argument");
	expect_bad(unknown_code, sizeof(unknown_code), -2, "unknown packet code", "an unknown code");
	expect_bad(short_oid, sizeof(short_oid), -2, "8-byte bin", "a 7-byte tid");
	expect_bad(str_not_bin, sizeof(str_not_bin), -2, "got str", "a str where bin is due");
	expect_bad(wrong_enum, sizeof(wrong_enum), -2, "expected NodeTypes", "an enum of the wrong type");
	expect_bad(enum_range, sizeof(enum_range), -2, "NodeTypes value", "an enum value out of range");
	expect_bad(unknown_ext, sizeof(unknown_ext), -2, "unknown ext type", "an unknown ext inside any");
	expect_bad(int_range, sizeof(int_range), -2, "out of range", "an int beyond int64");
	expect_bad(float_for_int, sizeof(float_for_int), -2, "expected int", "a float where int is due");
	expect_bad(list_not_map, sizeof(list_not_map), -2, "expected map", "a list where map is due");

	{
		struct neo_packet pkt;
		char err[160];

		tap_ok(neo_packet_decode(ping_with_arg, sizeof(ping_with_arg), &pkt, err,
					 sizeof(err)) != 0 &&
		       pkt.msg_id == 9 && pkt.code == NEO_PING,
		       "a bad request still tells its msg_id, to answer an Error");
	}
}

static void test_encode_errors(void)
{
	start();
	tap_ok(neo_packet_encode(&packer, 0, 0x7777, NULL) == -1, "encoding an unknown code fails");
	tap_ok(neo_packet_encode(&packer, 0, NEO_ASK_OBJECT, NULL) == -1,
	       "encoding without the arguments fails");
}

static void test_packet_table(void)
{
	size_t count;
	const struct neo_packet_type *types = neo_packet_types(&count);
	bool sorted = true, answers_match = true;

	for (size_t i = 1; i < count; i++)
		sorted = sorted && types[i - 1].code < types[i].code;
	for (size_t i = 0; i < count; i++) {
		uint16_t c = types[i].code;

		/* Every answer but Error answers a request of the same code. */
		if ((c & NEO_ANSWER_BIT) && c != NEO_ERROR)
			answers_match = answers_match && neo_packet_type_of(c & ~NEO_ANSWER_BIT);
	}
	tap_ok(sorted, "packet table sorted by code");
	tap_ok(answers_match, "every answer has its request");
	tap_ok(neo_packet_type_of(NEO_ASK_OBJECT) && strcmp(neo_packet_type_of(NEO_ASK_OBJECT)->name,
							   "AskObject") == 0, "lookup by code");
	tap_ok(neo_packet_type_of(0x4a) == NULL && neo_packet_type_of(0x804a) == NULL,
	       "codes beyond protocol 5 are unknown");
}

static void test_enum_names(void)
{
	tap_ok(strcmp(neo_enum_name(NEO_ENUM_CELL_STATES, NEO_CELL_UP_TO_DATE), "UP_TO_DATE") == 0 &&
	       neo_enum_value(NEO_ENUM_CLUSTER_STATES, "BACKINGUP") == NEO_CLUSTER_BACKINGUP &&
	       neo_enum_name(NEO_ENUM_NODE_TYPES, 4) == NULL &&
	       neo_enum_value(NEO_ENUM_NODE_STATES, "bogus") == -1,
	       "enum names both ways");
}

int main(void)
{
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&packer, &out, msgpack_sbuffer_write);
	test_ping();
	test_ask_object();
	test_accept_identification();
	test_error();
	test_node_information();
	test_big_bin();
	test_map_order_kept();
	test_malformed();
	test_encode_errors();
	test_packet_table();
	test_enum_names();
	msgpack_sbuffer_destroy(&out);
	return tap_done();
}
