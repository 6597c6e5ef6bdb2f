/* metrics/http.c - see metrics/http.h. */
#include "metrics/http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "runtime/alloc.h"

#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE 1024

struct neo_metrics_http {
	struct evhttp *http;
	struct neo_metrics *metrics;
	struct neo_address address;
};

static void free_text(const void *data, size_t length, void *extra)
{
	(void)length;
	(void)extra;
	neo_free((void *)data);
}

static void serve_metrics(struct neo_metrics_http *h, struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();
	size_t length;
	char *text;

	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	neo_metrics_collect(h->metrics);
	text = neo_metrics_format(h->metrics, &length);
	if (text == NULL || evbuffer_add_reference(body, text, length, free_text, NULL) != 0) {
		neo_free(text);
		evbuffer_free(body);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "the metrics are at /metrics");
		return;
	}
	serve_metrics(arg, req);
}

struct neo_metrics_http *neo_metrics_http_new(struct event_base *base,
					      const struct neo_address *addr,
					      struct neo_metrics *metrics, char *err,
					      size_t errlen)
{
	struct neo_metrics_http *h = neo_calloc(1, sizeof(*h));
	struct evconnlistener *listener;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char where[300];

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->metrics = metrics;
	h->address = *addr;
	if (neo_address_resolve(addr, &ss, &sslen, err, errlen) != 0)
		goto fail;
	h->http = evhttp_new(base);
	if (h->http == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(h->http, NEO_METRICS_HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(h->http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(h->http, MAX_BODY_SIZE);
	evhttp_set_gencb(h->http, on_request, h);
	/* Our own listener rather than evhttp_bind_socket: close-on-exec as
	 * the NEO listeners (net/conn.c), and errno for the message. */
	listener = evconnlistener_new_bind(base, NULL, NULL,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
		(struct sockaddr *)&ss, (int)sslen);
	if (listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s",
			 neo_address_format(addr, where, sizeof(where)), strerror(errno));
		goto fail;
	}
	if (evhttp_bind_listener(h->http, listener) == NULL) {
		evconnlistener_free(listener);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	sslen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&ss, &sslen) != 0 ||
	    neo_address_from_sockaddr((struct sockaddr *)&ss, &h->address) != 0)
		h->address = *addr;
	return h;
fail:
	neo_metrics_http_free(h);
	return NULL;
}

const struct neo_address *neo_metrics_http_address(const struct neo_metrics_http *h)
{
	return &h->address;
}

void neo_metrics_http_free(struct neo_metrics_http *h)
{
	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http);
	neo_free(h);
}
