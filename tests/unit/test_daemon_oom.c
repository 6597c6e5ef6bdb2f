/*
 * test_daemon_oom.c - the daemons' out-of-memory policy: once
 * neo_daemon_start has run, an allocation that fails logs which one and
 * stops the process with a non-zero status (daemon/daemon.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "runtime/alloc.h"
#include "tap.h"

#define TOO_MUCH (SIZE_MAX / 2)

static void on_stop(int signum, void *arg)
{
	(void)signum;
	(void)arg;
}

/* The child: a master's start-up, then an allocation that fails. */
static void child(const char *logfile)
{
	char *const argv[] = { "neomaster", "--cluster", "oom", "--bind", "127.0.0.1:0",
			       "--logfile", (char *)logfile, NULL };
	struct neo_daemon daemon;
	void *p;

	if (neo_daemon_start(&daemon, NEO_PROGRAM_MASTER, 7, argv, 0, on_stop, NULL) != 0)
		_exit(100);
	p = neo_malloc(TOO_MUCH);
	/* Not reached when the policy holds. */
	neo_free(p);
	neo_daemon_finish(&daemon);
	_exit(0);
}

static bool log_has(const char *path, const char *text)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

int main(void)
{
	char dir[] = "/tmp/neo-test-oom-XXXXXX", logfile[64], expected[128];
	int status = 0;
	pid_t pid;

	if (mkdtemp(dir) == NULL) {
		tap_ok(false, "a temporary directory");
		return tap_done();
	}
	snprintf(logfile, sizeof logfile, "%s/master.log", dir);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		child(logfile);
	tap_ok(pid > 0 && waitpid(pid, &status, 0) == pid, "the daemon ran in a child");
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) != 100, "neo_daemon_start succeeded");
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	       "a failed allocation stops the daemon with a non-zero status (%d)",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	snprintf(expected, sizeof expected,
		 "out of memory (an allocation of %zu bytes failed): stopping", (size_t)TOO_MUCH);
	tap_ok(log_has(logfile, expected), "its log says so: \"%s\"", expected);
	unlink(logfile);
	rmdir(dir);
	return tap_done();
}
