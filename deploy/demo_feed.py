#!/usr/bin/python3
"""Feed the demo fleet: replay the flow-export captures of
../shared/testdata/flows to the nodes over loopback.

Every capture's UDP payloads go, in capture order, to one node: sFlow
(captured on UDP 6343) to the node's port 6343, everything else to its
port 2055. The captures are dealt out to the nodes in turn. Each capture
is sent from a source address of its own (127.1.NODE.N), so that the
exporters of different captures do not share template state; captures
made to be replayed together (akvorado's *-template / *-data pairs) go
from the same address, templates first, as the testdata README says.

usage: demo_feed.py TESTDATA_DIR NODE_ADDR...
Prints one line per node: captures and datagrams sent.
"""
import os
import re
import socket
import sys
import time

from scapy.all import IP, IPv6, UDP, PcapReader   # python3-scapy

PACE = 5000     # datagrams per second


def groups(root):
    """Lists of capture files that are replayed together, in order."""
    order = {"options-template": 0, "options-data": 1, "template": 2,
             "templates": 2, "data": 3}
    out = {}
    for d, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith((".pcap", ".pcapng")):
                continue
            m = re.match(r"(.*?)-(options-template|options-data|templates?|"
                         r"data)\.pcap$", f)
            key = os.path.join(d, m.group(1)) if m else os.path.join(d, f)
            rank = order[m.group(2)] if m else 0
            out.setdefault(key, []).append((rank, os.path.join(d, f)))
    return [[p for _, p in sorted(v)] for _, v in sorted(out.items())]


def payloads(path):
    """(destination port, UDP payload) of every UDP datagram."""
    try:
        with PcapReader(path) as r:
            for pkt in r:
                if UDP not in pkt or (IP not in pkt and IPv6 not in pkt):
                    continue
                u = pkt[UDP]
                yield u.dport, bytes(u.payload)
    except Exception as e:   # a capture scapy cannot read: say so, go on
        sys.stderr.write("demo_feed: %s: %s\n" % (path, e))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    root, nodes = sys.argv[1], sys.argv[2:]
    sent = [[0, 0] for _ in nodes]
    t0 = time.monotonic()
    total = 0
    for gi, group in enumerate(groups(root)):
        k = gi % len(nodes)
        src = "127.1.%d.%d" % (k + 1, gi // len(nodes) % 250 + 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            for path in group:
                sent[k][0] += 1
                for dport, data in payloads(path):
                    port = 6343 if dport == 6343 else 2055
                    s.sendto(data, (nodes[k], port))
                    sent[k][1] += 1
                    total += 1
                    ahead = total / PACE - (time.monotonic() - t0)
                    if ahead > 0.002:
                        time.sleep(ahead)
    for addr, (files, dgrams) in zip(nodes, sent):
        print("  %-12s %3d captures, %6d datagrams" % (addr, files, dgrams))


if __name__ == "__main__":
    main()
