"""ZODB's RevisionStorage tests: loadSerial and loadBefore."""

from ZODB.tests.RevisionStorage import RevisionStorage

from base import NEOTestBase


class RevisionTests(NEOTestBase, RevisionStorage):
    pass
