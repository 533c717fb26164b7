#!/usr/bin/python3
"""profile.py - where vigild spends its CPU: perf record -g on the running
vigild while wrk drives one workload, then perf report (self cost, kernel and
user). Same backends and configuration as bench.py.

    profile.py [--secs 5] [--workload conn_close|keepalive|bulk_wrk ...] [--out DIR]

Prints the top symbols of each workload and the syscalls vigild made per
request (perf stat on raw_syscalls:sys_enter). Loopback only; every process
is stopped by PID.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.dont_write_bytecode = True

import bench
import measure
import procs

WORKLOADS = {
    "conn_close": lambda port, secs: measure.wrk(f"http://127.0.0.1:{port}/small", 32, secs,
                                                 ["-H", "Connection: close"]),
    "keepalive": lambda port, secs: measure.wrk(f"http://127.0.0.1:{port}/small", 32, secs),
    "bulk_wrk": lambda port, secs: measure.wrk(f"http://127.0.0.1:{port}/1m", 4, secs),
}


def perf(argv, secs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60)


def profile(workload, pid, port, secs, outdir):
    data = Path(outdir) / f"perf-{workload}.data"
    result = {}
    t = threading.Thread(target=lambda: result.update(WORKLOADS[workload](port, secs + 1)))
    t.start()
    rec = perf(["perf", "record", "-g", "-o", data, "-p", str(pid), "--", "sleep", str(secs)], secs)
    t.join()
    rep = perf(["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit", "1.5",
                "-g", "none", "--sort", "dso,symbol"], secs)
    print(f"=== {workload}: {result.get('requests', 0) / max(result.get('secs', 1), 1e-9):,.0f} "
          f"requests/s while profiling (perf record rc {rec.returncode})")
    print("\n".join(l for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#")))
    t = threading.Thread(target=lambda: result.update(WORKLOADS[workload](port, secs + 1)))
    t.start()
    st = perf(["perf", "stat", "-e", "raw_syscalls:sys_enter", "-p", str(pid), "-x", ",",
               "--", "sleep", str(secs)], secs)
    t.join()
    try:
        n = int(st.stderr.strip().splitlines()[-1].split(",")[0])
        rate = result["requests"] / result["secs"]
        print(f"--- syscalls by vigild: {n / secs:,.0f}/s = {n / secs / rate:.1f} per request")
    except (ValueError, IndexError, KeyError, ZeroDivisionError):
        print("--- perf stat failed: " + st.stderr[-300:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    ap.add_argument("--out", help="keep perf data here")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="vigil-prof-")
    os.chmod(workdir, 0o755)
    outdir = args.out or workdir
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    bench.write_objects(workdir)
    be = {"http": procs.free_port(), "iperf": procs.free_port(), "idle": procs.free_port()}
    ports = {k: procs.free_port() for k in be}
    servers = [procs.start_nginx(workdir, be["http"]), procs.start_iperf3(workdir, be["iperf"]),
               procs.start_idle_server(workdir, be["idle"])]
    vigil = None
    try:
        vigil = procs.start_vigil(workdir, ports, be)
        for w in args.workload or ["conn_close", "keepalive", "bulk_wrk"]:
            profile(w, vigil.pid, ports["http"], args.secs, outdir)
    finally:
        if vigil:
            vigil.stop()
        for p in reversed(servers):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
