"""Blob throughput, ZODB storages side by side in one run: our NEO cluster
(blobs in the cluster, core/client/blobs.md), ZEO's blob server (a
FileStorage with a blob directory, blobs sent to a client cache) and
RelStorage keeping blobs in its database in chunks (over SQLite: an
embedded file, no server; with PostgreSQL when $BENCH_PG_DSN is set).
Prints figures in MB/s; asserts nothing.

    python blob_bench.py BUILDDIR OUTDIR [--small N] [--large N]

Workloads, for blobs of 1 MiB (N small ones, 32 by default) and 100 MiB
(N large ones, 2 by default), one blob per transaction:
  write   commit the blobs from files (MB/s)
  read    a new client with an empty blob cache reads every blob
          (MB/s: the transfer from the servers to the client's cache)

Run through tests/bench/blob_bench.sh (make bench-blobs).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import transaction
import ZODB
from ZODB.blob import Blob

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zodb_bench import Contender, NEO, free_port, wait_port  # noqa: E402

MIB = 1 << 20


class ZEOBlobs(Contender):
    def __init__(self, label, outdir):
        Contender.__init__(self, label, outdir)
        port = free_port()
        config = os.path.join(self.dir, 'zeo.conf')
        with open(config, 'w') as f:
            f.write('<zeo>\n  address 127.0.0.1:%d\n</zeo>\n'
                    '<filestorage>\n  path %s/Data.fs\n  blob-dir %s/blobs\n'
                    '</filestorage>\n' % (port, self.dir, self.dir))
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'ZEO.runzeo', '-C', config],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        self.port = port

    def storage(self, blob_dir):
        from ZEO.ClientStorage import ClientStorage
        return ClientStorage(('127.0.0.1', self.port), blob_dir=blob_dir,
                             wait_timeout=30)


class RelStorageBlobs(Contender):
    def __init__(self, label, outdir, dsn=None):
        Contender.__init__(self, label, outdir)
        self.dsn = dsn

    def storage(self, blob_dir):
        from ZODB.config import storageFromString
        if self.dsn:
            adapter = '<postgresql>\n dsn %s\n</postgresql>' % self.dsn
        else:
            adapter = '<sqlite3>\n data-dir %s/db\n</sqlite3>' % self.dir
        return storageFromString("""
            %%import relstorage
            <relstorage>
              blob-dir %s
              shared-blob-dir false
              %s
            </relstorage>""" % (blob_dir, adapter))


class NEOBlobs(NEO):
    def storage(self, blob_dir):
        from neo.client.Storage import Storage
        return Storage(master_nodes=self.spec['masters'],
                       name=self.spec['name'], blob_dir=blob_dir)


def make_files(directory, size, count):
    paths = []
    for i in range(count):
        path = os.path.join(directory, 'in-%d-%d' % (size, i))
        with open(path, 'wb') as f:
            for _ in range(size // MIB):
                f.write(os.urandom(MIB))
        paths.append(path)
    return paths


def write(contender, sources, scratch):
    """Commits a blob from each source file (a copy: ZODB moves it)."""
    db = ZODB.DB(contender.storage(os.path.join(contender.dir, 'wcache')))
    conn = db.open()
    copies = []
    for path in sources:
        copy = os.path.join(scratch, 'copy-' + os.path.basename(path))
        shutil.copyfile(path, copy)
        copies.append(copy)
    total = sum(os.path.getsize(p) for p in sources)
    start = time.time()
    oids = []
    for copy in copies:
        blob = Blob()
        blob.consumeFile(copy)
        conn.root()[len(oids)] = blob
        transaction.commit()
        oids.append(blob._p_oid)
    elapsed = time.time() - start
    db.close()
    return total / MIB / elapsed, len(oids)


def read(contender, count):
    """A new client, an empty blob cache: reads every blob whole."""
    cache = tempfile.mkdtemp(dir=contender.dir, prefix='rcache-')
    db = ZODB.DB(contender.storage(cache))
    conn = db.open()
    total = 0
    start = time.time()
    for i in range(count):
        with conn.root()[i].open() as f:
            while True:
                data = f.read(MIB)
                if not data:
                    break
                total += len(data)
    elapsed = time.time() - start
    db.close()
    shutil.rmtree(cache, ignore_errors=True)
    return total / MIB / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('builddir')
    parser.add_argument('outdir')
    parser.add_argument('--small', type=int, default=32)
    parser.add_argument('--large', type=int, default=2)
    parser.add_argument('--only', action='append',
                        help='only these contenders (neo, zeo, relstorage)')
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix='blob-bench-', dir=args.outdir)
    files = {1: make_files(scratch, MIB, args.small),
             100: make_files(scratch, 100 * MIB, args.large)}
    pg = os.environ.get('BENCH_PG_DSN')
    makers = [
        ('neo-sqlite-1', lambda: NEOBlobs('neo', args.outdir, args.builddir,
                                          ['db1'])),
        ('zeo', lambda: ZEOBlobs('zeo', args.outdir)),
        ('relstorage-' + ('postgresql' if pg else 'sqlite'),
         lambda: RelStorageBlobs('relstorage', args.outdir, pg)),
    ]
    print('blob throughput, MB/s (1 MiB: %d blobs, 100 MiB: %d blobs; '
          'one per transaction)' % (args.small, args.large))
    print('%-22s %10s %10s %10s %10s' % ('', 'write 1M', 'read 1M',
                                         'write 100M', 'read 100M'))
    try:
        for label, make in makers:
            if args.only and not any(o in label for o in args.only):
                continue
            figures = []
            for size in (1, 100):
                contender = make()
                try:
                    rate, count = write(contender, files[size], scratch)
                    figures += [rate, read(contender, count)]
                except Exception as e:  # a contender missing: say so, go on
                    print('%s: %s: %s' % (label, type(e).__name__, e))
                    figures += [float('nan')] * 2
                finally:
                    contender.stop()
            print('%-22s %10.1f %10.1f %10.1f %10.1f' % ((label,) + tuple(
                figures[i] for i in (0, 1, 2, 3))))
            sys.stdout.flush()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    main()
