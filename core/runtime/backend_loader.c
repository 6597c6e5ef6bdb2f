/* runtime/backend_loader.c - see runtime/backend_loader.h. */
#include "runtime/backend_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NEO_PKGLIBDIR
#define NEO_PKGLIBDIR "/usr/local/lib/neo"
#endif

/* The smallest table this node can use: every operation of ABI 1.0. */
#define REQUIRED_TABLE_SIZE sizeof(struct neo_backend)

int neo_backend_path(const char *engine, char *path, size_t pathlen)
{
	const char *dir = getenv("NEO_BACKEND_DIR");
	int n;

	if (engine == NULL || *engine == '\0')
		return -1;
	if (strchr(engine, '/') != NULL)
		n = snprintf(path, pathlen, "%s", engine);
	else
		n = snprintf(path, pathlen, "%s/%s.so",
			     dir && *dir ? dir : NEO_PKGLIBDIR "/backends", engine);
	return n < 0 || (size_t)n >= pathlen ? -1 : 0;
}

static int refuse(struct neo_backend_module *module, char *err, size_t errlen,
		  const char *why)
{
	snprintf(err, errlen, "backend module %s: %s", module->path, why);
	if (module->handle != NULL)
		dlclose(module->handle);
	module->handle = NULL;
	module->ops = NULL;
	return -1;
}

static int check_table(struct neo_backend_module *module, char *err, size_t errlen)
{
	const struct neo_backend *ops = module->ops;
	char detail[300];

	if (ops->abi_major != NEO_BACKEND_ABI_MAJOR) {
		snprintf(detail, sizeof(detail), "built for backend ABI %u.%u, this node needs %u.x; "
			 "rebuild it against this NEO", (unsigned)ops->abi_major,
			 (unsigned)ops->abi_minor, NEO_BACKEND_ABI_MAJOR);
		return refuse(module, err, errlen, detail);
	}
	if (ops->struct_size < REQUIRED_TABLE_SIZE) {
		snprintf(detail, sizeof(detail), "its operations table has %u bytes, this node needs "
			 "%zu; rebuild it against this NEO", (unsigned)ops->struct_size,
			 REQUIRED_TABLE_SIZE);
		return refuse(module, err, errlen, detail);
	}
	if (ops->name == NULL || ops->open == NULL || ops->close == NULL)
		return refuse(module, err, errlen, "its table lacks a name, open or close");
	return 0;
}

int neo_backend_load(const char *engine, struct neo_backend_module *module,
		     char *err, size_t errlen)
{
	neo_backend_entry_fn entry;
	const char *dl_error;

	memset(module, 0, sizeof(*module));
	if (neo_backend_path(engine, module->path, sizeof(module->path))) {
		snprintf(err, errlen, "no backend module named by engine '%s'", engine ? engine : "");
		return -1;
	}
	module->handle = dlopen(module->path, RTLD_NOW | RTLD_LOCAL);
	if (module->handle == NULL) {
		char why[600];

		snprintf(why, sizeof(why), "cannot load: %s", dlerror());
		return refuse(module, err, errlen, why);
	}
	dlerror();
	*(void **)&entry = dlsym(module->handle, NEO_BACKEND_ENTRY_SYMBOL);
	dl_error = dlerror();
	if (entry == NULL || dl_error != NULL)
		return refuse(module, err, errlen,
			      "not a NEO backend (no " NEO_BACKEND_ENTRY_SYMBOL " entry point)");
	module->ops = entry(NEO_BACKEND_ABI_MAJOR);
	if (module->ops == NULL)
		return refuse(module, err, errlen,
			      "it does not support this node's backend ABI; rebuild it against this NEO");
	return check_table(module, err, errlen);
}

void neo_backend_unload(struct neo_backend_module *module)
{
	if (module->handle != NULL)
		dlclose(module->handle);
	module->handle = NULL;
	module->ops = NULL;
}
