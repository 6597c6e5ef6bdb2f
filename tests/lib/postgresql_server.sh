#!/bin/sh
# postgresql_server.sh - a private PostgreSQL server for benchmarks, from
# a scratch directory; never the system's data directory or service.
#
#   postgresql_server.sh start DIR [DATABASE...]
#       initialises DIR/data (once), starts the server on a Unix socket in
#       DIR with networking off, waits until it answers and creates each
#       DATABASE (default: neo).  User postgres, trust authentication:
#       a client connects with "host=DIR user=postgres dbname=DATABASE".
#   postgresql_server.sh stop DIR
#       shuts the server down (fast) and waits until it is gone; DIR is kept.
#
# The server comes from Debian's postgresql package.  PostgreSQL refuses
# to run as root: as root, the server runs as the postgres user (which
# the package creates), and DIR is made reachable to it.  Durability
# settings are the server's defaults (fsync and synchronous_commit on).
set -e

die() {
	echo "postgresql_server.sh: $*" >&2
	exit 1
}

# Debian keeps the server's programs out of PATH, under its version.
find_bindir() {
	for candidate in $(command -v pg_ctl 2>/dev/null | xargs -r readlink -f | xargs -r dirname) \
			 $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -r); do
		if [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/initdb" ] &&
		   [ -x "$candidate/createdb" ]; then
			echo "$candidate"
			return 0
		fi
	done
	return 1
}

# Runs a server program as the user that owns the data.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd_start() {
	bindir=$(find_bindir) || die "no PostgreSQL server: install the Debian package postgresql"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# A Unix socket path must fit in sun_path (108 bytes).
	[ ${#dir} -lt 80 ] || die "directory name too long for a Unix socket: $dir"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root needs the postgres user"
		chown postgres "$dir"
		chmod 0755 "$dir"
		parent=$(dirname "$dir")
		# the server must reach DIR: traversal only, nothing listed
		chmod o+x "$parent" 2>/dev/null || true
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-instructions \
			>"$dir/initdb.log" 2>&1 ||
			die "initdb failed; see $dir/initdb.log: $(tail -n 5 "$dir/initdb.log")"
	fi
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-k $dir -c listen_addresses=''" start >/dev/null ||
		die "the server did not start; see $dir/server.log: $(tail -n 5 "$dir/server.log")"
	[ $# -gt 0 ] || set -- neo
	for db in "$@"; do
		as_owner "$bindir/createdb" -h "$dir" -U postgres "$db" 2>/dev/null ||
			as_owner "$bindir/psql" -h "$dir" -U postgres -tAc \
				"SELECT 1 FROM pg_database WHERE datname = '$db'" postgres | grep -q 1 ||
			die "cannot create database $db"
	done
}

cmd_stop() {
	bindir=$(find_bindir) || die "no PostgreSQL server: install the Debian package postgresql"
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

[ $# -ge 2 ] || die "usage: postgresql_server.sh start|stop DIR [DATABASE...]"
command=$1
dir=$2
shift 2
case $command in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
*) die "unknown command $command" ;;
esac
