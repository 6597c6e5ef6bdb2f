#!/bin/sh
# A shorter fault campaign (tests/faults/faults) on rocksdb.so, fixed seed.
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/lib/run_on_engine.sh" rocksdb \
	tests/faults/faults --seed 43 --seconds 20
