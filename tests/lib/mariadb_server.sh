#!/bin/sh
# mariadb_server.sh - a private MariaDB server for tests, run as the
# current user from a scratch directory; never the system's datadir or
# service.
#
#   mariadb_server.sh start DIR [DATABASE...]
#       initialises DIR/data (once), starts the server on the Unix socket
#       DIR/mysql.sock with networking off, waits until it answers and
#       creates each DATABASE (default: neo).  User root, no password:
#       mysql_innodb.so reaches it as database=root@DATABASE$DIR/mysql.sock.
#   mariadb_server.sh sql DIR STATEMENT...
#       runs statements as root (e.g. KILL, CREATE DATABASE), prints rows.
#   mariadb_server.sh stop DIR
#       shuts the server down and waits until it is gone; DIR is kept.
#
# The server comes from Debian's mariadb-server package.
set -e

die() {
	echo "mariadb_server.sh: $*" >&2
	exit 1
}

# The first of several names found in PATH or /usr/sbin (Debian's
# mariadbd is not in a user's PATH).
find_program() {
	for name in "$@"; do
		for dir in $(echo "$PATH" | tr ':' ' ') /usr/sbin /usr/local/sbin; do
			if [ -x "$dir/$name" ]; then
				echo "$dir/$name"
				return 0
			fi
		done
	done
	return 1
}

need_programs() {
	server=$(find_program mariadbd mysqld) ||
		die "no MariaDB server (mariadbd): install the Debian package mariadb-server"
	install_db=$(find_program mariadb-install-db mysql_install_db) ||
		die "no mariadb-install-db: install the Debian package mariadb-server"
	client=$(find_program mariadb mysql) ||
		die "no MariaDB client (mariadb): install the Debian package mariadb-client"
	admin=$(find_program mariadb-admin mysqladmin) ||
		die "no mariadb-admin: install the Debian package mariadb-client"
}

client_run() {
	"$client" --no-defaults --socket="$dir/mysql.sock" --user=root --batch --skip-column-names "$@"
}

answers() {
	"$admin" --no-defaults --socket="$dir/mysql.sock" --user=root ping >/dev/null 2>&1
}

server_pid() {
	[ -s "$dir/started.pid" ] && cat "$dir/started.pid"
}

# Only the server this script started, found by the pid this script
# recorded.  Not mariadbd's own --pid-file: the server truncates and
# rewrites that one while it starts, and a check that found it empty then
# took a starting server for a dead one.
server_running() {
	pid=$(server_pid) && kill -0 "$pid" 2>/dev/null
}

init_datadir() {
	[ -d "$dir/data/mysql" ] && return 0
	mkdir -p "$dir/data"
	# "normal" root authentication: root@localhost without a password, so
	# that tests need not run as the OS user root.
	# --tmpdir: the bootstrap's temporary tables go to /tmp otherwise,
	# where two installs started at once (make -j2 check) clash on their
	# names and one aborts ("Error on delete of '/tmp/#sql-temptable-...").
	TMPDIR="$dir" "$install_db" --no-defaults --datadir="$dir/data" --user="$(id -un)" \
		--auth-root-authentication-method=normal --skip-test-db --tmpdir="$dir" \
		>"$dir/install.log" 2>&1 ||
		die "mariadb-install-db failed; see $dir/install.log: $(tail -n 5 "$dir/install.log")"
}

start_server() {
	# --user: mariadbd refuses root unless told to run as root.
	# max_allowed_packet: mysql_innodb.so needs 32 MiB at least.
	"$server" --no-defaults --datadir="$dir/data" --socket="$dir/mysql.sock" \
		--skip-networking --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" \
		--tmpdir="$dir" --user="$(id -un)" --max-allowed-packet=128M \
		--innodb-buffer-pool-size=128M --skip-name-resolve \
		>"$dir/server.out" 2>&1 </dev/null &
	echo $! >"$dir/started.pid"
}

wait_until_answering() {
	tries=0
	until answers; do
		server_running || die "the server stopped while starting: $(tail -n 20 "$dir/error.log" 2>/dev/null)"
		tries=$((tries + 1))
		[ $tries -lt 600 ] || die "the server did not answer within 60 s; see $dir/error.log"
		sleep 0.1
	done
}

cmd_start() {
	need_programs
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# A Unix socket path must fit in sun_path (108 bytes).
	[ ${#dir} -lt 90 ] || die "directory name too long for a Unix socket: $dir"
	if server_running && answers; then
		die "a server already runs in $dir"
	fi
	init_datadir
	start_server
	wait_until_answering
	[ $# -gt 0 ] || set -- neo
	for db in "$@"; do
		client_run -e "CREATE DATABASE IF NOT EXISTS \`$db\`" ||
			die "cannot create database $db"
	done
}

cmd_stop() {
	need_programs
	server_running || return 0
	"$admin" --no-defaults --socket="$dir/mysql.sock" --user=root shutdown >/dev/null 2>&1 ||
		kill "$(server_pid)" 2>/dev/null || true
	tries=0
	while server_running; do
		tries=$((tries + 1))
		if [ $tries -ge 300 ]; then
			kill -9 "$(server_pid)" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$dir/started.pid"
}

cmd_sql() {
	need_programs
	for statement in "$@"; do
		client_run -e "$statement"
	done
}

[ $# -ge 2 ] || die "usage: mariadb_server.sh start|stop|sql DIR [ARGS...]"
command=$1
dir=$2
shift 2
case $command in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
sql) cmd_sql "$@" ;;
*) die "unknown command '$command' (start, stop or sql)" ;;
esac
