#!/bin/sh
# test_neomigrate.sh - neomigrate both ways on a real cluster: a Data.fs
# made by ZODB from PyPI (tests/lib/fs_make.py) goes into an empty cluster
# (test_importer DIR migrate reads it all back through libneoclient, as
# ZODB's iterator dumps it), then out of the cluster into a new Data.fs,
# which ZODB's own iterator must dump exactly as the original (records,
# data, undo back pointers, metadata) and ZODB must open.
srcdir=${srcdir:-.}
builddir=${abs_top_builddir:-.}
. "$srcdir/tests/lib/zodb_python.sh"
zodb_python_find
if [ -z "$ZODB_PYTHON" ]; then
	echo "1..0 # SKIP ZODB from PyPI could not be installed"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/neo-migrate-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$ZODB_PYTHON" "$srcdir/tests/lib/fs_make.py" "$tmp/Data.fs" 60 5 >"$tmp/make.log" 2>&1 &&
	"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/Data.fs" --load >"$tmp/zodb.txt" 2>/dev/null || {
	echo "1..0 # SKIP ZODB could not make the Data.fs"
	exit 0
}
abs_top_builddir=$builddir "$builddir/tests/cluster/test_importer" "$tmp" migrate >"$tmp/tap.txt"
status=$?
grep -v '^1\.\.' "$tmp/tap.txt"
n=$(grep -c '^\(not \)\?ok ' "$tmp/tap.txt")
n=$((n + 1))
"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/out.fs" --load >"$tmp/out.txt" 2>"$tmp/out.err"
if cmp -s "$tmp/zodb.txt" "$tmp/out.txt"; then
	echo "ok $n - ZODB dumps the Data.fs neomigrate wrote exactly as the original"
else
	echo "not ok $n - ZODB dumps the Data.fs neomigrate wrote exactly as the original"
	diff "$tmp/zodb.txt" "$tmp/out.txt" | head -n 10 | sed 's/^/# /'
	head -n 5 "$tmp/out.err" "$tmp/neo2fs.out" 2>/dev/null | sed 's/^/# /'
	status=1
fi
n=$((n + 1))
if grep -q 'Migration done in' "$tmp/fs2neo.out" && grep -q '100%' "$tmp/fs2neo.out"; then
	echo "ok $n - neomigrate shows a progress bar and its time, as upstream's"
else
	echo "not ok $n - neomigrate shows a progress bar and its time, as upstream's"
	status=1
fi
echo "1..$n"
[ "$status" = 0 ]
