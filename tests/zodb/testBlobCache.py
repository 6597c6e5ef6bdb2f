"""neo.client's blob options and cache (neo/client/blobs.py): blob-dir,
blob-cache-size and blob-cache-size-check as ZConfig keys and zodburi
parameters (ZEO's and RelStorage's names), the size bound, blobs shared
by two clients with caches of their own, and what is refused."""

import os
import shutil
import tempfile
import time
import unittest

import transaction
import ZODB
import ZODB.config
import zodburi
from ZODB.blob import Blob
from ZODB.Connection import TransactionMetaData
from ZODB.POSException import POSKeyError, Unsupported

from base import new_cluster

BLOB = 300 * 1000


class BlobCacheTests(unittest.TestCase):

    def setUp(self):
        self.neo = new_cluster('zodb-blobs')
        self.dir = tempfile.mkdtemp(prefix='neo-blob-cache-')
        self.dbs = []

    def tearDown(self):
        for db in self.dbs:
            db.close()
        self.neo.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def db(self, storage):
        db = ZODB.DB(storage)
        self.dbs.append(db)
        return db

    def zconfig(self, extra):
        return ZODB.config.storageFromString("""
            %%import neo.client
            <NEOStorage>
              master_nodes %s
              name zodb-blobs
              %s
            </NEOStorage>
            """ % (self.neo.master_nodes, extra))

    def test_zconfig_keys_and_size_bound(self):
        storage = self.zconfig('blob-dir %s/a\nblob-cache-size 1MB\n'
                               'blob-cache-size-check 20' % self.dir)
        self.assertEqual(storage.temporaryDirectory(),
                         os.path.join(self.dir, 'a', 'tmp'))
        connection = self.db(storage).open()
        blobs = [os.urandom(BLOB) for _ in range(6)]
        for i, data in enumerate(blobs):
            connection.root()[i] = Blob(data)
        transaction.commit()
        for i, data in enumerate(blobs):
            with connection.root()[i].open() as f:
                self.assertEqual(f.read(), data)
        # The pruner runs in a thread: the bound less its check step.
        deadline = time.time() + 10
        while time.time() < deadline:
            total = sum(size for _, size, _ in storage._blobs.files())
            if total <= (1 << 20) * 80 // 100:
                break
            time.sleep(0.05)
        self.assertLessEqual(total, (1 << 20) * 80 // 100)
        # Blobs removed from the cache are downloaded again.
        for i, data in enumerate(blobs):
            with connection.root()[i].open() as f:
                self.assertEqual(f.read(), data)

    def test_zodburi_parameters(self):
        factory, _ = zodburi.resolve_uri(
            'neo://zodb-blobs@%s?blob_dir=%s/u&blob_cache_size=2000000'
            % (self.neo.master_nodes.replace(' ', ','), self.dir))
        storage = factory()
        self.assertEqual(storage._blobs.size, 2000000)
        connection = self.db(storage).open()
        connection.root()['b'] = Blob(b'from zodburi')
        transaction.commit()
        self.assertTrue(os.listdir(os.path.join(self.dir, 'u')))

    def test_two_clients_own_caches(self):
        first = self.db(self.neo.storage(blob_dir=self.dir + '/1')).open()
        first.root()['b'] = Blob(b'v1')
        transaction.commit()
        second_tm = transaction.TransactionManager()
        second = self.db(self.neo.storage(blob_dir=self.dir + '/2')).open(
            transaction_manager=second_tm)
        with second.root()['b'].open() as f:
            self.assertEqual(f.read(), b'v1')
        with first.root()['b'].open('w') as f:
            f.write(b'v2')
        transaction.commit()
        second_tm.begin()
        with second.root()['b'].open() as f:
            self.assertEqual(f.read(), b'v2')

    def test_no_blob_dir(self):
        storage = self.neo.storage()
        connection = self.db(storage).open()
        connection.root()['b'] = Blob(b'x')
        self.assertRaises(Unsupported, transaction.commit)
        transaction.abort()
        self.assertRaises(Unsupported, storage.loadBlob, b'\0' * 8, b'\0' * 8)

    def test_refused(self):
        self.assertRaises(ValueError, self.neo.storage,
                          blob_dir=self.dir, shared_blob_dir=True)
        self.assertRaises(ValueError, self.neo.storage, blob_cache_size=10)

    def test_not_a_blob(self):
        storage = self.neo.storage(blob_dir=self.dir + '/n')
        connection = self.db(storage).open()
        connection.root()['x'] = 1
        transaction.commit()
        self.assertRaises(POSKeyError, storage.loadBlob, b'\0' * 8,
                          storage.lastTransaction())

    def test_delete_object_frees_its_chunks(self):
        """IExternalGC: deleting a blob object deletes its chunks in the
        same transaction, so that pack frees the blob (what an external
        garbage collector of unreachable objects relies on)."""
        from neo.client import _neoclient
        from neo.client.Storage import Storage
        Storage.wait_for_pack = True
        storage = self.neo.storage(blob_dir=self.dir + '/d')
        connection = self.db(storage).open()
        connection.root()['b'] = Blob(os.urandom(3 << 20))
        transaction.commit()
        oid = connection.root()['b']._p_oid
        serial = storage.load(oid)[1]
        chunks = _neoclient.blob_chunks(storage._client.load(oid)[0])
        self.assertEqual(len(chunks), 3)
        del connection.root()['b']
        transaction.commit()
        txn = TransactionMetaData()
        storage.tpc_begin(txn)
        storage.deleteObject(oid, serial, txn)
        storage.tpc_vote(txn)
        storage.tpc_finish(txn)
        storage.pack(time.time(), None)
        for chunk in chunks + [oid]:
            self.assertRaises(_neoclient.Error, storage._client.load_serial,
                              chunk, serial)

    def test_raw_record_reads_as_a_blob_object(self):
        """What a client that knows nothing of our blobs (upstream's)
        gets: the record whole, manifest included, which ZODB's
        unpickling reads as the Blob object (it stops at the pickle's
        end) and is_blob_record recognizes."""
        import io
        import pickle
        from ZODB.blob import is_blob_record
        storage = self.neo.storage(blob_dir=self.dir + '/r')
        connection = self.db(storage).open()
        connection.root()['b'] = Blob(b'x' * 100)
        transaction.commit()
        raw = storage._client.load(connection.root()['b']._p_oid)[0]
        self.assertGreater(len(raw), len(storage.load(
            connection.root()['b']._p_oid)[0]))
        self.assertTrue(is_blob_record(raw))
        unpickler = pickle.Unpickler(io.BytesIO(raw))
        unpickler.persistent_load = lambda reference: reference
        self.assertIs(unpickler.load(), Blob)  # ZODB 5: the class alone
        unpickler.load()

    def test_filestorage_with_blobs_both_ways(self):
        """A Data.fs with its blob directory copied into the cluster
        (copyTransactionsFrom, the migration path without an Importer),
        then the cluster copied back into a new FileStorage with blobs:
        every revision's blob comes through, and no chunk record is
        copied (the iterator leaves them out)."""
        from ZODB.blob import BlobStorage
        from ZODB.FileStorage import FileStorage
        from ZODB.utils import u64

        def filestorage(name):
            return BlobStorage(os.path.join(self.dir, name + '.blobs'),
                               FileStorage(os.path.join(self.dir, name + '.fs')))

        source_db = ZODB.DB(filestorage('source'))
        connection = source_db.open()
        first, second = os.urandom(2 << 20), os.urandom(100)
        connection.root()['b'] = Blob(first)
        transaction.commit()
        with connection.root()['b'].open('w') as f:
            f.write(second)
        transaction.commit()
        oid = connection.root()['b']._p_oid
        serials = [h['tid'] for h in source_db.storage.history(oid, 2)]
        source_db.close()

        source = filestorage('source')
        neo = self.neo.storage(blob_dir=self.dir + '/m')
        neo.copyTransactionsFrom(source)
        source.close()
        for serial, data in zip(serials, (second, first)):
            with open(neo.loadBlob(oid, serial), 'rb') as f:
                self.assertEqual(f.read(), data)

        back = filestorage('back')
        back.copyTransactionsFrom(neo)
        oids = {record.oid for txn in back.iterator() for record in txn}
        self.assertEqual(max(u64(o) for o in oids), u64(oid))
        for serial, data in zip(serials, (second, first)):
            with open(back.loadBlob(oid, serial), 'rb') as f:
                self.assertEqual(f.read(), data)
        back.close()
        neo.close()
