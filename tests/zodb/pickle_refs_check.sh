#!/bin/sh
# tests/zodb/pickle_refs_check.sh BUILDDIR [SCALE]
#
# The pickle scanner of pack's garbage collection (core/pickle/refs.c)
# against ZODB from PyPI: makes a virtualenv as tests/zodb/run does
# (NEO_ZODB_VENV reuses one, ZODB_REQUIREMENTS pins ZODB), has a real ZODB
# write records of many kinds with pickle_refs_gen.py (SCALE, default 5,
# multiplies their number and size) and what its referencesf finds in
# them, and runs tests/unit/test_pickle_refs of BUILDDIR on them (TAP).
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILDDIR [SCALE]" >&2
	exit 2
fi
builddir=$(cd "$1" && pwd)
scale=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
requirements=${ZODB_REQUIREMENTS:-"ZODB[test]==6.4 zodburi==3.0.0"}
test_program=$builddir/tests/unit/test_pickle_refs

if [ ! -x "$test_program" ]; then
	echo "pickle_refs_check: build $test_program first (make check TESTS=)" >&2
	exit 2
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-pickle-refs-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

venv=${NEO_ZODB_VENV:-$scratch/venv}
if [ ! -x "$venv/bin/python" ]; then
	"$python" -m venv "$venv"
fi
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
cd "$scratch"
"$venv/bin/python" "$here/pickle_refs_gen.py" "$scratch/records.json" "$scale" >&2
"$test_program" "$scratch/records.json"
