#!/bin/sh
# tests/cluster/test_backup with TLS on both clusters and on the link
# between them (the backup master and storages use the same --ca/--cert/
# --key towards the upstream cluster).
top_builddir=${abs_top_builddir:-$(pwd)}
NEO_TEST_BACKUP_SSL=1 exec "$top_builddir/tests/cluster/test_backup"
