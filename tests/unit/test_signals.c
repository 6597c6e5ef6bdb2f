/* test_signals.c - SIGHUP and SIGRTMIN+1 reopen the log, SIGRTMIN flushes
 * it, SIGRTMIN+2 and SIGRTMIN+3 are handled, SIGTERM and SIGINT stop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/signals.h"
#include "runtime/log.h"
#include "tap.h"

static int stops;
static int dumps;
static int last_signal;

static void on_stop(int signum, void *arg)
{
	stops++;
	last_signal = signum;
	event_base_loopexit(arg, NULL);
}

static void on_dump(void *arg)
{
	(void)arg;
	dumps++;
	neo_log(NEO_LOG_INFO, "dumped");
}

static bool file_contains(const char *path, const char *text)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* Sends the signal to ourselves and lets the loop deliver it. */
static void deliver(struct event_base *base, int signum)
{
	struct timeval tv = { 0, 200000 };

	raise(signum);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

int main(void)
{
	char dir[] = "/tmp/neo-test-signals-XXXXXX";
	char path[300], rotated[300];
	struct event_base *base = event_base_new();
	struct neo_signals *signals;

	mkdtemp(dir);
	snprintf(path, sizeof(path), "%s/node.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/node.log.1", dir);
	tap_ok(neo_log_open(path, NEO_LOG_INFO, "S1") == 0, "the log opens");
	signals = neo_signals_install(base, on_stop, base);
	tap_ok(signals != NULL, "signal handlers installed");

	neo_log(NEO_LOG_INFO, "before rotation");
	tap_ok(rename(path, rotated) == 0, "log rotated away (renamed)");
	deliver(base, SIGHUP);
	neo_log(NEO_LOG_INFO, "after rotation");
	tap_ok(file_contains(path, "after rotation") && file_contains(path, "SIGHUP: log file reopened") &&
	       !file_contains(path, "before rotation"), "SIGHUP: a new log file at the same path");
	tap_ok(stops == 0, "SIGHUP does not stop");

	/* upstream's log signals: none ends the process */
	tap_ok(neo_log_set_backlog(4096) == 0, "a backlog of 4 KiB");
	neo_log(NEO_LOG_DEBUG, "kept back");
	tap_ok(!file_contains(path, "kept back"), "a DEBUG record is kept, not written");
	deliver(base, SIGRTMIN);
	tap_ok(file_contains(path, "kept back") && file_contains(path, "SIGRTMIN: log flushed (1 kept"),
	       "SIGRTMIN writes the kept records");
	tap_ok(rename(path, rotated) == 0, "log rotated away again");
	neo_log(NEO_LOG_DEBUG, "kept before the reopen");
	deliver(base, SIGRTMIN + 1);
	neo_log(NEO_LOG_INFO, "after the second rotation");
	tap_ok(file_contains(path, "after the second rotation")
	       && file_contains(path, "SIGRTMIN+1: log file reopened")
	       && !file_contains(path, "kept back"), "SIGRTMIN+1: a new log file at the same path");
	tap_ok(file_contains(rotated, "kept before the reopen"),
	       "what was kept before the reopen went to the old file");
	deliver(base, SIGRTMIN + 2);
	tap_ok(file_contains(path, "SIGRTMIN+2: this node has no state to dump"),
	       "SIGRTMIN+2 without a dump callback: a line");
	neo_signals_set_dump(signals, on_dump, NULL);
	deliver(base, SIGRTMIN + 2);
	tap_ok(dumps == 1 && file_contains(path, "dumped"), "SIGRTMIN+2 runs the dump callback");
	deliver(base, SIGRTMIN + 3);
	tap_ok(file_contains(path, "SIGRTMIN+3 ignored"), "SIGRTMIN+3 is ignored with a line");
	tap_ok(stops == 0, "none of upstream's log signals stops");

	deliver(base, SIGTERM);
	tap_ok(stops == 1 && last_signal == SIGTERM, "SIGTERM asks the node to stop");
	deliver(base, SIGINT);
	tap_ok(stops == 2 && last_signal == SIGINT, "SIGINT asks the node to stop");
	tap_ok(file_contains(path, "stopping"), "stopping is logged");

	neo_signals_free(signals);
	event_base_free(base);
	neo_log_close();
	unlink(path);
	unlink(rotated);
	rmdir(dir);
	return tap_done();
}
