"""Dumps a Data.fs with ZODB's own FileStorage iterator, one line per
transaction and per data record, in the format of tests/unit/fs_dump.c:

  T tid status user description extension      (hex; '-' for empty)
  R oid tid data_txn sha1-of-data length       (data_txn '-': none;
                                                sha1 'none': no data)
Usage: fs_dump.py PATH [--load] ; --load also opens the file as a
FileStorage (as a user would) and loads every oid's current revision,
printing 'L oid serial sha1' lines after the dump.
"""
import hashlib
import sys

from ZODB.FileStorage import FileIterator, FileStorage
from ZODB.utils import p64, u64


def hx(b):
    return b.hex() if b else '-'


def dump(path):
    it = FileIterator(path)
    for txn in it:
        ext = getattr(txn, 'extension_bytes', None)
        print('T %016x %s %s %s %s' % (u64(txn.tid), txn.status == 'p' and 'p' or '_',
                                       hx(txn.user.encode() if isinstance(txn.user, str) else txn.user),
                                       hx(txn.description.encode() if isinstance(txn.description, str) else txn.description),
                                       hx(ext)))
        for r in txn:
            data = r.data
            print('R %016x %016x %s %s %d' % (
                u64(r.oid), u64(r.tid),
                '%016x' % u64(r.data_txn) if r.data_txn else '-',
                hashlib.sha1(data).hexdigest() if data is not None else 'none',
                len(data) if data is not None else 0))
    it.close()


def load(path):
    fs = FileStorage(path, read_only=True)
    oids = sorted(u64(o) for o in fs._index.keys())
    for oid in oids:
        try:
            data, serial = fs.load(p64(oid))
        except KeyError:
            print('L %016x none' % oid)
            continue
        print('L %016x %016x %s' % (oid, u64(serial), hashlib.sha1(data).hexdigest()))
    fs.close()


if __name__ == '__main__':
    dump(sys.argv[1])
    if '--load' in sys.argv:
        load(sys.argv[1])
