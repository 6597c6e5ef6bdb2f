/*
 * cluster/idmap.h - a hash map from 64-bit ids (oids, tids) to pointers, with
 * open addressing.  The map owns its slots, never the values.
 */
#ifndef NEO_IDMAP_H
#define NEO_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct neo_idmap_slot {
	uint64_t key;
	void *value;		/* NULL: empty slot */
};

struct neo_idmap {
	struct neo_idmap_slot *slots;
	size_t capacity;	/* a power of two, or 0 */
	size_t count;
};

void neo_idmap_init(struct neo_idmap *map);
void neo_idmap_free(struct neo_idmap *map);
void *neo_idmap_get(const struct neo_idmap *map, uint64_t key);
/* value must not be NULL.  Returns 0, or -1 on ENOMEM. */
int neo_idmap_put(struct neo_idmap *map, uint64_t key, void *value)
	__attribute__((warn_unused_result));
/* Returns the removed value, or NULL. */
void *neo_idmap_remove(struct neo_idmap *map, uint64_t key);

/* Iteration: for (i = 0; neo_idmap_next(map, &i, &key, &value); ) ...
 * (do not modify the map while iterating). */
bool neo_idmap_next(const struct neo_idmap *map, size_t *index, uint64_t *key, void **value);

/*
 * A growable list of ids, filled through a neo_id_cb-shaped callback
 * (neo_id_list_add) so that backend scans can append to it directly.
 * The list owns ids; neo_id_list_free releases them.
 */
struct neo_id_list {
	uint64_t *ids;
	uint32_t count;
	size_t capacity;
};

/* Appends id to the struct neo_id_list at list.  Returns 0, or -1 on ENOMEM. */
int neo_id_list_add(void *list, uint64_t id)
	__attribute__((warn_unused_result));
void neo_id_list_free(struct neo_id_list *list);

#endif
