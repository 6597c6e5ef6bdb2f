# tests/lib/zodb_python.sh - sourced by tests that need ZODB from PyPI:
# sets ZODB_PYTHON to a python3 that imports ZODB, making the virtualenv
# ${NEO_ZODB_VENV:-$abs_top_builddir/venv} with pip on first use (the one
# build-aux/quickstart and tests/zodb make too).  One test at a time makes
# it (flock).  When neither works, ZODB_PYTHON is empty: the test skips.
zodb_python_find() {
	venv=${NEO_ZODB_VENV:-${abs_top_builddir:-.}/venv}
	ZODB_PYTHON=
	if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import ZODB, BTrees' 2>/dev/null; then
		ZODB_PYTHON=$venv/bin/python
		return 0
	fi
	mkdir -p "$(dirname "$venv")"
	(
		flock 9
		if ! [ -x "$venv/bin/python" ]; then
			python3 -m venv "$venv" >/dev/null 2>&1 || exit 1
		fi
		"$venv/bin/python" -c 'import ZODB, BTrees' 2>/dev/null ||
			"$venv/bin/pip" install --quiet --disable-pip-version-check ZODB >/dev/null 2>&1
	) 9>"$venv.lock"
	if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import ZODB, BTrees' 2>/dev/null; then
		ZODB_PYTHON=$venv/bin/python
	fi
}
