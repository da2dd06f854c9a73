#!/usr/bin/python3
"""Cross-check flowfleet's filter language against nfdump 1.7 itself.

Builds a fixed set of flows (hand-picked edge cases plus seeded random
ones), exports them as IPFIX to a real nfcapd on 127.0.0.1 (from two
exporter addresses, 127.0.0.1 and 127.0.0.2), checks that nfdump stored
every field as sent, then runs nfdump once per filter in FILTERS and
records which flows it selected. The result is written as C tables to
tests/unit/filter_xcheck.inc, which tests/unit/test_filter.c compares
against filter_eval/filter_match on the same flows.

Run from the repository root (needs nfdump and nfcapd 1.7):
    /usr/bin/python3 tests/unit/filter_xcheck.py [--check]
--check regenerates into memory and fails if the checked-in file differs.

Every process it starts is stopped by PID; every wait is bounded.
"""
import calendar
import ipaddress
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "filter_xcheck.inc")
BASE_MS = 1704067200000     # 2024-01-01T00:00:00Z; flow i starts at +i s

# --- the flows ---------------------------------------------------------------


def flow(src, dst, proto=6, sport=1000, dport=80, bytes_=1500, packets=3,
         flags=0x1b, tos=0, smask=24, dmask=24, in_if=1, out_if=2,
         sas=0, das=0, nh=None, exp="127.0.0.1", dur=1000):
    v6 = ":" in src
    if proto != 6 and flags == 0x1b:
        flags = 0
    if nh is None:
        nh = "::" if v6 else "0.0.0.0"
    return dict(src=src, dst=dst, proto=proto, sport=sport, dport=dport,
                bytes=bytes_, packets=packets, flags=flags, tos=tos,
                smask=smask, dmask=dmask, in_if=in_if, out_if=out_if,
                sas=sas, das=das, nh=nh, exp=exp, dur=dur, v6=v6)


def make_flows():
    f = [
        # addresses and nets, IPv4
        flow("10.1.2.3", "192.168.1.10"),
        flow("192.168.1.10", "10.1.2.3", sport=80, dport=1000),
        flow("10.255.255.255", "11.0.0.0"),
        flow("9.255.255.255", "172.16.0.1"),
        flow("172.31.255.255", "172.32.0.0"),
        flow("0.0.0.0", "255.255.255.255", proto=17, sport=68, dport=67),
        flow("1.2.3.4", "5.6.7.8", nh="1.2.3.1"),
        flow("5.6.7.8", "1.2.3.4", nh="5.6.7.1", exp="127.0.0.2"),
        # IPv6, including addresses that nfdump's IPv4 encoding aliases
        flow("2001:db8::1", "2001:db8:1::2", smask=64, dmask=48,
             nh="fe80::1"),
        flow("2001:db8:1::2", "2001:db8::1", sport=443, dport=50000,
             smask=48, dmask=64, exp="127.0.0.2"),
        flow("::1", "::1", proto=17, sport=53, dport=53),
        flow("::1.2.3.4", "2001:db8::5"),
        flow("::ffff:1.2.3.4", "2001:db8::6"),
        flow("fe80::1", "ff02::1", proto=58, sport=0, dport=135 * 256),
        # ports at the edges
        flow("10.0.0.1", "10.0.0.2", sport=0, dport=65535),
        flow("10.0.0.1", "10.0.0.2", sport=1023, dport=1024),
        flow("10.0.0.1", "10.0.0.2", sport=1024, dport=1023),
        flow("10.0.0.1", "10.0.0.2", sport=443, dport=443),
        flow("10.0.0.1", "10.0.0.2", proto=17, sport=53, dport=33000),
        # protocols, ICMP type/code in dport
        flow("10.0.0.3", "10.0.0.4", proto=1, sport=0, dport=8 * 256),
        flow("10.0.0.4", "10.0.0.3", proto=1, sport=0, dport=0),
        flow("10.0.0.3", "10.0.0.4", proto=1, sport=0, dport=3 * 256 + 3),
        flow("2001:db8::7", "2001:db8::8", proto=58, sport=0,
             dport=128 * 256),
        flow("10.0.0.5", "10.0.0.6", proto=47, sport=0, dport=0, flags=0),
        flow("10.0.0.5", "10.0.0.6", proto=50, sport=0, dport=0, flags=0),
        flow("10.0.0.5", "10.0.0.6", proto=4, sport=0, dport=0, flags=0),
        flow("10.0.0.5", "10.0.0.6", proto=94, sport=0, dport=0, flags=0),
        flow("10.0.0.5", "10.0.0.6", proto=132, sport=9, dport=9, flags=0),
        # byte and packet counts around the k/m/g boundaries
        flow("10.0.1.1", "10.0.1.2", bytes_=999, packets=1),
        flow("10.0.1.1", "10.0.1.2", bytes_=1000, packets=1000),
        flow("10.0.1.1", "10.0.1.2", bytes_=1001, packets=1001),
        flow("10.0.1.1", "10.0.1.2", bytes_=1000000, packets=999999),
        flow("10.0.1.1", "10.0.1.2", bytes_=1000000000, packets=1),
        flow("10.0.1.1", "10.0.1.2", bytes_=5000000000, packets=7),
        # TCP flags, including ECE/CWR and flags on UDP
        flow("10.0.2.1", "10.0.2.2", flags=0x02),
        flow("10.0.2.1", "10.0.2.2", flags=0x12),
        flow("10.0.2.1", "10.0.2.2", flags=0x11),
        flow("10.0.2.1", "10.0.2.2", flags=0x3f),
        flow("10.0.2.1", "10.0.2.2", flags=0xc2),
        flow("10.0.2.1", "10.0.2.2", flags=0x00),
        flow("10.0.2.1", "10.0.2.2", flags=0x04),
        flow("10.0.2.1", "10.0.2.2", proto=17, flags=0x02),
        # ToS, masks, AS, interfaces
        flow("10.0.3.1", "10.0.3.2", tos=0, smask=0, dmask=32),
        flow("10.0.3.1", "10.0.3.2", tos=4, smask=8, dmask=16),
        flow("10.0.3.1", "10.0.3.2", tos=184, smask=32, dmask=0),
        flow("10.0.3.1", "10.0.3.2", tos=255, smask=24, dmask=24),
        flow("10.0.4.1", "10.0.4.2", sas=0, das=65535),
        flow("10.0.4.1", "10.0.4.2", sas=64512, das=3356),
        flow("10.0.4.1", "10.0.4.2", sas=4200000000, das=13335),
        flow("10.0.4.1", "10.0.4.2", sas=3356, das=3356),
        flow("10.0.5.1", "10.0.5.2", in_if=0, out_if=0),
        flow("10.0.5.1", "10.0.5.2", in_if=3, out_if=7),
        flow("10.0.5.1", "10.0.5.2", in_if=7, out_if=3),
        flow("10.0.5.1", "10.0.5.2", in_if=4000000000, out_if=65536),
    ]
    rnd = random.Random(20240101)
    v4pool = ["10.1.2.3", "10.1.2.4", "10.9.0.1", "192.168.1.10",
              "192.168.200.1", "172.16.5.5", "8.8.8.8", "1.2.3.4"]
    v6pool = ["2001:db8::1", "2001:db8::2", "2001:db8:1::2", "2001:db8:ff::9",
              "fd00::1", "2a00:1450::200e"]
    for _ in range(200):
        v6 = rnd.random() < 0.3
        pool = v6pool if v6 else v4pool
        proto = rnd.choice([6, 6, 6, 17, 17, 1, 47])
        sport = rnd.choice([0, 22, 53, 80, 443, 1023, 1024, 40000, 65535])
        dport = rnd.choice([0, 22, 53, 80, 443, 1023, 1024, 40000, 65535])
        if proto in (1, 47):
            sport = 0
        if proto == 1:
            proto = 58 if v6 else 1
            dport = rnd.choice([0, 8 * 256, 3 * 256 + 1, 11 * 256])
        f.append(flow(
            rnd.choice(pool), rnd.choice(pool), proto=proto, sport=sport,
            dport=dport,
            bytes_=rnd.choice([40, 999, 1000, 1001, 1500, 65535, 10 ** 6,
                               10 ** 9 + 1]),
            packets=rnd.choice([1, 2, 10, 999, 1000, 1001]),
            flags=rnd.choice([0, 0x02, 0x12, 0x18, 0x1b, 0x11, 0x04, 0x3f,
                              0xc2]) if proto == 6 else 0,
            tos=rnd.choice([0, 0, 4, 8, 184]),
            smask=rnd.choice([0, 8, 16, 24, 32] if not v6 else [0, 48, 64]),
            dmask=rnd.choice([0, 8, 16, 24, 32] if not v6 else [0, 48, 64]),
            in_if=rnd.choice([0, 1, 2, 3, 7]),
            out_if=rnd.choice([0, 1, 2, 3, 7]),
            sas=rnd.choice([0, 3356, 13335, 64512]),
            das=rnd.choice([0, 3356, 13335, 64512]),
            nh=rnd.choice(["0.0.0.0", "10.0.0.1", "192.168.1.1"]) if not v6
            else rnd.choice(["::", "fe80::1"]),
            exp=rnd.choice(["127.0.0.1", "127.0.0.2"]),
            dur=rnd.choice([0, 1, 999, 1000, 60000])))
    return f

# --- the filters --------------------------------------------------------------


FILTERS = [
    "any", "not any",
    "ip 10.1.2.3", "host 10.1.2.3", "src ip 10.1.2.3", "dst ip 10.1.2.3",
    "src or dst ip 1.2.3.4", "src and dst ip 10.1.2.4",
    "dst and src host 10.1.2.4",
    "ip 2001:db8::1", "src ip 2001:db8:1::2", "ip ::1",
    "ip 1.2.3.4", "ip ::1.2.3.4", "ip ::ffff:1.2.3.4",
    "ip 0.0.0.0", "ip 255.255.255.255",
    "net 10.0.0.0/8", "src net 10.0.0.0/8", "dst net 172.16.0.0/12",
    "net 172.16/12", "net 192.168.1.0/24", "net 10.0.0.0 255.0.0.0",
    "net 10.0.0.1 255.255.0.255", "net 0.0.0.0/0", "net ::/0",
    "net ::/96", "net 2001:db8::/32", "src net 2001:db8::/48",
    "dst net 2001:db8:1::/48", "net fe80::/10", "net 10.0.0.1/32",
    "net ::ffff:0:0/96", "net ::ffff:10.0.0.0/104",
    "ip in [ 10.1.2.3 1.2.3.4 ]", "src ip in [ 10.0.0.0/8, 2001:db8::/32 ]",
    "dst ip in [ 172.16.0.0/12 192.168.1.0/24 ]",
    "ip in [ 2001:db8::1 ::1 ]",
    "port 80", "src port 80", "dst port 80", "port 0", "port 65535",
    "port > 1023", "port < 1024", "src port >= 1024", "dst port <= 1023",
    "port = 443", "port == 443", "port eq 443", "port gt 1023",
    "port lt 1024", "port ge 40000", "port le 22", "src or dst port 53",
    "src and dst port 443", "port in [ 80 443 ]",
    "src port in [ 22, 53 ]", "dst port in [ 0 65535 ]",
    "proto tcp", "proto udp", "proto icmp", "proto icmp6", "proto gre",
    "proto esp", "proto ipip", "proto sctp", "proto 6", "proto 17",
    "proto 94", "PROTO TCP", "proto Udp",
    "bytes > 1000", "bytes >= 1000", "bytes < 1000", "bytes 1000",
    "bytes > 1k", "bytes > 1m", "bytes >= 1g", "bytes > 4g",
    "packets > 1000", "packets < 2", "packets 1k", "packets >= 1M", "packets > 999k",
    "in bytes > 1000", "in packets 1",
    "flags S", "flags SA", "flags AS", "flags F", "flags R", "flags X",
    "flags UAPRSF", "flags S and not flags AFRPU", "flags 2", "flags > 3",
    "flags 18", "flags < 3",
    "tos 0", "tos 4", "tos > 100", "src tos 184", "tos 255",
    "mask 24", "src mask 8", "dst mask 16", "src mask 0", "dst mask 32",
    "as 3356", "src as 3356", "dst as 3356", "as > 60000",
    "src as 4200000000", "src and dst as 3356", "as in [ 3356 13335 ]",
    "dst as in [ 65535 64512 ]",
    "if 3", "in if 3", "out if 3", "in if 0", "out if 65536",
    "in if 4000000000", "if 7",
    "next ip 1.2.3.1", "next ip 0.0.0.0", "next ip fe80::1",
    "next ip 10.0.0.1", "next ip in [ 10.0.0.1 192.168.1.1 ]",
    "router ip 127.0.0.1", "router ip 127.0.0.2",
    "inet", "inet6", "ipv4", "ipv6", "not inet6",
    "icmp-type 8", "icmp-type 3", "icmp-code 3", "icmp-type 128",
    "icmp-type 135",
    "proto tcp and port 80", "proto tcp or proto udp",
    "not proto tcp", "not port 80",
    "proto tcp and not port 80 or port 22",
    "proto udp or proto tcp and port 443",
    "not proto tcp and port 443", "not (proto tcp and port 443)",
    "(proto tcp or proto udp) and (port 53 or port 443)",
    "net 10.0.0.0/8 and not (port 80 or port 443) and bytes > 999",
    "src net 2001:db8::/32 and dst port 50000 or inet and tos 4",
    "!proto tcp && port 53 || proto icmp",
    "not not ip 10.1.2.3",
    "PORT 80 AND NOT Proto UDP",
    "port 80 # a comment",
    "proto tcp and\n port 80",
]

# --- IPFIX export --------------------------------------------------------------

V4_FIELDS = [(152, 8), (153, 8), (1, 8), (2, 8), (8, 4), (12, 4), (15, 4),
             (10, 4), (14, 4), (16, 4), (17, 4), (7, 2), (11, 2), (4, 1),
             (6, 1), (5, 1), (9, 1), (13, 1)]
V6_FIELDS = [(152, 8), (153, 8), (1, 8), (2, 8), (27, 16), (28, 16),
             (62, 16), (10, 4), (14, 4), (16, 4), (17, 4), (7, 2), (11, 2),
             (4, 1), (6, 1), (5, 1), (29, 1), (30, 1)]


def template_set():
    body = b""
    for tid, fields in ((256, V4_FIELDS), (257, V6_FIELDS)):
        body += struct.pack("!HH", tid, len(fields))
        for ie, ln in fields:
            body += struct.pack("!HH", ie, ln)
    return struct.pack("!HH", 2, 4 + len(body)) + body


def record(i, f):
    a = ipaddress.ip_address
    first = BASE_MS + i * 1000
    common = struct.pack("!QQQQ", first, first + f["dur"], f["bytes"],
                         f["packets"])
    tail = struct.pack("!IIIIHHBBBBB", f["in_if"], f["out_if"], f["sas"],
                       f["das"], f["sport"], f["dport"], f["proto"],
                       f["flags"], f["tos"], f["smask"], f["dmask"])
    addrs = a(f["src"]).packed + a(f["dst"]).packed + a(f["nh"]).packed
    return common + addrs + tail


def export(flows, port):
    socks = {}
    seq = {}
    for i, f in enumerate(flows):
        exp = f["exp"]
        if exp not in socks:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((exp, 0))
            socks[exp] = s
            seq[exp] = 0
        tid = 257 if f["v6"] else 256
        rec = record(i, f)
        dset = struct.pack("!HH", tid, 4 + len(rec)) + rec
        body = template_set() + dset
        hdr = struct.pack("!HHIII", 10, 16 + len(body), BASE_MS // 1000,
                          seq[exp], 1)
        seq[exp] += 1
        socks[exp].sendto(hdr + body, ("127.0.0.1", port))
        if i % 20 == 19:
            time.sleep(0.01)
    for s in socks.values():
        s.close()

# --- running nfcapd and nfdump --------------------------------------------------


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def collect(flows, d):
    port = free_port()
    p = subprocess.Popen(["nfcapd", "-w", d, "-b", "127.0.0.1", "-p",
                          str(port), "-t", "3600"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            out = subprocess.run(["ss", "-lunH"], capture_output=True,
                                 text=True).stdout
            if ":%d " % port in out:
                break
            if time.monotonic() > deadline or p.poll() is not None:
                raise SystemExit("nfcapd did not start")
            time.sleep(0.05)
        export(flows, port)
        time.sleep(0.5)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def nfdump(d, filt):
    env = dict(os.environ, TZ="UTC")
    cp = subprocess.run(["nfdump", "-R", d, "-q", "-N", "-o",
                         "fmt:%ts", filt], capture_output=True, text=True,
                        env=env, timeout=60)
    if cp.returncode != 0 or "rror" in cp.stderr or "at '" in cp.stderr:
        return None, cp.stderr.strip()
    ids = set()
    for line in cp.stdout.splitlines():
        line = line.strip()
        if not line or line == "No matching flows":
            continue
        t = time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
        ids.add(calendar.timegm(t) - BASE_MS // 1000)
    return ids, ""


def flags_str(v):
    """TCP flags as nfdump prints them (it prints none for other
    protocols)."""
    return "".join(c if v & (0x80 >> i) else "." for i, c in
                   enumerate("CEUAPRSF"))


def verify_import(flows, d):
    """nfdump must have stored each flow as sent, or the comparison would
    test nothing."""
    env = dict(os.environ, TZ="UTC")
    fmt = ("fmt:%ts %sa %da %sp %dp %pr %flg %tos %smk %dmk %in %out "
           "%sas %das %nh %ra %byt %pkt")
    cp = subprocess.run(["nfdump", "-R", d, "-q", "-N", "-o", fmt],
                        capture_output=True, text=True, env=env, timeout=60)
    lines = [l.split() for l in cp.stdout.splitlines() if l.strip()]
    if len(lines) != len(flows):
        raise SystemExit("nfdump holds %d flows, sent %d" %
                         (len(lines), len(flows)))
    for i, (f, l) in enumerate(zip(flows, lines)):
        icmp = f["proto"] in (1, 58)
        want = [time.strftime("%Y-%m-%d", time.gmtime(BASE_MS // 1000 + i)),
                time.strftime("%H:%M:%S", time.gmtime(BASE_MS // 1000 + i))
                + ".000",
                str(ipaddress.ip_address(f["src"])),
                str(ipaddress.ip_address(f["dst"])), str(f["sport"]),
                "%d.%d" % (f["dport"] >> 8, f["dport"] & 255) if icmp
                else str(f["dport"]), str(f["proto"]),
                flags_str(f["flags"] if f["proto"] == 6 else 0),
                str(f["tos"]), str(f["smask"]),
                str(f["dmask"]), str(f["in_if"]), str(f["out_if"]),
                str(f["sas"]), str(f["das"]),
                str(ipaddress.ip_address(f["nh"])), f["exp"],
                str(f["bytes"]), str(f["packets"])]
        # nfdump prints IPv4-mapped and IPv4-compatible IPv6 its own way
        if l != want and [a for a, b in zip(l, want) if a != b] != \
                [a for a, b in zip(l, want) if a != b and ":" in a]:
            raise SystemExit("flow %d stored as %s, sent %s" % (i, l, want))
        if len(l) != len(want):
            raise SystemExit("flow %d: nfdump printed %s" % (i, l))


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n") + '"'


def generate():
    flows = make_flows()
    with tempfile.TemporaryDirectory() as d:
        collect(flows, d)
        verify_import(flows, d)
        results = []
        for filt in FILTERS:
            ids, err = nfdump(d, filt)
            results.append((filt, ids, err))
        ver = subprocess.run(["nfdump", "-V"], capture_output=True,
                             text=True).stdout.strip()
    out = []
    out.append("/*\n * Generated by tests/unit/filter_xcheck.py: flows "
               "exported as IPFIX to nfcapd,\n * selected by %s "
               "(nfdump -R DIR -o fmt:%%ts FILTER).\n * Do not edit; "
               "rerun the script.\n */\n" % ver)
    out.append("static const struct xflow xflows[] = {\n")
    for i, f in enumerate(flows):
        out.append("\t{ %d, %d, %dULL, %dULL, %s, %s, %s, %s, %d, %d, %d, "
                   "%d, %d, %d, %d, %d, %d, %d, %d, %d },\n" % (
                       BASE_MS + i * 1000, BASE_MS + i * 1000 + f["dur"],
                       f["bytes"], f["packets"], c_str(f["src"]),
                       c_str(f["dst"]), c_str(f["nh"]),
                       c_str("::ffff:" + f["exp"]), f["in_if"], f["out_if"],
                       f["sas"], f["das"], f["sport"], f["dport"],
                       f["proto"], f["flags"], f["tos"], f["smask"],
                       f["dmask"], 1 if f["v6"] else 0))
    out.append("};\n\nstatic const struct xcase xcases[] = {\n")
    for filt, ids, err in results:
        if ids is None:
            out.append("\t{ %s, NULL, %s },\n" % (c_str(filt), c_str(err)))
            continue
        bits = "".join("1" if i in ids else "0" for i in range(len(flows)))
        out.append("\t{ %s,\n\t    \"%s\", NULL },\n" % (c_str(filt), bits))
    out.append("};\n")
    return "".join(out)


def main():
    text = generate()
    if "--check" in sys.argv[1:]:
        with open(OUT) as fp:
            if fp.read() != text:
                raise SystemExit("filter_xcheck.inc is out of date")
        print("filter_xcheck.inc is up to date")
        return
    with open(OUT, "w") as fp:
        fp.write(text)
    print("wrote %s (%d flows, %d filters)" % (OUT, len(make_flows()),
                                                 len(FILTERS)))


if __name__ == "__main__":
    main()
