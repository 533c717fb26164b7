#!/usr/bin/python3
"""bench.py - the data-path benchmark: vigil vs HAProxy 2.6 (mode tcp, nbthread 1,
with and without option splice-auto) vs a direct connection, in one run, with
nginx, iperf3 and an idle-connection server as backends on 127.0.0.1.

    bench.py [--reps 3] [--secs 5] [--idle 9500] --out results.json

Every repetition starts each proxy afresh and stops it by PID at its end; in
between, each measurement runs on all four systems back to back, in an order
rotated per repetition. See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True   # no __pycache__ in the tree

import measure
import procs

SYSTEMS = ["direct", "vigil", "haproxy", "haproxy-splice"]
SMALL_SIZE = 128
BULK_SIZE = 1 << 20
# The container's hard RLIMIT_NOFILE is 20000 and a proxy holds two fds per
# connection, so HAProxy's maxconn and the idle count stay below 10,000.
HAPROXY_MAXCONN = 9700


def write_objects(workdir):
    www = Path(workdir) / "nginx" / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "small").write_bytes(b"x" * (SMALL_SIZE - 1) + b"\n")
    big = os.urandom(BULK_SIZE)
    (www / "1m").write_bytes(big)
    return big


def version(argv, pick=lambda out: out.splitlines()[0]):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return pick((r.stdout + r.stderr).strip())
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = version(["git", "-C", str(procs.ROOT), "rev-parse", "--short", "HEAD"])
    dirty = version(["git", "-C", str(procs.ROOT), "status", "--porcelain", "lb"],
                    lambda out: "+lb changes" if out else "")
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
        "versions": {
            "vigild": version([str(procs.BUILD / "vigild"), "--version"]) +
                      f" (git {git}{' ' + dirty if dirty else ''})",
            "haproxy": version(["haproxy", "-v"], lambda o: o.splitlines()[0].split(" - ")[0]),
            "nginx": version(["nginx", "-v"]),
            "wrk": version(["wrk", "--version"], lambda o: o.split(" Copyright")[0]),
            "iperf3": version(["iperf3", "--version"]),
        },
    }


class Bench:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.backends = {"http": procs.free_port(), "iperf": procs.free_port(),
                         "idle": procs.free_port()}
        self.ports = {s: {k: procs.free_port() for k in self.backends} for s in SYSTEMS[1:]}
        self.ports["direct"] = dict(self.backends)
        self.results = {s: {} for s in SYSTEMS}
        self.commands = {}
        self.notes = []
        self.servers = []
        self.loadavg = []           # 1-minute load average as each repetition starts

    def start_backends(self):
        self.big = write_objects(self.workdir)
        self.servers.append(procs.start_nginx(self.workdir, self.backends["http"]))
        self.servers.append(procs.start_iperf3(self.workdir, self.backends["iperf"]))
        self.servers.append(procs.start_idle_server(self.workdir, self.backends["idle"]))

    def stop_backends(self):
        for p in reversed(self.servers):
            p.stop()

    def start_proxy(self, system):
        ports = self.ports[system]
        if system == "direct":
            return None
        if system == "vigil":
            return procs.start_vigil(self.workdir, ports, self.backends)
        return procs.start_haproxy(self.workdir, system, ports, self.backends,
                                   splice=system == "haproxy-splice", maxconn=HAPROXY_MAXCONN)

    def record(self, system, test, m):
        cmd = m.pop("cmd")
        self.commands.setdefault(test, {})[system] = cmd
        if m.get("errors"):
            self.notes.append(f"{system} {test}: {m['errors']} wrk socket errors")
        for k, v in m.items():
            self.results[system].setdefault(f"{test}.{k}", []).append(v)

    def attempt(self, rep, system, test, measurement):
        """Record one measurement; a failure becomes a note, not a number."""
        try:
            self.record(system, test, measurement())
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
            self.notes.append(f"rep {rep + 1} {system} {test} failed: {e}")
            print(self.notes[-1], file=sys.stderr, flush=True)

    def run_rep(self, rep):
        """Fresh proxies; each test runs on every system back to back (order
        rotated per repetition), so the numbers compared are seconds apart."""
        order = SYSTEMS[rep % len(SYSTEMS):] + SYSTEMS[:rep % len(SYSTEMS)]
        proxies = {}
        secs = self.args.secs
        try:
            for system in SYSTEMS[1:]:
                proxies[system] = self.start_proxy(system)
            for system in SYSTEMS:
                if procs.http_get(self.ports[system]["http"], "/1m") != self.big:
                    raise RuntimeError(f"{system}: /1m came back corrupted")
            for test, fn, port in (("conn_close", measure.conn_close, "http"),
                                   ("keepalive", measure.keepalive, "http"),
                                   ("bulk_wrk", measure.bulk_wrk, "http"),
                                   ("bulk_iperf", measure.bulk_iperf, "iperf")):
                for system in order:
                    p = proxies.get(system)
                    self.attempt(rep, system, test, lambda: fn(self.ports[system][port],
                                                               p and p.pid, secs))
            if self.args.idle:
                for system in order:
                    if system in proxies:
                        self.attempt(rep, system, "idle", lambda: measure.idle_rss(
                            self.ports[system]["idle"], self.backends["idle"],
                            proxies[system].pid, self.args.idle, self.workdir))
        finally:
            for system, proxy in proxies.items():
                rc = proxy.stop()
                if rc not in (0, -15, 143):
                    self.notes.append(f"{system} exited with {rc}: {proxy.log_tail(300)!r}")

    def run(self):
        self.start_backends()
        try:
            for rep in range(self.args.reps):
                t0 = time.monotonic()
                with open("/proc/loadavg") as f:
                    self.loadavg.append(float(f.read().split()[0]))
                self.run_rep(rep)
                print(f"rep {rep + 1}/{self.args.reps}: {time.monotonic() - t0:.1f}s",
                      file=sys.stderr, flush=True)
        finally:
            self.stop_backends()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5, help="seconds per measurement")
    ap.add_argument("--idle", type=int, default=9500, help="idle connections (0: skip)")
    ap.add_argument("--out", required=True, help="results JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="vigil-bench-")
    os.chmod(workdir, 0o755)       # nginx workers run as nobody
    t0 = time.monotonic()
    bench = Bench(args, workdir)
    out = {"machine": machine(), "reps": args.reps, "secs": args.secs, "idle": args.idle,
           "small_size": SMALL_SIZE, "bulk_size": BULK_SIZE, "haproxy_maxconn": HAPROXY_MAXCONN}
    try:
        bench.run()
    except Exception:
        traceback.print_exc()
        print(f"bench failed; logs in {workdir}", file=sys.stderr)
        return 1
    out.update(results=bench.results, commands=bench.commands, notes=bench.notes,
               loadavg=bench.loadavg,
               wall_s=time.monotonic() - t0)
    out["configs"] = {
        "vigil": (Path(workdir) / "vigil" / "vigil.yaml").read_text(),
        "haproxy-splice": (Path(workdir) / "haproxy-splice" / "haproxy.cfg").read_text(),
        "nginx": (Path(workdir) / "nginx" / "nginx.conf").read_text(),
    }
    Path(args.out).write_text(json.dumps(out, indent=1))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"bench done in {out['wall_s']:.0f}s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
