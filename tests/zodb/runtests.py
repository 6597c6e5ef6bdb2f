"""Runs the ZODB storage tests of this folder against real clusters and
ends with one line: `zodb: N passed, N failed, N skipped`.

An expected failure (expected.py) that fails counts as passed; one that
passes counts as failed.  Exit status 0 iff nothing failed.

    NEO_BUILDDIR=... python runtests.py [-v] [-k PATTERN] [MODULE...]
"""

import argparse
import glob
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # the source tree stays clean

from expected import EXPECTED_FAILURES  # noqa: E402


def all_modules():
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(HERE, 'test*.py')))


def tests_of(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from tests_of(test)
        else:
            yield test


def test_key(test):
    doctest = getattr(test, '_dt_test', None)
    if doctest is not None:
        # Doctests are all runTest of one class: their name tells them apart.
        return '%s.%s' % (type(test).__name__, doctest.name)
    return '%s.%s' % (type(test).__name__, test._testMethodName)


def mark_expected(test):
    """Wraps the test method as an expected failure."""
    method = getattr(test, test._testMethodName)
    wrapped = unittest.expectedFailure(method.__func__)
    setattr(test, test._testMethodName, wrapped.__get__(test))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-v', '--verbose', action='store_true')
    parser.add_argument('-k', dest='patterns', action='append',
                        help='only tests whose Class.method contains this')
    parser.add_argument('modules', nargs='*')
    args = parser.parse_args()

    loader = unittest.TestLoader()
    tests, unknown = [], set(EXPECTED_FAILURES)
    for name in args.modules or all_modules():
        for test in tests_of(loader.loadTestsFromName(name)):
            key = test_key(test)
            if args.patterns and not any(p in key for p in args.patterns):
                continue
            if key in EXPECTED_FAILURES:
                unknown.discard(key)
                mark_expected(test)
            tests.append(test)
    if unknown and not (args.modules or args.patterns):
        print('expected.py names tests that do not exist: %s'
              % ', '.join(sorted(unknown)))
        return 2

    start = time.time()
    runner = unittest.TextTestRunner(stream=sys.stdout,
                                     verbosity=2 if args.verbose else 1)
    result = runner.run(unittest.TestSuite(tests))
    xfail = [test_key(t) for t, _ in result.expectedFailures]
    if xfail:
        print('\nExpected failures (see expected.py):')
        for key in sorted(xfail):
            print('  %s: %s' % (key, EXPECTED_FAILURES[key]))
    for test in result.unexpectedSuccesses:
        print('UNEXPECTED SUCCESS: %s (remove it from expected.py)'
              % test_key(test))
    failed = (len(result.failures) + len(result.errors)
              + len(result.unexpectedSuccesses))
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print('%d tests in %.0f s' % (result.testsRun, time.time() - start))
    print('zodb: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
