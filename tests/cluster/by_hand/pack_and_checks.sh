# MODE=A: upstream master/admin + upstream storage old, our storage new
# MODE=B: our master/admin + our storage old, upstream storage new
# pack before the new storage comes (pack state by replication), both
# replicas, pack again, replica checks, then replace
. "$(dirname "$0")/common.sh"
D=${TMPDIR:-/tmp}/mx-E$MODE; rm -rf $D; mkdir -p $D; cd $D
if [ $MODE = A ]; then
  $V/neomaster -c $CL -b $M -m $M -p 4 -r 0 -A 1 -l $D/master.log & echo $! > master.pid
  $V/neoadmin -c $CL -b $ADM -m $M -l $D/admin.log & echo $! > admin.pid
  $V/neostorage -c $CL -b 127.0.0.1:21001 -m $M -a SQLite -d $D/old.db -l $D/old.log & echo $! > old.pid
else
  $B/core/neomaster -c $CL -b $M -m $M -p 4 -r 0 -A 1 -l $D/master.log & echo $! > master.pid
  $B/core/neoadmin -c $CL -b $ADM -m $M -l $D/admin.log & echo $! > admin.pid
  $B/core/neostorage -c $CL -b 127.0.0.1:21001 -m $M -e $B/backends/.libs/sqlite.so -d $D/old.db -l $D/old.log & echo $! > old.pid
fi
waitfor 30 "ctl print cluster" RUNNING || exit 1
$V/python $H/hist.py write $M $CL || exit 1
$V/python $H/pack.py $M $CL || exit 1
$V/python $H/hist.py write $M $CL || exit 1
$V/python $H/hist.py dump $M $CL > before.jsonl
echo "before: $(wc -l < before.jsonl) transactions"
if [ $MODE = A ]; then
  $B/core/neostorage -c $CL -b 127.0.0.1:21002 -m $M -e $B/backends/.libs/sqlite.so -d $D/new.db -l $D/new.log & echo $! > new.pid
else
  $V/neostorage -c $CL -b 127.0.0.1:21002 -m $M -a SQLite -d $D/new.db -l $D/new.log & echo $! > new.pid
fi
waitfor 20 "ctl print node" "21002.*PENDING" || exit 1
NEW=$(ctl print node | grep 21002 | awk '{print $1}'); OLD=$(ctl print node | grep 21001 | awk '{print $1}')
echo "new=$NEW old=$OLD"
ctl add $NEW
ctl set replicas 1
ctl tweak
waitfor 120 "ctl print pt" "^$NEW [A-Z] UUUU" || exit 1
ctl print pt
ctl check 0:$OLD 1:$NEW 2:$OLD 3:$NEW
sleep 4
$V/python $H/hist.py write $M $CL || exit 1
$V/python $H/pack.py $M $CL || exit 1
ctl check 0:$NEW 1:$OLD 2:$NEW 3:$OLD
sleep 4
ctl print pt; ctl print cluster
kill -0 $(cat old.pid) && kill -0 $(cat new.pid) && echo "both storages alive" || { echo "A STORAGE DIED"; exit 1; }
$V/python $H/hist.py dump $M $CL > before2.jsonl
ctl set replicas 0
ctl tweak $OLD
sleep 3
ctl print pt
kill $(cat old.pid); sleep 2
ctl drop $OLD; sleep 1
ctl print pt; ctl print cluster
$V/python $H/hist.py dump $M $CL > after.jsonl
cmp before2.jsonl after.jsonl && echo "HISTORY SAME ($(wc -l < after.jsonl) transactions)" || { echo "HISTORY DIFFERS"; diff before2.jsonl after.jsonl | head -20; }
echo "--- checks:"; grep -hiE "replicas are equal|corrupt|checked|differs|already connected|aborted" *.log | head -30
echo "--- errors:"; grep -hiE "traceback|error|assert" *.log | head -20
for f in *.pid; do kill $(cat $f) 2>/dev/null; done; sleep 1
