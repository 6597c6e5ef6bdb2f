/*
 * import_bench.c - the Importer's speed (make bench-import):
 *
 *   import_bench gen PATH MB        writes a Data.fs of about MB megabytes
 *                                   with core/filestorage's writer: 20
 *                                   records of 200 to 4000 bytes (half
 *                                   compressible) per transaction over a
 *                                   growing set of oids, 1 in 50 an undo
 *   import_bench run MODULE DIR [CP_S]
 *                                   imports DIR/Data.fs with MODULE
 *                                   (importer.so) into DIR/dest.sqlite,
 *                                   node-less: the module is opened as the
 *                                   storage node would, given a partition
 *                                   table, and timed until "All data are
 *                                   imported"; prints MB/s, txn/s, the CPU
 *                                   time of all threads, and with CP_S (the
 *                                   seconds a plain cp of the file took) the
 *                                   copy's MB/s and the import's share of it
 *
 * IMPORT_BENCH_COMPRESS=VALUE sets importer.conf's compress (true by
 * default); NEO_IMPORTER_WORKERS=N the number of compressing threads (one
 * per core, at most 4, by default).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "filestorage/filestorage.h"
#include "runtime/alloc.h"
#include "runtime/backend_loader.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int generate(const char *path, long mb)
{
	struct fs_file *fs;
	struct fs_new_record recs[20];
	uint64_t *last_pos = NULL, state = 42, tid = 0x03d0000000000000ull, noids = 0;
	size_t cap = 0;
	uint8_t *data = neo_malloc(20 * 4000);
	char err[512];

	unlink(path);
	if (data == NULL || fs_open(path, true, true, &fs, err, sizeof err) != FS_OK) {
		fprintf(stderr, "import_bench: %s\n", err);
		return 1;
	}
	for (uint64_t n = 0; fs->end < (uint64_t)mb * 1000000; n++) {
		uint64_t pos[20];
		size_t off = 0;

		tid += 1 + next_random(&state) % 1000;
		for (int i = 0; i < 20; i++) {
			uint64_t oid = next_random(&state) % (noids + 5);
			size_t len = 200 + next_random(&state) % 3800;

			for (int k = 0; k < i; k++)
				if (recs[k].oid == oid)
					oid = noids;	/* one record per oid */
			if (oid >= noids) {
				oid = noids++;
				if (neo_grow(&last_pos, &cap, noids, sizeof(*last_pos)) != 0)
					return 1;
				last_pos[oid] = 0;
			}
			memset(&recs[i], 0, sizeof(recs[i]));
			recs[i].oid = oid;
			recs[i].prev = last_pos[oid];
			if (last_pos[oid] && next_random(&state) % 50 == 0) {
				recs[i].back = last_pos[oid];	/* an undo */
				continue;
			}
			for (size_t k = 0; k < len; k += 8) {
				uint64_t r = k < len / 2 ? next_random(&state) : 0x2e2e2e2e2e2e2e2eull;

				memcpy(data + off + k, &r, k + 8 <= len ? 8 : len - k);
			}
			recs[i].has_data = true;
			recs[i].data = data + off;
			recs[i].len = len;
			off += len;
		}
		if (fs_append_txn(fs, tid, ' ', (const uint8_t *)"bench", 5,
				  (const uint8_t *)"generated", 9, NULL, 0, recs, 20, pos) != FS_OK) {
			fprintf(stderr, "import_bench: %s\n", fs->err);
			return 1;
		}
		for (int i = 0; i < 20; i++)
			last_pos[recs[i].oid] = pos[i];
	}
	printf("generated %s: %.1f MB, %" PRIu64 " oids\n", path, (double)fs->end / 1e6, noids);
	fs_close(fs);
	neo_free(last_pos);
	neo_free(data);
	return 0;
}

static atomic_bool imported;

static void on_log(void *ctx, enum neo_backend_log_level level, const char *message)
{
	(void)ctx;
	(void)level;
	if (strstr(message, "All data are imported"))
		atomic_store(&imported, true);
	else if (getenv("IMPORT_BENCH_VERBOSE"))
		fprintf(stderr, "%s\n", message);
}

static int run(const char *module_path, const char *dir, double cp_seconds)
{
	struct neo_backend_module module;
	struct neo_backend_open_args args = { .struct_size = sizeof args };
	struct neo_pt_row rows[12];
	struct neo_db *db;
	char conf[1024], datafs[1024], err[512];
	struct fs_file *fs;
	uint64_t bytes, txns = 0;
	struct fs_iter it;
	FILE *f;
	double t0, t1, cpu;
	struct rusage ru;

	snprintf(conf, sizeof conf, "%s/importer.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		return 1;
	fprintf(f, "[neo]\nadapter = SQLite\ndatabase = %s/dest.sqlite\ncompress = %s\n\n"
		"[root]\nstorage =\n  <filestorage>\n    path %s/Data.fs\n  </filestorage>\n",
		dir, getenv("IMPORT_BENCH_COMPRESS") ? getenv("IMPORT_BENCH_COMPRESS") : "true", dir);
	fclose(f);
	snprintf(datafs, sizeof datafs, "%s/Data.fs", dir);
	if (fs_open(datafs, false, false, &fs, err, sizeof err) != FS_OK) {
		fprintf(stderr, "import_bench: %s\n", err);
		return 1;
	}
	fs_iter_init(&it, fs, 0, 0);
	while (fs_iter_next_txn(&it) == FS_OK)
		txns++;
	fs_iter_free(&it);
	fs_scan_end(fs);
	bytes = fs->end;
	fs_close(fs);
	if (neo_backend_load(module_path, &module, err, sizeof err) != 0) {
		fprintf(stderr, "import_bench: %s\n", err);
		return 1;
	}
	args.database = conf;
	args.flags = NEO_BACKEND_OPEN_RESET;
	args.log = on_log;
	t0 = now();
	if (module.ops->open(&args, &db, err, sizeof err) != NEO_BACKEND_OK) {
		fprintf(stderr, "import_bench: %s\n", err);
		return 1;
	}
	/* 12 partitions on this one node, as a master would give them */
	for (int p = 0; p < 12; p++)
		rows[p] = (struct neo_pt_row){ .partition = (uint32_t)p, .nid = 1, .tid = -1 };
	module.ops->pt_apply(db, rows, 12, true);
	module.ops->commit(db, NEO_BACKEND_COMMIT_SYNC);
	while (!atomic_load(&imported))
		usleep(20000);
	t1 = now();
	module.ops->close(db);
	neo_backend_unload(&module);
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("import of %.1f MB (%" PRIu64 " transactions) into sqlite.so: %.2f s, %.1f MB/s, "
	       "%.0f txn/s (open and index included); %.1f s of CPU (all threads)\n",
	       (double)bytes / 1e6, txns, t1 - t0, (double)bytes / 1e6 / (t1 - t0),
	       (double)txns / (t1 - t0), cpu);
	if (cp_seconds > 0)
		printf("plain copy of the file (cp + sync): %.2f s, %.1f MB/s; the import runs at "
		       "%.2f times the copy's speed\n", cp_seconds, (double)bytes / 1e6 / cp_seconds,
		       cp_seconds / (t1 - t0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return generate(argv[2], atol(argv[3]));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "run") == 0)
		return run(argv[2], argv[3], argc == 5 ? atof(argv[4]) : 0);
	fprintf(stderr, "usage: import_bench gen PATH MB | run IMPORTER.so DIR [CP_SECONDS]\n");
	return 2;
}
