#!/bin/sh
# tests/bench/pack_bench.sh BUILDDIR [OBJECTS] [STORAGES]
#
# Pack with garbage collection on a NEO cluster of BUILDDIR (STORAGES
# SQLite storages, 2 by default) next to FileStorage's on the same
# database of OBJECTS objects (1000000 by default), half unreachable: see
# pack_bench.py.  Makes a virtualenv with ZODB from PyPI and neo.client
# built against BUILDDIR (NEO_ZODB_VENV reuses one).
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILDDIR [OBJECTS] [STORAGES]" >&2
	exit 2
fi
builddir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-pack-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
venv=${NEO_ZODB_VENV:-$scratch/venv}
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv"
fi
pip="$venv/bin/pip --quiet --disable-pip-version-check"
$pip install "ZODB==6.4"
cp -R "$srcdir/modules/python" "$scratch/neo-client"
NEO_SRCDIR=$srcdir NEO_BUILDDIR=$builddir $pip install --force-reinstall --no-deps \
	"$scratch/neo-client"
cd "$scratch"
"$venv/bin/python" "$here/pack_bench.py" "$builddir" "$@"
