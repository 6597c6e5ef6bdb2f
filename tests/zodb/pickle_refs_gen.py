"""Writes ZODB records of many kinds, with what ZODB's own referencesf
finds in them, as JSON for tests/unit/test_pickle_refs (the C scanner of
core/pickle/refs.c must find the same references).

    python pickle_refs_gen.py OUT.json [SCALE]

Records come from a real ZODB (FileStorage, and a second database for
cross-database references): BTrees of every flavour big enough to split,
PersistentMapping/PersistentList, persistent references inside lists,
dicts, tuples and sets, weak references (persistent.wref), cross-database
references ('m' and 'n' forms), classes with __getnewargs__, broken-ish
states.  Each record is also written again with pickle protocols 0, 1
and 2 (as Python 2's ZODB wrote them), keeping its persistent ids.

JSON: {"records": [{"data": hex, "protocol": "zodb"|0|1|2,
"strong": [hex oid, ...]  (referencesf's answer, in order),
"all": [[kind, hex oid or null], ...]  (every persistent id)}]}.
"""

import io
import json
import os
import struct
import sys
import tempfile

import transaction
import zodbpickle.pickle
import zodbpickle.pickle_3
from BTrees.IOBTree import IOBTree
from BTrees.LOBTree import LOBTree
from BTrees.OIBTree import OITreeSet
from BTrees.OOBTree import OOBTree, OOSet, OOTreeSet
from persistent import Persistent
from persistent.list import PersistentList
from persistent.mapping import PersistentMapping
from persistent.wref import PersistentWeakKeyDictionary, WeakRef
from ZODB import DB
from ZODB.FileStorage import FileStorage
from ZODB.serialize import referencesf
from ZODB._compat import PersistentUnpickler


class Item(Persistent):
    def __init__(self, value=None):
        self.value = value


class WithNewArgs(Persistent):
    """References to it are plain oids (no class in the reference)."""

    def __getnewargs__(self):
        return ()


class Holder(Persistent):
    pass


def populate(root, other_root, scale):
    items = [Item(i) for i in range(10 * scale)]
    root['items'] = PersistentList(items)
    root['mapping'] = PersistentMapping({'a': items[0], 'b': [items[1], items[2]]})
    for cls, key in ((OOBTree, str), (IOBTree, int), (LOBTree, int)):
        tree = cls()
        for i in range(80 * scale):
            tree[key(i)] = items[i % len(items)]
        root[cls.__name__] = tree
    root['ooset'] = OOSet(['x', 'y'])
    root['treeset'] = OOTreeSet(str(i) for i in range(100 * scale))
    root['oitreeset'] = OITreeSet(str(i) for i in range(100 * scale))
    holder = Holder()
    holder.nested = {'list': [items[3], (items[4], {'deep': items[5]})],
                     'set': {1, 2}, 'tuple': (items[6], items[6], b'bytes'),
                     'frozen': frozenset(['f'])}
    holder.newargs = WithNewArgs()
    holder.newargs_again = [holder.newargs, holder.newargs]
    holder.weak = WeakRef(items[7])
    holder.self_weak = [WeakRef(holder.newargs)]
    root['holder'] = holder
    weak_keys = PersistentWeakKeyDictionary()
    weak_keys[items[8]] = 'eight'
    root['weak_keys'] = weak_keys
    # cross-database references: 'm' (with class) and 'n' (__getnewargs__),
    # to objects committed in the other database first
    other_root['far'] = far = Item('far')
    other_root['far_plain'] = far_plain = WithNewArgs()
    transaction.commit()
    cross = Holder()
    cross.far = far
    cross.far_list = [far, far_plain]
    root['cross'] = cross
    root['strings'] = PersistentMapping({'long': 'x' * 300, 'bytes': b'\0' * 300,
                                         'unicode': '\u00e9t\u00e9', 'int': 2 ** 70,
                                         'float': 1.5, 'neg': -3, 'none': None,
                                         'bools': (True, False)})


def records_of(path):
    storage = FileStorage(path, read_only=True)
    try:
        for txn in storage.iterator():
            for record in txn:
                if record.data:
                    yield record.data
    finally:
        storage.close()


def kind_of(reference):
    """What core/pickle/refs.h calls this persistent id, and its oid."""
    if isinstance(reference, (bytes, str)):
        return 'oid', reference
    if isinstance(reference, tuple):
        return 'oid_class', reference[0]
    if isinstance(reference, list):
        if len(reference) == 1:
            return 'weak', reference[0]
        kind, args = reference[0], reference[1]
        if kind == 'w':
            return 'weak', args[0]
        if kind == 'm':
            return 'multi', args[1]
        if kind == 'n':
            return 'multi_oid', args[1]
        return 'other_list', None
    return None, None


def as_hex(oid):
    if oid is None:
        return None
    if isinstance(oid, str):
        oid = oid.encode('utf-8')
    return oid.hex()


def all_references(data):
    refs = []
    unpickler = PersistentUnpickler(None, refs.append, io.BytesIO(data))
    unpickler.noload()
    unpickler.noload()
    out = []
    for reference in refs:
        kind, oid = kind_of(reference)
        if kind is not None:
            out.append([kind, as_hex(oid)])
    return out


class Pid:
    def __init__(self, pid):
        self.pid = pid


class Python2Pickler(zodbpickle.pickle_3._Pickler):
    """Writes bytes as Python 2 wrote str (STRING, BINSTRING,
    SHORT_BINSTRING), so that protocols 0 to 2 give the records Python 2's
    ZODB wrote."""

    dispatch = dict(zodbpickle.pickle_3._Pickler.dispatch)

    def save_bytes(self, obj):
        if self.proto >= 3:
            return zodbpickle.pickle_3._Pickler.save_bytes(self, obj)
        if not self.bin:
            self.write(b'S' + repr(obj)[1:].encode('ascii') + b'\n')
        elif len(obj) < 256:
            self.write(b'U' + bytes([len(obj)]) + obj)
        else:
            self.write(b'T' + struct.pack('<I', len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def repickle(data, protocol):
    """The same record written with another protocol, persistent ids kept."""
    unpickler = zodbpickle.pickle.Unpickler(io.BytesIO(data))
    unpickler.persistent_load = Pid
    klass = unpickler.load()
    state = unpickler.load()
    out = io.BytesIO()
    pickler = Python2Pickler(out, protocol)
    pickler.persistent_id = lambda obj: obj.pid if isinstance(obj, Pid) else None
    pickler.dump(klass)
    pickler.dump(state)
    return out.getvalue()


def entry(data, protocol):
    return {'data': data.hex(), 'protocol': protocol,
            'strong': [as_hex(oid) for oid in referencesf(data)],
            'all': all_references(data)}


def main():
    out_path = sys.argv[1]
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, 'main.fs')
        databases = {}
        main_db = DB(FileStorage(path), databases=databases, database_name='main')
        DB(FileStorage(os.path.join(scratch, 'other.fs')), databases=databases,
           database_name='other')
        conn = main_db.open()
        populate(conn.root(), conn.get_connection('other').root(), scale)
        transaction.commit()
        # a second transaction: changed states, an object unlinked
        conn.root()['holder'].nested['list'].append(conn.root()['items'][9])
        conn.root()['holder']._p_changed = True
        del conn.root()['ooset']
        transaction.commit()
        conn.close()
        main_db.close()
        for db in databases.values():
            db.close()
        records = []
        for data in records_of(path):
            records.append(entry(data, 'zodb'))
            for protocol in (0, 1, 2):
                try:
                    records.append(entry(repickle(data, protocol), protocol))
                except Exception as e:  # not representable: say so, skip
                    print('skipped a protocol %d copy: %r' % (protocol, e),
                          file=sys.stderr)
    with open(out_path, 'w') as f:
        json.dump({'records': records}, f, indent=None, separators=(',', ':'))
        f.write('\n')
    print('%d records written to %s' % (len(records), out_path))


if __name__ == '__main__':
    main()
