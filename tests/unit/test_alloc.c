/* test_alloc.c - the allocation wrapper and neo_grow (runtime/alloc.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "tap.h"

/* Far more than this machine (or any) can give: malloc refuses it at
 * once, without touching memory. */
#define TOO_MUCH (SIZE_MAX / 2)

static size_t oom_calls, oom_size;

static void record_oom(size_t size)
{
	oom_calls++;
	oom_size = size;
}

static void test_growth(void)
{
	uint32_t *items = NULL;
	size_t capacity = 0, grows = 0, last = 0;
	bool ok = true;

	for (size_t i = 0; i < 100000; i++) {
		if (neo_grow(&items, &capacity, i + 1, sizeof *items)) {
			ok = false;
			break;
		}
		if (capacity != last) {
			grows++;	/* one realloc each time the room changes */
			ok = ok && capacity >= 2 * last && capacity >= i + 1;
			last = capacity;
		}
		items[i] = (uint32_t)i;
	}
	tap_ok(ok, "100000 appends, one at a time, all fit");
	tap_ok(grows <= 20, "they cost %zu reallocations (the room doubles)", grows);
	for (size_t i = 0; ok && i < 100000; i++)
		ok = items[i] == (uint32_t)i;
	tap_ok(ok, "what was appended is kept across the moves");
	tap_ok(neo_grow(&items, &capacity, 10, sizeof *items) == 0 && capacity == last,
	       "asking for less than the room changes nothing");
	neo_free(items);

	items = NULL;
	capacity = 0;
	tap_ok(neo_grow(&items, &capacity, 1000, sizeof *items) == 0 && items != NULL &&
	       capacity >= 1000, "one call makes room for many at once");
	neo_free(items);
}

static void test_refused(void)
{
	uint64_t *items = NULL;
	size_t capacity = 0;
	bool kept = true;

	if (neo_grow(&items, &capacity, 4, sizeof *items)) {
		tap_ok(false, "a small array to start from");
		return;
	}
	for (size_t i = 0; i < 4; i++)
		items[i] = 0x1111111111111111u * (i + 1);
	{
		uint64_t *before = items;
		size_t room = capacity;

		tap_ok(neo_grow(&items, &capacity, SIZE_MAX / sizeof *items + 1,
				sizeof *items) == -1, "needed * size beyond SIZE_MAX is refused");
		tap_ok(items == before && capacity == room, "the array and its room are unchanged");
		tap_ok(neo_grow(&items, &capacity, SIZE_MAX, 1) == -1 && items == before &&
		       capacity == room, "a room that cannot double is refused");
		oom_calls = 0;
		neo_set_oom_handler(record_oom);
		tap_ok(neo_grow(&items, &capacity, TOO_MUCH / sizeof *items, sizeof *items) == -1,
		       "a growth that memory refuses fails");
		neo_set_oom_handler(NULL);
		tap_ok(items == before && capacity == room, "the array and its room are unchanged");
		tap_ok(oom_calls == 1 && oom_size >= TOO_MUCH - sizeof *items,
		       "the handler heard of it (%zu bytes)", oom_size);
		for (size_t i = 0; i < 4; i++)
			kept = kept && items[i] == 0x1111111111111111u * (i + 1);
		tap_ok(kept, "and the items are still there");
	}
	neo_free(items);
}

static void test_handler(void)
{
	void *p;

	neo_set_oom_handler(record_oom);
	oom_calls = 0;
	oom_size = 0;
	p = neo_malloc(TOO_MUCH);
	tap_ok(p == NULL && oom_calls == 1 && oom_size == TOO_MUCH,
	       "neo_malloc: the handler is called with the size asked for");
	oom_calls = 0;
	p = neo_calloc(2, TOO_MUCH / 2);
	tap_ok(p == NULL && oom_calls == 1 && oom_size == 2 * (TOO_MUCH / 2),
	       "neo_calloc: with count * size");
	oom_calls = 0;
	p = neo_calloc(4, TOO_MUCH);
	tap_ok(p == NULL && oom_calls == 1 && oom_size == SIZE_MAX,
	       "neo_calloc: with SIZE_MAX when count * size overflows");
	oom_calls = 0;
	p = neo_malloc(16);
	tap_ok(p != NULL && oom_calls == 0, "an allocation that succeeds is not reported");
	{
		void *q = neo_realloc(p, TOO_MUCH);

		tap_ok(q == NULL && oom_calls == 1 && oom_size == TOO_MUCH,
		       "neo_realloc: the handler too, and the block is left alone");
	}
	neo_free(p);
	oom_calls = 0;
	p = neo_malloc(0);
	tap_ok(oom_calls == 0, "a zero-size allocation is never out of memory");
	neo_free(p);

	neo_set_oom_handler(NULL);
	oom_calls = 0;
	tap_ok(neo_malloc(TOO_MUCH) == NULL && neo_calloc(2, TOO_MUCH) == NULL &&
	       neo_realloc(NULL, TOO_MUCH) == NULL && oom_calls == 0,
	       "without a handler, NULL comes back (the library policy)");
}

static void test_copies(void)
{
	char *s = neo_strdup("neo");
	unsigned char bytes[3] = { 1, 0, 2 };
	unsigned char *copy = neo_memdup(bytes, sizeof bytes);
	void *empty = neo_memdup(NULL, 0);

	tap_ok(s != NULL && strcmp(s, "neo") == 0, "neo_strdup copies");
	tap_ok(copy != NULL && memcmp(copy, bytes, sizeof bytes) == 0, "neo_memdup copies bytes");
	tap_ok(empty != NULL, "neo_memdup of nothing is a pointer to free");
	neo_free(s);
	neo_free(copy);
	neo_free(empty);
	neo_free(NULL);
}

int main(void)
{
	test_growth();
	test_refused();
	test_handler();
	test_copies();
	return tap_done();
}
