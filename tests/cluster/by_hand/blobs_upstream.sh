#!/bin/sh
# Blobs kept by upstream's master and storage, by hand (not run by make
# check: it needs upstream NEO; core/client/blobs.md says what it shows).
#   UP: bin directory of a virtualenv with upstream NEO and ZODB
#   OURS: python of a virtualenv with our neo.client and ZODB
# Our client stores a 5 MiB blob, replaces it, undoes the replacement and
# reads it back through a new cache, on an upstream master and SQLite
# storage; then upstream's client opens the same database: it sees the
# Blob object (and cannot open its blob: upstream's Storage has no
# loadBlob).
set -eu
UP=${UP:?set UP to the bin directory of an upstream NEO virtualenv}
OURS=${OURS:?set OURS to the python of a virtualenv with our neo.client}
H=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/neo-blobs-upstream-XXXXXX)
M=127.0.0.1:21100
S=127.0.0.1:21101
"$UP/neomaster" -c up -b $M -m $M -p 2 -r 0 -A 1 -l "$D/master.log" >/dev/null 2>&1 &
mp=$!
"$UP/neostorage" -c up -b $S -m $M -a SQLite -d "$D/storage.db" -l "$D/storage.log" \
	>/dev/null 2>&1 &
sp=$!
trap 'kill $mp $sp 2>/dev/null; wait' EXIT
sleep 3
"$OURS" "$H/blobs_ours.py" $M "$D"
"$UP/python" "$H/blobs_theirs.py" $M 2>/dev/null
echo "logs in $D"
