"""Queries under load: the node's queue, the key count of a fleet's top
N, and a controller that keeps serving while it merges.

QueueTest — a node that runs one query at a time (`query-max-running
1`, the smallest setting) and ten `flowfleet query` processes started at
once: every one is answered (exit 0) with the same answer, the ones that
found the slot taken say how long they waited (`queued_ms`), and the
node refused none (its `busy` counter). A node without a free slot
queues the query (`query-max-queued`) instead of answering "node busy".
`flowfleet-node query` reads the store in its own process and shares no
limit with the daemon: it is not queued.

FleetKeysTest — the distinct-key count of a top N (`keys`, `subset` in
the JSON answer, "N distinct srcip" in the table) means the same on a
fleet as on one node: a one-node fleet gives exactly the node's local
count; on two nodes with overlapping keys the count is exact when every
key reached the controller (`--method full`: equal to the fleet's
`--distinct`) and otherwise unknown (`keys: null`, with bounds that hold
the true count), never a wrong number.

MergeOffLoopTest — while the controller merges a large listing from two
nodes, its loop keeps answering: status requests (CTL_NODES_GET, what
`flowfleet status` sends) made back to back during the query are each
answered in well under (two thirds of) the time the controller spent
after the last node's answer (unpacking, merging, packing). When the
merge ran on the loop, one status request waited for all of it.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

import fflib
from fflib import Controller, binpath
from test_dquery import dquery, enroll, fleet_node, node_query, small_store

CTL_NODES_GET = 103
CTL_NODES = 104


def fleet(tc, base, names, extra="", stores=()):
    """A controller and nodes named names on 127.0.44.base+i, their
    stores filled with flowgen (stores[i]: flowgen arguments) first."""
    ctl = Controller(tc, "ctl").start()
    fp = ctl.fingerprint()
    nodes, stored = [], []
    for i, name in enumerate(names):
        n = fleet_node(tc, base + i, name, fp, extra=extra)
        if i < len(stores):
            stored.append(small_store(os.path.join(n.state_dir, "flows"),
                                      *stores[i]))
        enroll(ctl, n)
        nodes.append(n.start())
    for n in nodes:
        ctl.wait_state(n.name, "up", timeout=20, query="up")
    return ctl, nodes, stored


def reasons(out):
    """The nodes' reasons in a `flowfleet query --json` output."""
    try:
        return [n["reason"] for n in json.loads(out)["nodes"]]
    except (ValueError, KeyError):
        return None


def cli_at_once(ctl, arglists, timeout=240):
    """Start one flowfleet command per argument list at once, wait for
    them all; [(returncode, stdout, stderr)] in order. Any still running
    at the end is killed."""
    procs = [subprocess.Popen([binpath("flowfleet"), "-s", ctl.sock, *a],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for a in arglists]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            outs.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return outs


class QueueTest(fflib.ProcTestCase):
    """One node, one query slot, ten queries at once."""

    QUERIES = 10

    def test_queries_queue_instead_of_failing(self):
        # 600 000 flows over many hosts, one scan thread: a top 10 by
        # srcip takes long enough that the ten queries overlap
        ctl, nodes, stored = fleet(
            self, 61, ["q1"], extra="query-max-running 1\n"
            "query-threads 1\n",
            stores=[(80, 600000, "--hosts", "200000", "--zipf", "0.6")])
        node = nodes[0]
        # half of them print the table (its summary line), half JSON
        args = ["query", "--top", "10", "--by", "srcip", "--timeout",
                "120s"]
        kinds = ["json" if i % 2 == 0 else "table"
                 for i in range(self.QUERIES)]
        outs = cli_at_once(ctl, [args + (["--json"] if k == "json" else [])
                                 for k in kinds])
        errors = [(rc, reasons(out) or out.strip() or err.strip())
                  for rc, out, err in outs if rc != 0]
        self.assertEqual(errors, [], "queries that failed")
        answers = [json.loads(out) for (_, out, _), k in zip(outs, kinds)
                   if k == "json"]
        tables = [out for (_, out, _), k in zip(outs, kinds)
                  if k == "table"]
        rows = [a["answer"]["rows"] for a in answers]
        for r in rows[1:]:
            self.assertEqual(r, rows[0])
        self.assertEqual(answers[0]["answer"]["totals"]["flows"], stored[0])
        # the tables' rows (not the footers, with their times) agree
        bodies = ["\n".join(ln for ln in t.splitlines()
                            if not ln.startswith(("--", "Scanned")))
                  for t in tables]
        for b in bodies[1:]:
            self.assertEqual(b, bodies[0])
        # they overlapped: queries waited for the slot, and say so (per
        # node, and as the most any node made the query wait; the table
        # in its summary line)
        waited = [a["nodes"][0]["queued_ms"] for a in answers]
        self.assertGreater(max(waited), 0, waited)
        for a in answers:
            self.assertEqual(a["queued_ms"], a["nodes"][0]["queued_ms"])
        said = [t for t in tables if re.search(
            r"(?m)^-- complete: 1/1 nodes answered, .*, queued up to "
            r"[1-9]\d* ms on a busy node$", t)]
        self.assertGreater(len(said), 0, tables)
        q = node.stats()["queries"]
        self.assertEqual((q["busy"], q["queued"], q["running"]), (0, 0, 0),
                         q)
        self.assertEqual(q["answered"], self.QUERIES, q)
        # flowfleet-node query reads the store in its own process: no
        # slot, no queue
        local = node_query(node, "--top", "10", "--by", "srcip")
        self.assertEqual(local["rows"], rows[0])

    def test_full_queue_refuses_and_names_the_setting(self):
        ctl, nodes, _ = fleet(
            self, 64, ["q2"], extra="query-max-running 1\n"
            "query-max-queued 1\nquery-threads 1\n",
            stores=[(81, 600000, "--hosts", "200000", "--zipf", "0.6")])
        args = ["query", "--json", "--top", "10", "--by", "srcip",
                "--timeout", "120s"]
        outs = cli_at_once(ctl, [args] * self.QUERIES)
        refused = [o for o in outs if o[0] != 0]
        # one runs, one waits; most of ten started together find both
        # taken (a refusal names both settings)
        self.assertGreater(len(refused), 0)
        self.assertLess(len(refused), self.QUERIES)
        for rc, out, err in refused:
            self.assertRegex(out + err, r"node busy: 1 queries running or "
                             r"kept \(query-max-running\) and 1 waiting "
                             r"\(query-max-queued\)")
        q = nodes[0].stats()["queries"]
        self.assertEqual(q["busy"], len(refused), q)


class FleetKeysTest(fflib.ProcTestCase):
    """The distinct-key count of a top N on a fleet and on one node."""

    def test_one_node_fleet_equals_local(self):
        ctl, nodes, _ = fleet(self, 71, ["k1"], stores=[
            (90, 300000, "--hosts", "100000", "--zipf", "0.6")])
        local = node_query(nodes[0], "--top", "10", "--by", "srcip")
        self.assertFalse(local["subset"])
        self.assertGreater(local["keys"], 4096)   # TPUT's side of auto
        for method in ("auto", "tput", "full"):
            rc, j = dquery(ctl, "--top", "10", "--by", "srcip",
                           "--method", method)
            self.assertEqual(rc, 0, j["nodes"])
            a = j["answer"]
            self.assertEqual((a["keys"], a["subset"]),
                             (local["keys"], False), method)
            self.assertEqual(a["rows"], local["rows"], method)
            self.assertTrue(j["keys_exact"], method)
        # the table says it as the node's own query does
        cp = ctl.cli("query", "--top", "3", "--by", "srcip")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("; %d distinct srcip" % local["keys"], cp.stdout)

    def test_two_nodes_overlapping_keys(self):
        # both draw from the same 100 000 hosts: most keys are on both
        args = ("--hosts", "100000", "--zipf", "0.6")
        ctl, nodes, _ = fleet(self, 73, ["k2", "k3"], stores=[
            (91, 300000, *args), (92, 300000, *args)])
        rc, d = dquery(ctl, "--distinct", "srcip")
        self.assertEqual(rc, 0)
        union = d["answer"]["distinct"]
        per_node = [node_query(n, "--top", "10", "--by", "srcip")["keys"]
                    for n in nodes]
        self.assertLess(union, sum(per_node))     # they overlap
        # every key reached the controller: exact
        rc, j = dquery(ctl, "--top", "10", "--by", "srcip", "--method",
                       "full")
        self.assertEqual(rc, 0)
        self.assertEqual((j["answer"]["keys"], j["answer"]["subset"]),
                         (union, False))
        self.assertTrue(j["keys_exact"])
        # TPUT ships a selection: the count is exact or unknown, never
        # wrong, and its bounds hold
        for method in ("auto", "tput"):
            rc, j = dquery(ctl, "--top", "10", "--by", "srcip",
                           "--method", method)
            self.assertEqual(rc, 0)
            a = j["answer"]
            if j["keys_exact"]:
                self.assertEqual((a["keys"], a["subset"]), (union, False))
            else:
                self.assertEqual((a["keys"], a["subset"]), (None, True))
                self.assertLessEqual(j["keys_min"], union)
                self.assertGreaterEqual(j["keys_max"], union)
                self.assertEqual(j["keys_max"], sum(per_node))
                self.assertGreaterEqual(j["keys_min"], max(per_node))
        cp = ctl.cli("query", "--top", "3", "--by", "srcip", "--method",
                     "tput")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotRegex(cp.stdout, r"; \d+ distinct srcip")
        self.assertRegex(cp.stdout, r"-- distinct srcip: not known \(TPUT "
                         r"ships a selection of the keys\): between %d and "
                         r"%d" % (max(per_node), sum(per_node)))


class StatusProbe(threading.Thread):
    """CTL_NODES_GET on the controller's socket, one after the other,
    until stopped: the latency of each (s)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.latencies = []
        self.error = None

    def run(self):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.path)
            peer = fflib.WirePeer(s)
            mid = 1
            while not self.stop.is_set():
                t0 = time.monotonic()
                peer.send(CTL_NODES_GET, mid, {})
                m = peer.recv(timeout=120)
                if m is None or m[0] != CTL_NODES or m[1] != mid:
                    raise AssertionError("status answer: %r" % (m,))
                self.latencies.append(time.monotonic() - t0)
                mid += 1
                self.stop.wait(0.02)
            peer.close()
        except Exception as e:          # reported by the test
            self.error = e


class MergeOffLoopTest(fflib.ProcTestCase):
    """A listing of 800 000 flows merged from two nodes (some 50 MB from
    each) while status requests keep coming."""

    def test_status_answered_while_merging(self):
        ctl, nodes, stored = fleet(self, 76, ["m1", "m2"], stores=[
            (95, 450000), (96, 450000)])
        limit = 800000
        probe = StatusProbe(ctl.sock)
        out = os.path.join(self.tmp, "list.json")
        probe.start()
        try:
            with open(out, "w") as f:
                cp = subprocess.run([binpath("flowfleet"), "-s", ctl.sock,
                                     "query", "--json", "--list",
                                     str(limit), "--timeout", "300s"],
                                    stdout=f, stderr=subprocess.PIPE,
                                    text=True, timeout=600)
        finally:
            probe.stop.set()
            probe.join(timeout=150)
        self.assertIsNone(probe.error)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(out) as f:
            j = json.load(f)
        self.assertEqual(len(j["answer"]["flows"]), limit)
        # the controller's own figures: the query's time, and when the
        # last node's answer had come in; what is after that is the
        # controller's work on the answers
        last = max(n["elapsed_ms"] for n in j["nodes"])
        tail_ms = j["elapsed_ms"] - last
        worst_ms = max(probe.latencies or [0]) * 1000
        print("\n  merge: query %d ms, last node's answer in at %d ms, "
              "controller after it %d ms; %d status requests, the slowest "
              "%.0f ms" % (j["elapsed_ms"], last, tail_ms,
                           len(probe.latencies), worst_ms),
              file=sys.stderr)
        self.assertGreater(tail_ms, 100, "the merge took too little time "
                           "to tell (elapsed %d ms, last node %d ms)"
                           % (j["elapsed_ms"], last))
        self.assertGreater(len(probe.latencies), 5)
        # with the merge on the loop, a status request made while it ran
        # waited for all of it and more (the last answer's decoding
        # too): longer than tail_ms
        self.assertLess(worst_ms, tail_ms * 2 / 3,
                        "a status request waited %.0f ms while the "
                        "controller spent %d ms on the answers"
                        % (worst_ms, tail_ms))


if __name__ == "__main__":
    unittest.main()
