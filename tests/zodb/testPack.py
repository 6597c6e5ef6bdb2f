"""ZODB's pack tests.  As upstream, NEO packs without garbage collection:
the GC variants are driven without it (PackableStorageWithOptionalGC)."""

from ZODB.tests.PackableStorage import (PackableStorageWithOptionalGC,
                                        PackableUndoStorage)

from base import NEOTestBase


class PackableTests(NEOTestBase, PackableStorageWithOptionalGC,
                    PackableUndoStorage):
    pass
