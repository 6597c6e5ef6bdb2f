#!/bin/sh
# Runs the backend conformance suite against importer.so over sqlite.so,
# with an empty Data.fs as its source: every operation goes through the
# Importer to the destination (pack's operations show as skips: the
# Importer refuses pack).  tests/cluster/test_importer.sh checks a real
# import.
top_builddir=${abs_top_builddir:-$(pwd)}
scratch=$(mktemp -d /tmp/neo-test-importer-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for name in neo dedup; do
	printf 'FS30' >"$scratch/$name.fs"
	cat >"$scratch/$name.conf" <<END
[neo]
adapter = SQLite
database = $scratch/$name.sqlite

[source]
storage =
  <filestorage>
    path $scratch/$name.fs
  </filestorage>
END
done
"$top_builddir/tests/backend/conformance" "$top_builddir/backends/.libs/importer.so" \
	"$scratch/neo.conf" "$scratch/dedup.conf"
