/*
 * client_bench.c - what a cluster serves to a C client (libneoclient, no
 * Python in the way), next to the loopback round trip measured in the
 * same run, the physical floor of one remote load.  Prints figures;
 * asserts nothing.
 *
 *     tests/bench/client_bench MASTERS CLUSTER [OBJECTS [SECONDS [THREADS]]]
 *
 * Run it against a cluster, e.g. with neosimple:
 *
 *     neosimple --partitions 4 db1 -- sh -c \
 *         'tests/bench/client_bench "$NEO_MASTER_NODES" "$NEO_CLUSTER"'
 *
 * loopback rtt   1-byte ping-pong over TCP on 127.0.0.1 with an echo server
 *                in another process: the round trip every remote call pays
 *                (two wake-ups); the goals are held against it (p50/p99 us)
 * loopback 1thr  the same ping-pong inside one thread, no wake-up: the bare
 *                TCP stack, printed for transparency, not a bound
 * fsync          a 4 KiB write and fdatasync of a file in $TMPDIR (or /tmp),
 *                where neosimple keeps its databases (p50/p99 us)
 * commit         one object of 100 bytes per transaction (p50/p99 us, /s),
 *                timed from its new oid to its finish: 5 round trips (begin,
 *                store, vote, finish and the master's lock on the storage;
 *                new oids come 100 at a time) and 2 fsyncs (vote, lock):
 *                see core/client/txn.c for why these remain
 * commit bound   the goal it is held to: 4 loopback round trips + 2 fsyncs
 *                of this run (p50s), and the ratio
 * commits/s      THREADS clients (one thread each) committing one object
 *                per transaction at once: votes and locks that meet on the
 *                storage share an fsync (group commit)
 * add            OBJECTS objects in transactions of 100 (objects/s)
 * load remote    a client without cache, one load at a time (p50/p99 us)
 * load hot       from the client's cache (p50/p99 us)
 * loads/s        THREADS threads loading random objects, no cache
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "neo/client.h"

#define RECORD_SIZE 100

struct bench {
	const char *masters, *cluster;
	size_t objects;
	double seconds;
	int threads;
	uint64_t *oids;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* p50 and p99 of samples (seconds), printed in microseconds; returns
 * the p50 (0: no sample). */
static double print_latency(const char *what, double *samples, size_t count)
{
	if (count == 0) {
		printf("%-14s no sample\n", what);
		return 0;
	}
	qsort(samples, count, sizeof *samples, compare_doubles);
	printf("%-14s p50 %8.1f us   p99 %8.1f us   (%zu samples)\n", what,
	       samples[count / 2] * 1e6, samples[(count * 99) / 100] * 1e6, count);
	return samples[count / 2];
}

/* --- fsync of the disk the storages write to ------------------------------- */

static double fsync_time(size_t rounds)
{
	const char *tmp = getenv("TMPDIR");
	char path[512], block[4096] = { 0 };
	double *samples = calloc(rounds, sizeof *samples), p50;
	size_t count = 0;
	int fd;

	snprintf(path, sizeof path, "%s/client_bench-fsync-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = samples ? mkstemp(path) : -1;
	if (fd < 0) {
		printf("fsync          could not be measured\n");
		free(samples);
		return 0;
	}
	for (; count < rounds; count++) {
		double start = now();

		if (pwrite(fd, block, sizeof block, (off_t)(count % 16) * 4096) != sizeof block
		    || fdatasync(fd) != 0)
			break;
		samples[count] = now() - start;
	}
	close(fd);
	unlink(path);
	p50 = print_latency("fsync", samples, count);
	free(samples);
	return p50;
}

/* --- Loopback round trip ---------------------------------------------------- */

/*
 * The floor of a remote load is a round trip to another process: the
 * request wakes the peer, whose answer wakes us.  So the baseline is a
 * 1-byte ping-pong with an echo server in a child process.  The same
 * ping-pong inside one thread (write, read on the peer socket, write
 * back, read: no wake-up, no context switch) is printed too, as the
 * bare cost of the TCP stack.
 */
static void echo_serve(int listener)
{
	int peer = accept(listener, NULL, NULL), one = 1;
	char byte;

	if (peer >= 0)
		setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	while (peer >= 0 && read(peer, &byte, 1) == 1 && write(peer, &byte, 1) == 1)
		;
	if (peer >= 0)
		close(peer);
}

static int loopback_listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof *addr;
	int listener = socket(AF_INET, SOCK_STREAM, 0);

	*addr = (struct sockaddr_in){ .sin_family = AF_INET };
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0)
		return -1;
	if (bind(listener, (struct sockaddr *)addr, sizeof *addr) < 0 || listen(listener, 1) < 0
	    || getsockname(listener, (struct sockaddr *)addr, &len) < 0) {
		close(listener);
		return -1;
	}
	return listener;
}

static int loopback_connect(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Round trips to an echo server in a child process (p50, seconds). */
static double loopback_rtt(size_t rounds)
{
	struct sockaddr_in addr;
	int listener = loopback_listener(&addr), fd = -1;
	double *samples = calloc(rounds, sizeof *samples), p50;
	char byte = 'x';
	size_t count = 0;
	pid_t server = -1;

	if (listener >= 0 && samples)
		server = fork();
	if (server == 0) {
		echo_serve(listener);
		_exit(0);
	}
	if (server > 0)
		fd = loopback_connect(&addr);
	if (listener >= 0)
		close(listener);
	for (; fd >= 0 && count < rounds; count++) {
		double start = now();

		if (write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1)
			break;
		samples[count] = now() - start;
	}
	if (fd >= 0)
		close(fd);
	if (server > 0)
		waitpid(server, NULL, 0);
	p50 = print_latency("loopback rtt", samples, count);
	printf("%-14s (to an echo server in another process: the floor of a remote call)\n",
	       "");
	free(samples);
	return p50;
}

/* The same ping-pong inside this thread: no wake-up (printed only). */
static void loopback_in_thread(size_t rounds)
{
	struct sockaddr_in addr;
	int listener = loopback_listener(&addr), fd = -1, peer = -1, one = 1;
	double *samples = calloc(rounds, sizeof *samples);
	char byte = 'x';
	size_t count = 0;

	if (listener >= 0 && samples && (fd = loopback_connect(&addr)) >= 0)
		peer = accept(listener, NULL, NULL);
	if (peer >= 0)
		setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (; peer >= 0 && count < rounds; count++) {
		double start = now();

		if (write(fd, &byte, 1) != 1 || read(peer, &byte, 1) != 1
		    || write(peer, &byte, 1) != 1 || read(fd, &byte, 1) != 1)
			break;
		samples[count] = now() - start;
	}
	if (peer >= 0)
		close(peer);
	if (fd >= 0)
		close(fd);
	if (listener >= 0)
		close(listener);
	print_latency("loopback 1thr", samples, count);
	printf("%-14s (the same ping-pong inside one thread: no wake-up; not a bound)\n", "");
	free(samples);
}

/* --- Cluster ------------------------------------------------------------------ */

static struct neo_client *open_client(const struct bench *b, size_t cache_size)
{
	struct neo_client_config config = { .struct_size = sizeof config };
	struct neo_client *client = NULL;

	config.cluster = b->cluster;
	config.masters = b->masters;
	config.cache_size = cache_size;
	config.compress = 0;
	if (neo_client_open(&config, &client) != NEO_CLIENT_OK) {
		fprintf(stderr, "client_bench: %s\n", neo_client_errmsg());
		return NULL;
	}
	return client;
}

static int commit_many(struct neo_client *client, const uint64_t *oids, size_t count)
{
	static const char record[RECORD_SIZE] = "client_bench record";
	struct neo_client_conflict *conflicts = NULL;
	struct neo_txn *txn;
	size_t conflict_count = 0;
	uint64_t tid;
	int rc = neo_client_begin(client, 0, &txn);

	for (size_t i = 0; rc == NEO_CLIENT_OK && i < count; i++)
		rc = neo_txn_store(txn, oids[i], 0, record, sizeof record);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &conflict_count);
	neo_client_conflicts_free(conflicts, conflict_count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	if (rc != NEO_CLIENT_OK && rc != NEO_CLIENT_INVALID)
		neo_txn_abort(txn);
	return rc;
}

static double commits(struct neo_client *client, size_t count)
{
	double *samples = calloc(count, sizeof *samples), start = now(), p50;
	size_t done = 0;

	for (; samples && done < count; done++) {
		uint64_t oid;
		double t = now();

		if (neo_client_new_oids(client, 1, &oid) != NEO_CLIENT_OK ||
		    commit_many(client, &oid, 1) != NEO_CLIENT_OK)
			break;
		samples[done] = now() - t;
	}
	p50 = print_latency("commit", samples, done);
	printf("%-14s %8.0f commits/s\n", "", done / (now() - start));
	free(samples);
	return p50;
}

struct committer {
	const struct bench *b;
	struct neo_client *client;
	size_t count;
};

static void *commit_loop(void *arg)
{
	struct committer *w = arg;
	double end = now() + w->b->seconds;
	uint64_t oid;

	/* A new object each time, as commits(): no conflicts, only the
	 * commit path. */
	while (now() < end && neo_client_new_oids(w->client, 1, &oid) == NEO_CLIENT_OK
	       && commit_many(w->client, &oid, 1) == NEO_CLIENT_OK)
		w->count++;
	return NULL;
}

static void concurrent_commits(const struct bench *b)
{
	struct committer *workers = calloc((size_t)b->threads, sizeof *workers);
	pthread_t *ids = calloc((size_t)b->threads, sizeof *ids);
	size_t total = 0;
	double start;
	int started = 0;

	for (int i = 0; workers && ids && i < b->threads; i++) {
		workers[i].b = b;
		workers[i].client = open_client(b, 0);
		if (workers[i].client == NULL)
			break;
		started++;
	}
	start = now();
	for (int i = 0; i < started; i++)
		pthread_create(&ids[i], NULL, commit_loop, &workers[i]);
	for (int i = 0; i < started; i++) {
		pthread_join(ids[i], NULL);
		total += workers[i].count;
	}
	if (started)
		printf("%-14s %8.0f commits/s   (%d clients, 1 object each per transaction)\n",
		       "commits/s", total / (now() - start), started);
	for (int i = 0; i < started; i++)
		neo_client_close(workers[i].client);
	free(workers);
	free(ids);
}

static int add_objects(struct neo_client *client, struct bench *b)
{
	double start = now();

	b->oids = calloc(b->objects, sizeof *b->oids);
	if (b->oids == NULL || neo_client_new_oids(client, b->objects, b->oids) != NEO_CLIENT_OK)
		return -1;
	for (size_t i = 0; i < b->objects; i += 100) {
		size_t n = b->objects - i < 100 ? b->objects - i : 100;

		if (commit_many(client, b->oids + i, n) != NEO_CLIENT_OK) {
			fprintf(stderr, "client_bench: commit: %s\n", neo_client_errmsg());
			return -1;
		}
	}
	printf("%-14s %8.0f objects/s   (%zu objects of %d bytes, 100 per transaction)\n",
	       "add", b->objects / (now() - start), b->objects, RECORD_SIZE);
	return 0;
}

static void loads(struct neo_client *client, const struct bench *b, const char *what)
{
	double *samples = calloc(b->objects, sizeof *samples);
	size_t done = 0;

	for (; samples && done < b->objects; done++) {
		struct neo_client_record rec;
		double t = now();

		if (neo_client_load(client, b->oids[done], &rec) != NEO_CLIENT_OK)
			break;
		samples[done] = now() - t;
		neo_client_record_clear(&rec);
	}
	print_latency(what, samples, done);
	free(samples);
}

struct loader {
	const struct bench *b;
	struct neo_client *client;
	unsigned seed;
	size_t count;
};

static void *load_loop(void *arg)
{
	struct loader *l = arg;
	double end = now() + l->b->seconds;

	while (now() < end) {
		struct neo_client_record rec;
		uint64_t oid = l->b->oids[rand_r(&l->seed) % l->b->objects];

		if (neo_client_load(l->client, oid, &rec) != NEO_CLIENT_OK)
			break;
		neo_client_record_clear(&rec);
		l->count++;
	}
	return NULL;
}

/* THREADS threads of one cacheless client: the cluster's own rate. */
static void throughput(const struct bench *b, struct neo_client *client, int threads)
{
	struct loader *loaders = calloc((size_t)threads, sizeof *loaders);
	pthread_t *ids = calloc((size_t)threads, sizeof *ids);
	size_t total = 0;
	double start = now();

	for (int i = 0; loaders && ids && i < threads; i++) {
		loaders[i] = (struct loader){ b, client, (unsigned)i + 1, 0 };
		pthread_create(&ids[i], NULL, load_loop, &loaders[i]);
	}
	for (int i = 0; loaders && ids && i < threads; i++) {
		pthread_join(ids[i], NULL);
		total += loaders[i].count;
	}
	printf("%-14s %8.0f loads/s     (%d thread%s, %.0f s, no cache)\n", "loads/s",
	       total / (now() - start), threads, threads > 1 ? "s" : "", b->seconds);
	free(loaders);
	free(ids);
}

int main(int argc, char **argv)
{
	struct bench b = { .objects = 10000, .seconds = 5, .threads = 4 };
	struct neo_client *writer, *cold, *hot;
	double rtt, sync, commit;

	if (argc < 3) {
		fprintf(stderr, "usage: client_bench MASTERS CLUSTER [OBJECTS [SECONDS [THREADS]]]\n");
		return 2;
	}
	b.masters = argv[1];
	b.cluster = argv[2];
	if (argc > 3)
		b.objects = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		b.seconds = atof(argv[4]);
	if (argc > 5)
		b.threads = atoi(argv[5]);
	if (b.objects == 0 || b.threads <= 0)
		return 2;

	rtt = loopback_rtt(20000);
	loopback_in_thread(20000);
	sync = fsync_time(200);
	writer = open_client(&b, 0);
	if (writer == NULL || add_objects(writer, &b) < 0)
		return 1;
	commit = commits(writer, 500);
	if (rtt > 0 && sync > 0 && commit > 0)
		printf("%-14s p50 %8.1f us = 4 x rtt + 2 x fsync; commit p50 is %.2f x it\n",
		       "commit bound", (4 * rtt + 2 * sync) * 1e6, commit / (4 * rtt + 2 * sync));
	concurrent_commits(&b);
	/* cache_size 1 keeps nothing: every load goes to a storage */
	cold = open_client(&b, 1);
	hot = open_client(&b, 64 << 20);
	if (cold == NULL || hot == NULL)
		return 1;
	loads(cold, &b, "load remote");
	loads(hot, &b, "load (fill)");
	loads(hot, &b, "load hot");
	throughput(&b, cold, 1);
	throughput(&b, cold, b.threads);
	neo_client_close(hot);
	neo_client_close(cold);
	neo_client_close(writer);
	free(b.oids);
	return 0;
}
