"""ZODB's ReadOnlyStorage tests: a client opened with read_only=True."""

from ZODB.tests.ReadOnlyStorage import ReadOnlyStorage

from base import NEOTestBase


class ReadOnlyTests(NEOTestBase, ReadOnlyStorage):
    pass
