#!/bin/sh
# run_on_engine.sh ENGINE PROGRAM [ARG...] - runs a cluster test (from the
# build directory), with ARGs, with every storage on the backend module ENGINE (sqlite,
# rocksdb, mysql_innodb).  For mysql_innodb it starts a private MariaDB
# server first and stops it after (tests/lib/mariadb_server.sh).
engine=$1
program=$2
shift 2
top_builddir=${abs_top_builddir:-$(pwd)}
top_srcdir=${srcdir:-$(dirname "$0")/../..}

NEO_TEST_ENGINE=$engine
export NEO_TEST_ENGINE
if [ "$engine" != mysql_innodb ]; then
	exec "$top_builddir/$program" "$@"
fi

server=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-mariadb-XXXXXX")
# With NEO_TEST_KEEP_FAILED set, a failing test keeps the server's files
# (its databases) for diagnosis, as it keeps its cluster directory.
status=1
trap 'sh "$top_srcdir/tests/lib/mariadb_server.sh" stop "$server" >/dev/null 2>&1
if [ $status -ne 0 ] && [ -n "$NEO_TEST_KEEP_FAILED" ]; then
	echo "# MariaDB files kept in $server"
else
	rm -rf "$server"
fi' EXIT
if ! sh "$top_srcdir/tests/lib/mariadb_server.sh" start "$server" neo >"$server.log" 2>&1; then
	echo "Bail out! no MariaDB server: $(tail -n 1 "$server.log")"
	rm -f "$server.log"
	exit 1
fi
rm -f "$server.log"
NEO_TEST_MYSQL_SOCKET=$server/mysql.sock
NEO_TEST_MYSQL_DIR=$server
NEO_TEST_MYSQL_SCRIPT=$top_srcdir/tests/lib/mariadb_server.sh
export NEO_TEST_MYSQL_SOCKET NEO_TEST_MYSQL_DIR NEO_TEST_MYSQL_SCRIPT
"$top_builddir/$program" "$@"
status=$?
exit $status
