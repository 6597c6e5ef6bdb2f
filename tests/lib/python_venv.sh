#!/bin/sh
# python_venv.sh VENV REQUIREMENT... - makes the virtualenv VENV (or reuses
# it when it is there) and installs the pip requirements from PyPI into it:
# what the tests that need a real package from PyPI share (tests/zodb/run,
# tests/cluster/test_metrics.sh).  Concurrent runs on one VENV wait for
# each other (flock, when there is one).  PYTHON: the interpreter
# (python3).  Exit status 0, or pip's (the output says why).
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 VENV [REQUIREMENT...]" >&2
	exit 2
fi
venv=$1
shift
python=${PYTHON:-python3}

setup() {
	if [ ! -x "$venv/bin/python" ]; then
		"$python" -m venv "$venv"
	fi
	if [ $# -gt 0 ]; then
		"$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
	fi
}

mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$venv.lock"
	flock 9
fi
setup "$@"
