#!/bin/sh
# tests/bench/scale_bench on rocksdb.so, a few thousand objects.
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/bench/scale_short.sh" rocksdb
