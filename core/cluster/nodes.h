/*
 * cluster/nodes.h - the node registry every cluster node keeps: one entry per
 * known node, with its type, id, listening address, state, id timestamp
 * and (on the node that talks to it) its connection.
 *
 * The primary master is the authority; the others mirror it from
 * NotifyNodeInformation.  The registry owns its entries; `conn` and
 * `owner_data` are borrowed pointers the owner keeps consistent.
 */
#ifndef NEO_NODES_H
#define NEO_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/address.h"
#include "proto/enums.h"
#include "proto/packets.h"

struct neo_conn;

struct neo_node {
	enum neo_node_type type;
	int32_t nid;			/* 0: none yet */
	bool has_address;
	struct neo_address address;
	enum neo_node_state state;
	bool has_id_timestamp;
	double id_timestamp;
	struct neo_conn *conn;		/* identified connection, or NULL */
	void *owner_data;		/* per-node state of the owner */
};

struct neo_node_table {
	struct neo_node **nodes;
	size_t count, capacity;
};

void neo_nodes_init(struct neo_node_table *table);
/* Frees every entry (not their conn or owner_data). */
void neo_nodes_free(struct neo_node_table *table);

/* A new entry (zeroed but for type, state UNKNOWN).  NULL on ENOMEM. */
struct neo_node *neo_nodes_add(struct neo_node_table *table, enum neo_node_type type)
	__attribute__((warn_unused_result));
void neo_nodes_remove(struct neo_node_table *table, struct neo_node *node);

struct neo_node *neo_nodes_by_nid(const struct neo_node_table *table, int32_t nid);
struct neo_node *neo_nodes_by_address(const struct neo_node_table *table,
				      const struct neo_address *address);
struct neo_node *neo_nodes_by_conn(const struct neo_node_table *table,
				   const struct neo_conn *conn);

/* The smallest free id of the type's namespace. */
int32_t neo_nodes_free_nid(const struct neo_node_table *table, enum neo_node_type type);

/* Fills a wire node_info from an entry (address points into the node). */
void neo_node_to_wire(const struct neo_node *node, struct neo_node_info *info);

/*
 * Applies one entry of NotifyNodeInformation: creates, updates or (state
 * UNKNOWN) removes the node, matching by nid, else by address.  Returns
 * the entry (NULL when removed or on ENOMEM); *gone tells which.
 * The removed entry is handed back through *gone for the caller to clean
 * up and free with neo_node_free, or freed here when gone is NULL.
 * ENOMEM happens in a library only (a daemon stops first, runtime/alloc.h),
 * so the daemons, which look at *gone, may ignore the result.
 */
struct neo_node *neo_nodes_update(struct neo_node_table *table, const struct neo_node_info *info,
				  struct neo_node **gone);
void neo_node_free(struct neo_node *node);

/* Wire address <-> ours; from_wire refuses a host too long or a bad port.
 * to_wire points into addr. */
bool neo_address_from_wire(const struct neo_wire_address *wire, struct neo_address *out);
void neo_address_to_wire(const struct neo_address *addr, struct neo_wire_address *wire);

/*
 * The identification a node of `type` sends first on a connection: its
 * id when it has one (nid 0: none), its listening address (NULL: none,
 * as for clients) and the cluster name.  The request points into
 * address and cluster; id_timestamp and extra are left for the caller.
 */
void neo_identification_init(struct neo_request_identification *req, enum neo_node_type type,
			     int32_t nid, const struct neo_address *address, const char *cluster);

/*
 * Writes the table to the log at INFO, a line per node (id, type,
 * address, state, id timestamp as a UTC date), after a line with the
 * count: what upstream's NodeManager.log writes on SIGRTMIN+2.
 */
void neo_nodes_log(const struct neo_node_table *table);

/* The letter of a node state in the text form: U D R P. */
char neo_node_state_letter(enum neo_node_state state);

#endif
