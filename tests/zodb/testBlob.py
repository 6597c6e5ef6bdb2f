"""ZODB's blob tests for storages (ZODB.tests.testblob's
storage_reusable_suite: the blob_connection, blob_importexport and
blob_transaction doctests, testblob's own storage doctests, BlobUndoTests
and RecoveryBlobStorage), against real clusters through neo.client with a
blob_dir, as ZEO runs them for its ClientStorage.

The suite's factory is called with a name and a blob directory: each name
is a cluster of its own for the test (the same name again is a new client
of the same cluster, with that blob directory as its cache); the clusters
stop when the test ends.  blob_packing.txt is left out, as ZEO leaves it
out for its blob cache: it looks for the blob files of old revisions in
the storage's directory, which NEO keeps in the cluster (what pack does to
blobs is checked by tests/cluster/test_blobs).
"""

import doctest
import os
import unittest

from ZODB.tests.testblob import storage_reusable_suite

from base import new_cluster

_clusters = {}


def _stop_clusters():
    while _clusters:
        _, cluster = _clusters.popitem()
        cluster.stop()


def _create_storage(name, blob_dir):
    cluster = _clusters.get(name)
    if cluster is None:
        cluster = _clusters[name] = new_cluster('blob-' + name)
    return cluster.storage(blob_dir=blob_dir)


def _each_test(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _each_test(test)
        else:
            yield test


def _skip_permission_checks(test):
    """As root, a read-only file can be opened for writing: the example of
    blob_transaction.txt that expects PermissionError then cannot pass,
    whatever the storage (test_blob_file_permissions still checks that
    committed blobs are read-only)."""
    for example in test._dt_test.examples:
        if "open(blob.committed(), 'w')" in example.source:
            example.options[doctest.SKIP] = True


def load_tests(loader, tests, pattern):
    suite = storage_reusable_suite('NEO', _create_storage,
                                   test_blob_storage_recovery=True,
                                   test_packing=False, test_undo=True)
    for test in _each_test(suite):
        test.addCleanup(_stop_clusters)
        if os.geteuid() == 0 and hasattr(test, '_dt_test'):
            _skip_permission_checks(test)
    return suite
