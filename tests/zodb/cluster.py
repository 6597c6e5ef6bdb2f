"""A real NEO cluster on 127.0.0.1 for the ZODB tests: neomaster and
neostorage processes of the build under test, SQLite databases and logs
in a temporary directory (as tests/lib/cluster_util.c does in C).

NEO_BUILDDIR names the build directory (the runner sets it).  The
cluster is new at each start(): new directory, databases and ports, so
that a test never sees another's data.
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from neo.client.Storage import Storage

# How long a client waits for the cluster to be RUNNING, in seconds.
CONNECT_TIMEOUT = 30

# Clusters still running at exit are stopped.
_running = set()
atexit.register(lambda: [cluster.stop() for cluster in list(_running)])


def _die_with_parent():
    """In the child: SIGKILL when the test process dies, even killed."""
    try:
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG,
                                                signal.SIGKILL)
    except Exception:
        pass


def free_ports(count):
    """count ports nobody listens on, all different: the sockets stay
    bound until every port is chosen, or the kernel could give one twice."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            sockets.append(s)
            s.bind(('127.0.0.1', 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Cluster(object):

    def __init__(self, name='zodb', storages=1, partitions=1, replicas=0,
                 masters=1, builddir=None, pack_gc=True):
        self.builddir = builddir or os.environ['NEO_BUILDDIR']
        self.name = name
        self.storage_count = storages
        self.partitions = partitions
        self.replicas = replicas
        self.master_count = masters
        # the masters' pack-gc: packs collect garbage unless the client
        # says otherwise, as FileStorage's do
        self.pack_gc = pack_gc
        self.processes = []
        self.dir = None

    @property
    def master_nodes(self):
        return ' '.join('127.0.0.1:%d' % p for p in self.master_ports)

    def _spawn(self, program, *args):
        # Daemons log to files of their own; their output is not ours.
        command = [os.path.join(self.builddir, 'core', program),
                   '-c', self.name] + list(args)
        with open(os.devnull, 'wb') as null:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                       stdout=null, stderr=null,
                                       preexec_fn=_die_with_parent)
        self.processes.append(process)
        _running.add(self)

    def start(self):
        """Starts masters and storages; a client's open waits until the
        cluster is RUNNING (the masters start it once every storage is
        there)."""
        self.stop()
        self.dir = tempfile.mkdtemp(prefix='neo-zodb-')
        ports = free_ports(self.master_count + self.storage_count)
        self.master_ports = ports[:self.master_count]
        storage_ports = ports[self.master_count:]
        engine = os.path.join(self.builddir, 'backends', '.libs', 'sqlite.so')
        for i, port in enumerate(self.master_ports):
            self._spawn('neomaster', '-b', '127.0.0.1:%d' % port,
                        '-m', self.master_nodes,
                        '-p', str(self.partitions), '-r', str(self.replicas),
                        '-A', str(self.storage_count),
                        '-l', os.path.join(self.dir, 'master%d.log' % i),
                        *(['--pack-gc'] if self.pack_gc else []))
        self.storage_ports = storage_ports
        self.storage_processes = []
        for i in range(self.storage_count):
            self.start_storage(i)

    def start_storage(self, i):
        """Starts storage i (again: same port, same database)."""
        engine = os.path.join(self.builddir, 'backends', '.libs', 'sqlite.so')
        self._spawn('neostorage', '-b', '127.0.0.1:%d' % self.storage_ports[i],
                    '-m', self.master_nodes, '-e', engine,
                    '-d', os.path.join(self.dir, 'storage%d.db' % i),
                    '-l', os.path.join(self.dir, 'storage%d.log' % i))
        process = self.processes[-1]
        if i < len(self.storage_processes):
            self.storage_processes[i] = process
        else:
            self.storage_processes.append(process)

    def kill_storage(self, i):
        """kill -9 of storage i (crashed() does not count it)."""
        process = self.storage_processes[i]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.processes.remove(process)

    def log(self, name):
        """The text of a node's log: master0, storage1, admin..."""
        try:
            with open(os.path.join(self.dir, name + '.log')) as f:
                return f.read()
        except OSError:
            return ''

    def start_admin(self):
        """An admin node, for neoctl()."""
        self.admin_port = free_ports(1)[0]
        self._spawn('neoadmin', '-b', '127.0.0.1:%d' % self.admin_port,
                    '-m', self.master_nodes,
                    '-l', os.path.join(self.dir, 'admin.log'))

    def neoctl(self, *words):
        """neoctl's output for a command, e.g. neoctl('check', ':')."""
        command = [os.path.join(self.builddir, 'core', 'neoctl'),
                   '-a', '127.0.0.1:%d' % self.admin_port] + list(words)
        return subprocess.run(command, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=30,
                              check=False).stdout.decode()

    def wait_running(self, timeout=10):
        """Waits until a master logs the RUNNING state, so that the first
        client gets in at once instead of being sent back to retry."""
        deadline = time.time() + timeout
        logs = [os.path.join(self.dir, 'master%d.log' % i)
                for i in range(self.master_count)]
        while time.time() < deadline:
            for log in logs:
                try:
                    with open(log) as f:
                        if 'cluster state: RUNNING' in f.read():
                            return True
                except OSError:
                    pass
            if self.crashed():
                raise RuntimeError('cluster processes died: %s (logs in %s)'
                                   % (self.crashed(), self.dir))
            time.sleep(0.005)
        return False

    def stop(self, keep=False):
        """Stops every process (SIGKILL: the databases are thrown away)
        and removes the directory unless keep (then returns it)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        for process in self.processes:
            process.wait()
        self.processes = []
        _running.discard(self)
        directory, self.dir = self.dir, None
        if directory and not keep:
            shutil.rmtree(directory, ignore_errors=True)
        return directory

    def crashed(self):
        """The processes that died while they should run."""
        return [p.args[0] for p in self.processes if p.poll() is not None]

    def storage(self, **kw):
        """A neo.client Storage of this cluster."""
        kw.setdefault('connect_timeout', CONNECT_TIMEOUT)
        return Storage(master_nodes=self.master_nodes, name=self.name, **kw)
