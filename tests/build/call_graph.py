#!/usr/bin/env python3
"""call_graph.py - the file-level call graph of core/, from the object files.

Reads, with nm, the global symbols each object file of BUILDDIR/core/<folder>/
defines and uses, links every use to the file that defines the symbol, and
reports:

  - cycles between folders (a folder is a library or a program: proto,
    runtime, net, cluster, daemon, master, storage, client, ...), which the
    layering forbids;
  - cycles between the files of the folders named with --files (master and
    client by default), which are reported, not refused.

A cycle is a strongly connected component of more than one node; each is
printed with the edges inside it and, for each edge, a few of the symbols
that make it.

Usage: call_graph.py [--tap] [--edges] [--files master,client] BUILDDIR
With --tap the report is TAP (for "make check"): the folder test fails on
any cross-folder cycle; the file reports are diagnostics.  Without objects
(nothing built) the tests are skipped.
"""
import os
import subprocess
import sys
from collections import defaultdict


def object_files(core):
    """(folder, file name, path) of each object of core/, libtool's PIC
    copies (.libs/) preferred over a plain one of the same source."""
    found = {}
    for root, _dirs, files in os.walk(core):
        rel = os.path.relpath(root, core).split(os.sep)
        folder = rel[0]
        if folder == '.' or folder.startswith('.'):
            continue
        for name in files:
            if not name.endswith('.o'):
                continue
            # automake names an object TARGET-SOURCE.o when the target has
            # its own flags: the source's name is after the last '-'.
            stem = name[:-2].rsplit('-', 1)[-1]
            key = (folder, stem, name[:-2])
            if key in found and '.libs' not in rel:
                continue
            found[key] = os.path.join(root, name)
    return sorted((folder, stem, path) for (folder, stem, _), path in found.items())


def symbols(path):
    out = subprocess.run(['nm', '-g', path], capture_output=True, text=True,
                         check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] not in 'Uuvw':
            defined.add(parts[2])
    return defined, used


def sccs(nodes, edges):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]

    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def describe(component, edges, why):
    lines = ['cycle: ' + ' <-> '.join(component)]
    members = set(component)
    for a in component:
        for b in sorted(edges.get(a, ())):
            if b in members:
                names = sorted(why[(a, b)])
                more = ' ...' if len(names) > 4 else ''
                lines.append('  %s -> %s: %s%s' % (a, b, ', '.join(names[:4]), more))
    return lines


def analyze(objects, file_folders):
    """(folders, folder cycles, their report, {folder: file report},
    {folder: file edges}) of the objects."""
    definers = defaultdict(set)		# symbol -> {(folder, file)}
    uses = {}
    for folder, stem, path in objects:
        defined, used = symbols(path)
        uses[(folder, stem)] = used
        for name in defined:
            definers[name].add((folder, stem))

    folder_edges, folder_why = defaultdict(set), defaultdict(set)
    file_edges = {f: defaultdict(set) for f in file_folders}
    file_why = {f: defaultdict(set) for f in file_folders}
    for (folder, stem), used in uses.items():
        for name in used:
            where = definers.get(name)
            if not where:
                continue	# a system library's
            # A name defined in several programs (each its own main.c
            # helpers): the one in the user's folder is the one linked.
            local = {w for w in where if w[0] == folder}
            for target_folder, target_file in (local or where):
                if target_folder != folder:
                    folder_edges[folder].add(target_folder)
                    folder_why[(folder, target_folder)].add(name)
                elif folder in file_edges and target_file != stem:
                    file_edges[folder][stem].add(target_file)
                    file_why[folder][(stem, target_file)].add(name)

    folders = sorted({f for f, _s, _p in objects})
    folder_cycles = sccs(folders, folder_edges)
    report = []
    for component in folder_cycles:
        report += describe(component, folder_edges, folder_why)
    file_reports = {}
    for folder in file_folders:
        files = sorted({s for f, s, _p in objects if f == folder})
        lines = []
        for component in sccs(files, file_edges[folder]):
            lines += describe(component, file_edges[folder], file_why[folder])
        file_reports[folder] = lines

    return folders, folder_cycles, report, file_reports, file_edges


def selftest():
    """Builds two folders whose files call each other with $CC and
    checks the cycle is found: (ok, why)."""
    import shutil
    import tempfile
    cc = os.environ.get('CC', 'cc').split()
    if not cc or shutil.which(cc[0]) is None:
        return None, 'no C compiler'
    top = tempfile.mkdtemp(prefix='neo-call-graph-')
    try:
        sources = {'one/a.c': 'int b(void); int a(void) { return b(); }\n',
                   'two/b.c': 'int a(void); int b(void) { return 0; }\n'
                              'int c(void) { return a(); }\n'}
        for name, text in sources.items():
            path = os.path.join(top, 'core', name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)
            subprocess.run(cc + ['-c', path, '-o', path[:-2] + '.o'], check=True,
                           capture_output=True)
        objects = object_files(os.path.join(top, 'core'))
        _f, cycles, _r, _fr, _fe = analyze(objects, [])
        return cycles == [['one', 'two']], 'found: %s' % cycles
    except (OSError, subprocess.CalledProcessError) as e:
        return None, 'cannot build: %s' % e
    finally:
        shutil.rmtree(top, ignore_errors=True)


def main(argv):
    tap = '--tap' in argv
    show_edges = '--edges' in argv
    argv = [a for a in argv if a not in ('--tap', '--edges')]
    file_folders = ['master', 'client']
    if '--files' in argv:
        at = argv.index('--files')
        file_folders = argv[at + 1].split(',')
        del argv[at:at + 2]
    builddir = argv[0] if argv else '_build'
    objects = object_files(os.path.join(builddir, 'core'))
    if not objects:
        if tap:
            print('1..0 # SKIP no object files under %s/core' % builddir)
            return 0
        print('no object files under %s/core' % builddir, file=sys.stderr)
        return 1

    folders, folder_cycles, report, file_reports, file_edges = \
        analyze(objects, file_folders)

    if not tap:
        print('folders: %s' % ' '.join(folders))
        print('cycles between folders: %d' % len(folder_cycles))
        for line in report:
            print('  ' + line)
        for folder in file_folders:
            count = sum(1 for l in file_reports[folder] if l.startswith('cycle'))
            print('cycles between files of %s/: %d' % (folder, count))
            for line in file_reports[folder]:
                print('  ' + line)
            if show_edges:
                for a in sorted(file_edges[folder]):
                    print('  %s -> %s' % (a, ' '.join(sorted(file_edges[folder][a]))))
        return 1 if folder_cycles else 0

    print('1..%d' % (2 + len(file_folders)))
    print('%s 1 - no cycle of calls between the folders of core/ (%s)'
          % ('not ok' if folder_cycles else 'ok', ' '.join(folders)))
    for line in report:
        print('# ' + line)
    for n, folder in enumerate(file_folders, 2):
        count = sum(1 for l in file_reports[folder] if l.startswith('cycle'))
        print('ok %d - cycles between the files of %s/ reported: %d' % (n, folder, count))
        for line in file_reports[folder]:
            print('# ' + line)
    ok, why = selftest()
    n = 2 + len(file_folders)
    if ok is None:
        print('ok %d # SKIP a cycle made on purpose is found: %s' % (n, why))
    else:
        print('%s %d - a cycle made on purpose between two folders is found (%s)'
              % ('ok' if ok else 'not ok', n, why))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
