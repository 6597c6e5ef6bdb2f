#!/bin/sh
# test_filestorage.sh - core/filestorage against ZODB's own FileStorage
# (from PyPI, see tests/lib/zodb_python.sh), as TAP: Data.fs files made by
# ZODB (tests/lib/fs_make.py) are dumped record by record by ZODB's
# iterator (tests/lib/fs_dump.py) and by ours (tests/unit/fs_dump), and the
# dumps must be equal; so must they for files cut inside their last
# transaction, and for a copy written by our writer, which ZODB must open.
srcdir=${srcdir:-.}
builddir=${abs_top_builddir:-.}
. "$srcdir/tests/lib/zodb_python.sh"
zodb_python_find
if [ -z "$ZODB_PYTHON" ]; then
	echo "1..0 # SKIP ZODB from PyPI could not be installed"
	exit 0
fi
dump=$builddir/tests/unit/fs_dump
tmp=$(mktemp -d "${TMPDIR:-/tmp}/neo-fs-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
same() {	# same NAME FILE1 FILE2
	if cmp -s "$2" "$3" && [ -s "$2" ]; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diff "$2" "$3" | head -n 10 | sed 's/^/# /'
	fi
}
echo "1..9"

"$ZODB_PYTHON" "$srcdir/tests/lib/fs_make.py" "$tmp/Data.fs" 150 7 >"$tmp/make.log" 2>&1
ok $? "ZODB made a Data.fs (BTrees, mappings, lists, undo, values over 64 KiB)"
"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/Data.fs" --load >"$tmp/py.txt" 2>/dev/null
"$dump" "$tmp/Data.fs" --load >"$tmp/c.txt"
same "every transaction and record as ZODB's iterator, and every current revision" \
	"$tmp/py.txt" "$tmp/c.txt"
grep -q '^R [0-9a-f]* [0-9a-f]* [0-9a-f]\{16\} ' "$tmp/c.txt" &&
	grep -q '^R .* none 0$' "$tmp/c.txt"
ok $? "the file has back pointers, and a record without data (undone creation)"

# Cut inside the last transaction, at its start, and inside its header.
size=$(stat -c %s "$tmp/Data.fs")
last=$(tail -c 8 "$tmp/Data.fs" | od -An -tu8 --endian=big | tr -d ' ')
tpos=$((size - last - 8))
for cut in $((size - 1)) $((tpos + 30)) $((tpos + 10)); do
	head -c "$cut" "$tmp/Data.fs" >"$tmp/cut.fs"
	"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/cut.fs" >"$tmp/pycut.txt" 2>/dev/null
	"$dump" "$tmp/cut.fs" >"$tmp/ccut.txt"
	same "cut at $cut of $size: the same transactions as ZODB's" "$tmp/pycut.txt" "$tmp/ccut.txt"
done

# Our writer: a copy of every transaction, back pointers remapped.
"$dump" --copy "$tmp/Data.fs" "$tmp/copy.fs"
ok $? "the writer copied every transaction"
"$ZODB_PYTHON" "$srcdir/tests/lib/fs_dump.py" "$tmp/copy.fs" --load >"$tmp/pycopy.txt" 2>/dev/null
same "ZODB opens the copy and reads the same records and current revisions" \
	"$tmp/py.txt" "$tmp/pycopy.txt"

printf 'not a FileStorage\n' >"$tmp/text.fs"
"$dump" "$tmp/text.fs" 2>"$tmp/err.txt" >/dev/null
[ $? -ne 0 ] && grep -q "not a FileStorage" "$tmp/err.txt"
ok $? "a file that is not a FileStorage is refused with a message"
