"""ZODB's RecoveryStorage tests: copyTransactionsFrom and restore, from
one cluster into another."""

from ZODB.tests.RecoveryStorage import RecoveryStorage

from base import NEOTestBase, new_cluster


class RecoveryTests(NEOTestBase, RecoveryStorage):

    def setUp(self):
        NEOTestBase.setUp(self)
        self.neo_dst = new_cluster('zodb-dst')
        self._dst = self.neo_dst.storage()

    def tearDown(self):
        try:
            self._dst.close()
        finally:
            self.neo_dst.stop()
            NEOTestBase.tearDown(self)
