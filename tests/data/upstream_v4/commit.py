# Commits the history of tests/data/upstream_v4_*.sql through upstream
# NEO's client (low-level storage API), as make_fixtures.sh runs it.
# Not run by make check: it needs upstream NEO installed.
import sys
from neo.client.Storage import Storage
from ZODB.Connection import TransactionMetaData
from ZODB.utils import p64, u64, z64

master, name = sys.argv[1], sys.argv[2]
storage = Storage(master_nodes=master, name=name)
serials = {}


def commit(objects, user, description):
    txn = TransactionMetaData(user.encode(), description.encode())
    storage.tpc_begin(txn)
    for oid, data in objects:
        storage.store(p64(oid), serials.get(oid, z64), data, '', txn)
    storage.tpc_vote(txn)
    tid = storage.tpc_finish(txn)
    for oid, _ in objects:
        serials[oid] = tid
    print("tid", u64(tid), [oid for oid, _ in objects])


oids = [u64(storage.new_oid()) for _ in range(5)]
commit([(oids[0], b"upstream root, revision 1"),
        (oids[1], b"upstream object 1, revision 1")], "alice", "first")
commit([(oids[1], b"upstream object 1, revision 2"),
        (oids[2], b"upstream object 2, revision 1"),
        (oids[3], b"z" * 5000)], "bob", "second, with a compressible value")
commit([(oids[0], b"upstream root, revision 2"),
        (oids[4], b"upstream object 4, revision 1")], "carol", "third")
storage.close()
