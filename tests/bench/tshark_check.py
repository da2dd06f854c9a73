#!/usr/bin/python3
"""Check flowgen's output against tshark, an independent decoder.

usage: tshark_check.py FLOWGEN PROTO WORKDIR

Writes a small pcap with `FLOWGEN --pcap` (2 exporters, 20% IPv6 where the
protocol has it), decodes it with tshark and compares the flow count, the
byte sum and the packet sum with what flowgen reported for the same file.
Prints one line; exit status 0 when all three match, 1 otherwise.

tshark's fields: NetFlow v5/v9/IPFIX records carry cflow.octets and
cflow.packets (one occurrence per record). An sFlow flow sample carries
sflow.flow_sample.sampling_rate; its sampled packet is dissected too, so
the inner IPv4 total length (ip.len, after the outer one of the capture)
or IPv6 payload length + 40 (ipv6.plen) gives the layer 3 bytes, scaled by
the rate as flowgen and the collectors report them.
"""
import json
import os
import subprocess
import sys


def tshark_fields(pcap, fields):
    cmd = ["tshark", "-r", pcap, "-d", "udp.port==2055,cflow",
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         timeout=120).stdout
    for line in out.splitlines():
        yield [[int(x) for x in col.split(",")] if col else []
               for col in line.split("\t")]


def main():
    flowgen, proto, work = sys.argv[1:4]
    pcap = os.path.join(work, "check-%s.pcap" % proto)
    args = [flowgen, "-P", proto, "--pcap", pcap, "-n", "5000",
            "--exporters", "2", "--json"]
    if proto != "v5":
        args += ["--v6", "20"]
    rep = json.loads(subprocess.run(args, check=True, capture_output=True,
                                    text=True, timeout=60).stdout)
    flows = nbytes = npkts = 0
    if proto == "sflow":
        for rates, iplen, ip6plen in tshark_fields(
                pcap, ["sflow.flow_sample.sampling_rate", "ip.len",
                       "ipv6.plen"]):
            inner = iplen[1:] + [p + 40 for p in ip6plen]
            if len(inner) != len(rates):
                print("sflow: %d samples but %d inner IP headers"
                      % (len(rates), len(inner)))
                return 1
            flows += len(rates)
            nbytes += sum(r * l for r, l in zip(rates, inner))
            npkts += sum(rates)
    else:
        for octets, pkts in tshark_fields(pcap, ["cflow.octets",
                                                 "cflow.packets"]):
            flows += len(octets)
            nbytes += sum(octets)
            npkts += sum(pkts)
    os.unlink(pcap)
    got = (flows, nbytes, npkts)
    want = (rep["flows"], rep["bytes"], rep["flow_packets"])
    ok = got == want
    print("%-6s flowgen flows/bytes/packets %d/%d/%d, tshark %d/%d/%d: %s"
          % ((proto,) + want + got + ("ok" if ok else "MISMATCH",)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
