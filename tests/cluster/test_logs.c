/*
 * test_logs.c - the logs of running nodes (real processes on 127.0.0.1):
 *
 *   - a master at --loglevel DEBUG writes the packet trace, one line per
 *     packet sent ('>') or received ('<'), with the peer's id once known;
 *   - nodes at INFO keep their DEBUG records (the packet trace) and
 *     write them on `neoctl flush_log`, which the admin relays to the
 *     master and the master to every node;
 *   - upstream's log signals, which logrotate configurations send:
 *     SIGRTMIN flushes, SIGRTMIN+1 reopens the log after a rename,
 *     SIGRTMIN+2 dumps the node table, SIGRTMIN+3 is ignored; the master,
 *     the storage and the admin all stay up;
 *   - `neoctl print node` shows id timestamps as wall-clock dates.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;

/* The master, as cluster_start_master starts it, at --loglevel DEBUG. */
static pid_t start_debug_master(void)
{
	const char *build = getenv("abs_top_builddir");
	char path[512], bind[64], masters[256], log[512];
	char *argv[] = { path, "-c", tc.name, "-b", bind, "-m", masters, "-p", "2", "-r", "0",
			 "-A", "1", "-l", log, "--loglevel", "DEBUG", NULL };
	pid_t pid;

	snprintf(path, sizeof path, "%s/core/neomaster", build ? build : ".");
	snprintf(bind, sizeof bind, "127.0.0.1:%d", tc.master_ports[0]);
	cluster_masters(&tc, masters, sizeof masters);
	snprintf(log, sizeof log, "%s/master0.log", tc.dir);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	tc.masters[0] = pid;
	return pid;
}

static bool alive(pid_t pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* Every date "YYYY-MM-DD HH:MM:SS" in print node's output is within a
 * minute of now; *count gets how many there were. */
static bool dates_are_now(const char *out, int *count)
{
	time_t now = time(NULL);
	const char *p = out;

	*count = 0;
	while ((p = strstr(p, " | ")) != NULL) {
		struct tm tm = { 0 };
		const char *end;

		p += 3;
		end = strptime(p, "%Y-%m-%d %H:%M:%S", &tm);
		if (end == NULL)
			continue;
		(*count)++;
		if (llabs((long long)(timegm(&tm) - now)) > 60) {
			tap_diag("a date %.19s is not within a minute of now", p);
			return false;
		}
	}
	return *count > 0;
}

/* Renames the log away, sends the signals, and checks the node. */
static void signals_to(const char *what, pid_t pid, const char *log)
{
	char path[600], rotated[600], rotated_name[300];

	snprintf(path, sizeof path, "%s/%s", tc.dir, log);
	snprintf(rotated, sizeof rotated, "%s/%s.1", tc.dir, log);
	snprintf(rotated_name, sizeof rotated_name, "%s.1", log);
	tap_ok(rename(path, rotated) == 0, "%s: log renamed away", what);
	kill(pid, SIGRTMIN + 1);
	tap_ok(cluster_log_has(&tc, log, "SIGRTMIN+1: log file reopened", 5000),
	       "%s: SIGRTMIN+1 reopens the log at its path", what);
	kill(pid, SIGRTMIN);
	tap_ok(cluster_log_has(&tc, log, "SIGRTMIN: log flushed", 5000),
	       "%s: SIGRTMIN flushes the log", what);
	kill(pid, SIGRTMIN + 2);
	tap_ok(cluster_log_has(&tc, log, "SIGRTMIN+2: the node's state follows", 5000)
	       && cluster_log_has(&tc, log, " * M1 | MASTER | 127.0.0.1:", 5000),
	       "%s: SIGRTMIN+2 writes the node table", what);
	kill(pid, SIGRTMIN + 3);
	tap_ok(cluster_log_has(&tc, log, "SIGRTMIN+3 ignored", 5000),
	       "%s: SIGRTMIN+3 is ignored with a line", what);
	kill(pid, SIGHUP);
	tap_ok(cluster_log_has(&tc, log, "SIGHUP: log file reopened", 5000),
	       "%s: SIGHUP reopens the log", what);
	tap_ok(alive(pid), "%s: still running after the signals", what);
	tap_ok(cluster_log_count(&tc, rotated_name, "SIGRTMIN") == 0,
	       "%s: nothing written to the renamed file after the reopen", what);
}

int main(void)
{
	char out[8192];
	int dates = 0;
	bool ok;

	cluster_die_with_parent(true);
	cluster_init(&tc, "logs", 2, 0, 1, 1);
	start_debug_master();
	usleep(200000);
	cluster_start_storage(&tc, 0);
	cluster_start_admin(&tc);

	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 15000), "the cluster runs");

	/* the packet trace, at DEBUG */
	tap_ok(cluster_log_has(&tc, "master0.log", "DEBUG M1: < 127.0.0.1:", 5000)
	       && cluster_log_has(&tc, "master0.log", " RequestIdentification", 5000)
	       && cluster_log_has(&tc, "master0.log", "DEBUG M1: > S1 (127.0.0.1:", 5000)
	       && cluster_log_has(&tc, "master0.log", " AcceptIdentification", 5000),
	       "a DEBUG master logs the packets it receives and sends, with the peer's id "
	       "once known");
	tap_ok(cluster_log_count(&tc, "storage0.log", " DEBUG ") == 0,
	       "a storage at INFO writes no DEBUG line by itself");

	/* print node: wall-clock dates */
	tap_ok(cluster_neoctl(&tc, out, sizeof out, "print node") == 0, "print node");
	/* the storage's and the admin's; the master's own entry has none, as
	 * upstream's (neoctl shows None) */
	ok = dates_are_now(out, &dates) && dates >= 2;
	tap_ok(ok, "print node: the %d id timestamps are dates within a minute of now", dates);
	if (!ok)
		tap_diag("print node printed:\n%s", out);

	/* neoctl flush_log: admin -> master -> every node */
	tap_ok(cluster_neoctl(&tc, out, sizeof out, "flush_log") == 0, "flush_log: accepted");
	tap_ok(cluster_log_has(&tc, "admin.log", "flush_log: relayed to the primary master", 5000),
	       "flush_log: the admin relays it and flushes");
	tap_ok(cluster_log_has(&tc, "master0.log", "flush_log: relayed to 1 nodes", 5000),
	       "flush_log: the master tells the other node and flushes");
	tap_ok(cluster_log_has(&tc, "storage0.log", "flush_log: ", 5000)
	       && cluster_log_has(&tc, "storage0.log", "flushing ", 5000),
	       "flush_log: the storage flushes");
	tap_ok(cluster_log_has(&tc, "storage0.log", " DEBUG S1: > M1 (127.0.0.1:", 5000)
	       && cluster_log_has(&tc, "storage0.log", " RequestIdentification", 5000),
	       "flush_log: the storage's kept packet trace is written");

	/* upstream's log signals */
	signals_to("master", tc.masters[0], "master0.log");
	signals_to("storage", tc.storages[0], "storage0.log");
	signals_to("admin", tc.admin, "admin.log");
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 5000),
	       "the cluster still runs after the signals");

	cluster_stop(&tc);
	return tap_done();
}
