#!/bin/sh
# neosimple's upstream options --seed and --adapter MySQL (issue 16).
# Speaks TAP.
#
#   - --seed: the same seed gives the same cluster name (neo_N, when
#     --name is not given) and the same ports; another seed, another;
#   - --adapter MySQL: on a private MariaDB server (as the mysql_* tests
#     start one: tests/lib/mariadb_server.sh), neosimple makes each
#     DB afresh and its storages run on them; an existing database of
#     that name is replaced, as upstream's test cluster does.  Skipped
#     without a MariaDB server.
top_builddir=${abs_top_builddir:-$(pwd)}
top_srcdir=${srcdir:-$(dirname "$0")/../..}
bin=$top_builddir/core
unset NEO_BACKEND_DIR
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-simpleopt-XXXXXX")
server=$scratch/mariadb
trap 'sh "$top_srcdir/tests/lib/mariadb_server.sh" stop "$server" >/dev/null 2>&1
rm -rf "$scratch"' EXIT
n=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
	fi
}

echo "1..6"

show='echo "cluster $NEO_CLUSTER masters $NEO_MASTER_NODES admin $NEO_ADMIN"'
TMPDIR=$scratch "$bin/neosimple" --seed abc db1 -- sh -c "$show" >"$scratch/seed1" 2>&1
TMPDIR=$scratch "$bin/neosimple" --seed abc db1 -- sh -c "$show" >"$scratch/seed2" 2>&1
TMPDIR=$scratch "$bin/neosimple" --seed xyz db1 -- sh -c "$show" >"$scratch/seed3" 2>&1
line1=$(grep '^cluster ' "$scratch/seed1")
line2=$(grep '^cluster ' "$scratch/seed2")
line3=$(grep '^cluster ' "$scratch/seed3")
echo "# $line1 / $line2 / $line3"
echo "$line1" | grep -q '^cluster neo_[0-9]* masters 127\.0\.0\.1:[0-9]* admin 127\.0\.0\.1:[0-9]*$'
ok $? "--seed without --name: a cluster named neo_N, as upstream"
[ -n "$line1" ] && [ "$line1" = "$line2" ]
ok $? "the same seed gives the same name and ports"
[ -n "$line3" ] && [ "$line1" != "$line3" ]
ok $? "another seed gives another cluster"

if [ ! -f "$top_builddir/backends/.libs/mysql_innodb.so" ]; then
	for i in 4 5 6; do
		echo "ok $i # SKIP the mysql_innodb module is not built"
	done
	exit 0
fi
if ! sh "$top_srcdir/tests/lib/mariadb_server.sh" start "$server" >"$scratch/mariadb.log" 2>&1; then
	for i in 4 5 6; do
		echo "ok $i # SKIP no MariaDB server: $(tail -n 1 "$scratch/mariadb.log")"
	done
	exit 0
fi
# an old database of that name, which neosimple replaces
sh "$top_srcdir/tests/lib/mariadb_server.sh" sql "$server" \
	'CREATE DATABASE db_a; CREATE TABLE db_a.old (x INT)' >/dev/null 2>&1
NEO_DB_SOCKET=$server/mysql.sock TMPDIR=$scratch "$bin/neosimple" --adapter MySQL \
	--partitions 2 --replicas 1 db_a db_b -- \
	sh -c '"$0/neoctl" -a "$NEO_ADMIN" print node storage' "$bin" >"$scratch/mysql" 2>&1
status=$?
[ $status = 0 ]
ok $? "--adapter MySQL: neosimple runs (status $status)"
[ "$(grep -c '| STORAGE | .* | RUNNING |' "$scratch/mysql")" = 2 ]
ok $? "both storages RUNNING on their MySQL databases"
tables=$(sh "$top_srcdir/tests/lib/mariadb_server.sh" sql "$server" \
	'SHOW TABLES FROM db_a' 2>/dev/null | tr '\n' ' ')
echo "# tables of db_a: $tables"
echo " $tables" | grep -q ' obj ' && ! echo " $tables" | grep -q ' old '
ok $? "db_a was made afresh and holds NEO's tables"
exit 0
