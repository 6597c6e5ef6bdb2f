/*
 * runtime/alloc.c - the allocation wrapper (see alloc.h for the policy).
 */
#include "runtime/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static neo_oom_handler *oom_handler;

void neo_set_oom_handler(neo_oom_handler *handler)
{
	oom_handler = handler;
}

static void *checked(void *ptr, size_t size)
{
	if (ptr == NULL && size != 0 && oom_handler != NULL)
		oom_handler(size);
	return ptr;
}

void *neo_malloc(size_t size)
{
	return checked(malloc(size), size);
}

void *neo_calloc(size_t count, size_t size)
{
	/* calloc refuses a product that overflows; the handler is told the
	 * most that can be said. */
	size_t total = size != 0 && count > SIZE_MAX / size ? SIZE_MAX : count * size;

	return checked(calloc(count, size), total);
}

void *neo_realloc(void *ptr, size_t size)
{
	return checked(realloc(ptr, size), size);
}

void neo_free(void *ptr)
{
	free(ptr);
}

void *neo_memdup(const void *data, size_t size)
{
	void *copy = neo_malloc(size ? size : 1);

	if (copy != NULL && size != 0)
		memcpy(copy, data, size);
	return copy;
}

char *neo_strdup(const char *text)
{
	return neo_memdup(text, strlen(text) + 1);
}

int neo_grow(void *items, size_t *capacity, size_t needed, size_t item_size)
{
	size_t room = *capacity;
	void *array, *grown;

	if (needed <= room)
		return 0;
	room = room < 8 ? 8 : room;
	while (room < needed) {
		if (room > SIZE_MAX / 2)
			return -1;
		room *= 2;
	}
	if (item_size != 0 && room > SIZE_MAX / item_size)
		return -1;
	/* items points to the caller's pointer, whatever its type: read and
	 * write it as bytes rather than through a void ** alias. */
	memcpy(&array, items, sizeof array);
	grown = neo_realloc(array, room * item_size);
	if (grown == NULL)
		return -1;
	memcpy(items, &grown, sizeof grown);
	*capacity = room;
	return 0;
}
