/*
 * runtime/backend_loader.h - finding and loading a storage backend module.
 *
 * engine= names a module: "sqlite" means BACKEND_DIR/sqlite.so, where
 * BACKEND_DIR is $(pkglibdir)/backends unless NEO_BACKEND_DIR is set in the
 * environment (tests, and operators who keep modules elsewhere); a value
 * with a '/' is the path of a .so, used as given.
 *
 * A module is refused, with a message and nothing loaded, when it cannot
 * be opened, lacks the entry point, declines our ABI major, reports
 * another major, brings an operations table smaller than ABI 1.0's, or
 * leaves a mandatory operation NULL.  Never a crash: the node prints the
 * message and exits.
 *
 * A loaded module's ops point to a copy of its table of this node's size:
 * the operations the module's table does not reach (an older minor) are
 * NULL there, and those of a later minor that this node does not know are
 * left out.  Callers check an optional operation for NULL before calling
 * it (storage/backend_call.c).
 */
#ifndef NEO_BACKEND_LOADER_H
#define NEO_BACKEND_LOADER_H

#include <stddef.h>

#include "neo/backend.h"

struct neo_backend_module {
	void *handle;			/* from dlopen; owned */
	const struct neo_backend *ops;	/* &table once loaded */
	struct neo_backend table;	/* the module's table as this node sees it */
	char path[4096];		/* the file loaded */
};

/* The path engine= names (see above) into path.  Returns 0 or -1. */
int neo_backend_path(const char *engine, char *path, size_t pathlen);

/* Returns 0, or -1 with a message in err. */
int neo_backend_load(const char *engine, struct neo_backend_module *module,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

void neo_backend_unload(struct neo_backend_module *module);

/* The name of the first mandatory operation ops leaves NULL, or NULL. */
const char *neo_backend_missing_op(const struct neo_backend *ops);

#endif
