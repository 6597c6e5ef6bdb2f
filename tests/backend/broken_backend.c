/*
 * broken_backend.c - modules the loader must refuse, one per build flag:
 *   OLD_ABI       reports ABI major 0 (built against an older header)
 *   SMALL_TABLE   an operations table shorter than this node needs
 *   DECLINES      its entry point returns NULL for our major
 *   NO_ENTRY      does not export neo_backend_entry at all
 */
#include <stddef.h>
#include <stdlib.h>

#include <neo/backend.h>

static int broken_open(const struct neo_backend_open_args *args, struct neo_db **db,
		       char *err, size_t errlen)
{
	(void)args;
	(void)db;
	(void)err;
	(void)errlen;
	abort();	/* the loader must never get this far */
}

static void broken_close(struct neo_db *db)
{
	(void)db;
	abort();
}

static const struct neo_backend broken_backend = {
#ifdef OLD_ABI
	.abi_major = 0,
#else
	.abi_major = NEO_BACKEND_ABI_MAJOR,
#endif
#ifdef SMALL_TABLE
	.struct_size = offsetof(struct neo_backend, open) + sizeof(void *),
#else
	.struct_size = sizeof(struct neo_backend),
#endif
	.name = "broken",
	.open = broken_open,
	.close = broken_close,
};

#ifdef NO_ENTRY
NEO_BACKEND_EXPORT const struct neo_backend *something_else(uint32_t host_abi_major);
NEO_BACKEND_EXPORT const struct neo_backend *something_else(uint32_t host_abi_major)
#else
NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
#endif
{
	(void)host_abi_major;
#ifdef DECLINES
	return NULL;
#else
	return &broken_backend;
#endif
}
