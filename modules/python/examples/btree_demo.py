"""A short ZODB program on a NEO cluster: commits a BTree of 10,000
objects from one connection and reads it back from a second one, with a
second client of the cluster.  Run it on a cluster started by neosimple,
which sets NEO_MASTER_NODES and NEO_CLUSTER:

    neosimple --engine sqlite db1 -- python3 btree_demo.py
"""

import os
import time

import transaction
import ZODB
from BTrees.OOBTree import OOBTree
from persistent.mapping import PersistentMapping

from neo.client.Storage import Storage

COUNT = 10000


def open_db():
    return ZODB.DB(Storage(master_nodes=os.environ['NEO_MASTER_NODES'],
                           name=os.environ['NEO_CLUSTER']))


def main():
    writer, reader = open_db(), open_db()
    try:
        start = time.time()
        manager = transaction.TransactionManager()
        root = writer.open(manager).root()
        tree = root['tree'] = OOBTree()
        for i in range(COUNT):
            tree['key%05d' % i] = PersistentMapping(value=i)
        manager.commit()
        print('committed a BTree of %d objects in %.2f s'
              % (COUNT, time.time() - start))

        start = time.time()
        manager = transaction.TransactionManager()
        tree = reader.open(manager).root()['tree']
        total = sum(item['value'] for item in tree.values())
        assert len(tree) == COUNT and total == COUNT * (COUNT - 1) // 2
        print('read it back from a second client: %d entries, sum %d, '
              'in %.2f s' % (len(tree), total, time.time() - start))
    finally:
        writer.close()
        reader.close()


if __name__ == '__main__':
    main()
