#!/bin/sh
# A shorter fault campaign (tests/faults/faults) on mysql_innodb.so (a
# private MariaDB server, started and stopped by run_on_engine.sh), fixed seed.
NEO_TEST_KEEP_FAILED=1; export NEO_TEST_KEEP_FAILED
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/lib/run_on_engine.sh" mysql_innodb \
	tests/faults/faults --seed 44 --seconds 20
