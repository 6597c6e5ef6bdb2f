/*
 * metrics/registry_view.h - private to metrics/: what metrics/format.c reads
 * of the registry (metrics/registry.c), without the registry's structures.
 * The pointers are the registry's, valid until its next change.
 */
#ifndef NEO_METRICS_REGISTRY_VIEW_H
#define NEO_METRICS_REGISTRY_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"

struct neo_metric_view {
	const char *name, *help;
	enum neo_metric_type type;
	size_t label_count;
	const char *const *labels;
	const double *bounds;		/* histogram: bound_count upper bounds */
	size_t bound_count;
	size_t series_count;
};

struct neo_series_view {
	const char *const *values;	/* label_count of them */
	double value;
	const uint64_t *bucket_counts;	/* histogram: per bucket, +Inf last */
	double sum;
	uint64_t count;
};

size_t neo_metrics_family_count(const struct neo_metrics *metrics);
void neo_metrics_family_view(const struct neo_metrics *metrics, size_t index,
			     struct neo_metric_view *view);
void neo_metrics_series_view(const struct neo_metrics *metrics, size_t family, size_t index,
			     struct neo_series_view *view);

#endif
