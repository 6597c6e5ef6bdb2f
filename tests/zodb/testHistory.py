"""ZODB's HistoryStorage tests."""

from ZODB.tests.HistoryStorage import HistoryStorage

from base import NEOTestBase


class HistoryTests(NEOTestBase, HistoryStorage):
    pass
