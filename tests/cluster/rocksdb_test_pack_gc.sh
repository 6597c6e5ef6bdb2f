#!/bin/sh
# tests/cluster/test_pack_gc with every storage on rocksdb.so.
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/lib/run_on_engine.sh" rocksdb tests/cluster/test_pack_gc
