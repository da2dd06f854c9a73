#!/usr/bin/python3
"""Run flowfleet's integration tests: every tests/integration/test_*.py.

Environment: FF_BIN (directory holding the built binaries), FF_TESTDATA
(../shared/testdata/flows). Arguments, if any, are test-module name
patterns (e.g. 'captures' runs test_captures.py only).
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sys.path.insert(0, HERE)
    if not os.environ.get("FF_BIN"):
        sys.exit("run.py: set FF_BIN to the directory with the binaries")
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    pats = sys.argv[1:]
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        mod = name[:-3]
        if pats and not any(p in mod for p in pats):
            continue
        suite.addTests(loader.loadTestsFromName(mod))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
