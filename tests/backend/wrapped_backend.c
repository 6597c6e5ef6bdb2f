/*
 * wrapped_backend.c - the SQLite module's operations under another table,
 * to show what the node does with tables that are not the one it was
 * built with.  The SQLite sources are compiled into the same module with
 * -Dneo_backend_entry=neo_sqlite_entry; this file's entry point takes
 * their table and changes it, one variant per build flag:
 *
 *   MINIMAL      "minimal": every [optional] operation NULL (history,
 *                undo, transaction and oid lists, pack, drops, orphans)
 *   LATER_MINOR  "later": a table from a later 1.x, with a higher minor
 *                and operations this node does not know after its own
 *   OLD_SIZE     "old_size": exactly ABI 1.0's table (NEO_BACKEND_SIZE_1_0)
 *   SIZE_1_1     "size_1_1": exactly ABI 1.1's table (up to db_size), with
 *                an import_progress past its end that the node must not use
 *   NO_MANDATORY "no_obj_put": obj_put, a mandatory operation, NULL
 */
#include <stddef.h>
#include <string.h>

#include <neo/backend.h>

#undef neo_backend_entry
const struct neo_backend *neo_sqlite_entry(uint32_t host_abi_major);
NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major);

static int later_op(struct neo_db *db)
{
	(void)db;
	return NEO_BACKEND_ENOTSUP;
}

static int later_progress(struct neo_db *db, struct neo_import_progress *out)
{
	(void)db;
	(void)out;
	return NEO_BACKEND_EIO;
}

/* A table as a later minor would have it: this node's, then more. */
static struct {
	struct neo_backend known;
	int (*later[4])(struct neo_db *db);
} table;

NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t host_abi_major)
{
	const struct neo_backend *sqlite = neo_sqlite_entry(host_abi_major);

	if (sqlite == NULL)
		return NULL;
	memcpy(&table.known, sqlite, sizeof table.known);
#ifdef MINIMAL
	table.known.name = "minimal";
	table.known.device_path = NULL;
	table.known.pt_set_packed = NULL;
	table.known.data_orphans = NULL;
	table.known.obj_history = NULL;
	table.known.obj_undo_history = NULL;
	table.known.txn_staged_data_ids = NULL;
	table.known.tid_list_desc = NULL;
	table.known.oid_range = NULL;
	table.known.pack_order_put = NULL;
	table.known.pack_order_rename = NULL;
	table.known.pack_order_sign = NULL;
	table.known.pack_orders_from = NULL;
	table.known.pack_oid = NULL;
	table.known.drop_step = NULL;
	table.known.db_size = NULL;
	table.known.import_progress = NULL;
#endif
#ifdef LATER_MINOR
	table.known.name = "later";
	table.known.abi_minor = NEO_BACKEND_ABI_MINOR + 1;
	table.known.struct_size = sizeof table;
	for (size_t i = 0; i < sizeof table.later / sizeof *table.later; i++)
		table.later[i] = later_op;
#else
	(void)later_op;
#endif
#ifdef OLD_SIZE
	table.known.name = "old_size";
	table.known.abi_minor = 0;
	table.known.struct_size = NEO_BACKEND_SIZE_1_0;
#endif
#ifdef SIZE_1_1
	table.known.name = "size_1_1";
	table.known.abi_minor = 1;
	table.known.struct_size = offsetof(struct neo_backend, db_size) + sizeof table.known.db_size;
	table.known.import_progress = later_progress;
#else
	(void)later_progress;
#endif
#ifdef NO_MANDATORY
	table.known.name = "no_obj_put";
	table.known.obj_put = NULL;
#endif
	return &table.known;
}
