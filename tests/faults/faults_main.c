/*
 * faults - a fault campaign against a real cluster, in the spirit of
 * Jepsen: committers write small transactions while a nemesis kills
 * storages, the primary master or every storage, or freezes a storage;
 * after each fault the cluster must be back (RUNNING, every cell
 * UP_TO_DATE) within a limit.  At the end the whole cluster is killed and
 * started again cold, every acknowledged revision is read back by a fresh
 * client, neoctl check runs over every partition, and once the cluster is
 * stopped the replicas are compared row by row through the backend module.
 *
 * Output: progress lines and figures as TAP diagnostics ("# ..."); the
 * figures are "# figure NAME VALUE", one per line.  Exit status 0 only if
 * no acknowledged revision is lost, the replicas are equal, check finds no
 * corruption, no fault left the cluster down, and something was committed.
 *
 * Processes: every daemon gets SIGKILL if this program dies (PDEATHSIG),
 * and is killed on exit and on SIGINT/SIGTERM.  The cluster directory is
 * removed after a passing run, kept (and named) after a failing one.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"
#include "tap.h"

static struct campaign campaign;
static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double since_start_s(struct campaign *cp)
{
	return (double)(now_ms() - cp->start_ms) / 1000;
}

/* splitmix64: small, seedable, and the same on every platform. */
uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void say(struct campaign *cp, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&say_lock);
	/* TAP: every line of it a diagnostic */
	printf("# t=%.1fs ", since_start_s(cp));
	for (const char *p = text; *p; p++) {
		putchar(*p);
		if (*p == '\n' && p[1])
			fputs("#   ", stdout);
	}
	if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
		putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&say_lock);
}

/* neoctl bounded by timeout(1): an admin that does not answer must not
 * stop the campaign. */
int neoctl(struct campaign *cp, char *out, size_t len, const char *command)
{
	const char *top = getenv("abs_top_builddir");
	char line[1024], drain[256];
	FILE *pipe;
	size_t used = 0, n;
	int status;

	snprintf(line, sizeof line, "timeout -k 2 15 '%s/core/neoctl' -a 127.0.0.1:%d %s 2>&1",
		 top ? top : ".", cp->tc.admin_port, command);
	out[0] = '\0';
	if ((pipe = popen(line, "r")) == NULL)
		return -1;
	while (used + 1 < len && (n = fread(out + used, 1, len - 1 - used, pipe)) > 0)
		used += n;
	out[used] = '\0';
	while (fread(drain, 1, sizeof drain, pipe) > 0)
		;
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- Processes left behind ------------------------------------------------------ */

static void kill_everything(void)
{
	struct test_cluster *tc = &campaign.tc;

	for (int i = 0; i < tc->master_count; i++)
		if (tc->masters[i] > 0)
			kill(tc->masters[i], SIGKILL);
	for (int i = 0; i < tc->storage_count; i++)
		if (tc->storages[i] > 0)
			kill(tc->storages[i], SIGKILL);
	if (tc->admin > 0)
		kill(tc->admin, SIGKILL);
}

static void on_signal(int signum)
{
	kill_everything();
	signal(signum, SIG_DFL);
	raise(signum);
}

/* --- Options -------------------------------------------------------------------- */

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: faults [--seed N] [--seconds N] [--committers N] [--storages N]\n"
		"              [--partitions N] [--replicas N] [--faults LIST]\n"
		"              [--recover-seconds N] [--stall-seconds N] [--stuck-seconds N] [--keep]\n"
		"  LIST: comma-separated among kill_storage, kill_primary, stop_storage,\n"
		"        kill_all_storages (default: all)\n"
		"  the engine is $NEO_TEST_ENGINE (sqlite, rocksdb, mysql_innodb); run from\n"
		"  the build directory or set abs_top_builddir\n");
	exit(status);
}

static void parse_faults(struct options *o, const char *list)
{
	char copy[256], *save = NULL;

	memset(o->faults, 0, sizeof o->faults);
	snprintf(copy, sizeof copy, "%s", list);
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int k = 0;

		while (k < FAULT_KINDS && strcmp(w, fault_names[k]) != 0)
			k++;
		if (k == FAULT_KINDS) {
			fprintf(stderr, "faults: unknown fault '%s'\n", w);
			usage(2);
		}
		o->faults[k] = true;
	}
}

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "seed", 1, NULL, 's' }, { "seconds", 1, NULL, 't' },
		{ "committers", 1, NULL, 'c' }, { "storages", 1, NULL, 'n' },
		{ "partitions", 1, NULL, 'p' }, { "replicas", 1, NULL, 'r' },
		{ "faults", 1, NULL, 'f' }, { "recover-seconds", 1, NULL, 'R' },
		{ "stall-seconds", 1, NULL, 'S' }, { "stuck-seconds", 1, NULL, 'T' },
		{ "keep", 0, NULL, 'k' }, { "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	int c;

	*o = (struct options){ .seed = 1, .seconds = 30, .committers = 4, .storages = 3,
			       .partitions = 6, .replicas = 1, .recover_seconds = 60,
			       .stall_seconds = 20, .stuck_seconds = 60,
			       .connect_timeout_ms = 10000 };
	for (int k = 0; k < FAULT_KINDS; k++)
		o->faults[k] = true;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 's': o->seed = strtoull(optarg, NULL, 0); break;
		case 't': o->seconds = atoi(optarg); break;
		case 'c': o->committers = atoi(optarg); break;
		case 'n': o->storages = atoi(optarg); break;
		case 'p': o->partitions = atoi(optarg); break;
		case 'r': o->replicas = atoi(optarg); break;
		case 'f': parse_faults(o, optarg); break;
		case 'R': o->recover_seconds = atoi(optarg); break;
		case 'S': o->stall_seconds = atoi(optarg); break;
		case 'T': o->stuck_seconds = atoi(optarg); break;
		case 'k': o->keep = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || o->storages < 1 || o->storages > CLUSTER_MAX_NODES
	    || o->partitions < 1 || o->partitions > 1024 || o->replicas < 0
	    || o->replicas >= o->storages || o->committers < 1
	    || o->committers > MAX_COMMITTERS / 2 || o->seconds < 0)
		usage(2);
}

/* --- Figures ------------------------------------------------------------------------ */

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void figure(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void figure(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("# figure %s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* min/median/max of the recovery times of the faults of kind (or all
 * of them with kind -1); left-down ones are not times. */
static void recovery_figures(struct campaign *cp, int kind, const char *name)
{
	double times[MAX_EVENTS];
	int n = 0;

	for (int i = 0; i < cp->event_count; i++)
		if ((kind < 0 || (int)cp->events[i].kind == kind) && cp->events[i].recover_s >= 0)
			times[n++] = cp->events[i].recover_s;
	if (n == 0)
		return;
	qsort(times, (size_t)n, sizeof *times, by_value);
	figure(name, "min %.1f median %.1f max %.1f count %d", times[0],
	       n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2, times[n - 1], n);
}

static void sum_committers(struct campaign *cp)
{
	for (int i = 0; i < cp->committer_count; i++) {
		struct committer *c = cp->committers[i];

		cp->acknowledged += atomic_load(&c->acked);
		cp->unknown += atomic_load(&c->unknown);
		cp->failed += atomic_load(&c->failed);
		cp->conflicts += atomic_load(&c->conflicts);
	}
}

static void print_figures(struct campaign *cp, double duration)
{
	long kills = 0;

	figure("seed", "%llu", (unsigned long long)cp->opt.seed);
	figure("engine", "%s", cluster_engine());
	figure("duration_s", "%.1f", duration);
	figure("fault_seconds", "%d", cp->opt.seconds);
	figure("committers", "%d", cp->committer_count);
	for (int k = 0; k < FAULT_KINDS; k++) {
		char name[64];

		snprintf(name, sizeof name, "faults_%s", fault_names[k]);
		figure(name, "%ld", cp->kills[k]);
		kills += cp->kills[k];
	}
	figure("faults_total", "%ld", kills);
	figure("acknowledged_commits", "%ld", cp->acknowledged);
	figure("unknown_outcome_commits", "%ld", cp->unknown);
	figure("failed_commits", "%ld", cp->failed);
	figure("conflicts", "%ld", cp->conflicts);
	figure("revisions_read_ok", "%ld", cp->read_ok);
	figure("lost", "%ld", cp->lost);
	figure("lost_missing", "%ld", cp->lost_missing);
	figure("lost_different", "%ld", cp->lost_different);
	figure("lost_unreadable", "%ld", cp->lost_error);
	figure("replica_differences", "%ld", cp->replica_diffs);
	figure("replica_missing_acked", "%ld", cp->replica_missing_acked);
	figure("replica_rows", "%ld", cp->replica_rows);
	figure("cells_compared", "%ld", cp->cells_compared);
	figure("cells_not_compared", "%ld", cp->cells_not_compared);
	figure("check_corruptions", "%ld", cp->check_corruptions);
	figure("check_partitions_equal", "%ld", cp->check_equal);
	figure("check_partitions_unfinished", "%ld", cp->check_unfinished);
	figure("clusters_left_down", "%ld", cp->left_down);
	figure("unrecoverable", "%ld", cp->unrecoverable);
	figure("cluster_down_episodes", "%ld", cp->down_episodes);
	figure("stuck_client_calls", "%ld", cp->stuck_calls);
	figure("unexpected_exits", "%ld", cp->unexpected_exits);
	recovery_figures(cp, -1, "recover_s");
	for (int k = 0; k < FAULT_KINDS; k++) {
		char name[64];

		snprintf(name, sizeof name, "recover_s_%s", fault_names[k]);
		recovery_figures(cp, k, name);
	}
	for (int i = 0; i < cp->event_count; i++)
		if (cp->events[i].recover_s < 0)
			figure("left_down_after", "%s at %.1f s", fault_names[cp->events[i].kind],
			       cp->events[i].at_s);
	fflush(stdout);
}

/* --- The campaign ------------------------------------------------------------------- */

static bool start_cluster(struct campaign *cp)
{
	char why[256] = "";

	cluster_start_all(cp);
	if (wait_healthy(cp, 60, why, sizeof why))
		return true;
	say(cp, "the cluster did not start: %s", why);
	return false;
}

/* Cold restart: every process killed and started again. */
static void final_restart(struct campaign *cp)
{
	char why[256] = "";
	long long t0 = now_ms();

	say(cp, "final cold restart: SIGKILL every process, start them all");
	cluster_kill_all(cp);
	cluster_start_all(cp);
	cp->final_running = wait_healthy(cp, 2 * cp->opt.recover_seconds, why, sizeof why);
	if (cp->final_running) {
		say(cp, "back after the cold restart in %.1f s", (double)(now_ms() - t0) / 1000);
		return;
	}
	cp->left_down++;
	say(cp, "LEFT DOWN: not back %d s after the final cold restart: %s",
	    2 * cp->opt.recover_seconds, why);
}

static void run_faults(struct campaign *cp)
{
	say(cp, "faults for %d s with %d committers", cp->opt.seconds, cp->opt.committers);
	committers_start(cp);
	watchdog_start(cp);
	nemesis_run(cp);
	/* no more faults: commits go on a moment on a healthy cluster */
	usleep(1000000);
	watchdog_stop(cp);
	committers_stop(cp);
	sum_committers(cp);
	say(cp, "faults over: %ld acknowledged, %ld unknown outcome, %ld failed", cp->acknowledged,
	    cp->unknown, cp->failed);
}

static void verify(struct campaign *cp)
{
	char *holder = malloc((size_t)(cp->opt.partitions * cp->opt.storages));

	if (holder == NULL)
		abort();
	final_restart(cp);
	verify_read_back(cp);
	verify_check(cp);
	if (!verify_final_pt(cp, holder))
		memset(holder, '?', (size_t)(cp->opt.partitions * cp->opt.storages));
	say(cp, "stopping the cluster (SIGTERM)");
	cluster_stop(&cp->tc);
	verify_replicas(cp, holder);
	free(holder);
}

static int conclude(struct campaign *cp, double duration)
{
	bool passed;

	print_figures(cp, duration);
	tap_ok(cp->acknowledged > 0, "commits were acknowledged (%ld)", cp->acknowledged);
	tap_ok(cp->lost == 0, "no acknowledged revision lost (%ld lost of %ld read)", cp->lost,
	       cp->lost + cp->read_ok);
	tap_ok(cp->replica_diffs == 0 && cp->replica_missing_acked == 0 && cp->cells_compared > 0,
	       "replicas equal row by row, each with every acknowledged revision (%ld differences,"
	       " %ld acknowledged revisions missing on a replica, %ld cells compared)",
	       cp->replica_diffs, cp->replica_missing_acked, cp->cells_compared);
	tap_ok(cp->check_corruptions == 0, "neoctl check finds no corruption (%ld)",
	       cp->check_corruptions);
	tap_ok(cp->left_down == 0, "no fault left the cluster down (%ld)", cp->left_down);
	passed = tap_failures() == 0;
	if (passed && !cp->opt.keep) {
		char command[600];

		snprintf(command, sizeof command, "rm -rf '%s'", cp->tc.dir);
		if (system(command) != 0)
			say(cp, "could not remove %s", cp->tc.dir);
	} else {
		say(cp, "logs and databases kept in %s", cp->tc.dir);
	}
	return tap_done();
}

int main(int argc, char **argv)
{
	struct campaign *cp = &campaign;

	parse_options(&cp->opt, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	cp->start_ms = now_ms();
	pthread_mutex_init(&cp->lock, NULL);
	atomic_store(&cp->last_fault, "none");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	atexit(kill_everything);
	cluster_die_with_parent(true);
	cluster_init(&cp->tc, "faults", cp->opt.partitions, cp->opt.replicas, cp->opt.storages, 2);
	say(cp, "seed %llu, engine %s, %d storages, %d partitions, replicas %d, dir %s",
	    (unsigned long long)cp->opt.seed, cluster_engine(), cp->opt.storages,
	    cp->opt.partitions, cp->opt.replicas, cp->tc.dir);
	if (!tap_ok(start_cluster(cp), "the cluster starts (RUNNING, all cells U)")) {
		kill_everything();
		say(cp, "logs kept in %s", cp->tc.dir);
		return tap_done();
	}
	run_faults(cp);
	verify(cp);
	return conclude(cp, since_start_s(cp));
}
