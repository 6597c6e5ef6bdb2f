#!/bin/sh
# make_fixtures.sh VENV OUT - makes tests/data/upstream_v4_{sqlite,mysql}.sql
# again with upstream NEO's own nodes (installed in the virtualenv VENV,
# e.g. pip install -e 'neoppod[client,storage-sqlite,storage-pymysql]')
# and a private MariaDB server (tests/lib/mariadb_server.sh).  Not run by
# make check.  Writes OUT/upstream_v4_sqlite.sql and OUT/upstream_v4_mysql.sql.
set -e
venv=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$here/../../..
scratch=$(mktemp -d /tmp/neo-upstream-fixture-XXXXXX)
bin=$venv/bin
master=127.0.0.1:24500

cluster() {	# ADAPTER DATABASE1 DATABASE2
	"$bin/neomaster" -c upstream -b $master -A 2 -p 3 -r 1 -l "$scratch/master.log" &
	pids=$!
	sleep 1
	"$bin/neostorage" -c upstream -b 127.0.0.1:24501 -m $master -a "$1" -d "$2" \
		-l "$scratch/s1.log" &
	pids="$pids $!"
	"$bin/neostorage" -c upstream -b 127.0.0.1:24502 -m $master -a "$1" -d "$3" \
		-l "$scratch/s2.log" &
	pids="$pids $!"
	"$bin/neoadmin" -c upstream -b 127.0.0.1:24503 -m $master -l "$scratch/admin.log" &
	pids="$pids $!"
	sleep 4
	"$bin/python" "$here/commit.py" $master upstream
	"$bin/neoctl" -a 127.0.0.1:24503 set cluster STOPPING
	sleep 2
	kill $pids 2>/dev/null || true
	wait 2>/dev/null || true
}

cluster SQLite "$scratch/1.sqlite" "$scratch/2.sqlite"
for db in "$scratch/1.sqlite" "$scratch/2.sqlite"; do
	if [ "$(sqlite3 "$db" "SELECT value FROM config WHERE name = 'nid'")" = 1 ]; then
		sqlite3 "$db" .dump >"$out/upstream_v4_sqlite.sql"
	fi
done

sh "$srcdir/tests/lib/mariadb_server.sh" start "$scratch/mariadb" up1 up2 >/dev/null
socket=$scratch/mariadb/mysql.sock
cluster PyMySQL "root@up1$socket" "root@up2$socket"
for db in up1 up2; do
	if [ "$(mysql -N -u root -S "$socket" $db -e "SELECT value FROM config WHERE name = 'nid'")" = 1 ]; then
		mariadb-dump -S "$socket" -u root --skip-comments --skip-dump-date --hex-blob \
			--skip-extended-insert --compact $db | grep -v '^/\*M!999999' \
			>"$out/upstream_v4_mysql.sql"
	fi
done
sh "$srcdir/tests/lib/mariadb_server.sh" stop "$scratch/mariadb" >/dev/null
rm -rf "$scratch"
