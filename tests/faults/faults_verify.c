/*
 * faults_verify.c - the final checks: every acknowledged revision read
 * back by a fresh client (loadSerial), neoctl check over every partition,
 * and the replicas compared row by row in the stopped storages' databases
 * through the backend module itself, so that any engine can be compared.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"
#include "runtime/backend_loader.h"

#define EXAMPLES 10

/* --- Read back ---------------------------------------------------------------------- */

/* A copy of every committer's acknowledged revisions as of now: an
 * abandoned committer may still add some later, which are not checked. */
static struct ack *snapshot_acks(struct campaign *cp, size_t *count)
{
	struct ack *all = NULL;
	size_t n = 0;

	for (int i = 0; i < cp->committer_count; i++) {
		struct committer *c = cp->committers[i];

		pthread_mutex_lock(&c->lock);
		all = realloc(all, (n + c->ack_count + 1) * sizeof *all);
		if (all == NULL)
			abort();
		memcpy(all + n, c->acks, c->ack_count * sizeof *all);
		n += c->ack_count;
		pthread_mutex_unlock(&c->lock);
	}
	*count = n;
	return all;
}

/* neo_client_load_serial, again after an error that may pass
 * (UNAVAILABLE, DISCONNECTED...): not after NOT_FOUND or NO_DATA. */
static int load_serial(struct neo_client *client, const struct ack *a,
		       struct neo_client_record *rec)
{
	int rc = NEO_CLIENT_UNAVAILABLE;

	for (int attempt = 0; attempt < 5; attempt++) {
		memset(rec, 0, sizeof *rec);
		rc = neo_client_load_serial(client, a->oid, a->tid, rec);
		if (rc == NEO_CLIENT_OK || rc == NEO_CLIENT_NOT_FOUND || rc == NEO_CLIENT_NO_DATA)
			return rc;
		usleep(500000);
	}
	return rc;
}

static void check_one(struct campaign *cp, struct neo_client *client, const struct ack *a)
{
	struct neo_client_record rec;
	int rc = load_serial(client, a, &rec);
	const char *what = NULL;

	if (rc == NEO_CLIENT_NOT_FOUND || rc == NEO_CLIENT_NO_DATA) {
		cp->lost_missing++;
		what = "missing";
	} else if (rc != NEO_CLIENT_OK) {
		cp->lost_error++;
		what = neo_client_errmsg();
	} else if (rec.size != a->size || memcmp(rec.data, a->value, a->size) != 0) {
		cp->lost_different++;
		what = "different value";
	} else {
		cp->read_ok++;
	}
	if (what && cp->lost_missing + cp->lost_error + cp->lost_different <= EXAMPLES)
		say(cp, "LOST: oid %016" PRIx64 " tid %016" PRIx64 " (value %.20s...): %s", a->oid,
		    a->tid, a->value, what);
	neo_client_record_clear(&rec);
}

void verify_read_back(struct campaign *cp)
{
	size_t count;
	struct ack *acks = snapshot_acks(cp, &count);
	struct neo_client *client = NULL;

	if (open_client(cp, &client, 30000) != NEO_CLIENT_OK) {
		say(cp, "read back: no client: %s; every acknowledged revision counts as lost",
		    neo_client_errmsg());
		cp->lost_error = (long)count;
	} else {
		for (size_t i = 0; i < count; i++)
			check_one(cp, client, &acks[i]);
		neo_client_close(client);
	}
	cp->lost = cp->lost_missing + cp->lost_different + cp->lost_error;
	say(cp, "read back %zu acknowledged revisions: %ld ok, %ld missing, %ld different, "
	    "%ld unreadable", count, cp->read_ok, cp->lost_missing, cp->lost_different,
	    cp->lost_error);
	/* kept: the replicas are checked for them too */
	cp->acks = acks;
	cp->ack_total = count;
}

/* --- neoctl check ---------------------------------------------------------------- */

static long file_size(struct campaign *cp, const char *name)
{
	char path[512];
	FILE *f;
	long size = 0;

	snprintf(path, sizeof path, "%s/%s", cp->tc.dir, name);
	if ((f = fopen(path, "r")) != NULL && fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (f)
		fclose(f);
	return size;
}

enum { CHECK_NONE, CHECK_EQUAL, CHECK_CORRUPT, CHECK_ABORTED };

/* Reads what the log name says past offset about partition checks. */
static void scan_check_log(struct campaign *cp, const char *name, long offset, int *result,
			   bool report)
{
	char path[512], line[2048];
	FILE *f;
	unsigned p;

	snprintf(path, sizeof path, "%s/%s", cp->tc.dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return;
	fseek(f, offset, SEEK_SET);
	while (fgets(line, sizeof line, f)) {
		const char *at;

		if ((at = strstr(line, "check of partition ")) && strstr(at, "is corrupted")
		    && sscanf(at, "check of partition %u", &p) == 1 && p < 1024) {
			result[p] = CHECK_CORRUPT;
			cp->check_corruptions++;
			if (report)
				say(cp, "CORRUPTED (%s): %s", name, at);
		} else if (strstr(line, "replicas are equal") && (at = strstr(line, " partition "))
			   && sscanf(at, " partition %u", &p) == 1 && p < 1024
			   && result[p] == CHECK_NONE) {
			result[p] = CHECK_EQUAL;
		} else if ((at = strstr(line, "check of partition ")) && strstr(at, "aborted")
			   && sscanf(at, "check of partition %u", &p) == 1 && p < 1024
			   && result[p] == CHECK_NONE) {
			result[p] = CHECK_ABORTED;
		}
	}
	fclose(f);
}

/* Returns how many partitions have a verdict; with report, says the
 * corruptions found. */
static int scan_checks(struct campaign *cp, long *offsets, int *result, bool report)
{
	int done = 0;
	char name[32];

	memset(result, 0, 1024 * sizeof *result);
	cp->check_corruptions = 0;
	for (int i = 0; i < cp->tc.master_count; i++) {
		snprintf(name, sizeof name, "master%d.log", i);
		scan_check_log(cp, name, offsets[i], result, report);
	}
	for (int i = 0; i < cp->tc.storage_count; i++) {
		snprintf(name, sizeof name, "storage%d.log", i);
		scan_check_log(cp, name, offsets[2 + i], result, report);
	}
	for (int p = 0; p < cp->opt.partitions; p++)
		done += result[p] != CHECK_NONE;
	return done;
}

/* "check :" (every partition, references chosen by the master), then
 * the verdicts from the logs: "replicas are equal" in a storage's log,
 * "cell of S is corrupted" in the master's, as test_admin reads them. */
void verify_check(struct campaign *cp)
{
	long offsets[2 + CLUSTER_MAX_NODES];
	int result[1024];
	char out[4096], name[32];
	long long deadline = now_ms() + 90000;

	for (int i = 0; i < cp->tc.master_count; i++) {
		snprintf(name, sizeof name, "master%d.log", i);
		offsets[i] = file_size(cp, name);
	}
	for (int i = 0; i < cp->tc.storage_count; i++) {
		snprintf(name, sizeof name, "storage%d.log", i);
		offsets[2 + i] = file_size(cp, name);
	}
	if (neoctl(cp, out, sizeof out, "check :") != 0) {
		say(cp, "neoctl check : refused: %.200s", out);
		cp->check_unfinished = cp->opt.partitions;
		return;
	}
	while (scan_checks(cp, offsets, result, false) < cp->opt.partitions && now_ms() < deadline)
		usleep(250000);
	/* Corruption reports may trail the last verdict: a moment more. */
	usleep(1000000);
	scan_checks(cp, offsets, result, true);
	for (int p = 0; p < cp->opt.partitions; p++) {
		cp->check_equal += result[p] == CHECK_EQUAL;
		cp->check_unfinished += result[p] == CHECK_NONE || result[p] == CHECK_ABORTED;
		if (result[p] == CHECK_NONE || result[p] == CHECK_ABORTED)
			say(cp, "neoctl check: partition %d %s", p,
			    result[p] == CHECK_NONE ? "never reported" : "aborted");
	}
	say(cp, "neoctl check: %ld partitions equal, %ld corrupted cells, %ld unfinished",
	    cp->check_equal, cp->check_corruptions, cp->check_unfinished);
}

/* --- The final partition table -------------------------------------------------- */

static int storage_of_nid(struct campaign *cp, const char *nodes, const char *nid)
{
	char prefix[64];
	const char *line, *port;

	snprintf(prefix, sizeof prefix, "%s | STORAGE | 127.0.0.1:", nid);
	if ((line = strstr(nodes, prefix)) == NULL)
		return -1;
	port = line + strlen(prefix);
	for (int i = 0; i < cp->tc.storage_count; i++)
		if (atoi(port) == cp->tc.storage_ports[i])
			return i;
	return -1;
}

bool verify_final_pt(struct campaign *cp, char *holder)
{
	char pt[8192], nodes[8192], nid[16];
	const char *line;
	int np = cp->opt.partitions, ns = cp->opt.storages;

	memset(holder, '.', (size_t)(np * ns));
	if (neoctl(cp, pt, sizeof pt, "print pt") != 0 || strncmp(pt, "# ptid:", 7) != 0
	    || neoctl(cp, nodes, sizeof nodes, "print node storage") != 0) {
		say(cp, "no final partition table: %.100s", pt);
		return false;
	}
	say(cp, "final partition table:\n%s", pt);
	for (line = strchr(pt, '\n'); line && line[1] == 'S'; line = strchr(line + 1, '\n')) {
		int i;
		const char *cells;

		if (sscanf(line + 1, "%15s", nid) != 1 || (i = storage_of_nid(cp, nodes, nid)) < 0
		    || (cells = strchr(line + 1, ' ')) == NULL || strlen(cells) < (size_t)np + 3)
			continue;
		for (int p = 0; p < np; p++)
			holder[p * ns + i] = cells[3 + p];
	}
	return true;
}

/* --- Replicas, row by row ----------------------------------------------------------- */

/* A row of a partition: a transaction (oid UINT64_MAX) or an object
 * revision, with a hash of what the row says. */
struct row {
	uint64_t tid, oid, hash;
};

struct rows {
	struct row *items;
	size_t count, room;
};

static void rows_add(struct rows *r, uint64_t tid, uint64_t oid, uint64_t hash)
{
	if (r->count == r->room) {
		r->room = r->room ? 2 * r->room : 1024;
		r->items = realloc(r->items, r->room * sizeof *r->items);
		if (r->items == NULL)
			abort();
	}
	r->items[r->count++] = (struct row){ tid, oid, hash };
}

static uint64_t fnv(uint64_t h, const void *data, size_t size)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < size; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t fnv_bytes(uint64_t h, struct neo_bytes b)
{
	h = fnv(h, &b.size, sizeof b.size);
	return b.size ? fnv(h, b.data, b.size) : h;
}

static int collect_id(void *ctx, uint64_t id)
{
	rows_add(ctx, id, UINT64_MAX, 0);
	return 0;
}

static int collect_pair(void *ctx, uint64_t tid, uint64_t oid)
{
	rows_add(ctx, tid, oid, 0);
	return 0;
}

/* The metadata of every transaction of partition p: tid, ttid, packed,
 * its oids, user, description, extension. */
static uint64_t trans_hash(const struct neo_trans *t)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, &t->ttid, sizeof t->ttid);
	h = fnv(h, &t->packed, sizeof t->packed);
	h = fnv_bytes(h, t->oids);
	h = fnv_bytes(h, t->user);
	h = fnv_bytes(h, t->description);
	return fnv_bytes(h, t->extension);
}

static uint64_t obj_hash(const struct neo_object *o)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, &o->has_data, sizeof o->has_data);
	h = fnv(h, &o->compression, sizeof o->compression);
	h = fnv(h, o->checksum, sizeof o->checksum);
	h = fnv(h, &o->data_serial.has, sizeof o->data_serial.has);
	return o->data_serial.has ? fnv(h, &o->data_serial.id, sizeof o->data_serial.id) : h;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

/* Every row of partition p in one database; false on a backend error. */
static bool read_partition(const struct neo_backend *be, struct neo_db *db, uint32_t p,
			   struct rows *r)
{
	size_t trans;
	bool ok = true;

	r->count = 0;
	if (be->tid_range(db, p, 0, INT64_MAX, 0, collect_id, r) != NEO_BACKEND_OK)
		return false;
	trans = r->count;
	if (be->obj_range(db, p, 0, 0, INT64_MAX, 0, collect_pair, r) != NEO_BACKEND_OK)
		return false;
	for (size_t i = 0; i < r->count && ok; i++) {
		struct row *row = &r->items[i];

		if (i < trans) {
			struct neo_trans t;

			ok = be->trans_get(db, p, row->tid, false, &t) == NEO_BACKEND_OK;
			row->hash = ok ? trans_hash(&t) : 0;
		} else {
			struct neo_object o;

			ok = be->obj_get(db, p, row->oid, NEO_BACKEND_OBJ_EXACT, row->tid, &o)
			     == NEO_BACKEND_OK;
			row->hash = ok ? obj_hash(&o) : 0;
		}
	}
	qsort(r->items, r->count, sizeof *r->items, row_cmp);
	return ok;
}

static void report_diff(struct campaign *cp, uint32_t p, int a, int b, const struct row *row,
			const char *what)
{
	cp->replica_diffs++;
	if (cp->replica_diffs <= EXAMPLES)
		say(cp, "REPLICA DIFF: partition %u, storage%d vs storage%d: %s %016" PRIx64
		    " oid %s%016" PRIx64 ": %s", p, a, b, row->oid == UINT64_MAX ? "trans" : "obj",
		    row->tid, row->oid == UINT64_MAX ? "-" : "", row->oid == UINT64_MAX ? 0 : row->oid,
		    what);
}

/* Merges two sorted row lists, counting rows on one side only and rows
 * whose content differs. */
static void compare_rows(struct campaign *cp, uint32_t p, int a, const struct rows *x, int b,
			 const struct rows *y)
{
	size_t i = 0, j = 0;

	while (i < x->count || j < y->count) {
		int c = i == x->count ? 1 : j == y->count ? -1 : row_cmp(&x->items[i], &y->items[j]);

		if (c < 0) {
			report_diff(cp, p, a, b, &x->items[i++], "only on the first");
		} else if (c > 0) {
			report_diff(cp, p, a, b, &y->items[j++], "only on the second");
		} else {
			if (x->items[i].hash != y->items[j].hash)
				report_diff(cp, p, a, b, &x->items[i], "different content");
			i++;
			j++;
		}
	}
}

/* Every acknowledged revision of partition p has its row in this
 * replica: the read back sees one replica, this sees each of them. */
static void check_acked_rows(struct campaign *cp, uint32_t p, int i, const struct rows *r)
{
	for (size_t k = 0; k < cp->ack_total; k++) {
		const struct ack *a = &cp->acks[k];
		struct row key = { a->tid, a->oid, 0 };

		if (a->oid % (uint64_t)cp->opt.partitions != p
		    || bsearch(&key, r->items, r->count, sizeof key, row_cmp))
			continue;
		cp->replica_missing_acked++;
		if (cp->replica_missing_acked <= EXAMPLES)
			say(cp, "ACKED REVISION MISSING on storage%d: partition %u oid %016" PRIx64
			    " tid %016" PRIx64, i, p, a->oid, a->tid);
	}
}

struct opened {
	struct neo_db *db;
	struct rows rows;
};

static void quiet_log(void *ctx, enum neo_backend_log_level level, const char *message)
{
	(void)ctx;
	(void)level;
	(void)message;
}

static bool open_storage(struct campaign *cp, const struct neo_backend *be, int i,
			 struct opened *o)
{
	char database[512], err[512];
	struct neo_backend_open_args args = { .struct_size = sizeof args };

	cluster_storage_database(&cp->tc, i, database, sizeof database);
	args.database = database;
	args.wait_seconds = 5;
	args.log = quiet_log;
	if (be->open(&args, &o->db, err, sizeof err) == NEO_BACKEND_OK)
		return true;
	o->db = NULL;
	say(cp, "storage%d's database %s: %s", i, database, err);
	return false;
}

static void compare_partition(struct campaign *cp, const struct neo_backend *be,
			      struct opened *dbs, const char *holder, uint32_t p)
{
	int ns = cp->opt.storages, first = -1;

	for (int i = 0; i < ns; i++) {
		char state = holder[p * (uint32_t)ns + (uint32_t)i];

		if (state == '.')
			continue;
		if (state != 'U' || dbs[i].db == NULL) {
			cp->cells_not_compared++;
			say(cp, "partition %u of storage%d not compared (cell %c%s)", p, i, state,
			    dbs[i].db ? "" : ", no database");
			continue;
		}
		if (!read_partition(be, dbs[i].db, p, &dbs[i].rows)) {
			cp->cells_not_compared++;
			say(cp, "partition %u of storage%d unreadable: %s", p, i,
			    be->errmsg(dbs[i].db));
			continue;
		}
		cp->replica_rows += (long)dbs[i].rows.count;
		cp->cells_compared++;
		check_acked_rows(cp, p, i, &dbs[i].rows);
		if (first < 0)
			first = i;
		else
			compare_rows(cp, p, first, &dbs[first].rows, i, &dbs[i].rows);
	}
}

void verify_replicas(struct campaign *cp, const char *holder)
{
	char path[512], err[512];
	const char *top = getenv("abs_top_builddir");
	struct neo_backend_module module;
	struct opened dbs[CLUSTER_MAX_NODES] = { 0 };

	snprintf(path, sizeof path, "%s/backends/.libs/%s.so", top ? top : ".", cluster_engine());
	if (neo_backend_load(path, &module, err, sizeof err) != 0) {
		say(cp, "replicas not compared: %s", err);
		cp->cells_not_compared = cp->opt.partitions * (cp->opt.replicas + 1);
		return;
	}
	for (int i = 0; i < cp->opt.storages; i++)
		open_storage(cp, module.ops, i, &dbs[i]);
	for (uint32_t p = 0; p < (uint32_t)cp->opt.partitions; p++)
		compare_partition(cp, module.ops, dbs, holder, p);
	for (int i = 0; i < cp->opt.storages; i++) {
		if (dbs[i].db)
			module.ops->close(dbs[i].db);
		free(dbs[i].rows.items);
	}
	neo_backend_unload(&module);
	say(cp, "replicas: %ld cells compared (%ld rows), %ld differences, %ld acknowledged "
	    "revisions missing on a replica, %ld cells not compared", cp->cells_compared,
	    cp->replica_rows, cp->replica_diffs, cp->replica_missing_acked,
	    cp->cells_not_compared);
}
