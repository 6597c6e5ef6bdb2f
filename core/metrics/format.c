/*
 * metrics/format.c - the registry as Prometheus' text exposition format
 * (version 0.0.4: HELP and TYPE lines, samples "name{labels} value").
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/registry_view.h"
#include "runtime/alloc.h"

/* A growing string; failed sticks once an allocation failed. */
struct text {
	char *data;
	size_t length, capacity;
	bool failed;
};

static void put(struct text *t, const char *data, size_t length)
{
	if (t->failed)
		return;
	if (neo_grow(&t->data, &t->capacity, t->length + length + 1, 1) < 0) {
		t->failed = true;
		return;
	}
	memcpy(t->data + t->length, data, length);
	t->length += length;
	t->data[t->length] = '\0';
}

static void puts_text(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* HELP text: backslash and newline escaped.  Label values: double quote
 * too. */
static void put_escaped(struct text *t, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_text(t, "\\\\");
		else if (*s == '\n')
			puts_text(t, "\\n");
		else if (quote && *s == '"')
			puts_text(t, "\\\"");
		else
			put(t, s, 1);
	}
}

const char *neo_metrics_format_number(double value, char *buf, size_t buflen)
{
	if (isnan(value))
		snprintf(buf, buflen, "NaN");
	else if (isinf(value))
		snprintf(buf, buflen, value > 0 ? "+Inf" : "-Inf");
	else if (value == floor(value) && fabs(value) <= 9007199254740992.0)
		snprintf(buf, buflen, "%.0f", value);
	else
		/* the shortest of %.15g to %.17g that reads back the same */
		for (int digits = 15; digits <= 17; digits++) {
			snprintf(buf, buflen, "%.*g", digits, value);
			if (strtod(buf, NULL) == value)
				break;
		}
	return buf;
}

static void put_number(struct text *t, double value)
{
	char buf[40];

	puts_text(t, neo_metrics_format_number(value, buf, sizeof(buf)));
}

static void put_count(struct text *t, unsigned long long value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", value);
	puts_text(t, buf);
}

/* name{l1="v1",l2="v2"[,le="bound"]} ; no braces without labels. */
static void put_sample_name(struct text *t, const struct neo_metric_view *m,
			    const struct neo_series_view *s, const char *suffix, const char *le)
{
	bool any = false;

	puts_text(t, m->name);
	puts_text(t, suffix);
	for (size_t k = 0; k < m->label_count; k++) {
		puts_text(t, any ? "," : "{");
		any = true;
		puts_text(t, m->labels[k]);
		puts_text(t, "=\"");
		put_escaped(t, s->values[k], true);
		puts_text(t, "\"");
	}
	if (le != NULL) {
		puts_text(t, any ? ",le=\"" : "{le=\"");
		any = true;
		puts_text(t, le);
		puts_text(t, "\"");
	}
	puts_text(t, any ? "} " : " ");
}

static void put_histogram(struct text *t, const struct neo_metric_view *m,
			  const struct neo_series_view *s)
{
	unsigned long long cumulative = 0;
	char bound[40];

	for (size_t b = 0; b <= m->bound_count; b++) {
		cumulative += s->bucket_counts[b];
		if (b < m->bound_count)
			neo_metrics_format_number(m->bounds[b], bound, sizeof(bound));
		else
			snprintf(bound, sizeof(bound), "+Inf");
		put_sample_name(t, m, s, "_bucket", bound);
		put_count(t, cumulative);
		puts_text(t, "\n");
	}
	put_sample_name(t, m, s, "_sum", NULL);
	put_number(t, s->sum);
	puts_text(t, "\n");
	put_sample_name(t, m, s, "_count", NULL);
	put_count(t, s->count);
	puts_text(t, "\n");
}

static const char *type_name(enum neo_metric_type type)
{
	switch (type) {
	case NEO_METRIC_COUNTER:
		return "counter";
	case NEO_METRIC_GAUGE:
		return "gauge";
	case NEO_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static void put_family(struct text *t, const struct neo_metrics *metrics, size_t index)
{
	struct neo_metric_view m;
	struct neo_series_view s;

	neo_metrics_family_view(metrics, index, &m);
	puts_text(t, "# HELP ");
	puts_text(t, m.name);
	puts_text(t, " ");
	put_escaped(t, m.help, false);
	puts_text(t, "\n# TYPE ");
	puts_text(t, m.name);
	puts_text(t, " ");
	puts_text(t, type_name(m.type));
	puts_text(t, "\n");
	for (size_t i = 0; i < m.series_count; i++) {
		neo_metrics_series_view(metrics, index, i, &s);
		if (m.type == NEO_METRIC_HISTOGRAM) {
			put_histogram(t, &m, &s);
			continue;
		}
		put_sample_name(t, &m, &s, "", NULL);
		put_number(t, s.value);
		puts_text(t, "\n");
	}
}

char *neo_metrics_format(const struct neo_metrics *metrics, size_t *length)
{
	struct text t = { 0 };

	put(&t, "", 0);		/* an empty registry is "" */
	for (size_t i = 0; i < neo_metrics_family_count(metrics); i++)
		put_family(&t, metrics, i);
	if (t.failed) {
		neo_free(t.data);
		return NULL;
	}
	*length = t.length;
	return t.data;
}
