#!/bin/sh
# test_manpages.sh - the manual pages (man/), as TAP: each renders with
# "man -l" without a groff warning, and every long option that a
# program's --help prints is in its page, so that the pages and --help
# stay in step.  A program this build does not have (neomigrate, built
# with Python's part) is skipped for the second check.
top_builddir=${abs_top_builddir:-$(pwd)}
top_srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-manpages-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
n=0
failed=0

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

if ! command -v man >/dev/null 2>&1; then
	echo "1..0 # SKIP man is not installed (Debian package man-db)"
	exit 0
fi

# page NAME SECTION: the page as text, one paragraph a line, plain ASCII.
page() {
	MANWIDTH=1000 MAN_KEEP_FORMATTING= man --warnings -E ascii -l \
		"$top_srcdir/man/$1.$2" 2>"$scratch/$1.err"
}

for p in neomaster:1 neostorage:1 neoadmin:1 neoctl:1 neosimple:1 neomigrate:1 neo-selftest:1 \
	neo.conf:5; do
	name=${p%:*}
	section=${p#*:}
	page "$name" "$section" >"$scratch/$name.txt"
	[ -s "$scratch/$name.txt" ] && [ ! -s "$scratch/$name.err" ] &&
		grep -q "^NAME" "$scratch/$name.txt"
	ok $? "man -l $name.$section renders without warnings"
	[ -s "$scratch/$name.err" ] && sed 's/^/# /' "$scratch/$name.err"
done

for name in neomaster neostorage neoadmin neoctl neosimple neomigrate neo-selftest; do
	program=$top_builddir/core/$name
	if [ ! -x "$program" ]; then
		n=$((n + 1))
		echo "ok $n - $name --help options in $name.1 # SKIP no $program in this build"
		continue
	fi
	"$program" --help >"$scratch/$name.help" 2>&1
	missing=
	for option in $(grep -o -- '--[a-z][a-z0-9_-]*' "$scratch/$name.help" | sort -u); do
		grep -q -- "$option\\b" "$scratch/$name.txt" || missing="$missing $option"
	done
	[ -z "$missing" ]
	ok $? "every option of $name --help is in $name.1${missing:+ (missing:$missing)}"
done

echo "1..$n"
exit $failed
