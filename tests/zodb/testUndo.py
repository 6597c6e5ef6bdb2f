"""ZODB's undo tests, with undo conflicts resolved on the client side."""

from ZODB.tests.ConflictResolution import ConflictResolvingTransUndoStorage
from ZODB.tests.TransactionalUndoStorage import TransactionalUndoStorage

from base import NEOTestBase


class UndoTests(NEOTestBase, TransactionalUndoStorage,
                ConflictResolvingTransUndoStorage):
    pass
