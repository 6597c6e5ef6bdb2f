"""Blob throughput, ZODB storages side by side in one run: our NEO cluster
(blobs in the cluster, core/client/blobs.md), ZEO's blob server and
RelStorage over PostgreSQL keeping blobs in its database (large objects,
no shared blob directory).  Prints figures in MB/s and NEO's ratio to
the goal of issue 22; asserts nothing.

    python blob_bench.py BUILDDIR OUTDIR [--small N] [--large N]
                         [--zeo-shared] [--relstorage-sqlite]

Contenders, each a client as a remote deployment has it (its own blob
cache directory, not shared with the server: every blob crosses a
socket):
  neo-sqlite-1         neosimple, one SQLite storage, 4 partitions
  zeo                  ZEO's runzeo (FileStorage and its blob directory),
                       ClientStorage with a private blob cache
                       (shared_blob_dir false: blobs sent over the wire)
  relstorage-postgresql  RelStorage, a private PostgreSQL server
                       (tests/lib/postgresql_server.sh), shared-blob-dir
                       false: blobs kept in the database in chunks
Shown for information only, never part of the goal: zeo-shared
(--zeo-shared: the client writes and reads the server's blob directory
itself, nothing crosses the socket) and relstorage-sqlite
(--relstorage-sqlite).

Workloads, for blobs of 1 MiB (N small ones, 32 by default) and 100 MiB
(N large ones, 2 by default), one blob per transaction, random bytes
(incompressible, as most blobs are: images, PDFs, archives):
  write   one client commits the blobs from files (consumeFile of a copy
          made before the clock starts) (MB/s)
  read    cold read: a new client (new process state: new storage
          object, new DB, empty object caches) with a new, empty blob
          cache directory opens and reads every blob whole; the servers
          keep their own caches (OS page cache, PostgreSQL buffers) as
          they are after the writes, the same for every contender (MB/s:
          the transfer from the servers into the client's blob cache plus
          reading it back)

Each figure is also given per CPU-second: the MB moved divided by the
CPU time (user + system) the client process (all its threads) and the
server processes (with their children: NEO's master and storages,
runzeo, the postmaster and its backends) spent meanwhile.  On a machine
shared with other work, wall-clock rates move with its load; the CPU
cost per MB moves much less.

Goal (issue 22): NEO at least the faster of zeo and relstorage-postgresql
in each column; the last lines print NEO / max(zeo, relstorage-postgresql)
for each column, of MB/s (the goal: >= 1.00 meets it) and of MB per
CPU-second.

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
    def __init__(self, label, outdir, shared=False):
        Contender.__init__(self, label, outdir)
        self.shared = shared
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

    def server_pid(self):
        return self.process.pid

    def storage(self, blob_dir):
        from ZEO.ClientStorage import ClientStorage
        if self.shared:  # the server's own directory: no transfer
            return ClientStorage(('127.0.0.1', self.port),
                                 blob_dir=os.path.join(self.dir, 'blobs'),
                                 shared_blob_dir=True, wait_timeout=30)
        return ClientStorage(('127.0.0.1', self.port), blob_dir=blob_dir,
                             shared_blob_dir=False, wait_timeout=30)


class PostgreSQLServer(object):
    """A private server (tests/lib/postgresql_server.sh) with one database
    per workload, so that each starts empty."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                          'lib', 'postgresql_server.sh')

    def __init__(self, databases):
        # A short path (a Unix socket's), which the server's user can reach.
        self.dir = tempfile.mkdtemp(prefix='neo-blob-pg-')
        subprocess.check_call(['sh', self.script, 'start', self.dir]
                              + list(databases))

    def pid(self):
        """The postmaster's (its backends are its children)."""
        with open(os.path.join(self.dir, 'data', 'postmaster.pid')) as f:
            return int(f.readline())

    def dsn(self, database):
        return 'host=%s user=postgres dbname=%s' % (self.dir, database)

    def stop(self):
        subprocess.call(['sh', self.script, 'stop', self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)


class RelStorageBlobs(Contender):
    def __init__(self, label, outdir, server=None, database=None):
        Contender.__init__(self, label, outdir)
        self.server = server
        self.dsn = server.dsn(database) if server else None

    def server_pid(self):
        return self.server.pid() if self.server else None  # SQLite: in the client

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
    def server_pid(self):
        return self.process.pid  # neosimple: the master, the storages...

    def storage(self, blob_dir):
        from neo.client.Storage import Storage
        return Storage(master_nodes=self.spec['masters'],
                       name=self.spec['name'], blob_dir=blob_dir)


def tree_cpu(root):
    """CPU seconds (user + system) of process root and its descendants,
    those reaped included (Linux /proc)."""
    if root is None:
        return 0.0
    children, stats = {}, {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        # utime stime cutime cstime: fields 14 to 17 of stat(5)
        stats[pid] = sum(int(x) for x in fields[11:15])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf('SC_CLK_TCK')


def cpu_now(contender):
    """This process's CPU seconds (the client, all its threads) plus the
    servers'."""
    t = os.times()
    return t.user + t.system + tree_cpu(contender.server_pid())


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
    cpu = cpu_now(contender)
    start = time.time()
    oids = []
    for copy in copies:
        blob = Blob()
        blob.consumeFile(copy)
        conn.root()[len(oids)] = blob
        transaction.commit()
        oids.append(blob._p_oid)
    elapsed = time.time() - start
    cpu = cpu_now(contender) - cpu
    db.close()
    return total / MIB / elapsed, total / MIB / cpu, len(oids)


def read(contender, count):
    """A new client, an empty blob cache: reads every blob whole."""
    cache = tempfile.mkdtemp(dir=contender.dir, prefix='rcache-')
    db = ZODB.DB(contender.storage(cache))
    conn = db.open()
    total = 0
    cpu = cpu_now(contender)
    start = time.time()
    for i in range(count):
        with conn.root()[i].open() as f:
            while True:
                data = f.read(MIB)
                if not data:
                    break
                total += len(data)
    elapsed = time.time() - start
    cpu = cpu_now(contender) - cpu
    db.close()
    shutil.rmtree(cache, ignore_errors=True)
    return total / MIB / elapsed, total / MIB / cpu


GOAL = ('zeo', 'relstorage-postgresql')
COLUMNS = ('write 1M', 'read 1M', 'write 100M', 'read 100M')


def run_contender(make, files):
    """[4 figures in MB/s], [the same 4 in MB per CPU-second]."""
    rates, efficiency = [], []
    for n, size in enumerate((1, 100)):
        contender = make(size)
        try:
            rate, per_cpu, count = write(contender, files[size], files['scratch'])
            rates.append(rate)
            efficiency.append(per_cpu)
            rate, per_cpu = read(contender, count)
            rates.append(rate)
            efficiency.append(per_cpu)
        except Exception as e:  # a contender missing: say so, go on
            print('%s: %s: %s' % (contender.label, type(e).__name__, e))
            rates += [float('nan')] * (2 * (n + 1) - len(rates))
            efficiency += [float('nan')] * (2 * (n + 1) - len(efficiency))
        finally:
            contender.stop()
    return rates, efficiency


def print_table(title, results):
    print(title)
    print('%-24s %10s %10s %10s %10s' % (('',) + COLUMNS))
    for label, figures in results:
        print('%-24s %10.1f %10.1f %10.1f %10.1f' % ((label,) + tuple(figures)))


def print_ratios(title, results):
    results = dict(results)
    neo = results.get('neo-sqlite-1')
    if neo is None or not all(label in results for label in GOAL):
        return []
    ratios = []
    for i in range(4):
        best = max(results[label][i] for label in GOAL)
        ratios.append(neo[i] / best if best > 0 else float('nan'))
    print('%-24s %10.2f %10.2f %10.2f %10.2f' % ((title,) + tuple(ratios)))
    return ratios


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('builddir')
    parser.add_argument('outdir')
    parser.add_argument('--small', type=int, default=32)
    parser.add_argument('--large', type=int, default=2)
    parser.add_argument('--zeo-shared', action='store_true',
                        help='also ZEO with shared_blob_dir (not the goal)')
    parser.add_argument('--relstorage-sqlite', action='store_true',
                        help='also RelStorage on SQLite (not the goal)')
    parser.add_argument('--only', action='append',
                        help='only these contenders (neo, zeo, relstorage)')
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix='blob-bench-', dir=args.outdir)
    files = {1: make_files(scratch, MIB, args.small),
             100: make_files(scratch, 100 * MIB, args.large),
             'scratch': scratch}
    makers = [
        ('neo-sqlite-1', lambda size: NEOBlobs('neo', args.outdir,
                                               args.builddir, ['db1'])),
        ('zeo', lambda size: ZEOBlobs('zeo', args.outdir)),
        ('relstorage-postgresql', lambda size: RelStorageBlobs(
            'relstorage', args.outdir, pg, 'blobs%d' % size)),
    ]
    if args.zeo_shared:
        makers.append(('zeo-shared (info)',
                       lambda size: ZEOBlobs('zeo', args.outdir, True)))
    if args.relstorage_sqlite:
        makers.append(('relstorage-sqlite (info)',
                       lambda size: RelStorageBlobs('relstorage', args.outdir)))
    makers = [(label, make) for label, make in makers
              if not args.only or any(o in label for o in args.only)]
    pg = None
    if any(label == 'relstorage-postgresql' for label, _ in makers):
        pg = PostgreSQLServer(['blobs1', 'blobs100'])
    print('blob throughput (1 MiB: %d blobs, 100 MiB: %d blobs; one per '
          'transaction; load average %s)'
          % (args.small, args.large, ' '.join(open('/proc/loadavg').read().split()[:3])))
    rates, efficiency = [], []
    try:
        for label, make in makers:
            rate, per_cpu = run_contender(make, files)
            rates.append((label, rate))
            efficiency.append((label, per_cpu))
            print('%-24s %10.1f %10.1f %10.1f %10.1f MB/s' % ((label,) + tuple(rate)))
            sys.stdout.flush()
        print()
        print_table('MB/s (wall clock)', rates)
        print()
        print_table('MB per CPU-second (client and servers, user + system)', efficiency)
        print()
        print('goal (issue 22): NEO / max(%s), >= 1.00 meets it' % ', '.join(GOAL))
        print('%-24s %10s %10s %10s %10s' % (('',) + COLUMNS))
        ratios = print_ratios('ratio MB/s', rates)
        print_ratios('ratio MB per CPU-s', efficiency)
        if ratios:
            missed = [c for c, r in zip(COLUMNS, ratios) if not r >= 1]
            print('goal (MB/s) %s' % ('met' if not missed else
                                      'NOT met: ' + ', '.join(missed)))
        print('load average at the end: %s' % ' '.join(
            open('/proc/loadavg').read().split()[:3]))
    finally:
        if pg:
            pg.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    main()
