#!/usr/bin/env bash
# callgrind.sh - vigild's user-space instructions per connection and per MiB,
# counted by valgrind --tool=callgrind (repeatable, unlike wall-clock numbers).
#
#   bench/callgrind.sh [OUT.json]      CONNS=2000 MIB=64 VIGIL_NO_SPLICE=1 WORKERS=1 to vary
#
# nginx (one worker, on 127.0.0.1) serves a small object and a MIB-MiB object;
# vigild runs under callgrind in front of it. Counters are zeroed once the
# backend is up, dumped after CONNS sequential short connections (phase
# "conns"), then after one MIB-MiB download (phase "bulk"). Prints Ir per
# connection / per MiB and the top functions of each phase. Everything on
# loopback; every process started here is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-2000}
MIB=${MIB:-64}
OUT=${1:-}
PY=/usr/bin/python3

[ -x build/vigild ] || { echo "build/vigild missing: run make" >&2; exit 1; }
work=$(mktemp -d /tmp/vigil-cg.XXXXXX)
chmod 755 "$work"
nginx_pid= vigil_pid=
cleanup() {
	for p in $vigil_pid $nginx_pid; do
		kill "$p" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
wait_for() {    # wait_for SECONDS CMD...: poll CMD every 0.1 s
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "timed out waiting for: $*" >&2; return 1
}

read -r BACKEND FRONT < <($PY -B -c 'import sys; sys.path.insert(0, "bench"); import procs
print(procs.free_port(), procs.free_port())')
mkdir -p "$work/nginx/www" "$work/nginx/tmp"
head -c 127 /dev/zero | tr '\0' x > "$work/nginx/www/small"
head -c "${MIB}M" /dev/urandom > "$work/nginx/www/bulk"
sed -e "s|\$DIR|$work/nginx|g" -e "s|\$WWW|$work/nginx/www|g" -e "s|\$PORT|$BACKEND|g" bench/conf/nginx.conf.in > "$work/nginx/nginx.conf"
nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
nginx_pid=$!

cat > "$work/vigil.yaml" <<YAML
global: {control_socket: $work/control.sock, log_level: warning, workers: ${WORKERS:-1}}
defaults:
  timeouts: {connect: 5s, client_idle: 60s, server_idle: 60s, drain: 1s}
  check: {type: tcp, interval: 1h, timeout: 1s, rise: 1, fall: 3}
services:
  - name: http
    vip: 127.0.0.1
    ports: [$FRONT]
    backends:
      - {name: nginx, address: 127.0.0.1, port: $BACKEND}
YAML
wait_for 10 $PY -c "import socket; socket.create_connection(('127.0.0.1', $BACKEND), 1)"
(cd "$work" && exec valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$work/cg.out" \
	"$OLDPWD/build/vigild" -c "$work/vigil.yaml" 2> "$work/valgrind.log") &
vigil_pid=$!
backend_up() { build/vigilctl -s "$work/control.sock" status --json | grep -q '"state": *"up"'; }
wait_for 60 backend_up

callgrind_control -z "$vigil_pid" >/dev/null 2>&1
$PY bench/cg_client.py conns "$FRONT" "$CONNS"
callgrind_control -d conns "$vigil_pid" >/dev/null 2>&1
$PY bench/cg_client.py bulk "$FRONT" /bulk $((MIB << 20))
callgrind_control -d bulk "$vigil_pid" >/dev/null 2>&1

conns_file=$(ls "$work"/cg.out.*1)
bulk_file=$(ls "$work"/cg.out.*2)
total() { $PY bench/cg_top.py "$1" 0 | awk '/^total/ { print $2 }'; }
ir_conns=$(total "$conns_file")
ir_bulk=$(total "$bulk_file")
per_conn=$((ir_conns / CONNS))
per_mib=$((ir_bulk / MIB))
relay=$([ "${VIGIL_NO_SPLICE:-0}" != 0 ] && echo buffered || echo splice)

echo "vigild under callgrind ($relay relay): $CONNS connections: $ir_conns Ir = $per_conn Ir/connection"
echo "vigild under callgrind ($relay relay): $MIB MiB bulk: $ir_bulk Ir = $per_mib Ir/MiB"
echo "--- top self cost, phase conns"
$PY bench/cg_top.py "$conns_file" 12 | tail -n +2
echo "--- top self cost, phase bulk"
$PY bench/cg_top.py "$bulk_file" 12 | tail -n +2
if [ -n "$OUT" ]; then
	top() { $PY bench/cg_top.py "$1" 10 | tail -n +2 |
		$PY -c 'import json, sys; print(json.dumps([l.rstrip() for l in sys.stdin]))'; }
	cat > "$OUT" <<JSON
{"relay": "$relay", "conns": $CONNS, "mib": $MIB, "ir_conns": $ir_conns, "ir_bulk": $ir_bulk,
 "ir_per_conn": $per_conn, "ir_per_mib": $per_mib,
 "top_conns": $(top "$conns_file"), "top_bulk": $(top "$bulk_file"),
 "cmd": "CONNS=$CONNS MIB=$MIB${VIGIL_NO_SPLICE:+ VIGIL_NO_SPLICE=$VIGIL_NO_SPLICE} bench/callgrind.sh"}
JSON
fi
