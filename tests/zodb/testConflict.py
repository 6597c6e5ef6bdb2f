"""ZODB's conflict resolution tests: resolved on the client side, at
vote."""

from ZODB.tests.ConflictResolution import ConflictResolvingStorage

from base import NEOTestBase


class ConflictTests(NEOTestBase, ConflictResolvingStorage):
    pass
