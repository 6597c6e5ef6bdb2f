"""ZODB's PersistentStorage tests: data stays across a close and an
open."""

from ZODB.tests.PersistentStorage import PersistentStorage

from base import NEOTestBase


class PersistentTests(NEOTestBase, PersistentStorage):
    pass
