#!/bin/sh
# Options upstream accepts for features this NEO does not have yet would
# be refused with a message naming them, never ignored (none left:
# --monitor-backup, the last one, is now served and runs here); backup
# mode's options are checked as upstream checks them.  Speaks TAP.
top_builddir=${abs_top_builddir:-$(pwd)}
bin=$top_builddir/core
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-unsupported-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
n=0

# failed NAME WHAT PROGRAM ARGS...: a non-zero exit status and a message
# containing WHAT.
failed() {
	name=$1
	what=$2
	shift 2
	timeout 10 "$@" >"$scratch/out" 2>&1
	status=$?
	n=$((n + 1))
	if [ $status -ne 0 ] && [ $status -ne 124 ] && grep -q -- "$what" "$scratch/out"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name (status $status: $(head -c 300 "$scratch/out"))"
	fi
}

# runs NAME PROGRAM ARGS...: still running after 2 s, without "not supported".
runs() {
	name=$1
	shift
	timeout 2 "$@" >"$scratch/out" 2>&1
	status=$?
	n=$((n + 1))
	if [ $status -eq 124 ] && ! grep -q "not supported" "$scratch/out"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name (status $status: $(head -c 300 "$scratch/out"))"
	fi
}

echo "1..4"
# tests/cluster/test_monitor_backup.sh shows it working
runs "neoadmin --monitor-backup is accepted (watching backup clusters)" \
	"$bin/neoadmin" --cluster t -m 127.0.0.1:1 -b 127.0.0.1:0 --monitor-backup backup1 \
	--monitor-maxlag 30 --monitor-interval 5
# Backup mode (tests/cluster/test_backup shows it working).
failed "neomaster --upstream-cluster without --upstream-masters" "needs --upstream-masters" \
	"$bin/neomaster" --cluster t --upstream-cluster up -b 127.0.0.1:0
failed "neomaster -C naming its own cluster" "must be different" \
	"$bin/neomaster" --cluster t -C t -M 127.0.0.1:1 -b 127.0.0.1:0
cat >"$scratch/neo.conf" <<CONF
[DEFAULT]
cluster: t
[master]
bind: 127.0.0.1:0
upstream_cluster: production
CONF
failed "upstream_cluster in neo.conf is read" "needs --upstream-masters" \
	"$bin/neomaster" --file "$scratch/neo.conf" --section master
