#!/bin/sh
# test_out_of_tree.sh - a third party builds a backend module against the
# installed header only, drops it in a backends folder, and the loader
# picks it up by engine= name.  TAP output.
#
# It installs this build into a scratch DESTDIR, copies the example module's
# source out of the tree, compiles it with nothing but
# "cc -shared $(pkg-config --cflags neo-backend)", and loads it.

srcdir=${srcdir:-.}
top_builddir=${abs_top_builddir:-$(pwd)}
scratch=$(mktemp -d /tmp/neo-test-oot-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
n=0
failed=0

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

make -C "$top_builddir" install-neoincludeHEADERS install-dist_neoincludeDATA install-pkgconfigDATA \
	DESTDIR="$scratch/root" >"$scratch/install.out" 2>&1
ok $? "the backend header, its contract and neo-backend.pc install"

pcdir=$(find "$scratch/root" -name neo-backend.pc -exec dirname {} \; | head -n 1)
cflags=$(PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$scratch/root" \
	pkg-config --cflags neo-backend 2>/dev/null)
incdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=includedir neo-backend 2>/dev/null)
[ -n "$pcdir" ] && [ -n "$cflags" ] && [ -f "$scratch/root$incdir/neo/backend.h" ]
ok $? "pkg-config --cflags neo-backend finds the installed header ($cflags)"

[ -f "$scratch/root$incdir/neo/backend.md" ]
ok $? "the contract (core/neo/backend.md) is installed beside backend.h"

mkdir -p "$scratch/thirdparty" "$scratch/backends"
cp "$srcdir/tests/backend/example_backend.c" "$scratch/thirdparty/tiny.c"
# shellcheck disable=SC2086
(cd "$scratch/thirdparty" && ${CC:-cc} -shared $cflags -o "$scratch/backends/tiny.so" tiny.c) \
	>"$scratch/cc.out" 2>&1
ok $? "a module builds outside the tree with only those flags"

out=$(NEO_BACKEND_DIR="$scratch/backends" "$top_builddir/tests/backend/test_loader" tiny 2>&1)
echo "$out" | grep -q "loaded example from $scratch/backends/tiny.so"
ok $? "the loader picks it up as engine=tiny ($out)"

# A module built for another ABI: a message and a non-zero exit.
cat >"$scratch/thirdparty/old.c" <<'CODE'
#include <neo/backend.h>
static const struct neo_backend old = { .abi_major = 0, .struct_size = 64, .name = "old" };
NEO_BACKEND_EXPORT const struct neo_backend *neo_backend_entry(uint32_t major)
{
	(void)major;
	return &old;
}
CODE
# shellcheck disable=SC2086
(cd "$scratch/thirdparty" && ${CC:-cc} -shared $cflags -o "$scratch/backends/old.so" old.c) \
	>>"$scratch/cc.out" 2>&1
out=$(NEO_BACKEND_DIR="$scratch/backends" "$top_builddir/tests/backend/test_loader" old 2>&1)
status=$?
[ $status -ne 0 ] && echo "$out" | grep -q "built for backend ABI 0.0"
ok $? "a module built for an older ABI is refused with a message and exit $status"

echo "1..$n"
exit $failed
