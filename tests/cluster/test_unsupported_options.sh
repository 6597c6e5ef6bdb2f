#!/bin/sh
# Options upstream accepts for features this NEO does not have yet (backup
# mode, watching backup clusters) are refused with a message naming them, from the
# command line and from neo.conf, never ignored.  Speaks TAP.
top_builddir=${abs_top_builddir:-$(pwd)}
bin=$top_builddir/core
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-unsupported-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
n=0

# refused NAME WHAT PROGRAM ARGS...: exit status 2 and a message naming WHAT.
refused() {
	name=$1
	what=$2
	shift 2
	timeout 10 "$@" >"$scratch/out" 2>&1
	status=$?
	n=$((n + 1))
	if [ $status -eq 2 ] && grep -q -- "$what.*not supported" "$scratch/out"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name (status $status: $(head -c 300 "$scratch/out"))"
	fi
}

echo "1..5"
refused "neomaster --backup" "--backup" "$bin/neomaster" --cluster t --backup
refused "neomaster --upstream-cluster" "--upstream-cluster" \
	"$bin/neomaster" --cluster t --upstream-cluster up
refused "neomaster -M" "--upstream-masters" "$bin/neomaster" --cluster t -M 127.0.0.1:1
refused "neoadmin --monitor-backup" "--monitor-backup" \
	"$bin/neoadmin" --cluster t --monitor-backup backup1 --monitor-maxlag 30
cat >"$scratch/neo.conf" <<CONF
[DEFAULT]
cluster: t
[master]
upstream_cluster: production
CONF
refused "upstream_cluster in neo.conf" "--upstream-cluster" \
	"$bin/neomaster" --file "$scratch/neo.conf" --section master
