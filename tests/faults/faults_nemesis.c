/*
 * faults_nemesis.c - the faults, and waiting for the cluster to be back.
 *
 * "Back" is what an operator would check: print cluster says RUNNING,
 * print pt lists every storage RUNNING with every cell UP_TO_DATE and each
 * partition on replicas+1 of them, and both masters are known RUNNING.
 * The time from the start of a fault (the kill) to that point is the
 * fault's recovery time; a fault after which the cluster is not back
 * within recover_seconds leaves it "down": counted, reported with the
 * reason, and repaired by restarting every process.  If even that does not
 * bring it back, the faults stop there and the campaign goes on to its
 * final checks (stopped_early).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

const char *const fault_names[FAULT_KINDS] = {
	"kill_storage", "kill_primary", "stop_storage", "kill_all_storages"
};

static void sleep_ms(long long ms)
{
	if (ms > 0)
		usleep((useconds_t)(ms * 1000));
}

static long long between(struct campaign *cp, uint64_t *rng, long long lo, long long hi)
{
	(void)cp;
	return lo + (long long)(rng_next(rng) % (uint64_t)(hi - lo + 1));
}

/* --- Is the cluster back? ------------------------------------------------------ */

/* A process of ours that ended by itself is worth a line: nobody
 * killed it.  The admin is the harness's eyes: it is started again. */
static void reap_exited(struct campaign *cp, pid_t *pid, const char *what, int index)
{
	int status;

	if (*pid <= 0 || waitpid(*pid, &status, WNOHANG) != *pid)
		return;
	*pid = 0;
	cp->unexpected_exits++;
	say(cp, "UNEXPECTED EXIT: %s%d ended by itself (%s %d); see %s/%s%d.log", what, index,
	    WIFEXITED(status) ? "exit status" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), cp->tc.dir, what, index);
}

static void reap_all(struct campaign *cp)
{
	for (int i = 0; i < cp->tc.master_count; i++)
		reap_exited(cp, &cp->tc.masters[i], "master", i);
	for (int i = 0; i < cp->tc.storage_count; i++)
		reap_exited(cp, &cp->tc.storages[i], "storage", i);
	if (cp->tc.admin > 0 && waitpid(cp->tc.admin, NULL, WNOHANG) == cp->tc.admin) {
		say(cp, "the admin node ended by itself: started again");
		cluster_start_admin(&cp->tc);
	}
}

/* Every row "SN R cells" with cells in "U.", each partition on
 * replicas+1 storages, one row per storage. */
static bool pt_healthy(struct campaign *cp, const char *pt, char *why, size_t len)
{
	int per_partition[1024] = { 0 }, rows = 0, np = cp->opt.partitions;
	const char *line = strchr(pt, '\n');

	if (strncmp(pt, "# ptid:", 7) != 0 || line == NULL || np > 1024) {
		snprintf(why, len, "print pt: %.60s", pt);
		return false;
	}
	for (line++; *line == 'S'; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
		const char *cells = strchr(line, ' ');

		rows++;
		if (cells == NULL || cells[1] != 'R' || cells[2] != ' ') {
			snprintf(why, len, "node not RUNNING: %.*s", (int)strcspn(line, "\n"), line);
			return false;
		}
		for (int p = 0; p < np; p++) {
			if (cells[3 + p] != 'U' && cells[3 + p] != '.') {
				snprintf(why, len, "cell not U: %.*s", (int)strcspn(line, "\n"), line);
				return false;
			}
			per_partition[p] += cells[3 + p] == 'U';
		}
	}
	for (int p = 0; p < np; p++)
		if (per_partition[p] < cp->opt.replicas + 1) {
			snprintf(why, len, "partition %d has %d UP_TO_DATE cells", p, per_partition[p]);
			return false;
		}
	if (rows != cp->opt.storages) {
		snprintf(why, len, "%d storages in print pt", rows);
		return false;
	}
	return true;
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *at = text; (at = strstr(at, what)) != NULL; at++)
		n++;
	return n;
}

static bool healthy(struct campaign *cp, char *why, size_t len)
{
	char out[8192];

	if (neoctl(cp, out, sizeof out, "print cluster") != 0 || strncmp(out, "RUNNING", 7) != 0) {
		snprintf(why, len, "cluster: %.*s", (int)strcspn(out, "\n"), out);
		return false;
	}
	if (neoctl(cp, out, sizeof out, "print pt") != 0 || !pt_healthy(cp, out, why, len))
		return false;
	if (neoctl(cp, out, sizeof out, "print node master") != 0
	    || count_of(out, "| RUNNING") != cp->tc.master_count) {
		snprintf(why, len, "masters: %d RUNNING", count_of(out, "| RUNNING"));
		return false;
	}
	return true;
}

bool wait_healthy(struct campaign *cp, int seconds, char *why, size_t len)
{
	long long deadline = now_ms() + 1000LL * seconds;

	do {
		reap_all(cp);
		if (healthy(cp, why, len))
			return true;
		sleep_ms(200);
	} while (now_ms() < deadline);
	return false;
}

/* --- The faults -------------------------------------------------------------------- */

void cluster_kill_all(struct campaign *cp)
{
	for (int i = 0; i < cp->tc.master_count; i++)
		cluster_kill(&cp->tc.masters[i], SIGKILL);
	for (int i = 0; i < cp->tc.storage_count; i++)
		cluster_kill(&cp->tc.storages[i], SIGKILL);
	cluster_kill(&cp->tc.admin, SIGKILL);
}

void cluster_start_all(struct campaign *cp)
{
	for (int i = 0; i < cp->tc.master_count; i++)
		cluster_start_master(&cp->tc, i);
	sleep_ms(200);
	for (int i = 0; i < cp->tc.storage_count; i++)
		cluster_start_storage(&cp->tc, i);
	cluster_start_admin(&cp->tc);
}

/* The index of the primary master (print primary, then its address in
 * print node master), or -1. */
static int primary_index(struct campaign *cp)
{
	char out[4096], nid[16], prefix[64];
	const char *line, *port;

	if (neoctl(cp, out, sizeof out, "print primary") != 0 || sscanf(out, "%15s", nid) != 1)
		return -1;
	snprintf(prefix, sizeof prefix, "%s | MASTER", nid);
	if (neoctl(cp, out, sizeof out, "print node master") != 0
	    || (line = strstr(out, prefix)) == NULL || (port = strstr(line, "127.0.0.1:")) == NULL)
		return -1;
	for (int i = 0; i < cp->tc.master_count; i++)
		if (atoi(port + 10) == cp->tc.master_ports[i])
			return i;
	return -1;
}

static void kill_storage(struct campaign *cp, uint64_t *rng)
{
	int i = (int)(rng_next(rng) % (uint64_t)cp->tc.storage_count);
	long long down = between(cp, rng, 300, 3000);

	say(cp, "fault kill_storage: SIGKILL storage%d, restarted in %lld ms", i, down);
	cluster_kill(&cp->tc.storages[i], SIGKILL);
	sleep_ms(down);
	cluster_start_storage(&cp->tc, i);
}

static void kill_primary(struct campaign *cp, uint64_t *rng)
{
	int i = primary_index(cp);
	long long down = between(cp, rng, 300, 2000);

	if (i < 0) {
		i = (int)(rng_next(rng) % (uint64_t)cp->tc.master_count);
		say(cp, "fault kill_primary: no primary in print primary; killing master%d", i);
	}
	say(cp, "fault kill_primary: SIGKILL master%d (primary), restarted in %lld ms", i, down);
	cluster_kill(&cp->tc.masters[i], SIGKILL);
	sleep_ms(down);
	cluster_start_master(&cp->tc, i);
}

static void stop_storage(struct campaign *cp, uint64_t *rng)
{
	int i = (int)(rng_next(rng) % (uint64_t)cp->tc.storage_count);
	long long frozen = between(cp, rng, 2000, 6000);
	pid_t pid = cp->tc.storages[i];

	say(cp, "fault stop_storage: SIGSTOP storage%d for %lld ms", i, frozen);
	if (pid > 0)
		kill(pid, SIGSTOP);
	sleep_ms(frozen);
	if (pid > 0)
		kill(pid, SIGCONT);
}

static void kill_all_storages(struct campaign *cp, uint64_t *rng)
{
	long long down = between(cp, rng, 300, 2000);

	say(cp, "fault kill_all_storages: SIGKILL all, restarted in %lld ms", down);
	for (int i = 0; i < cp->tc.storage_count; i++)
		cluster_kill(&cp->tc.storages[i], SIGKILL);
	sleep_ms(down);
	for (int i = 0; i < cp->tc.storage_count; i++)
		cluster_start_storage(&cp->tc, i);
}

static void apply(struct campaign *cp, enum fault_kind kind, uint64_t *rng)
{
	static void (*const run[FAULT_KINDS])(struct campaign *, uint64_t *) = {
		kill_storage, kill_primary, stop_storage, kill_all_storages
	};

	cp->kills[kind]++;
	atomic_store(&cp->last_fault, fault_names[kind]);
	run[kind](cp, rng);
}

static enum fault_kind pick(struct campaign *cp, uint64_t *rng)
{
	int enabled[FAULT_KINDS], n = 0;

	for (int k = 0; k < FAULT_KINDS; k++)
		if (cp->opt.faults[k])
			enabled[n++] = k;
	return (enum fault_kind)enabled[rng_next(rng) % (uint64_t)n];
}

/* After a fault that left the cluster down: every process again. */
static bool repair(struct campaign *cp, char *why, size_t len)
{
	say(cp, "repair: SIGKILL every process and start them all again");
	cluster_kill_all(cp);
	cluster_start_all(cp);
	return wait_healthy(cp, cp->opt.recover_seconds, why, len);
}

static void one_fault(struct campaign *cp, uint64_t *rng)
{
	enum fault_kind kind = pick(cp, rng);
	struct event *e = cp->event_count < MAX_EVENTS ? &cp->events[cp->event_count++] : NULL;
	long long t0 = now_ms();
	char why[256] = "";
	bool back;

	apply(cp, kind, rng);
	back = wait_healthy(cp, cp->opt.recover_seconds, why, sizeof why);
	if (e)
		*e = (struct event){ kind, (double)(t0 - cp->start_ms) / 1000,
				     back ? (double)(now_ms() - t0) / 1000 : -1 };
	if (back) {
		say(cp, "back (RUNNING, all U) %.1f s after %s", (double)(now_ms() - t0) / 1000,
		    fault_names[kind]);
		return;
	}
	cp->left_down++;
	say(cp, "LEFT DOWN: not back %d s after %s: %s", cp->opt.recover_seconds, fault_names[kind],
	    why);
	if (repair(cp, why, sizeof why)) {
		say(cp, "repaired");
		return;
	}
	cp->unrecoverable++;
	cp->stopped_early = true;
	say(cp, "UNRECOVERABLE: still not back after restarting everything: %s; no more faults",
	    why);
}

void nemesis_run(struct campaign *cp)
{
	uint64_t rng = cp->opt.seed;
	long long end = now_ms() + 1000LL * cp->opt.seconds;

	while (now_ms() < end && !cp->stopped_early) {
		/* commits flow undisturbed for a while between faults */
		sleep_ms(between(cp, &rng, 1000, 4000));
		if (now_ms() >= end)
			break;
		one_fault(cp, &rng);
	}
}
