#!/usr/bin/env bash
# Run vigil on examples/demo.yaml with demo backends, all on loopback.
# Ctrl-C stops vigild (graceful drain) and the backends.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/vigild ] || make
mkdir -p /tmp/vigil-demo
python3 examples/demo_backends.py &
backends=$!
trap 'kill "$backends" 2>/dev/null; wait "$backends" 2>/dev/null || true' EXIT
sleep 0.5
cat <<'MSG'

vigil demo: vigild runs in the foreground below (Ctrl-C stops it). In another terminal try:

  curl -s http://127.0.0.1:8080/          # balanced over web1..web3, weights 3:2:1
  for i in $(seq 6); do curl -s http://127.0.0.1:8080/; done
  printf 'EHLO me\r\nQUIT\r\n' | nc 127.0.0.1 2525   # SMTP, leastconn over mx1, mx2
  build/vigilctl -s /tmp/vigil-demo/control.sock status
  build/vigilctl -s /tmp/vigil-demo/control.sock status --json
  build/vigilctl -s /tmp/vigil-demo/control.sock drain web web1
  build/vigilctl -s /tmp/vigil-demo/control.sock weight web web3 5
  for b in web1 web2 web3; do build/vigilctl -s /tmp/vigil-demo/control.sock disable web $b; done
  curl -s http://127.0.0.1:8080/          # now the backup "sorry" page answers
  curl -s http://127.0.0.1:8404/metrics   # Prometheus
  open http://127.0.0.1:8404/ in a browser for the dashboard

MSG
build/vigild -c examples/demo.yaml
