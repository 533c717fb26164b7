#!/usr/bin/env bash
# run.sh - what `make bench` runs: the data-path benchmark (bench.py), the
# callgrind instruction counts (callgrind.sh, splice and buffered relay), then
# the "## Data path" section of bench/RESULTS.md (report.py); then the
# health-check probe benchmark (bench_checks.py, "## Health-check probes");
# then the PROXY protocol cost (proxy_bench.py, "## PROXY protocol";
# BENCH_PROXY=0 skips it); as root the transparent-mode cost
# (transparent_bench.py, "## Transparent mode"; BENCH_TRANSPARENT=0 skips it).
# BENCH_CHECKS=0 skips the probe benchmark. BENCH_FAILOVER=1 (root, network
# namespaces) also runs the failover benchmark against keepalived
# (bench/failover_bench.py, "## Failover"; about 10 minutes). Last, the proxy
# workers (workers_bench.py, "## Workers": workers 1/2 against HAProxy
# nbthread 1/2, pinned, SO_REUSEPORT vs shared socket, BENCH_IDLE_WORKERS=100000
# idle connections; BENCH_WORKERS=0 skips it).
#
#   BENCH_REPS=3 BENCH_SECS=5 BENCH_IDLE=9500 BENCH_CALLGRIND=1 bench/run.sh
#
# Took 15 minutes on the 2-core reference machine (2026-12-02). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
for tool in wrk iperf3 haproxy nginx valgrind taskset; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
[ -x build/vigild ] && [ -x build/vigilctl ] || { echo "bench: run make first" >&2; exit 1; }

out=$(mktemp -d /tmp/vigil-bench-out.XXXXXX)
trap 'rm -rf "$out"' EXIT
$PY -B bench/bench.py --reps "${BENCH_REPS:-3}" --secs "${BENCH_SECS:-5}" \
	--idle "${BENCH_IDLE:-9500}" --out "$out/results.json"
cg=()
if [ "${BENCH_CALLGRIND:-1}" != 0 ]; then
	bash bench/callgrind.sh "$out/cg-splice.json" >&2 && cg+=("$out/cg-splice.json")
	VIGIL_NO_SPLICE=1 bash bench/callgrind.sh "$out/cg-buffered.json" >&2 &&
		cg+=("$out/cg-buffered.json")
fi
# shortened runs (fewer repetitions, shorter measurements) are printed, not recorded
record=
[ "${BENCH_REPS:-3}" -ge 3 ] && [ "${BENCH_SECS:-5}" -ge 5 ] || record=--print-only
$PY -B bench/report.py $record "$out/results.json" "${cg[@]}"
[ -z "${BENCH_SAVE:-}" ] || cp "$out"/*.json "$BENCH_SAVE"/
if [ "${BENCH_CHECKS:-1}" != 0 ]; then
	checks_args=()
	[ -z "$record" ] || checks_args+=(--no-write)
	$PY -B bench/bench_checks.py "${checks_args[@]}"
fi
if [ "${BENCH_PROXY:-1}" != 0 ]; then
	proxy_args=(--reps "${BENCH_REPS:-3}" --secs "${BENCH_SECS:-5}")
	[ -z "$record" ] || proxy_args+=(--no-write)
	$PY -B bench/proxy_bench.py "${proxy_args[@]}"
fi
# transparent mode (source: client) vs HAProxy usesrc clientip: network
# namespaces, so only as root; BENCH_TRANSPARENT=0 skips it
if [ "${BENCH_TRANSPARENT:-1}" != 0 ] && [ "$(id -u)" = 0 ]; then
	tr_args=(--reps "${BENCH_REPS:-3}" --secs "${BENCH_SECS:-5}")
	[ -z "$record" ] || tr_args+=(--no-write)
	$PY -B bench/transparent_bench.py "${tr_args[@]}"
fi
if [ "${BENCH_FAILOVER:-0}" != 0 ]; then
	$PY -B bench/failover_bench.py outage --reps 5 --adv 100,20
	[ -n "$record" ] || $PY -B bench/failover_bench.py report
fi
if [ "${BENCH_WORKERS:-1}" != 0 ]; then
	w_args=(--reps "${BENCH_REPS:-3}" --secs "${BENCH_SECS:-5}" --idle "${BENCH_IDLE_WORKERS:-100000}")
	[ -z "$record" ] || w_args+=(--no-write)
	[ -z "${BENCH_SAVE:-}" ] || w_args+=(--out "$BENCH_SAVE/workers.json")
	$PY -B bench/workers_bench.py "${w_args[@]}"
fi
