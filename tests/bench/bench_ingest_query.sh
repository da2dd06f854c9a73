#!/bin/bash
#
# Ingest into the store while queries run (run by tests/bench/run.sh as
# part of `make bench`; runs alone too). Prints figures; it does not pass or
# fail on time. The exit status is non-zero only when a run could not be
# made.
#
# Does the node's store keep up with the intake while someone queries it?
# A flowfleet-node (default store settings: fsync at every commit) is
# pre-filled with IQ_PREFILL flows, so that a query has work to do. Then,
# for each rate in IQ_RATES (flows/s), IQ_FLOWS more flows are sent
# (flowgen NetFlow v9, 4 exporters, pool of 20000 datagrams, paced) twice:
#   idle       with no query running
#   querying   while a loop runs 'flowfleet-node query -c CONF --top 10
#              --by srcip --order bytes' back to back, over the whole store
#              (one scan thread, nice 10, as the node's own query engine
#              runs its scans niced)
# and counted once the node's counters stop moving: flows sent; decoded
# (stats totals.flows); kernel drops (socket counters); dropped because the
# writer's queue was full (store.queue_dropped) or a write failed
# (store.write_dropped); committed (store.committed). Intake is sustained
# when committed == sent with no drop of any kind.
# For the query loop: how many queries finished during the send, and their
# median wall time.
#
# CPUs (2 here): the sender is pinned to CPU 0 (it needs the core: on
# loopback the sender's core does the kernel's delivery work); the node
# (loop thread and writer thread) and the query loop share CPU 1. So the
# query takes its CPU from the node's core: the honest worst case.
#
# Environment: FF_BIN, FF_BENCH (flowgen), IQ_RATES ("500000 1000000
# 2000000 3000000"), IQ_FLOWS (10000000), IQ_PREFILL (5000000), IQ_PORT
# (28255).
# Every process is started in the background with its PID kept; the EXIT
# trap stops what is left by PID.

set -u

: "${FF_BIN:?FF_BIN must point at the built binaries}"
: "${FF_BENCH:?FF_BENCH must point at the built bench programs}"
IQ_RATES=${IQ_RATES:-"500000 1000000 2000000 3000000"}
IQ_FLOWS=${IQ_FLOWS:-10000000}
IQ_PREFILL=${IQ_PREFILL:-5000000}
IQ_PORT=${IQ_PORT:-28255}
NODE=$FF_BIN/flowfleet-node
FLOWGEN=$FF_BENCH/flowgen
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/flowfleet-iqbench.XXXXXX)
PIDS=()
STATUS=0
CPU_SEND=0
CPU_NODE=1
(($(nproc) < 2)) && CPU_NODE=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	forget "$pid"
}

jget() {
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0;
	    else if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2];
	    else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fmt_rate() { awk -v r="$1" 'BEGIN { printf "%.2fM", r / 1e6 }'; }

[[ -x $NODE && -x $FLOWGEN ]] || {
	echo "bench_ingest_query: $NODE or $FLOWGEN is missing" >&2
	exit 1
}
if [[ -n $(ss -lunH "sport = :$IQ_PORT") ]]; then
	echo "bench_ingest_query: UDP port $IQ_PORT is in use; set IQ_PORT" >&2
	exit 1
fi

CONF=$WORK/node.conf
cat >"$CONF" <<EOF
state-dir $WORK/state
listen netflow 127.0.0.1:$IQ_PORT
rcvbuf 64M
log-level warn
retention-age none
control-listen 127.0.0.1:$IQ_PORT
query-listen 127.0.0.1:$((IQ_PORT + 1))
EOF

echo
echo "=== ingest into the store while a query runs ($(nproc) cores; sender on CPU $CPU_SEND, node and query loop on CPU $CPU_NODE) ==="
taskset -c "$CPU_NODE" "$NODE" run -f -c "$CONF" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
for _ in $(seq 100); do
	timeout 5 "$NODE" stats -c "$CONF" --json >/dev/null 2>&1 && break
	sleep 0.1
done
timeout 5 "$NODE" stats -c "$CONF" --json >"$WORK/st.json" 2>/dev/null || {
	echo "bench_ingest_query: the node did not start:" >&2
	tail -5 "$WORK/node.log" >&2
	exit 1
}

# Poll until the node's counts stop moving with nothing queued or
# pending (bounded: 120 s); leaves the last snapshot in $WORK/st.json.
settle() {
	local prev= cur i same=0
	for ((i = 0; i < 480; i++)); do
		if timeout 10 "$NODE" stats -c "$CONF" --json >"$WORK/st.json" 2>/dev/null; then
			cur=$(jget "$WORK/st.json" '"%d/%d/%d/%d" % (j["totals"]["flows"], j["store"]["committed"], j["store"]["queued"], j["store"]["pending"])')
			if [[ $cur == "$prev" && $cur == */0/0 ]]; then
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

# Counters of the snapshot: "decoded kdrops qdrops wdrops committed".
counters() {
	jget "$WORK/st.json" '"%d %d %d %d %d" % (j["totals"]["flows"], sum(s["drops"] or 0 for s in j["sockets"]), j["store"]["queue_dropped"], j["store"]["write_dropped"], j["store"]["committed"])'
}

send() {	# rate flows seed
	taskset -c "$CPU_SEND" "$FLOWGEN" -P v9 --exporters 4 --pool 20000 \
	    --send 127.0.0.1 -p "$IQ_PORT" -n "$2" --fps "$1" -s "$3" \
	    -t $(($2 / $1 * 3 + 30)) --json >"$WORK/sent.json" 2>>"$WORK/errors"
}

echo "pre-fill: $IQ_PREFILL flows"
send 1000000 "$IQ_PREFILL" 1 || { echo "flowgen failed" >&2; exit 1; }
settle || echo "  (the node's counts still moving after 120 s)"
read -r base_dec _ _ _ base_com < <(counters)
echo "store: $base_com flows committed"

# One query loop: queries back to back until $WORK/stop exists; each
# wall time (ns) appended to $WORK/q.times.
query_loop() {
	local t0 t1
	while [[ ! -e $WORK/stop ]]; do
		t0=$(date +%s%N)
		taskset -c "$CPU_NODE" nice -n 10 "$NODE" query -c "$CONF" \
		    --top 10 --by srcip --order bytes --threads 1 \
		    >/dev/null 2>>"$WORK/errors" || return 1
		t1=$(date +%s%N)
		echo $((t1 - t0)) >>"$WORK/q.times"
	done
}

printf '\n%-9s %-9s %10s %10s %9s %9s %9s %10s %8s %8s %9s\n' rate mode \
    "sent fl/s" sent "kern.drop" "queue.drop" "write.drop" committed lost \
    queries "q median"
seed=10
for rate in $IQ_RATES; do
	for mode in idle querying; do
		seed=$((seed + 1))
		rm -f "$WORK/stop" "$WORK/q.times"
		timeout 5 "$NODE" stats -c "$CONF" --json >"$WORK/st.json" 2>/dev/null
		read -r d0 k0 q0 w0 c0 < <(counters)
		QPID=
		if [[ $mode == querying ]]; then
			query_loop &
			QPID=$!
			PIDS+=("$QPID")
			# the first query is under way before the flows come
			for _ in $(seq 50); do
				[[ -n $(pgrep -P "$QPID") ]] && break
				sleep 0.02
			done
		fi
		if ! send "$rate" "$IQ_FLOWS" "$seed"; then
			echo "bench_ingest_query: flowgen failed" >&2
			STATUS=1
		fi
		if [[ -n $QPID ]]; then
			touch "$WORK/stop"
			wait "$QPID" 2>/dev/null || STATUS=1
			forget "$QPID"
		fi
		settle || echo "  (the node's counts still moving after 120 s)"
		read -r d1 k1 q1 w1 c1 < <(counters)
		sent=$(jget "$WORK/sent.json" 'j["flows"]')
		fps=$(jget "$WORK/sent.json" 'int(j["fps"])')
		com=$((c1 - c0))
		nq=0
		qm=-
		if [[ -s $WORK/q.times ]]; then
			nq=$(wc -l <"$WORK/q.times")
			qm=$(awk '{ print $1 }' "$WORK/q.times" | median |
			    awk '{ printf "%.2fs", $1 / 1e9 }')
		fi
		printf '%-9s %-9s %10s %10d %9d %9d %9d %10d %8d %8s %9s\n' \
		    "$(fmt_rate "$rate")" "$mode" "$(fmt_rate "$fps")" "$sent" \
		    $((k1 - k0)) $((q1 - q0)) $((w1 - w0)) "$com" \
		    $((sent - com)) "$nq" "$qm"
	done
done
timeout 5 "$NODE" stats -c "$CONF" --json >"$WORK/st.json" 2>/dev/null
echo
echo "store at the end: $(jget "$WORK/st.json" 'j["store"]["flows"]') flows," \
    "$(jget "$WORK/st.json" '"%.1f" % (j["store"]["bytes_used"] / max(1, j["store"]["flows"]))') bytes/flow in use," \
    "queue peak $(jget "$WORK/st.json" 'j["store"]["queue_peak"]')/$(jget "$WORK/st.json" 'j["store"]["queue_capacity"]') batches"
echo "(sustained: committed = sent with no drop of any kind; the query loop scans the whole store, which grows as the runs go)"
stop_pid "$NODE_PID"
exit $STATUS
