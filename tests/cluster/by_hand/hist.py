"""write: commit a history (several revisions, undo, extensions, deletion-free);
dump: print every transaction and record, oldest first, as one JSON line each."""
import sys, json, hashlib, transaction
from ZODB import DB
from ZODB.utils import u64
from persistent.mapping import PersistentMapping
mode, masters, name = sys.argv[1:4]
from neo.client.Storage import Storage
st = Storage(master_nodes=masters, name=name)
if mode == 'write':
    db = DB(st)
    c = db.open()
    root = c.root()
    for k in range(7):
        root['k%d' % k] = PersistentMapping()
    transaction.commit()
    for i in range(30):
        o = root['k%d' % (i % 7)]
        o['i'] = i
        o['blob'] = 'x' * (i * 37)
        t = transaction.get()
        t.note(u'txn %d' % i)
        t.setUser(u'user%d' % (i % 3))
        t.setExtendedInfo('n', i)
        t.commit()
    # undo the last transaction (k1 back to its revision of txn 22)
    info = db.undoInfo(0, 10)
    db.undo(info[0]['id'])
    transaction.commit()
    root['k2']['after_undo'] = 1
    transaction.commit()
    c.close(); db.close()
else:
    n = 0
    for txn in st.iterator():
        recs = []
        for r in txn:
            recs.append([u64(r.oid), hashlib.sha1(r.data).hexdigest() if r.data is not None else None,
                         u64(r.data_txn) if r.data_txn else None])
        print(json.dumps([u64(txn.tid), txn.status, txn.user.decode(), txn.description.decode(),
                          sorted(txn.extension.items()), sorted(recs)]))
        n += 1
    # also every revision by loadBefore of the last state
    st.close()
    sys.stderr.write('%d transactions\n' % n)
