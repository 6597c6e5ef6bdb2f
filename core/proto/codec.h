/*
 * proto/codec.h - msgpack primitives shared by the generated packet codec.
 *
 * Types on the wire and in C (see proto/protocol.def):
 *   int   -> int64_t          any smallest-width msgpack int
 *   bool  -> bool
 *   float -> double           float 64 (float 32 accepted when decoding)
 *   bin   -> struct neo_bin   msgpack bin; never str
 *   p64   -> uint64_t         bin of exactly 8 bytes, big-endian (TID, OID)
 *   any   -> msgpack_object   any value; enums inside stay ext objects
 *   enum  -> enum neo_*       ext type (code = enum index), payload an int
 *   ?T    -> struct neo_opt_T { bool has; T v; }   nil when !has
 *   [T]   -> struct neo_list_T { T *items; uint32_t count; }
 *   {K:V} -> struct neo_map_K_V { K *keys; V *values; uint32_t count; }
 *
 * Decoding never trusts the wire: every type, width and count is checked,
 * and a mismatch is a decode error with a message naming the argument.
 * Decoded values point into memory owned by the decoder's zone.
 */
#ifndef NEO_CODEC_H
#define NEO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto/enums.h"

struct neo_bin {
	const uint8_t *data;	/* may be NULL when size is 0 */
	uint32_t size;
};

/* Scratch for one decode: where to allocate, and the first error seen. */
struct neo_decoder {
	msgpack_zone *zone;
	char error[160];
};

/* Sets d->error (first error wins) and returns -1. */
int neo_decode_fail(struct neo_decoder *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Allocates count * size bytes from the decoder's zone; NULL on failure
 * (and d->error is set).  count may be 0 (returns a valid pointer). */
void *neo_decode_alloc(struct neo_decoder *d, size_t count, size_t size);

/* Each returns 0, or -1 with d->error naming `what`. */
int neo_decode_int(struct neo_decoder *d, const msgpack_object *o, const char *what, int64_t *out)
	__attribute__((warn_unused_result));
int neo_decode_bool(struct neo_decoder *d, const msgpack_object *o, const char *what, bool *out)
	__attribute__((warn_unused_result));
int neo_decode_float(struct neo_decoder *d, const msgpack_object *o, const char *what, double *out)
	__attribute__((warn_unused_result));
int neo_decode_bin(struct neo_decoder *d, const msgpack_object *o, const char *what, struct neo_bin *out)
	__attribute__((warn_unused_result));
int neo_decode_p64(struct neo_decoder *d, const msgpack_object *o, const char *what, uint64_t *out)
	__attribute__((warn_unused_result));
int neo_decode_any(struct neo_decoder *d, const msgpack_object *o, const char *what, msgpack_object *out)
	__attribute__((warn_unused_result));
/* An ext of type `enum_type`; the value must be a member of that enum. */
int neo_decode_enum(struct neo_decoder *d, const msgpack_object *o, const char *what,
		    enum neo_enum_type enum_type, int *out)
	__attribute__((warn_unused_result));
/* An array of exactly `arity` items (tuples and argument lists). */
int neo_decode_tuple(struct neo_decoder *d, const msgpack_object *o, const char *what,
		     uint32_t arity)
	__attribute__((warn_unused_result));
/* An array of any length; *count gets it. */
int neo_decode_array(struct neo_decoder *d, const msgpack_object *o, const char *what,
		     uint32_t *count)
	__attribute__((warn_unused_result));
int neo_decode_map(struct neo_decoder *d, const msgpack_object *o, const char *what,
		   uint32_t *count)
	__attribute__((warn_unused_result));
static inline bool neo_is_nil(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_NIL;
}

/* Checks that every ext inside o (at any depth) is one of our enums. */
int neo_check_ext_types(struct neo_decoder *d, const msgpack_object *o)
	__attribute__((warn_unused_result));

/* Encoders; each returns 0 or the packer's non-zero error. */
int neo_encode_int(msgpack_packer *pk, int64_t v)
	__attribute__((warn_unused_result));
int neo_encode_bool(msgpack_packer *pk, bool v)
	__attribute__((warn_unused_result));
int neo_encode_float(msgpack_packer *pk, double v)
	__attribute__((warn_unused_result));
int neo_encode_bin(msgpack_packer *pk, struct neo_bin v)
	__attribute__((warn_unused_result));
int neo_encode_p64(msgpack_packer *pk, uint64_t v)
	__attribute__((warn_unused_result));
int neo_encode_any(msgpack_packer *pk, msgpack_object v)
	__attribute__((warn_unused_result));
int neo_encode_enum(msgpack_packer *pk, enum neo_enum_type enum_type, int v)
	__attribute__((warn_unused_result));
int neo_encode_nil(msgpack_packer *pk)
	__attribute__((warn_unused_result));
int neo_encode_array(msgpack_packer *pk, uint32_t count)
	__attribute__((warn_unused_result));
int neo_encode_map(msgpack_packer *pk, uint32_t count)
	__attribute__((warn_unused_result));

/* Big-endian 8-byte ids. */
uint64_t neo_p64_read(const uint8_t bytes[8]);
void neo_p64_write(uint64_t v, uint8_t bytes[8]);

/* A bin over a NUL-terminated string (not copied). */
struct neo_bin neo_bin_str(const char *s);

#endif
