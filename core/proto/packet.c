/*
 * proto/packet.c - framing of whole packets around the generated codecs.
 */
#include "proto/packet.h"

#include <stdio.h>
#include <string.h>

#include "proto/wire.h"

const struct neo_packet_type *neo_packet_type_of(uint16_t code)
{
	size_t lo = 0, hi = neo_packet_type_table_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint16_t c = neo_packet_type_table[mid].code;

		if (c == code)
			return &neo_packet_type_table[mid];
		if (c < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct neo_packet_type *neo_packet_types(size_t *count)
{
	*count = neo_packet_type_table_count;
	return neo_packet_type_table;
}

static void set_error(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* Reads [msg_id, code, args] and checks the first two; returns args. */
static const msgpack_object *read_frame(const msgpack_object *frame, struct neo_packet *out,
					struct neo_decoder *d)
{
	const msgpack_object *items;

	if (frame->type != MSGPACK_OBJECT_ARRAY || frame->via.array.size != 3) {
		neo_decode_fail(d, "packet is not a 3-item array");
		return NULL;
	}
	items = frame->via.array.ptr;
	if (items[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || items[0].via.u64 > UINT32_MAX) {
		neo_decode_fail(d, "packet id is not a 32-bit unsigned int");
		return NULL;
	}
	if (items[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || items[1].via.u64 > UINT16_MAX) {
		neo_decode_fail(d, "packet code is not a 16-bit unsigned int");
		return NULL;
	}
	out->msg_id = (uint32_t)items[0].via.u64;
	out->code = (uint16_t)items[1].via.u64;
	return &items[2];
}

/* Decodes the typed arguments; returns 0 or -1 with d->error set. */
static int decode_args(const msgpack_object *args, struct neo_packet *out,
		       struct neo_decoder *d)
{
	out->type = neo_packet_type_of(out->code);
	if (out->type == NULL)
		return neo_decode_fail(d, "unknown packet code 0x%04x", out->code);
	if (neo_check_ext_types(d, args))
		return -1;
	if (out->type->args_size > 0) {
		out->args = neo_decode_alloc(d, 1, out->type->args_size);
		if (out->args == NULL)
			return -1;
	}
	return out->type->decode(d, args, out->args);
}

int neo_packet_decode(const uint8_t *buf, size_t len, struct neo_packet *out,
		      char *err, size_t errlen)
{
	struct neo_decoder d = { 0 };
	msgpack_object frame;
	const msgpack_object *args;
	void *copy;
	size_t offset = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > NEO_MAX_PACKET_SIZE) {
		set_error(err, errlen, "packet size out of range");
		return -1;
	}
	/* A packet lives in one msgpack zone, which msgpack allocates and
	 * frees itself (proto/ sits below runtime/alloc.h): a failure here is
	 * a decode error, which a daemon's connection answers by closing. */
	d.zone = msgpack_zone_new(len + 1024);
	copy = d.zone ? msgpack_zone_malloc(d.zone, len) : NULL;
	if (copy == NULL) {
		set_error(err, errlen, "out of memory");
		msgpack_zone_free(d.zone);
		return -1;
	}
	memcpy(copy, buf, len);
	/* The unpacked objects point into `copy`, which the zone owns. */
	if (msgpack_unpack(copy, len, &offset, d.zone, &frame) != MSGPACK_UNPACK_SUCCESS ||
	    offset != len) {
		set_error(err, errlen, "packet is not one msgpack value");
		msgpack_zone_free(d.zone);
		return -1;
	}
	args = read_frame(&frame, out, &d);
	if (args == NULL) {
		set_error(err, errlen, d.error);
		msgpack_zone_free(d.zone);
		return -1;
	}
	if (decode_args(args, out, &d)) {
		set_error(err, errlen, d.error);
		msgpack_zone_free(d.zone);
		out->type = NULL;
		out->args = NULL;
		return -2;
	}
	out->zone = d.zone;
	return 0;
}

void neo_packet_release(struct neo_packet *pkt)
{
	if (pkt->zone != NULL)
		msgpack_zone_free(pkt->zone);
	pkt->zone = NULL;
	pkt->args = NULL;
	pkt->type = NULL;
}

void neo_packet_take(struct neo_packet *from, struct neo_packet *to)
{
	*to = *from;
	from->zone = NULL;
	from->args = NULL;
	from->type = NULL;
}

int neo_packet_encode(msgpack_packer *pk, uint32_t msg_id, uint16_t code,
		      const void *args)
{
	const struct neo_packet_type *type = neo_packet_type_of(code);
	int r;

	if (type == NULL || (type->args_size > 0 && args == NULL))
		return -1;
	r = msgpack_pack_array(pk, 3);
	if (r == 0)
		r = msgpack_pack_uint32(pk, msg_id);
	if (r == 0)
		r = msgpack_pack_uint16(pk, code);
	if (r == 0)
		r = type->encode(pk, args);
	return r;
}

int neo_packet_encode_error(msgpack_packer *pk, uint32_t msg_id,
			    enum neo_error_code code, const char *message)
{
	struct neo_error error = {
		.code = code,
		.message = neo_bin_str(message ? message : ""),
	};

	return neo_packet_encode(pk, msg_id, NEO_ERROR, &error);
}
