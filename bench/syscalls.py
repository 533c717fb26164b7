#!/usr/bin/python3
"""syscalls.py - vigild's system calls per short connection, by name.

    bench/syscalls.sh [--workers 1] [--conns 2000] [--secs 3] [--mode seq,wrk,bulk]
                      [--bulk-mib 64] [--tool strace|perf] [--detail 50] [--json OUT]
    VIGIL_BUILD=build-x bench/syscalls.sh ...      another build
    VIGIL_NO_SPLICE=1 bench/syscalls.sh ...        vigild's environment is passed on
    bench/syscalls.sh --haproxy [--splice] ...     HAProxy 2.6 instead (nbthread = --workers)

nginx (one worker) serves /small (128 bytes) and /1m; vigild (bench/conf/
vigil.yaml.in, `workers: N`, health checks once an hour so that none falls in
the window) sits in front of it. Once the backend is up, `strace -c -f -p PID`
attaches to every thread of vigild, the workload runs, strace is detached
(SIGINT) and its summary divided by the connections vigild proxied meanwhile
(the backend's `total` in `vigilctl status --json`, read outside the traced
window). Workloads:

  seq   CONNS sequential connections (GET /small, Connection: close), one at
        a time: every event costs its own epoll_wait
  wrk   `wrk -t1 -c32 -H 'Connection: close'` for SECS seconds: 32 at once,
        as in the benchmark (epoll_wait and accept4 are shared between clients)
  ka    `wrk -t1 -c32` (keep-alive) for SECS seconds: system calls per request
  bulk  one GET of /1m repeated to BULK_MIB MiB over one keep-alive connection:
        system calls per MiB relayed

strace slows vigild down by an order of magnitude, so only the counts mean
anything, not the times; and with wrk, a slowed vigild finds more events per
epoll_wait than it would. --tool perf counts with `perf stat -e
syscalls:sys_enter_NAME,...` instead (kernel tracepoints, no ptrace, a few per
cent slower): realistic batching, but no error counts, and only the names in
PERF_SYSCALLS (the rest is "other", from raw_syscalls:sys_enter).

--detail N traces N more sequential connections with `strace -f -e
trace=setsockopt,getsockopt,fcntl,epoll_ctl` and counts those calls by their
arguments (option names, epoll_ctl operations).

Loopback only; every process is stopped by PID.
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True

import bench
import measure
import procs


def total_conns(sock):
    st = procs.vigil_status(sock)
    return sum(b["total"] for s in st["services"] if s["name"] == "http" for b in s["backends"])


def strace_attach(pid, out):
    """strace -c -f on every thread of pid; returns once it has attached."""
    p = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    threads = len(os.listdir(f"/proc/{pid}/task"))
    seen = 0
    deadline = time.monotonic() + 10
    while seen < threads and time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        if "attached" in line:
            seen += line.count("attached") if "thread" not in line else threads
    time.sleep(0.2)
    return p


def strace_detach(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


PERF_SYSCALLS = ["accept4", "accept", "connect", "socket", "close", "shutdown", "splice",
                 "read", "write", "recvfrom", "sendto", "recvmsg", "sendmsg", "readv", "writev",
                 "epoll_wait", "epoll_pwait", "epoll_ctl", "setsockopt", "getsockopt", "fcntl",
                 "pipe2", "ioctl", "timerfd_settime", "futex"]


def perf_attach(pid, out):
    """perf stat on the syscall tracepoints of every thread of pid."""
    events = ",".join(["raw_syscalls:sys_enter"] +
                      [f"syscalls:sys_enter_{n}" for n in PERF_SYSCALLS])
    p = subprocess.Popen(["perf", "stat", "-x", ",", "-e", events, "-p", str(pid), "-o",
                          str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return p


def parse_perf(path):
    rows, total = {}, 0
    for line in Path(path).read_text().splitlines():
        f = line.split(",")
        if len(f) < 3 or not f[0].strip().isdigit():
            continue
        n, ev = int(f[0]), f[2]
        if ev == "raw_syscalls:sys_enter":
            total = n
        elif n:
            rows[ev.rsplit("sys_enter_", 1)[1]] = (n, 0)
    other = total - sum(c for c, _ in rows.values())
    if other > 0:
        rows["other"] = (other, 0)
    return rows


def detail(pid, port, conns, workdir):
    """{call(args): count} over conns sequential connections."""
    out = Path(workdir) / "strace-detail.txt"
    p = subprocess.Popen(["strace", "-f", "-qq", "-e",
                          "trace=setsockopt,getsockopt,fcntl,epoll_ctl", "-p", str(pid),
                          "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        subprocess.run([procs.PYTHON, procs.HERE / "cg_client.py", "conns", str(port),
                        str(conns)], check=True, timeout=300)
        time.sleep(0.3)
    finally:
        strace_detach(p)
    counts = collections.Counter()
    for line in out.read_text().splitlines():
        m = re.search(r"(setsockopt|getsockopt|fcntl|epoll_ctl)\(\d+, ([A-Z_0-9]+), "
                      r"([A-Z_0-9]+|\d+)", line)
        if m:
            call, a, b = m.groups()
            key = f"{call}({a})" if call == "epoll_ctl" else f"{call}({a}, {b})"
            if call == "epoll_ctl":
                ev = re.search(r"events=([A-Z|]+)", line)
                key = f"epoll_ctl({a}, {ev.group(1) if ev else '-'})"
            counts[key] += 1
    return counts


def parse(path):
    """{syscall: (calls, errors)} from strace -c's table."""
    rows = {}
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) < 5 or not f[0][0].isdigit() or f[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors,] syscall
        calls = int(f[3])
        errors = int(f[4]) if len(f) == 6 else 0
        rows[f[-1]] = (calls, errors)
    return rows


def keepalive_bulk(port, mib):
    """GET /1m over one connection until mib MiB of bodies have come back."""
    req = b"GET /1m HTTP/1.1\r\nHost: bench\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        for _ in range(mib):
            s.sendall(req)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, _, body = buf.partition(b"\r\n\r\n")
            length = int([h.split(b":")[1] for h in head.split(b"\r\n")
                          if h.lower().startswith(b"content-length")][0])
            got = len(body)
            while got < length:
                got += len(s.recv(1 << 20))


def run(mode, args, vigil, port, workdir):
    """Count vigil's (vigild's or HAProxy's) calls over one workload; the
    connections come from vigild's counters, for HAProxy from the client."""
    out = Path(workdir) / f"{args.tool}-{mode}.txt"
    sock = getattr(vigil, "sock", None)
    before = total_conns(sock) if sock else 0
    done = requests = 0
    st = (perf_attach if args.tool == "perf" else strace_attach)(vigil.pid, out)
    t0 = time.monotonic()
    try:
        if mode == "seq":
            subprocess.run([procs.PYTHON, procs.HERE / "cg_client.py", "conns", str(port),
                            str(args.conns)], check=True, timeout=600)
            done = args.conns
        elif mode == "wrk":
            w = measure.wrk(f"http://127.0.0.1:{port}/small", 32, args.secs,
                            ["-H", "Connection: close"])
            done = w["requests"]
        elif mode == "ka":
            w = measure.wrk(f"http://127.0.0.1:{port}/small", 32, args.secs)
            requests = w["requests"]
        else:
            keepalive_bulk(port, args.bulk_mib)
            done = 1
        time.sleep(0.3)             # the last closes reach vigild
    finally:
        strace_detach(st)
    secs = time.monotonic() - t0
    conns = total_conns(sock) - before if sock else done
    rows = parse_perf(out) if args.tool == "perf" else parse(out)
    unit = {"bulk": args.bulk_mib, "ka": requests}.get(mode, conns)
    return {"mode": mode, "tool": args.tool, "conns": conns,
            "unit": {"bulk": "MiB", "ka": "request"}.get(mode, "connection"),
            "units": unit, "secs": secs, "syscalls": rows,
            "per_unit": sum(c for c, _ in rows.values()) / max(unit, 1)}


def show(r, workers, name="vigild workers"):
    unit = r["unit"]
    print(f"\n== {name}: {workers}, workload {r['mode']}: {r['units']:,} "
          f"{unit}{'s' if unit != 'MiB' else ''} ({r['conns']:,} connections) "
          f"in {r['secs']:.1f} s, counted by {r['tool']}")
    print(f"{'syscall':<20} {'calls':>9} {'per ' + unit:>15} {'errors per ' + unit:>22}")
    for name, (calls, errors) in sorted(r["syscalls"].items(), key=lambda kv: -kv[1][0]):
        err = "–" if r["tool"] == "perf" else f"{errors / max(r['units'], 1):.2f}"
        print(f"{name:<20} {calls:>9,} {calls / max(r['units'], 1):>15.2f} {err:>22}")
    print(f"{'total':<20} {sum(c for c, _ in r['syscalls'].values()):>9,} "
          f"{r['per_unit']:>15.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--conns", type=int, default=2000, help="sequential connections (seq)")
    ap.add_argument("--secs", type=int, default=3, help="seconds of wrk (wrk)")
    ap.add_argument("--bulk-mib", type=int, default=64, help="MiB relayed (bulk)")
    ap.add_argument("--mode", default="seq,wrk,bulk")
    ap.add_argument("--tool", choices=("strace", "perf"), default="strace")
    ap.add_argument("--haproxy", action="store_true", help="count HAProxy's calls instead")
    ap.add_argument("--splice", action="store_true", help="HAProxy with option splice-auto")
    ap.add_argument("--detail", type=int, default=0,
                    help="then N connections traced for the arguments of setsockopt & co")
    ap.add_argument("--json", help="also write the counts here")
    args = ap.parse_args()
    if not shutil.which(args.tool) or not shutil.which("strace"):
        print(f"syscalls: {args.tool} or strace is not installed", file=sys.stderr)
        return 1
    workdir = tempfile.mkdtemp(prefix="vigil-sys-")
    os.chmod(workdir, 0o755)
    bench.write_objects(workdir)
    be = {"http": procs.free_port(), "iperf": procs.free_port(), "idle": procs.free_port()}
    ports = {k: procs.free_port() for k in be}
    servers, vigil, results = [], None, []
    try:
        servers = [procs.start_nginx(workdir, be["http"]),
                   procs.start_idle_server(workdir, be["idle"])]
        be["iperf"] = be["idle"]    # no iperf3 here: the unused service points at the idle server
        if args.haproxy:
            vigil = procs.start_haproxy(workdir, "haproxy", ports, be, splice=args.splice,
                                        maxconn=bench.HAPROXY_MAXCONN, nbthread=args.workers)
            time.sleep(1.0)         # its first health checks
        else:
            vigil = procs.start_vigil(workdir, ports, be, check_interval="1h",
                                      workers=args.workers,
                                      env={k: v for k, v in os.environ.items()
                                           if k.startswith("VIGIL_")})
        for mode in args.mode.split(","):
            r = run(mode, args, vigil, ports["http"], workdir)
            show(r, args.workers, "HAProxy nbthread" if args.haproxy else "vigild workers")
            results.append(r)
        if args.detail:
            d = detail(vigil.pid, ports["http"], args.detail, workdir)
            print(f"\n== by arguments, {args.detail} sequential connections (strace):")
            for k, n in d.most_common():
                print(f"{k:<50} {n / args.detail:>6.2f} per connection")
            results.append({"mode": "detail", "conns": args.detail,
                            "per_conn": {k: n / args.detail for k, n in d.items()}})
    finally:
        if vigil:
            vigil.stop()
        for p in reversed(servers):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "proxy": "haproxy" + (" splice-auto" if args.splice else "") if args.haproxy
            else "vigild", "workers": args.workers, "build": str(procs.BUILD),
            "git": bench.machine()["versions"]["vigild"], "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
