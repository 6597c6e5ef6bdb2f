/*
 * runtime/alloc.h - the one allocation wrapper every part of NEO uses
 * (Redis's zmalloc is the model), and the one way to grow an array.
 *
 * Failure policy: in a library (libneoclient, and the layers it is built
 * from) an allocation that fails returns NULL and the caller returns an
 * error code, so that the application decides.  A daemon installs an
 * out-of-memory handler at start-up (daemon/daemon.c): the handler logs
 * which allocation failed and stops the process, because a node that
 * carries on after a lost allocation can acknowledge what it did not do.
 * Callers still check for NULL: the same code runs in both.
 *
 * Memory that a third-party library allocates and frees itself does not
 * come here: msgpack zones and sbuffers (proto/, the decoded packets),
 * OpenSSL's objects.  libevent's does in the daemons (daemon/daemon.c).
 */
#ifndef NEO_ALLOC_H
#define NEO_ALLOC_H

#include <stddef.h>

void *neo_malloc(size_t size);
void *neo_calloc(size_t count, size_t size);
void *neo_realloc(void *ptr, size_t size);
char *neo_strdup(const char *text);
void *neo_memdup(const void *data, size_t size);
void neo_free(void *ptr);

/* Called with the size asked for when an allocation fails; NULL (the
 * default) makes the allocation return NULL.  A handler that returns
 * lets the allocation return NULL too. */
typedef void neo_oom_handler(size_t size);
void neo_set_oom_handler(neo_oom_handler *handler);

/*
 * Makes room for at least `needed` items of `item_size` bytes in the
 * array *items (a pointer to the caller's array pointer, of any type)
 * whose room is *capacity items.  The room at least doubles, so n
 * appends cost O(n).  Returns 0, or -1 when the size overflows or memory
 * runs out (the array and *capacity are then unchanged).
 */
int neo_grow(void *items, size_t *capacity, size_t needed, size_t item_size)
	__attribute__((warn_unused_result));

#endif
