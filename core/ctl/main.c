/*
 * neoctl - the command-line tool of a NEO cluster: sends one command to
 * an admin node and prints the answer.  What each command asks and prints
 * is in ctl/ctl.c; this file connects, carries the packets and prints.
 *
 * Exit status: 0 done; 1 the cluster refused or could not be reached (the
 * message on stderr, as upstream); 2 bad command line.  Without a command,
 * the list of commands (exit 0, as upstream).
 *
 * -w SECONDS (ours): a print command runs again every SECONDS, each
 * answer drawn on a cleared terminal under a header line, as watch(1),
 * until SIGINT or SIGTERM (exit 0); `print summary` then shows the pace of
 * the replication (ctl/progress.h).  A failed round prints its error and
 * the next one comes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "autoconfig.h"
#include "ctl/ctl.h"
#include "net/address.h"
#include "net/conn.h"
#include "net/ssl.h"
#include "runtime/log.h"
#include "runtime/options.h"

/* Give up on a connection or an answer after this long. */
#define CTL_TIMEOUT_MS 30000

struct ctl_run {
	struct event_base *base;
	struct neo_conn *conn;		/* NULL once closed */
	struct event *connect_timer;
	char admin[300];		/* the admin's address, for messages */
	struct ctl_session session;
	bool ready;			/* handshake done */
	bool notified;			/* flush_log sent: the close ends it */
	bool finished;
	int status;
};

static void run_finish(struct ctl_run *run, int status)
{
	if (run->finished)
		return;
	run->finished = true;
	run->status = status;
	if (run->conn)
		neo_conn_close(run->conn, "neoctl done");
	event_base_loopbreak(run->base);
}

static void run_fail(struct ctl_run *run, const char *message)
{
	fprintf(stderr, "%s\n", message);
	run_finish(run, 1);
}

static void on_answer(struct neo_conn *conn, enum neo_ask_status status,
		      struct neo_packet *answer, void *arg);

/* Carries out what the session asks next. */
static void run_step(struct ctl_run *run, enum ctl_step step, const struct ctl_request *req)
{
	switch (step) {
	case CTL_STEP_ASK:
		neo_log(NEO_LOG_DEBUG, "asking %s", neo_packet_type_of(req->code)->name);
		if (neo_conn_ask(run->conn, req->code, req->args, CTL_TIMEOUT_MS, on_answer,
				 run) < 0)
			run_step(run, ctl_session_lost(&run->session, "Connection closed"), req);
		return;
	case CTL_STEP_NOTIFY:
		/* As upstream: done once the notification is sent. */
		if (neo_conn_notify(run->conn, req->code, req->args) < 0) {
			run_step(run, ctl_session_lost(&run->session, "Connection closed"), req);
			return;
		}
		run->notified = true;
		neo_conn_close(run->conn, "neoctl done");
		return;
	case CTL_STEP_DONE:
		if (run->session.output) {
			fputs(run->session.output, stdout);
			fputc('\n', stdout);
		}
		run_finish(run, 0);
		return;
	case CTL_STEP_FAILED:
		neo_log(NEO_LOG_DEBUG, "failed: %s", run->session.error);
		run_fail(run, run->session.error);
		return;
	}
}

static void on_answer(struct neo_conn *conn, enum neo_ask_status status,
		      struct neo_packet *answer, void *arg)
{
	struct ctl_run *run = arg;
	struct ctl_request req = { 0 };

	if (run->finished)
		return;
	switch (status) {
	case NEO_ASK_ANSWERED:
		neo_log(NEO_LOG_DEBUG, "answer: %s", answer->type->name);
		run_step(run, ctl_session_feed(&run->session, answer, &req), &req);
		return;
	case NEO_ASK_TIMEOUT:
		run_step(run, ctl_session_lost(&run->session, "no answer from the admin node "
					       "within 30 seconds"), &req);
		return;
	case NEO_ASK_CLOSED:
		run_step(run, ctl_session_lost(&run->session, "Connection closed"), &req);
		return;
	}
}

static void on_ready(struct neo_conn *conn, void *arg)
{
	struct ctl_run *run = arg;
	struct ctl_request req = { 0 };

	run->ready = true;
	event_del(run->connect_timer);
	/* As upstream: neoctl does not identify; requests follow the handshake. */
	run_step(run, ctl_session_start(&run->session, &req), &req);
}

static void on_close(struct neo_conn *conn, const char *reason, void *arg)
{
	struct ctl_run *run = arg;
	char message[700];

	run->conn = NULL;
	if (run->finished)
		return;
	if (run->notified) {
		run_finish(run, 0);
		return;
	}
	/* As upstream's NotReadyException texts, with the reason. */
	if (run->ready)
		snprintf(message, sizeof message, "ERROR: Connection closed");
	else
		snprintf(message, sizeof message,
			 "ERROR: not connected (cannot connect to the admin node at %s: %s)",
			 run->admin, reason);
	run_fail(run, message);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_run *run = arg;
	char message[500];

	if (run->finished)
		return;
	snprintf(message, sizeof message,
		 "ERROR: not connected (no answer from the admin node at %s within 30 seconds)",
		 run->admin);
	run_fail(run, message);
	if (run->conn)
		neo_conn_abort(run->conn, "connection timed out");
}

/* Connects and runs the session; returns the exit status. */
static int run_command(struct ctl_run *run, const struct neo_address *admin, SSL_CTX *ssl)
{
	static const struct neo_conn_callbacks callbacks = {
		.on_ready = on_ready,
		.on_close = on_close,
	};
	struct timeval timeout = { CTL_TIMEOUT_MS / 1000, 0 };
	char err[300];

	neo_address_format(admin, run->admin, sizeof run->admin);
	run->connect_timer = evtimer_new(run->base, on_connect_timeout, run);
	if (run->connect_timer == NULL || evtimer_add(run->connect_timer, &timeout) != 0) {
		fprintf(stderr, "neoctl: out of memory\n");
		return 1;
	}
	neo_log(NEO_LOG_DEBUG, "connecting to the admin node at %s", run->admin);
	run->conn = neo_conn_connect(run->base, admin, ssl, &callbacks, run, err, sizeof err);
	if (run->conn == NULL) {
		fprintf(stderr, "ERROR: not connected (%s)\n", err);
		return 1;
	}
	event_base_dispatch(run->base);
	if (run->conn)
		neo_conn_abort(run->conn, "neoctl exiting");
	/* Let the connection free itself. */
	event_base_loop(run->base, EVLOOP_NONBLOCK);
	return run->finished ? run->status : 1;
}

static void usage_error(const char *message)
{
	fprintf(stderr, "%s\n"
		"usage: neoctl [-a ADDRESS] [-w SECONDS] [-l LOGFILE] [--ca F --cert F --key F] COMMAND ...\n"
		"'neoctl --help' lists the options and the commands.\n", message);
}

/* Logs nothing without -l; everything with it (as upstream's neoctl). */
static int open_log(const char *logfile)
{
	if (logfile)
		return neo_log_open(logfile, NEO_LOG_DEBUG, "neoctl");
	if (neo_log_open(NULL, NEO_LOG_ERROR, "neoctl") < 0)
		return -1;
	/* One level above the highest: the runtime's messages stay quiet,
	 * neoctl reports failures itself. */
	neo_log_set_level((enum neo_log_level)(NEO_LOG_ERROR + 1));
	return 0;
}

static bool is_print(enum ctl_kind kind)
{
	return kind == CTL_PRINT_IDS || kind == CTL_PRINT_PT || kind == CTL_PRINT_NODE ||
	       kind == CTL_PRINT_CLUSTER || kind == CTL_PRINT_PRIMARY || kind == CTL_PRINT_SUMMARY;
}

/* Parses what main needs; returns -1 to go on, else the exit status. */
static int prepare(int argc, char **argv, struct neo_options *opts, struct ctl_command *cmd,
		   struct neo_address *admin)
{
	char err[512];

	if (neo_options_parse(NEO_PROGRAM_CTL, argc, argv, opts, err, sizeof err) < 0) {
		memset(opts, 0, sizeof *opts);	/* nothing to free */
		usage_error(err);
		return 2;
	}
	if (opts->help || opts->version) {
		if (opts->help) {
			neo_options_usage(NEO_PROGRAM_CTL, stdout);
			fputc('\n', stdout);
			ctl_usage(stdout);
		} else {
			printf("neoctl (NEO in C) %s\n", PACKAGE_VERSION);
		}
		return 0;
	}
	switch (ctl_parse(opts->command.count, opts->command.items, cmd, err, sizeof err)) {
	case CTL_PARSE_HELP:
		ctl_usage(stdout);
		return 0;
	case CTL_PARSE_ERROR: {
		char message[600];

		snprintf(message, sizeof message, "neoctl: %s", err);
		usage_error(message);
		return 2;
	}
	case CTL_PARSE_OK:
		break;
	}
	if (opts->watch < 0 || (opts->watch > 0 && !is_print(cmd->kind))) {
		ctl_command_free(cmd);
		usage_error(opts->watch < 0 ? "neoctl: --watch: expected a number of seconds > 0"
			    : "neoctl: --watch repeats print commands only");
		return 2;
	}
	if (neo_address_parse(opts->address, 9999, admin, err, sizeof err) < 0) {
		ctl_command_free(cmd);
		fprintf(stderr, "neoctl: --address: %s\n", err);
		return 2;
	}
	if (open_log(opts->logfile) < 0) {
		ctl_command_free(cmd);
		fprintf(stderr, "neoctl: cannot open log file %s\n", opts->logfile);
		return 1;
	}
	return -1;
}

/* One command, on its own connection and event loop.  cmd is taken. */
static int run_once(struct ctl_command *cmd, const struct neo_address *admin, SSL_CTX *ssl,
		    struct ctl_watch *watch)
{
	struct ctl_run run;
	int status;

	memset(&run, 0, sizeof run);
	ctl_session_init(&run.session, cmd);
	run.session.watch = watch;
	if ((run.base = event_base_new()) == NULL) {
		fprintf(stderr, "neoctl: cannot start the event loop\n");
		status = 1;
	} else {
		status = run_command(&run, admin, ssl);
	}
	if (run.connect_timer)
		event_free(run.connect_timer);
	if (run.base)
		event_base_free(run.base);
	ctl_session_free(&run.session);
	return status;
}

static volatile sig_atomic_t watch_stopped;

static void stop_watching(int signum)
{
	watch_stopped = 1;
}

/* SIGINT and SIGTERM end the watch between two rounds; a sleep they
 * interrupt ends at once (no SA_RESTART). */
static void watch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = stop_watching;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "Every 2s: neoctl print summary    2026-12-03 16:26:29 UTC", as watch(1). */
static void watch_header(const struct neo_options *opts)
{
	time_t now = time(NULL);
	struct tm tm;
	char when[64];

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	printf("Every %gs: neoctl", opts->watch);
	for (size_t i = 0; i < opts->command.count; i++)
		printf(" %s", opts->command.items[i]);
	printf("    %s\n\n", when);
	fflush(stdout);
}

static void watch_sleep(double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };

	while (!watch_stopped && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* -w: the command again and again; 0 once stopped by a signal. */
static int watch_loop(const struct neo_options *opts, struct ctl_command *first,
		      const struct neo_address *admin, SSL_CTX *ssl)
{
	struct ctl_watch watch = { 0 };
	struct ctl_command cmd;
	char err[512];

	watch_signals();
	cmd = *first;
	memset(first, 0, sizeof *first);
	for (;;) {
		watch_header(opts);
		watch.now = monotonic_seconds();
		run_once(&cmd, admin, ssl, &watch);
		fflush(stdout);
		watch_sleep(opts->watch);
		/* The command parsed once already: it parses again. */
		if (watch_stopped || ctl_parse(opts->command.count, opts->command.items, &cmd, err,
					       sizeof err) != CTL_PARSE_OK)
			break;
	}
	ctl_watch_free(&watch);
	return 0;
}

int main(int argc, char **argv)
{
	struct neo_options opts;
	struct ctl_command cmd;
	struct neo_address admin;
	SSL_CTX *ssl = NULL;
	char err[512];
	int status = prepare(argc, argv, &opts, &cmd, &admin);

	/* An admin that goes away is reported, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	/* Upstream's log signals (net/signals.h) do not kill neoctl either,
	 * as upstream: it keeps nothing back (each line is written at once)
	 * and lives for one command, so they have nothing to do here. */
	for (int sig = SIGRTMIN; sig <= SIGRTMIN + 3; sig++)
		signal(sig, SIG_IGN);
	if (status >= 0) {
		neo_options_free(&opts);
		return status;
	}
	if (opts.ca && (ssl = neo_ssl_context_new(opts.ca, opts.cert, opts.key, err,
						  sizeof err)) == NULL) {
		fprintf(stderr, "neoctl: %s\n", err);
		ctl_command_free(&cmd);
		status = 1;
	} else if (opts.watch > 0) {
		status = watch_loop(&opts, &cmd, &admin, ssl);
	} else {
		status = run_once(&cmd, &admin, ssl, NULL);
	}
	if (ssl)
		SSL_CTX_free(ssl);
	neo_options_free(&opts);
	neo_log_close();
	return status;
}
