#!/bin/sh
# Runs the backend conformance suite against sqlite.so on fresh files.
top_builddir=${abs_top_builddir:-$(pwd)}
scratch=$(mktemp -d /tmp/neo-test-sqlite-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$top_builddir/tests/backend/conformance" "$top_builddir/backends/.libs/sqlite.so" \
	"$scratch/neo.sqlite" "$scratch/dedup.sqlite"
