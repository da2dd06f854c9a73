#!/bin/bash
#
# Query speed beside nfdump 1.7, on the same flows (run by tests/bench/run.sh
# as part of `make bench`; runs alone too). Prints figures; it does not pass
# or fail on time. The exit status is non-zero only when a run could not be
# made or the two answered a question differently.
#
# Data, per size in QBENCH_SIZES (10 and 50 million flows): flowgen NetFlow
# v9 (seed 1, 4 exporters, 10% IPv6 datagrams, a pool of 100000 datagrams =
# 3 million distinct flow records replayed with advancing export times,
# Zipf host popularity) sent over loopback at QBENCH_FPS to nfcapd -y
# (LZ4), and the same datagrams decoded by the node's decoder into a
# flow store (flowgen --store: the node's decoder and store in flowgen's
# process; the daemon's own ingest path is measured by
# bench_ingest_query.sh). nfcapd must have received every flow (nfdump
# -I), or the figures are reported as not comparable.
#
# Questions: the top 10 source addresses by bytes, without a filter and
# with the filter 'proto tcp and dst port 443':
#   flowfleet-node query --store DIR --top 10 --by srcip --order bytes
#   nfdump -R DIR -s srcip/bytes -n 10 -o csv
# Each is run once to warm the page cache, then QBENCH_RUNS times; the
# figure is the median wall time of the whole command (process start,
# opening the store, the scan, printing):
#   1 core     pinned to CPU 0 with taskset (ours with --threads 1); the
#              rate is flows in the store / wall time; the CPU time (user
#              + system) is given beside it: on a busy machine it is the
#              steadier figure, and the ratio of both is printed
#   all cores  not pinned (ours with a thread per core), wall time
# Peak memory: maximum resident set size (/usr/bin/time) of an unpinned
# run. Ours includes the LMDB pages it touched (the store is mapped
# read-only: file pages, shared with the page cache), so the anonymous
# part (our own tables) is given beside it, read from /proc at exit by a
# wrapper that polls VmRSS/RssAnon while the query runs.
# On-disk size: bytes per flow of our store (data.mdb) and of nfcapd's
# LZ4 files.
# The answers of both (keys and bytes of the 10 rows) are compared.
#
# Environment: FF_BIN (flowfleet-node), FF_BENCH (flowgen), QBENCH_SIZES,
# QBENCH_RUNS (5), QBENCH_FPS (1000000 flows/s), QBENCH_PORT (28155),
# QBENCH_KEEP=1 keeps the work directory. Every process is started in the
# background with its PID kept; the EXIT trap stops what is left by PID and
# restores net.core.rmem_max.

set -u

: "${FF_BIN:?FF_BIN must point at the built binaries}"
: "${FF_BENCH:?FF_BENCH must point at the built bench programs}"
QBENCH_SIZES=${QBENCH_SIZES:-"10000000 50000000"}
QBENCH_RUNS=${QBENCH_RUNS:-5}
QBENCH_FPS=${QBENCH_FPS:-1000000}
# Below the kernel's ephemeral range (32768-60999), where other tests'
# free-port picks land.
QBENCH_PORT=${QBENCH_PORT:-28155}
FILTER='proto tcp and dst port 443'
NODE=$FF_BIN/flowfleet-node
FLOWGEN=$FF_BENCH/flowgen
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/flowfleet-qbench.XXXXXX)
NFCAPD_PID=
RMEM_ORIG=
STATUS=0

cleanup() {
	if [[ -n $NFCAPD_PID ]] && kill -0 "$NFCAPD_PID" 2>/dev/null; then
		kill -TERM "$NFCAPD_PID" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$NFCAPD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$NFCAPD_PID" 2>/dev/null
		wait "$NFCAPD_PID" 2>/dev/null
	fi
	if [[ -n $RMEM_ORIG ]]; then
		sysctl -q -w net.core.rmem_max="$RMEM_ORIG" >/dev/null
	fi
	if [[ ${QBENCH_KEEP:-0} == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in nfcapd nfdump taskset /usr/bin/time; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench_query: $tool is missing ('make deps' installs it)" >&2
		exit 1
	fi
done
[[ -x $NODE && -x $FLOWGEN ]] || {
	echo "bench_query: $NODE or $FLOWGEN is missing" >&2
	exit 1
}

echo
echo "=== query speed beside nfdump $(nfdump -V 2>&1 | grep -o '[0-9][0-9.]*' | head -1)," \
    "$(nproc) cores, top 10 srcip by bytes ==="

# A bigger socket buffer for nfcapd (the kernel caps SO_RCVBUF at
# rmem_max); put back on exit.
RMEM_ORIG=$(sysctl -n net.core.rmem_max 2>/dev/null)
sysctl -q -w net.core.rmem_max=134217728 >/dev/null 2>&1 || RMEM_ORIG=

# Wall and CPU (user + system, all threads) time of a command, in ns:
# "wall cpu".
wall() {
	local out=$WORK/time.txt
	/usr/bin/time -f '%e %U %S' -o "$out" "$@" >/dev/null \
	    2>>"$WORK/errors" || return 1
	# (%.0f: mawk's %d stops at 2^31)
	awk '/^[0-9.]+ [0-9.]+ [0-9.]+$/ { printf "%.0f %.0f\n", $1 * 1e9,
	    ($2 + $3) * 1e9 }' "$out"
}

# Median of the numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2)
	    printf "%.0f\n", v[(NR + 1) / 2];
	    else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Medians of wall and CPU time (ns) of QBENCH_RUNS runs after one warm-up
# run: "wall cpu".
timed() {
	local i t
	wall "$@" >/dev/null || return 1
	for ((i = 0; i < QBENCH_RUNS; i++)); do
		wall "$@" || return 1
	done >"$WORK/runs.txt"
	echo "$(cut -d' ' -f1 "$WORK/runs.txt" | median)" \
	    "$(cut -d' ' -f2 "$WORK/runs.txt" | median)"
}

# Peak RSS and peak anonymous RSS (KiB) of a command: "rss anon".
peak_mem() {
	local pid rss anon peak_anon=0 out
	out=$WORK/peak.txt
	/usr/bin/time -f '%M' -o "$out" "$@" >/dev/null 2>>"$WORK/errors" &
	pid=$!
	# /usr/bin/time's child is the command: poll its RssAnon.
	while kill -0 "$pid" 2>/dev/null; do
		for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
			anon=$(awk '/^RssAnon:/ { print $2 }' \
			    /proc/"$c"/status 2>/dev/null)
			[[ -n $anon ]] && ((anon > peak_anon)) && peak_anon=$anon
		done
		sleep 0.005
	done
	wait "$pid" || return 1
	rss=$(tail -1 "$out")
	echo "$rss $peak_anon"
}

ours() { "$NODE" query --store "$WORK/store" --top 10 --by srcip --order bytes "$@"; }
theirs() { nfdump -R "$WORK/nf" -s srcip/bytes -n 10 -o csv "$@"; }

# The answers (key and bytes of each row) must be the same.
same_answer() {
	local f=$1 a b
	if [[ -n $f ]]; then
		a=$(ours --csv --filter "$f" | awk -F, 'NR > 1 { print $2, $5 }')
		b=$(theirs "$f" | awk -F, 'NR > 1 && NF > 10 { print $5, $10 }')
	else
		a=$(ours --csv | awk -F, 'NR > 1 { print $2, $5 }')
		b=$(theirs | awk -F, 'NR > 1 && NF > 10 { print $5, $10 }')
	fi
	[[ -n $a && $a == "$b" ]]
}

fmt_rate() { awk -v r="$1" 'BEGIN { if (r >= 1e6) printf "%.1f M", r / 1e6;
	else printf "%.0f K", r / 1e3 }'; }
secs() { awk -v n="$1" 'BEGIN { printf "%.3f s", n / 1e9 }'; }
rate() { fmt_rate "$(awk -v n="$1" -v t="$2" 'BEGIN { print n / (t / 1e9) }')"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

for N in $QBENCH_SIZES; do
	rm -rf "$WORK/nf" "$WORK/store"
	mkdir -p "$WORK/nf"
	nfcapd -y -w "$WORK/nf" -b 127.0.0.1 -p "$QBENCH_PORT" -B 67108864 \
	    -t 86400 >"$WORK/nfcapd.log" 2>&1 &
	NFCAPD_PID=$!
	for _ in $(seq 100); do
		[[ -n $(ss -lunH "sport = :$QBENCH_PORT") ]] && break
		sleep 0.1
	done
	echo
	echo "--- $(fmt_rate "$N") flows: loading (flowgen -> nfcapd -y and -> store)"
	if ! timeout 900 "$FLOWGEN" --send 127.0.0.1 -p "$QBENCH_PORT" \
	    --store "$WORK/store" -n "$N" --pool 100000 --exporters 4 \
	    --v6 10 -s 1 --fps "$QBENCH_FPS" -t 800 --json \
	    >"$WORK/gen.json" 2>>"$WORK/errors"; then
		echo "bench_query: flowgen failed: $(tail -3 "$WORK/errors")" >&2
		STATUS=1
		break
	fi
	sleep 1
	kill -TERM "$NFCAPD_PID"
	for _ in $(seq 600); do
		kill -0 "$NFCAPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$NFCAPD_PID" 2>/dev/null
	NFCAPD_PID=
	sent=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["flows"])' "$WORK/gen.json")
	stored=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored"])' "$WORK/gen.json")
	got=$(nfdump -R "$WORK/nf" -I 2>/dev/null | awk '/^Flows:/ { print $2; exit }')
	echo "sent $sent flows; stored $stored; nfcapd received ${got:-0}"
	if [[ ${got:-0} != "$sent" || $stored != "$sent" ]]; then
		echo "(the two hold different flows: figures below are not comparable)"
		STATUS=1
	fi
	ours_b=$(stat -c %s "$WORK/store/data.mdb")
	nf_b=$(du -cb "$WORK"/nf/nfcapd.* | tail -1 | cut -f1)
	printf 'on disk:  flowfleet store %s bytes/flow, nfcapd -y (LZ4) %s bytes/flow\n' \
	    "$(awk -v b="$ours_b" -v n="$sent" 'BEGIN { printf "%.1f", b / n }')" \
	    "$(awk -v b="$nf_b" -v n="$sent" 'BEGIN { printf "%.1f", b / n }')"

	printf '\n%-40s %11s %9s %9s %10s %11s %9s\n' "query" \
	    "1 core fl/s" "wall" "cpu" "all cores" "peak RSS" "anon"
	for f in "" "$FILTER"; do
		fargs=()
		label="no filter"
		if [[ -n $f ]]; then
			fargs=(--filter "$f")
			label="'$f'"
		fi
		if ! same_answer "$f"; then
			echo "bench_query: answers differ for $label" >&2
			STATUS=1
		fi
		read -r o1 o1c < <(timed taskset -c 0 "$NODE" query --store \
		    "$WORK/store" --top 10 --by srcip --order bytes --threads 1 \
		    "${fargs[@]}") && [[ -n $o1 ]] || { STATUS=1; continue; }
		read -r oa _ < <(timed "$NODE" query --store "$WORK/store" \
		    --top 10 --by srcip --order bytes "${fargs[@]}") &&
		    [[ -n $oa ]] || { STATUS=1; continue; }
		read -r om oanon < <(peak_mem "$NODE" query --store \
		    "$WORK/store" --top 10 --by srcip --order bytes "${fargs[@]}")
		read -r n1 n1c < <(timed taskset -c 0 nfdump -R "$WORK/nf" -s \
		    srcip/bytes -n 10 -o csv ${f:+"$f"}) && [[ -n $n1 ]] ||
		    { STATUS=1; continue; }
		read -r na _ < <(timed nfdump -R "$WORK/nf" -s srcip/bytes -n \
		    10 -o csv ${f:+"$f"}) && [[ -n $na ]] ||
		    { STATUS=1; continue; }
		read -r nm nanon < <(peak_mem nfdump -R "$WORK/nf" -s \
		    srcip/bytes -n 10 -o csv ${f:+"$f"})
		printf '%-40s %11s %9s %9s %10s %7s MiB %5s MiB\n' \
		    "flowfleet $label" "$(rate "$sent" "$o1")" "$(secs "$o1")" \
		    "$(secs "$o1c")" "$(secs "$oa")" $((om / 1024)) $((oanon / 1024))
		printf '%-40s %11s %9s %9s %10s %7s MiB %5s MiB\n' \
		    "nfdump $label" "$(rate "$sent" "$n1")" "$(secs "$n1")" \
		    "$(secs "$n1c")" "$(secs "$na")" $((nm / 1024)) $((nanon / 1024))
		printf '%-40s %11s %9s %9s %10s\n' "  ratio (nfdump / ours)" \
		    "$(ratio "$n1" "$o1")" "" "$(ratio "$n1c" "$o1c")" \
		    "$(ratio "$na" "$oa")"
	done
done
echo
echo "(target: at least 5x nfdump's query speed; medians of $QBENCH_RUNS runs" \
    "after a warm-up run, page cache warm)"
exit $STATUS
