/* test_idmap.c - the id -> pointer hash map (cluster/idmap.h), checked
 * against a plain array through many random puts and removals, and the
 * growable id list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/idmap.h"
#include "tap.h"

/* Values are addresses in this array: value of key k is &values[k % N]. */
#define N 4096
static char values[N];

static void *value_of(uint64_t key)
{
	return &values[key % N];
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64: the same sequence on every run. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool load_ok(const struct neo_idmap *map)
{
	return map->capacity == 0
	       || ((map->capacity & (map->capacity - 1)) == 0 && map->count * 4 <= map->capacity * 3);
}

static void test_basics(void)
{
	struct neo_idmap map;
	size_t index = 0;
	uint64_t key;
	void *value;
	int a, b;

	neo_idmap_init(&map);
	tap_ok(map.count == 0 && neo_idmap_get(&map, 1) == NULL, "an empty map finds nothing");
	tap_ok(neo_idmap_remove(&map, 1) == NULL, "remove from an empty map: NULL");
	tap_ok(!neo_idmap_next(&map, &index, &key, &value), "iterating an empty map: nothing");
	tap_ok(neo_idmap_put(&map, 7, &a) == 0 && neo_idmap_get(&map, 7) == &a && map.count == 1,
	       "put then get");
	tap_ok(neo_idmap_put(&map, 7, &b) == 0 && neo_idmap_get(&map, 7) == &b && map.count == 1,
	       "put of a present key replaces its value, the count stays");
	tap_ok(neo_idmap_put(&map, 0, &a) == 0 && neo_idmap_get(&map, 0) == &a,
	       "key 0 is a key like another");
	tap_ok(neo_idmap_put(&map, UINT64_MAX, &a) == 0 && neo_idmap_get(&map, UINT64_MAX) == &a
	       && neo_idmap_get(&map, UINT64_MAX - 1) == NULL,
	       "so is UINT64_MAX");
	tap_ok(neo_idmap_remove(&map, 7) == &b && neo_idmap_get(&map, 7) == NULL && map.count == 2,
	       "remove returns the value and the key is gone");
	tap_ok(neo_idmap_remove(&map, 7) == NULL && map.count == 2, "remove of an absent key: NULL");
	neo_idmap_free(&map);
	tap_ok(map.slots == NULL && map.count == 0 && map.capacity == 0
	       && neo_idmap_get(&map, 0) == NULL,
	       "free leaves an empty map");
}

static void test_many(void)
{
	struct neo_idmap map;
	size_t index = 0, seen = 0;
	uint64_t key;
	void *value;
	bool all = true, loads = true, iter = true;

	neo_idmap_init(&map);
	/* Sequential ids, as oids and tids come. */
	for (uint64_t k = 1; k <= 20000 && all; k++) {
		all = neo_idmap_put(&map, k, value_of(k)) == 0;
		loads = loads && load_ok(&map);
	}
	tap_ok(all && map.count == 20000, "20000 sequential ids put");
	tap_ok(loads, "capacity a power of two, at most 3/4 full, all along");
	for (uint64_t k = 1; k <= 20000 && all; k++)
		all = neo_idmap_get(&map, k) == value_of(k);
	tap_ok(all && neo_idmap_get(&map, 0) == NULL && neo_idmap_get(&map, 20001) == NULL,
	       "each found with its value, no other");
	while (neo_idmap_next(&map, &index, &key, &value)) {
		seen++;
		iter = iter && key >= 1 && key <= 20000 && value == value_of(key);
	}
	tap_ok(iter && seen == 20000, "iteration visits each entry once");
	for (uint64_t k = 2; k <= 20000 && all; k += 2)
		all = neo_idmap_remove(&map, k) == value_of(k);
	tap_ok(all && map.count == 10000, "every even id removed");
	for (uint64_t k = 1; k <= 20000 && all; k++)
		all = neo_idmap_get(&map, k) == (k % 2 ? value_of(k) : NULL);
	tap_ok(all, "the odd ones still found after the removals (no entry lost by a shift)");
	neo_idmap_free(&map);
}

/* Random puts, overwrites, gets and removals on a small key space (so
 * that probe chains cross and removals shift entries back), checked
 * after each operation against an array. */
static void test_model(void)
{
	enum { KEYS = 512, OPS = 200000 };
	static void *model[KEYS];
	struct neo_idmap map;
	size_t count = 0, index = 0, seen = 0;
	uint64_t key;
	void *value;
	bool same = true, loads = true, iter = true;
	/* Keys spread over 64 bits: the low 9 bits pick the slot in the model. */
	const uint64_t high = 0xabcdef0000000000ULL;

	neo_idmap_init(&map);
	memset(model, 0, sizeof model);
	for (int op = 0; op < OPS && same; op++) {
		uint64_t r = rng(), k = r % KEYS;
		void *v = &values[(r >> 20) % N];

		if ((r >> 40) % 3) {
			if (neo_idmap_put(&map, high | k, v) < 0) {
				same = false;
				break;
			}
			if (model[k] == NULL)
				count++;
			model[k] = v;
		} else {
			same = neo_idmap_remove(&map, high | k) == model[k];
			if (model[k])
				count--;
			model[k] = NULL;
		}
		loads = loads && load_ok(&map);
		same = same && map.count == count;
		/* A sample of keys at each step, all of them now and then. */
		if (op % 1000 == 0)
			for (uint64_t j = 0; j < KEYS && same; j++)
				same = neo_idmap_get(&map, high | j) == model[j];
		else {
			uint64_t j = rng() % KEYS;

			same = same && neo_idmap_get(&map, high | j) == model[j];
		}
	}
	for (uint64_t j = 0; j < KEYS && same; j++)
		same = neo_idmap_get(&map, high | j) == model[j] && neo_idmap_get(&map, j) == NULL;
	tap_ok(same, "200000 random operations on 512 keys agree with an array");
	tap_ok(loads, "the map stays at most 3/4 full");
	while (neo_idmap_next(&map, &index, &key, &value)) {
		seen++;
		iter = iter && (key & ~(uint64_t)(KEYS - 1)) == high && model[key % KEYS] == value;
	}
	tap_ok(iter && seen == count, "iteration gives exactly the entries of the array");
	neo_idmap_free(&map);
}

static void test_id_list(void)
{
	struct neo_id_list list = { 0 };
	bool all = true;

	for (uint64_t id = 0; id < 1000 && all; id++)
		all = neo_id_list_add(&list, id * 3) == 0;
	tap_ok(all && list.count == 1000 && list.capacity >= 1000, "1000 ids appended");
	for (uint32_t i = 0; i < list.count && all; i++)
		all = list.ids[i] == (uint64_t)i * 3;
	tap_ok(all, "in the order they came");
	neo_id_list_free(&list);
	tap_ok(list.ids == NULL && list.count == 0 && list.capacity == 0, "free empties the list");
	tap_ok(neo_id_list_add(&list, 5) == 0 && list.count == 1 && list.ids[0] == 5,
	       "a freed list is ready for use again");
	neo_id_list_free(&list);
}

int main(void)
{
	test_basics();
	test_many();
	test_model();
	test_id_list();
	return tap_done();
}
