#!/bin/bash
#
# make demo: a local flowfleet fleet on loopback.
#
#   - a controller, and three nodes on their own addresses (127.0.77.1-3)
#     with the standard ports (UDP 2055 and 6343, TCP 2210 and 4210);
#   - each node enrolled with a one-time join token;
#   - fed with real flow exports: the captures of ../shared/testdata/flows
#     (Cisco, Juniper, MikroTik, nProbe, pmacct, ... replayed by
#     deploy/demo_feed.py), and a real exporter, softflowd, turning a
#     pcap of each site's last 15 minutes of traffic into IPFIX;
#   - distributed queries with their coverage: top talkers, a filter, a
#     time series, a distinct count; the same query with a node stopped;
#   - a check that the fleet's totals equal the sum of what each node
#     answers on its own.
#
# Everything runs in a temporary directory and stops on exit, on error
# and on Ctrl-C (every process by its PID). DEMO_KEEP=1 keeps the
# directory (logs, states).
#
# Environment: FF_BIN (the built binaries), FF_TESTDATA (the captures).
set -euo pipefail

BIN=${FF_BIN:?set FF_BIN to the directory of the binaries}
TESTDATA=${FF_TESTDATA:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
NODES=(edge-ams edge-fra edge-nyc)
LABELS=("site=ams region=eu" "site=fra region=eu" "site=nyc region=us")
NET=127.0.77
DIR=$(mktemp -d /tmp/flowfleet-demo.XXXXXX)
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	local a shown=
	for a in "$@"; do
		case $a in
		ff) shown+="flowfleet " ;;
		*[!A-Za-z0-9_./=:,@-]*) shown+="'$a' " ;;
		*) shown+="$a " ;;
		esac
	done
	printf '\033[2m$ %s\033[0m\n' "${shown% }"
	"$@"
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: kept $DIR"
	else
		rm -rf "$DIR"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

ff() { "$BIN/flowfleet" -s "$DIR/ctl.sock" "$@"; }

# Wait (at most $1 s) until the command after it succeeds.
wait_until() {
	local secs=$1
	shift
	for _ in $(seq $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "demo: gave up waiting for: $*" >&2
	return 1
}

for i in 1 2 3; do
	if ss -Htln "( sport = :2210 or sport = :4210 )" 2>/dev/null |
	    grep -q "$NET.$i:"; then
		echo "demo: $NET.$i:2210/4210 is in use (another demo?)" >&2
		exit 1
	fi
done

say "a controller and three nodes in $DIR"
# each site's traffic for softflowd, made meanwhile (scapy is slow)
for i in 0 1 2; do
	$PY "$HERE/demo_traffic.py" $((i + 1)) 15 "$DIR/site$i.pcap" &
	TRAFFIC_PID[$i]=$!
	PIDS+=($!)
done
cat >"$DIR/ctl.conf" <<EOF
state-dir "$DIR/ctl"
socket "$DIR/ctl.sock"
name demo-ctl
EOF
"$BIN/flowfleet-controller" run -f -c "$DIR/ctl.conf" \
    >"$DIR/ctl.log" 2>&1 &
PIDS+=($!)
wait_until 10 ff status || wait_until 1 test -S "$DIR/ctl.sock"
echo "controller key: $("$BIN/flowfleet-controller" fingerprint \
    -c "$DIR/ctl.conf")"

for i in 0 1 2; do
	name=${NODES[$i]}
	addr=$NET.$((i + 1))
	args=()
	for l in ${LABELS[$i]}; do args+=(--label "$l"); done
	printf '\033[2m$ flowfleet nodes add %s %s %s\033[0m\n' "$name" \
	    "$addr" "${args[*]}"
	token=$(ff nodes add "$name" "$addr" "${args[@]}" | head -1)
	echo "join token for $name: ${token:0:24}...${token: -6}"
	cat >"$DIR/$name.conf" <<EOF
name $name
state-dir "$DIR/$name"
listen netflow $addr:2055
listen sflow $addr:6343
control-listen $addr:2210
query-listen $addr:4210
join-token $token
# keep every flow of the demo, by age; 1G at most
retention-age none
retention-size 1G
EOF
	"$BIN/flowfleet-node" run -f -c "$DIR/$name.conf" \
	    >"$DIR/$name.log" 2>&1 &
	PIDS+=($!)
	NODE_PID[$i]=$!
done
# enrolled (the join worked) and both channels up
wait_until 30 ff status
for n in "${NODES[@]}"; do
	wait_until 15 sh -c "'$BIN/flowfleet' -s '$DIR/ctl.sock' --json \
	    nodes show $n | grep -q '\"query\":{\"state\":\"up\"'"
done
run ff status

say "feeding the nodes real flow exports"
if [ -n "$TESTDATA" ] && [ -d "$TESTDATA" ]; then
	echo "replaying the captures of $TESTDATA:"
	$PY "$HERE/demo_feed.py" "$TESTDATA" $NET.1 $NET.2 $NET.3
else
	echo "demo: FF_TESTDATA ($TESTDATA) is not a directory: skipping" \
	    "the captures (../shared/testdata/flows)" >&2
fi
echo "softflowd exporting each site's last 15 minutes as IPFIX:"
for i in 0 1 2; do
	wait "${TRAFFIC_PID[$i]}"
	softflowd -r "$DIR/site$i.pcap" -n $NET.$((i + 1)):2055 -v 10 -d -a \
	    >"$DIR/softflowd$i.log" 2>&1
	echo "  ${NODES[$i]}: $(grep -o 'Flows exported: [0-9]*' \
	    "$DIR/softflowd$i.log" || echo '?')"
done

# every decoded flow committed: each node's own answer matches its count
stored() {
	local n=$1 got want
	want=$("$BIN/flowfleet-node" stats -c "$DIR/$n.conf" --json |
	    $PY -c 'import json,sys; print(json.load(sys.stdin)["totals"]["flows"])')
	got=$("$BIN/flowfleet-node" query -c "$DIR/$n.conf" --json |
	    $PY -c 'import json,sys; print(json.load(sys.stdin)["totals"]["flows"])')
	[ "$got" = "$want" ]
}
for n in "${NODES[@]}"; do wait_until 20 stored "$n"; done

say "one question to the whole fleet: top talkers"
run ff query --top 10 --by srcip --verbose
say "a filter: who talks to port 443 over TCP, by destination"
run ff query --filter 'proto tcp and dst port 443' --top 5 --by dstip
say "a time series of the last 15 minutes, European sites only"
run ff query --since 16m --series 1m --label region=eu
say "how many different sources the fleet saw"
run ff query --distinct srcip

say "check: the fleet's totals equal the sum of each node's own totals"
fleet=$(ff query --json | $PY -c \
    'import json,sys; t=json.load(sys.stdin)["answer"]["totals"]; print(t["flows"], t["packets"], t["bytes"])')
sum=$(for n in "${NODES[@]}"; do
	"$BIN/flowfleet-node" query -c "$DIR/$n.conf" --json; done |
    $PY -c '
import json, sys
dec = json.JSONDecoder(); s = sys.stdin.read(); i = 0; t = [0, 0, 0]
while i < len(s):
    while i < len(s) and s[i].isspace(): i += 1
    if i >= len(s): break
    o, i = dec.raw_decode(s, i)
    for k, f in enumerate(("flows", "packets", "bytes")): t[k] += o["totals"][f]
print(*t)')
echo "fleet:          flows packets bytes = $fleet"
echo "sum of nodes:   flows packets bytes = $sum"
if [ "$fleet" != "$sum" ]; then
	echo "demo: MISMATCH" >&2
	exit 1
fi
echo "equal."

say "a node goes down: the answer says what is missing"
kill -TERM "${NODE_PID[2]}"
wait "${NODE_PID[2]}" 2>/dev/null || true
wait_until 15 sh -c "! '$BIN/flowfleet' -s '$DIR/ctl.sock' status"
set +e
run ff query --top 5 --by srcip --allow-partial
echo "(exit status $?: 6 means partial)"
set -e

say "done: stopping the fleet"
