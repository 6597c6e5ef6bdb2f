/*
 * cluster/nodes.c - the node registry.
 */
#include "cluster/nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/nid.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

void neo_nodes_init(struct neo_node_table *table)
{
	memset(table, 0, sizeof *table);
}

void neo_nodes_free(struct neo_node_table *table)
{
	for (size_t i = 0; i < table->count; i++)
		neo_free(table->nodes[i]);
	neo_free(table->nodes);
	memset(table, 0, sizeof *table);
}

struct neo_node *neo_nodes_add(struct neo_node_table *table, enum neo_node_type type)
{
	struct neo_node *node;

	if (neo_grow(&table->nodes, &table->capacity, table->count + 1, sizeof *table->nodes))
		return NULL;
	node = neo_calloc(1, sizeof *node);
	if (node == NULL)
		return NULL;
	node->type = type;
	node->state = NEO_NODE_UNKNOWN;
	table->nodes[table->count++] = node;
	return node;
}

static void nodes_unlink(struct neo_node_table *table, struct neo_node *node)
{
	for (size_t i = 0; i < table->count; i++)
		if (table->nodes[i] == node) {
			memmove(&table->nodes[i], &table->nodes[i + 1],
				(table->count - i - 1) * sizeof *table->nodes);
			table->count--;
			return;
		}
}

void neo_nodes_remove(struct neo_node_table *table, struct neo_node *node)
{
	nodes_unlink(table, node);
	neo_free(node);
}

void neo_node_free(struct neo_node *node)
{
	neo_free(node);
}

struct neo_node *neo_nodes_by_nid(const struct neo_node_table *table, int32_t nid)
{
	if (nid == 0)
		return NULL;
	for (size_t i = 0; i < table->count; i++)
		if (table->nodes[i]->nid == nid)
			return table->nodes[i];
	return NULL;
}

struct neo_node *neo_nodes_by_address(const struct neo_node_table *table,
				      const struct neo_address *address)
{
	for (size_t i = 0; i < table->count; i++) {
		struct neo_node *node = table->nodes[i];

		if (node->has_address && node->address.port == address->port
		    && strcmp(node->address.host, address->host) == 0)
			return node;
	}
	return NULL;
}

struct neo_node *neo_nodes_by_conn(const struct neo_node_table *table,
				   const struct neo_conn *conn)
{
	if (conn == NULL)
		return NULL;
	for (size_t i = 0; i < table->count; i++)
		if (table->nodes[i]->conn == conn)
			return table->nodes[i];
	return NULL;
}

int32_t neo_nodes_free_nid(const struct neo_node_table *table, enum neo_node_type type)
{
	for (uint32_t number = 1; number < 0xffffff; number++) {
		int32_t nid = neo_nid_make(type, number);

		if (neo_nodes_by_nid(table, nid) == NULL)
			return nid;
	}
	return 0;
}

void neo_node_to_wire(const struct neo_node *node, struct neo_node_info *info)
{
	memset(info, 0, sizeof *info);
	info->type = node->type;
	if (node->has_address) {
		info->address.has = true;
		neo_address_to_wire(&node->address, &info->address.v);
	}
	if (node->nid) {
		info->uuid.has = true;
		info->uuid.v = node->nid;
	}
	info->state = node->state;
	if (node->has_id_timestamp) {
		info->id_timestamp.has = true;
		info->id_timestamp.v = node->id_timestamp;
	}
}

bool neo_address_from_wire(const struct neo_wire_address *wire, struct neo_address *out)
{
	if (wire->host.size >= sizeof out->host || wire->port < 0 || wire->port > 65535)
		return false;
	memcpy(out->host, wire->host.data, wire->host.size);
	out->host[wire->host.size] = '\0';
	out->port = (uint16_t)wire->port;
	return true;
}

struct neo_node *neo_nodes_update(struct neo_node_table *table, const struct neo_node_info *info,
				  struct neo_node **gone)
{
	struct neo_node *node = NULL;
	struct neo_address address;
	bool has_address = info->address.has && neo_address_from_wire(&info->address.v, &address);

	if (gone)
		*gone = NULL;
	if (info->uuid.has && info->uuid.v)
		node = neo_nodes_by_nid(table, (int32_t)info->uuid.v);
	if (node == NULL && has_address)
		node = neo_nodes_by_address(table, &address);
	if (info->state == NEO_NODE_UNKNOWN) {
		if (node) {
			nodes_unlink(table, node);
			if (gone)
				*gone = node;
			else
				neo_free(node);
		}
		return NULL;
	}
	if (node == NULL && (node = neo_nodes_add(table, info->type)) == NULL)
		return NULL;
	node->type = info->type;
	node->nid = info->uuid.has ? (int32_t)info->uuid.v : 0;
	node->has_address = has_address;
	if (has_address)
		node->address = address;
	node->state = info->state;
	node->has_id_timestamp = info->id_timestamp.has;
	node->id_timestamp = info->id_timestamp.has ? info->id_timestamp.v : 0;
	return node;
}

void neo_address_to_wire(const struct neo_address *addr, struct neo_wire_address *wire)
{
	wire->host.data = (const uint8_t *)addr->host;
	wire->host.size = (uint32_t)strlen(addr->host);
	wire->port = addr->port;
}

void neo_identification_init(struct neo_request_identification *req, enum neo_node_type type,
			     int32_t nid, const struct neo_address *address, const char *cluster)
{
	memset(req, 0, sizeof *req);
	req->node_type = type;
	req->uuid = (struct neo_opt_int){ nid != 0, nid };
	if (address) {
		req->address.has = true;
		neo_address_to_wire(address, &req->address.v);
	}
	req->cluster_name = (struct neo_bin){ (const uint8_t *)cluster, (uint32_t)strlen(cluster) };
}

char neo_node_state_letter(enum neo_node_state state)
{
	switch (state) {
	case NEO_NODE_DOWN: return 'D';
	case NEO_NODE_RUNNING: return 'R';
	case NEO_NODE_PENDING: return 'P';
	default: return 'U';
	}
}

void neo_nodes_log(const struct neo_node_table *table)
{
	neo_log(NEO_LOG_INFO, "node table: %zu nodes", table->count);
	for (size_t i = 0; i < table->count; i++) {
		const struct neo_node *node = table->nodes[i];
		char nid[16], address[300] = "None", stamp[40] = "None";

		if (node->has_address)
			snprintf(address, sizeof address, "%s:%u", node->address.host,
				 node->address.port);
		if (node->has_id_timestamp) {
			time_t seconds = (time_t)node->id_timestamp;
			struct tm tm;

			if (gmtime_r(&seconds, &tm) != NULL)
				strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
		}
		neo_log(NEO_LOG_INFO, " * %s | %s | %s | %s | %s",
			node->nid ? neo_nid_format(node->nid, nid, sizeof nid) : "None",
			neo_enum_name(NEO_ENUM_NODE_TYPES, node->type), address,
			neo_enum_name(NEO_ENUM_NODE_STATES, node->state), stamp);
	}
}
