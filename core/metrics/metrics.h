/*
 * metrics/metrics.h - a registry of counters, gauges and histograms, written
 * in Prometheus' text exposition format (version 0.0.4), which is what
 * every daemon serves on GET /metrics (metrics/http.h serves it).
 *
 * Promises:
 *   - a family is registered once, with its name, its help text, its type
 *     and the names of its labels (none, or up to NEO_METRIC_MAX_LABELS);
 *     a name that is not a valid Prometheus metric name, a label name that
 *     is not a valid label name or is reserved ("le", "__*"), or a name
 *     registered twice is refused (NULL), so that the output always parses;
 *   - a series is one combination of label values; it is created the first
 *     time it is touched and kept (neo_metric_clear drops a family's
 *     series, for a collector that recounts a state from scratch); a
 *     counter or histogram without labels has its one series, at 0, from
 *     registration on; a gauge has none until it is set (a value not
 *     known yet is absent, not 0);
 *   - the text has, per family in registration order: "# HELP name text"
 *     (backslash and newline escaped), "# TYPE name type", then its
 *     series in creation order; label values escape backslash, double
 *     quote and newline; histograms write cumulative _bucket lines with
 *     le="..." up to le="+Inf", then _sum and _count; a family with no
 *     series writes its HELP and TYPE lines only;
 *   - numbers are written as the shortest decimal that reads back to the
 *     same double (integers without exponent up to 2^53), +Inf, -Inf, NaN;
 *   - counters only go up: neo_metric_add refuses a negative amount on a
 *     counter (-1), and the caller names counters with "_total".
 *
 * Collectors: a daemon can register functions that the registry calls
 * before writing the text (neo_metrics_collect), to set gauges from its
 * state at that moment (node counts, cell states, connections).
 *
 * Ownership: the registry owns its families and series; struct
 * neo_metric pointers stay valid until neo_metrics_free.  Not
 * thread-safe: a daemon touches its registry from its event loop only.
 */
#ifndef NEO_METRICS_H
#define NEO_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define NEO_METRIC_MAX_LABELS 4
#define NEO_METRICS_MAX_COLLECTORS 8

enum neo_metric_type {
	NEO_METRIC_COUNTER,
	NEO_METRIC_GAUGE,
	NEO_METRIC_HISTOGRAM
};

struct neo_metrics;
struct neo_metric;

typedef void neo_metrics_collector(struct neo_metrics *metrics, void *arg);

/* NULL when out of memory. */
struct neo_metrics *neo_metrics_new(void) __attribute__((warn_unused_result));
void neo_metrics_free(struct neo_metrics *metrics);

/*
 * Registers a family.  labels: its label names, NULL-terminated (NULL:
 * none).  Returns the family, or NULL (bad name or label, name taken, out
 * of memory).
 */
struct neo_metric *neo_metrics_counter(struct neo_metrics *metrics, const char *name,
				       const char *help, const char *const *labels);
struct neo_metric *neo_metrics_gauge(struct neo_metrics *metrics, const char *name,
				     const char *help, const char *const *labels);
/* bounds: the upper bounds of the buckets, increasing (at most 32; the
 * +Inf bucket is added).  NULL when they are not increasing. */
struct neo_metric *neo_metrics_histogram(struct neo_metrics *metrics, const char *name,
					 const char *help, const char *const *labels,
					 const double *bounds, size_t bound_count);

/*
 * The operations on a series.  values: the label values, as many as the
 * family has labels (NULL for a family without labels).  A NULL family is
 * accepted and ignored (a daemon whose registration failed goes on without
 * that metric).  Return 0, or -1 (out of memory, a negative amount on a
 * counter, an operation the family's type does not have).
 */
int neo_metric_add(struct neo_metric *metric, const char *const *values, double amount);
int neo_metric_set(struct neo_metric *metric, const char *const *values, double value);
int neo_metric_observe(struct neo_metric *metric, const char *const *values, double value);
/* Unlabelled shorthands: add 1, set. */
void neo_metric_inc(struct neo_metric *metric);
void neo_metric_put(struct neo_metric *metric, double value);
/* The value of a series (0 when it does not exist; a histogram's count). */
double neo_metric_value(const struct neo_metric *metric, const char *const *values);
/* Drops every series of the family. */
void neo_metric_clear(struct neo_metric *metric);

/* Adds a collector (at most NEO_METRICS_MAX_COLLECTORS); 0 or -1. */
int neo_metrics_add_collector(struct neo_metrics *metrics, neo_metrics_collector *collect,
			      void *arg);
/* Calls the collectors, in the order they were added. */
void neo_metrics_collect(struct neo_metrics *metrics);

/*
 * The text of every family (without calling the collectors), in a
 * string from neo_malloc that the caller frees; *length gets its length.
 * NULL when out of memory.
 */
char *neo_metrics_format(const struct neo_metrics *metrics, size_t *length)
	__attribute__((warn_unused_result));

/* One number as the format writes it, into buf (at least 32 bytes). */
const char *neo_metrics_format_number(double value, char *buf, size_t buflen);

/* Whether text is a valid metric name, a valid label name. */
bool neo_metrics_valid_name(const char *name);
bool neo_metrics_valid_label(const char *name);

#endif
