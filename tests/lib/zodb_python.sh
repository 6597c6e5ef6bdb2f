# tests/lib/zodb_python.sh - sourced by tests that need ZODB from PyPI:
# sets ZODB_PYTHON to a python3 that imports ZODB and BTrees.  It takes
# $NEO_ZODB_VENV, else the build's venv (the one build-aux/quickstart and
# tests/zodb make) when it has ZODB, else a virtualenv shared by the
# builds of this machine, ${TMPDIR:-/tmp}/neo-zodb-venv, made with pip on
# first use (one test at a time makes it: flock), so that the plain, the
# sanitized and the distcheck builds install ZODB once.  When none works,
# ZODB_PYTHON is empty and the test skips.
zodb_python_has() {
	[ -x "$1/bin/python" ] && "$1/bin/python" -c 'import ZODB, BTrees' 2>/dev/null
}

zodb_python_find() {
	ZODB_PYTHON=
	venv=${NEO_ZODB_VENV:-}
	if [ -z "$venv" ]; then
		venv=${abs_top_builddir:-.}/venv
		zodb_python_has "$venv" || venv=${TMPDIR:-/tmp}/neo-zodb-venv
	fi
	if ! zodb_python_has "$venv"; then
		mkdir -p "$(dirname "$venv")"
		(
			flock 9
			if ! [ -x "$venv/bin/python" ]; then
				python3 -m venv "$venv" >/dev/null 2>&1 || exit 1
			fi
			zodb_python_has "$venv" ||
				"$venv/bin/pip" install --quiet --disable-pip-version-check ZODB \
					>/dev/null 2>&1
		) 9>"$venv.lock"
	fi
	if zodb_python_has "$venv"; then
		ZODB_PYTHON=$venv/bin/python
	fi
}
