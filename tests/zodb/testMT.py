"""ZODB's multi-thread tests: threads sharing one storage, and threads
each with its own DB."""

from ZODB.tests.MTStorage import MTStorage

from base import NEOTestBase


class MTTests(NEOTestBase, MTStorage):
    pass
