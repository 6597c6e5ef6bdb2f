/* proto/enums.c - names of the protocol enumerations (see proto/enums.h). */
#include "proto/enums.h"

#include <string.h>

static const char *const cell_state_names[] = {
	"OUT_OF_DATE", "UP_TO_DATE", "FEEDING", "CORRUPTED", "DISCARDED"
};
static const char *const cluster_state_names[] = {
	"RECOVERING", "VERIFYING", "RUNNING", "STOPPING",
	"STARTING_BACKUP", "BACKINGUP", "STOPPING_BACKUP"
};
static const char *const error_code_names[] = {
	"ACK", "DENIED", "NOT_READY", "OID_NOT_FOUND", "TID_NOT_FOUND",
	"OID_DOES_NOT_EXIST", "PROTOCOL_ERROR", "REPLICATION_ERROR",
	"CHECKING_ERROR", "BACKEND_NOT_IMPLEMENTED", "NON_READABLE_CELL",
	"READ_ONLY_ACCESS", "INCOMPLETE_TRANSACTION", "UNDO_PACK_ERROR"
};
static const char *const node_state_names[] = {
	"UNKNOWN", "DOWN", "RUNNING", "PENDING"
};
static const char *const node_type_names[] = {
	"MASTER", "STORAGE", "CLIENT", "ADMIN"
};

struct enum_desc {
	const char *name;
	const char *const *values;
	int count;
};

/* Indexed by enum neo_enum_type: alphabetical, as the ext codes. */
static const struct enum_desc enum_descs[NEO_ENUM_COUNT] = {
	{ "CellStates", cell_state_names, 5 },
	{ "ClusterStates", cluster_state_names, 7 },
	{ "ErrorCodes", error_code_names, 14 },
	{ "NodeStates", node_state_names, 4 },
	{ "NodeTypes", node_type_names, 4 },
};

const char *neo_enum_type_name(enum neo_enum_type type)
{
	if ((unsigned)type >= NEO_ENUM_COUNT)
		return NULL;
	return enum_descs[type].name;
}

int neo_enum_count(enum neo_enum_type type)
{
	if ((unsigned)type >= NEO_ENUM_COUNT)
		return 0;
	return enum_descs[type].count;
}

const char *neo_enum_name(enum neo_enum_type type, int value)
{
	if ((unsigned)type >= NEO_ENUM_COUNT)
		return NULL;
	if (value < 0 || value >= enum_descs[type].count)
		return NULL;
	return enum_descs[type].values[value];
}

int neo_enum_value(enum neo_enum_type type, const char *name)
{
	if ((unsigned)type >= NEO_ENUM_COUNT || name == NULL)
		return -1;
	for (int i = 0; i < enum_descs[type].count; i++)
		if (strcmp(enum_descs[type].values[i], name) == 0)
			return i;
	return -1;
}
