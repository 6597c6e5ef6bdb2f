"""Makes a FileStorage with its blob directory with ZODB from PyPI, for
the blob tests of neomigrate (and of whatever copies a FileStorage's
blobs): blob_make.py DATA.FS BLOB_DIR LIST [LAYOUT].

Blobs of 0 bytes to a few MiB (1 MiB exactly, 1 MiB + 1, 3 MiB: the
cluster cuts them in 1 MiB chunks), several revisions of each, an undone
blob change and an undone blob creation, objects that are not blobs
beside them.  LIST gets one line per blob revision, as ZODB reads it:
"blob OID TID SIZE SHA1" (hexadecimal ids), then "maxoid OID" and
"records N" (every data record of the file).
"""
import hashlib
import random
import sys

import transaction
from persistent.mapping import PersistentMapping
from ZODB import DB
from ZODB.blob import Blob, BlobStorage, is_blob_record
from ZODB.FileStorage import FileStorage
from ZODB.utils import u64

SIZES = [0, 1, 100 * 1024, 1 << 20, (1 << 20) + 1, 3 << 20]


def write(blob, data):
    with blob.open('w') as f:
        f.write(data)


def commit(note):
    txn = transaction.get()
    txn.note(note)
    transaction.commit()


def main():
    path, blob_dir, listing = sys.argv[1:4]
    layout = sys.argv[4] if len(sys.argv) > 4 else 'bushy'
    rnd = random.Random(7)
    storage = BlobStorage(blob_dir, FileStorage(path), layout=layout)
    db = DB(storage)
    conn = db.open()
    root = conn.root()
    root['blobs'] = blobs = PersistentMapping()
    root['other'] = PersistentMapping()
    commit(u'start')
    for i, size in enumerate(SIZES):
        blobs[i] = Blob()
        write(blobs[i], rnd.randbytes(size))
        root['other'][i] = 'x' * i
        commit(u'blob %d' % i)
    for rev in range(2):            # new revisions of every blob
        for i, size in enumerate(SIZES):
            write(blobs[i], rnd.randbytes(max(0, size + rnd.randint(-9, 9))))
        commit(u'revision %d' % rev)
    write(blobs[3], b'to be undone')
    commit(u'blob change to undo')
    db.undo(db.undoLog(0, 1)[0]['id'])
    commit(u'undo of a blob change')
    blobs['late'] = Blob()
    write(blobs['late'], b'created then undone')
    commit(u'blob creation to undo')
    db.undo(db.undoLog(0, 1)[0]['id'])
    commit(u'undo of a blob creation')
    write(blobs[5], rnd.randbytes(2 << 20))
    commit(u'last')
    conn.close()
    db.close()

    storage = BlobStorage(blob_dir, FileStorage(path, read_only=True))
    max_oid = records = 0
    with open(listing, 'w') as out:
        for txn in storage.iterator():
            for rec in txn:
                records += 1
                max_oid = max(max_oid, u64(rec.oid))
                if rec.data is None or not is_blob_record(rec.data):
                    continue
                with open(storage.loadBlob(rec.oid, rec.tid), 'rb') as f:
                    data = f.read()
                out.write('blob %016x %016x %d %s\n' % (
                    u64(rec.oid), u64(rec.tid), len(data),
                    hashlib.sha1(data).hexdigest()))
        out.write('maxoid %016x\n' % max_oid)
        out.write('records %d\n' % records)
    storage.close()


main()
