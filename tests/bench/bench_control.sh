#!/bin/bash
#
# Control plane benchmark: how long a controller takes to bring
# N node connections up (both channels, full TLS handshake each), and the
# controller's memory with them up. Prints figures; does not pass or fail
# on time. Exit status non-zero only when the benchmark could not run.
#
# What is measured, exactly:
#  - The nodes: N (BENCH_CTL_NODES, 100) node-side endpoints run by one
#    process, tests/bench/ctlpeers.c. Each endpoint is the node's own
#    control-plane code (node/control.c, session.c, qserver.c: TLS
#    listeners with in-handshake pinning, HELLO, PING/PONG, STATUS) with
#    its own EC P-256 key, on its own address PREFIX.i, ports 2210 and
#    4210. Only the UDP intake and the store of a real node are absent.
#    100 real flowfleet-node processes would compete for the 2 cores
#    with the controller and measure the scheduler more than the
#    controller; one process with 100 endpoints keeps the node side to
#    one core.
#  - CPUs: the controller is pinned to CPU 0, the endpoints to CPU 1
#    (when there are 2 CPUs). Both sides do their half of every
#    handshake (ECDHE P-256, ECDSA signatures both ways: client
#    certificates), so the node side's core is part of the figure.
#  - The inventory holds the N nodes, enrolled by fingerprint (nodes add
#    --fingerprint), from a first start of the controller.
#  - Each run: the controller is stopped (SIGTERM) and started again; it
#    loads the inventory and dials all 2N channels: TCP connect, TLS 1.2
#    handshake with both certificates, pin check, HELLO exchange.
#      connect time = from the controller's "started" log line to its
#        2N-th "channel up" line (its own clock, ms resolution);
#      wall time = from the exec of flowfleet-controller until
#        'flowfleet --json status' first shows every node up on both
#        channels (adds process start, inventory load and the polling,
#        every 20 ms).
#    Memory: VmRSS and VmHWM of the controller from /proc with all 2N
#    channels up, beside the VmRSS of the same controller binary with
#    an empty inventory (the baseline); the difference per channel is an
#    estimate of what one TLS session costs the controller.
#  - BENCH_CTL_RUNS (3) runs; every run is printed, then the median.
#  - Clocks: after the last run, the clock offset and round trip the
#    controller measured (PING/PONG) for each node, which all share its
#    clock (true offset 0): the median and largest |offset| and round
#    trip, and how many offsets lie within half their round trip (the
#    bound the measurement guarantees).
#
# Environment: FF_BIN (flowfleet-controller, flowfleet), FF_BENCH
# (ctlpeers), BENCH_CTL_NODES (1..254), BENCH_CTL_RUNS, BENCH_CTL_PREFIX
# (three octets of 127/8, default 127.0.1), BENCH_KEEP=1 (keep the work
# directory).
#
# Every process is started in the background with its PID kept, every
# wait is bounded, and the EXIT trap stops what is left by PID.

set -u

: "${FF_BIN:?FF_BIN must point at the built binaries}"
: "${FF_BENCH:?FF_BENCH must point at the built bench programs}"
N=${BENCH_CTL_NODES:-100}
RUNS=${BENCH_CTL_RUNS:-3}
PREFIX=${BENCH_CTL_PREFIX:-127.0.1}
PY=/usr/bin/python3
CTL=$FF_BIN/flowfleet-controller
CLI=$FF_BIN/flowfleet
PEERS=$FF_BENCH/ctlpeers
WORK=$(mktemp -d /tmp/flowfleet-bench-ctl.XXXXXX)
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench_control: $*" >&2
	exit 1
}

# Stop one process by PID: SIGTERM, up to 30 s, then SIGKILL.
stop_pid() {
	local pid=$1 i keep=() p
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in "${PIDS[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

for f in "$CTL" "$CLI" "$PEERS"; do
	[[ -x $f ]] || die "$f is not built"
done
((N >= 1 && N <= 254)) || die "BENCH_CTL_NODES must be 1..254"

CPU_CTL=0
CPU_PEERS=1
(($(nproc) < 2)) && CPU_PEERS=0

write_conf() {	# write_conf FILE STATE_DIR SOCKET
	cat >"$1" <<-EOF
	state-dir $2
	socket $3
	name bench-controller
	log-level info
	EOF
}

# Start a controller: start_ctl CONF LOG; sets CPID. Waits for its socket.
start_ctl() {
	local i rc
	taskset -c "$CPU_CTL" "$CTL" run -f -c "$1" >"$2" 2>&1 &
	CPID=$!
	PIDS+=("$CPID")
	for ((i = 0; i < 200; i++)); do
		"$CLI" -s "$SOCK" status >/dev/null 2>&1
		rc=$?
		((rc == 0 || rc == 4)) && return 0
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.05
	done
	tail -5 "$2" >&2
	die "the controller did not start"
}

# All N nodes up on both channels? (status --json)
all_up() {
	"$CLI" -s "$SOCK" --json status 2>/dev/null | $PY -c '
import json, sys
j = json.load(sys.stdin)
up = sum(1 for n in j["nodes"] if n["state"] == "up" and
         n["query"]["state"] == "up")
sys.exit(0 if up == int(sys.argv[1]) else 1)' "$N"
}

rss_kib() {	# rss_kib PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# CPU time (user + system) a process has used, in ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' \
	    "/proc/$1/stat"
}

printf "\n== control plane: %d nodes, both channels, mutual TLS\n" "$N"
echo "machine:  $(nproc) cpus, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nodes:    $N endpoints of the node's control-plane code in one process (tests/bench/ctlpeers.c), $PREFIX.1-$PREFIX.$N:2210/4210, pinned to CPU $CPU_PEERS"
echo "controller: flowfleet-controller, pinned to CPU $CPU_CTL"

# --- baseline: the controller with an empty inventory -------------------------
SOCK=$WORK/base.sock
write_conf "$WORK/base.conf" "$WORK/base" "$SOCK"
start_ctl "$WORK/base.conf" "$WORK/base.log"
sleep 1
BASE_RSS=$(rss_kib "$CPID" VmRSS)
stop_pid "$CPID"

# --- the fleet --------------------------------------------------------------------
SOCK=$WORK/ctl.sock
CONF=$WORK/ctl.conf
write_conf "$CONF" "$WORK/ctl" "$SOCK"
CFP=$("$CTL" fingerprint -c "$CONF" 2>/dev/null) || die "no controller key"
mkdir -p "$WORK/peers"
taskset -c "$CPU_PEERS" "$PEERS" -n "$N" -a "$PREFIX" -d "$WORK/peers" \
    -c "$CFP" -o "$WORK/peers.txt" >"$WORK/peers.out" 2>"$WORK/peers.err" &
PPID_=$!
PIDS+=("$PPID_")
for ((i = 0; i < 1200; i++)); do
	grep -q '^ready' "$WORK/peers.out" 2>/dev/null && break
	kill -0 "$PPID_" 2>/dev/null || { cat "$WORK/peers.err" >&2; die "ctlpeers failed"; }
	sleep 0.05
done
grep -q '^ready' "$WORK/peers.out" || die "ctlpeers did not get ready"

start_ctl "$CONF" "$WORK/ctl-0.log"
while read -r name addr fp; do
	"$CLI" -s "$SOCK" nodes add "$name" "$addr" --fingerprint "$fp" \
	    >/dev/null || die "nodes add $name failed"
done <"$WORK/peers.txt"
for ((i = 0; i < 1200; i++)); do
	all_up && break
	sleep 0.1
done
all_up || die "not every node came up after enrolment"
echo "enrolled: $N nodes by fingerprint, all up on both channels"

# --- runs: restart the controller, time the 2N connections -------------------------
results=()
for ((r = 1; r <= RUNS; r++)); do
	stop_pid "$CPID"
	log=$WORK/ctl-$r.log
	pcpu0=$(cpu_ms "$PPID_")
	t0=$(date +%s%N)
	start_ctl "$CONF" "$log"
	ok=0
	for ((i = 0; i < 6000; i++)); do
		if all_up; then
			ok=1
			break
		fi
		sleep 0.02
	done
	t1=$(date +%s%N)
	((ok)) || die "run $r: not every node came up within 120 s"
	rss=$(rss_kib "$CPID" VmRSS)
	hwm=$(rss_kib "$CPID" VmHWM)
	ccpu=$(cpu_ms "$CPID")
	pcpu=$(($(cpu_ms "$PPID_") - pcpu0))
	conn_ms=$($PY - "$log" "$((2 * N))" <<-'EOF'
	import datetime, re, sys
	def ms(line):
	    t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
	    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
	lines = open(sys.argv[1]).read().splitlines()
	start = [ms(l) for l in lines if ": started: " in l]
	ups = sorted(ms(l) for l in lines if re.search(r"channel up \(", l))
	want = int(sys.argv[2])
	print("%.0f" % (ups[want - 1] - start[0]) if start and len(ups) >= want
	      else "?")
	EOF
	)
	wall_ms=$(((t1 - t0) / 1000000))
	printf 'run %d: %d channels up: connect time %s ms (controller log), wall time %d ms (exec to status); CPU used: controller %d ms, nodes %d ms; controller VmRSS %d KiB, VmHWM %d KiB\n' \
	    "$r" "$((2 * N))" "$conn_ms" "$wall_ms" "$ccpu" "$pcpu" "$rss" "$hwm"
	results+=("$conn_ms $wall_ms $rss $ccpu $pcpu")
done

printf '%s\n' "${results[@]}" | $PY -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
conn = [float(r[0]) for r in rows if r[0] != "?"]
wall = [float(r[1]) for r in rows]
rss = [float(r[2]) for r in rows]
n, base = int(sys.argv[1]), float(sys.argv[2])
print("result: %d nodes (%d TLS sessions): connect time median %s ms, "
      "wall time median %.0f ms" % (n, 2 * n,
      "%.0f" % statistics.median(conn) if conn else "?",
      statistics.median(wall)))
ccpu = statistics.median(float(r[3]) for r in rows)
pcpu = statistics.median(float(r[4]) for r in rows)
print("cpu:    controller %.0f ms (%.1f ms per session, process start and "
      "status polls included), nodes %.0f ms (%.1f ms per session); a "
      "connect time well above the larger of the two means the cores "
      "were shared with other work" % (ccpu, ccpu / (2 * n), pcpu,
      pcpu / (2 * n)))
print("memory: controller VmRSS %.1f MiB with all up, %.1f MiB with an "
      "empty inventory: about %.0f KiB per TLS session (both channels of "
      "%d nodes)" % (statistics.median(rss) / 1024, base / 1024,
      (statistics.median(rss) - base) / (2 * n), n))
' "$N" "$BASE_RSS"

# --- clock offsets: every endpoint reads the controller's own clock -----------
for ((i = 0; i < 200; i++)); do
	"$CLI" -s "$SOCK" --json nodes list >"$WORK/nodes.json" 2>/dev/null &&
	    $PY -c '
import json, sys
ns = json.load(open(sys.argv[1]))["nodes"]
sys.exit(0 if all("rtt_ms" in n for n in ns) else 1)' "$WORK/nodes.json" &&
	    break
	sleep 0.05
done
$PY - "$WORK/nodes.json" <<'PYEOF'
import json, statistics, sys
ns = [n for n in json.load(open(sys.argv[1]))["nodes"] if "rtt_ms" in n]
if not ns:
    print("clocks: no node has a clock sample yet")
    sys.exit(0)
off = [abs(n["clock_offset_ms"]) for n in ns]
rtt = [n["rtt_ms"] for n in ns]
ok = sum(1 for n in ns if abs(n["clock_offset_ms"]) <= (n["rtt_ms"] + 1) // 2)
print("clocks: %d nodes on the controller's own clock: |offset| median %.0f "
      "ms, max %d ms; round trip median %.0f ms, max %d ms; %d of %d "
      "offsets within half their round trip" % (len(ns),
      statistics.median(off), max(off), statistics.median(rtt), max(rtt),
      ok, len(ns)))
PYEOF
stop_pid "$CPID"
stop_pid "$PPID_"
exit 0
