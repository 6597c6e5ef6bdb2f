/*
 * neoadmin - the admin node.  Listens for neoctl, then looks for the
 * primary master; see admin/admin.h.
 */
#include <string.h>

#include "admin/admin.h"
#include "daemon/daemon.h"
#include "runtime/log.h"

static void admin_on_signal(int signum, void *arg)
{
	admin_stop(arg);
}

/* SIGRTMIN+2 (net/signals.h). */
static void admin_dump(void *arg)
{
	struct admin *a = arg;

	neo_nodes_log(&a->nodes);
}

int main(int argc, char **argv)
{
	struct neo_daemon daemon;
	struct admin a;
	char err[512];
	int status;

	memset(&a, 0, sizeof a);
	status = neo_daemon_start(&daemon, NEO_PROGRAM_ADMIN, argc, argv, 9999, admin_on_signal,
				  &a);
	if (status || daemon.base == NULL)
		return status;
	if (admin_init(&a, daemon.base, daemon.ssl, &daemon.opts, &daemon.bind, daemon.masters,
		       daemon.master_count, err, sizeof err) < 0) {
		neo_log(NEO_LOG_ERROR, "%s", err);
		admin_free(&a);
		neo_daemon_finish(&daemon);
		return 1;
	}
	neo_signals_set_dump(daemon.signals, admin_dump, &a);
	if (admin_metrics_init(&a, daemon.metrics, daemon.metrics_http != NULL) < 0) {
		neo_log(NEO_LOG_ERROR, "cannot register the metrics");
		admin_free(&a);
		neo_daemon_finish(&daemon);
		return 1;
	}
	admin_start(&a);
	event_base_dispatch(daemon.base);
	admin_monitor_flush(&a);
	neo_log(NEO_LOG_INFO, "admin stopped");
	admin_close(&a);
	/* Let the closed connections free themselves before the base goes. */
	event_base_loop(daemon.base, EVLOOP_NONBLOCK);
	admin_free(&a);
	neo_daemon_finish(&daemon);
	return 0;
}
