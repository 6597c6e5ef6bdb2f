/*
 * vector_json.h - reads tests/data/protocol5.jsonl, the packets upstream's
 * own encoder produced (format in tests/data/protocol5.README.md).
 */
#ifndef NEO_TESTS_VECTOR_JSON_H
#define NEO_TESTS_VECTOR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

struct vector {
	json_t *json;		/* the whole line; owns the strings below */
	bool handshake;
	const char *packet;	/* upstream's packet name */
	uint16_t code;
	uint32_t msg_id;
	json_t *args;		/* array of typed arguments */
	uint8_t *bytes;		/* the packet as upstream encoded it */
	size_t size;
	int line;
};

/* Loads every line; returns the count, or -1 with a message on stderr. */
int vectors_load(const char *path, struct vector **out);
void vectors_free(struct vector *v, int count);

/* The path of a file in the test data directory ($NEO_TEST_DATA). */
const char *vectors_data_path(const char *name);

/* Packs one typed JSON argument the way the README describes. */
int vector_pack_arg(msgpack_packer *pk, json_t *arg);

/* True when o is the value the typed JSON argument describes; otherwise
 * why gets a description of the first difference. */
bool vector_match_arg(const msgpack_object *o, json_t *arg, char *why, size_t whylen);

#endif
