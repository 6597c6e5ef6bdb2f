"""Makes a Data.fs with ZODB from PyPI for the FileStorage and Importer
tests: fs_make.py PATH [TRANSACTIONS] [SEED].

Thousands of objects over hundreds of transactions: an OOBTree, an
IOBTree, PersistentMapping and PersistentList objects, values over 64 KiB,
user/description/extension metadata, an undone modification and an
undone creation (back pointers), and a deleted-by-undo object.
"""
import random
import sys

import transaction
from BTrees.IOBTree import IOBTree
from BTrees.OOBTree import OOBTree
from persistent.list import PersistentList
from persistent.mapping import PersistentMapping
from ZODB import DB
from ZODB.FileStorage import FileStorage


def commit(user, desc, **ext):
    txn = transaction.get()
    txn.setUser(user)
    txn.note(desc)
    for k, v in ext.items():
        txn.setExtendedInfo(k, v)
    transaction.commit()


def last_undo_id(db):
    return db.undoLog(0, 1)[0]['id']


def main():
    path = sys.argv[1]
    ntxn = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    db = DB(FileStorage(path))
    conn = db.open()
    root = conn.root()
    root['tree'] = OOBTree()
    root['itree'] = IOBTree()
    root['maps'] = PersistentList()
    commit('setup', 'the containers', origin='fs_make')
    for i in range(ntxn):
        tree = root['tree']
        for j in range(rnd.randint(5, 30)):
            tree['k%06d' % rnd.randrange(100000)] = rnd.randbytes(rnd.randint(1, 200))
        root['itree'][i] = PersistentMapping({'i': i, 'blob': b'x' * rnd.randint(0, 50)})
        if i % 7 == 0:
            root['maps'].append(PersistentList(range(i)))
        if i % 50 == 25:
            root['big%d' % i] = rnd.randbytes(70000 + i)
        commit('user%d' % (i % 5), 'transaction %d' % i, n=i)
    # An undone modification: set, change, undo the change.
    root['undo_me'] = PersistentMapping({'v': 1})
    commit('undo', 'create undo_me')
    root['undo_me']['v'] = 2
    commit('undo', 'modify undo_me')
    db.undo(last_undo_id(db))
    commit('undo', 'undo the modification')
    # An undone creation: a new object whose creating transaction is undone.
    root['created'] = PersistentMapping({'c': 1})
    commit('undo', 'create an object')
    db.undo(last_undo_id(db))
    commit('undo', 'undo the creation')
    # And an undo of an undo (a back pointer to a back pointer).
    db.undo(last_undo_id(db))
    commit('undo', 'redo the creation')
    conn.close()
    db.close()


if __name__ == '__main__':
    main()
