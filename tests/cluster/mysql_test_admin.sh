#!/bin/sh
# tests/cluster/test_admin with every storage on mysql_innodb.so.
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/lib/run_on_engine.sh" mysql_innodb tests/cluster/test_admin
