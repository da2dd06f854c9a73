#!/bin/bash
#
# Run libFuzzer targets for a bounded time each; used by 'make fuzz'.
#
#   tests/fuzz/run.sh FUZZER_BIN...
#
# Environment:
#   FUZZ_TIME    seconds per target (default 30)
#   FUZZ_JOBS    targets run at the same time (default 2)
#   FF_TESTDATA  the shared captures (default ../shared/testdata/flows
#                beside the top of the tree): the flow decoders' corpora
#                also get seeds extracted from them (seeds_from_testdata.py),
#                at run time only. When they are absent, or yield no seed,
#                those targets fail at setup with the reason.
#
# Each target runs in a fresh directory next to its binary,
# <bindir>/fuzz-run/<target>/: corpus/ (the committed seeds of
# tests/fuzz/corpus/<target>/, plus the capture seeds; libFuzzer adds what
# it finds), log (libFuzzer's output) and any crash-*/leak-*/timeout-*/
# oom-* artifact. A target that runs FUZZ_TIME + 60 s is killed by its PID
# and counted as failed.
#
# At the end one line per target (runs, coverage, corpus, result); for a
# failed target the tail of its log and its artifact. Exit status 0 when
# every target ran its time without a crash, leak, timeout, out-of-memory
# or sanitizer report; 1 otherwise; 2 on a usage error.

set -u

FUZZ_TIME=${FUZZ_TIME:-30}
FUZZ_JOBS=${FUZZ_JOBS:-2}
GRACE=60
SANITIZER_RE='ERROR: (Address|Undefined|Memory|Thread)Sanitizer|runtime error:'
HERE=$(cd "$(dirname "$0")" && pwd)
FF_TESTDATA=${FF_TESTDATA:-$(cd "$HERE/../../.." && pwd)/shared/testdata/flows}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3

usage() {
	echo "usage: FUZZ_TIME=s FUZZ_JOBS=n $0 FUZZER_BIN..." >&2
	exit 2
}

case "$FUZZ_TIME" in ''|*[!0-9]*) usage ;; esac
case "$FUZZ_JOBS" in ''|*[!0-9]*) usage ;; esac
[ "$FUZZ_JOBS" -ge 1 ] || usage
[ $# -ge 1 ] || usage

declare -A PID=() START=() RC=()
declare -a DIRS=()
targets=()

# Prepare target $1 (binary path): fresh run directory and seed corpus.
prepare() {
	local bin=$1 name dir seeds
	name=$(basename "$bin")
	dir=$(cd "$(dirname "$bin")" && pwd)/fuzz-run/$name
	rm -rf -- "$dir"
	mkdir -p "$dir/corpus" || return 1
	seeds=$HERE/corpus/$name
	if [ -d "$seeds" ]; then
		cp -- "$seeds"/* "$dir/corpus/" 2>/dev/null
	fi
	# every target asks; only the flow decoders take seeds (the script
	# fails, saying why, when their captures are missing)
	if ! "$PYTHON" "$HERE/seeds_from_testdata.py" "$name" "$dir/corpus" \
	    "$FF_TESTDATA" >"$dir/seeds.log" 2>&1; then
		echo "$name: no seeds from the captures: $(tail -1 "$dir/seeds.log")" >&2
		return 1
	fi
	echo "$dir"
}

# Start target $1 (index into targets) in the background.
start() {
	local i=$1 bin=${targets[$1]} dir
	dir=${DIRS[$i]}
	echo "== $(basename "$bin"): $(ls "$dir/corpus" | wc -l) seeds," \
	    "${FUZZ_TIME}s"
	"$bin" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" \
	    >"$dir/log" 2>&1 </dev/null &
	PID[$i]=$!
	START[$i]=$(date +%s)
}

# Reap finished targets; kill those that overran. Sets RC[i].
reap() {
	local i now
	now=$(date +%s)
	for i in "${!PID[@]}"; do
		if ! kill -0 "${PID[$i]}" 2>/dev/null; then
			wait "${PID[$i]}"
			RC[$i]=$?
			unset "PID[$i]"
		elif [ $((now - START[$i])) -gt $((FUZZ_TIME + GRACE)) ]; then
			echo "$(basename "${targets[$i]}"): overran" \
			    "${FUZZ_TIME}s + ${GRACE}s, killing PID ${PID[$i]}" >&2
			kill -TERM "${PID[$i]}" 2>/dev/null
			sleep 2
			kill -KILL "${PID[$i]}" 2>/dev/null
			wait "${PID[$i]}"
			RC[$i]=overrun
			unset "PID[$i]"
		fi
	done
}

cleanup() {
	local i
	for i in "${!PID[@]}"; do
		kill -TERM "${PID[$i]}" 2>/dev/null
	done
	exit 1
}
trap cleanup INT TERM

for bin in "$@"; do
	targets+=("$bin")
done
for i in "${!targets[@]}"; do
	bin=${targets[$i]}
	if [ ! -x "$bin" ]; then
		RC[$i]=missing
		continue
	fi
	DIRS[$i]=$(prepare "$bin") || RC[$i]=setup
done

next=0
while :; do
	while [ "$next" -lt "${#targets[@]}" ] &&
	    [ "${#PID[@]}" -lt "$FUZZ_JOBS" ]; do
		if [ -z "${RC[$next]:-}" ]; then
			start "$next"
		fi
		next=$((next + 1))
	done
	[ "${#PID[@]}" -eq 0 ] && [ "$next" -ge "${#targets[@]}" ] && break
	sleep 1
	reap
done

# Summarize.
fail=0
echo
echo "fuzz summary (${FUZZ_TIME}s per target):"
for i in "${!targets[@]}"; do
	name=$(basename "${targets[$i]}")
	rc=${RC[$i]:-none}
	if [ "$rc" = missing ] || [ "$rc" = setup ]; then
		printf '  %-14s %s\n' "$name" "FAILED: $rc (${targets[$i]})"
		fail=1
		continue
	fi
	dir=${DIRS[$i]}
	log=$dir/log
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -1)
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" |
	    tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 |
	    cut -d' ' -f2)
	nfiles=$(ls "$dir/corpus" | wc -l)
	artifact=$(ls -d "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* \
	    "$dir"/oom-* "$dir"/slow-unit-* 2>/dev/null | head -1)
	result=ok
	if [ "$rc" = overrun ]; then
		result="KILLED (overran by ${GRACE}s)"
	elif grep -q 'ERROR: LeakSanitizer' "$log"; then
		result="LEAK"
	elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
		result="TIMEOUT"
	elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
		result="OUT OF MEMORY"
	elif grep -q -E "$SANITIZER_RE" "$log"; then
		result="SANITIZER REPORT"
	elif grep -q -E 'ERROR: libFuzzer|deadly signal' "$log"; then
		result="CRASH"
	elif [ "$rc" != 0 ]; then
		result="EXIT $rc"
	elif ! grep -q 'Done [0-9]* runs' "$log"; then
		result="DID NOT FINISH"
	fi
	printf '  %-14s runs %s, cov %s, corpus %s files (%s), %s\n' \
	    "$name" "${runs:-?}" "${cov:-?}" "$nfiles" "${corp:-?}" "$result"
	if [ "$result" != ok ]; then
		fail=1
		echo "---- $name: last lines of $log"
		tail -n 40 "$log" | sed 's/^/    /'
		if [ -n "$artifact" ]; then
			echo "---- $name: input: $artifact"
			echo "---- $name: reproduce: ${targets[$i]} $artifact"
		fi
	fi
done
exit $fail
