"""Pack with garbage collection: NEO (2 storages) next to FileStorage on
the same database of OBJECTS objects, half of them unreachable.

    python pack_bench.py BUILDDIR [OBJECTS] [STORAGES]

Prints the time of the pack and the peak memory (VmHWM, reset just before
the pack through /proc/PID/clear_refs) of each NEO node, and FileStorage's
pack time and the peak memory of its process during the pack.  Figures,
not a test: make bench-pack (OBJECTS=1000000 by default; make
bench-pack-short is the small run)."""

import os
import sys
import tempfile
import time

import transaction
from BTrees.IOBTree import IOBTree
from persistent.list import PersistentList
from persistent.mapping import PersistentMapping
from ZODB import DB
from ZODB.FileStorage import FileStorage

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'zodb'))

CHUNK = 1000    # objects per container and per transaction half


def populate(db, objects):
    """objects/2 reachable (in containers under an IOBTree of the root),
    objects/2 in containers linked from the root only until the next
    commit."""
    conn = db.open()
    root = conn.root()
    root['kept'] = tree = IOBTree()
    transaction.commit()
    for n in range(max(objects // (2 * CHUNK), 1)):
        size = min(CHUNK, max(objects // 2, 1))
        tree[n] = PersistentList(PersistentMapping(v=i) for i in range(size))
        root['tmp'] = PersistentList(PersistentMapping(v=-i) for i in range(size))
        transaction.commit()
        conn.cacheMinimize()
    del root['tmp']
    transaction.commit()
    conn.close()


def peak_reset(pid):
    with open('/proc/%s/clear_refs' % pid, 'w') as f:
        f.write('5')


def peak_kib(pid):
    with open('/proc/%s/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def bench_neo(builddir, objects, storages):
    os.environ['NEO_BUILDDIR'] = builddir
    from cluster import Cluster
    neo = Cluster(name='packbench', storages=storages, partitions=4 * storages,
                  replicas=0, pack_gc=True)
    neo.start()
    neo.wait_running()
    try:
        storage = neo.storage()
        db = DB(storage)
        t0 = time.time()
        populate(db, objects)
        fill = time.time() - t0
        time.sleep(0.01)
        pids = [p.pid for p in neo.processes]
        for pid in pids:
            peak_reset(pid)
        t0 = time.time()
        db.pack(time.time())
        elapsed = time.time() - t0
        peaks = [(os.path.basename(p.args[0]), peak_kib(p.pid)) for p in neo.processes]
        db.close()
        gc_lines = [line for line in neo.log('master0').splitlines()
                    if 'garbage collection' in line or 'marked' in line
                    or 'removed' in line]
        return fill, elapsed, peaks, gc_lines
    finally:
        neo.stop()


def bench_filestorage(objects):
    with tempfile.TemporaryDirectory() as scratch:
        db = DB(FileStorage(os.path.join(scratch, 'bench.fs')))
        t0 = time.time()
        populate(db, objects)
        fill = time.time() - t0
        time.sleep(0.01)
        peak_reset('self')
        base = peak_kib('self')
        t0 = time.time()
        db.pack(time.time())
        elapsed = time.time() - t0
        peak = peak_kib('self')
        db.close()
        return fill, elapsed, base, peak


def main():
    builddir = sys.argv[1]
    objects = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    storages = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print('== pack with garbage collection: %d objects (half unreachable)'
          % objects)
    fill, elapsed, peaks, lines = bench_neo(builddir, objects, storages)
    print('NEO, %d SQLite storages, %d partitions: filled in %.1f s, '
          'pack %.2f s' % (storages, 4 * storages, fill, elapsed))
    for name, kib in peaks:
        print('  %-11s peak RSS during pack %8.1f MiB' % (name, kib / 1024.0))
    for line in lines:
        print('  master: ' + line.split(': ', 1)[-1])
    fill, elapsed, base, peak = bench_filestorage(objects)
    print('FileStorage: filled in %.1f s, pack %.2f s, process peak RSS '
          'during pack %.1f MiB (%.1f MiB before)'
          % (fill, elapsed, peak / 1024.0, base / 1024.0))


if __name__ == '__main__':
    main()
