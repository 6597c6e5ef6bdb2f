/*
 * proto/enums.h - the enumerations of NEO protocol 5.
 *
 * On the wire each enum value is a msgpack ext whose type code is the
 * enum's index in alphabetical order (as upstream registers them) and whose
 * payload is the msgpack int of the value.  Error codes are the exception:
 * inside an Error packet they travel as plain ints.
 */
#ifndef NEO_ENUMS_H
#define NEO_ENUMS_H

enum neo_enum_type {
	NEO_ENUM_CELL_STATES = 0,
	NEO_ENUM_CLUSTER_STATES = 1,
	NEO_ENUM_ERROR_CODES = 2,
	NEO_ENUM_NODE_STATES = 3,
	NEO_ENUM_NODE_TYPES = 4,
	NEO_ENUM_COUNT
};

enum neo_cell_state {
	NEO_CELL_OUT_OF_DATE = 0,
	NEO_CELL_UP_TO_DATE = 1,
	NEO_CELL_FEEDING = 2,
	NEO_CELL_CORRUPTED = 3,
	NEO_CELL_DISCARDED = 4
};

enum neo_cluster_state {
	NEO_CLUSTER_RECOVERING = 0,
	NEO_CLUSTER_VERIFYING = 1,
	NEO_CLUSTER_RUNNING = 2,
	NEO_CLUSTER_STOPPING = 3,
	NEO_CLUSTER_STARTING_BACKUP = 4,
	NEO_CLUSTER_BACKINGUP = 5,
	NEO_CLUSTER_STOPPING_BACKUP = 6
};

enum neo_error_code {
	NEO_ERROR_ACK = 0,
	NEO_ERROR_DENIED = 1,
	NEO_ERROR_NOT_READY = 2,
	NEO_ERROR_OID_NOT_FOUND = 3,
	NEO_ERROR_TID_NOT_FOUND = 4,
	NEO_ERROR_OID_DOES_NOT_EXIST = 5,
	NEO_ERROR_PROTOCOL_ERROR = 6,
	NEO_ERROR_REPLICATION_ERROR = 7,
	NEO_ERROR_CHECKING_ERROR = 8,
	NEO_ERROR_BACKEND_NOT_IMPLEMENTED = 9,
	NEO_ERROR_NON_READABLE_CELL = 10,
	NEO_ERROR_READ_ONLY_ACCESS = 11,
	NEO_ERROR_INCOMPLETE_TRANSACTION = 12,
	NEO_ERROR_UNDO_PACK_ERROR = 13
};

enum neo_node_state {
	NEO_NODE_UNKNOWN = 0,
	NEO_NODE_DOWN = 1,
	NEO_NODE_RUNNING = 2,
	NEO_NODE_PENDING = 3
};

enum neo_node_type {
	NEO_NODE_MASTER = 0,
	NEO_NODE_STORAGE = 1,
	NEO_NODE_CLIENT = 2,
	NEO_NODE_ADMIN = 3
};

/* "CellStates", ... */
const char *neo_enum_type_name(enum neo_enum_type type);
/* Number of values of the enum (values are 0 .. count-1). */
int neo_enum_count(enum neo_enum_type type);
/* "UP_TO_DATE", ...; NULL when value is not a member. */
const char *neo_enum_name(enum neo_enum_type type, int value);
/* The value named `name` (upstream's spelling), or -1. */
int neo_enum_value(enum neo_enum_type type, const char *name);

#endif
