#!/bin/bash
#
# flowfleet benchmarks (what `make bench` runs). Prints figures; it does not
# pass or fail on time. The exit status is non-zero only when a benchmark
# could not run or a cross-check of its answers failed.
#
# 1. Generator check. flowgen writes a small capture of each protocol and
#    tshark decodes it: flow count, byte sum and packet sum must equal what
#    flowgen says it encoded (tests/bench/tshark_check.py), so the traffic
#    below is known to be what it claims.
#
# 2. Decode rate from memory, one core (bench_decode): flows/s for NetFlow
#    v5, v9, IPFIX and sFlow v5 through decoder_packet(), median and spread
#    of several runs, each output checked against what was encoded. The
#    other bench_* programs built into FF_BENCH (per-decoder, store, and
#    result merge benches, each documented in its source) run after it,
#    pinned the same way.
#
# 2b. Query speed beside nfdump (tests/bench/bench_query.sh), ingest
#    into the store while queries run (tests/bench/bench_ingest_query.sh),
#    the control plane with 100 nodes (tests/bench/bench_control.sh) and
#    distributed queries (tests/bench/bench_dquery.sh): each documented
#    in its own header.
#
# 3. End-to-end receive rate over loopback, flowfleet-node beside nfdump's
#    nfcapd, on the same generated traffic:
#    - Traffic: flowgen NetFlow v9, seed 1, IPv4 template of 18 fields
#      (45-byte records), 30 flows per datagram (1376-byte datagrams), 4
#      exporters (source ids) from 127.0.0.1, templates first and then
#      every 1000 datagrams per exporter; sendmmsg in batches of 32, paced
#      to the target rate. BENCH_FLOWS (20M) flows per run: enough that the
#      socket buffer (the 128 MiB granted hold about 1.7M flows) cannot
#      hide a collector that is slower than the rate.
#    - CPUs: this machine has 2 cores. The sender is pinned to CPU 0 and
#      needs it all: on loopback the sender's core also does the kernel's
#      delivery work (softirq). Each collector is pinned to CPU 1. So the
#      collector gets one core.
#    - Socket buffer: both collectors ask for BENCH_RCVBUF (64 MiB).
#      nfcapd's -B goes through SO_RCVBUF, which the kernel caps at
#      net.core.rmem_max: the script raises rmem_max for the run and puts
#      it back on exit. The granted size of each socket (ss -lunm, rb) is
#      printed.
#    - Sweep: for each target rate (BENCH_RATES, flows/s, 0 = flat out), a
#      fresh collector is started, fed BENCH_FLOWS flows, and counted:
#        flowfleet-node: `flowfleet-node stats --json` totals.flows once
#          the count stops moving and its store has committed everything,
#          less the flows its store dropped (store.dropped: writer queue
#          full or failed writes), so "received" means stored; kernel
#          drops from its socket counters;
#        nfcapd: kernel drops from /proc/net/udp while its socket is still
#          open, then SIGTERM (it writes its file only when it stops), then
#          `nfdump -R DIR -I` for the flow count.
#      A rate is lossless when the collector counted every flow sent and
#      the kernel dropped nothing. A collector leaves the sweep after
#      BENCH_MAX_LOSSY (2) lossy rates in a row.
#    - Result: per rate, sent/received/lost and drops for both, and the
#      collector's CPU time (all threads) over the time from the first
#      datagram until its socket queue drained (100% = one core), and for
#      the node the peak of its store queue (batches of 4096 flows waiting
#      for the writer, of store-queue: near full, the writer is only just
#      keeping up; the queue plus the socket buffer hold about 2.7M of the
#      20M flows, so a collector clearly slower than the rate still
#      loses); at the end
#      the highest lossless rate of each (the rate the sender achieved,
#      not the target) and their ratio. When the fastest rate the sender
#      can reach is lossless, the collector's figure is a lower bound.
#
# Every process is started in the background with its PID kept, every run
# and every wait is bounded in time, and the EXIT trap stops whatever is
# left (by PID) and restores rmem_max.
#
# Environment: FF_BIN (flowfleet-node), FF_BENCH (flowgen, bench_decode),
# BENCH_RATES, BENCH_FLOWS, BENCH_RCVBUF (bytes), BENCH_MAX_LOSSY,
# BENCH_SKIP (list of: check decode query ingestq control dquery e2e node
# nfcapd),
# BENCH_KEEP=1 (keep
# the work directory), BENCH_PORT (first of two UDP ports, default 29055).

set -u

: "${FF_BIN:?FF_BIN must point at the built binaries}"
: "${FF_BENCH:?FF_BENCH must point at the built bench programs}"
BENCH_RATES=${BENCH_RATES:-"1000000 1500000 2000000 2500000 3000000 3500000 4000000 4500000 5000000 6000000 7000000 8000000 9000000 10000000 12000000 14000000 0"}
BENCH_FLOWS=${BENCH_FLOWS:-20000000}
BENCH_RCVBUF=${BENCH_RCVBUF:-67108864}
BENCH_MAX_LOSSY=${BENCH_MAX_LOSSY:-2}
BENCH_SKIP=${BENCH_SKIP:-}
BENCH_PORT=${BENCH_PORT:-29055}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

NODE=$FF_BIN/flowfleet-node
FLOWGEN=$FF_BENCH/flowgen
WORK=$(mktemp -d /tmp/flowfleet-bench.XXXXXX)
PIDS=()
RMEM_ORIG=
STATUS=0

skip() { [[ " $BENCH_SKIP " == *" $1 "* ]]; }

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
	if [[ -n $RMEM_ORIG ]]; then
		sysctl -q -w net.core.rmem_max="$RMEM_ORIG" >/dev/null
	fi
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stop one process by PID: SIGTERM, wait up to $2 seconds, then SIGKILL.
stop_pid() {
	local pid=$1 limit=${2:-30} i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "  (pid $pid did not stop in ${limit}s: killed)" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	# forget it, so that the EXIT trap never signals a reused PID
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# JSON field from a file: jget FILE EXPR (a Python expression on j).
jget() {
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# /proc/net/udp{,6} columns for a local port: "rx_queue_bytes drops".
udp_sock() {
	local want f sl local rem st txrx rest
	want=$(printf ':%04X' "$1")
	for f in /proc/net/udp /proc/net/udp6; do
		while read -r sl local rem st txrx rest; do
			if [[ $local == *"$want" ]]; then
				echo "$((16#${txrx#*:})) ${rest##* }"
				return 0
			fi
		done <"$f"
	done
	echo "0 0"
}

# Wait until a UDP port's receive queue is empty (bounded).
drain_wait() {
	local port=$1 limit=$2 i q
	for ((i = 0; i < limit * 10; i++)); do
		read -r q _ < <(udp_sock "$port")
		[[ $q == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}

# Granted receive buffer of the socket bound to a port (ss: skmem rb).
granted_rb() {
	ss -lunmH "sport = :$1" 2>/dev/null |
	    grep -o 'rb[0-9]*' | head -1 | tr -d rb
}

# CPU time used so far by a process (all threads), in clock ticks.
cpu_ticks() {
	local f
	f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	f=${f##*) }		# fields from 3 on; the name may hold spaces
	set -- $f
	echo $((${12} + ${13}))
}

# Collector CPU share between two samples: cpu_pct T0 T1 NS0 NS1.
cpu_pct() {
	awk -v a="$1" -v b="$2" -v s="$3" -v e="$4" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { w = (e - s) / 1e9; printf "%.0f%%", (w > 0 ? 100 * (b - a) / hz / w : 0) }'
}

fmt_rate() {
	awk -v r="$1" 'BEGIN { printf "%.2fM", r / 1e6 }'
}

section() {
	printf '\n== %s\n' "$1"
}

# --- machine ---------------------------------------------------------------

section "machine"
echo "cpus:     $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "kernel:   $(uname -r)"
echo "memory:   $(free -m | awk '/^Mem:/ { print $2 " MiB" }')"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine disturbs the figures)"
if command -v nfcapd >/dev/null; then
	echo "nfdump:   $(nfcapd -V 2>&1 | head -1)"
else
	echo "nfdump:   not installed (apt-get install nfdump)"
fi
echo "flowfleet: $(git -C "$HERE" describe --always --dirty 2>/dev/null || echo unknown)"

# --- 1. generator check ----------------------------------------------------

if ! skip check; then
	section "generator check against tshark (flows/bytes/packets of a 5000-flow capture)"
	if command -v tshark >/dev/null; then
		for p in v5 v9 ipfix sflow; do
			timeout 120 $PY "$HERE/tshark_check.py" "$FLOWGEN" "$p" \
			    "$WORK" || STATUS=1
		done
	else
		echo "tshark not installed: skipped"
	fi
fi

# --- 2. decode rate --------------------------------------------------------

CPU_SEND=0
CPU_COLL=1
if (($(nproc) < 2)); then
	CPU_COLL=0
fi

if ! skip decode; then
	section "decode rate from memory, one core (pinned to CPU $CPU_COLL)"
	timeout 600 taskset -c "$CPU_COLL" "$FF_BENCH/bench_decode" || STATUS=1
	for b in "$FF_BENCH"/bench_*; do
		[[ -x $b && $(basename "$b") != bench_decode ]] || continue
		section "$(basename "$b") (pinned to CPU $CPU_COLL; see tests/bench/$(basename "$b").c)"
		timeout 600 taskset -c "$CPU_COLL" "$b" || STATUS=1
	done
fi

# Query speed beside nfdump: tests/bench/bench_query.sh.
skip query || "$HERE/bench_query.sh" || STATUS=1

# Ingest into the store while a query runs: tests/bench/bench_ingest_query.sh.
skip ingestq || timeout 1800 "$HERE/bench_ingest_query.sh" || STATUS=1

skip control || timeout 900 "$HERE/bench_control.sh" || STATUS=1	# control plane: 100 nodes' TLS sessions

# Distributed queries: 4 nodes beside nfdump, bytes on the wire, fan-out
# overhead with 1, 10 and 100 nodes: tests/bench/bench_dquery.sh.
skip dquery || timeout 2400 "$HERE/bench_dquery.sh" || STATUS=1

# --- 3. end to end ---------------------------------------------------------

if skip e2e; then
	exit $STATUS
fi

section "end to end over loopback: flowfleet-node beside nfcapd"
PORT_NODE=$BENCH_PORT
PORT_NFC=$((BENCH_PORT + 1))
for p in $PORT_NODE $PORT_NFC; do
	if [[ -n $(ss -lunH "sport = :$p") ]]; then
		echo "UDP port $p is in use; set BENCH_PORT" >&2
		exit 1
	fi
done

if [[ $(id -u) == 0 ]]; then
	RMEM_ORIG=$(sysctl -n net.core.rmem_max)
	if ((RMEM_ORIG < BENCH_RCVBUF)); then
		sysctl -q -w net.core.rmem_max="$BENCH_RCVBUF" >/dev/null
		echo "net.core.rmem_max raised from $RMEM_ORIG to $BENCH_RCVBUF for the run (restored at exit)"
	else
		RMEM_ORIG=
	fi
else
	echo "not root: net.core.rmem_max stays $(sysctl -n net.core.rmem_max); nfcapd's buffer is capped there"
fi

echo "traffic:  NetFlow v9, 30 flows/datagram, 4 exporters, $BENCH_FLOWS flows per run"
echo "cpus:     sender pinned to CPU $CPU_SEND (it needs that whole core: on loopback the sender's core also does the kernel's delivery work); collector pinned to CPU $CPU_COLL"
echo "rcvbuf:   both asked for $BENCH_RCVBUF bytes"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" 'BEGIN { exit !(l > 1.0) }'; then
	echo "WARNING:  load average $LOAD1 before the sweep: other work shares the cores and the end-to-end figures are unreliable"
fi

HAVE_NODE=1
if skip node || [[ ! -x $NODE ]] || ! "$NODE" help 2>&1 | grep -q '^ *run'; then
	echo "flowfleet-node: no 'run' command in $NODE: not measured"
	HAVE_NODE=0
fi
HAVE_NFC=1
if skip nfcapd || ! command -v nfcapd >/dev/null || ! command -v nfdump >/dev/null; then
	echo "nfcapd: not available: not measured"
	HAVE_NFC=0
fi

# Send BENCH_FLOWS flows at rate $2 (flows/s, 0 = flat out) to port $1;
# the report goes to file $3. Bounded: 3x the expected time plus 20 s.
send() {
	local port=$1 rate=$2 out=$3 limit args=()
	if ((rate > 0)); then
		limit=$((BENCH_FLOWS * 3 / rate + 20))
		args=(--fps "$rate")
	else
		limit=120
	fi
	taskset -c "$CPU_SEND" "$FLOWGEN" -P v9 --exporters 4 \
	    --send 127.0.0.1 -p "$port" -n "$BENCH_FLOWS" -t "$limit" \
	    "${args[@]}" --json >"$out" 2>"$out.err"
}

# Poll a node's counters until its batch total (totals.flows) has caught
# up with what the decoder produced (decoder.flows), its store has nothing
# queued or pending, and none of it moved for a second. Bounded by $2
# seconds.
node_settle() {
	local conf=$1 limit=$2 prev=-1 cur same=0 i
	for ((i = 0; i < limit * 4; i++)); do
		if timeout 10 "$NODE" stats -c "$conf" --json >"$WORK/stats.json" 2>/dev/null; then
			cur=$(jget "$WORK/stats.json" '"%d/%d" % (j["totals"]["flows"], j["decoder"]["flows"] if not "store" in j or j["store"]["queued"] + j["store"]["pending"] == 0 else -1)')
			if [[ $cur == "$prev" && ${cur%/*} == "${cur#*/}" ]]; then
				((++same >= 4)) && return 0
			else
				same=0
			fi
			prev=$cur
		fi
		sleep 0.25
	done
	return 1
}

# One node run at rate $1. Sets RES to "sent_flows sent_fps recv drops rb".
# (Not run in a subshell, so that PIDS stays visible to the EXIT trap.)
run_node() {
	local rate=$1 dir=$WORK/node conf pid i recv drops rb ok=0 c0 c1 w0 w1
	rm -rf "$dir"
	mkdir -p "$dir/state"
	conf=$dir/node.conf
	cat >"$conf" <<-EOF
	state-dir $dir/state
	listen netflow 127.0.0.1:$PORT_NODE
	rcvbuf $BENCH_RCVBUF
	log-level warn
	# the control plane off the standard ports (TCP: no clash with UDP)
	control-listen 127.0.0.1:$PORT_NODE
	query-listen 127.0.0.1:$PORT_NFC
	EOF
	taskset -c "$CPU_COLL" "$NODE" run -f -c "$conf" >"$dir/log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		if timeout 5 "$NODE" stats -c "$conf" --json >/dev/null 2>&1; then
			ok=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ((ok == 0)); then
		echo "flowfleet-node did not start:" >&2
		tail -5 "$dir/log" >&2
		stop_pid "$pid" 10
		return 1
	fi
	rb=$(granted_rb "$PORT_NODE")
	c0=$(cpu_ticks "$pid")
	w0=$(date +%s%N)
	send "$PORT_NODE" "$rate" "$dir/sent.json" || {
		echo "flowgen failed: $(cat "$dir/sent.json.err")" >&2
		stop_pid "$pid" 10
		return 1
	}
	drain_wait "$PORT_NODE" 30
	c1=$(cpu_ticks "$pid")
	w1=$(date +%s%N)
	node_settle "$conf" 30 ||
	    echo "  (node's flow count still moving after 30 s)" >&2
	recv=$(jget "$WORK/stats.json" 'j["totals"]["flows"] - (j["store"]["dropped"] if "store" in j else 0)')
	drops=$(jget "$WORK/stats.json" 'sum(s["drops"] or 0 for s in j["sockets"])')
	HAS_STORE=$(jget "$WORK/stats.json" '"yes" if "store" in j else "no"')
	qpeak=$(jget "$WORK/stats.json" '"%d/%d" % (j["store"]["queue_peak"], j["store"]["queue_capacity"]) if "store" in j else "-"')
	stop_pid "$pid" 30
	RES="$(jget "$dir/sent.json" 'j["flows"]') $(jget "$dir/sent.json" 'int(j["fps"])') $recv $drops ${rb:-?} $(cpu_pct "$c0" "$c1" "$w0" "$w1") ${qpeak:-?}"
}

# One nfcapd run at rate $1. Sets RES as run_node does.
run_nfcapd() {
	local rate=$1 dir=$WORK/nfcapd pid recv drops rb i c0 c1 w0 w1
	rm -rf "$dir"
	mkdir -p "$dir/data"
	taskset -c "$CPU_COLL" nfcapd -w "$dir/data" -b 127.0.0.1 \
	    -p "$PORT_NFC" -B "$BENCH_RCVBUF" -t 3600 >"$dir/log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		[[ -n $(ss -lunH "sport = :$PORT_NFC") ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -z $(ss -lunH "sport = :$PORT_NFC") ]]; then
		echo "nfcapd did not start:" >&2
		tail -5 "$dir/log" >&2
		stop_pid "$pid" 10
		return 1
	fi
	rb=$(granted_rb "$PORT_NFC")
	c0=$(cpu_ticks "$pid")
	w0=$(date +%s%N)
	send "$PORT_NFC" "$rate" "$dir/sent.json" || {
		echo "flowgen failed: $(cat "$dir/sent.json.err")" >&2
		stop_pid "$pid" 10
		return 1
	}
	drain_wait "$PORT_NFC" 30 ||
	    echo "  (nfcapd's socket queue not empty after 30 s)" >&2
	c1=$(cpu_ticks "$pid")
	w1=$(date +%s%N)
	sleep 0.5
	read -r _ drops < <(udp_sock "$PORT_NFC")
	stop_pid "$pid" 120
	recv=$(timeout 300 nfdump -R "$dir/data" -I 2>/dev/null |
	    awk '/^Flows:/ { print $2; exit }')
	rm -rf "$dir/data"
	RES="$(jget "$dir/sent.json" 'j["flows"]') $(jget "$dir/sent.json" 'int(j["fps"])') ${recv:-0} $drops ${rb:-?} $(cpu_pct "$c0" "$c1" "$w0" "$w1") -"
}

BEST_NODE=0
BEST_NFC=0
TOP_SENT=0
LOSSY_NODE=0
LOSSY_NFC=0
HAS_STORE=?
printf '\n%-9s %-14s %9s %10s %10s %9s %8s %10s %6s %-9s %s\n' target collector \
    "sent fl/s" sent received lost "lost %" "kern.drops" "cpu" "rcvbuf" \
    "queue"
for rate in $BENCH_RATES; do
	((HAVE_NODE || HAVE_NFC)) || break
	label=$( ((rate > 0)) && fmt_rate "$rate" || echo "max")
	for who in node nfcapd; do
		if [[ $who == node ]]; then
			((HAVE_NODE)) || continue
			run_node "$rate" || { HAVE_NODE=0; STATUS=1; continue; }
		else
			((HAVE_NFC)) || continue
			run_nfcapd "$rate" || { HAVE_NFC=0; STATUS=1; continue; }
		fi
		read -r sent fps recv drops rb cpu qpeak <<<"$RES"
		lost=$((sent - recv))
		name=$( [[ $who == node ]] && echo flowfleet-node || echo nfcapd)
		printf '%-9s %-14s %9s %10d %10d %9d %7.3f%% %10s %6s %-9s %s\n' \
		    "$label" "$name" "$(fmt_rate "$fps")" "$sent" "$recv" \
		    "$lost" "$(awk -v l="$lost" -v s="$sent" 'BEGIN { print s ? 100 * l / s : 0 }')" \
		    "$drops" "$cpu" "$rb" "$qpeak"
		((fps > TOP_SENT)) && TOP_SENT=$fps
		if ((lost == 0 && drops == 0)); then
			if [[ $who == node ]]; then
				((fps > BEST_NODE)) && BEST_NODE=$fps
				LOSSY_NODE=0
			else
				((fps > BEST_NFC)) && BEST_NFC=$fps
				LOSSY_NFC=0
			fi
		elif [[ $who == node ]]; then
			((++LOSSY_NODE >= BENCH_MAX_LOSSY)) && HAVE_NODE=0
		else
			((++LOSSY_NFC >= BENCH_MAX_LOSSY)) && HAVE_NFC=0
		fi
	done
done

section "end-to-end result (highest lossless rate, flows/s, sender's achieved rate)"
echo "flowfleet-node: $(fmt_rate "$BEST_NODE") flows/s (stores flows at this revision: $HAS_STORE)"
echo "nfcapd:         $(fmt_rate "$BEST_NFC") flows/s (writes nfcapd files, uncompressed)"
if ((BEST_NODE > 0 && BEST_NODE * 100 >= TOP_SENT * 95)); then
	echo "                (flowfleet-node was lossless at about the fastest rate the sender reached: a lower bound)"
fi
if ((BEST_NFC > 0)); then
	echo "ratio:          $(awk -v a="$BEST_NODE" -v b="$BEST_NFC" 'BEGIN { printf "%.2fx", a / b }') (target: at least 2x)"
else
	echo "ratio:          n/a (no lossless nfcapd rate)"
fi
exit $STATUS
