#!/bin/sh
# test_importer_blobs.sh - the Importer with a FileStorage's blob
# directory: ZODB from PyPI makes a Data.fs with its blobs
# (tests/lib/blob_make.py); test_fs_blobs DIR importer serves and imports
# it, reading every blob revision during the import, after a kill -9 and
# after it, then on the destination alone; neo.client with a blob_dir
# reads them too (tests/lib/blob_read_neo.py).
srcdir=${srcdir:-.}
builddir=${abs_top_builddir:-.}
. "$srcdir/tests/lib/zodb_python.sh"
zodb_python_find
if [ -z "$ZODB_PYTHON" ]; then
	echo "1..0 # SKIP ZODB from PyPI could not be installed"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/neo-importer-blobs-XXXXXX")
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
"$ZODB_PYTHON" "$srcdir/tests/lib/blob_make.py" "$tmp/Data.fs" "$tmp/blobs" "$tmp/list.txt" \
	>"$tmp/make.log" 2>&1 &&
	rm -f "$tmp/Data.fs.index" "$tmp/Data.fs.lock" "$tmp/Data.fs.tmp" || {
	echo "1..0 # SKIP ZODB could not make the Data.fs with blobs"
	exit 0
}
# neo.client (modules/python) built against this build, to read the
# blobs as a ZODB application does; not in a sanitized build (its
# libneoclient needs the sanitizer's runtime loaded first in python).
NEO_TEST_PY_BLOBS=
if grep -q -- '--enable-sanitizers' "$builddir/config.log" 2>/dev/null; then
	echo "# sanitized build: neo.client's reads are not checked"
elif abs_src=$(cd "$srcdir" && pwd) && abs_build=$(cd "$builddir" && pwd) &&
	cp -R "$srcdir/modules/python" "$tmp/neo-client" &&
	(cd "$tmp/neo-client" && NEO_SRCDIR=$abs_src NEO_BUILDDIR=$abs_build \
		"$ZODB_PYTHON" setup.py -q build_ext --inplace) >"$tmp/neo-client.log" 2>&1; then
	NEO_TEST_PY_BLOBS="PYTHONPATH='$tmp/neo-client' '$ZODB_PYTHON' '$srcdir/tests/lib/blob_read_neo.py' '$tmp/list.txt'"
else
	echo "# neo.client could not be built here: its reads are not checked"
	tail -n 3 "$tmp/neo-client.log" | sed 's/^/# /'
fi
export NEO_TEST_PY_BLOBS
abs_top_builddir=$builddir "$builddir/tests/cluster/test_fs_blobs" "$tmp" importer
status=$?
for f in "$tmp"/py-cache-*.out; do
	[ -f "$f" ] && ! grep -q '^ok' "$f" && tail -n 5 "$f" | sed 's/^/# /'
done
exit $status
