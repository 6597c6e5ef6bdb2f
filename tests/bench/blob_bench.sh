#!/bin/sh
# tests/bench/blob_bench.sh BUILDDIR [OUTDIR] [blob_bench.py options]
#
# Blob write and read throughput (1 MiB and 100 MiB blobs) of our NEO
# cluster, ZEO's blob server and RelStorage+PostgreSQL's in-database
# blobs (a private server: tests/lib/postgresql_server.sh, Debian's
# postgresql package), in one run (see blob_bench.py): makes a
# virtualenv with ZODB, ZEO, RelStorage and psycopg2-binary from PyPI
# and neo.client built against BUILDDIR.  OUTDIR (scratch files: about
# 3 x 200 MiB) defaults to BUILDDIR/bench.  NEO_BENCH_VENV reuses a
# virtualenv.
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
$pip install "ZODB>=6" "ZEO>=6" "RelStorage[sqlite3]>=4" psycopg2-binary
rm -rf "$outdir/neo-client"
cp -R "$srcdir/modules/python" "$outdir/neo-client"
NEO_SRCDIR=$srcdir NEO_BUILDDIR=$builddir $pip install --force-reinstall --no-deps \
	"$outdir/neo-client"
rm -rf "$outdir/neo-client"
exec "$venv/bin/python" "$here/blob_bench.py" "$builddir" "$outdir" "$@"
