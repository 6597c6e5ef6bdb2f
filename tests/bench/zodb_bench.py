"""ZODB storages side by side: our NEO cluster, ZEO, RelStorage and an
in-process FileStorage, on the same workloads in one run (the usual ones
of the ZODB world, after zodbshootout).  Prints figures and writes a
Markdown table and a PNG plot; asserts nothing.

    python zodb_bench.py BUILDDIR OUTDIR [--objects N] [--seconds S]

Run through tests/bench/zodb_bench.sh, which makes the virtualenv (ZODB,
ZEO, RelStorage, matplotlib from PyPI, neo.client against BUILDDIR).

Contenders, each started here:
  neo-sqlite-1   neosimple, 1 SQLite storage, 4 partitions
  neo-sqlite-2   neosimple, 2 SQLite storages, 4 partitions, no replica
  neo-rocksdb-1  neosimple, 1 RocksDB storage (if rocksdb.so is built)
  zeo            a ZEO server (runzeo) over a FileStorage
  relstorage     RelStorage over SQLite (a file shared by the processes:
                 embedded, no server, so its loads are local file reads)
  relstorage-pg  RelStorage over PostgreSQL: a private server started here
                 (tests/lib/postgresql_server.sh, the server's own
                 durability settings), reached on its Unix socket; skipped
                 when no PostgreSQL server is installed
  filestorage    FileStorage in the process: the single-node floor
                 (one process only: no concurrent figures)

Then the goals of issue 20 for neo-sqlite-1, as ratios: add-100 >= 1.5 x
ZEO's; commit p50 <= 0.5 x ZEO's; loads/s x4 and x8 >= 1.5 x
RelStorage+PostgreSQL's; load p50 <= 1.3 x the loopback round trip to
another process (an echo server in a child: a remote load wakes another
process too; the same ping-pong inside one thread is printed beside it).

Workloads:
  add-1 / add-100  N objects in transactions of 1 / 100 (objects/s)
  commit           latency of the 1-object commits (p50/p99 us)
  update           N objects changed in transactions of 100 (objects/s)
  read cold/warm/hot  N objects through a ZODB connection (objects/s):
                   cold a new client (empty caches), warm a new connection
                   of the same client (storage cache kept), hot the same
                   connection again
  load             single client, storage.load of each object once from a
                   new client (p50/p99 us: a remote load)
  loads/s x1/x4/x8 1, 4, 8 processes loading random objects for S s, each
                   with a new client
"""

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import transaction
import ZODB
from persistent import Persistent


class Item(Persistent):
    def __init__(self, number):
        self.number = number
        self.payload = 'x' * 100


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on %d' % port)


def percentile(samples, fraction):
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * fraction))]


# --- Contenders -------------------------------------------------------------
# Each opens storages from a plain dict (spec), so that worker processes
# can open their own.

def open_storage(spec, cacheless=False):
    kind = spec['kind']
    if kind == 'neo':
        from neo.client.Storage import Storage
        # cache_size 1 keeps nothing: every load goes to a storage node
        return Storage(master_nodes=spec['masters'], name=spec['name'],
                       cache_size=1 if cacheless else None)
    if kind == 'zeo':
        from ZEO.ClientStorage import ClientStorage
        return ClientStorage(('127.0.0.1', spec['port']),
                             cache_size=0 if cacheless else 20 << 20,
                             wait_timeout=30)
    if kind == 'relstorage':
        from ZODB.config import storageFromString
        return storageFromString("""
            %%import relstorage
            <relstorage>
              %s
              <sqlite3>
                data-dir %s
              </sqlite3>
            </relstorage>""" % ('cache-local-mb 0' if cacheless else '',
                               spec['dir']))
    if kind == 'relstorage-pg':
        from ZODB.config import storageFromString
        return storageFromString("""
            %%import relstorage
            <relstorage>
              %s
              <postgresql>
                dsn host=%s user=postgres dbname=bench
              </postgresql>
            </relstorage>""" % ('cache-local-mb 0' if cacheless else '',
                               spec['host']))
    if kind == 'filestorage':
        from ZODB.FileStorage import FileStorage
        return FileStorage(spec['path'])
    raise ValueError(kind)


class Contender(object):
    multiprocess = True

    def __init__(self, label, outdir):
        self.label = label
        self.dir = tempfile.mkdtemp(prefix='bench-%s-' % label, dir=outdir)
        self.process = None
        self.spec = None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class NEO(Contender):
    def __init__(self, label, outdir, builddir, dbs, engine='sqlite'):
        Contender.__init__(self, label, outdir)
        self.process = subprocess.Popen(
            [os.path.join(builddir, 'core', 'neosimple'), '--partitions', '4',
             '--engine', engine, '--temp_dir', self.dir, '--name', 'bench']
            + dbs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True)
        for line in self.process.stdout:
            if line.startswith('master_nodes='):
                masters = line.split(' name=')[0][len('master_nodes='):]
                break
        else:
            raise RuntimeError('neosimple did not start')
        self.spec = dict(kind='neo', masters=masters, name='bench')


class ZEO(Contender):
    def __init__(self, label, outdir):
        Contender.__init__(self, label, outdir)
        port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'ZEO.runzeo', '-a', '127.0.0.1:%d' % port,
             '-f', os.path.join(self.dir, 'Data.fs')],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        self.spec = dict(kind='zeo', port=port)


class RelStorage(Contender):
    def __init__(self, label, outdir):
        Contender.__init__(self, label, outdir)
        self.spec = dict(kind='relstorage', dir=self.dir)


class RelStoragePostgreSQL(Contender):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib',
                          'postgresql_server.sh')

    def __init__(self, label, outdir):
        Contender.__init__(self, label, outdir)
        # A short path the server's user can reach (a Unix socket's
        # path is short, and the server may run as another user).
        self.server_dir = tempfile.mkdtemp(prefix='neo-bench-pg-')
        subprocess.check_call(['sh', self.script, 'start', self.server_dir, 'bench'])
        self.spec = dict(kind='relstorage-pg', host=self.server_dir)

    def stop(self):
        subprocess.call(['sh', self.script, 'stop', self.server_dir])
        shutil.rmtree(self.server_dir, ignore_errors=True)
        Contender.stop(self)


class FileStorageFloor(Contender):
    multiprocess = False

    def __init__(self, label, outdir):
        Contender.__init__(self, label, outdir)
        self.spec = dict(kind='filestorage',
                         path=os.path.join(self.dir, 'Data.fs'))
        self.shared = None

    def open(self):
        # one FileStorage at a time: every workload shares it
        if self.shared is None:
            self.shared = open_storage(self.spec)
        return self.shared


# --- Workloads -------------------------------------------------------------

def open_db(contender, cacheless=False):
    if isinstance(contender, FileStorageFloor):
        return ZODB.DB(contender.open(), cache_size=100000)
    return ZODB.DB(open_storage(contender.spec, cacheless), cache_size=100000)


def close_db(contender, db):
    if isinstance(contender, FileStorageFloor):
        db.close = lambda: None     # keep the shared storage open
        return
    db.close()


def add(contender, count, per_txn, figures, name):
    db = open_db(contender)
    conn = db.open()
    root = conn.root()
    items = root.setdefault(name, {})
    latencies = []
    start = time.time()
    for first in range(0, count, per_txn):
        t = time.time()
        for n in range(first, min(count, first + per_txn)):
            items[n] = Item(n)
            conn.add(items[n])
        root[name] = items
        root._p_changed = True
        transaction.commit()
        latencies.append(time.time() - t)
    figures[name] = count / (time.time() - start)
    oids = [items[n]._p_oid for n in range(count)]
    conn.close()
    close_db(contender, db)
    return oids, latencies


def update(contender, oids, figures):
    db = open_db(contender)
    conn = db.open()
    start = time.time()
    for first in range(0, len(oids), 100):
        for oid in oids[first:first + 100]:
            item = conn.get(oid)
            item.number += 1
        transaction.commit()
    figures['update'] = len(oids) / (time.time() - start)
    conn.close()
    close_db(contender, db)


def read_all(conn, oids):
    start = time.time()
    total = 0
    for oid in oids:
        item = conn.get(oid)
        total += item.number     # loads it
    return len(oids) / (time.time() - start)


def reads(contender, oids, figures):
    db = open_db(contender)
    conn = db.open()
    figures['read cold'] = read_all(conn, oids)
    figures['read hot'] = read_all(conn, oids)
    conn.close()
    db.cacheMinimize()
    conn = db.open()
    conn.cacheMinimize()
    figures['read warm'] = read_all(conn, oids)
    conn.close()
    close_db(contender, db)


def load_latency(contender, oids, figures):
    if isinstance(contender, FileStorageFloor):
        storage = contender.open()
    else:
        storage = open_storage(contender.spec, cacheless=True)
    samples = []
    for oid in oids:
        t = time.time()
        storage.load(oid, '')
        samples.append(time.time() - t)
    if not isinstance(contender, FileStorageFloor):
        storage.close()
    figures['load p50 us'] = percentile(samples, .5) * 1e6
    figures['load p99 us'] = percentile(samples, .99) * 1e6


def _load_worker(spec, oids, seconds, queue):
    storage = open_storage(spec, cacheless=True)
    rng = random.Random(os.getpid())
    count = 0
    end = time.time() + seconds
    while time.time() < end:
        storage.load(rng.choice(oids), '')
        count += 1
    storage.close()
    queue.put(count)


def concurrent_loads(contender, oids, seconds, processes):
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_load_worker,
                                       args=(contender.spec, oids, seconds, queue))
               for _ in range(processes)]
    start = time.time()
    for w in workers:
        w.start()
    total = sum(queue.get() for _ in workers)
    for w in workers:
        w.join()
    return total / max(seconds, time.time() - start - 0.0)


def run_contender(contender, count, seconds):
    figures = {}
    oids, latencies = add(contender, max(1, count // 10), 1, figures, 'add-1')
    figures['commit p50 us'] = percentile(latencies, .5) * 1e6
    figures['commit p99 us'] = percentile(latencies, .99) * 1e6
    oids, _ = add(contender, count, 100, figures, 'add-100')
    update(contender, oids, figures)
    reads(contender, oids, figures)
    load_latency(contender, oids, figures)
    for n in (1, 4, 8):
        key = 'loads/s x%d' % n
        figures[key] = (concurrent_loads(contender, oids, seconds, n)
                        if contender.multiprocess else None)
    return figures


def _echo_serve(server):
    peer, _ = server.accept()
    peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        byte = peer.recv(1)
        if not byte:
            break
        peer.sendall(byte)
    peer.close()


def _ping_pong(send, receive, rounds):
    samples = []
    for _ in range(rounds):
        t = time.time()
        send()
        receive()
        samples.append(time.time() - t)
    return percentile(samples, .5) * 1e6


def loopback_rtt(rounds=20000):
    """A round trip to an echo server in another process (p50 us): what
    any remote call pays, the request waking the peer and the answer
    waking us.  The goals are held against it."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    pid = os.fork()
    if pid == 0:
        try:
            _echo_serve(server)
        finally:
            os._exit(0)
    address = server.getsockname()
    server.close()
    client = socket.create_connection(address)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtt = _ping_pong(lambda: client.sendall(b'x'), lambda: client.recv(1), rounds)
    client.close()
    os.waitpid(pid, 0)
    return rtt


def loopback_in_thread(rounds=20000):
    """The same ping-pong inside one thread (p50 us): no wake-up, no
    context switch, only the TCP stack; printed, not a bound."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer, _ = server.accept()
    peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send():
        client.sendall(b'x')
        peer.recv(1)
        peer.sendall(b'x')
    rtt = _ping_pong(send, lambda: client.recv(1), rounds)
    for s in (client, peer, server):
        s.close()
    return rtt


# --- Report ------------------------------------------------------------------

COLUMNS = ['add-1', 'add-100', 'commit p50 us', 'commit p99 us', 'update',
           'read cold', 'read warm', 'read hot', 'load p50 us', 'load p99 us',
           'loads/s x1', 'loads/s x4', 'loads/s x8']
LOWER_IS_BETTER = {'commit p50 us', 'commit p99 us', 'load p50 us', 'load p99 us'}


def markdown(results, reference, rtt, rtt_thread, count, seconds):
    lines = ['# ZODB storages side by side', '',
             '%d objects; concurrent loads for %g s; loopback round trip '
             '(Python, p50) %.1f us to an echo server in another process '
             '(%.1f us inside one thread, no wake-up).  Ratios are against '
             '%s (>1: %s is better).' % (count, seconds, rtt, rtt_thread,
                                         reference, reference), '',
             '| contender | ' + ' | '.join(COLUMNS) + ' |',
             '|---|' + '---|' * len(COLUMNS)]
    for label, figures in results:
        cells = []
        for column in COLUMNS:
            value = figures.get(column)
            cells.append('-' if value is None else '%.0f' % value)
        lines.append('| %s | %s |' % (label, ' | '.join(cells)))
    ref = dict(results).get(reference)
    if ref:
        lines += ['', '## Ratios: %s vs each' % reference, '',
                  '| contender | ' + ' | '.join(COLUMNS) + ' |',
                  '|---|' + '---|' * len(COLUMNS)]
        for label, figures in results:
            cells = []
            for column in COLUMNS:
                mine, theirs = ref.get(column), figures.get(column)
                if not mine or not theirs:
                    cells.append('-')
                elif column in LOWER_IS_BETTER:
                    cells.append('%.2f' % (theirs / mine))
                else:
                    cells.append('%.2f' % (mine / theirs))
            lines.append('| %s | %s |' % (label, ' | '.join(cells)))
    lines += goals(dict(results), reference, rtt)
    return '\n'.join(lines) + '\n'


def goals(results, reference, rtt):
    """Issue 20's goals for reference, each a ratio and its bound."""
    ours = results.get(reference, {})
    zeo = results.get('zeo', {})
    pg = results.get('relstorage-pg', {})
    rows = [('add-100 vs ZEO', ours.get('add-100'), zeo.get('add-100'), '>=', 1.5),
            ('commit p50 vs ZEO', ours.get('commit p50 us'), zeo.get('commit p50 us'), '<=', 0.5),
            ('loads/s x4 vs RelStorage+PostgreSQL', ours.get('loads/s x4'),
             pg.get('loads/s x4'), '>=', 1.5),
            ('loads/s x8 vs RelStorage+PostgreSQL', ours.get('loads/s x8'),
             pg.get('loads/s x8'), '>=', 1.5),
            ('load p50 vs loopback round trip (2 processes)', ours.get('load p50 us'), rtt,
             '<=', 1.3)]
    lines = ['', '## Goals of issue 20 (%s)' % reference, '',
             '| goal | ratio | bound | met |', '|---|---|---|---|']
    for name, mine, theirs, sense, bound in rows:
        if not mine or not theirs:
            lines.append('| %s | - | %s %.1f | - |' % (name, sense, bound))
            continue
        ratio = mine / theirs
        met = ratio >= bound if sense == '>=' else ratio <= bound
        lines.append('| %s | %.2f | %s %.1f | %s |' % (name, ratio, sense, bound,
                                                       'yes' if met else 'no'))
    return lines


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = [label for label, _ in results]
    panels = [('load latency (us, lower is better)', ['load p50 us', 'load p99 us']),
              ('commit latency (us, lower is better)', ['commit p50 us', 'commit p99 us']),
              ('loads/s (higher is better)', ['loads/s x1', 'loads/s x4', 'loads/s x8']),
              ('objects/s (higher is better)', ['add-100', 'update', 'read cold', 'read warm'])]
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    for ax, (title, columns) in zip(axes.flat, panels):
        width = 0.8 / len(columns)
        for i, column in enumerate(columns):
            values = [dict(results)[label].get(column) or 0 for label in labels]
            ax.bar([x + i * width for x in range(len(labels))], values, width,
                   label=column)
        ax.set_title(title)
        ax.set_yscale('log')     # embedded storages are orders apart
        ax.set_xticks([x + width * (len(columns) - 1) / 2 for x in range(len(labels))])
        ax.set_xticklabels(labels, rotation=20, fontsize=8)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('builddir')
    parser.add_argument('outdir')
    parser.add_argument('--objects', type=int, default=2000)
    parser.add_argument('--seconds', type=float, default=4)
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    builddir = os.path.abspath(args.builddir)

    makers = [
        ('neo-sqlite-1', lambda: NEO('neo-sqlite-1', args.outdir, builddir, ['db1'])),
        ('neo-sqlite-2', lambda: NEO('neo-sqlite-2', args.outdir, builddir, ['db1', 'db2'])),
    ]
    if os.path.exists(os.path.join(builddir, 'backends', '.libs', 'rocksdb.so')):
        makers.append(('neo-rocksdb-1', lambda: NEO('neo-rocksdb-1', args.outdir, builddir,
                                                    ['db1'], engine='rocksdb')))
    makers += [
        ('zeo', lambda: ZEO('zeo', args.outdir)),
        ('relstorage', lambda: RelStorage('relstorage', args.outdir)),
        ('relstorage-pg', lambda: RelStoragePostgreSQL('relstorage-pg', args.outdir)),
        ('filestorage', lambda: FileStorageFloor('filestorage', args.outdir)),
    ]
    rtt = loopback_rtt()
    rtt_thread = loopback_in_thread()
    print('loopback round trip (Python, p50): %.1f us to another process' % rtt)
    print('loopback round trip (Python, p50): %.1f us inside one thread (no wake-up)'
          % rtt_thread)
    results = []
    for label, make in makers:
        started = time.time()
        try:
            contender = make()
        except (OSError, subprocess.CalledProcessError) as e:
            print('%-14s skipped: %s' % (label, e))
            continue
        try:
            figures = run_contender(contender, args.objects, args.seconds)
        finally:
            contender.stop()
        results.append((label, figures))
        print('%-14s %s  (%.0f s)' % (label, '  '.join(
            '%s %s' % (k, '-' if v is None else '%.0f' % v) for k, v in figures.items()),
            time.time() - started))
        sys.stdout.flush()
    table = markdown(results, 'neo-sqlite-1', rtt, rtt_thread, args.objects, args.seconds)
    with open(os.path.join(args.outdir, 'zodb_bench.md'), 'w') as f:
        f.write(table)
    plot(results, os.path.join(args.outdir, 'zodb_bench.png'))
    print()
    print(table)
    print('written: %s and %s' % (os.path.join(args.outdir, 'zodb_bench.md'),
                                  os.path.join(args.outdir, 'zodb_bench.png')))


if __name__ == '__main__':
    multiprocessing.set_start_method('fork')
    main()
