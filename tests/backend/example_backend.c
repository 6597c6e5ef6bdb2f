/*
 * example_backend.c - the smallest module the loader accepts, built with
 * nothing but <neo/backend.h>.  It stores nothing: it shows the shape of
 * a module (one exported entry point, a versioned table, a handle of the
 * module's own) to third parties and to the loader's tests.
 */
#include <stdio.h>
#include <stdlib.h>

#include <neo/backend.h>

struct neo_db {
	char database[256];
};

static int example_open(const struct neo_backend_open_args *args, struct neo_db **db,
			char *err, size_t errlen)
{
	struct neo_db *handle = calloc(1, sizeof(*handle));

	if (handle == NULL) {
		snprintf(err, errlen, "out of memory");
		return NEO_BACKEND_EIO;
	}
	snprintf(handle->database, sizeof(handle->database), "%s",
		 args->database ? args->database : "");
	*db = handle;
	return NEO_BACKEND_OK;
}

static void example_close(struct neo_db *db)
{
	free(db);
}

static const char *example_errmsg(struct neo_db *db)
{
	(void)db;
	return "the example backend stores nothing";
}

static const struct neo_backend example_backend = {
	.abi_major = NEO_BACKEND_ABI_MAJOR,
	.abi_minor = NEO_BACKEND_ABI_MINOR,
	.struct_size = sizeof(struct neo_backend),
	.name = "example",
	.open = example_open,
	.close = example_close,
	.errmsg = example_errmsg,
};

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	if (host_abi_major != NEO_BACKEND_ABI_MAJOR)
		return NULL;
	return &example_backend;
}
