# Shared by the by-hand scenarios (see tests/cluster/mixed_by_hand.md).
# V: a virtualenv with upstream NEO and ZODB; B: our build directory.
V=${V:-/tmp/mxvenv/bin}
B=${B:?set B to our build directory (e.g. /path/to/_build)}
H=$(cd "$(dirname "$0")" && pwd)
CL=mx
M=127.0.0.1:21000
ADM=127.0.0.1:21009
ctl() { $V/neoctl -a $ADM "$@"; }
waitfor() { # waitfor SECONDS CMD PATTERN
	local n=0; while [ $n -lt $(($1*2)) ]; do if eval "$2" 2>&1 | grep -q "$3"; then return 0; fi; sleep 0.5; n=$((n+1)); done; echo "TIMEOUT waiting for $3 in: $2"; eval "$2"; return 1; }
