/*
 * scale_bench - issue 20's figures at scale (make bench-scale): a cluster
 * of this build on 127.0.0.1, 1 master, 2 storages, replicas 1 (2 copies
 * of every partition), 12 partitions, on the module ENGINE (sqlite or
 * rocksdb), loaded by libneoclient with OBJECTS objects of 1 KiB
 * (incompressible, 1000 per transaction).  Prints:
 *   - load p50: one remote load at a time (client cache off), random
 *     objects among the first 5000 once 5000 are stored, then among all
 *     OBJECTS once all are stored; the ratio of the two;
 *   - storage RSS: VmHWM (peak) and VmRSS (steady: after the loads and a
 *     pause) from /proc/PID/status of each storage, next to the cache
 *     the module is configured with;
 *   - kill -9: a storage is killed, 10 transactions are committed while
 *     it is down (the cluster state is polled throughout), it is started
 *     again; "back" is the time from its restart until the master lists
 *     it RUNNING and every one of its cells UP_TO_DATE again (what was
 *     committed meanwhile replicated), and the time until it is RUNNING
 *     alone;
 *   - catch-up: a 3rd empty storage is added and the partition table
 *     tweaked; the time from the tweak until none of its cells is
 *     OUT_OF_DATE, and the data it received (objects of its partitions x
 *     1 KiB) divided by it, in MB/s.
 * Usage: scale_bench ENGINE OBJECTS     (check: prints every figure; CI
 * runs it with a few thousand objects, no figure is asserted)
 *
 * Upstream NEO/py's replication speed, by hand (see NEWS and the comment
 * of bench-scale in tests/bench/bench.am for the commands and figures).
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster_util.h"

#define OBJECT_SIZE 1024
#define PER_TXN 1000
#define PARTITIONS 12
#define LOAD_SAMPLES 5000
#define SMALL_SET 5000
#define RANDOM_BYTES (1u << 20)

static struct test_cluster tc;
static uint8_t *random_bytes;	/* RANDOM_BYTES + OBJECT_SIZE */
static uint64_t *oids;
static size_t stored;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Object i's value: 1 KiB of a random buffer at an offset of its own
 * (7919 is odd: offsets differ for 2^20 objects), its index first. */
static const uint8_t *value_of(size_t i, uint8_t *buf)
{
	memcpy(buf, random_bytes + (i * 7919u) % RANDOM_BYTES, OBJECT_SIZE);
	memcpy(buf, &i, sizeof i);
	return buf;
}

static int commit_range(struct neo_client *c, size_t first, size_t count)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t conflict_count = 0;
	uint64_t tid;
	uint8_t buf[OBJECT_SIZE];

	if (neo_client_begin(c, 0, &txn) != NEO_CLIENT_OK)
		return -1;
	for (size_t i = first; i < first + count; i++)
		if (neo_txn_store(txn, oids[i], 0, value_of(i, buf), OBJECT_SIZE) != NEO_CLIENT_OK) {
			neo_txn_abort(txn);
			return -1;
		}
	if (neo_txn_vote(txn, "bench", 5, "", 0, "", 0, &conflicts, &conflict_count)
		    != NEO_CLIENT_OK
	    || neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, conflict_count);
		neo_txn_abort(txn);
		return -1;
	}
	return 0;
}

/* Objects [stored, upto), 1000 per transaction. */
static int store_upto(struct neo_client *c, size_t upto)
{
	double start = now();
	size_t first = stored;

	while (stored < upto) {
		size_t n = upto - stored < PER_TXN ? upto - stored : PER_TXN;

		if (commit_range(c, stored, n) < 0) {
			fprintf(stderr, "scale_bench: commit: %s\n", neo_client_errmsg());
			return -1;
		}
		stored += n;
	}
	printf("stored %zu objects of %d bytes in %.1f s (%.0f objects/s, %.1f MB/s)\n",
	       upto - first, OBJECT_SIZE, now() - start, (upto - first) / (now() - start),
	       (upto - first) * (double)OBJECT_SIZE / 1e6 / (now() - start));
	fflush(stdout);
	return 0;
}

/* p50 of LOAD_SAMPLES remote loads of random objects among the first
 * among; each checked. */
static double load_p50(struct neo_client *cold, size_t among, const char *what)
{
	static double samples[LOAD_SAMPLES];
	unsigned seed = (unsigned)among;
	uint8_t buf[OBJECT_SIZE];
	size_t done = 0;

	for (; done < LOAD_SAMPLES; done++) {
		struct neo_client_record rec;
		size_t i = (size_t)rand_r(&seed) % among;
		double t = now();
		bool same;

		if (neo_client_load(cold, oids[i], &rec) != NEO_CLIENT_OK)
			break;
		samples[done] = now() - t;
		same = rec.size == OBJECT_SIZE && memcmp(rec.data, value_of(i, buf), OBJECT_SIZE) == 0;
		neo_client_record_clear(&rec);
		if (!same) {
			fprintf(stderr, "scale_bench: object %zu reads back wrong\n", i);
			break;
		}
	}
	if (done == 0)
		return 0;
	qsort(samples, done, sizeof *samples, compare_double);
	printf("load p50 %s: %.1f us (p99 %.1f us, %zu random loads among %zu objects)\n", what,
	       samples[done / 2] * 1e6, samples[done * 99 / 100] * 1e6, done, among);
	fflush(stdout);
	return samples[done / 2];
}

/* VmRSS or VmHWM of pid in MiB (-1: unknown). */
static double proc_mib(pid_t pid, const char *field)
{
	char path[64], line[256];
	FILE *f;
	double kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
			kib = atof(line + strlen(field) + 1);
	fclose(f);
	return kib < 0 ? -1 : kib / 1024;
}

/* CPU seconds (user + system) pid has used (-1: unknown). */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	const char *at;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	at = strrchr(buf, ')');	/* after the command's name: state, then fields 4... */
	if (at == NULL || sscanf(at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				 &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The module's own caches, as its source configures them. */
static double engine_cache_mib(const char *engine, const char **what)
{
	if (strcmp(engine, "rocksdb") == 0) {
		/* backends/rocksdb/rocksdb_schema.c: BLOCK_CACHE_BYTES and
		 * WRITE_BUFFER_BYTES */
		*what = "block cache 64 MiB + memtables up to 64 MiB";
		return 128;
	}
	/* backends/sqlite/sqlite_module.c: CACHE_SIZE_KIB, on its one
	 * connection */
	*what = "SQLite page cache, cache_size -32768 KiB";
	return 32;
}

static void print_rss(const char *when, const char *engine)
{
	const char *what;
	double cache = engine_cache_mib(engine, &what);

	for (int i = 0; i < tc.storage_count; i++) {
		double hwm, rss;

		if (tc.storages[i] <= 0)
			continue;
		hwm = proc_mib(tc.storages[i], "VmHWM");
		rss = proc_mib(tc.storages[i], "VmRSS");
		printf("storage %d RSS %s: peak %.1f MiB, now %.1f MiB; module cache %.1f MiB (%s); "
		       "goal RSS <= cache + 64 = %.1f MiB: %s\n", i, when, hwm, rss, cache, what,
		       cache + 64, hwm <= cache + 64 ? "met" : "NOT met");
	}
	fflush(stdout);
}

/* The line of nid in compact "print pt" output ("S3 R UU.O..."): its
 * cells; NULL if absent. */
static const char *pt_row(const char *out, const char *nid, char *row, size_t len)
{
	char prefix[16];
	const char *at;
	size_t n = 0;

	snprintf(prefix, sizeof prefix, "\n%s R ", nid);
	at = strstr(out, prefix);
	if (at == NULL)
		return NULL;
	at += strlen(prefix);
	while (at[n] && at[n] != '\n' && n + 1 < len) {
		row[n] = at[n];
		n++;
	}
	row[n] = '\0';
	return row;
}

/* Whether nid holds cells and every one is UP_TO_DATE ('U'). */
static bool cells_up(const char *nid, int *cells)
{
	char out[8192], row[256];
	int count = 0;

	if (cluster_neoctl(&tc, out, sizeof out, "print pt") != 0 || !pt_row(out, nid, row, sizeof row))
		return false;
	for (const char *c = row; *c; c++) {
		if (*c == '.')
			continue;
		if (*c != 'U')
			return false;
		count++;
	}
	if (cells)
		*cells = count;
	return count > 0;
}

/* The nid ("S1") of storage index i, from print node. */
static bool nid_of(int index, char *nid, size_t len)
{
	char out[8192], needle[64];
	const char *at, *line;

	if (cluster_neoctl(&tc, out, sizeof out, "print node storage") != 0)
		return false;
	snprintf(needle, sizeof needle, "127.0.0.1:%d", tc.storage_ports[index]);
	at = strstr(out, needle);
	if (at == NULL)
		return false;
	for (line = at; line > out && line[-1] != '\n'; line--)
		;
	return sscanf(line, "%15s", nid) == 1 && len > strlen(nid);
}

static bool node_running(int index)
{
	char out[8192], needle[64];
	const char *at;

	if (cluster_neoctl(&tc, out, sizeof out, "print node storage") != 0)
		return false;
	snprintf(needle, sizeof needle, "127.0.0.1:%d", tc.storage_ports[index]);
	at = strstr(out, needle);
	return at && strncmp(strchr(at, '|') ? strchr(at, '|') : "", "| RUNNING", 9) == 0;
}

/* kill -9 of storage 0, commits while it is down, restart; see above. */
static int kill_and_back(struct neo_client *c)
{
	char nid[16], out[1024];
	double restart, running = -1, back = -1, deadline;
	int not_running = 0, polls = 0;

	if (!nid_of(0, nid, sizeof nid)) {
		fprintf(stderr, "scale_bench: storage 0 not listed\n");
		return -1;
	}
	cluster_kill(&tc.storages[0], SIGKILL);
	/* 10 transactions of 100 objects the killed storage lacks */
	for (int t = 0; t < 10; t++) {
		if (commit_range(c, stored, 100) < 0) {
			fprintf(stderr, "scale_bench: commit while a storage is down: %s\n",
				neo_client_errmsg());
			return -1;
		}
		stored += 100;
		cluster_neoctl(&tc, out, sizeof out, "print cluster");
		polls++;
		if (!strstr(out, "RUNNING"))
			not_running++;
	}
	restart = now();
	cluster_start_storage(&tc, 0);
	deadline = restart + 600;
	while (now() < deadline && back < 0) {
		bool up;

		cluster_neoctl(&tc, out, sizeof out, "print cluster");
		polls++;
		if (!strstr(out, "RUNNING"))
			not_running++;
		if (running < 0 && node_running(0))
			running = now() - restart;
		up = running >= 0 && cells_up(nid, NULL);
		if (up)
			back = now() - restart;
		else
			usleep(20000);
	}
	printf("kill -9 of storage %s (10 transactions of 100 objects committed while it was down): "
	       "RUNNING %.2f s after its restart, every cell UP_TO_DATE %.2f s after it "
	       "(goal < 2 s: %s); cluster RUNNING at %d of %d polls throughout\n", nid,
	       running, back, back >= 0 && back < 2 ? "met" : "NOT met", polls - not_running, polls);
	fflush(stdout);
	return back >= 0 ? 0 : -1;
}

/* A 3rd storage, empty, given cells by tweak; MB/s of its catch-up. */
static int catch_up(size_t objects)
{
	char out[8192], nid[16], command[32];
	double start, elapsed, mb, cpu[3];
	int cells = 0;

	tc.storage_count = 3;
	cluster_start_storage(&tc, 2);
	if (!cluster_neoctl_wait(&tc, "print node storage", "| PENDING |", 30000)
	    || !nid_of(2, nid, sizeof nid)) {
		fprintf(stderr, "scale_bench: the 3rd storage is not PENDING\n");
		return -1;
	}
	snprintf(command, sizeof command, "add %s", nid);
	if (cluster_neoctl(&tc, out, sizeof out, command) != 0) {
		fprintf(stderr, "scale_bench: %s: %s\n", command, out);
		return -1;
	}
	for (int i = 0; i < 100 && !node_running(2); i++)
		usleep(50000);
	for (int i = 0; i < 3; i++)
		cpu[i] = cpu_seconds(tc.storages[i]);
	start = now();
	if (cluster_neoctl(&tc, out, sizeof out, "tweak") != 0) {
		fprintf(stderr, "scale_bench: tweak: %s\n", out);
		return -1;
	}
	while (!cells_up(nid, &cells) && now() < start + 3600)
		usleep(20000);
	elapsed = now() - start;
	if (!cells_up(nid, &cells)) {
		printf("catch-up: not done within an hour\n");
		return -1;
	}
	mb = (double)objects * cells / PARTITIONS * OBJECT_SIZE / 1e6;
	printf("catch-up of a new storage (%s, %d cells of %d partitions, %.1f MB of object data): "
	       "%.2f s from the tweak: %.1f MB/s (goal >= 100 MB/s: %s)\n", nid, cells, PARTITIONS,
	       mb, elapsed, mb / elapsed, mb / elapsed >= 100 ? "met" : "NOT met");
	for (int i = 0; i < 3; i++)
		cpu[i] = cpu_seconds(tc.storages[i]) - cpu[i];
	/* On a shared machine the wall clock counts the waits for a core:
	 * the CPU time says what one idle core per node would give. */
	printf("catch-up CPU time: new storage %.2f s (%.1f MB per CPU second), sources %.2f s "
	       "and %.2f s\n", cpu[2], cpu[2] > 0 ? mb / cpu[2] : 0, cpu[0], cpu[1]);
	printf("storage 2 RSS after its catch-up: peak %.1f MiB, now %.1f MiB\n",
	       proc_mib(tc.storages[2], "VmHWM"), proc_mib(tc.storages[2], "VmRSS"));
	fflush(stdout);
	return 0;
}

static double loadavg(void)
{
	double one = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &one) != 1)
			one = -1;
		fclose(f);
	}
	return one;
}

static struct neo_client *open_cold(void)
{
	char masters[256];
	struct neo_client_config config = { .struct_size = sizeof config };
	struct neo_client *c = NULL;

	config.cluster = tc.name;
	config.masters = cluster_masters(&tc, masters, sizeof masters);
	config.compress = 0;
	config.cache_size = 1;	/* keeps nothing: every load goes to a storage */
	config.connect_timeout_ms = 20000;
	return neo_client_open(&config, &c) == NEO_CLIENT_OK ? c : NULL;
}

int main(int argc, char **argv)
{
	const char *engine = argc > 1 ? argv[1] : "sqlite";
	size_t objects = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
	struct neo_client *writer = NULL, *cold = NULL;
	double small, large;
	unsigned seed = 1;
	int rc = 1;

	if (objects < SMALL_SET) {
		fprintf(stderr, "usage: scale_bench ENGINE OBJECTS (OBJECTS >= %d)\n", SMALL_SET);
		return 2;
	}
	setenv("NEO_TEST_ENGINE", engine, 1);
	random_bytes = malloc(RANDOM_BYTES + OBJECT_SIZE);
	/* and 1000 more, committed while a storage is down */
	oids = calloc(objects + 1000, sizeof *oids);
	if (random_bytes == NULL || oids == NULL)
		return 1;
	for (size_t i = 0; i < RANDOM_BYTES + OBJECT_SIZE; i++)
		random_bytes[i] = (uint8_t)rand_r(&seed);
	printf("== scale_bench: %s.so, %zu objects of %d bytes, 2 storages, replicas 1, "
	       "%d partitions (load average %.2f)\n", engine, objects, OBJECT_SIZE, PARTITIONS,
	       loadavg());
	cluster_die_with_parent(true);
	cluster_init(&tc, "scale", PARTITIONS, 1, 2, 1);
	cluster_start(&tc);
	cluster_start_admin(&tc);
	if (cluster_client(&tc, NULL, &writer, NULL, NULL) != NEO_CLIENT_OK
	    || (cold = open_cold()) == NULL) {
		fprintf(stderr, "scale_bench: no cluster: %s\n", neo_client_errmsg());
		goto out;
	}
	for (size_t i = 0; i < objects + 1000; i += 1000)	/* in batches of 1000 */
		if (neo_client_new_oids(writer, objects + 1000 - i < 1000 ? objects + 1000 - i : 1000,
					oids + i) != NEO_CLIENT_OK) {
			fprintf(stderr, "scale_bench: new oids: %s\n", neo_client_errmsg());
			goto out;
		}
	if (store_upto(writer, SMALL_SET) < 0)
		goto out;
	small = load_p50(cold, SMALL_SET, "at 5k");
	if (store_upto(writer, objects) < 0)
		goto out;
	large = load_p50(cold, objects, objects >= 1000000 ? "at 1M" : "at all");
	if (small > 0 && large > 0)
		printf("load p50 ratio: %.2f (goal <= 1.2: %s)\n", large / small,
		       large / small <= 1.2 ? "met" : "NOT met");
	sleep(2);
	print_rss("after loading", engine);
	if (kill_and_back(writer) < 0 || catch_up(stored) < 0)
		goto out;
	print_rss("at the end", engine);
	printf("load average at the end: %.2f\n", loadavg());
	rc = 0;
out:
	if (cold)
		neo_client_close(cold);
	if (writer)
		neo_client_close(writer);
	cluster_stop(&tc);
	if (rc == 0) {
		char command[300];

		snprintf(command, sizeof command, "rm -rf '%s'", tc.dir);
		if (system(command) != 0)
			fprintf(stderr, "scale_bench: could not remove %s\n", tc.dir);
	} else {
		fprintf(stderr, "scale_bench: failed; the cluster's files are in %s\n", tc.dir);
	}
	free(oids);
	free(random_bytes);
	return rc;
}
