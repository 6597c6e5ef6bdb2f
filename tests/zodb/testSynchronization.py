"""ZODB's Synchronization tests: two-phase commit calls out of turn."""

from ZODB.tests.Synchronization import SynchronizedStorage

from base import NEOTestBase


class SynchronizationTests(NEOTestBase, SynchronizedStorage):
    pass
