/*
 * neo-selftest - checks that this build speaks NEO protocol 5.
 *
 * For every packet type: an instance with empty lists and absent optional
 * arguments is encoded, delimited by the stream scanner, decoded and
 * encoded again to the same bytes; then the handshake is checked against a
 * version-4 peer and a non-NEO peer.  Prints one line per failure and a
 * summary; exits 0 when all is well.  The quick start runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/wire.h"
#include "runtime/alloc.h"

static int check_type(const struct neo_packet_type *type, uint32_t msg_id)
{
	msgpack_sbuffer first, second;
	msgpack_packer pk;
	struct neo_packet pkt;
	void *args = type->args_size ? neo_calloc(1, type->args_size) : NULL;
	char err[160] = "";
	size_t len = 0;
	int ok;

	msgpack_sbuffer_init(&first);
	msgpack_sbuffer_init(&second);
	msgpack_packer_init(&pk, &first, msgpack_sbuffer_write);
	ok = neo_packet_encode(&pk, msg_id, type->code, args) == 0 &&
	     neo_msgpack_scan((const uint8_t *)first.data, first.size, &len) == NEO_SCAN_COMPLETE &&
	     len == first.size &&
	     neo_packet_decode((const uint8_t *)first.data, first.size, &pkt, err, sizeof(err)) == 0;
	if (ok) {
		msgpack_packer_init(&pk, &second, msgpack_sbuffer_write);
		ok = pkt.code == type->code && pkt.msg_id == msg_id &&
		     neo_packet_encode(&pk, pkt.msg_id, pkt.code, pkt.args) == 0 &&
		     second.size == first.size && memcmp(first.data, second.data, first.size) == 0;
		neo_packet_release(&pkt);
	}
	if (!ok)
		printf("FAILED %s (0x%04x) %s\n", type->name, type->code, err);
	neo_free(args);
	msgpack_sbuffer_destroy(&first);
	msgpack_sbuffer_destroy(&second);
	return ok;
}

static int check_handshake(void)
{
	static const uint8_t older[] = { 0x92, 0xa3, 'N', 'E', 'O', 0x04 };
	static const uint8_t http[] = "GET / HTTP/1.1";
	int version = 0;

	return neo_handshake_check(neo_handshake, NEO_HANDSHAKE_SIZE, NULL) == NEO_HANDSHAKE_OK &&
	       neo_handshake_check(older, sizeof(older), &version) == NEO_HANDSHAKE_VERSION_MISMATCH &&
	       version == 4 &&
	       neo_handshake_check(http, 6, NULL) == NEO_HANDSHAKE_NOT_NEO;
}

int main(int argc, char **argv)
{
	size_t count, round_trips = 0;
	const struct neo_packet_type *types = neo_packet_types(&count);
	int handshake_ok;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: %s\nChecks that this build encodes and decodes every packet of NEO protocol %d.\n",
		       argv[0], NEO_PROTOCOL_VERSION);
		return 0;
	}
	for (size_t i = 0; i < count; i++)
		round_trips += check_type(&types[i], (uint32_t)i * 4099u);
	handshake_ok = check_handshake();
	printf("NEO protocol %d self-test: %zu of %zu packet types round-trip, handshake %s\n",
	       NEO_PROTOCOL_VERSION, round_trips, count, handshake_ok ? "ok" : "FAILED");
	return round_trips == count && handshake_ok ? 0 : 1;
}
