#!/bin/sh
# test_blob_migrate.sh - neomigrate with blobs both ways: ZODB from PyPI
# makes a Data.fs with its blob directory (tests/lib/blob_make.py);
# test_fs_blobs DIR migrate copies it into a cluster, reads every blob revision
# back and copies the cluster out into DIR/out.fs and DIR/out.blobs,
# which ZODB then opens (tests/lib/blob_check.py).
srcdir=${srcdir:-.}
builddir=${abs_top_builddir:-.}
. "$srcdir/tests/lib/zodb_python.sh"
zodb_python_find
if [ -z "$ZODB_PYTHON" ]; then
	echo "1..0 # SKIP ZODB from PyPI could not be installed"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/neo-blob-migrate-XXXXXX")
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
# the source's blob directory in ZODB's lawn layout (the Importer's test
# takes the default, bushy): neomigrate reads both, writes bushy
"$ZODB_PYTHON" "$srcdir/tests/lib/blob_make.py" "$tmp/Data.fs" "$tmp/blobs" "$tmp/list.txt" \
	lawn >"$tmp/make.log" 2>&1 || {
	echo "1..0 # SKIP ZODB could not make the Data.fs with blobs"
	exit 0
}
abs_top_builddir=$builddir "$builddir/tests/cluster/test_fs_blobs" "$tmp" migrate >"$tmp/tap.txt"
status=$?
grep -v '^1\.\.' "$tmp/tap.txt"
n=$(grep -c '^\(not \)\?ok ' "$tmp/tap.txt")
"$ZODB_PYTHON" "$srcdir/tests/lib/blob_check.py" "$tmp/Data.fs" "$tmp/out.fs" "$tmp/out.blobs" \
	"$tmp/list.txt" >"$tmp/check.txt" 2>"$tmp/check.err"
checked=$?
awk -v n="$n" '/^(not )?ok [0-9]+ / { $2 += n } { print }' "$tmp/check.txt"
if [ $checked != 0 ] || grep -q '^not ok' "$tmp/check.txt" || ! grep -q '^ok' "$tmp/check.txt"; then
	status=1
	tail -n 5 "$tmp/check.err" | sed 's/^/# /'
fi
n=$((n + $(grep -c '^\(not \)\?ok ' "$tmp/check.txt")))
echo "1..$n"
[ "$status" = 0 ]
