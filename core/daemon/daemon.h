/*
 * daemon/daemon.h - what every NEO daemon does before its own work: parse the
 * command line (and neo.conf), open the log, build the TLS context, parse
 * the listening and master addresses, and install the signal handlers.
 */
#ifndef NEO_DAEMON_H
#define NEO_DAEMON_H

#include <event2/event.h>
#include <openssl/ssl.h>

#include "metrics/http.h"
#include "metrics/metrics.h"
#include "net/address.h"
#include "net/signals.h"
#include "runtime/options.h"

struct neo_daemon {
	struct neo_options opts;
	struct event_base *base;
	SSL_CTX *ssl;				/* NULL without --ca/--cert/--key */
	struct neo_address bind;
	struct neo_address *masters;		/* from --masters */
	size_t master_count;
	struct neo_signals *signals;
	/* Always there, so that a daemon counts without asking whether
	 * anyone looks; served only with --metrics (metrics_http). */
	struct neo_metrics *metrics;
	struct neo_metrics_http *metrics_http;
	struct neo_address metrics_address;	/* from --metrics */
};

/*
 * With --metrics HOST:PORT (a port is required) the daemon serves its
 * registry on GET /metrics there (metrics/http.h), with the metrics every
 * daemon has: neo_open_connections and neo_build_info.  A bad address
 * (no port, say) or one that cannot be bound (in use) stops the start
 * with a message naming --metrics, status 1.
 *
 * Returns 0 when the daemon should run; otherwise the exit status to
 * return from main (0 after --help/--version, 1 or 2 on error, with the
 * message already printed).  bind_default_port is used when --bind has
 * no port (0: any).
 */
int neo_daemon_start(struct neo_daemon *daemon, enum neo_program program, int argc,
		     char *const argv[], int bind_default_port,
		     void (*on_stop)(int signum, void *arg), void *arg)
	__attribute__((warn_unused_result));
void neo_daemon_finish(struct neo_daemon *daemon);

/*
 * daemon/masterlist.c, -D/--dynamic-master-list (neo_daemon_start opens
 * it): the file's masters are merged into *masters (reallocated), and the
 * file rewritten with the union; 0, or -1 with err.  neo_master_list_note
 * adds a master the node learned and rewrites the file (a no-op without
 * the option, or for a master already listed).
 */
int neo_master_list_open(const char *path, struct neo_address **masters, size_t *count,
			 char *err, size_t errlen);
void neo_master_list_note(const struct neo_address *addr);
/* The masters among a NotifyNodeInformation's nodes, the known masters
 * of a NotPrimaryMaster. */
struct neo_list_node_info;
struct neo_list_wire_address;
void neo_master_list_note_nodes(const struct neo_list_node_info *nodes);
void neo_master_list_note_wire(const struct neo_list_wire_address *masters);
void neo_master_list_close(void);

#endif
