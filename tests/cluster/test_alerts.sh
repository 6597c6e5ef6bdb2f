#!/bin/sh
# test_alerts.sh - neoadmin's monitoring mails against a real SMTP server:
# runs tests/cluster/alerts_check.py (which says what it checks) with
# aiosmtpd from PyPI, installed in a virtualenv kept in the build tree
# (tests/venv-alerts; NEO_ALERTS_VENV names another).  Without PyPI (no
# network) and no such virtualenv, the test is skipped, saying so.
top_builddir=${abs_top_builddir:-$(pwd)}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
venv=${NEO_ALERTS_VENV:-$top_builddir/tests/venv-alerts}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
	if ! "$python" -m venv "$venv" >/dev/null 2>&1 ||
		! "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd>=1.4' \
			>"$venv.pip.log" 2>&1; then
		echo "1..0 # SKIP cannot install aiosmtpd from PyPI ($(tail -n 1 "$venv.pip.log" 2>/dev/null))"
		exit 0
	fi
fi
if ! command -v openssl >/dev/null 2>&1; then
	echo "1..0 # SKIP no openssl command (the SMTP server's certificate)"
	exit 0
fi
exec "$venv/bin/python" "$here/alerts_check.py" "$top_builddir"
