#!/bin/sh
# scale_upstream.sh VENV OBJECTS - upstream NEO/py's catch-up speed, by
# hand (not run by make; see bench-scale in tests/bench/bench.am): the
# same shape as tests/bench/scale_bench's catch-up, with upstream's
# programs from VENV (bin/neomaster, neostorage, neoadmin, neoctl and a
# python with neo and ZODB): 1 master, 2 SQLite storages, replicas 1, 12
# partitions, OBJECTS objects of 1 KiB (random bytes, 1000 per
# transaction, stored by upstream's client); then a 3rd empty storage is
# added and the table tweaked, and the time from the tweak until none of
# its cells is OUT_OF_DATE divides the data it received.
venv=${1:?usage: scale_upstream.sh VENV OBJECTS}
objects=${2:-100000}
d=$(mktemp -d "${TMPDIR:-/tmp}/neo-scale-up-XXXXXX")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
m=127.0.0.1:$(port); a=127.0.0.1:$(port)
pids=
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
"$venv/bin/neomaster" -c up -b "$m" -m "$m" -p 12 -r 1 -A 2 -l "$d/m.log" & pids="$pids $!"
"$venv/bin/neoadmin" -c up -b "$a" -m "$m" -l "$d/a.log" & pids="$pids $!"
for i in 0 1; do
	"$venv/bin/neostorage" -c up -b 127.0.0.1:$(port) -m "$m" -a SQLite -d "$d/s$i.db" -l "$d/s$i.log" &
	pids="$pids $!"
done
ctl() { "$venv/bin/neoctl" -a "$a" "$@"; }
until ctl print cluster 2>/dev/null | grep -q RUNNING; do sleep 0.2; done
"$venv/bin/python" - "$m" "$objects" <<'PY'
import os, sys, time
from neo.client.Storage import Storage
from ZODB.Connection import TransactionMetaData
st = Storage(master_nodes=sys.argv[1], name='up')
n = int(sys.argv[2]); t0 = time.time(); done = 0
while done < n:
    txn = TransactionMetaData()
    st.tpc_begin(txn)
    for i in range(min(1000, n - done)):
        st.store(st.new_oid(), b'\0' * 8, os.urandom(1024), '', txn)
    st.tpc_vote(txn); st.tpc_finish(txn); done += 1000
print('upstream: stored %d objects of 1024 bytes in %.1f s' % (n, time.time() - t0))
st.close()
PY
"$venv/bin/neostorage" -c up -b 127.0.0.1:$(port) -m "$m" -a SQLite -d "$d/s2.db" -l "$d/s2.log" &
pids="$pids $!"
until ctl print node 2>/dev/null | grep -q PENDING; do sleep 0.2; done
new=$(ctl print node | grep PENDING | awk '{print $1}')
ctl add "$new"
sleep 1
t0=$(date +%s.%N)
ctl tweak
until ctl print pt 2>/dev/null | grep "^$new " | grep -qv 'O'; do sleep 0.1; done
t1=$(date +%s.%N)
cells=$(ctl print pt | grep "^$new " | awk '{print $3}' | tr -d '.' | tr -d '\n' | wc -c)
python3 -c "t=$t1-$t0; mb=$objects*1024*$cells/12/1e6; print('upstream catch-up of a new storage (%s, %d cells of 12, %.1f MB of object data): %.2f s from the tweak: %.1f MB/s (load average %s)' % ('$new', $cells, mb, t, mb/t, open('/proc/loadavg').read().split()[0]))"
