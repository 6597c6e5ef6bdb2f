#!/bin/sh
# Runs the backend conformance suite against rocksdb.so on fresh
# directories (database= names a directory, created by the module).
top_builddir=${abs_top_builddir:-$(pwd)}
scratch=$(mktemp -d /tmp/neo-test-rocksdb-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$top_builddir/tests/backend/conformance" "$top_builddir/backends/.libs/rocksdb.so" \
	"$scratch/neo.rocksdb" "$scratch/dedup.rocksdb"
