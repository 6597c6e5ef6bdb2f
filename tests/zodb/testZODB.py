"""ZODB's own DB-level tests (ZODB.tests.testZODB) on a NEO cluster."""

import ZODB
import ZODB.tests.util
from ZODB.tests import testZODB

from base import new_cluster


class NEOZODBTests(testZODB.ZODBTests):

    def setUp(self):
        ZODB.tests.util.TestCase.setUp(self)
        self.neo = new_cluster()
        self._storage = self.neo.storage()
        self._db = ZODB.DB(self._storage)

    def tearDown(self):
        try:
            testZODB.ZODBTests.tearDown(self)
        finally:
            self.neo.stop()
