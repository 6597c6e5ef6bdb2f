/*
 * proto/packet.h - whole NEO packets: [msg_id, code, args] on the wire, typed
 * argument structs in C.
 *
 * The argument structs, the packet codes (NEO_ASK_OBJECT = 0x20,
 * NEO_ANSWER_OBJECT = 0x8020, ...) and the per-packet codecs are generated
 * from proto/protocol.def into packets.h / packets.c.  This module frames them.
 *
 * Ownership: a decoded packet owns one msgpack zone holding a copy of its
 * bytes and every array its arguments point to; neo_packet_release() frees
 * all of it at once.  Encoding reads the caller's struct and owns nothing.
 */
#ifndef NEO_PACKET_H
#define NEO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto/codec.h"
#include "proto/packets.h"

/* As upstream: answers carry the request's code with this bit set. */
#define NEO_ANSWER_BIT 0x8000u

struct neo_packet_type {
	uint16_t code;
	const char *name;		/* upstream's name, e.g. "AskObject" */
	size_t args_size;		/* sizeof the args struct; 0 if none */
	uint32_t arity;			/* number of arguments */
	int (*decode)(struct neo_decoder *d, const msgpack_object *args, void *out);
	int (*encode)(msgpack_packer *pk, const void *args);
	bool ours;			/* NEO in C's own (code >= 0x70): never
					 * sent to an upstream peer */
};

/* Generated in packets.c, sorted by code. */
extern const struct neo_packet_type neo_packet_type_table[];
extern const size_t neo_packet_type_table_count;

/* The type of a code, or NULL when the code is not part of protocol 5. */
const struct neo_packet_type *neo_packet_type_of(uint16_t code);

/* Every packet type, in code order (requests, then answers). */
const struct neo_packet_type *neo_packet_types(size_t *count);

static inline int neo_packet_is_answer(uint16_t code)
{
	return (code & NEO_ANSWER_BIT) != 0;
}

struct neo_packet {
	uint32_t msg_id;
	uint16_t code;
	const struct neo_packet_type *type;
	void *args;		/* struct neo_<name> *, NULL when arity is 0 */
	msgpack_zone *zone;	/* owns args and all they point to */
};

/*
 * Decodes one packet from exactly `len` bytes (one whole msgpack value, as
 * delimited by neo_msgpack_scan).  The bytes are copied; buf may be
 * reused at once.  Returns:
 *    0  decoded; release it with neo_packet_release();
 *   -1  not a packet frame at all (out->msg_id is meaningless);
 *   -2  a [msg_id, code, args] frame whose code is unknown or whose
 *       arguments have the wrong shape: out->msg_id and out->code are set,
 *       so the caller can answer a request with an Error before closing.
 * On error, err gets a message and there is nothing to release.
 */
int neo_packet_decode(const uint8_t *buf, size_t len, struct neo_packet *out,
		      char *err, size_t errlen)
	__attribute__((warn_unused_result));

void neo_packet_release(struct neo_packet *pkt);

/* Moves a packet (and its zone) from `from` to `to`, so that it outlives
 * the callback it came to: `from` is left empty, `to` must be released. */
void neo_packet_take(struct neo_packet *from, struct neo_packet *to);

/*
 * Writes [msg_id, code, args] with the packer.  args is the struct for
 * `code` (NULL when its arity is 0).  Returns 0, -1 for an unknown code,
 * or the packer's error.
 */
int neo_packet_encode(msgpack_packer *pk, uint32_t msg_id, uint16_t code,
		      const void *args)
	__attribute__((warn_unused_result));

/* Writes an Error answer (code 0x8000) with a plain-int error code. */
int neo_packet_encode_error(msgpack_packer *pk, uint32_t msg_id,
			    enum neo_error_code code, const char *message)
	__attribute__((warn_unused_result));

#endif
