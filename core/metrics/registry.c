/* metrics/registry.c - families and series of metrics/metrics.h. */
#include "metrics/metrics.h"
#include "metrics/registry_view.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/alloc.h"

#define MAX_BOUNDS 32

struct series {
	char *values[NEO_METRIC_MAX_LABELS];
	double value;			/* counter, gauge */
	uint64_t *bucket_counts;	/* histogram: per bucket, +Inf last */
	double sum;
	uint64_t count;
};

struct neo_metric {
	char *name, *help;
	enum neo_metric_type type;
	size_t label_count;
	char *labels[NEO_METRIC_MAX_LABELS];
	double bounds[MAX_BOUNDS];
	size_t bound_count;
	struct series **series;
	size_t series_count, series_capacity;
};

struct collector {
	neo_metrics_collector *collect;
	void *arg;
};

struct neo_metrics {
	struct neo_metric **families;
	size_t family_count, family_capacity;
	struct collector collectors[NEO_METRICS_MAX_COLLECTORS];
	size_t collector_count;
};

static struct series *series_get(struct neo_metric *m, const char *const *values);

struct neo_metrics *neo_metrics_new(void)
{
	return neo_calloc(1, sizeof(struct neo_metrics));
}

static void series_free(struct series *s, size_t label_count)
{
	for (size_t i = 0; i < label_count; i++)
		neo_free(s->values[i]);
	neo_free(s->bucket_counts);
	neo_free(s);
}

static void metric_free(struct neo_metric *m)
{
	neo_metric_clear(m);
	neo_free(m->series);
	for (size_t i = 0; i < m->label_count; i++)
		neo_free(m->labels[i]);
	neo_free(m->name);
	neo_free(m->help);
	neo_free(m);
}

void neo_metrics_free(struct neo_metrics *metrics)
{
	if (metrics == NULL)
		return;
	for (size_t i = 0; i < metrics->family_count; i++)
		metric_free(metrics->families[i]);
	neo_free(metrics->families);
	neo_free(metrics);
}

static bool name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (colon && c == ':')
		return true;
	return !first && c >= '0' && c <= '9';
}

bool neo_metrics_valid_name(const char *name)
{
	if (name == NULL || *name == '\0')
		return false;
	for (size_t i = 0; name[i]; i++)
		if (!name_char(name[i], i == 0, true))
			return false;
	return true;
}

bool neo_metrics_valid_label(const char *name)
{
	if (name == NULL || *name == '\0' || strncmp(name, "__", 2) == 0)
		return false;
	for (size_t i = 0; name[i]; i++)
		if (!name_char(name[i], i == 0, false))
			return false;
	return true;
}

static bool name_taken(const struct neo_metrics *metrics, const char *name)
{
	for (size_t i = 0; i < metrics->family_count; i++)
		if (strcmp(metrics->families[i]->name, name) == 0)
			return true;
	return false;
}

static bool labels_valid(const char *const *labels)
{
	size_t count = 0;

	for (; labels != NULL && labels[count] != NULL; count++) {
		if (count == NEO_METRIC_MAX_LABELS || !neo_metrics_valid_label(labels[count]))
			return false;
		/* "le" names a histogram's buckets; Prometheus reserves it there
		 * and quantile for summaries: refused everywhere, simpler. */
		if (strcmp(labels[count], "le") == 0 || strcmp(labels[count], "quantile") == 0)
			return false;
	}
	return true;
}

static struct neo_metric *metric_register(struct neo_metrics *metrics, const char *name,
					  const char *help, enum neo_metric_type type,
					  const char *const *labels)
{
	struct neo_metric *m;

	if (metrics == NULL || !neo_metrics_valid_name(name) || help == NULL ||
	    name_taken(metrics, name) || !labels_valid(labels) ||
	    neo_grow(&metrics->families, &metrics->family_capacity, metrics->family_count + 1,
		     sizeof(*metrics->families)) < 0)
		return NULL;
	m = neo_calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->type = type;
	m->name = neo_strdup(name);
	m->help = neo_strdup(help);
	if (m->name == NULL || m->help == NULL)
		goto fail;
	for (; labels != NULL && labels[m->label_count] != NULL; m->label_count++) {
		m->labels[m->label_count] = neo_strdup(labels[m->label_count]);
		if (m->labels[m->label_count] == NULL)
			goto fail;
	}
	metrics->families[metrics->family_count++] = m;
	return m;
fail:
	metric_free(m);
	return NULL;
}

struct neo_metric *neo_metrics_counter(struct neo_metrics *metrics, const char *name,
				       const char *help, const char *const *labels)
{
	struct neo_metric *m = metric_register(metrics, name, help, NEO_METRIC_COUNTER, labels);

	/* 0 from the start, so that rate() sees the first increment */
	if (m != NULL && m->label_count == 0 && series_get(m, NULL) == NULL)
		return NULL;	/* the registry frees it */
	return m;
}

struct neo_metric *neo_metrics_gauge(struct neo_metrics *metrics, const char *name,
				     const char *help, const char *const *labels)
{
	return metric_register(metrics, name, help, NEO_METRIC_GAUGE, labels);
}

struct neo_metric *neo_metrics_histogram(struct neo_metrics *metrics, const char *name,
					 const char *help, const char *const *labels,
					 const double *bounds, size_t bound_count)
{
	struct neo_metric *m;

	if (bound_count > MAX_BOUNDS || (bound_count > 0 && bounds == NULL))
		return NULL;
	for (size_t i = 0; i < bound_count; i++)
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return NULL;
	m = metric_register(metrics, name, help, NEO_METRIC_HISTOGRAM, labels);
	if (m == NULL)
		return NULL;
	memcpy(m->bounds, bounds, bound_count * sizeof(*bounds));
	m->bound_count = bound_count;
	if (m->label_count == 0 && series_get(m, NULL) == NULL)
		return NULL;	/* the registry frees it */
	return m;
}

static struct series *series_find(const struct neo_metric *m, const char *const *values)
{
	for (size_t i = 0; i < m->series_count; i++) {
		size_t k = 0;

		while (k < m->label_count && strcmp(m->series[i]->values[k], values[k]) == 0)
			k++;
		if (k == m->label_count)
			return m->series[i];
	}
	return NULL;
}

/* The series of values, created when absent; NULL when out of memory. */
static struct series *series_get(struct neo_metric *m, const char *const *values)
{
	struct series *s = series_find(m, values);

	if (s != NULL)
		return s;
	if (neo_grow(&m->series, &m->series_capacity, m->series_count + 1,
		     sizeof(*m->series)) < 0)
		return NULL;
	s = neo_calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (m->type == NEO_METRIC_HISTOGRAM &&
	    (s->bucket_counts = neo_calloc(m->bound_count + 1, sizeof(uint64_t))) == NULL)
		goto fail;
	for (size_t k = 0; k < m->label_count; k++)
		if ((s->values[k] = neo_strdup(values[k] ? values[k] : "")) == NULL)
			goto fail;
	m->series[m->series_count++] = s;
	return s;
fail:
	series_free(s, m->label_count);
	return NULL;
}

int neo_metric_add(struct neo_metric *metric, const char *const *values, double amount)
{
	struct series *s;

	if (metric == NULL)
		return 0;
	if (metric->type == NEO_METRIC_HISTOGRAM ||
	    (metric->type == NEO_METRIC_COUNTER && !(amount >= 0)))
		return -1;
	s = series_get(metric, values);
	if (s == NULL)
		return -1;
	s->value += amount;
	return 0;
}

int neo_metric_set(struct neo_metric *metric, const char *const *values, double value)
{
	struct series *s;

	if (metric == NULL)
		return 0;
	if (metric->type != NEO_METRIC_GAUGE)
		return -1;
	s = series_get(metric, values);
	if (s == NULL)
		return -1;
	s->value = value;
	return 0;
}

int neo_metric_observe(struct neo_metric *metric, const char *const *values, double value)
{
	struct series *s;
	size_t bucket = 0;

	if (metric == NULL)
		return 0;
	if (metric->type != NEO_METRIC_HISTOGRAM)
		return -1;
	s = series_get(metric, values);
	if (s == NULL)
		return -1;
	while (bucket < metric->bound_count && !(value <= metric->bounds[bucket]))
		bucket++;
	s->bucket_counts[bucket]++;
	s->sum += value;
	s->count++;
	return 0;
}

void neo_metric_inc(struct neo_metric *metric)
{
	(void)neo_metric_add(metric, NULL, 1);
}

void neo_metric_put(struct neo_metric *metric, double value)
{
	(void)neo_metric_set(metric, NULL, value);
}

double neo_metric_value(const struct neo_metric *metric, const char *const *values)
{
	const struct series *s = metric ? series_find(metric, values) : NULL;

	if (s == NULL)
		return 0;
	return metric->type == NEO_METRIC_HISTOGRAM ? (double)s->count : s->value;
}

void neo_metric_clear(struct neo_metric *metric)
{
	if (metric == NULL)
		return;
	for (size_t i = 0; i < metric->series_count; i++)
		series_free(metric->series[i], metric->label_count);
	metric->series_count = 0;
}

int neo_metrics_add_collector(struct neo_metrics *metrics, neo_metrics_collector *collect,
			      void *arg)
{
	if (metrics == NULL || metrics->collector_count == NEO_METRICS_MAX_COLLECTORS)
		return -1;
	metrics->collectors[metrics->collector_count].collect = collect;
	metrics->collectors[metrics->collector_count].arg = arg;
	metrics->collector_count++;
	return 0;
}

void neo_metrics_collect(struct neo_metrics *metrics)
{
	for (size_t i = 0; i < metrics->collector_count; i++)
		metrics->collectors[i].collect(metrics, metrics->collectors[i].arg);
}

/* For metrics/format.c: the registry's contents, read only. */

size_t neo_metrics_family_count(const struct neo_metrics *metrics)
{
	return metrics->family_count;
}

void neo_metrics_family_view(const struct neo_metrics *metrics, size_t index,
			     struct neo_metric_view *view)
{
	const struct neo_metric *m = metrics->families[index];

	view->name = m->name;
	view->help = m->help;
	view->type = m->type;
	view->label_count = m->label_count;
	view->labels = (const char *const *)m->labels;
	view->bounds = m->bounds;
	view->bound_count = m->bound_count;
	view->series_count = m->series_count;
}

void neo_metrics_series_view(const struct neo_metrics *metrics, size_t family, size_t index,
			     struct neo_series_view *view)
{
	const struct series *s = metrics->families[family]->series[index];

	view->values = (const char *const *)s->values;
	view->value = s->value;
	view->bucket_counts = s->bucket_counts;
	view->sum = s->sum;
	view->count = s->count;
}
