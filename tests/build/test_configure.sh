#!/bin/sh
# test_configure.sh - configure's promises, as TAP:
#   - a missing required library stops configure with the Debian package
#     to install;
#   - --without-<backend> turns a module off, and the summary says so.
# It runs the real configure in scratch build directories, hiding one
# library at a time from pkg-config with a private PKG_CONFIG_LIBDIR.
#
# configure runs from a copy of the distributed sources ("make distdir" of
# this build), not from $srcdir: configure refuses a build directory apart
# from a source directory that is itself configured (an in-source build,
# as README's Building section does), and the copy is what a release
# tarball holds, git or not.

top_builddir=${abs_top_builddir:-$(pwd)}
scratch=$(mktemp -d /tmp/neo-test-configure-XXXXXX)
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

# A pkg-config directory holding every .pc file but those named.
pc_dir_without() {
	dir="$scratch/pc-$1"
	mkdir -p "$dir"
	for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
		[ -d "$d" ] && for f in "$d"/*.pc; do
			[ -e "$f" ] && ln -sf "$f" "$dir/" 2>/dev/null
		done
	done
	for name in "$@"; do
		rm -f "$dir/$name.pc"
	done
	echo "$dir"
}

# The sources as a tarball would hold them.  MAKEFLAGS is not passed on:
# the jobserver and command-line variables of the "make check" running
# this test are none of distdir's business.
top="$scratch/src"
if ! MAKEFLAGS= ${MAKE:-make} -C "$top_builddir" distdir distdir="$top" >"$scratch/distdir.out" 2>&1 ||
	[ ! -x "$top/configure" ]; then
	echo "Bail out! make distdir into $top failed: $(tail -n 1 "$scratch/distdir.out")"
	exit 1
fi

expect_missing() {
	pc=$1
	package=$2
	dir=$(pc_dir_without "$pc")
	mkdir -p "$scratch/build-$pc"
	(cd "$scratch/build-$pc" && PKG_CONFIG_LIBDIR="$dir" PKG_CONFIG_PATH= \
		"$top/configure" --without-rocksdb --without-mysql >out 2>&1)
	status=$?
	grep -q "install the Debian package $package" "$scratch/build-$pc/out"
	found=$?
	[ $status -ne 0 ] && [ $found -eq 0 ]
	ok $? "without $pc.pc, configure fails naming $package"
}

expect_missing msgpack libmsgpack-dev
expect_missing libevent_core libevent-dev
expect_missing openssl libssl-dev
expect_missing sqlite3 libsqlite3-dev

mkdir -p "$scratch/build-without"
(cd "$scratch/build-without" && "$top/configure" --without-rocksdb --without-mysql >out 2>&1)
ok $? "configure --without-rocksdb --without-mysql succeeds"
grep -q 'rocksdb.so \.* no' "$scratch/build-without/out" &&
	grep -q 'mysql_innodb.so \.* no' "$scratch/build-without/out" &&
	grep -q 'sqlite.so \.* yes' "$scratch/build-without/out"
ok $? "the summary shows which backend modules will be built"

echo "1..$n"
exit $failed
