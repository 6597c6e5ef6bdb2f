"""Reads a FileStorage's blobs back from a NEO cluster through neo.client
(modules/python) with a blob_dir, as a ZODB application does:
blob_read_neo.py LIST MASTERS NAME BLOB_DIR.  LIST is blob_make.py's.
Prints one line: "ok N" if every blob revision of LIST opens with the
same bytes by loadBlob and openCommittedBlobFile, and each current blob
by a ZODB DB's Blob.open (those not replaced in the cluster since);
else what differs (exit status 1).
"""
import hashlib
import sys

from ZODB import DB
from ZODB.utils import p64

from neo.client.Storage import Storage


def digest(f):
    data = f.read()
    return len(data), hashlib.sha1(data).hexdigest()


def main():
    listing, masters, name, blob_dir = sys.argv[1:5]
    storage = Storage(masters, name, read_only=True, blob_dir=blob_dir)
    bad, current = [], {}
    with open(listing) as f:
        revs = [line.split()[1:] for line in f if line.startswith('blob ')]
    for oid_hex, tid_hex, size, sha1 in revs:
        oid, tid = p64(int(oid_hex, 16)), p64(int(tid_hex, 16))
        want = (int(size), sha1)
        current[oid] = tid, want
        with open(storage.loadBlob(oid, tid), 'rb') as f:
            by_load = digest(f)
        with storage.openCommittedBlobFile(oid, tid) as f:
            by_open = digest(f)
        if by_load != want or by_open != want:
            bad.append((oid_hex, tid_hex))
    db = DB(storage)
    conn = db.open()
    blobs = conn.root()['blobs']
    checked = 0
    for key, blob in blobs.items():
        tid, want = current.get(blob._p_oid, (None, None))
        if storage.load(blob._p_oid)[1] != tid:
            continue            # replaced in the cluster since
        checked += 1
        with blob.open('r') as f:
            if digest(f) != want:
                bad.append(('current', key))
    if checked < 3:
        bad.append(('current blobs checked', checked))
    conn.close()
    db.close()
    if bad or not revs:
        print('differ: %s' % bad[:5])
        return 1
    print('ok %d' % len(revs))
    return 0


sys.exit(main())
