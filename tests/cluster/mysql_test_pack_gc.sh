#!/bin/sh
# tests/cluster/test_pack_gc with every storage on mysql_innodb.so (a private
# MariaDB server, started and stopped by run_on_engine.sh).
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/lib/run_on_engine.sh" mysql_innodb tests/cluster/test_pack_gc
