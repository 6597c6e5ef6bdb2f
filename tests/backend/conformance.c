/*
 * conformance.c - what every backend module must do, whatever it stores
 * in.  Run against any module:
 *
 *     tests/backend/conformance path/to/NAME.so DATABASE [DATABASE2]
 *
 * DATABASE is passed to the module untouched and must start empty;
 * DATABASE2 (another empty one) is used for the dedup checks.  Output is
 * TAP.  An operation the module leaves NULL is reported as a skip, so the
 * gaps of a module show in every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend_loader.h"
#include "tap.h"

static const struct neo_backend *ops;
static char err[1024];

static struct neo_db *open_db(const char *database, unsigned flags, int *status)
{
	struct neo_backend_open_args args = {
		.struct_size = sizeof(args), .database = database, .flags = flags,
	};
	struct neo_db *db = NULL;

	err[0] = '\0';
	*status = ops->open(&args, &db, err, sizeof(err));
	return *status == NEO_BACKEND_OK ? db : NULL;
}

static bool bytes_are(struct neo_bytes b, const char *text)
{
	return b.size == strlen(text) && memcmp(b.data, text, b.size) == 0;
}

static void test_config(struct neo_db *db)
{
	struct neo_bytes v, name = { (const uint8_t *)"main", 4 };

	tap_ok(ops->config_get(db, "version", &v) == NEO_BACKEND_OK && v.size > 0,
	       "a new database records its schema version");
	tap_ok(ops->config_get(db, "name", &v) == NEO_BACKEND_NOTFOUND, "an absent key is NOTFOUND");
	tap_ok(ops->config_set(db, "name", &name) == NEO_BACKEND_OK &&
	       ops->config_get(db, "name", &v) == NEO_BACKEND_OK && bytes_are(v, "main"),
	       "a key is set and read back");
	tap_ok(ops->config_set(db, "name", NULL) == NEO_BACKEND_OK &&
	       ops->config_get(db, "name", &v) == NEO_BACKEND_NOTFOUND, "setting NULL deletes a key");
	tap_ok(ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK &&
	       ops->config_set(db, "name", &name) == NEO_BACKEND_OK &&
	       ops->rollback(db) == NEO_BACKEND_OK &&
	       ops->config_get(db, "name", &v) == NEO_BACKEND_NOTFOUND,
	       "rollback drops what was not committed");
}

struct pt_copy {
	struct neo_pt_row rows[16];
	int count;
};

static int copy_row(void *ctx, const struct neo_pt_row *row)
{
	struct pt_copy *c = ctx;

	if (c->count < 16)
		c->rows[c->count++] = *row;
	return 0;
}

static void test_partition_table(struct neo_db *db)
{
	struct neo_pt_row rows[] = {
		{ 0, 1, -1, { true, 0 } }, { 1, 1, 5, { true, 0 } }, { 0, 2, -1, { false, 0 } },
	};
	struct neo_pt_row change[] = { { 1, 1, -1, { true, 99 } }, { 0, 2, INT64_MIN, { false, 0 } } };
	struct pt_copy c = { .count = 0 };

	tap_ok(ops->pt_apply(db, rows, 3, false) == NEO_BACKEND_OK &&
	       ops->pt_scan(db, copy_row, &c) == NEO_BACKEND_OK && c.count == 3,
	       "partition table rows are stored");
	c.count = 0;
	ops->pt_apply(db, change, 2, false);
	ops->pt_scan(db, copy_row, &c);
	tap_ok(c.count == 2 && c.rows[1].partition == 1 && c.rows[1].tid == -1 &&
	       c.rows[1].pack.has && c.rows[1].pack.id == 0,
	       "an existing cell changes its tid only (pack kept); INT64_MIN deletes");
	tap_ok(ops->pt_set_packed(db, 1, 1, 7) == NEO_BACKEND_OK &&
	       (c.count = 0, ops->pt_scan(db, copy_row, &c)) == NEO_BACKEND_OK &&
	       c.rows[1].pack.id == 7, "the packed id of a cell is set");
	c.count = 0;
	ops->pt_apply(db, rows, 1, true);
	ops->pt_scan(db, copy_row, &c);
	tap_ok(c.count == 1, "reset keeps only the rows given");
}

static const uint8_t zero_hash[20];

static uint64_t put_data(struct neo_db *db, uint32_t partition, const char *text)
{
	uint8_t hash[20] = { 0 };
	uint64_t id = 0;

	/* The node computes SHA-1; the module stores what it is given. */
	memcpy(hash, text, strlen(text) < sizeof(hash) ? strlen(text) : sizeof(hash));
	ops->data_put(db, partition, hash, 0, (struct neo_bytes){ (const uint8_t *)text, strlen(text) }, &id);
	return id;
}

static int ignore_id(void *ctx, uint64_t id)
{
	(void)ctx;
	(void)id;
	return 0;
}

static void test_data(struct neo_db *db)
{
	uint64_t a = put_data(db, 3, "alpha"), b = put_data(db, 3, "beta"), c = put_data(db, 5, "gamma");
	uint8_t compression = 9, hash[20];
	struct neo_bytes v;
	size_t big_size = 5u << 20;
	uint8_t *big = malloc(big_size);
	uint64_t big_id;

	tap_ok(a == (3ull << 48) && b == a + 1 && c == (5ull << 48),
	       "data ids are allocated per partition: (partition << 48) + n");
	tap_ok(ops->data_get(db, b, &compression, hash, &v) == NEO_BACKEND_OK &&
	       bytes_are(v, "beta") && compression == 0 && memcmp(hash, "beta", 4) == 0,
	       "data reads back with its checksum and compression");
	memset(big, 0xa5, big_size);
	tap_ok(ops->data_put(db, 1, zero_hash, 1, (struct neo_bytes){ big, big_size }, &big_id) ==
	       NEO_BACKEND_OK && ops->data_get(db, big_id, &compression, hash, &v) == NEO_BACKEND_OK &&
	       v.size == big_size && memcmp(v.data, big, big_size) == 0 && compression == 1,
	       "a 5 MiB value is stored whole");
	free(big);
	/* 16 MiB and more: what upstream's MySQL backend keeps in bigdata
	 * chunks of 8 MiB (core/neo/backend.md section 10) */
	big_size = (20u << 20) + 3;
	big = malloc(big_size);
	for (size_t i = 0; i < big_size; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 20));
	{
		struct neo_obj_row r = { .partition = 1, .oid = 77, .tid = 78,
					 .data_id = { true, 0 } };
		struct neo_object o;
		size_t pruned = 0;

		tap_ok(ops->data_put(db, 1, zero_hash, 1, (struct neo_bytes){ big, big_size },
				     &big_id) == NEO_BACKEND_OK &&
		       ops->data_get(db, big_id, &compression, hash, &v) == NEO_BACKEND_OK &&
		       v.size == big_size && memcmp(v.data, big, big_size) == 0 && compression == 1,
		       "a 20 MiB value is stored whole");
		r.data_id.id = big_id;
		tap_ok(ops->obj_put(db, &r, 1, false) == NEO_BACKEND_OK &&
		       ops->obj_get(db, 1, 77, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_OK &&
		       o.has_data && o.data.size == big_size && o.compression == 1 &&
		       memcmp(o.data.data, big, big_size) == 0,
		       "and loads whole with its revision");
		ops->obj_delete(db, 1, 77, NULL, ignore_id, NULL);
		tap_ok(ops->data_prune(db, &big_id, 1, &pruned) == NEO_BACKEND_OK && pruned == 1 &&
		       ops->data_get(db, big_id, &compression, hash, &v) == NEO_BACKEND_NOTFOUND,
		       "and is pruned");
	}
	free(big);
	tap_ok(ops->data_get(db, 12345, &compression, hash, &v) == NEO_BACKEND_NOTFOUND,
	       "unknown data is NOTFOUND");
}

static struct neo_obj_row row(uint64_t oid, uint64_t tid, uint64_t data_id, bool has_data,
			      uint64_t value_tid, bool undo)
{
	struct neo_obj_row r = { .partition = (uint32_t)(oid % 4), .oid = oid, .tid = tid,
		.data_id = { has_data, data_id }, .value_tid = { undo, value_tid } };

	return r;
}

static void test_objects(struct neo_db *db)
{
	uint64_t d1 = put_data(db, 2, "v1"), d2 = put_data(db, 2, "v2");
	struct neo_obj_row rows[] = {
		row(6, 10, d1, true, 0, false),		/* created */
		row(6, 20, d2, true, 0, false),		/* changed */
		row(6, 30, 0, false, 0, false),		/* deleted */
		row(6, 40, d1, true, 10, true),		/* undo back to tid 10 */
	};
	struct neo_object o;
	uint64_t serial = 0;

	tap_ok(ops->obj_put(db, rows, 4, false) == NEO_BACKEND_OK, "revisions are stored");
	tap_ok(ops->obj_get(db, 2, 6, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_OK &&
	       o.serial == 40 && !o.next_serial.has && o.has_data && bytes_are(o.data, "v1") &&
	       o.data_serial.has && o.data_serial.id == 10,
	       "latest: the undo record carries its data and its data_serial");
	tap_ok(ops->obj_get(db, 2, 6, NEO_BACKEND_OBJ_EXACT, 20, &o) == NEO_BACKEND_OK &&
	       o.serial == 20 && o.next_serial.has && o.next_serial.id == 30 &&
	       bytes_are(o.data, "v2") && !o.data_serial.has,
	       "exact serial, with the next serial");
	tap_ok(ops->obj_get(db, 2, 6, NEO_BACKEND_OBJ_BEFORE, 40, &o) == NEO_BACKEND_OK &&
	       o.serial == 30 && !o.has_data && o.next_serial.id == 40,
	       "before a tid: a deletion is a hit without data");
	tap_ok(ops->obj_get(db, 2, 6, NEO_BACKEND_OBJ_BEFORE, 10, &o) == NEO_BACKEND_NOTFOUND,
	       "before its creation: NOTFOUND");
	tap_ok(ops->obj_get(db, 2, 6, NEO_BACKEND_OBJ_EXACT, 25, &o) == NEO_BACKEND_NOTFOUND,
	       "no revision at that serial: NOTFOUND");
	tap_ok(ops->obj_get(db, 3, 7, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_NOTFOUND,
	       "a missing oid: NOTFOUND");
	tap_ok(ops->obj_get(db, 1, 6, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_NOTFOUND,
	       "the partition is part of the key");
	tap_ok(ops->obj_last_serial(db, 2, 6, &serial) == NEO_BACKEND_OK && serial == 40,
	       "last serial, the conflict check");
	tap_ok(ops->obj_put(db, rows, 1, false) == NEO_BACKEND_EDUP,
	       "the same revision twice is EDUP");
}

struct id_list {
	uint64_t ids[16];
	uint64_t second[16];
	int count;
};

static int collect_id(void *ctx, uint64_t id);
static int collect_pair(void *ctx, uint64_t first, uint64_t second);

static bool ids_are(const struct id_list *l, int n, const uint64_t *want)
{
	if (l->count != n)
		return false;
	for (int i = 0; i < n; i++)
		if (l->ids[i] != want[i])
			return false;
	return true;
}

/* Partition 7 holds transactions 1, 2, 3 and revisions (1, oid 5),
 * (2, oid 3), (2, oid 7), (3, oid 5). */
static void test_ranges(struct neo_db *db)
{
	struct id_list l = { .count = 0 };
	uint64_t d = put_data(db, 7, "r"), tid = 0, oid = 0;
	uint32_t p7[] = { 7 }, p76[] = { 6, 7 };
	struct neo_obj_row rows[] = {
		{ 7, 5, 1, { true, d }, { false, 0 } }, { 7, 3, 2, { true, d }, { false, 0 } },
		{ 7, 7, 2, { true, d }, { false, 0 } }, { 7, 5, 3, { false, 0 }, { false, 0 } },
	};

	if (ops->tid_range == NULL) {
		tap_skip("lists and ranges: not implemented by module %s", ops->name);
		return;
	}
	for (uint64_t t = 1; t <= 3; t++) {
		struct neo_trans meta = { .partition = 7, .tid = t, .ttid = t };

		ops->trans_put(db, &meta, false);
	}
	ops->obj_put(db, rows, 4, false);
	ops->tid_list_desc(db, p7, 1, 0, 0, collect_id, &l);
	tap_ok(ids_are(&l, 3, (uint64_t[]){ 3, 2, 1 }), "tid list: newest first");
	l.count = 0;
	ops->tid_list_desc(db, p76, 2, 1, 1, collect_id, &l);
	tap_ok(ids_are(&l, 1, (uint64_t[]){ 2 }), "tid list: offset and length, several partitions");
	l.count = 0;
	ops->tid_range(db, 7, 2, INT64_MAX, 0, collect_id, &l);
	tap_ok(ids_are(&l, 2, (uint64_t[]){ 2, 3 }), "tid range: ascending, bounds included");
	l.count = 0;
	ops->tid_range(db, 7, 2, INT64_MAX, 1, collect_id, &l);
	tap_ok(ids_are(&l, 1, (uint64_t[]){ 2 }), "tid range: length");
	l.count = 0;
	ops->obj_range(db, 7, 2, 7, 3, 0, collect_pair, &l);
	tap_ok(l.count == 2 && l.ids[0] == 2 && l.second[0] == 7 && l.ids[1] == 3 && l.second[1] == 5,
	       "object range: (tid == min and oid >= min_oid) or min < tid <= max, in (tid, oid) order");
	l.count = 0;
	ops->oid_range(db, 7, 0, 2, 0, collect_id, &l);
	tap_ok(ids_are(&l, 3, (uint64_t[]){ 3, 5, 7 }), "oids having a revision up to a tid");
	l.count = 0;
	ops->oid_range(db, 7, 4, 1, 0, collect_id, &l);
	tap_ok(ids_are(&l, 1, (uint64_t[]){ 5 }), "oids from a minimum, at an earlier tid");
	tap_ok(ops->last_obj_ids(db, 7, &tid, &oid) == NEO_BACKEND_OK && tid == 3 && oid == 7,
	       "last object tid and oid of a partition");
	tap_ok(ops->last_trans_tid(db, 7, 2, &tid) == NEO_BACKEND_OK && tid == 2 &&
	       ops->first_trans_tid(db, 7, &tid) == NEO_BACKEND_OK && tid == 1,
	       "last transaction up to a tid, and the first");
	tap_ok(ops->last_obj_ids(db, 6, &tid, &oid) == NEO_BACKEND_NOTFOUND &&
	       ops->first_trans_tid(db, 6, &tid) == NEO_BACKEND_NOTFOUND,
	       "an empty partition has no last ids");
}

/* On oid 6 of test_objects: revisions 10 (v1), 20 (v2), 30 (deleted),
 * 40 (undo to 10). */
static void test_history_and_pruning(struct neo_db *db)
{
	struct id_list l = { .count = 0 };
	struct neo_opt_id serial = { true, 20 };
	struct neo_bytes path;
	uint64_t orphan = put_data(db, 2, "orphan");
	size_t pruned = 99;

	if (ops->obj_history == NULL) {
		tap_skip("history and pruning: not implemented by module %s", ops->name);
		return;
	}
	ops->obj_history(db, 2, 6, 0, 0, collect_pair, &l);
	tap_ok(l.count == 4 && l.ids[0] == 40 && l.second[0] == 2 && l.ids[1] == 30 &&
	       l.second[1] == 0 && l.ids[3] == 10, "history: newest first, stored sizes, 0 for a deletion");
	l.count = 0;
	ops->obj_history(db, 2, 6, 1, 2, collect_pair, &l);
	tap_ok(l.count == 2 && l.ids[0] == 30 && l.ids[1] == 20, "history: offset and length");
	l.count = 0;
	ops->obj_undo_history(db, 2, 6, 20, collect_pair, &l);
	tap_ok(l.count == 3 && l.ids[0] == 20 && l.second[0] == UINT64_MAX && l.ids[2] == 40 &&
	       l.second[2] == 10, "undo history: ascending, with undo pointers");
	l.count = 0;
	ops->data_orphans(db, collect_id, &l);
	tap_ok(l.count >= 1 && l.ids[l.count - 1] >= orphan, "orphaned data is listed");
	l.count = 0;
	tap_ok(ops->obj_delete(db, 2, 6, &serial, collect_id, &l) == NEO_BACKEND_OK && l.count == 1,
	       "deleting a revision reports its data id");
	tap_ok(ops->data_prune(db, l.ids, 1, &pruned) == NEO_BACKEND_OK && pruned == 1,
	       "its data, now unreferenced, is pruned");
	l.count = 0;
	ops->obj_history(db, 2, 6, 0, 0, collect_pair, &l);
	{
		struct neo_opt_id v1 = { false, 0 };

		ops->obj_data_id(db, 2, 6, 10, &v1);
		tap_ok(l.count == 3 && v1.has && ops->data_prune(db, &v1.id, 1, &pruned) ==
		       NEO_BACKEND_OK && pruned == 0,
		       "data still referenced (by the undo record too) is kept");
	}
	tap_ok(ops->device_path(db, &path) == NEO_BACKEND_OK && path.size > 0 &&
	       memchr(path.data, ':', path.size) != NULL, "device path: host and device");
}

static int count_order(void *ctx, const struct neo_pack_order *order)
{
	struct id_list *l = ctx;

	if (l->count < 16) {
		l->ids[l->count] = order->id;
		l->second[l->count++] = (uint64_t)(order->approved + 1) * 100 + order->oids.size;
	}
	return 0;
}

/* Partition 9, oid 11: revisions 1, 2, 3 (deletion), 4, 5. */
static void test_pack_and_destruction(struct neo_db *db)
{
	struct id_list l = { .count = 0 };
	uint64_t d[5];
	struct neo_obj_row rows[5];
	uint8_t oids[16] = { 0 };
	/* an order's partition is its id modulo the number of partitions,
	 * the pt table's (core/neo/backend.md section 15): 10 here */
	struct neo_pack_order order = { .id = 19, .approved = -1, .partial = true, .has_oids = true,
		.oids = { oids, 16 }, .pack_tid = 5 };
	struct neo_pt_row cell9 = { 9, 1, -1, { true, 0 } };
	uint32_t p9[] = { 9 };
	struct neo_trans t;
	bool done = false;

	if (ops->pack_oid == NULL) {
		tap_skip("pack and destruction: not implemented by module %s", ops->name);
		return;
	}
	for (int i = 0; i < 5; i++) {
		d[i] = put_data(db, 9, i == 0 ? "p1" : i == 1 ? "p2" : i == 3 ? "p4" : "p5");
		rows[i] = (struct neo_obj_row){ 9, 11, (uint64_t)i + 1, { i != 2, d[i] }, { false, 0 } };
	}
	ops->obj_put(db, rows, 5, false);
	for (uint64_t tid = 4; tid <= 5; tid++) {
		struct neo_trans meta = { .partition = 9, .tid = tid, .ttid = tid };

		ops->trans_put(db, &meta, false);
	}
	tap_ok(ops->pack_oid(db, 9, 11, 2, collect_id, &l) == NEO_BACKEND_OK && l.count == 1 &&
	       l.ids[0] == d[0], "pack keeps the last revision up to the pack tid, drops older ones");
	l.count = 0;
	ops->pack_oid(db, 9, 11, 3, collect_id, &l);
	tap_ok(l.count == 1 && l.ids[0] == d[1], "pack drops a deletion with everything before it");
	l.count = 0;
	ops->pack_oid(db, 9, 11, 3, collect_id, &l);
	tap_ok(l.count == 0, "pack is idempotent");
	l.count = 0;
	ops->obj_history(db, 9, 11, 0, 0, collect_pair, &l);
	tap_ok(l.count == 2 && l.ids[0] == 5 && l.ids[1] == 4, "later revisions are untouched");

	l.count = 0;
	ops->pt_apply(db, &cell9, 1, false);
	tap_ok(ops->pack_order_put(db, 9, &order) == NEO_BACKEND_OK &&
	       ops->pack_order_sign(db, 19, true) == NEO_BACKEND_OK &&
	       ops->pack_order_sign(db, 70, true) == NEO_BACKEND_NOTFOUND &&
	       ops->pack_orders_from(db, p9, 1, 0, count_order, &l) == NEO_BACKEND_OK &&
	       l.count == 1 && l.ids[0] == 19 && l.second[0] == 216,
	       "pack orders are stored, signed and listed with their oids");
	l.count = 0;
	ops->pack_order_rename(db, 19, 29);
	ops->pack_orders_from(db, p9, 1, 29, count_order, &l);
	tap_ok(l.count == 1 && l.ids[0] == 29,
	       "a pack order follows its transaction to the final tid");

	l.count = 0;
	tap_ok(ops->range_delete(db, 9, 4, INT64_MAX, collect_id, &l) == NEO_BACKEND_OK &&
	       l.count == 1 && l.ids[0] == d[4] &&
	       ops->trans_get(db, 9, 5, false, &t) == NEO_BACKEND_NOTFOUND &&
	       ops->trans_get(db, 9, 4, false, &t) == NEO_BACKEND_OK,
	       "range delete (truncate): rows after the tid go, the rest stays");
	l.count = 0;
	tap_ok(ops->drop_step(db, 9, 1, collect_id, &l, &done) == NEO_BACKEND_OK && !done &&
	       l.count == 1 && ops->drop_step(db, 9, 1, collect_id, &l, &done) == NEO_BACKEND_OK &&
	       done && ops->trans_get(db, 9, 4, false, &t) == NEO_BACKEND_NOTFOUND,
	       "dropping a partition: revisions in batches, then its transactions");
}

static void test_many_objects(struct neo_db *db)
{
	enum { COUNT = 100000 };
	struct neo_obj_row *rows = malloc(COUNT * sizeof(*rows));
	uint64_t d = put_data(db, 0, "shared");
	struct neo_object o;
	bool all = true;

	for (uint64_t i = 0; i < COUNT; i++)
		rows[i] = row(1000 + i, 50, d, true, 0, false);
	tap_ok(ops->obj_put(db, rows, COUNT, false) == NEO_BACKEND_OK &&
	       ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK, "100k revisions stored");
	for (uint64_t i = 0; i < COUNT && all; i += 997)
		all = ops->obj_get(db, (uint32_t)((1000 + i) % 4), 1000 + i, NEO_BACKEND_OBJ_LATEST,
				   0, &o) == NEO_BACKEND_OK && o.serial == 50;
	tap_ok(all, "and found again");
	free(rows);
}


static int collect_id(void *ctx, uint64_t id)
{
	struct id_list *l = ctx;

	if (l->count < 16)
		l->ids[l->count++] = id;
	return 0;
}

static int collect_pair(void *ctx, uint64_t first, uint64_t second)
{
	struct id_list *l = ctx;

	if (l->count < 16) {
		l->ids[l->count] = first;
		l->second[l->count++] = second;
	}
	return 0;
}

static void stage(struct neo_db *db, uint64_t ttid, uint64_t oid, const char *value,
		  uint64_t *data_id)
{
	uint8_t oids[8] = { 0, 0, 0, 0, 0, 0, 0, (uint8_t)oid };
	struct neo_trans meta = {
		.partition = (uint32_t)(ttid % 4), .ttid = ttid,
		.oids = { oids, 8 }, .user = { (const uint8_t *)"me", 2 },
		.description = { (const uint8_t *)"test", 4 }, .extension = { NULL, 0 },
	};
	struct neo_obj_row r;

	*data_id = put_data(db, (uint32_t)(oid % 4), value);
	r = row(oid, ttid, *data_id, true, 0, false);
	ops->obj_put(db, &r, 1, true);
	ops->trans_put(db, &meta, true);
}

/* Vote, lock, crash, recover, unlock; and an abort beside it. */
static void test_two_phase_commit(const char *database)
{
	int status;
	struct neo_db *db = open_db(database, 0, &status);
	struct id_list l = { .count = 0 };
	struct neo_object o;
	struct neo_trans t;
	uint64_t d1, d2, tid = 0;
	/* As the master does: the final tid keeps the ttid's partition. */
	const uint64_t ttid = 100, final = 104, other = 105;

	if (ops->txn_lock == NULL) {
		tap_skip("two-phase commit: not implemented by module %s", ops->name);
		ops->close(db);
		return;
	}
	stage(db, ttid, 9, "staged", &d1);
	stage(db, other, 10, "aborted", &d2);
	tap_ok(ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK &&
	       ops->obj_get(db, 1, 9, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_NOTFOUND,
	       "staged revisions are not visible");
	ops->txn_unfinished(db, collect_pair, &l);
	tap_ok(l.count == 2 && l.ids[0] == ttid && l.second[0] == 0 && l.ids[1] == other,
	       "voted transactions are unfinished, not locked");
	l.count = 0;
	ops->txn_staged_data_ids(db, collect_id, &l);
	tap_ok(l.count == 2, "staged data ids are listed (to rebuild holds)");

	tap_ok(ops->txn_lock(db, ttid, final) == NEO_BACKEND_OK &&
	       ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK, "lock, committed");
	ops->close(db);	/* a crash between lock and unlock */
	db = open_db(database, 0, &status);
	l.count = 0;
	ops->txn_unfinished(db, collect_pair, &l);
	tap_ok(db && l.count == 2 && l.ids[0] == ttid && l.second[0] == final,
	       "after a crash, the locked transaction is known with its tid");
	tap_ok(ops->trans_get(db, (uint32_t)(final % 4), final, true, &t) == NEO_BACKEND_OK &&
	       t.ttid == ttid && bytes_are(t.user, "me") &&
	       ops->trans_get(db, (uint32_t)(final % 4), final, false, &t) == NEO_BACKEND_NOTFOUND,
	       "its metadata is readable as locked, not yet as committed");

	l.count = 0;
	tap_ok(ops->txn_unlock(db, ttid, final, collect_id, &l) == NEO_BACKEND_OK &&
	       l.count == 1 && l.ids[0] == d1, "unlock reports the data ids it moved");
	tap_ok(ops->obj_get(db, 1, 9, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_OK &&
	       o.serial == final && bytes_are(o.data, "staged"), "unlocked revisions are visible at the final tid");
	tap_ok(ops->trans_get(db, (uint32_t)(final % 4), final, false, &t) == NEO_BACKEND_OK &&
	       bytes_are(t.description, "test") && t.oids.size == 8 &&
	       ops->final_tid(db, (uint32_t)(ttid % 4), ttid, &tid) == NEO_BACKEND_OK && tid == final,
	       "committed metadata, and the final tid of the ttid");

	l.count = 0;
	tap_ok(ops->txn_abort(db, other, collect_id, &l) == NEO_BACKEND_OK && l.count == 1 &&
	       l.ids[0] == d2, "abort reports the data ids of its revisions");
	l.count = 0;
	ops->txn_unfinished(db, collect_pair, &l);
	tap_ok(l.count == 0, "nothing is left unfinished");
	{
		struct neo_opt_id id;

		tap_ok(ops->obj_data_id(db, 1, 9, final, &id) == NEO_BACKEND_OK && id.has && id.id == d1 &&
		       ops->obj_data_id(db, 1, 9, 1, &id) == NEO_BACKEND_NOTFOUND,
		       "the data id of a revision (for undo)");
	}
	tap_ok(ops->trans_delete(db, (uint32_t)(final % 4), final) == NEO_BACKEND_OK &&
	       ops->trans_get(db, (uint32_t)(final % 4), final, false, &t) == NEO_BACKEND_NOTFOUND,
	       "transaction metadata is deleted");
	ops->commit(db, NEO_BACKEND_COMMIT_SYNC);
	ops->close(db);
}

static void test_durability(const char *database)
{
	int status;
	struct neo_db *db = open_db(database, 0, &status);
	struct neo_bytes v, later = { (const uint8_t *)"x", 1 };
	struct neo_object o;

	tap_ok(db != NULL && ops->obj_get(db, 2, 6, NEO_BACKEND_OBJ_LATEST, 0, &o) == NEO_BACKEND_OK &&
	       o.serial == 40, "committed revisions survive closing and reopening");
	ops->config_set(db, "uncommitted", &later);
	ops->close(db);	/* as a crash: no commit */
	db = open_db(database, 0, &status);
	tap_ok(db && ops->config_get(db, "uncommitted", &v) == NEO_BACKEND_NOTFOUND,
	       "what was not committed is gone after a crash");
	{
		struct neo_bytes old = { (const uint8_t *)"3", 1 };

		ops->config_set(db, "version", &old);
		ops->commit(db, NEO_BACKEND_COMMIT_SYNC);
		ops->close(db);
	}
	db = open_db(database, 0, &status);
	tap_ok(db == NULL && status == NEO_BACKEND_EVERSION && strstr(err, "version 3") != NULL,
	       "a database of another schema version is refused, not rewritten (%s)", err);
	if (db)
		ops->close(db);
}

static void test_dedup(const char *database)
{
	int status;
	struct neo_db *db = open_db(database, NEO_BACKEND_OPEN_DEDUP, &status);
	uint8_t hash[20] = "same-hash";
	uint64_t a = 0, b = 1, c;

	if (!tap_ok(db != NULL, "a new database with dedup"))
		return;
	ops->data_put(db, 1, hash, 0, (struct neo_bytes){ (const uint8_t *)"abc", 3 }, &a);
	ops->data_put(db, 2, hash, 0, (struct neo_bytes){ (const uint8_t *)"abc", 3 }, &b);
	tap_ok(a == b, "dedup: identical data shares one row");
	tap_ok(ops->data_put(db, 1, hash, 0, (struct neo_bytes){ (const uint8_t *)"xyz", 3 }, &c) ==
	       NEO_BACKEND_EDUP, "dedup: other bytes under the same checksum are EDUP");
	ops->close(db);
}

/* db_size [1.1]: after test_many_objects, the database holds rows. */
static void test_db_size(struct neo_db *db)
{
	uint64_t bytes = 0;
	int status;

	if (ops->db_size == NULL)
		return;		/* reported by report_missing_operations */
	status = ops->db_size(db, &bytes);
	tap_ok(status == NEO_BACKEND_OK && bytes > 0, "db_size: the database takes %llu bytes",
	       (unsigned long long)bytes);
}

/* import_progress [1.2]: counters that hold together. */
static void test_import_progress(struct neo_db *db)
{
	struct neo_import_progress p;
	int status;

	if (ops->import_progress == NULL)
		return;		/* reported by report_missing_operations */
	memset(&p, 0xff, sizeof p);
	status = ops->import_progress(db, &p);
	tap_ok(status == NEO_BACKEND_OK
	       && p.transactions_done <= p.transactions_total && p.bytes_done <= p.bytes_total
	       && p.bytes_per_second >= 0 && (!p.finished || p.bytes_done == p.bytes_total),
	       "import_progress: %llu of %llu transactions, %llu of %llu bytes%s",
	       (unsigned long long)p.transactions_done, (unsigned long long)p.transactions_total,
	       (unsigned long long)p.bytes_done, (unsigned long long)p.bytes_total,
	       p.finished ? ", finished" : "");
}

static void report_missing_operations(void)
{
	static const struct { size_t offset; const char *name; } all[] = {
#define OP(name) { offsetof(struct neo_backend, name), #name }
		OP(device_path), OP(data_prune), OP(data_orphans), OP(obj_data_id),
		OP(obj_history), OP(obj_undo_history), OP(obj_delete), OP(trans_put),
		OP(trans_get), OP(trans_delete), OP(final_tid), OP(txn_lock), OP(txn_unlock),
		OP(txn_abort), OP(txn_unfinished), OP(txn_staged_data_ids), OP(tid_list_desc),
		OP(tid_range), OP(obj_range), OP(oid_range), OP(last_obj_ids),
		OP(last_trans_tid), OP(first_trans_tid), OP(pack_order_put),
		OP(pack_order_rename), OP(pack_order_sign), OP(pack_orders_from),
		OP(pack_oid), OP(range_delete), OP(drop_step), OP(db_size),
		OP(import_progress),
#undef OP
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		void *const *slot = (void *const *)((const char *)ops + all[i].offset);

		if (*slot == NULL)
			tap_skip("%s: not implemented by module %s", all[i].name, ops->name);
	}
}

int main(int argc, char **argv)
{
	struct neo_backend_module module;
	struct neo_db *db;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: %s MODULE.so DATABASE [DEDUP_DATABASE]\n", argv[0]);
		return 2;
	}
	if (!tap_ok(neo_backend_load(argv[1], &module, err, sizeof(err)) == 0, "module loads: %s", err))
		return tap_done();
	ops = module.ops;
	db = open_db(argv[2], 0, &status);
	if (!tap_ok(db != NULL, "a new database opens (%s)", err))
		return tap_done();
	{
		struct neo_db *second = open_db(argv[2], 0, &status);

		tap_ok(second == NULL && status == NEO_BACKEND_ELOCKED && strstr(err, "locked"),
		       "a database in use is refused as locked (%s)", err);
		if (second)
			ops->close(second);
	}
	test_config(db);
	test_partition_table(db);
	test_data(db);
	test_objects(db);
	test_ranges(db);
	test_history_and_pruning(db);
	test_pack_and_destruction(db);
	tap_ok(ops->commit(db, NEO_BACKEND_COMMIT_SYNC) == NEO_BACKEND_OK, "commit");
	test_many_objects(db);
	test_db_size(db);
	test_import_progress(db);
	ops->close(db);
	test_two_phase_commit(argv[2]);
	test_durability(argv[2]);
	if (argc > 3)
		test_dedup(argv[3]);
	report_missing_operations();
	neo_backend_unload(&module);
	return tap_done();
}
