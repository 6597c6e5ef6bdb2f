#!/bin/sh
# test_call_graph.sh - no loop of calls between the folders of core/, as
# TAP: call_graph.py reads the object files of the build tree with nm and
# fails on a cycle between folders; cycles between the files of master/
# and client/ are listed as diagnostics.
srcdir=${srcdir:-.}
builddir=${abs_top_builddir:-.}
if ! command -v python3 >/dev/null 2>&1 || ! command -v nm >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 or nm missing"
	exit 0
fi
exec python3 "$srcdir/tests/build/call_graph.py" --tap "$builddir"
