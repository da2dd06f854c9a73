#!/bin/bash
#
# Distributed query benchmark (run by tests/bench/run.sh as part of `make
# bench`; runs alone too). Prints figures; it does not pass or fail on
# time. The exit status is non-zero only when a run could not be made or
# the fleet and nfdump answered a question differently.
#
# 1. Latency of a top 10 over 4 nodes beside nfdump over the same flows
#    in one process.
#    Data: 4 parts of DQ_FLOWS flows each (10 million), flowgen NetFlow v9
#    seeds 1..4, --host-salt 1..4 (the parts share hosts, not heavy
#    hitters), 10% IPv6 datagrams, a pool of 100000 datagrams replayed
#    with advancing export times. Each part is sent over loopback to
#    nfcapd -y (LZ4) and, datagram for datagram, decoded into node k's
#    flow store (flowgen --store). nfcapd must hold all 4 x DQ_FLOWS
#    flows, or the figures are reported as not comparable.
#    The fleet: a controller and 4 flowfleet-node processes (127.0.3.1-4,
#    standard ports) on those stores, all on this machine's 2 cores.
#    Questions: top 10 srcip by bytes, without a filter and with 'proto
#    tcp and dst port 443':
#      flowfleet query --top 10 --by srcip     (the CLI's wall time)
#      nfdump -R DIR -s srcip/bytes -n 10      (over all 4 parts)
#    One warm-up, then DQ_RUNS runs; medians. The answers (keys and
#    bytes; ties at the last row as docs/QUERY.md says) must be equal.
# 2. Bytes on the wire per query (query-channel frames, both ways, all
#    nodes, as the controller counts them: --json wire_bytes) for the
#    same top 10 with --method tput (exact, TPUT) and --method full
#    (every node ships its complete aggregate), for srcip and dstip.
#    Then two faults on the same fleet: the time of a top 10 with a 3 s
#    deadline while n4 is frozen (SIGSTOP; as the controller measures it:
#    elapsed_ms), and how long after Ctrl-C on a listing of 1 000 000
#    flows every node has stopped scanning (the nodes' running queries,
#    polled with flowfleet-node stats).
# 3. Fan-out overhead: the time of a query over an empty window (nothing
#    to scan) with 1, 10 and 100 nodes: p50 and p99 of DQ_FANOUT_RUNS
#    queries, as the controller measures it (elapsed_us: from the request
#    to the answer) and as the CLI's wall time (process start included).
#    The 100 nodes are one process, tests/bench/ctlpeers -q: 100
#    endpoints each with the node's own control and query code
#    (node/control.c, session.c, qserver.c, qengine.c) and an empty store
#    of its own, on 127.0.4.1-100 (100 real node processes would measure
#    the scheduler of 2 cores more than the fan-out).
#
# Environment: FF_BIN, FF_BENCH (flowgen, ctlpeers), DQ_FLOWS, DQ_RUNS
# (5), DQ_FPS (1000000 flows/s), DQ_PORT (28255), DQ_FANOUT_RUNS (200),
# DQ_SKIP (latency fanout), DQ_KEEP=1 keeps the work directory. Every
# process is started in the background with its PID kept; the EXIT trap
# stops what is left by PID and restores net.core.rmem_max.

set -u

: "${FF_BIN:?FF_BIN must point at the built binaries}"
: "${FF_BENCH:?FF_BENCH must point at the built bench programs}"
DQ_FLOWS=${DQ_FLOWS:-10000000}
DQ_RUNS=${DQ_RUNS:-5}
DQ_FPS=${DQ_FPS:-1000000}
DQ_PORT=${DQ_PORT:-28255}
DQ_FANOUT_RUNS=${DQ_FANOUT_RUNS:-200}
DQ_SKIP=${DQ_SKIP:-}
FILTER='proto tcp and dst port 443'
NODE=$FF_BIN/flowfleet-node
CTL=$FF_BIN/flowfleet-controller
CLI=$FF_BIN/flowfleet
FLOWGEN=$FF_BENCH/flowgen
PEERS=$FF_BENCH/ctlpeers
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/flowfleet-dqbench.XXXXXX)
PIDS=()
NODE_PID=()
RMEM_ORIG=
STATUS=0

stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

cleanup() {
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	if [[ -n $RMEM_ORIG ]]; then
		sysctl -q -w net.core.rmem_max="$RMEM_ORIG" >/dev/null
	fi
	if [[ ${DQ_KEEP:-0} == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skip() { [[ " $DQ_SKIP " == *" $1 "* ]]; }

for tool in nfcapd nfdump /usr/bin/time ss; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench_dquery: $tool is missing ('make deps' installs it)" >&2
		exit 1
	fi
done
for f in "$NODE" "$CTL" "$CLI" "$FLOWGEN" "$PEERS"; do
	[[ -x $f ]] || { echo "bench_dquery: $f is missing" >&2; exit 1; }
done

# Median and 99th percentile of the numbers on stdin: "p50 p99".
pcts() {
	sort -n | awk '{ v[NR] = $1 } END {
	    i50 = int((NR + 1) / 2); i99 = int(NR * 0.99 + 0.999);
	    if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR;
	    printf "%.0f %.0f\n", v[i50], v[i99] }'
}
median() { pcts | cut -d' ' -f1; }
ms() { awk -v n="$1" 'BEGIN { printf "%.1f ms", n / 1e6 }'; }
secs() { awk -v n="$1" 'BEGIN { printf "%.3f s", n / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
jfield() { $PY -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }

# Wall time of a command in ns.
wall_ns() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>>"$WORK/errors" || return 1
	t1=$(date +%s%N)
	echo $((t1 - t0))
}
# Median wall time (ns) of DQ_RUNS runs after a warm-up.
timed() {
	local i
	wall_ns "$@" >/dev/null || return 1
	for ((i = 0; i < DQ_RUNS; i++)); do
		wall_ns "$@" || return 1
	done | median
}

# Two top-10 answers ("KEY BYTES" lines) are the same: the same byte
# column, and the same keys above the last row's value (nfdump orders
# equal values arbitrarily, we by key: docs/QUERY.md).
same_top() {
	$PY - "$1" "$2" <<'PYEOF'
import sys
a, b = ([l.split() for l in x.splitlines() if l.strip()] for x in sys.argv[1:3])
va, vb = [int(r[1]) for r in a], [int(r[1]) for r in b]
if va != vb:
    sys.exit(1)
last = va[-1] if va else 0
ka = sorted(r[0] for r in a if int(r[1]) > last)
kb = sorted(r[0] for r in b if int(r[1]) > last)
sys.exit(0 if ka == kb else 1)
PYEOF
}

start_ctl() {
	cat >"$WORK/ctl.conf" <<EOF
state-dir "$WORK/ctl"
socket "$WORK/ctl.sock"
name bench-ctl
query-timeout 10m
log-level warn
EOF
	"$CTL" run -f -c "$WORK/ctl.conf" >>"$WORK/ctl.log" 2>&1 &
	CTL_PID=$!
	PIDS+=("$CTL_PID")
	for _ in $(seq 100); do
		"$CLI" -s "$WORK/ctl.sock" status >/dev/null 2>&1
		[[ $? == 0 || $? == 4 ]] && [[ -S $WORK/ctl.sock ]] && return 0
		sleep 0.1
	done
	echo "bench_dquery: the controller did not start" >&2
	return 1
}
ff() { "$CLI" -s "$WORK/ctl.sock" "$@"; }

# Does every node of the latency fleet run $1 queries (stats --json)?
all_running() {
	local k n
	for k in 1 2 3 4; do
		n=$("$NODE" stats -c "$WORK/n$k.conf" --json 2>/dev/null |
		    jfield '["queries"]["running"]' 2>/dev/null)
		[[ $n == "$1" ]] || return 1
	done
}

# Wait (at most 60 s) until every node is up on both channels.
all_up() {
	local want=$1
	for _ in $(seq 600); do
		n=$(ff --json nodes list 2>/dev/null | $PY -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin)["nodes"]
          if n["state"] == "up" and n["query"]["state"] == "up"))' 2>/dev/null)
		[[ ${n:-0} == "$want" ]] && return 0
		sleep 0.1
	done
	echo "bench_dquery: only ${n:-0} of $want nodes came up" >&2
	return 1
}

echo
echo "=== distributed queries: $(nproc) cores, nfdump $(nfdump -V 2>&1 |
    grep -o '[0-9][0-9.]*' | head -1) ==="

RMEM_ORIG=$(sysctl -n net.core.rmem_max 2>/dev/null)
sysctl -q -w net.core.rmem_max=134217728 >/dev/null 2>&1 || RMEM_ORIG=

if ! skip latency; then
	mkdir -p "$WORK/nf"
	nfcapd -y -w "$WORK/nf" -b 127.0.0.1 -p "$DQ_PORT" -B 67108864 \
	    -t 86400 >"$WORK/nfcapd.log" 2>&1 &
	NF_PID=$!
	PIDS+=("$NF_PID")
	for _ in $(seq 100); do
		[[ -n $(ss -lunH "sport = :$DQ_PORT") ]] && break
		sleep 0.1
	done
	total=0
	echo
	echo "--- loading 4 x $DQ_FLOWS flows (flowgen -> nfcapd -y, and -> node k's store)"
	for k in 1 2 3 4; do
		mkdir -p "$WORK/n$k"
		if ! timeout 1800 "$FLOWGEN" --send 127.0.0.1 -p "$DQ_PORT" \
		    --store "$WORK/n$k/flows" -n "$DQ_FLOWS" --pool 100000 \
		    --v6 10 -s $k --host-salt $k --fps "$DQ_FPS" -t 1700 \
		    --json >"$WORK/gen$k.json" 2>>"$WORK/errors"; then
			echo "bench_dquery: flowgen failed: $(tail -3 "$WORK/errors")" >&2
			exit 1
		fi
		total=$((total + $(jfield '["stored"]' <"$WORK/gen$k.json")))
	done
	sleep 1
	stop_pid "$NF_PID"
	got=$(nfdump -R "$WORK/nf" -I 2>/dev/null | awk '/^Flows:/ { print $2; exit }')
	echo "stored $total flows in the 4 stores; nfcapd received ${got:-0}"
	if [[ ${got:-0} != "$total" ]]; then
		echo "(nfcapd lost flows: the figures below are not comparable)"
		STATUS=1
	fi
	start_ctl || exit 1
	fp=$("$CTL" fingerprint -c "$WORK/ctl.conf")
	for k in 1 2 3 4; do
		a=127.0.3.$k
		cat >"$WORK/n$k.conf" <<EOF
name n$k
state-dir "$WORK/n$k"
listen any $a:2055
control-listen $a:2210
query-listen $a:4210
controller-fingerprint $fp
log-level warn
EOF
		# the key first (fingerprint makes it), then the daemon
		ff nodes add n$k $a --fingerprint \
		    "$("$NODE" fingerprint -c "$WORK/n$k.conf")" >/dev/null
		"$NODE" run -f -c "$WORK/n$k.conf" >"$WORK/n$k.log" 2>&1 &
		PIDS+=($!)
		NODE_PID[k]=$!
	done
	all_up 4 || exit 1

	printf '\n%-46s %12s %12s %8s\n' "top 10 srcip by bytes over 4 x $DQ_FLOWS" \
	    "flowfleet" "nfdump" "ratio"
	for f in "" "$FILTER"; do
		fargs=()
		label="no filter"
		[[ -n $f ]] && { fargs=(--filter "$f"); label="'$f'"; }
		a=$(ff query --csv --top 10 --by srcip "${fargs[@]}" 2>/dev/null |
		    awk -F, 'NR > 1 { print $2, $5 }')
		b=$(nfdump -R "$WORK/nf" -s srcip/bytes -n 10 -o csv ${f:+"$f"} |
		    awk -F, 'NR > 1 && NF > 10 { print $5, $10 }')
		if [[ -z $a ]] || ! same_top "$a" "$b"; then
			echo "bench_dquery: the answers differ for $label:" >&2
			paste <(echo "$a") <(echo "$b") >&2
			STATUS=1
		fi
		o=$(timed "$CLI" -s "$WORK/ctl.sock" query --top 10 --by srcip \
		    "${fargs[@]}") || { STATUS=1; continue; }
		n=$(timed nfdump -R "$WORK/nf" -s srcip/bytes -n 10 -o csv \
		    ${f:+"$f"}) || { STATUS=1; continue; }
		printf '%-46s %12s %12s %8s\n' "$label" "$(secs "$o")" \
		    "$(secs "$n")" "$(ratio "$n" "$o")"
	done
	echo "(wall time of the whole command, median of $DQ_RUNS after a warm-up;" \
	    "target: the 4-node query at least 10x faster than nfdump)"

	printf '\n%-46s %14s %14s %8s\n' "bytes on the wire per query (top 10)" \
	    "exact (tput)" "full aggr." "ratio"
	for key in srcip dstip; do
		t=$(ff query --json --top 10 --by $key --method tput | jfield '["wire_bytes"]')
		u=$(ff query --json --top 10 --by $key --method full | jfield '["wire_bytes"]')
		printf '%-46s %14s %14s %8s\n' "$key by bytes" "$(kib "$t")" \
		    "$(kib "$u")" "$(ratio "$u" "$t")"
	done

	printf '\n%-46s %12s\n' "faults over the same 4 nodes" "time"
	kill -STOP "${NODE_PID[4]}"
	out=$(ff query --json --top 10 --by srcip --timeout 3s \
	    --allow-partial 2>/dev/null)
	kill -CONT "${NODE_PID[4]}"
	e=$(echo "$out" | jfield '["elapsed_ms"]' 2>/dev/null)
	printf '%-46s %12s\n' "top 10, deadline 3 s, n4 frozen: answer after" \
	    "${e:-?} ms"
	[[ -n $e ]] || STATUS=1
	# the CLI itself in the background (not ff: SIGINT goes to its PID)
	"$CLI" -s "$WORK/ctl.sock" query --list 1000000 >/dev/null 2>&1 &
	QPID=$!
	PIDS+=("$QPID")
	for _ in $(seq 300); do
		all_running 1 && break
		sleep 0.02
	done
	if all_running 1; then
		t0=$(date +%s%N)
		kill -INT "$QPID"
		stopped=0
		for _ in $(seq 3000); do
			all_running 0 && { stopped=1; break; }
		done
		t1=$(date +%s%N)
		if ((stopped)); then
			label="Ctrl-C on a listing: every node stopped after"
			printf '%-46s %12s\n' "$label" "$(ms $((t1 - t0)))"
		else
			echo "Ctrl-C on a listing: the nodes were still" \
			    "scanning after $(ms $((t1 - t0)))"
			STATUS=1
		fi
		echo "(the first as the controller measures it, elapsed_ms; the" \
		    "second by this script's clock, within one poll of the 4" \
		    "nodes' stats)"
	else
		echo "Ctrl-C on a listing: not every node was scanning (no figure)"
		STATUS=1
	fi
	wait "$QPID" 2>/dev/null
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	PIDS=()
	rm -rf "$WORK/ctl" "$WORK/ctl.sock"
fi

if ! skip fanout; then
	start_ctl || exit 1
	fp=$("$CTL" fingerprint -c "$WORK/ctl.conf")
	mkdir -p "$WORK/peers"
	"$PEERS" -q -n 100 -a 127.0.4 -d "$WORK/peers" -c "$fp" \
	    -o "$WORK/peers.txt" >"$WORK/peers.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 300); do
		grep -q ready "$WORK/peers.log" 2>/dev/null && break
		sleep 0.1
	done
	i=0
	while read -r name addr pfp; do
		i=$((i + 1))
		labels=(--label all)
		((i <= 10)) && labels+=(--label g10)
		((i == 1)) && labels+=(--label g1)
		ff nodes add "$name" "$addr" --fingerprint "$pfp" \
		    "${labels[@]}" >/dev/null || exit 1
	done <"$WORK/peers.txt"
	all_up 100 || exit 1
	printf '\n%-30s %22s %22s\n' "fan-out, empty window" \
	    "controller p50 / p99" "CLI wall p50 / p99"
	for g in g1 g10 all; do
		: >"$WORK/ctl_us" && : >"$WORK/cli_ns"
		for ((r = 0; r < DQ_FANOUT_RUNS; r++)); do
			t0=$(date +%s%N)
			out=$(ff query --json --from @1 --to @2 --label $g) || {
				echo "bench_dquery: a query failed: $out" >&2
				STATUS=1
				break
			}
			t1=$(date +%s%N)
			echo $((t1 - t0)) >>"$WORK/cli_ns"
			echo "$out" | jfield '["elapsed_us"]' >>"$WORK/ctl_us"
		done
		read -r c50 c99 < <(pcts <"$WORK/ctl_us")
		read -r w50 w99 < <(pcts <"$WORK/cli_ns")
		n=$( [[ $g == all ]] && echo 100 || echo "${g#g}")
		printf '%-30s %22s %22s\n' "$n node(s)" \
		    "$(ms $((c50 * 1000))) / $(ms $((c99 * 1000)))" \
		    "$(ms "$w50") / $(ms "$w99")"
	done
	echo "($DQ_FANOUT_RUNS queries each; target: p99 under 50 ms at 100 nodes)"
fi
exit $STATUS
