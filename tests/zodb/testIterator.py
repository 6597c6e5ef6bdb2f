"""ZODB's iterator tests (IStorageIteration)."""

from ZODB.tests.IteratorStorage import (ExtendedIteratorStorage,
                                        IteratorStorage)

from base import NEOTestBase


class IteratorTests(NEOTestBase, IteratorStorage, ExtendedIteratorStorage):

    # Transactions keep the extension as it was given (as FileStorage).
    use_extension_bytes = True
