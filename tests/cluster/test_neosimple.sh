#!/bin/sh
# neosimple: a whole cluster in one command, with "-- COMMAND" and in the
# foreground until SIGTERM.  Speaks TAP.
top_builddir=${abs_top_builddir:-$(pwd)}
bin=$top_builddir/core
# neosimple finds the modules of its build tree by itself
unset NEO_BACKEND_DIR
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-simple-XXXXXX")
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

echo "1..13"

"$bin/neosimple" --help >"$scratch/help" 2>&1
ok $? "--help exits 0"
grep -q -- '--partitions' "$scratch/help"
ok $? "--help lists the options"

"$bin/neosimple" --bogus db1 >/dev/null 2>"$scratch/bad"
[ $? = 2 ] && grep -q 'unknown option --bogus' "$scratch/bad"
ok $? "a bad option is refused with exit 2 and a message"

# A command run against the cluster, which then stops: the command sees
# the cluster through the environment, its exit status is neosimple's.
TMPDIR=$scratch "$bin/neosimple" --partitions 4 --replicas 1 --name simpletest db1 db2 -- \
	sh -c 'echo "env $NEO_CLUSTER $NEO_MASTER_NODES $NEO_DIR";
		"$0/neoctl" -a "$NEO_ADMIN" print cluster;
		"$0/neoctl" -a "$NEO_ADMIN" print node;
		"$0/neoctl" -a "$NEO_ADMIN" print pt; exit 3' "$bin" >"$scratch/run" 2>&1
ok $([ $? = 3 ]; echo $?) "the command's exit status is neosimple's"
grep -q '^master_nodes=127\.0\.0\.1:[0-9]* name=simpletest$' "$scratch/run"
ok $? "prints master_nodes=... name=... for clients"
grep -q '^env simpletest 127\.0\.0\.1:[0-9]* ' "$scratch/run"
ok $? "the command gets NEO_CLUSTER and NEO_MASTER_NODES"
grep -q '^RUNNING$' "$scratch/run"
ok $? "the cluster is RUNNING when the command starts"
[ "$(grep -c '| STORAGE | .* | RUNNING |' "$scratch/run")" = 2 ]
ok $? "both storages are RUNNING"
grep -q '^# ptid: [0-9]*, replicas: 1$' "$scratch/run"
ok $? "4 partitions, 1 replica"

# Two masters: the primary lists itself, the secondary gets its own id.
# (the spare may identify itself a moment after the cluster runs)
TMPDIR=$scratch "$bin/neosimple" --master_count 2 db1 -- \
	sh -c 'for i in $(seq 1 50); do
		"$0/neoctl" -a "$NEO_ADMIN" print node master >"$1"
		grep -q "^M2 " "$1" && break; sleep 0.1; done' "$bin" "$scratch/masters" >/dev/null 2>&1
grep -q '^M1 | MASTER ' "$scratch/masters" && grep -q '^M2 | MASTER ' "$scratch/masters"
ok $? "two masters show as M1 and M2"

# In the foreground until SIGTERM, in a given directory that stays.
"$bin/neosimple" --temp_dir "$scratch/fg" db1 >"$scratch/fg.out" 2>&1 &
pid=$!
for i in $(seq 1 100); do
	grep -q '^master_nodes=' "$scratch/fg.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^master_nodes=' "$scratch/fg.out"
ok $? "in the foreground, running after start"
kill -TERM $pid
wait $pid
ok $? "SIGTERM stops it with status 0"
# every node is gone and the directory with its logs stays
sleep 0.2
! pgrep -f "$scratch/fg/" >/dev/null && [ -f "$scratch/fg/db1.sqlite" ] && [ -f "$scratch/fg/master0.log" ]
ok $? "every node stopped; the given directory keeps databases and logs"
exit 0
