#!/bin/sh
# test_metrics.sh - runs tests/cluster/test_metrics (--metrics on a real
# cluster) with the real Prometheus text parser: prometheus_client from
# PyPI, in a virtualenv made by tests/lib/python_venv.sh and kept for the
# next runs (NEO_METRICS_VENV, default under $TMPDIR: outside the build
# tree, which distcheck wants clean).  Without PyPI the test is skipped,
# saying so.  Speaks TAP (the program's).
top_builddir=${abs_top_builddir:-$(pwd)}
top_srcdir=${srcdir:-$(dirname "$0")/../..}
requirement=${NEO_METRICS_REQUIREMENT:-prometheus-client==0.26.0}
venv=${NEO_METRICS_VENV:-${TMPDIR:-/tmp}/neo-test-venv-prometheus-$(id -u)}

log=$(mktemp "${TMPDIR:-/tmp}/neo-test-metrics-venv-XXXXXX")
if ! sh "$top_srcdir/tests/lib/python_venv.sh" "$venv" "$requirement" >"$log" 2>&1 ||
	! "$venv/bin/python" -c 'import prometheus_client.parser' >>"$log" 2>&1; then
	echo "1..0 # SKIP no $requirement from PyPI: $(tail -n 1 "$log")"
	rm -f "$log"
	exit 0
fi
rm -f "$log"
NEO_METRICS_PYTHON=$venv/bin/python
NEO_METRICS_SCRAPER=$top_srcdir/tests/cluster/metrics_scrape.py
export NEO_METRICS_PYTHON NEO_METRICS_SCRAPER
exec "$top_builddir/tests/cluster/test_metrics"
