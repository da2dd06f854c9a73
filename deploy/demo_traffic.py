#!/usr/bin/python3
"""Write a pcap of one site's traffic over the last MINUTES minutes, for
the demo's real exporter (softflowd -r FILE -a) to turn into flows.

The site's clients (10.SITE.x.y) talk TCP and UDP to a common set of
servers (198.51.100.0/26, 203.0.113.0/26, shared by every site, so that
keys span the nodes), with a few heavy downloads. Seeded: the same site
number gives the same packets, at times relative to now.

usage: demo_traffic.py SITE MINUTES OUT.pcap
"""
import random
import sys
import time

from scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap   # python3-scapy


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    site, minutes, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    rng = random.Random(site)
    servers = ["198.51.100.%d" % i for i in range(1, 64)] + \
        ["203.0.113.%d" % i for i in range(1, 64)]
    # a few servers everyone uses a lot (Zipf-like weights)
    weights = [1.0 / (i + 1) ** 1.2 for i in range(len(servers))]
    rng.shuffle(weights)
    services = [(6, 443, 1200), (6, 443, 1200), (6, 80, 900), (17, 53, 80),
                (6, 22, 200), (17, 123, 48)]
    t = time.time() - minutes * 60
    step = minutes * 60 / 3000
    pkts = []
    for i in range(3000):
        cli = "10.%d.%d.%d" % (site, rng.randint(0, 3), rng.randint(1, 40))
        srv = rng.choices(servers, weights)[0]
        proto, port, size = rng.choice(services)
        sport = rng.randint(20000, 60000)
        l4 = (TCP(sport=sport, dport=port, flags="PA") if proto == 6 else
              UDP(sport=sport, dport=port))
        for up in (True, False):
            n = rng.randint(1, 4) if up else rng.randint(1, 12)
            for _ in range(n):
                if up:
                    p = IP(src=cli, dst=srv) / l4
                else:
                    back = (TCP(sport=port, dport=sport, flags="A")
                            if proto == 6 else UDP(sport=port, dport=sport))
                    p = IP(src=srv, dst=cli) / back
                pl = rng.randint(0, 200) if up else rng.randint(0, size)
                pkts.append(Ether(src="02:00:00:00:00:01",
                                  dst="02:00:00:00:00:02") / p /
                            Raw(b"d" * pl))
                pkts[-1].time = t
                t += step / 8
    wrpcap(out, pkts)


if __name__ == "__main__":
    main()
