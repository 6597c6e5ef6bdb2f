"""What every ZODB test class here shares: a fresh cluster for each test
(about 20 ms: new processes, databases and ports), and a neo.client
Storage of it as self._storage, as ZODB's storage test mixins expect.

The cluster's shape comes from the environment, as in upstream NEO's
neo/tests/zodb: NEO_TEST_ZODB_STORAGES (1), NEO_TEST_ZODB_PARTITIONS (1),
NEO_TEST_ZODB_REPLICAS (0), NEO_TEST_ZODB_MASTERS (1).
"""

import os
import time

from ZODB.tests.StorageTestBase import StorageTestBase

from neo.client import Storage as storage_module
from cluster import Cluster

# ZODB's tests expect pack() to be done when it returns, as our Storage's
# pack is by default (wait_for_pack), and do not expect the transaction
# that carries a pack order in the undo log (as upstream's neo/tests/zodb).
_undoLog = storage_module.Storage.undoLog


def _undoLog_without_packs(self, first=0, last=-20, filter=None):
    def keep(info):
        return (info['description'] != storage_module.TXN_PACK_DESC
                and (filter is None or filter(info)))
    return _undoLog(self, first, last, keep)


storage_module.Storage.undoLog = _undoLog_without_packs

# ZODB's tests may fake time.time (ZODB.tests.util's
# time_monotonically_increases: each call a second later, ahead of the
# real clock) and pack at a time taken between two commits.  FileStorage
# takes its tids from that same clock; a NEO cluster from its master's.
# So the harness remembers the (client) time at which each commit of this
# process ended, and pack(t) packs at the last tid committed by then.
_commit_times = []
_tpc_finish = storage_module.Storage.tpc_finish
_pack = storage_module.Storage.pack


def _tpc_finish_timed(self, transaction, f=None):
    tid = _tpc_finish(self, transaction, f)
    _commit_times.append((time.time(), tid))
    return tid


def _pack_at_commit_time(self, t, referencesf=None, gc=None):
    done = [tid for when, tid in _commit_times if when <= t]
    if not done:
        return _pack(self, t, referencesf, gc)
    # None, as IStorage.pack and Storage.pack
    self.last_pack_id = self.pack_tid(min(max(done), self.lastTransaction()), gc)


storage_module.Storage.tpc_finish = _tpc_finish_timed
storage_module.Storage.pack = _pack_at_commit_time


def cluster_shape():
    get = lambda name, default: int(os.environ.get(name, default))
    return dict(storages=get('NEO_TEST_ZODB_STORAGES', 1),
                partitions=get('NEO_TEST_ZODB_PARTITIONS', 1),
                replicas=get('NEO_TEST_ZODB_REPLICAS', 0),
                masters=get('NEO_TEST_ZODB_MASTERS', 1))


def new_cluster(name='zodb'):
    cluster = Cluster(name=name, **cluster_shape())
    cluster.start()
    cluster.wait_running()
    return cluster


class NEOTestBase(StorageTestBase):
    """Mixed before ZODB's mixins: StorageTestBase's tearDown closes
    self._storage; the cluster stops after it."""

    def setUp(self):
        del _commit_times[:]
        StorageTestBase.setUp(self)
        self.neo = new_cluster()
        self.open()

    def tearDown(self):
        try:
            StorageTestBase.tearDown(self)
        finally:
            crashed = self.neo.crashed()
            directory = self.neo.stop(keep=bool(crashed))
        self.assertFalse(crashed, 'a node died; logs in %s' % directory)

    def open(self, **kw):
        """(Re)opens self._storage, e.g. read_only=True."""
        self._storage = self.neo.storage(**kw)

    def _new_storage_client(self):
        # For ZODB's race tests: another client of the same cluster.
        return self.neo.storage()
