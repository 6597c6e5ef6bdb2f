/* test_signals.c - SIGHUP reopens the log, SIGTERM and SIGINT stop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/signals.h"
#include "runtime/log.h"
#include "tap.h"

static int stops;
static int last_signal;

static void on_stop(int signum, void *arg)
{
	stops++;
	last_signal = signum;
	event_base_loopexit(arg, NULL);
}

static bool file_contains(const char *path, const char *text)
{
	char buf[4096];
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
	tap_ok(file_contains(path, "after rotation") && file_contains(path, "log file reopened") &&
	       !file_contains(path, "before rotation"), "SIGHUP: a new log file at the same path");
	tap_ok(stops == 0, "SIGHUP does not stop");

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
