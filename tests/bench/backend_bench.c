/*
 * backend_bench.c - what a backend module sustains through the ABI, the
 * way a storage node drives it.  Prints figures; asserts nothing.
 *
 *     tests/bench/backend_bench MODULE.so DATABASE [OBJECTS [PER_TXN]]
 *
 * stores/s   data_put + staged obj_put, as at vote
 * commits/s  transactions of PER_TXN objects: stage, SYNC commit (vote),
 *            lock + SYNC commit, unlock + LAZY commit (as the node does)
 * loads/s    obj_get of random committed oids (latest revision)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/backend_loader.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, struct neo_db *db, const struct neo_backend *ops)
{
	fprintf(stderr, "backend_bench: %s: %s\n", what, db ? ops->errmsg(db) : "");
	return 1;
}

int main(int argc, char **argv)
{
	struct neo_backend_module module;
	struct neo_backend_open_args args = { .struct_size = sizeof(args) };
	const struct neo_backend *ops;
	struct neo_db *db = NULL;
	char err[1024];
	long objects = argc > 3 ? atol(argv[3]) : 100000;
	long per_txn = argc > 4 ? atol(argv[4]) : 100;
	uint8_t value[400], hash[20] = { 0 };
	double t0, store_time = 0, commit_time = 0, load_time;
	long loads = objects;

	if (argc < 3 || objects <= 0 || per_txn <= 0) {
		fprintf(stderr, "usage: %s MODULE.so DATABASE [OBJECTS [PER_TXN]]\n", argv[0]);
		return 2;
	}
	if (neo_backend_load(argv[1], &module, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	ops = module.ops;
	args.database = argv[2];
	if (ops->open(&args, &db, err, sizeof(err)) != NEO_BACKEND_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	memset(value, 'x', sizeof(value));
	for (long first = 0; first < objects; first += per_txn) {
		uint64_t ttid = 1000 + (uint64_t)first, tid = ttid + 1;
		struct neo_trans meta = { .partition = 0, .ttid = ttid };

		t0 = now();
		for (long i = first; i < first + per_txn && i < objects; i++) {
			struct neo_obj_row row = { .partition = (uint32_t)(i % 12), .oid = (uint64_t)i,
						   .tid = ttid };

			memcpy(hash, &i, sizeof(i));
			if (ops->data_put(db, row.partition, hash, 0,
					  (struct neo_bytes){ value, sizeof(value) }, &row.data_id.id))
				return fail("data_put", db, ops);
			row.data_id.has = true;
			if (ops->obj_put(db, &row, 1, true))
				return fail("obj_put", db, ops);
		}
		store_time += now() - t0;
		t0 = now();
		if (ops->trans_put(db, &meta, true) || ops->commit(db, NEO_BACKEND_COMMIT_SYNC) ||
		    ops->txn_lock(db, ttid, tid) || ops->commit(db, NEO_BACKEND_COMMIT_SYNC) ||
		    ops->txn_unlock(db, ttid, tid, NULL, NULL) || ops->commit(db, NEO_BACKEND_COMMIT_LAZY))
			return fail("commit", db, ops);
		commit_time += now() - t0;
	}
	srand(1);
	t0 = now();
	for (long i = 0; i < loads; i++) {
		uint64_t oid = (uint64_t)(rand() % objects);
		struct neo_object obj;

		if (ops->obj_get(db, (uint32_t)(oid % 12), oid, NEO_BACKEND_OBJ_LATEST, 0, &obj))
			return fail("obj_get", db, ops);
	}
	load_time = now() - t0;
	printf("backend %s, %ld objects of %zu bytes, %ld per transaction\n", ops->name, objects,
	       sizeof(value), per_txn);
	printf("  stores/s   %10.0f\n", (double)objects / store_time);
	printf("  commits/s  %10.1f   (vote, lock and unlock commits; %ld transactions)\n",
	       (double)((objects + per_txn - 1) / per_txn) / commit_time, (objects + per_txn - 1) / per_txn);
	printf("  loads/s    %10.0f\n", (double)loads / load_time);
	ops->close(db);
	neo_backend_unload(&module);
	return 0;
}
