#!/usr/bin/env bash
# syscalls.sh - vigild's system calls per short connection (and per MiB), by
# name, counted by strace -c -f on every thread: see bench/syscalls.py.
#
#   bench/syscalls.sh [--workers 1] [--conns 2000] [--secs 3] [--mode seq,wrk,bulk] [--json OUT]
#   VIGIL_BUILD=build-other bench/syscalls.sh      another build of vigild
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in strace wrk nginx; do
	command -v "$tool" >/dev/null || { echo "syscalls: $tool is not installed" >&2; exit 1; }
done
exec /usr/bin/python3 -B bench/syscalls.py "$@"
