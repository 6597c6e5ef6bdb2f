"""The local blob cache of neo.client.Storage (ZODB's IBlobStorage).

Blobs live in the cluster (core/client/blobs.md); this directory only
holds copies, which can be removed at any time:

    BLOB_DIR/OID/SERIAL.blob   the blob of a revision, read-only (OID and
                               SERIAL as 16 hex digits)
    BLOB_DIR/tmp/              ZODB's temporaryDirectory(): uncommitted
                               blobs and savepoints
    BLOB_DIR/pending/          blobs of transactions being committed,
                               moved to OID/SERIAL.blob by tpc_finish

A blob is downloaded beside its place and renamed into it, so a file there
is always whole; several clients (threads or processes) may share a
directory.  With a size bound, the least recently used files (by access
time, which loads update) are removed once more than a tenth of the bound
was added since the last check, as ZEO's blob cache behaves.
"""

import logging
import os
import re
import stat
import threading
import time
import uuid

from ZODB.utils import u64

logger = logging.getLogger(__name__)

_HEX16 = re.compile(r'[0-9a-f]{16}$').match
SUFFIX = '.blob'


class BlobCache(object):

    def __init__(self, directory, size=None, size_check=10):
        self.directory = os.path.abspath(directory)
        self.temporary = os.path.join(self.directory, 'tmp')
        self.pending = os.path.join(self.directory, 'pending')
        for path in (self.directory, self.temporary, self.pending):
            os.makedirs(path, 0o700, exist_ok=True)
        self.size = None if size is None else int(size)
        if not 0 < int(size_check) < 100:
            raise ValueError('blob_cache_size_check: a percentage, 1 to 99')
        self._check_every = (None if self.size is None
                             else max(self.size * int(size_check) // 100, 1))
        self._added = 0
        self._lock = threading.Lock()
        self._pruner = None             # the thread pruning, if one runs
        self._again = False             # it is to run once more
        if self.size is not None:
            self._prune_soon()

    # --- Paths -------------------------------------------------------------

    def path(self, oid, serial):
        return os.path.join(self.directory, '%016x' % u64(oid),
                            '%016x%s' % (u64(serial), SUFFIX))

    def pending_path(self, oid):
        """A new name for a blob of a transaction being committed."""
        return os.path.join(self.pending, '%016x-%s' % (u64(oid),
                                                        uuid.uuid4().hex))

    # --- Files -------------------------------------------------------------

    def lookup(self, oid, serial):
        """The path of the cached blob, its access time updated; None if
        it is not cached."""
        path = self.path(oid, serial)
        try:
            os.utime(path, (time.time(), os.stat(path).st_mtime))
        except OSError:
            return None
        return path

    def prepare(self, oid):
        """Creates the directory of oid's blobs."""
        os.makedirs(os.path.join(self.directory, '%016x' % u64(oid)), 0o700,
                    exist_ok=True)

    def added(self, path):
        """A blob file was put at path: made read-only (readable as its
        directory is, as ZODB's blob directories are) and counted."""
        readable = (os.stat(os.path.dirname(path)).st_mode
                    & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH))
        os.chmod(path, readable)
        if self.size is None:
            return
        with self._lock:
            self._added += os.stat(path).st_size
            due = self._added >= self._check_every
        if due:
            self._prune_soon()

    def move_in(self, pending, oid, serial):
        """The blob of a committed transaction goes to its place."""
        self.prepare(oid)
        path = self.path(oid, serial)
        os.replace(pending, path)
        self.added(path)
        return path

    # --- Size bound --------------------------------------------------------

    def _prune_soon(self):
        with self._lock:
            self._added = 0
            if self._pruner is not None:
                self._again = True  # blobs came during its run: once more
                return
            self._again = False
            self._pruner = threading.Thread(target=self._prune_loop,
                                            name='neo blob cache pruner',
                                            daemon=True)
            self._pruner.start()

    def _prune_loop(self):
        while True:
            try:
                self.prune()
            except OSError as e:
                logger.warning('blob cache %s: %s', self.directory, e)
            with self._lock:
                if not self._again:
                    self._pruner = None
                    return
                self._again = False

    def files(self):
        """(access time, size, path) of every cached blob."""
        result = []
        for name in os.listdir(self.directory):
            if not _HEX16(name):
                continue
            base = os.path.join(self.directory, name)
            try:
                entries = os.listdir(base)
            except OSError:
                continue
            for entry in entries:
                if not entry.endswith(SUFFIX):
                    continue
                path = os.path.join(base, entry)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                result.append((st.st_atime, st.st_size, path))
        return result

    def prune(self):
        """Removes the least recently used blobs until the cache is under
        its bound less a tenth (the check's step)."""
        if self.size is None:
            return
        target = max(self.size - self._check_every, 0)
        files = self.files()
        total = sum(size for _, size, _ in files)
        files.sort()
        for _, size, path in files:
            if total <= target:
                break
            try:
                # An open file stays readable by whoever has it open.
                os.remove(path)
            except OSError:
                continue
            total -= size
        logger.debug('blob cache %s: %d bytes after pruning', self.directory,
                     total)

    def close(self):
        with self._lock:
            pruner = self._pruner
        if pruner is not None:
            pruner.join()
