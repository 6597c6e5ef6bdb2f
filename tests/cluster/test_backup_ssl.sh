#!/bin/sh
# tests/cluster/test_backup with TLS on both clusters and on the link
# between them (the backup master and storages use the same --ca/--cert/
# --key towards the upstream cluster), and a backup cluster with one
# replica: a killed backup storage's cells go OUT_OF_DATE, catch up from
# the other backup storage up to the backup tid, and follow the upstream
# cluster again; the backup cluster starts with -B (backup mode from the
# start) instead of neoctl set cluster STARTING_BACKUP.
top_builddir=${abs_top_builddir:-$(pwd)}
NEO_TEST_BACKUP_SSL=1 NEO_TEST_BACKUP_REPLICAS=1 NEO_TEST_BACKUP_B=1 exec "$top_builddir/tests/cluster/test_backup"
