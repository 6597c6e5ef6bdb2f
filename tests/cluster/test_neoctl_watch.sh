#!/bin/sh
# neoctl -w (redraws a print command) and the replication part of
# `neoctl print summary`, on a neosimple cluster (4 partitions, 2
# storages, 1 replica).  Speaks TAP.  The pace and time left of -w are
# checked with fixed times in tests/unit/test_ctl.
top_builddir=${abs_top_builddir:-$(pwd)}
bin=$top_builddir/core
# neosimple finds the modules of its build tree by itself
unset NEO_BACKEND_DIR
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-watch-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
n=0
failed=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

# Inside the cluster: watch for a while, stop it with SIGINT; then stop
# a storage and print the summary once.
cat >"$scratch/inside.sh" <<'INSIDE'
bin=$1
out=$2
"$bin/neoctl" -a "$NEO_ADMIN" -w 0.3 print summary >"$out/watch" 2>&1 &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
echo "$?" >"$out/watch.status"
"$bin/neoctl" -a "$NEO_ADMIN" kill S2 >"$out/kill" 2>&1
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$bin/neoctl" -a "$NEO_ADMIN" print summary >"$out/summary" 2>&1
	grep -q DOWN "$out/summary" && break
	sleep 0.5
done
exit 0
INSIDE

TMPDIR=$scratch timeout 120 "$bin/neosimple" --partitions 4 --replicas 1 --name watchtest \
	db1 db2 -- sh "$scratch/inside.sh" "$bin" "$scratch" >"$scratch/run" 2>&1

rounds=$(grep -c '^Every 0.3s: neoctl print summary ' "$scratch/watch" 2>/dev/null)
[ "$(cat "$scratch/watch.status" 2>/dev/null)" = 0 ] && [ "${rounds:-0}" -ge 3 ]
ok $? "neoctl -w 0.3 print summary redraws ($rounds rounds in 1.5 s) and exits 0 on SIGINT"
[ "$(grep -c '^RUNNING; UP_TO_DATE=8; ltid=' "$scratch/watch")" -ge 3 ] &&
	! grep -q '^replication:' "$scratch/watch"
ok $? "every round is the summary; with every cell up to date, upstream's alone"
[ $failed = 0 ] || sed 's/^/# /' "$scratch/watch" | head -20

grep -q '^RUNNING; OUT_OF_DATE=4, UP_TO_DATE=4; DOWN=1; ltid=' "$scratch/summary" &&
	grep -q '^replication: 4 of 8 cells to catch up$' "$scratch/summary" &&
	[ "$(grep -c '^  partition [0-3]: S2 OUT_OF_DATE$' "$scratch/summary")" = 4 ]
ok $? "a storage stopped: print summary lists its cells to catch up, per partition"
[ $failed = 0 ] || sed 's/^/# /' "$scratch/summary" "$scratch/kill" "$scratch/run" | head -40

echo "1..$n"
exit $failed
