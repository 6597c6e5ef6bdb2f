/*
 * cluster_util.h - real clusters for tests: neomaster and neostorage
 * processes on 127.0.0.1, started and killed by the test itself.
 */
#ifndef NEO_CLUSTER_UTIL_H
#define NEO_CLUSTER_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "neo/client.h"

#define CLUSTER_MAX_NODES 8

struct test_cluster {
	char dir[256];
	char name[64];
	int partitions, replicas, autostart;
	int master_ports[2];
	int master_count;
	pid_t masters[2];
	pid_t storages[CLUSTER_MAX_NODES];
	int storage_ports[CLUSTER_MAX_NODES];
	int storage_count;
	int admin_port;
	pid_t admin;
};

/* The backend module storages run on: $NEO_TEST_ENGINE, else sqlite; a
 * value with a '/' is the path of a module (its database is a file, as
 * for sqlite). */
const char *cluster_engine(void);

/* From now on, nodes, neoctl and cluster_client use TLS, with a CA and a
 * certificate made in tc->dir (by the openssl command: false without
 * it); until cluster_ssl_off. */
bool cluster_use_ssl(struct test_cluster *tc);
void cluster_ssl_off(void);
/* Sets the TLS files in a client configuration when TLS is on. */
void cluster_client_ssl(struct neo_client_config *config);

/* A fresh directory under $TMPDIR and free ports. */
void cluster_init(struct test_cluster *tc, const char *name, int partitions, int replicas,
		  int storages, int masters);
pid_t cluster_start_master(struct test_cluster *tc, int index);
/* The same with more options (a NULL-terminated list, up to 8). */
pid_t cluster_start_master_with(struct test_cluster *tc, int index, const char *const extra[]);
pid_t cluster_start_storage(struct test_cluster *tc, int index);
/* The same with more options (a NULL-terminated list, up to 6). */
pid_t cluster_start_storage_with(struct test_cluster *tc, int index, const char *const extra[]);
/* A storage whose files cannot grow past max_file_size bytes: its disk
 * fills up. */
pid_t cluster_start_storage_limited(struct test_cluster *tc, int index, off_t max_file_size);
void cluster_start(struct test_cluster *tc);
/* A master with more options (a NULL-terminated list, up to 10), without
 * -A (neoctl start, or what the options say). */
pid_t cluster_start_master_noauto(struct test_cluster *tc, int index, const char *const extra[]);
/* With on, processes spawned afterwards get SIGKILL when the thread that
 * spawned them ends (prctl PR_SET_PDEATHSIG): a harness killed or crashed
 * leaves no daemon behind.  Spawn from one long-lived thread then. */
void cluster_die_with_parent(bool on);
/* The database= string of storage index for the engine under test (for
 * MySQL, the database is created first). */
void cluster_storage_database(struct test_cluster *tc, int index, char *db, size_t size);
void cluster_kill(pid_t *pid, int signum);
void cluster_stop(struct test_cluster *tc);
/* Prints the sanitizer reports of the cluster's daemons (files
 * sanitizer.PID in its directory; sanitized builds) as TAP comments;
 * returns how many.  cluster_stop fails the test on any. */
int cluster_sanitizer_reports(struct test_cluster *tc);
char *cluster_masters(struct test_cluster *tc, char *buf, size_t len);
int cluster_client(struct test_cluster *tc, const char *name, struct neo_client **client,
		   neo_client_invalidate_cb cb, void *arg);
/* A read-only client. */
int cluster_client_ro(struct test_cluster *tc, struct neo_client **client);
/* The admin node (neoctl's peer), on admin_port. */
pid_t cluster_start_admin(struct test_cluster *tc);
pid_t cluster_start_admin_with(struct test_cluster *tc, const char *const extra[]);
/* Runs "neoctl -a ADMIN command" (words split on spaces by sh); stdout
 * and stderr go to out.  Returns neoctl's exit status (-1 if it could
 * not run). */
int cluster_neoctl(struct test_cluster *tc, char *out, size_t len, const char *command);
/* Whether neoctl's output for command contains text within ms. */
bool cluster_neoctl_wait(struct test_cluster *tc, const char *command, const char *text, int ms);
/* The storage index of node id "S2" (from print node), or -1. */
int cluster_storage_index(struct test_cluster *tc, const char *nid);
/* Whether the file under the cluster dir contains text (waits up to ms). */
bool cluster_log_has(struct test_cluster *tc, const char *file, const char *text, int ms);
int cluster_log_count(struct test_cluster *tc, const char *file, const char *text);
/* The lines with text in every storageN.log. */
int cluster_storage_log_count(struct test_cluster *tc, const char *text);
/* Commits one object; returns the tid or 0. */
uint64_t cluster_commit(struct neo_client *client, uint64_t oid, uint64_t serial,
			const char *data);
/* Whether oid's current revision loads as data. */
bool cluster_load_is(struct neo_client *client, uint64_t oid, const char *data);

#endif
