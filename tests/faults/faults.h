/*
 * faults.h - the fault campaign (tests/faults/faults): committers write
 * into a real cluster while a nemesis kills, stops and restarts its
 * processes; at the end every acknowledged revision is read back and the
 * replicas are compared row by row.  See faults_main.c for the figures.
 */
#ifndef NEO_FAULTS_H
#define NEO_FAULTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_util.h"

#define MAX_COMMITTERS 64
#define MAX_EVENTS 4096

enum fault_kind {
	FAULT_KILL_STORAGE,
	FAULT_KILL_PRIMARY,
	FAULT_STOP_STORAGE,
	FAULT_KILL_ALL_STORAGES,
	FAULT_KINDS
};

extern const char *const fault_names[FAULT_KINDS];

struct options {
	uint64_t seed;
	int seconds;			/* of faults */
	int committers, storages, partitions, replicas;
	bool faults[FAULT_KINDS];
	int recover_seconds;		/* a fault's limit to RUNNING/all U */
	int stall_seconds;		/* no acknowledged commit: cluster down */
	int stuck_seconds;		/* one client call: abandoned */
	int connect_timeout_ms;		/* of the committers' clients */
	bool keep;			/* keep the directory even if all passed */
};

/* One acknowledged revision: must be readable forever (no pack). */
struct ack {
	uint64_t oid, tid;
	char *value;
	uint32_t size;
};

/* An object a committer owns, with the serial it last committed. */
struct owned {
	uint64_t oid, serial;
};

struct committer {
	int id;
	struct campaign *cp;
	pthread_t thread;
	uint64_t rng;
	struct neo_client *client;
	/* Under lock: what the final check reads. */
	pthread_mutex_t lock;
	struct ack *acks;
	size_t ack_count, ack_room;
	/* Owned by the thread. */
	struct owned *objects;
	size_t object_count, object_room;
	/* Seen by the watchdog: the client call in progress. */
	_Atomic(const char *) call;
	atomic_llong call_start_ms;
	atomic_bool abandoned;
	atomic_bool done;
	/* Counters (atomics: read by the final report). */
	atomic_long acked, unknown, failed, conflicts, reconnects;
};

/* A fault and how long the cluster took to be back. */
struct event {
	enum fault_kind kind;
	double at_s;			/* since the start of the faults */
	double recover_s;		/* < 0: left down */
};

struct campaign {
	struct options opt;
	struct test_cluster tc;
	long long start_ms;
	atomic_bool stop;
	atomic_llong last_ack_ms;
	_Atomic(const char *) last_fault;	/* for the watchdog's reports */
	pthread_mutex_t lock;			/* committers[] */
	struct committer *committers[MAX_COMMITTERS];
	int committer_count;
	/* figures */
	long kills[FAULT_KINDS];
	long left_down, unrecoverable, stuck_calls, down_episodes, unexpected_exits;
	bool stopped_early;
	struct event events[MAX_EVENTS];
	int event_count;
	long acknowledged, unknown, failed, conflicts;
	long lost, lost_missing, lost_different, lost_error, read_ok;
	long replica_diffs, replica_rows, cells_compared, cells_not_compared;
	long replica_missing_acked;	/* (oid, tid) acknowledged, absent from a U cell */
	struct ack *acks;		/* snapshot read back */
	size_t ack_total;
	long check_corruptions, check_equal, check_unfinished;
	bool final_running;
};

/* faults_main.c */
long long now_ms(void);
double since_start_s(struct campaign *cp);
uint64_t rng_next(uint64_t *state);
/* "# t=12.3s ..." on stdout, flushed (from any thread). */
void say(struct campaign *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* neoctl with a time bound; returns its exit status (-1: none). */
int neoctl(struct campaign *cp, char *out, size_t len, const char *command);

/* faults_commit.c */
void committers_start(struct campaign *cp);
void committers_stop(struct campaign *cp);
void watchdog_start(struct campaign *cp);
void watchdog_stop(struct campaign *cp);
int open_client(struct campaign *cp, struct neo_client **client, unsigned timeout_ms);

/* faults_nemesis.c */
bool wait_healthy(struct campaign *cp, int seconds, char *why, size_t len);
void nemesis_run(struct campaign *cp);
void cluster_kill_all(struct campaign *cp);
void cluster_start_all(struct campaign *cp);

/* faults_verify.c */
void verify_read_back(struct campaign *cp);
void verify_check(struct campaign *cp);
/* The final partition table: holder[p * storages + i] is the state letter
 * of storage i's cell of partition p ('.' none); false if unknown. */
bool verify_final_pt(struct campaign *cp, char *holder);
void verify_replicas(struct campaign *cp, const char *holder);

#endif
