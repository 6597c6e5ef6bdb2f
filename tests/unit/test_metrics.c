/*
 * test_metrics.c - core/metrics/: the registry and Prometheus' text
 * exposition format, exactly, and the /metrics endpoint on evhttp (GET,
 * HEAD, 404, a port in use) through libevent's own HTTP client.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "metrics/http.h"
#include "metrics/metrics.h"
#include "runtime/alloc.h"
#include "tap.h"

static bool text_is(const struct neo_metrics *r, const char *expected, const char *name)
{
	size_t length;
	char *text = neo_metrics_format(r, &length);
	bool same = text != NULL && length == strlen(text) && strcmp(text, expected) == 0;

	if (!tap_ok(same, "%s", name))
		tap_diag("got:\n%s\nexpected:\n%s", text ? text : "(null)", expected);
	neo_free(text);
	return same;
}

static void test_empty(void)
{
	struct neo_metrics *r = neo_metrics_new();

	text_is(r, "", "an empty registry is an empty text");
	neo_metrics_free(r);
}

static void test_counter_and_gauge(void)
{
	static const char *const labels[] = { "type", "state", NULL };
	struct neo_metrics *r = neo_metrics_new();
	struct neo_metric *c = neo_metrics_counter(r, "neo_x_total", "Things done", NULL);
	struct neo_metric *g = neo_metrics_gauge(r, "neo_nodes", "Nodes \\ by\nstate", labels);
	struct neo_metric *unset = neo_metrics_gauge(r, "neo_unset", "Not known yet", NULL);
	const char *quoted[] = { "a\"b", "c\\d\ne" };
	const char *plain[] = { "STORAGE", "RUNNING" };

	tap_ok(c && g && unset, "families registered");
	text_is(r, "# HELP neo_x_total Things done\n# TYPE neo_x_total counter\nneo_x_total 0\n"
		   "# HELP neo_nodes Nodes \\\\ by\\nstate\n# TYPE neo_nodes gauge\n"
		   "# HELP neo_unset Not known yet\n# TYPE neo_unset gauge\n",
		"an unlabelled counter is 0 from the start, gauges have no series until set");
	neo_metric_inc(c);
	neo_metric_inc(c);
	tap_ok(neo_metric_add(c, NULL, 0.5) == 0, "a counter takes a fraction");
	tap_ok(neo_metric_add(c, NULL, -1) < 0, "a counter refuses a negative amount");
	tap_ok(neo_metric_set(c, NULL, 7) < 0, "a counter cannot be set");
	tap_ok(neo_metric_observe(g, plain, 1) < 0, "a gauge takes no observation");
	tap_ok(neo_metric_set(g, plain, 3) == 0 && neo_metric_set(g, quoted, -2.25) == 0,
	       "labelled gauges set");
	tap_ok(neo_metric_add(g, plain, 1) == 0 && neo_metric_value(g, plain) == 4,
	       "a gauge adds, and reads back");
	tap_ok(neo_metric_value(g, (const char *[]){ "X", "Y" }) == 0,
	       "a series never touched reads 0");
	text_is(r, "# HELP neo_x_total Things done\n# TYPE neo_x_total counter\nneo_x_total 2.5\n"
		   "# HELP neo_nodes Nodes \\\\ by\\nstate\n# TYPE neo_nodes gauge\n"
		   "neo_nodes{type=\"STORAGE\",state=\"RUNNING\"} 4\n"
		   "neo_nodes{type=\"a\\\"b\",state=\"c\\\\d\\ne\"} -2.25\n"
		   "# HELP neo_unset Not known yet\n# TYPE neo_unset gauge\n",
		"values, label escaping (quote, backslash, newline), creation order");
	neo_metric_clear(g);
	neo_metric_put(unset, 1e21);
	text_is(r, "# HELP neo_x_total Things done\n# TYPE neo_x_total counter\nneo_x_total 2.5\n"
		   "# HELP neo_nodes Nodes \\\\ by\\nstate\n# TYPE neo_nodes gauge\n"
		   "# HELP neo_unset Not known yet\n# TYPE neo_unset gauge\nneo_unset 1e+21\n",
		"clear drops the series; a large value in exponent form");
	neo_metrics_free(r);
}

static void test_histogram(void)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	static const char *const labels[] = { "op", NULL };
	struct neo_metrics *r = neo_metrics_new();
	struct neo_metric *h = neo_metrics_histogram(r, "neo_load_duration_seconds", "Loads",
						     NULL, bounds, 3);
	struct neo_metric *hl = neo_metrics_histogram(r, "neo_op_seconds", "Ops", labels,
						      bounds, 1);

	tap_ok(h && hl, "histograms registered");
	tap_ok(neo_metrics_histogram(r, "neo_bad", "x", NULL,
				     (const double[]){ 0.1, 0.1 }, 2) == NULL,
	       "bounds must increase");
	neo_metric_observe(h, NULL, 0.0005);
	neo_metric_observe(h, NULL, 0.001);	/* le is inclusive */
	neo_metric_observe(h, NULL, 0.05);
	neo_metric_observe(h, NULL, 3);
	neo_metric_observe(hl, (const char *[]){ "load" }, 0.5);
	tap_ok(neo_metric_value(h, NULL) == 4, "a histogram's value is its count");
	text_is(r, "# HELP neo_load_duration_seconds Loads\n"
		   "# TYPE neo_load_duration_seconds histogram\n"
		   "neo_load_duration_seconds_bucket{le=\"0.001\"} 2\n"
		   "neo_load_duration_seconds_bucket{le=\"0.01\"} 2\n"
		   "neo_load_duration_seconds_bucket{le=\"0.1\"} 3\n"
		   "neo_load_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		   "neo_load_duration_seconds_sum 3.0515\n"
		   "neo_load_duration_seconds_count 4\n"
		   "# HELP neo_op_seconds Ops\n# TYPE neo_op_seconds histogram\n"
		   "neo_op_seconds_bucket{op=\"load\",le=\"0.001\"} 0\n"
		   "neo_op_seconds_bucket{op=\"load\",le=\"+Inf\"} 1\n"
		   "neo_op_seconds_sum{op=\"load\"} 0.5\n"
		   "neo_op_seconds_count{op=\"load\"} 1\n",
		"cumulative buckets with le after the labels, +Inf, _sum and _count");
	neo_metrics_free(r);
}

static void test_names(void)
{
	static const char *const le[] = { "le", NULL };
	static const char *const reserved[] = { "__x", NULL };
	static const char *const digit[] = { "1a", NULL };
	static const char *const many[] = { "a", "b", "c", "d", "e", NULL };
	struct neo_metrics *r = neo_metrics_new();

	tap_ok(neo_metrics_valid_name("neo_a:b_total") && !neo_metrics_valid_name("1neo")
	       && !neo_metrics_valid_name("neo-x") && !neo_metrics_valid_name(""),
	       "metric names: letters, digits (not first), _ and :");
	tap_ok(neo_metrics_valid_label("partition") && !neo_metrics_valid_label("a:b")
	       && !neo_metrics_valid_label("__name__"), "label names: no ':', no '__' prefix");
	tap_ok(neo_metrics_gauge(r, "neo ok", "x", NULL) == NULL, "a bad metric name is refused");
	tap_ok(neo_metrics_gauge(r, "neo_a", "x", le) == NULL
	       && neo_metrics_gauge(r, "neo_b", "x", reserved) == NULL
	       && neo_metrics_gauge(r, "neo_c", "x", digit) == NULL
	       && neo_metrics_gauge(r, "neo_d", "x", many) == NULL,
	       "le, __ labels, bad label names and too many labels are refused");
	tap_ok(neo_metrics_gauge(r, "neo_e", "x", NULL) != NULL
	       && neo_metrics_counter(r, "neo_e", "x", NULL) == NULL, "a name is registered once");
	tap_ok(neo_metric_add(NULL, NULL, 1) == 0 && neo_metric_value(NULL, NULL) == 0,
	       "a NULL family is ignored");
	neo_metrics_free(r);
}

static void test_numbers(void)
{
	char buf[40];

	tap_ok(strcmp(neo_metrics_format_number(0.1, buf, sizeof buf), "0.1") == 0,
	       "0.1 written as 0.1");
	tap_ok(strcmp(neo_metrics_format_number(1.0 / 3, buf, sizeof buf), "0.3333333333333333") == 0
	       && strtod(buf, NULL) == 1.0 / 3, "1/3 reads back exactly");
	tap_ok(strcmp(neo_metrics_format_number(9007199254740992.0, buf, sizeof buf),
		      "9007199254740992") == 0, "2^53 written whole");
	tap_ok(strcmp(neo_metrics_format_number(-0.0, buf, sizeof buf), "-0") == 0
	       || strcmp(buf, "0") == 0, "-0");
	tap_ok(strcmp(neo_metrics_format_number(INFINITY, buf, sizeof buf), "+Inf") == 0
	       && strcmp(neo_metrics_format_number(-INFINITY, buf, sizeof buf), "-Inf") == 0
	       && strcmp(neo_metrics_format_number(NAN, buf, sizeof buf), "NaN") == 0,
	       "+Inf, -Inf, NaN");
}

/* --- The endpoint ------------------------------------------------------------ */

struct reply {
	struct event_base *base;
	int code;
	char content_type[128];
	char body[4096];
};

static void on_reply(struct evhttp_request *req, void *arg)
{
	struct reply *reply = arg;

	if (req != NULL) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
						      "Content-Type");
		size_t n = evbuffer_get_length(in);

		reply->code = evhttp_request_get_response_code(req);
		snprintf(reply->content_type, sizeof reply->content_type, "%s", type ? type : "");
		if (n >= sizeof reply->body)
			n = sizeof reply->body - 1;
		evbuffer_remove(in, reply->body, n);
		reply->body[n] = '\0';
	}
	event_base_loopbreak(reply->base);
}

static void fetch(struct event_base *base, uint16_t port, enum evhttp_cmd_type type,
		  const char *path, struct reply *reply)
{
	struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
	struct evhttp_request *req;

	memset(reply, 0, sizeof *reply);
	reply->base = base;
	req = evhttp_request_new(on_reply, reply);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	evhttp_make_request(conn, req, type, path);
	event_base_dispatch(base);
	evhttp_connection_free(conn);
}

static void collect_calls(struct neo_metrics *r, void *arg)
{
	(void)r;
	neo_metric_inc(arg);
}

static void test_http(void)
{
	struct event_base *base = event_base_new();
	struct neo_metrics *r = neo_metrics_new();
	struct neo_metric *scrapes = neo_metrics_counter(r, "neo_scrapes_total", "Scrapes", NULL);
	struct neo_address any = { "127.0.0.1", 0 }, taken;
	struct neo_metrics_http *http, *second;
	struct reply reply;
	char err[256];

	neo_metrics_add_collector(r, collect_calls, scrapes);
	http = neo_metrics_http_new(base, &any, r, err, sizeof err);
	if (!tap_ok(http != NULL, "the endpoint listens on port 0")) {
		tap_diag("%s", err);
		goto done;
	}
	taken = *neo_metrics_http_address(http);
	tap_ok(taken.port != 0, "its real port is known (%u)", taken.port);
	fetch(base, taken.port, EVHTTP_REQ_GET, "/metrics", &reply);
	tap_ok(reply.code == 200 && strcmp(reply.body, "# HELP neo_scrapes_total Scrapes\n"
			"# TYPE neo_scrapes_total counter\nneo_scrapes_total 1\n") == 0,
	       "GET /metrics: 200 and the text, the collectors run first");
	tap_ok(strcmp(reply.content_type, "text/plain; version=0.0.4; charset=utf-8") == 0,
	       "Content-Type of the text format 0.0.4 (%s)", reply.content_type);
	fetch(base, taken.port, EVHTTP_REQ_GET, "/metrics?name[]=x", &reply);
	tap_ok(reply.code == 200 && strstr(reply.body, "neo_scrapes_total 2\n") != NULL,
	       "a query string is accepted");
	fetch(base, taken.port, EVHTTP_REQ_HEAD, "/metrics", &reply);
	tap_ok(reply.code == 200 && reply.body[0] == '\0', "HEAD: 200, no body");
	fetch(base, taken.port, EVHTTP_REQ_GET, "/", &reply);
	tap_ok(reply.code == 404, "another path: 404");
	fetch(base, taken.port, EVHTTP_REQ_POST, "/metrics", &reply);
	tap_ok(reply.code >= 400, "POST refused (%d)", reply.code);
	second = neo_metrics_http_new(base, &taken, r, err, sizeof err);
	tap_ok(second == NULL && strstr(err, "cannot listen on 127.0.0.1:") != NULL
	       && strstr(err, "in use") != NULL, "a port in use: %s", err);
	neo_metrics_http_free(second);
	neo_metrics_http_free(http);
done:
	neo_metrics_free(r);
	event_base_free(base);
}

int main(void)
{
	test_empty();
	test_counter_and_gauge();
	test_histogram();
	test_names();
	test_numbers();
	test_http();
	return tap_done();
}
