"""neo.client.Storage: the ZODB storage of a NEO cluster.

Storage(master_nodes, name, ...) takes upstream NEO's keyword arguments.
The work is done by libneoclient through the C extension _neoclient;
this module adapts it to ZODB's storage interfaces: IStorage, loadBefore
for the MVCC adapter, undo, iteration, restore, deleteObject, and
conflict resolution on the client side (ZODB 5: tpc_vote returns the
oids it resolved).  With a blob_dir, blobs too (IBlobStorage): kept in
the cluster in chunks (core/client/blobs.md), copied into a local cache
directory (blobs.py) to be read.

Threads: calls may come from any thread, and several transactions may be
committed at once (one Txn each).  Invalidations of other clients arrive
in libneoclient's network thread and are passed to the registered DB.
"""

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref

import zope.interface
from ZODB import BaseStorage, ConflictResolution
from ZODB import interfaces
from ZODB.blob import (BlobFile, is_blob_record, remove_committed,
                       rename_or_copy_blob)
from ZODB.POSException import (ConflictError, POSKeyError, ReadConflictError,
                               ReadOnlyError, StorageTransactionError,
                               Unsupported, UndoError)
from ZODB.TimeStamp import TimeStamp
from ZODB.utils import maxtid, u64, z64

from . import _neoclient
from .blobs import BlobCache
from .exception import translate
from .iterator import iterator as _iterator, transaction_info

logger = logging.getLogger(__name__)

# Oids asked of the master at once (as upstream).
OID_BATCH = 100

# The description of pack transactions (as upstream).
TXN_PACK_DESC = b'IStorage.pack'

# Clients still open at exit are closed before the interpreter goes away:
# their network thread must not call into a finalizing interpreter.
_open_clients = weakref.WeakSet()


@atexit.register
def _close_all():
    for client in list(_open_clients):
        client.close()


def _compress_level(compress):
    """libneoclient's level for upstream's `compress` values: None or True
    (zlib, default level), False (none), 'zlib' or 'zlib=N', or the
    (algorithm, level) pair of the ZConfig datatype."""
    if compress is None or compress is True:
        return -1
    if compress is False:
        return 0
    if isinstance(compress, tuple):
        return -1 if compress[1] is None else int(compress[1])
    algorithm, _, level = str(compress).partition('=')
    if algorithm != 'zlib':
        raise ValueError('compress: only zlib is known, not %r' % compress)
    if not level:
        return -1
    level = int(level)
    if not 1 <= level <= 9:
        raise ValueError('compress: zlib level %r is not 1 to 9' % level)
    return level


_blob_data = _neoclient.blob_data


def _object_data(result):
    """A load's (data, serial, ...) with the object's own data: a blob
    object's record without its manifest."""
    return (_blob_data(result[0]),) + tuple(result[1:])


def _as_bytes(text):
    return text if isinstance(text, bytes) else text.encode('utf-8')


class _Commit(object):
    """One transaction in progress, between tpc_begin and its end."""

    def __init__(self, txn):
        self.txn = txn
        self.data = {}          # oid -> data this transaction stores
        self.resolved = set()   # oids whose conflicts were resolved
        self.blobs = {}         # oid -> its blob file (BLOB_DIR/pending)
        self.voted = False

    def drop_blobs(self):
        for path in self.blobs.values():
            try:
                remove_committed(path)
            except OSError:
                pass
        self.blobs.clear()


@zope.interface.implementer(
    interfaces.IStorage,
    interfaces.IStorageRestoreable,
    interfaces.IStorageIteration,
    interfaces.IStorageUndoable,
    interfaces.IExternalGC,
    interfaces.ReadVerifyingStorage,
)
class Storage(BaseStorage.BaseStorage,
              ConflictResolution.ConflictResolvingStorage):
    """ZODB storage on the NEO cluster `name` whose masters are
    `master_nodes` ("host:port host:port", commas also accepted)."""

    def __init__(self, master_nodes, name, read_only=False, compress=None,
                 cache_size=None, logfile=None, ca=None, cert=None, key=None,
                 ignore_wrong_checksum=False, dynamic_master_list=None,
                 connect_timeout=None, blob_dir=None, blob_cache_size=None,
                 blob_cache_size_check=10, shared_blob_dir=False,
                 pack_gc=None, wait_for_pack=None,
                 _app=None, **kw):
        # Accepted for upstream's callers, without effect here:
        # - ignore_wrong_checksum: a wrong checksum is always an error (the
        #   library tries the other replicas first);
        # - dynamic_master_list: the master list is the one given;
        # - _app: upstream's internal way to share an Application;
        # - other keywords of upstream's Application (e.g. its test hooks).
        # Blobs, with ZEO's and RelStorage's keywords: blob_dir is a local
        # cache (blobs.py); the blobs themselves are in the cluster.
        if shared_blob_dir:
            raise ValueError('shared_blob_dir: NEO keeps blobs in the cluster; '
                             'blob_dir is a local cache, never shared with '
                             'the storages')
        if blob_dir is None and blob_cache_size is not None:
            raise ValueError('blob_cache_size needs a blob_dir')
        BaseStorage.BaseStorage.__init__(self, 'NEOStorage(%s)' % name)
        # pack(): whether it collects garbage when the caller does not say
        # (None: as the cluster's masters are configured, pack-gc), and
        # whether it returns only once done (ZODB's IStorage.pack) or at
        # once (upstream's asynchronous pack: see wait_for_pack_id).
        self._pack_gc = pack_gc
        self.last_pack_id = None      # of the last pack() (None: none)
        if wait_for_pack is not None:
            self.wait_for_pack = bool(wait_for_pack)
        self._is_read_only = bool(read_only)  # read by BaseStorage.isReadOnly
        self._db = None
        self._commits = {}                    # transaction -> _Commit
        self._commits_lock = threading.Lock()
        self._oids = []
        self._oid_lock = threading.Lock()
        self._last_oid = z64
        # lastTransaction(): moves only once ZODB heard of the changes up
        # to it (see _invalidated and tpc_finish).
        self._last_tid = z64
        self._tid_lock = threading.RLock()  # f(tid) may call lastTransaction
        if (ca, cert, key) != (None, None, None) and None in (ca, cert, key):
            raise ValueError('SSL needs all of ca, cert and key')
        self._client = _neoclient.Client(
            ' '.join(str(master_nodes).replace(',', ' ').split()), str(name),
            read_only=self._is_read_only,
            cache_size=int(cache_size or 0),
            compress=_compress_level(compress),
            ca=ca, cert=cert, key=key, logfile=logfile,
            connect_timeout=float(connect_timeout or 0),
            on_invalidate=_invalidation_callback(self))
        _open_clients.add(self._client)
        self._blobs = None
        if blob_dir is not None:
            self._blobs = BlobCache(blob_dir, blob_cache_size,
                                    blob_cache_size_check)
            zope.interface.alsoProvides(self,
                                        interfaces.IBlobStorageRestoreable)
        last = self._client.last_tid()
        with self._tid_lock:
            if last > self._last_tid:
                self._last_tid = last

    # --- Invalidations ---------------------------------------------------

    def registerDB(self, db, limit=None):
        ConflictResolution.ConflictResolvingStorage.registerDB(self, db)
        self._db = db

    def _invalidated(self, tid, oids):
        """Called in the network thread for each transaction of another
        client, in commit order; oids None after a reconnection."""
        db = self._db
        if db is not None:
            if oids is None:
                db.invalidateCache()
            else:
                db.invalidate(tid, oids)
        # As upstream with ZODB 5: the last tid moves after the DB heard
        # of the changes, so that nobody reads at tid with a stale cache.
        with self._tid_lock:
            if oids is None or tid > self._last_tid:
                self._last_tid = tid

    def lastTransaction(self):
        # Waits while a tpc_finish callback runs, as FileStorage does, so
        # that the new tid is never seen before its callback ended.
        with self._tid_lock:
            return self._last_tid

    def sync(self):
        """Wait until every invalidation sent before now was processed."""
        try:
            self._client.sync()
        except _neoclient.Error as e:
            raise translate(e)

    # --- Reads -----------------------------------------------------------

    def load(self, oid, version=''):
        assert not version, 'versions are not supported'
        try:
            return _object_data(self._client.load(oid)[:2])
        except (_neoclient.NotFoundError, _neoclient.NoDataError):
            raise POSKeyError(oid)
        except _neoclient.Error as e:
            raise translate(e)

    def loadSerial(self, oid, serial):
        try:
            return _blob_data(self._client.load_serial(oid, serial)[0])
        except (_neoclient.NotFoundError, _neoclient.NoDataError):
            raise POSKeyError(oid)
        except _neoclient.Error as e:
            raise translate(e)

    def loadBefore(self, oid, tid):
        if tid == z64:
            # Nothing is before tid 0; still, an unknown oid is a KeyError.
            try:
                self._client.history(oid, 1)
            except _neoclient.NotFoundError:
                raise POSKeyError(oid)
            except _neoclient.Error as e:
                raise translate(e)
            return None
        try:
            return _object_data(self._client.load_before(oid, tid))
        except _neoclient.NotFoundError:
            raise POSKeyError(oid)
        except _neoclient.NoDataError as e:
            # As upstream: a deletion or an undone creation is a missing
            # object; no revision yet at that time is None.
            if e.serial is not None:
                raise POSKeyError(oid)
            return None
        except _neoclient.Error as e:
            raise translate(e)

    def getTid(self, oid):
        try:
            return self._client.load(oid)[1]
        except (_neoclient.NotFoundError, _neoclient.NoDataError):
            raise POSKeyError(oid)
        except _neoclient.Error as e:
            raise translate(e)

    def new_oid(self):
        if self._is_read_only:
            raise ReadOnlyError()
        with self._oid_lock:
            if not self._oids:
                try:
                    self._oids = self._client.new_oids(OID_BATCH)[::-1]
                except _neoclient.Error as e:
                    raise translate(e)
            oid = self._last_oid = self._oids.pop()
        return oid

    def __len__(self):
        # As upstream: the last oid this client was given, an estimate.
        return u64(self._last_oid)

    def history(self, oid, size=1, filter=None):
        try:
            revisions = self._client.history(oid, max(int(size), 1))
        except (_neoclient.NotFoundError, _neoclient.NoDataError):
            raise POSKeyError(oid)
        except _neoclient.Error as e:
            raise translate(e)
        result = []
        for serial, length in revisions:
            entry = transaction_info(self._client, serial)
            del entry['id']
            entry.update(tid=serial, version='', size=length)
            if filter is None or filter(entry):
                result.append(entry)
        return result

    def iterator(self, start=None, stop=None):
        return _iterator(self._client, start, min(stop or maxtid,
                                                  self.lastTransaction()))

    # --- Undo ------------------------------------------------------------

    def supportsUndo(self):
        return True

    def undoLog(self, first=0, last=-20, filter=None):
        """Transactions newest first, as dicts: `first` to `last` of those
        that pass `filter` (last < 0: -last of them)."""
        if last < 0:
            last = first - last
        wanted = max(last - first, 0)
        result = []
        skipped = seen = 0
        page = max(last, 20)
        packed = False
        while len(result) < wanted and not packed:
            # Only a log read from offset 0 is exact across storages.
            try:
                tids = self._client.undo_log(0, page)
            except _neoclient.Error as e:
                raise translate(e)
            for tid in tids[seen:]:
                entry, packed = transaction_info(self._client, tid, True)
                if packed:
                    # as FileStorage's: undo stops where a pack with
                    # garbage collection went (core/cluster/cluster.md
                    # section 14.2); older transactions cannot be undone
                    break
                if filter is not None and not filter(entry):
                    continue
                if skipped < first:
                    skipped += 1
                    continue
                result.append(entry)
                if len(result) == wanted:
                    break
            if len(tids) < page or packed:
                break
            seen = len(tids)
            page *= 4
        return result

    def undo(self, transaction_id, transaction):
        if self._is_read_only:
            raise ReadOnlyError()
        commit = self._commit(transaction)
        txn = commit.txn
        try:
            serials = txn.undo_serials(transaction_id)
        except (_neoclient.TidNotFoundError, _neoclient.UndoError):
            raise UndoError('non-undoable transaction')
        except _neoclient.Error as e:
            raise translate(e)
        oids = []
        for oid, current, undo_serial, is_current in serials:
            try:
                if is_current:
                    if undo_serial is None:
                        txn.delete(oid, current)  # undoing the creation
                        commit.data[oid] = None
                    else:
                        txn.store_undo(oid, current, undo_serial)
                        commit.data.pop(oid, None)
                else:
                    data = self._resolve_undo(commit, oid, current,
                                              transaction_id, undo_serial)
                    txn.store(oid, current, data)
                    commit.data[oid] = data
            except _neoclient.Error as e:
                raise translate(e)
            oids.append(oid)
        return None, oids

    def _resolve_undo(self, commit, oid, current, undone_tid, undo_serial):
        """The data that undoes undone_tid on oid changed since (as
        upstream: conflict resolution between the current revision and the
        one before undone_tid)."""
        try:
            if current == commit.txn.ttid:
                data = commit.data[oid]  # stored earlier in this transaction
            else:
                data = self._client.load_serial(oid, current)[0]
            undo_data = (self._client.load_serial(oid, undo_serial)[0]
                         if undo_serial is not None else None)
        except (KeyError, _neoclient.NotFoundError, _neoclient.NoDataError):
            raise UndoError('object not found while resolving the undo', oid)
        if not data or not undo_data:
            raise UndoError('some data were modified by a later transaction',
                            oid)
        try:
            return self.tryToResolveConflict(oid, current, undone_tid,
                                             undo_data, data)
        except ConflictError:
            raise UndoError('some data were modified by a later transaction',
                            oid)

    # --- Two-phase commit ------------------------------------------------

    def _commit(self, transaction):
        with self._commits_lock:
            commit = self._commits.get(transaction)
        if commit is None:
            raise StorageTransactionError(self, transaction)
        return commit

    def tpc_begin(self, transaction, tid=None, status=' '):
        if self._is_read_only:
            raise ReadOnlyError()
        with self._commits_lock:
            if transaction in self._commits:
                raise StorageTransactionError(
                    self, 'tpc_begin called twice for one transaction')
            self._commits[transaction] = None   # taken, while we ask
        try:
            txn = self._client.begin(tid)
        except BaseException as e:
            with self._commits_lock:
                del self._commits[transaction]
            if isinstance(e, _neoclient.Error):
                raise translate(e)
            raise
        with self._commits_lock:
            self._commits[transaction] = _Commit(txn)

    def store(self, oid, serial, data, version, transaction):
        assert not version, 'versions are not supported'
        if self._is_read_only:
            raise ReadOnlyError()
        commit = self._commit(transaction)
        try:
            commit.txn.store(oid, serial or z64, data)
        except _neoclient.Error as e:
            raise translate(e)
        commit.data[oid] = data

    def deleteObject(self, oid, serial, transaction):
        commit = self._commit(transaction)
        try:
            commit.txn.delete(oid, serial)
            # A blob object's chunks go with it (core/client/blobs.md):
            # an external garbage collector deleting it frees its blob.
            for chunk in self._chunks_of(oid, serial):
                commit.txn.delete(chunk, serial)
        except _neoclient.Error as e:
            raise translate(e)
        commit.data[oid] = None

    def _chunks_of(self, oid, serial):
        """The chunk oids of revision serial of oid if it is a blob's."""
        try:
            data = self._client.load_serial(oid, serial)[0]
        except _neoclient.Error:
            return ()  # the delete itself reports what is wrong
        return _neoclient.blob_chunks(data) if _neoclient.is_blob(data) else ()

    def restore(self, oid, serial, data, version, prev_txn, transaction):
        """Stores oid as copied from another storage, in the transaction
        begun with its tid (copyTransactionsFrom)."""
        assert not version, 'versions are not supported'
        if self._is_read_only:
            raise ReadOnlyError()
        commit = self._commit(transaction)
        base = self._current_serial(oid)
        try:
            if data is not None:
                commit.txn.store(oid, base, data)
            elif prev_txn:
                commit.txn.store_undo(oid, base, prev_txn)
            else:
                commit.txn.delete(oid, base)
        except _neoclient.Error as e:
            raise translate(e)
        commit.data[oid] = data

    def _current_serial(self, oid):
        """The serial a new revision of oid is based on (z64: none)."""
        try:
            return self._client.load(oid)[1]
        except _neoclient.NotFoundError:
            return z64
        except _neoclient.NoDataError as e:
            return e.serial or z64
        except _neoclient.Error as e:
            raise translate(e)

    def checkCurrentSerialInTransaction(self, oid, serial, transaction):
        commit = self._commit(transaction)
        try:
            commit.txn.check_current(oid, serial)
        except _neoclient.Error as e:
            raise translate(e)

    def tpc_vote(self, transaction):
        commit = self._commit(transaction)
        user = _as_bytes(transaction.user)
        description = _as_bytes(transaction.description)
        extension = transaction.extension_bytes
        while True:
            try:
                conflicts = commit.txn.vote(user, description, extension)
            except _neoclient.Error as e:
                raise translate(e)
            if not conflicts:
                break
            self._resolve(commit, conflicts)
        commit.voted = True
        return list(commit.resolved)

    def _resolve(self, commit, conflicts):
        """Resolves each conflict and stores the result for the next vote
        (ConflictError if one cannot be resolved)."""
        for oid, committed, base, data, read_conflict in conflicts:
            if read_conflict:
                raise ReadConflictError(oid=oid, serials=(committed, base))
        # Deletions last: a blob's conflict is then reported for its
        # object, not for the deletion of one of its old chunks.
        conflicts = sorted(conflicts, key=lambda c: c[3] is None)
        for oid, committed, base, data, read_conflict in conflicts:
            if data is not None:
                data = _blob_data(data)
            if data is None:  # a deletion cannot be merged
                raise ConflictError(oid=oid, serials=(committed, base))
            if self.lastTransaction() < committed:
                # As upstream: the invalidation of `committed` may still be
                # on its way; let it arrive before our own commit.
                self.sync()
            data = self.tryToResolveConflict(oid, committed, base, data)
            try:
                commit.txn.store(oid, committed, data)
            except _neoclient.Error as e:
                raise translate(e)
            commit.data[oid] = data
            commit.resolved.add(oid)
            commit.blobs.pop(oid, None)

    def tpc_finish(self, transaction, f=None):
        commit = self._commit(transaction)
        if not commit.voted:
            self.tpc_vote(transaction)
        try:
            tid = commit.txn.finish()
        except _neoclient.Error as e:
            # The transaction stays, for tpc_abort.
            raise translate(e)
        with self._commits_lock:
            self._commits.pop(transaction, None)
        self._blobs_committed(commit, tid)
        with self._tid_lock:
            try:
                if f is not None:
                    f(tid)
            finally:
                if tid > self._last_tid:
                    self._last_tid = tid
        return tid

    def tpc_abort(self, transaction):
        with self._commits_lock:
            commit = self._commits.pop(transaction, None)
        if commit is not None:
            commit.drop_blobs()
            commit.txn.abort()

    # --- Whole storage ---------------------------------------------------

    def copyTransactionsFrom(self, other, verbose=False):
        if self._blobs is None:
            BaseStorage.copy(other, self, verbose)
            return
        # As ZODB's blob storages: the blob of each blob record is copied
        # too (restoreBlob takes a copy of the source's file).
        for transaction in other.iterator():
            self.tpc_begin(transaction, transaction.tid, transaction.status)
            for record in transaction:
                blob = None
                if is_blob_record(record.data):
                    try:
                        blob = other.loadBlob(record.oid, record.tid)
                    except POSKeyError:
                        pass
                if blob is None:
                    self.restore(record.oid, record.tid, record.data, '',
                                 record.data_txn, transaction)
                    continue
                fd, copy = tempfile.mkstemp(suffix='.copy',
                                            dir=self.temporaryDirectory())
                with open(blob, 'rb') as source, os.fdopen(fd, 'wb') as target:
                    shutil.copyfileobj(source, target)
                self.restoreBlob(record.oid, record.tid, record.data, copy,
                                 record.data_txn, transaction)
            self.tpc_vote(transaction)
            self.tpc_finish(transaction)

    # As ZODB's IStorage.pack: pack returns once every storage has applied
    # it.  False: upstream's asynchronous pack, which returns once the order
    # is committed (storages apply it in the background); wait_for_pack_id
    # then waits for it.
    wait_for_pack = True

    def pack(self, t, referencesf=None, gc=None):
        """Forgets, for each object, its revisions older than the last one
        at time t; with garbage collection (gc True, or None and the
        storage's pack_gc or the cluster's default says so), also every
        object not reachable from the root at t and the transactions left
        empty, as FileStorage does.  The references are found by the
        storages (ZODB's forms, as referencesf finds them), so referencesf
        itself is not called.  The order is a transaction described
        TXN_PACK_DESC, as upstream.  Returns None, as IStorage.pack
        (ZODB's doctests check it); the order's id is left in
        last_pack_id, for wait_for_pack_id after an asynchronous pack."""
        self.last_pack_id = self.pack_tid(
            min(TimeStamp(*_gmtime(t)).raw(), self.lastTransaction()), gc)

    def pack_tid(self, tid, gc=None):
        """pack() at a tid rather than a time."""
        if gc is None:
            gc = self._pack_gc
        if tid == z64:
            return None
        try:
            return self._client.pack(tid, wait=self.wait_for_pack, gc=gc)
        except _neoclient.Error as e:
            raise translate(e)

    def wait_for_pack_id(self, pack_id):
        """Waits until every storage has applied the pack pack_id (what an
        asynchronous pack() returned)."""
        try:
            self._client.wait_for_pack(pack_id)
        except _neoclient.Error as e:
            raise translate(e)

    def close(self):
        client = self._client
        _open_clients.discard(client)
        with self._commits_lock:
            commits = [c for c in self._commits.values() if c is not None]
            self._commits.clear()
        for commit in commits:
            commit.drop_blobs()
        client.close()
        if self._blobs is not None:
            self._blobs.close()

    # --- Blobs (IBlobStorage) ----------------------------------------------

    def _blob_cache(self):
        if self._blobs is None:
            raise Unsupported('no blob_dir configured: this storage keeps no '
                              'blobs')
        return self._blobs

    def temporaryDirectory(self):
        return self._blob_cache().temporary

    def storeBlob(self, oid, oldserial, data, blobfilename, version,
                  transaction):
        """Stores the object and its blob, whose file becomes ours: it is
        moved to the cache (as the blob of the new revision at finish)
        and sent to the cluster from there, chunk by chunk."""
        assert not version, 'versions are not supported'
        if self._is_read_only:
            raise ReadOnlyError()
        if isinstance(oldserial, str):
            oldserial = oldserial.encode('latin-1')  # as ZODB's tests give it
        self._store_blob(self._commit(transaction), oid, oldserial or z64,
                         data, blobfilename)

    def _store_blob(self, commit, oid, base, data, blobfilename):
        cache = self._blob_cache()
        pending = cache.pending_path(oid)
        rename_or_copy_blob(blobfilename, pending)
        previous = commit.blobs.pop(oid, None)
        if previous is not None:
            remove_committed(previous)
        commit.blobs[oid] = pending
        try:
            commit.txn.store_blob(oid, base, data or b'', pending)
        except _neoclient.Error as e:
            raise translate(e)
        commit.data[oid] = data

    def restoreBlob(self, oid, serial, data, blobfilename, prev_txn,
                    transaction):
        """restore() of a blob object (copyTransactionsFrom): its blob is
        stored again, whole (prev_txn is not needed)."""
        if self._is_read_only:
            raise ReadOnlyError()
        commit = self._commit(transaction)
        self._store_blob(commit, oid, self._current_serial(oid), data,
                         blobfilename)

    def _blobs_committed(self, commit, tid):
        """The committed blobs are the cache's copies of the new
        revisions."""
        for oid, pending in commit.blobs.items():
            try:
                self._blobs.move_in(pending, oid, tid)
            except OSError as e:
                logger.warning('blob cache: %s: %s', pending, e)
        commit.blobs.clear()

    def loadBlob(self, oid, serial):
        """The path of a file holding the blob of revision serial, in the
        cache (downloaded if it is not there)."""
        cache = self._blob_cache()
        path = cache.lookup(oid, serial)
        if path is not None:
            return path
        cache.prepare(oid)
        path = cache.path(oid, serial)
        try:
            self._client.load_blob(oid, serial, path)
        except (_neoclient.NotFoundError, _neoclient.NoDataError,
                _neoclient.NotBlobError):
            raise POSKeyError('No blob file', oid, serial)
        except _neoclient.Error as e:
            raise translate(e)
        cache.added(path)
        return path

    def openCommittedBlobFile(self, oid, serial, blob=None):
        # The cache may remove the file between loadBlob and open: once
        # more then (the download puts a new one).
        for attempt in (1, 2):
            path = self.loadBlob(oid, serial)
            try:
                if blob is None:
                    return open(path, 'rb')
                return BlobFile(path, 'r', blob)
            except FileNotFoundError:
                if attempt == 2:
                    raise

    def cleanup(self):
        """Nothing to remove on the client side."""


def _gmtime(t):
    """TimeStamp's arguments for the time t (seconds since the epoch)."""
    g = time.gmtime(t)
    return g[:5] + (g[5] + t % 1,)


def _invalidation_callback(storage):
    """The callable given to the C client: it must not keep the Storage
    alive (the Storage owns the client)."""
    ref = weakref.ref(storage)

    def invalidated(tid, oids):
        storage = ref()
        if storage is not None:
            storage._invalidated(tid, oids)
    return invalidated
