#!/bin/sh
# Runs the backend conformance suite against mysql_innodb.so on a private
# MariaDB server (mariadb_server.sh, Debian package mariadb-server), then
# the lost-connection checks (mysql_reconnect).  The server is stopped and
# its directory removed whatever happens.  The two TAP streams are
# renumbered into one, with one plan.
top_builddir=${abs_top_builddir:-$(pwd)}
srcdir=${srcdir:-$(dirname "$0")/../..}
server="$srcdir/tests/lib/mariadb_server.sh"
module="$top_builddir/backends/.libs/mysql_innodb.so"
scratch=$(mktemp -d /tmp/neo-test-mysql-XXXXXX)
trap 'sh "$server" stop "$scratch" >/dev/null 2>&1; rm -rf "$scratch"' EXIT
trap 'exit 1' HUP INT TERM

if ! sh "$server" start "$scratch" neo neo_dedup neo_reconnect; then
	echo "Bail out! cannot start a private MariaDB server: install the Debian package mariadb-server"
	exit 1
fi
socket="$scratch/mysql.sock"
status=0
"$top_builddir/tests/backend/conformance" "$module" "root@neo$socket" "root@neo_dedup$socket" \
	>"$scratch/conformance.tap" || status=1
"$top_builddir/tests/backend/mysql_reconnect" "$module" "$scratch" "$server" \
	>"$scratch/reconnect.tap" || status=1
awk '
/^1\.\.[0-9]+/ { next }
/^ok [0-9]+/ { n++; sub(/^ok [0-9]+/, "ok " n); print; next }
/^not ok [0-9]+/ { n++; sub(/^not ok [0-9]+/, "not ok " n); print; next }
{ print }
END { print "1.." n }
' "$scratch/conformance.tap" "$scratch/reconnect.tap"
exit $status
