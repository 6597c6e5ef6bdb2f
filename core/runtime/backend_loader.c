/* runtime/backend_loader.c - see runtime/backend_loader.h. */
#include "runtime/backend_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NEO_PKGLIBDIR
#define NEO_PKGLIBDIR "/usr/local/lib/neo"
#endif

/* The smallest table this node accepts: ABI 1.0's, whatever minor this
 * node was built with (a 1.0 module keeps loading in every later 1.x). */
#define REQUIRED_TABLE_SIZE NEO_BACKEND_SIZE_1_0

/* The operations a table must not leave NULL (neo/backend.h tags them
 * [mandatory]); every other one is optional and checked where it is
 * called. */
#define OP(name) { offsetof(struct neo_backend, name), #name }
static const struct {
	size_t offset;
	const char *name;
} mandatory_ops[] = {
	OP(open), OP(close), OP(errmsg), OP(commit), OP(rollback),
	OP(config_get), OP(config_set), OP(pt_scan), OP(pt_apply),
	OP(data_put), OP(data_get), OP(data_prune),
	OP(obj_get), OP(obj_last_serial), OP(obj_data_id), OP(obj_put), OP(obj_delete),
	OP(trans_put), OP(trans_get), OP(trans_delete), OP(final_tid),
	OP(txn_lock), OP(txn_unlock), OP(txn_abort), OP(txn_unfinished),
	OP(tid_range), OP(obj_range),
	OP(last_obj_ids), OP(last_trans_tid), OP(first_trans_tid), OP(range_delete),
};
#undef OP

const char *neo_backend_missing_op(const struct neo_backend *ops)
{
	for (size_t i = 0; i < sizeof mandatory_ops / sizeof *mandatory_ops; i++) {
		void (*op)(void);

		memcpy(&op, (const char *)ops + mandatory_ops[i].offset, sizeof op);
		if (op == NULL)
			return mandatory_ops[i].name;
	}
	return NULL;
}

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
	const char *missing;
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
	/* Our copy: the operations inside both tables; those this node knows
	 * and the module's smaller table lacks stay NULL (not supported). */
	memset(&module->table, 0, sizeof module->table);
	memcpy(&module->table, ops, ops->struct_size < sizeof module->table ? ops->struct_size
									    : sizeof module->table);
	module->ops = &module->table;
	if (module->table.name == NULL)
		return refuse(module, err, errlen, "its table has no name");
	missing = neo_backend_missing_op(&module->table);
	if (missing != NULL) {
		snprintf(detail, sizeof(detail), "its table lacks the mandatory operation %s "
			 "(neo/backend.h tags which operations may be NULL)", missing);
		return refuse(module, err, errlen, detail);
	}
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
