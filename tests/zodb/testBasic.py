"""ZODB's BasicStorage tests (with its race tests, RaceTests)."""

from ZODB.tests.BasicStorage import BasicStorage

from base import NEOTestBase


class BasicTests(NEOTestBase, BasicStorage):
    pass
