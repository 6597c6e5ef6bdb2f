/*
 * fuzz_decoder.c - libFuzzer target for everything that reads the wire.
 *
 * The input is taken as a stream of packets with no handshake.  Each value
 * the scanner delimits is decoded; a packet that decodes must re-encode to
 * bytes that decode again and re-encode identically (the decoder accepts
 * wider encodings than ours, so the first re-encoding may differ from the
 * input, but after that the codec must be at a fixed point).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fixed_point(const struct neo_packet *pkt)
{
	msgpack_sbuffer first, second;
	msgpack_packer pk;
	struct neo_packet again;
	char err[160];

	msgpack_sbuffer_init(&first);
	msgpack_sbuffer_init(&second);
	msgpack_packer_init(&pk, &first, msgpack_sbuffer_write);
	if (neo_packet_encode(&pk, pkt->msg_id, pkt->code, pkt->args) != 0)
		abort();
	if (neo_packet_decode((const uint8_t *)first.data, first.size, &again, err, sizeof(err)) != 0)
		abort();
	msgpack_packer_init(&pk, &second, msgpack_sbuffer_write);
	if (neo_packet_encode(&pk, again.msg_id, again.code, again.args) != 0)
		abort();
	if (first.size != second.size || memcmp(first.data, second.data, first.size) != 0)
		abort();
	neo_packet_release(&again);
	msgpack_sbuffer_destroy(&first);
	msgpack_sbuffer_destroy(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int version;

	(void)neo_handshake_check(data, size, &version);
	while (size > 0) {
		size_t len = 0;
		struct neo_packet pkt;
		char err[160];

		if (neo_msgpack_scan(data, size, &len) != NEO_SCAN_COMPLETE)
			break;
		if (len == 0 || len > size)
			abort();	/* the scanner promised a value inside the input */
		if (neo_packet_decode(data, len, &pkt, err, sizeof(err)) == 0) {
			check_fixed_point(&pkt);
			neo_packet_release(&pkt);
		}
		data += len;
		size -= len;
	}
	return 0;
}
