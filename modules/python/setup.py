"""Build of neo.client: the Python package and its C extension over
libneoclient.  Where libneoclient comes from (see README):

- NEO_BUILDDIR set: an in-tree build, headers from $NEO_SRCDIR/core
  (default: the source tree holding this file), library from
  $NEO_BUILDDIR/core/.libs, found at run time through an rpath;
- otherwise an installed libneoclient, through `pkg-config neoclient`.
"""
import os
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def in_tree(builddir):
    srcdir = os.environ.get('NEO_SRCDIR') or os.path.join(HERE, '..', '..')
    include = os.path.abspath(os.path.join(srcdir, 'core'))
    libdir = os.path.abspath(os.path.join(builddir, 'core', '.libs'))
    for path in (os.path.join(include, 'neo', 'client.h'),
                 os.path.join(libdir, 'libneoclient.so')):
        if not os.path.exists(path):
            raise SystemExit('neo.client: %s not found (NEO_SRCDIR/NEO_BUILDDIR)' % path)
    return dict(include_dirs=[include], library_dirs=[libdir],
                runtime_library_dirs=[libdir], libraries=['neoclient'])


def installed():
    try:
        flags = subprocess.check_output(
            ['pkg-config', '--cflags', '--libs', 'neoclient'], text=True)
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit('neo.client: libneoclient not found: install it (pkg-config '
                         'neoclient) or set NEO_BUILDDIR to a build directory')
    kw = dict(include_dirs=[], library_dirs=[], runtime_library_dirs=[], libraries=[])
    for flag in shlex.split(flags):
        if flag.startswith('-I'):
            kw['include_dirs'].append(flag[2:])
        elif flag.startswith('-L'):
            # An installed library outside the linker's paths is found
            # at run time too.
            kw['library_dirs'].append(flag[2:])
            kw['runtime_library_dirs'].append(flag[2:])
        elif flag.startswith('-l'):
            kw['libraries'].append(flag[2:])
    return kw


builddir = os.environ.get('NEO_BUILDDIR')
library = in_tree(builddir) if builddir else installed()

extension = Extension(
    'neo.client._neoclient',
    sources=['src/module.c', 'src/client.c', 'src/txn.c'],
    depends=['src/neoclient_py.h'],
    extra_compile_args=['-std=c11', '-Wall', '-Wextra', '-Wno-unused-parameter',
                        '-Wno-missing-field-initializers', '-Wno-cast-function-type'],
    **library)

setup(
    name='neoppod-c-client',
    version='0.1',
    description='ZODB storage for NEO clusters, over libneoclient',
    packages=['neo', 'neo.client'],
    package_data={'neo.client': ['component.xml']},
    ext_modules=[extension],
    python_requires='>=3.10',
    install_requires=['ZODB >= 5.6', 'zope.interface', 'ZConfig'],
    extras_require={'zodburi': ['zodburi']},
    entry_points={
        'zodburi.resolvers': [
            'neo = neo.client.zodburi:resolve_uri',
            'neos = neo.client.zodburi:resolve_uri',
        ],
    },
)
