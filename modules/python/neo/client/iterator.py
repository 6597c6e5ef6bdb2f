"""Transactions of a NEO cluster as ZODB sees them: the dicts of
undoLog/history, and the records of IStorageIteration."""

from ZODB.BaseStorage import DataRecord, TransactionRecord
from ZODB.TimeStamp import TimeStamp
from ZODB._compat import loads
from ZODB.utils import p64, u64, z64

from . import _neoclient
from .exception import translate

# Transactions asked of the storages at once.
CHUNK = 100


def transaction_info(client, tid, with_packed=False):
    """The description of a transaction for undoLog and history: id,
    time, user_name, description, and the keys of its extension; with
    with_packed, (that, whether a pack with garbage collection went past
    it)."""
    try:
        user, description, extension, packed, oids = client.transaction_info(tid)
    except _neoclient.Error as e:
        raise translate(e)
    info = {'id': tid, 'time': TimeStamp(tid).timeTime(),
            'user_name': user, 'description': description}
    if extension:
        info.update(loads(extension))
    return (info, packed) if with_packed else info


class Record(DataRecord):
    """A revision in a transaction of the iterator.  data is None for a
    deletion or an undone creation; data_txn is the transaction whose data
    an undo restored (None if the revision has data of its own)."""


class Transaction(TransactionRecord):
    """A transaction of the iterator; iterating gives its Records."""

    def __init__(self, client, tid):
        try:
            user, description, extension, packed, oids = \
                client.transaction_info(tid)
        except _neoclient.Error as e:
            raise translate(e)
        # As upstream: the record is given the extension as a dict, so
        # that its extension_bytes is the pickle of whatever `extension`
        # is (ZODB's TransactionMetaData); given the bytes, it would keep
        # them even after a new `extension` was set on it.
        TransactionRecord.__init__(self, tid, 'p' if packed else ' ',
                                   user, description,
                                   loads(extension) if extension else {})
        self._client = client
        self._oids = oids

    def __iter__(self):
        # Blobs (core/client/blobs.md): chunk records are left out, their
        # blob goes with its object (loadBlob); so are the deletions of the
        # chunks of the blobs this transaction replaced, which come after.
        deletions, replaced_chunks = [], set()
        for oid in self._oids:
            try:
                data, _, _, data_txn = self._client.load_serial_ex(oid,
                                                                   self.tid)
            except _neoclient.NoDataError as e:
                if e.serial is not None:
                    deletions.append(oid)
                continue  # else gone (packed): as upstream, not listed
            except _neoclient.NotFoundError:
                continue
            except _neoclient.Error as e:
                raise translate(e)
            if _neoclient.is_blob_chunk(data):
                continue
            if _neoclient.is_blob(data):
                replaced_chunks.update(self._replaced_chunks(oid))
                data = _neoclient.blob_data(data)
            yield Record(oid, self.tid, data, data_txn)
        for oid in deletions:
            if oid not in replaced_chunks:
                yield Record(oid, self.tid, None, None)

    def _replaced_chunks(self, oid):
        """The chunks of the blob revision before this one, which this
        transaction deleted."""
        try:
            data = self._client.load_before(oid, self.tid)[0]
        except _neoclient.Error:
            return ()
        return _neoclient.blob_chunks(data) if _neoclient.is_blob(data) else ()


def iterator(client, start, stop):
    """Transactions with start <= tid <= stop, oldest first, read from the
    cluster CHUNK at a time."""
    start = start or z64
    while start <= stop:
        try:
            tids = client.tids_from(start, stop, CHUNK)
        except _neoclient.Error as e:
            raise translate(e)
        for tid in tids:
            yield Transaction(client, tid)
        if len(tids) < CHUNK:
            return
        start = p64(u64(tids[-1]) + 1)
