/*
 * replay_main.c - runs the fuzz target without libFuzzer, for "make check":
 * over every upstream vector, and over deterministic mutations of each
 * (every single-bit flip of the first 48 bytes, every truncation, and a
 * few byte insertions).  A crash or sanitizer report fails the test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector_json.h"
#include "tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long run_mutations(const struct vector *v)
{
	uint8_t *buf = malloc(v->size + 1);
	unsigned long runs = 0;
	size_t flips = v->size < 48 ? v->size : 48;

	for (size_t i = 0; i < flips; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, v->bytes, v->size);
			buf[i] ^= (uint8_t)(1u << bit);
			LLVMFuzzerTestOneInput(buf, v->size);
			runs++;
		}
	}
	for (size_t k = 0; k < v->size; k++) {
		LLVMFuzzerTestOneInput(v->bytes, k);
		runs++;
	}
	for (size_t i = 0; i < flips; i += 5) {
		static const uint8_t inserts[] = { 0xc0, 0xff, 0xdd, 0xc6 };

		for (size_t j = 0; j < sizeof(inserts); j++) {
			memcpy(buf, v->bytes, i);
			buf[i] = inserts[j];
			memcpy(buf + i + 1, v->bytes + i, v->size - i);
			LLVMFuzzerTestOneInput(buf, v->size + 1);
			runs++;
		}
	}
	free(buf);
	return runs;
}

int main(void)
{
	struct vector *vectors;
	int count = vectors_load(vectors_data_path("protocol5.jsonl"), &vectors);
	unsigned long runs = 0;

	if (!tap_ok(count > 0, "vectors load"))
		return tap_done();
	for (int i = 0; i < count; i++)
		LLVMFuzzerTestOneInput(vectors[i].bytes, vectors[i].size);
	tap_ok(true, "fuzz target survives all %d vectors", count);
	for (int i = 0; i < count; i++)
		runs += run_mutations(&vectors[i]);
	tap_ok(runs >= 50000, "fuzz target survives %lu mutated inputs", runs);
	vectors_free(vectors, count);
	return tap_done();
}
