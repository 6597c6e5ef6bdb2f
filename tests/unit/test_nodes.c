/* test_nodes.c - the node registry (cluster/nodes.h) and the node ids it
 * hands out (cluster/nid.h): lookups by id, address and connection, free
 * ids per namespace, NotifyNodeInformation applied entry by entry, and the
 * wire forms of nodes, addresses and identification. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/nodes.h"
#include "tap.h"

static struct neo_address addr(const char *host, uint16_t port)
{
	struct neo_address a;

	memset(&a, 0, sizeof a);
	snprintf(a.host, sizeof a.host, "%s", host);
	a.port = port;
	return a;
}

/* A NotifyNodeInformation entry. */
static struct neo_node_info info(enum neo_node_type type, int32_t nid, const char *host,
				 int64_t port, enum neo_node_state state)
{
	struct neo_node_info i;

	memset(&i, 0, sizeof i);
	i.type = type;
	if (nid) {
		i.uuid.has = true;
		i.uuid.v = nid;
	}
	if (host) {
		i.address.has = true;
		i.address.v.host = (struct neo_bin){ (const uint8_t *)host, (uint32_t)strlen(host) };
		i.address.v.port = port;
	}
	i.state = state;
	return i;
}

static bool formats(int64_t nid, const char *want)
{
	char buf[32];

	return strcmp(neo_nid_format(nid, buf, sizeof buf), want) == 0;
}

static bool parses(const char *text, int32_t want)
{
	int32_t nid = 0;

	return neo_nid_parse(text, &nid) == 0 && nid == want;
}

static void test_nid(void)
{
	int32_t s1 = neo_nid_make(NEO_NODE_STORAGE, 1), m2 = neo_nid_make(NEO_NODE_MASTER, 2);
	int32_t c3 = neo_nid_make(NEO_NODE_CLIENT, 3), a1 = neo_nid_make(NEO_NODE_ADMIN, 1);
	int32_t nid;

	tap_ok(s1 == 1 && m2 == (int32_t)0xf0000002 && c3 == (int32_t)0xe0000003
	       && a1 == (int32_t)0xd0000001,
	       "nid namespaces as upstream: storage 0x00, master -0x10, client -0x20, admin -0x30");
	tap_ok(neo_nid_type(s1) == NEO_NODE_STORAGE && neo_nid_type(m2) == NEO_NODE_MASTER
	       && neo_nid_type(c3) == NEO_NODE_CLIENT && neo_nid_type(a1) == NEO_NODE_ADMIN,
	       "the type of a nid is its namespace");
	tap_ok(neo_nid_type(0x12000001) == -1, "a high byte of no namespace: type -1");
	tap_ok(neo_nid_number(m2) == 2 && neo_nid_number(neo_nid_make(NEO_NODE_CLIENT, 0xffffff))
	       == 0xffffff,
	       "the number is the low 24 bits");
	tap_ok(neo_nid_make(NEO_NODE_STORAGE, 0x1000005) == 5,
	       "a number past 24 bits does not spill into the namespace");
	tap_ok(formats(s1, "S1") && formats(m2, "M2") && formats(c3, "C3") && formats(a1, "A1"),
	       "text form S1 M2 C3 A1");
	tap_ok(formats(0, "0") && formats(0x12000001, "301989889")
	       && formats((int64_t)INT32_MAX + 1, "2147483648"),
	       "no id, or no namespace: the plain integer");
	tap_ok(parses("S1", s1) && parses("m2", m2) && parses("C3", c3) && parses("a1", a1),
	       "parse S1, m2 (either case), C3, a1");
	tap_ok(parses("7", 7) && parses("-268435454", m2) && parses("0x10", 16),
	       "parse plain integers (decimal, negative, hex)");
	tap_ok(neo_nid_parse("X1", &nid) == -1 && neo_nid_parse("S", &nid) == -1
	       && neo_nid_parse("", &nid) == -1 && neo_nid_parse(NULL, &nid) == -1
	       && neo_nid_parse("S-1", &nid) == -1 && neo_nid_parse("S16777216", &nid) == -1
	       && neo_nid_parse("S1x", &nid) == -1 && neo_nid_parse("4294967296", &nid) == -1,
	       "parse refuses unknown letters, missing or bad numbers, trailing text");
}

static void test_registry(void)
{
	struct neo_node_table table;
	struct neo_node *m, *s, *s2, *c;
	struct neo_address a = addr("127.0.0.1", 2000), b = addr("127.0.0.1", 2001);
	int conn_a, conn_b;

	neo_nodes_init(&table);
	tap_ok(table.count == 0 && neo_nodes_by_nid(&table, 1) == NULL
	       && neo_nodes_by_address(&table, &a) == NULL,
	       "an empty registry finds nothing");
	m = neo_nodes_add(&table, NEO_NODE_MASTER);
	tap_ok(m && m->type == NEO_NODE_MASTER && m->nid == 0 && m->state == NEO_NODE_UNKNOWN
	       && !m->has_address && m->conn == NULL && table.count == 1,
	       "add: a zeroed entry of the type, state UNKNOWN");
	tap_ok(neo_nodes_by_nid(&table, 0) == NULL, "nid 0 (none yet) is never found");
	m->nid = neo_nid_make(NEO_NODE_MASTER, 1);
	m->has_address = true;
	m->address = a;
	m->conn = (struct neo_conn *)&conn_a;
	s = neo_nodes_add(&table, NEO_NODE_STORAGE);
	s->nid = neo_nid_make(NEO_NODE_STORAGE, 1);
	s->has_address = true;
	s->address = b;
	c = neo_nodes_add(&table, NEO_NODE_CLIENT);
	c->nid = neo_nid_make(NEO_NODE_CLIENT, 1);
	c->conn = (struct neo_conn *)&conn_b;
	tap_ok(neo_nodes_by_nid(&table, m->nid) == m && neo_nodes_by_nid(&table, s->nid) == s
	       && neo_nodes_by_nid(&table, c->nid) == c,
	       "by_nid finds each node");
	tap_ok(neo_nodes_by_nid(&table, neo_nid_make(NEO_NODE_STORAGE, 2)) == NULL,
	       "by_nid of an unknown id: NULL");
	{
		struct neo_address other_host = addr("127.0.0.2", 2000), other_port = addr("127.0.0.1", 2002);

		tap_ok(neo_nodes_by_address(&table, &a) == m && neo_nodes_by_address(&table, &b) == s,
		       "by_address: host and port");
		tap_ok(neo_nodes_by_address(&table, &other_host) == NULL
		       && neo_nodes_by_address(&table, &other_port) == NULL,
		       "by_address: another host or another port is another node");
	}
	tap_ok(neo_nodes_by_conn(&table, (struct neo_conn *)&conn_a) == m
	       && neo_nodes_by_conn(&table, (struct neo_conn *)&conn_b) == c,
	       "by_conn finds the node of a connection");
	tap_ok(neo_nodes_by_conn(&table, NULL) == NULL,
	       "by_conn(NULL) is no node, though most nodes have no connection");

	tap_ok(neo_nodes_free_nid(&table, NEO_NODE_STORAGE) == neo_nid_make(NEO_NODE_STORAGE, 2)
	       && neo_nodes_free_nid(&table, NEO_NODE_MASTER) == neo_nid_make(NEO_NODE_MASTER, 2),
	       "free_nid: the next number of the type's namespace");
	tap_ok(neo_nodes_free_nid(&table, NEO_NODE_ADMIN) == neo_nid_make(NEO_NODE_ADMIN, 1),
	       "free_nid of a namespace with no node: number 1");
	s2 = neo_nodes_add(&table, NEO_NODE_STORAGE);
	s2->nid = neo_nid_make(NEO_NODE_STORAGE, 3);
	tap_ok(neo_nodes_free_nid(&table, NEO_NODE_STORAGE) == neo_nid_make(NEO_NODE_STORAGE, 2),
	       "free_nid: the smallest free number (S2 while S1 and S3 are taken)");

	neo_nodes_remove(&table, s);
	tap_ok(table.count == 3 && table.nodes[0] == m && table.nodes[1] == c
	       && table.nodes[2] == s2,
	       "remove takes the entry out and keeps the others in order");
	tap_ok(neo_nodes_by_address(&table, &b) == NULL
	       && neo_nodes_free_nid(&table, NEO_NODE_STORAGE) == neo_nid_make(NEO_NODE_STORAGE, 1),
	       "a removed node is found no more, its id is free again");

	/* Growth past the first allocation. */
	{
		bool all = true;

		for (uint32_t i = 1; i <= 100; i++) {
			struct neo_node *n = neo_nodes_add(&table, NEO_NODE_CLIENT);

			if (n == NULL) {
				all = false;
				break;
			}
			n->nid = neo_nid_make(NEO_NODE_CLIENT, 100 + i);
		}
		for (uint32_t i = 1; i <= 100 && all; i++)
			all = neo_nodes_by_nid(&table, neo_nid_make(NEO_NODE_CLIENT, 100 + i)) != NULL;
		tap_ok(all && table.count == 103 && neo_nodes_by_nid(&table, m->nid) == m,
		       "103 entries, each found");
	}
	neo_nodes_free(&table);
	tap_ok(table.count == 0 && table.nodes == NULL, "free empties the registry");
}

static void test_update(void)
{
	struct neo_node_table table;
	struct neo_node *n, *gone = NULL;
	int32_t s1 = neo_nid_make(NEO_NODE_STORAGE, 1), s2 = neo_nid_make(NEO_NODE_STORAGE, 2);
	int32_t c1 = neo_nid_make(NEO_NODE_CLIENT, 1);
	struct neo_node_info i;
	char long_host[300];

	neo_nodes_init(&table);
	i = info(NEO_NODE_STORAGE, s1, "10.0.0.1", 3000, NEO_NODE_PENDING);
	i.id_timestamp = (struct neo_opt_float){ true, 1234.5 };
	n = neo_nodes_update(&table, &i, &gone);
	tap_ok(n && table.count == 1 && gone == NULL, "update of an unknown node adds it");
	tap_ok(n->type == NEO_NODE_STORAGE && n->nid == s1 && n->state == NEO_NODE_PENDING
	       && n->has_address && strcmp(n->address.host, "10.0.0.1") == 0
	       && n->address.port == 3000 && n->has_id_timestamp && n->id_timestamp == 1234.5,
	       "with its type, id, address, state and id timestamp");
	i = info(NEO_NODE_STORAGE, s1, "10.0.0.1", 3000, NEO_NODE_RUNNING);
	tap_ok(neo_nodes_update(&table, &i, NULL) == n && table.count == 1
	       && n->state == NEO_NODE_RUNNING && !n->has_id_timestamp,
	       "an update of a known id changes that entry");
	i = info(NEO_NODE_STORAGE, s1, "10.0.0.9", 3009, NEO_NODE_RUNNING);
	tap_ok(neo_nodes_update(&table, &i, NULL) == n && strcmp(n->address.host, "10.0.0.9") == 0
	       && n->address.port == 3009,
	       "matched by id, the node takes its new address");
	i = info(NEO_NODE_STORAGE, s2, "10.0.0.9", 3009, NEO_NODE_RUNNING);
	tap_ok(neo_nodes_update(&table, &i, NULL) == n && n->nid == s2 && table.count == 1,
	       "an unknown id at a known address: that entry, with the new id");
	i = info(NEO_NODE_CLIENT, c1, NULL, 0, NEO_NODE_RUNNING);
	n = neo_nodes_update(&table, &i, NULL);
	tap_ok(n && n->type == NEO_NODE_CLIENT && !n->has_address && table.count == 2,
	       "a node without an address (a client)");
	i = info(NEO_NODE_STORAGE, 0, "10.0.0.5", 70000, NEO_NODE_DOWN);
	n = neo_nodes_update(&table, &i, NULL);
	tap_ok(n && !n->has_address && n->nid == 0 && table.count == 3,
	       "an address with a port past 65535 is no address");
	memset(long_host, 'h', sizeof long_host - 1);
	long_host[sizeof long_host - 1] = '\0';
	i = info(NEO_NODE_STORAGE, 0, long_host, 1, NEO_NODE_DOWN);
	n = neo_nodes_update(&table, &i, NULL);
	tap_ok(n && !n->has_address && table.count == 4,
	       "nor is a host longer than an address holds");

	i = info(NEO_NODE_CLIENT, c1, NULL, 0, NEO_NODE_UNKNOWN);
	n = neo_nodes_update(&table, &i, &gone);
	tap_ok(n == NULL && gone != NULL && gone->nid == c1 && table.count == 3
	       && neo_nodes_by_nid(&table, c1) == NULL,
	       "state UNKNOWN removes the node and hands it back through gone");
	neo_node_free(gone);
	i = info(NEO_NODE_STORAGE, 0, "10.0.0.9", 3009, NEO_NODE_UNKNOWN);
	tap_ok(neo_nodes_update(&table, &i, NULL) == NULL && table.count == 2
	       && neo_nodes_by_nid(&table, s2) == NULL,
	       "removal matched by address; without gone the entry is freed there");
	i = info(NEO_NODE_STORAGE, s1, NULL, 0, NEO_NODE_UNKNOWN);
	tap_ok(neo_nodes_update(&table, &i, &gone) == NULL && gone == NULL && table.count == 2,
	       "UNKNOWN for a node not in the registry: nothing, gone NULL");
	neo_nodes_free(&table);
}

static void test_wire(void)
{
	struct neo_node node;
	struct neo_node_info w;
	struct neo_wire_address wa;
	struct neo_address a;
	struct neo_request_identification req;
	struct neo_address mine = addr("::1", 4000);

	memset(&node, 0, sizeof node);
	node.type = NEO_NODE_MASTER;
	node.nid = neo_nid_make(NEO_NODE_MASTER, 1);
	node.has_address = true;
	node.address = addr("127.0.0.1", 10000);
	node.state = NEO_NODE_RUNNING;
	node.has_id_timestamp = true;
	node.id_timestamp = 99.25;
	neo_node_to_wire(&node, &w);
	tap_ok(w.type == NEO_NODE_MASTER && w.uuid.has && w.uuid.v == node.nid
	       && w.state == NEO_NODE_RUNNING && w.id_timestamp.has && w.id_timestamp.v == 99.25,
	       "node_to_wire: type, id, state, id timestamp");
	tap_ok(w.address.has && w.address.v.port == 10000 && w.address.v.host.size == 9
	       && memcmp(w.address.v.host.data, "127.0.0.1", 9) == 0,
	       "node_to_wire: the address as (host, port)");
	node.nid = 0;
	node.has_address = false;
	node.has_id_timestamp = false;
	neo_node_to_wire(&node, &w);
	tap_ok(!w.uuid.has && !w.address.has && !w.id_timestamp.has,
	       "node_to_wire: no id, no address, no timestamp are absent, not zero");

	a = addr("2001:db8::1", 65535);
	neo_address_to_wire(&a, &wa);
	tap_ok(wa.host.size == strlen("2001:db8::1") && wa.port == 65535
	       && (const char *)wa.host.data == a.host,
	       "address_to_wire points into the address");
	memset(&a, 0, sizeof a);
	tap_ok(neo_address_from_wire(&(struct neo_wire_address){
			{ (const uint8_t *)"example.org", 11 }, 0 }, &a)
	       && strcmp(a.host, "example.org") == 0 && a.port == 0,
	       "address_from_wire: host copied and terminated, port 0 is a port");
	tap_ok(!neo_address_from_wire(&(struct neo_wire_address){
			{ (const uint8_t *)"h", 1 }, -1 }, &a)
	       && !neo_address_from_wire(&(struct neo_wire_address){
			{ (const uint8_t *)"h", 1 }, 65536 }, &a),
	       "address_from_wire refuses ports outside 0..65535");

	neo_identification_init(&req, NEO_NODE_STORAGE, neo_nid_make(NEO_NODE_STORAGE, 4), &mine,
				"prod");
	tap_ok(req.node_type == NEO_NODE_STORAGE && req.uuid.has && req.uuid.v == 4
	       && req.address.has && req.address.v.port == 4000 && req.address.v.host.size == 3
	       && req.cluster_name.size == 4 && memcmp(req.cluster_name.data, "prod", 4) == 0
	       && !req.id_timestamp.has,
	       "identification of a storage: its id, address and the cluster name");
	neo_identification_init(&req, NEO_NODE_CLIENT, 0, NULL, "prod");
	tap_ok(req.node_type == NEO_NODE_CLIENT && !req.uuid.has && !req.address.has,
	       "identification of a new client: no id, no address");

	tap_ok(neo_node_state_letter(NEO_NODE_UNKNOWN) == 'U' && neo_node_state_letter(NEO_NODE_DOWN) == 'D'
	       && neo_node_state_letter(NEO_NODE_RUNNING) == 'R'
	       && neo_node_state_letter(NEO_NODE_PENDING) == 'P',
	       "state letters U D R P");
}

int main(void)
{
	test_nid();
	test_registry();
	test_update();
	test_wire();
	return tap_done();
}
