/*
 * metrics/http.h - the /metrics endpoint of a daemon: libevent's evhttp on
 * the daemon's own event base, serving a registry (metrics/metrics.h).
 *
 * Promises:
 *   - GET /metrics (any query string) runs the registry's collectors, then
 *     answers 200 with the text, Content-Type "text/plain; version=0.0.4;
 *     charset=utf-8" (HEAD: the same headers, no body); any other path is
 *     404; methods other than GET and HEAD are refused by evhttp;
 *   - the listening socket is close-on-exec, with SO_REUSEADDR, as the
 *     daemons' NEO listeners; a request that stalls is dropped after
 *     NEO_METRICS_HTTP_TIMEOUT_S; headers are bounded in size;
 *   - plain HTTP, no authentication: bind it to an address that only the
 *     monitoring system reaches (the README's Metrics section says so).
 *
 * Ownership: the endpoint borrows base and metrics, which must outlive it.
 */
#ifndef NEO_METRICS_HTTP_H
#define NEO_METRICS_HTTP_H

#include <stddef.h>

#include <event2/event.h>

#include "metrics/metrics.h"
#include "net/address.h"

#define NEO_METRICS_HTTP_TIMEOUT_S 10

struct neo_metrics_http;

/* Listens on addr (port 0: any).  NULL with err, e.g. "cannot listen on
 * 127.0.0.1:9100: Address already in use". */
struct neo_metrics_http *neo_metrics_http_new(struct event_base *base,
					      const struct neo_address *addr,
					      struct neo_metrics *metrics, char *err,
					      size_t errlen)
	__attribute__((warn_unused_result));
/* The bound address (the real port when 0 was asked). */
const struct neo_address *neo_metrics_http_address(const struct neo_metrics_http *http);
void neo_metrics_http_free(struct neo_metrics_http *http);

#endif
