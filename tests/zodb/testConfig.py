"""neo.client outside of the Storage class: the <NEOStorage> section of
ZODB configurations (component.xml) and the neo:// zodburi resolver."""

import os
import unittest

import ZODB.config
import zodburi
from ZODB.utils import z64

from neo.client import zodburi as neo_zodburi
from neo.client.Storage import Storage

from base import new_cluster


class ConfigTests(unittest.TestCase):

    def setUp(self):
        self.neo = new_cluster('zodb-config')

    def tearDown(self):
        self.neo.stop()

    def check_storage(self, storage, read_only=False):
        try:
            self.assertIsInstance(storage, Storage)
            self.assertEqual(storage.getName(), 'NEOStorage(zodb-config)')
            self.assertEqual(storage.isReadOnly(), read_only)
            self.assertEqual(storage.lastTransaction(), z64)
        finally:
            storage.close()

    def test_zconfig_section(self):
        storage = ZODB.config.storageFromString("""
            %%import neo.client
            <NEOStorage>
              master_nodes %s
              name zodb-config
              compress zlib=6
              cache-size 1MB
              read-only true
            </NEOStorage>
            """ % self.neo.master_nodes)
        self.check_storage(storage, read_only=True)

    def test_zconfig_database(self):
        db = ZODB.config.databaseFromString("""
            %%import neo.client
            <zodb>
              <NEOStorage>
                master_nodes %s
                name zodb-config
              </NEOStorage>
            </zodb>
            """ % self.neo.master_nodes)
        try:
            connection = db.open()
            connection.root()['x'] = 1
            import transaction
            transaction.commit()
            connection.close()
        finally:
            db.close()

    def test_zconfig_bad_compress(self):
        self.assertRaises(Exception, ZODB.config.storageFromString, """
            %import neo.client
            <NEOStorage>
              master_nodes 127.0.0.1:1
              name x
              compress gzip
            </NEOStorage>
            """)

    def test_zodburi(self):
        uri = 'neo://zodb-config@%s?read_only=true&cache_size=1MB' \
              '&database_name=other' % self.neo.master_nodes.replace(' ', ',')
        factory, dbkw = zodburi.resolve_uri(uri)
        self.assertEqual(dbkw.get('database_name'), 'other')
        self.check_storage(factory(), read_only=True)

    def test_zodburi_syntax(self):
        config, dbkw = neo_zodburi.parse_uri(
            'neo://my%20cluster@h1:1,h2:2?compress=false&pool_size=3')
        self.assertIn('master_nodes h1:1 h2:2', config)
        self.assertIn('name my cluster', config)
        self.assertIn('compress false', config)
        self.assertEqual(dbkw, {'pool_size': '3'})
        for bad in ('zeo://x@h:1', 'neo://h:1', 'neo://x@h:1/path',
                    'neo://x@h:1?name=y'):
            self.assertRaises(ValueError, neo_zodburi.parse_uri, bad)

    def test_neos_needs_credentials(self):
        for variable in ('NEO_CA', 'NEO_CERT', 'NEO_KEY'):
            os.environ.pop(variable, None)
        self.assertRaises(ValueError, neo_zodburi.parse_uri, 'neos://x@h:1')
        config, _ = neo_zodburi.parse_uri(
            'neos://x@h:1?ca=/a&cert=/b&key=/c')
        self.assertIn('ca /a', config)
