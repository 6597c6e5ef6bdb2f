"""Opens a FileStorage and its blob directory with ZODB from PyPI and
checks them against the original (blob_make.py's): blob_check.py
ORIG.FS COPY.FS COPY_BLOB_DIR LIST.  Prints TAP lines without a plan.

  - every record of the original (oid, tid) loads from the copy with the
    same data (loadSerial), the current revisions too (load);
  - every blob revision of LIST opens in the copy (loadBlob and, for the
    current ones, a DB's Blob.open) with the same bytes.
"""
import hashlib
import sys

from ZODB import DB
from ZODB.blob import BlobStorage
from ZODB.FileStorage import FileStorage
from ZODB.utils import p64

n = 0


def ok(cond, what):
    global n
    n += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', n, what))


def main():
    orig_path, copy_path, blob_dir, listing = sys.argv[1:5]
    orig = FileStorage(orig_path, read_only=True)
    copy = BlobStorage(blob_dir, FileStorage(copy_path, read_only=True))
    bad, count, current = [], 0, {}
    for txn in orig.iterator():
        for rec in txn:
            count += 1
            current[rec.oid] = rec.tid
            if rec.data is None:
                continue
            try:
                same = copy.loadSerial(rec.oid, rec.tid) == \
                    orig.loadSerial(rec.oid, rec.tid)
            except Exception as e:
                same = False
            if not same:
                bad.append((rec.oid, rec.tid))
    ok(not bad, 'ZODB loads the %d records of the original from the copy '
       'with the same data %s' % (count, bad[:3]))
    bad, revs = [], []
    with open(listing) as f:
        for line in f:
            words = line.split()
            if words[0] != 'blob':
                continue
            oid, tid = p64(int(words[1], 16)), p64(int(words[2], 16))
            revs.append((oid, tid))
            try:
                with open(copy.loadBlob(oid, tid), 'rb') as b:
                    data = b.read()
                good = (len(data) == int(words[3]) and
                        hashlib.sha1(data).hexdigest() == words[4])
            except Exception as e:
                good = False
            if not good:
                bad.append(words[1:3])
    ok(revs and not bad, 'ZODB opens the %d blob revisions of the copy with '
       'the same bytes %s' % (len(revs), bad[:3]))
    db = DB(copy)
    conn = db.open()
    blobs = conn.root()['blobs']
    bad = []
    for key, blob in blobs.items():
        with blob.open('r') as f:
            data = f.read()
        with open(orig_blob(orig_path, listing, blob._p_oid,
                            current.get(blob._p_oid)), 'rb') as f:
            if f.read() != data:
                bad.append(key)
    ok(len(blobs) > 3 and not bad, 'a ZODB DB on the copy opens its %d '
       'current blobs with the same bytes %s' % (len(blobs), bad[:3]))
    conn.close()
    db.close()
    orig.close()


def orig_blob(orig_path, listing, oid, tid):
    import os
    storage = BlobStorage(os.path.join(os.path.dirname(orig_path), 'blobs'),
                          FileStorage(orig_path, read_only=True))
    try:
        return storage.loadBlob(oid, tid)
    finally:
        storage.close()


main()
