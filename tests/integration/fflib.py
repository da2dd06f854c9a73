"""Shared helpers for flowfleet's integration tests.

Every process a test starts is tracked and stopped by PID when the test
ends; every loop is bounded in count and time.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("FF_BIN", "")
TESTDATA = os.environ.get("FF_TESTDATA", "")


def binpath(name):
    """Path of a built flowfleet binary."""
    return os.path.join(BIN, name)


def testdata(rel):
    """Path of a file under ../shared/testdata/flows."""
    return os.path.join(TESTDATA, rel)


def require_testdata(tc):
    """Skip loudly when the shared captures are absent (CI always has
    them)."""
    if not TESTDATA or not os.path.isdir(TESTDATA):
        tc.skipTest("shared/testdata/flows is absent (FF_TESTDATA=%r): "
                    "capture tests cannot run" % TESTDATA)


def require_tool(tc, tool):
    if shutil.which(tool) is None:
        tc.fail("%s is not installed; 'make deps' installs it" % tool)


def wait_for(pred, timeout=10.0, step=0.05, what="condition"):
    """Poll pred() until it returns a true value or timeout seconds pass;
    return that value or raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(step)


def run(args, timeout=120, check=True, **kw):
    """Run a command to completion; return CompletedProcess (text)."""
    cp = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), cp.returncode, cp.stdout[-4000:],
            cp.stderr[-4000:]))
    return cp


def decode(files, *extra, check=True):
    """Run 'flowfleet-node decode --json' on files; return (flows, summary,
    exporters, completed process)."""
    cp = run([binpath("flowfleet-node"), "decode", "--json", "--exporters",
              *extra, *files], check=check)
    flows = [json.loads(l) for l in cp.stdout.splitlines() if l.strip()]
    summary, exporters = None, []
    for l in cp.stderr.splitlines():
        if l.startswith('{"summary"'):
            summary = json.loads(l)["summary"]
        elif l.startswith('{"exporter"'):
            exporters.append(json.loads(l))
    return flows, summary, exporters, cp


class ProcTestCase(unittest.TestCase):
    """A TestCase that owns a temporary directory and stops, by PID, every
    process it started."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fftest-")
        self._procs = []

    def tearDown(self):
        for p in reversed(self._procs):
            stop(p)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, args, log_name=None, **kw):
        """Start a background process; it is stopped at tearDown."""
        log = open(os.path.join(self.tmp, log_name or
                                (os.path.basename(args[0]) + ".log")), "ab")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        p.log_path = log.name
        log.close()
        self._procs.append(p)
        return p

    def log_text(self, p):
        with open(p.log_path, errors="replace") as f:
            return f.read()


def stop(p, sig=signal.SIGTERM, timeout=10.0):
    """Stop process p by PID: sig, then SIGKILL after timeout seconds.
    Returns its exit status."""
    if p.poll() is not None:
        return p.returncode
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        return p.wait()
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        return p.wait(timeout=5)
