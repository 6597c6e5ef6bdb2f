#!/bin/sh
# tests/bench/zodb_bench.sh BUILDDIR [OUTDIR] [zodb_bench.py options]
#
# Our NEO cluster next to ZEO, RelStorage (over SQLite, and over a
# private PostgreSQL server when Debian's postgresql is installed) and
# FileStorage on the same ZODB workloads (see zodb_bench.py): makes a
# virtualenv with ZODB, ZEO, RelStorage, psycopg2-binary and matplotlib
# from PyPI and neo.client built against
# BUILDDIR, runs every contender, and writes OUTDIR/zodb_bench.md (the
# table) and OUTDIR/zodb_bench.png (the plot).  OUTDIR defaults to
# BUILDDIR/bench.  NEO_BENCH_VENV reuses a virtualenv.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILDDIR [OUTDIR] [options]" >&2
	exit 2
fi
builddir=$(cd "$1" && pwd)
shift
outdir=$builddir/bench
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	outdir=$1
	shift
fi
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

venv=${NEO_BENCH_VENV:-$outdir/venv}
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv"
fi
pip="$venv/bin/pip --quiet --disable-pip-version-check"
$pip install "ZODB>=6" "ZEO>=6" "RelStorage[sqlite3]>=4" psycopg2-binary matplotlib
rm -rf "$outdir/neo-client"
cp -R "$srcdir/modules/python" "$outdir/neo-client"
NEO_SRCDIR=$srcdir NEO_BUILDDIR=$builddir $pip install --force-reinstall --no-deps \
	"$outdir/neo-client"
rm -rf "$outdir/neo-client"
exec "$venv/bin/python" "$here/zodb_bench.py" "$builddir" "$outdir" "$@"
