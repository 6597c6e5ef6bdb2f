"""Pack with garbage collection (core/cluster/cluster.md section 14.2) on
real clusters of several shapes, through ZODB: what is reachable from the
root at the pack time stays, the rest goes on every replica (neoctl check
finds the replicas equal afterwards), references committed after the
pack time keep their targets, gc=False and a cluster without pack-gc keep
upstream's behaviour, and a pack survives a kill -9 of a storage (at
once, and during the sweep)."""

import threading
import time
import unittest

import transaction
from persistent.mapping import PersistentMapping
from ZODB import DB
from ZODB.POSException import POSKeyError

from cluster import Cluster

CHECK_TIMEOUT = 30


class Graph:
    """Objects of a database: kept ones reachable from the root, dropped
    ones unlinked, each with references between them (lists, dicts, a
    cycle among the dropped ones)."""

    def __init__(self, db, count):
        conn = db.open()
        root = conn.root()
        kept = [PersistentMapping(n=i) for i in range(count)]
        dropped = [PersistentMapping(n=-i) for i in range(count)]
        for i, obj in enumerate(kept):
            obj['next'] = kept[(i + 1) % count]       # a cycle
            obj['in_list'] = [kept[i // 2]]
        for i, obj in enumerate(dropped):
            obj['next'] = dropped[(i + 1) % count]    # unreachable cycle
            obj['kept'] = kept[i]                      # pointing back in
        root['kept'] = kept[0]
        root['dropped'] = dropped[0]
        transaction.commit()
        del root['dropped']
        transaction.commit()
        self.kept = [o._p_oid for o in kept] + [root._p_oid]
        self.dropped = [o._p_oid for o in dropped]
        conn.close()


def loadable(storage, oid):
    try:
        storage.load(oid, '')
        return True
    except POSKeyError:
        return False


class GCBase(unittest.TestCase):
    shape = dict(storages=1, partitions=1, replicas=0)
    pack_gc = True

    def setUp(self):
        self.neo = Cluster(name='gc', pack_gc=self.pack_gc, **self.shape)
        self.neo.start()
        self.neo.wait_running()
        self.storage = self.neo.storage()
        self.db = DB(self.storage)

    def tearDown(self):
        try:
            self.db.close()
        finally:
            crashed = self.neo.crashed()
            directory = self.neo.stop(keep=bool(crashed))
        self.assertFalse(crashed, 'a node died; logs in %s' % directory)

    def pack_now(self, **kw):
        time.sleep(0.01)    # the pack time after the last commit
        self.storage.pack(time.time(), None, **kw)
        return self.storage.last_pack_id

    def assert_collected(self, graph):
        self.assertEqual([oid for oid in graph.kept
                          if not loadable(self.storage, oid)], [])
        self.assertEqual([oid for oid in graph.dropped
                          if loadable(self.storage, oid)], [])

    def assert_replicas_equal(self):
        """neoctl check of every partition: equal everywhere."""
        self.neo.start_admin()
        partitions = self.shape['partitions']
        deadline = time.time() + CHECK_TIMEOUT
        while time.time() < deadline:
            out = self.neo.neoctl('check', ':')
            if not out.strip():
                break
            time.sleep(0.2)
        logs = lambda: ''.join(self.neo.log('storage%d' % i)
                               for i in range(self.shape['storages']))
        while (time.time() < deadline
               and logs().count('replicas are equal') < partitions
               and 'differs' not in logs()):
            time.sleep(0.1)
        self.assertNotIn('differs', logs())
        self.assertGreaterEqual(logs().count('replicas are equal'),
                                partitions)


class GCOneStorage(GCBase):

    def test_gc(self):
        graph = Graph(self.db, 30)
        self.pack_now()
        self.assert_collected(graph)

    def test_no_gc(self):
        """gc=False: upstream's pack, nothing unreachable goes."""
        graph = Graph(self.db, 10)
        self.pack_now(gc=False)
        self.assertEqual([oid for oid in graph.dropped
                          if not loadable(self.storage, oid)], [])

    def test_reachable_again_after_pack_time(self):
        """An object unreachable at the pack time but linked again by a
        commit after it stays (references of later revisions are roots)."""
        conn = self.db.open()
        root = conn.root()
        root['x'] = x = PersistentMapping(name='x')
        x['child'] = PersistentMapping(name='child')
        transaction.commit()
        oid, child_oid = x._p_oid, x['child']._p_oid
        del root['x']
        transaction.commit()
        time.sleep(0.01)
        pack_time = time.time()
        time.sleep(0.01)
        root['again'] = x
        transaction.commit()
        conn.close()
        self.storage.pack(pack_time, None)
        self.assertTrue(loadable(self.storage, oid))
        self.assertTrue(loadable(self.storage, child_oid))

    def test_commits_during_pack(self):
        """Commits while a pack collects: every object reachable at the
        end is loadable."""
        graph = Graph(self.db, 200)
        stop = threading.Event()
        errors = []

        def writer():
            conn = self.db.open()
            root = conn.root()
            try:
                n = 0
                while not stop.is_set():
                    root['w%d' % (n % 20)] = PersistentMapping(n=n)
                    transaction.commit()
                    n += 1
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                conn.close()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            self.pack_now()
        finally:
            stop.set()
            thread.join()
        self.assertEqual(errors, [])
        conn = self.db.open()
        conn.cacheMinimize()
        for key, value in conn.root().items():
            self.assertTrue(loadable(self.storage, value._p_oid), key)
        conn.close()
        self.assertEqual([oid for oid in graph.kept
                          if not loadable(self.storage, oid)], [])


class GCClusterDefaultOff(GCBase):
    """Masters without pack-gc: a client that says nothing gets
    upstream's pack; one that asks for gc gets it."""
    pack_gc = False

    def test_default_off(self):
        graph = Graph(self.db, 10)
        self.pack_now()
        self.assertEqual([oid for oid in graph.dropped
                          if not loadable(self.storage, oid)], [])
        self.pack_now(gc=True)
        self.assert_collected(graph)


class GCPartitions(GCBase):
    shape = dict(storages=2, partitions=5, replicas=0)

    def test_gc(self):
        graph = Graph(self.db, 60)
        self.pack_now()
        self.assert_collected(graph)


class GCReplicas(GCBase):
    shape = dict(storages=3, partitions=4, replicas=1)

    def test_gc_and_check(self):
        graph = Graph(self.db, 60)
        self.pack_now()
        self.assert_collected(graph)
        self.assert_replicas_equal()

    def test_kill_storage_during_pack(self):
        """kill -9 of a storage while the pack runs: the pack completes
        once it is back, and the replicas are equal."""
        graph = Graph(self.db, 300)
        self.storage.wait_for_pack = False
        pack_id = self.pack_now()
        self.neo.kill_storage(1)
        time.sleep(0.5)
        self.neo.start_storage(1)
        self.storage.wait_for_pack_id(pack_id)
        self.assert_collected(graph)
        self.assert_replicas_equal()

    def test_kill_storage_during_sweep(self):
        """kill -9 of a storage once the mark is over (the sweep under
        way): the collection starts over when it is back; replicas equal."""
        graph = Graph(self.db, 3000)
        self.storage.wait_for_pack = False
        pack_id = self.pack_now()
        deadline = time.time() + 30
        while ('reachable oid(s) marked' not in self.neo.log('master0')
               and time.time() < deadline):
            time.sleep(0.001)
        self.neo.kill_storage(2)
        time.sleep(0.5)
        self.neo.start_storage(2)
        self.storage.wait_for_pack_id(pack_id)
        self.assertIn('garbage collection interrupted', self.neo.log('master0'))
        self.assert_collected(graph)
        self.assert_replicas_equal()
