/*
 * proto/codec.c - msgpack primitives for the packet codec (see proto/codec.h).
 *
 * Encoders lean on msgpack-c, which already writes every integer in its
 * smallest form as upstream's packer does.  Decoders accept any width but
 * check every type and range: the wire is never trusted.
 */
#include "proto/codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *object_type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "str";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "unknown";
}

int neo_decode_fail(struct neo_decoder *d, const char *fmt, ...)
{
	va_list ap;

	if (d->error[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	return -1;
}

static int wrong_type(struct neo_decoder *d, const char *what, const char *expected,
		      const msgpack_object *o)
{
	return neo_decode_fail(d, "%s: expected %s, got %s", what, expected,
			       object_type_name(o));
}

void *neo_decode_alloc(struct neo_decoder *d, size_t count, size_t size)
{
	void *p;

	if (count == 0)
		count = 1;	/* a valid, distinct pointer for empty lists */
	if (count > SIZE_MAX / size) {
		neo_decode_fail(d, "out of memory");
		return NULL;
	}
	p = msgpack_zone_malloc(d->zone, count * size);
	if (p == NULL)
		neo_decode_fail(d, "out of memory");
	return p;
}

int neo_decode_int(struct neo_decoder *d, const msgpack_object *o, const char *what,
		   int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(d, what, "int", o);
	if (o->via.u64 > INT64_MAX)
		return neo_decode_fail(d, "%s: integer out of range", what);
	*out = (int64_t)o->via.u64;
	return 0;
}

int neo_decode_bool(struct neo_decoder *d, const msgpack_object *o, const char *what,
		    bool *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return wrong_type(d, what, "bool", o);
	*out = o->via.boolean;
	return 0;
}

int neo_decode_float(struct neo_decoder *d, const msgpack_object *o, const char *what,
		     double *out)
{
	if (o->type != MSGPACK_OBJECT_FLOAT64 && o->type != MSGPACK_OBJECT_FLOAT32)
		return wrong_type(d, what, "float", o);
	*out = o->via.f64;
	return 0;
}

int neo_decode_bin(struct neo_decoder *d, const msgpack_object *o, const char *what,
		   struct neo_bin *out)
{
	/* As upstream (use_bin_type): text travels as bin, never str. */
	if (o->type != MSGPACK_OBJECT_BIN)
		return wrong_type(d, what, "bin", o);
	out->data = (const uint8_t *)o->via.bin.ptr;
	out->size = o->via.bin.size;
	return 0;
}

int neo_decode_p64(struct neo_decoder *d, const msgpack_object *o, const char *what,
		   uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return wrong_type(d, what, "8-byte bin", o);
	if (o->via.bin.size != 8)
		return neo_decode_fail(d, "%s: expected 8-byte bin, got %u bytes", what,
				       (unsigned)o->via.bin.size);
	*out = neo_p64_read((const uint8_t *)o->via.bin.ptr);
	return 0;
}

int neo_decode_any(struct neo_decoder *d, const msgpack_object *o, const char *what,
		   msgpack_object *out)
{
	(void)d;
	(void)what;
	*out = *o;
	return 0;
}

/* The int inside an enum's ext payload: positive fixint or uint 8/16/32. */
static int read_ext_int(const uint8_t *p, uint32_t size, int *out)
{
	if (size == 1 && p[0] <= 0x7f) {
		*out = p[0];
		return 0;
	}
	if (size == 2 && p[0] == 0xcc) {
		*out = p[1];
		return 0;
	}
	if (size == 3 && p[0] == 0xcd) {
		*out = (p[1] << 8) | p[2];
		return 0;
	}
	return -1;
}

int neo_decode_enum(struct neo_decoder *d, const msgpack_object *o, const char *what,
		    enum neo_enum_type enum_type, int *out)
{
	int value;

	if (o->type != MSGPACK_OBJECT_EXT)
		return wrong_type(d, what, neo_enum_type_name(enum_type), o);
	if (o->via.ext.type != (int8_t)enum_type)
		return neo_decode_fail(d, "%s: expected %s, got ext type %d", what,
				       neo_enum_type_name(enum_type), o->via.ext.type);
	if (read_ext_int((const uint8_t *)o->via.ext.ptr, o->via.ext.size, &value) ||
	    neo_enum_name(enum_type, value) == NULL)
		return neo_decode_fail(d, "%s: not a valid %s value", what,
				       neo_enum_type_name(enum_type));
	*out = value;
	return 0;
}

int neo_decode_tuple(struct neo_decoder *d, const msgpack_object *o, const char *what,
		     uint32_t arity)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return wrong_type(d, what, "array", o);
	if (o->via.array.size != arity)
		return neo_decode_fail(d, "%s: expected %u items, got %u", what,
				       (unsigned)arity, (unsigned)o->via.array.size);
	return 0;
}

int neo_decode_array(struct neo_decoder *d, const msgpack_object *o, const char *what,
		     uint32_t *count)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return wrong_type(d, what, "array", o);
	*count = o->via.array.size;
	return 0;
}

int neo_decode_map(struct neo_decoder *d, const msgpack_object *o, const char *what,
		   uint32_t *count)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return wrong_type(d, what, "map", o);
	*count = o->via.map.size;
	return 0;
}

int neo_check_ext_types(struct neo_decoder *d, const msgpack_object *o)
{
	/* Iterative over siblings, recursive only into containers, whose
	 * depth the wire scanner has already bounded. */
	switch (o->type) {
	case MSGPACK_OBJECT_EXT: {
		int value;

		if (o->via.ext.type < 0 || o->via.ext.type >= NEO_ENUM_COUNT)
			return neo_decode_fail(d, "unknown ext type %d", o->via.ext.type);
		if (read_ext_int((const uint8_t *)o->via.ext.ptr, o->via.ext.size, &value) ||
		    neo_enum_name((enum neo_enum_type)o->via.ext.type, value) == NULL)
			return neo_decode_fail(d, "invalid %s value",
					       neo_enum_type_name((enum neo_enum_type)o->via.ext.type));
		return 0;
	}
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (neo_check_ext_types(d, &o->via.array.ptr[i]))
				return -1;
		return 0;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++)
			if (neo_check_ext_types(d, &o->via.map.ptr[i].key) ||
			    neo_check_ext_types(d, &o->via.map.ptr[i].val))
				return -1;
		return 0;
	default:
		return 0;
	}
}

int neo_encode_int(msgpack_packer *pk, int64_t v)
{
	return msgpack_pack_int64(pk, v);
}

int neo_encode_bool(msgpack_packer *pk, bool v)
{
	return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

int neo_encode_float(msgpack_packer *pk, double v)
{
	return msgpack_pack_double(pk, v);
}

int neo_encode_bin(msgpack_packer *pk, struct neo_bin v)
{
	int r = msgpack_pack_bin(pk, v.size);

	if (r == 0 && v.size > 0)
		r = msgpack_pack_bin_body(pk, v.data, v.size);
	return r;
}

int neo_encode_p64(msgpack_packer *pk, uint64_t v)
{
	uint8_t bytes[8];

	neo_p64_write(v, bytes);
	return neo_encode_bin(pk, (struct neo_bin){ bytes, 8 });
}

int neo_encode_any(msgpack_packer *pk, msgpack_object v)
{
	return msgpack_pack_object(pk, v);
}

int neo_encode_enum(msgpack_packer *pk, enum neo_enum_type enum_type, int v)
{
	/* As upstream: the ext payload is the msgpack int of the value,
	 * so the usual small values make a fixext 1. */
	uint8_t payload[3];
	size_t size;

	if (v < 0)
		return -1;
	if (v <= 0x7f) {
		payload[0] = (uint8_t)v;
		size = 1;
	} else if (v <= 0xff) {
		payload[0] = 0xcc;
		payload[1] = (uint8_t)v;
		size = 2;
	} else {
		payload[0] = 0xcd;
		payload[1] = (uint8_t)(v >> 8);
		payload[2] = (uint8_t)v;
		size = 3;
	}
	if (msgpack_pack_ext(pk, size, (int8_t)enum_type))
		return -1;
	return msgpack_pack_ext_body(pk, payload, size);
}

int neo_encode_nil(msgpack_packer *pk)
{
	return msgpack_pack_nil(pk);
}

int neo_encode_array(msgpack_packer *pk, uint32_t count)
{
	return msgpack_pack_array(pk, count);
}

int neo_encode_map(msgpack_packer *pk, uint32_t count)
{
	return msgpack_pack_map(pk, count);
}

uint64_t neo_p64_read(const uint8_t bytes[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | bytes[i];
	return v;
}

void neo_p64_write(uint64_t v, uint8_t bytes[8])
{
	for (int i = 7; i >= 0; i--) {
		bytes[i] = (uint8_t)v;
		v >>= 8;
	}
}

struct neo_bin neo_bin_str(const char *s)
{
	struct neo_bin b = { (const uint8_t *)s, (uint32_t)strlen(s) };

	return b;
}
