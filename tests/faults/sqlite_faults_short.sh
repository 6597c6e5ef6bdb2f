#!/bin/sh
# A short fault campaign (tests/faults/faults) on sqlite.so with a fixed
# seed: the same faults in the same order on every run (their timing, and
# so the commits around them, vary with the machine).
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/lib/run_on_engine.sh" sqlite \
	tests/faults/faults --seed 42 --seconds 30
