#!/bin/sh
# test_importer.sh - the Importer backend on a real cluster: makes a
# Data.fs with ZODB from PyPI (tests/lib/fs_make.py), dumps it with ZODB's
# own iterator (tests/lib/fs_dump.py), runs tests/cluster/test_importer
# on it (TAP), then opens the Data.fs that writeback appended to with ZODB
# and checks that it reads the commits.
srcdir=${srcdir:-.}
builddir=${abs_top_builddir:-.}
. "$srcdir/tests/lib/zodb_python.sh"
zodb_python_find
if [ -z "$ZODB_PYTHON" ]; then
	echo "1..0 # SKIP ZODB from PyPI could not be installed"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/neo-importer-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$ZODB_PYTHON" "$srcdir/tests/lib/fs_make.py" "$tmp/Data.fs" 120 3 >"$tmp/make.log" 2>&1 &&
	rm -f "$tmp/Data.fs.index" "$tmp/Data.fs.lock" "$tmp/Data.fs.tmp" &&
	"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/Data.fs" --load >"$tmp/zodb.txt" 2>/dev/null || {
	echo "1..0 # SKIP ZODB could not make the Data.fs"
	exit 0
}
"$builddir/tests/cluster/test_importer" "$tmp" >"$tmp/tap.txt"
status=$?
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tmp/tap.txt")
grep -v '^1\.\.' "$tmp/tap.txt"
n=$(grep -c '^\(not \)\?ok ' "$tmp/tap.txt")
n=$((n + 1))
"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/Data.fs" --load >"$tmp/after.txt" 2>"$tmp/after.err"
ok=0
[ -s "$tmp/writeback.txt" ] || ok=1
while read -r line; do
	grep -qx "$line" "$tmp/after.txt" || { ok=1; echo "# ZODB does not read: $line"; }
done <"$tmp/writeback.txt"
if [ $ok = 0 ]; then
	echo "ok $n - ZODB opens the Data.fs after writeback and reads the commits"
else
	echo "not ok $n - ZODB opens the Data.fs after writeback and reads the commits"
	head -n 5 "$tmp/after.err" | sed 's/^/# /'
fi

# neosimple --importer: a cluster whose one storage imports the Data.fs.
n=$((n + 1))
(unset NEO_BACKEND_DIR; TMPDIR=$tmp "$builddir/core/neosimple" --importer "$tmp/Data.fs" db1 -- \
	sh -c 'for i in $(seq 100); do
		grep -q "All data are imported" "$NEO_DIR"/storage*.log && exit 0; sleep 0.2; done
		exit 1') >"$tmp/simple.out" 2>&1
simple=$?
if [ $simple = 0 ]; then
	echo "ok $n - neosimple --importer runs a cluster that imports the Data.fs"
else
	echo "not ok $n - neosimple --importer runs a cluster that imports the Data.fs"
	tail -n 5 "$tmp/simple.out" | sed 's/^/# /'
fi
echo "1..$n"
[ "$status" = 0 ] && [ $ok = 0 ] && [ $simple = 0 ]
