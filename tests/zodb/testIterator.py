"""ZODB's iterator tests (IStorageIteration)."""

from ZODB.tests.IteratorStorage import (ExtendedIteratorStorage,
                                        IteratorStorage)

from base import NEOTestBase


class IteratorTests(NEOTestBase, IteratorStorage, ExtendedIteratorStorage):
    # As upstream's: ZODB's default use_extension_bytes (False), i.e. a
    # record's extension_bytes follows a new `extension` set on it.
    pass
