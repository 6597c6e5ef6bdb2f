/*
 * faults_commit.c - the committers and their watchdog.
 *
 * Each committer has its own client and its own objects (no conflicts
 * between committers), and commits 1 to 3 of them per transaction: new
 * ones, or new revisions of old ones so that objects get a history.  Only
 * a transaction whose finish returned OK is recorded (acknowledged); one
 * whose finish failed has an unknown outcome and is only counted.
 *
 * The watchdog tells two things apart: the cluster taking no commit for
 * stall_seconds (counted as "down", reported once per episode), and one
 * client call blocked for stuck_seconds (a client that waits without a
 * deadline): that committer is abandoned to its call and a new one starts,
 * so that the campaign always ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"

int open_client(struct campaign *cp, struct neo_client **client, unsigned timeout_ms)
{
	char masters[256], log[512];
	struct neo_client_config config = { .struct_size = sizeof config };

	/* the library's errors go to a file, not between the figures */
	snprintf(log, sizeof log, "%s/client.log", cp->tc.dir);
	config.cluster = cp->tc.name;
	config.masters = cluster_masters(&cp->tc, masters, sizeof masters);
	config.compress = -1;
	config.connect_timeout_ms = timeout_ms;
	config.logfile = log;
	return neo_client_open(&config, client);
}

/* --- One client call, seen by the watchdog ---------------------------------- */

static void call_enter(struct committer *c, const char *name)
{
	atomic_store(&c->call_start_ms, now_ms());
	atomic_store(&c->call, name);
}

/* Returns rc, so that CALL is an expression. */
static int call_leave(struct committer *c, int rc)
{
	atomic_store(&c->call, (const char *)NULL);
	return rc;
}

#define CALL(c, name, expr) (call_enter((c), (name)), rc = (expr), call_leave((c), rc))

/* --- Values and objects -------------------------------------------------------- */

/* A value that says who wrote it, then random letters (8 to 120 bytes). */
static char *new_value(struct committer *c, uint32_t *size)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint32_t len = 8 + (uint32_t)(rng_next(&c->rng) % 113);
	char *value = malloc(len + 40);
	int head;

	if (value == NULL)
		abort();
	head = snprintf(value, 40, "c%d.%ld:", c->id, atomic_load(&c->acked));
	for (uint32_t i = (uint32_t)head; i < len; i++)
		value[i] = letters[rng_next(&c->rng) % (sizeof letters - 1)];
	*size = len > (uint32_t)head ? len : (uint32_t)head;
	return value;
}

static void remember_object(struct committer *c, uint64_t oid, uint64_t serial)
{
	for (size_t i = 0; i < c->object_count; i++)
		if (c->objects[i].oid == oid) {
			c->objects[i].serial = serial;
			return;
		}
	if (c->object_count == c->object_room) {
		c->object_room = c->object_room ? 2 * c->object_room : 64;
		c->objects = realloc(c->objects, c->object_room * sizeof *c->objects);
		if (c->objects == NULL)
			abort();
	}
	c->objects[c->object_count++] = (struct owned){ oid, serial };
}

static void record_ack(struct committer *c, uint64_t oid, uint64_t tid, char *value,
		       uint32_t size)
{
	pthread_mutex_lock(&c->lock);
	if (c->ack_count == c->ack_room) {
		c->ack_room = c->ack_room ? 2 * c->ack_room : 256;
		c->acks = realloc(c->acks, c->ack_room * sizeof *c->acks);
		if (c->acks == NULL)
			abort();
	}
	c->acks[c->ack_count++] = (struct ack){ oid, tid, value, size };
	pthread_mutex_unlock(&c->lock);
}

/* --- One transaction ------------------------------------------------------------ */

struct write {
	uint64_t oid, serial;
	char *value;
	uint32_t size;
	bool fresh;
};

/* Picks 1 to 3 objects: an old one 60% of the time, else a new oid. */
static int pick_writes(struct committer *c, struct write *w)
{
	int n = 1 + (int)(rng_next(&c->rng) % 3), count = 0, rc;

	for (int i = 0; i < n; i++) {
		struct write *x = &w[count];

		memset(x, 0, sizeof *x);
		if (c->object_count > 0 && rng_next(&c->rng) % 10 < 6) {
			struct owned *o = &c->objects[rng_next(&c->rng) % c->object_count];
			bool taken = false;

			for (int k = 0; k < count; k++)
				taken |= w[k].oid == o->oid;
			if (taken)
				continue;
			x->oid = o->oid;
			x->serial = o->serial;
		} else {
			if (CALL(c, "neo_client_new_oids",
				 neo_client_new_oids(c->client, 1, &x->oid)) != NEO_CLIENT_OK) {
				/* the values picked so far go with the attempt */
				for (int k = 0; k < count; k++)
					free(w[k].value);
				return -1;
			}
			x->fresh = true;
		}
		x->value = new_value(c, &x->size);
		count++;
	}
	return count;
}

/* Votes, storing again on top of the committed serial after a conflict
 * (our value wins: the history only has to hold what was acknowledged). */
static int vote(struct committer *c, struct neo_txn *txn, struct write *w, int count)
{
	for (int round = 0; round < 3; round++) {
		struct neo_client_conflict *conflicts = NULL;
		size_t n = 0;
		int rc = CALL(c, "neo_txn_vote", neo_txn_vote(txn, "faults", 6, "campaign", 8, "", 0,
							       &conflicts, &n));

		if (rc != NEO_CLIENT_CONFLICT) {
			neo_client_conflicts_free(conflicts, n);
			return rc;
		}
		atomic_fetch_add(&c->conflicts, 1);
		for (size_t i = 0; i < n && rc == NEO_CLIENT_CONFLICT; i++)
			for (int k = 0; k < count; k++)
				if (w[k].oid == conflicts[i].oid) {
					w[k].serial = conflicts[i].committed_serial;
					if (CALL(c, "neo_txn_store",
						 neo_txn_store(txn, w[k].oid, w[k].serial, w[k].value,
							       w[k].size)) != NEO_CLIENT_OK)
						rc = -1;
				}
		neo_client_conflicts_free(conflicts, n);
		if (rc == -1)
			return NEO_CLIENT_PROTOCOL;
	}
	return NEO_CLIENT_CONFLICT;
}

static void free_values(struct write *w, int count)
{
	for (int k = 0; k < count; k++)
		free(w[k].value);
}

/* Returns the client status of the first failing call. */
static int commit_one(struct committer *c)
{
	struct write w[3];
	struct neo_txn *txn = NULL;
	uint64_t tid = 0;
	int count = pick_writes(c, w), rc;

	if (count < 0)
		return NEO_CLIENT_DISCONNECTED;
	if (CALL(c, "neo_client_begin", neo_client_begin(c->client, 0, &txn)) != NEO_CLIENT_OK) {
		free_values(w, count);
		atomic_fetch_add(&c->failed, 1);
		return rc;
	}
	for (int k = 0; k < count && rc == NEO_CLIENT_OK; k++)
		CALL(c, "neo_txn_store", neo_txn_store(txn, w[k].oid, w[k].serial, w[k].value,
						      w[k].size));
	if (rc == NEO_CLIENT_OK)
		rc = vote(c, txn, w, count);
	if (rc != NEO_CLIENT_OK) {
		neo_txn_abort(txn);
		free_values(w, count);
		atomic_fetch_add(&c->failed, 1);
		return rc;
	}
	if (CALL(c, "neo_txn_finish", neo_txn_finish(txn, &tid)) != NEO_CLIENT_OK) {
		/* committed or not: nobody can say yet */
		neo_txn_abort(txn);
		free_values(w, count);
		atomic_fetch_add(&c->unknown, 1);
		return rc;
	}
	for (int k = 0; k < count; k++) {
		record_ack(c, w[k].oid, tid, w[k].value, w[k].size);
		remember_object(c, w[k].oid, tid);
	}
	atomic_fetch_add(&c->acked, 1);
	atomic_store(&c->cp->last_ack_ms, now_ms());
	return NEO_CLIENT_OK;
}

/* --- The thread ---------------------------------------------------------------- */

static bool keep_going(struct committer *c)
{
	return !atomic_load(&c->cp->stop) && !atomic_load(&c->abandoned);
}

static void *committer_main(void *arg)
{
	struct committer *c = arg;
	int errors = 0, rc;

	while (keep_going(c)) {
		if (c->client == NULL) {
			if (CALL(c, "neo_client_open",
				 open_client(c->cp, &c->client, (unsigned)c->cp->opt.connect_timeout_ms))
			    != NEO_CLIENT_OK) {
				c->client = NULL;
				usleep(500000);
				continue;
			}
		}
		if (commit_one(c) == NEO_CLIENT_OK) {
			errors = 0;
			continue;
		}
		/* the client reconnects by itself; after a run of errors, a
		 * new client, as an application would */
		if (++errors >= 20 && keep_going(c)) {
			neo_client_close(c->client);
			c->client = NULL;
			errors = 0;
			atomic_fetch_add(&c->reconnects, 1);
		}
		usleep(100000);
	}
	if (c->client)
		neo_client_close(c->client);
	c->client = NULL;
	atomic_store(&c->done, true);
	return NULL;
}

static struct committer *committer_new(struct campaign *cp)
{
	struct committer *c = calloc(1, sizeof *c);

	if (c == NULL)
		abort();
	pthread_mutex_lock(&cp->lock);
	if (cp->committer_count == MAX_COMMITTERS) {
		pthread_mutex_unlock(&cp->lock);
		free(c);
		return NULL;
	}
	c->id = cp->committer_count;
	cp->committers[cp->committer_count++] = c;
	pthread_mutex_unlock(&cp->lock);
	c->cp = cp;
	c->rng = cp->opt.seed * 1000003u + (uint64_t)c->id + 1;
	pthread_mutex_init(&c->lock, NULL);
	if (pthread_create(&c->thread, NULL, committer_main, c) != 0)
		abort();
	return c;
}

void committers_start(struct campaign *cp)
{
	struct neo_client *first = NULL;

	/* One client opened alone first: neo_client_open sets up libevent's
	 * threading (evthread_use_pthreads) every time, and two first calls
	 * at once abort the process (libevent's "lock_ == NULL" assertion). */
	if (open_client(cp, &first, 30000) == NEO_CLIENT_OK)
		neo_client_close(first);
	else
		say(cp, "a first client could not connect: %s", neo_client_errmsg());
	atomic_store(&cp->last_ack_ms, now_ms());
	for (int i = 0; i < cp->opt.committers; i++)
		committer_new(cp);
}

/* Joins every committer that returns within stuck_seconds; the others
 * are abandoned to their call (their acknowledged commits still count). */
void committers_stop(struct campaign *cp)
{
	long long deadline = now_ms() + 1000LL * cp->opt.stuck_seconds;

	atomic_store(&cp->stop, true);
	for (int i = 0; i < cp->committer_count; i++) {
		struct committer *c = cp->committers[i];

		if (atomic_load(&c->abandoned))
			continue;
		while (!atomic_load(&c->done) && now_ms() < deadline)
			usleep(50000);
		if (atomic_load(&c->done)) {
			pthread_join(c->thread, NULL);
			continue;
		}
		say(cp, "committer %d still in %s at the end after %d s: abandoned", c->id,
		    atomic_load(&c->call) ? atomic_load(&c->call) : "?", cp->opt.stuck_seconds);
		atomic_store(&c->abandoned, true);
		pthread_detach(c->thread);
		cp->stuck_calls++;
	}
}

/* --- The watchdog ------------------------------------------------------------ */

static pthread_t watchdog_thread;
static atomic_bool watchdog_quit;

/* Returns how many committers to start in place of abandoned ones. */
static int watch_stuck(struct campaign *cp, long long now)
{
	int replace = 0;

	for (int i = 0; i < cp->committer_count; i++) {
		struct committer *c = cp->committers[i];
		const char *call = atomic_load(&c->call);
		long long start = atomic_load(&c->call_start_ms);

		if (call == NULL || atomic_load(&c->abandoned) || atomic_load(&cp->stop)
		    || now - start < 1000LL * cp->opt.stuck_seconds)
			continue;
		atomic_store(&c->abandoned, true);
		pthread_detach(c->thread);
		cp->stuck_calls++;
		say(cp, "STUCK: committer %d blocked in %s for %lld s (since t=%.1fs, last fault: %s):"
		    " abandoned, a new committer starts", c->id, call, (now - start) / 1000,
		    (double)(start - cp->start_ms) / 1000, atomic_load(&cp->last_fault));
		replace++;
	}
	return replace;
}

static void watch_stall(struct campaign *cp, long long now, long long *down_since)
{
	long long last = atomic_load(&cp->last_ack_ms);

	if (*down_since == 0 && now - last >= 1000LL * cp->opt.stall_seconds) {
		*down_since = last;
		cp->down_episodes++;
		say(cp, "CLUSTER DOWN: no commit acknowledged since t=%.1fs (%d s; last fault: %s)",
		    (double)(last - cp->start_ms) / 1000, cp->opt.stall_seconds,
		    atomic_load(&cp->last_fault));
	} else if (*down_since != 0 && last > *down_since) {
		say(cp, "commits resumed after %.1f s without any", (double)(last - *down_since) / 1000);
		*down_since = 0;
	}
}

static void *watchdog_main(void *arg)
{
	struct campaign *cp = arg;
	long long down_since = 0;

	while (!atomic_load(&watchdog_quit)) {
		long long now = now_ms();
		int replace;

		pthread_mutex_lock(&cp->lock);
		replace = watch_stuck(cp, now);
		pthread_mutex_unlock(&cp->lock);
		while (replace-- > 0)
			if (committer_new(cp) == NULL)
				say(cp, "no room for another committer");
		if (!atomic_load(&cp->stop))
			watch_stall(cp, now, &down_since);
		usleep(250000);
	}
	return NULL;
}

void watchdog_start(struct campaign *cp)
{
	atomic_store(&watchdog_quit, false);
	if (pthread_create(&watchdog_thread, NULL, watchdog_main, cp) != 0)
		abort();
}

void watchdog_stop(struct campaign *cp)
{
	(void)cp;
	atomic_store(&watchdog_quit, true);
	pthread_join(watchdog_thread, NULL);
}
