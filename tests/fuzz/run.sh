#!/usr/bin/env bash
# run.sh BINDIR SECONDS - run every fuzz target of BINDIR (built by `make fuzz`)
# for SECONDS each, one after the other, from its seed corpus
# tests/fuzz/corpus/<target>/ (read only: new inputs go to a temporary
# directory that is removed afterwards). SECONDS=0 replays the corpus only;
# FUZZ_RUNS=N (environment) also stops each target after N executions;
# FUZZ_TARGETS="a b" (environment) runs only those targets; FUZZ_TIMEOUT=S
# (environment, default 2) is libFuzzer's -timeout.
#
# Budget: -timeout=2 s per input, -malloc_limit_mb=128 for any one
# allocation, -rss_limit_mb=1024 for the process (ASan's quarantine and the
# growing in-memory corpus alone reach ~450 MB in a long config run); going
# past one is a finding like a crash or a leak (LeakSanitizer is on). Findings are kept in BINDIR/artifacts/<target>/. Prints one line
# per target with its executions, exec/s and slowest input; exits 1 if any
# target failed.
#
# libFuzzer's timeout is wall-clock time: a long campaign under `nice -n 19`
# on a loaded machine can be descheduled past 2 s in an input that takes
# 3 ms (seen: load average 11). Such a campaign raises FUZZ_TIMEOUT; every
# input slower than 2 s is still saved (-report_slow_units=2, as
# artifacts/<target>/slow-unit-*) to be run again alone.
set -uo pipefail
bindir=${1:?usage: run.sh BINDIR SECONDS}
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Per-target input size bound: the config loader gets whole (small) files.
max_len() {
	case "$1" in
	config) echo 16384 ;;
	http_request) echo 9000 ;;
	*) echo 4096 ;;
	esac
}

failed=()
summary=()
for bin in "$bindir"/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	t=$(basename "$bin")
	if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $t "* ]]; then
		continue
	fi
	seeds="$here/corpus/$t"
	out="$tmp/$t"
	art="$bindir/artifacts/$t"
	mkdir -p "$out" "$art"
	[ -d "$seeds" ] || { echo "fuzz: $t has no corpus at $seeds" >&2; failed+=("$t"); continue; }
	opts=(-timeout="${FUZZ_TIMEOUT:-2}" -report_slow_units=2 -rss_limit_mb=1024 -malloc_limit_mb=128 -max_len="$(max_len "$t")"
	      -print_final_stats=1 -artifact_prefix="$art/")
	dict="$here/$t.dict"
	[ -f "$dict" ] && opts+=(-dict="$dict")
	if [ "$secs" = 0 ]; then
		opts+=(-runs=0)
	else
		opts+=(-max_total_time="$secs")
		[ -n "${FUZZ_RUNS:-}" ] && opts+=(-runs="$FUZZ_RUNS")
	fi
	log="$tmp/$t.log"
	echo "== fuzz $t (${secs}s)"
	if nice -n 10 "$bin" "${opts[@]}" "$out" "$seeds" >"$log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	slow=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -1)
	line=$(printf '%-14s %s executions, %s exec/s, slowest input %s s' "$t" "${execs:-?}" \
		"${rate:-?}" "${slow:-?}")
	if [ "$rc" != 0 ]; then
		failed+=("$t")
		line="$line  FAILED (exit $rc, findings in $art)"
		grep -E 'ERROR:|SUMMARY:|Test unit written|runtime error|==[0-9]+==' "$log" | head -20
	fi
	echo "$line"
	summary+=("$line")
done

echo "== fuzz summary (FUZZ_SECONDS=$secs)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: ${#summary[@]} targets, no finding"
