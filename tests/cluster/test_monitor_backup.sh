#!/bin/sh
# test_monitor_backup.sh - neoadmin --monitor-backup on real clusters, with
# a real SMTP server and Prometheus parser: runs
# tests/cluster/monitor_backup_check.py (which says what it checks) with
# aiosmtpd and prometheus_client from PyPI, installed in a virtualenv kept
# in the build tree (tests/venv-monitor-backup; NEO_MONITOR_BACKUP_VENV
# names another).  Without PyPI (no network) and no such virtualenv, the
# test is skipped, saying so.
top_builddir=${abs_top_builddir:-$(pwd)}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
venv=${NEO_MONITOR_BACKUP_VENV:-$top_builddir/tests/venv-monitor-backup}

if [ ! -x "$venv/bin/python" ] ||
	! "$venv/bin/python" -c 'import aiosmtpd, prometheus_client' 2>/dev/null; then
	if ! "$python" -m venv "$venv" >/dev/null 2>&1 ||
		! "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd>=1.4' \
			prometheus_client >"$venv.pip.log" 2>&1; then
		echo "1..0 # SKIP cannot install aiosmtpd, prometheus_client from PyPI ($(tail -n 1 "$venv.pip.log" 2>/dev/null))"
		exit 0
	fi
fi
exec "$venv/bin/python" "$here/monitor_backup_check.py" "$top_builddir"
