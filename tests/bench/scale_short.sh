#!/bin/sh
# scale_short.sh ENGINE - tests/bench/scale_bench on a few thousand
# objects (make bench-scale runs it on 1M): it runs to its end and prints
# every figure.  No figure is asserted (speed belongs to the benchmark).
engine=$1
top_builddir=${abs_top_builddir:-$(pwd)}
out=$(mktemp "${TMPDIR:-/tmp}/neo-scale-short-XXXXXX")
"$top_builddir/tests/bench/scale_bench" "$engine" 20000 >"$out" 2>&1
status=$?
echo "1..9"
sed 's/^/# /' "$out"
check() {
	if grep -q "$2" "$out"; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fi
}
if [ $status -eq 0 ]; then echo "ok 1 - scale_bench $engine exits 0"
else echo "not ok 1 - scale_bench $engine exits 0 (status $status)"; fi
check 2 '^load p50 at 5k: [0-9.]* us' "load p50 with 5000 objects"
check 3 '^load p50 at all: [0-9.]* us' "load p50 with every object"
check 4 '^load p50 ratio: [0-9.]*' "their ratio"
check 5 '^storage 1 RSS after loading: peak [0-9.]* MiB, now [0-9.]* MiB; module cache' \
	"storage RSS next to the module's cache"
check 6 '^kill -9 of storage S[0-9]* .*RUNNING [0-9.]* s after its restart, every cell UP_TO_DATE [0-9.]* s' \
	"time back after a kill -9"
check 7 '^catch-up of a new storage .*: [0-9.]* MB/s' "catch-up MB/s of a new storage"
check 8 '^storage 2 RSS after its catch-up: peak [0-9.]* MiB' "the new storage's RSS"
check 9 "^catch-up CPU time: new storage [0-9.]* s" "the catch-up's CPU time"
rm -f "$out"
