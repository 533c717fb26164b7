"""A/B of vigild variants on CPU per short connection, interleaved in one run.

    /usr/bin/python3 bench/ab_conn.py '{"base": {}, "defer": {"VIGIL_DEFER_ACCEPT": "1"}}' 6
    /usr/bin/python3 bench/ab_conn.py '{"old": {"_BUILD": "/tmp/old/build"}, "new": {}}' 6

Each variant is an environment for vigild (`_BUILD`: another build directory;
VIGIL_WORKERS defaults to 1). Per repetition every variant is started afresh
behind the bench's nginx and measured with
`wrk -t1 -c16 -d4s -H 'Connection: close' URL/small`; reported: vigild
utime + stime per accepted connection (µs), median over the repetitions,
and each repetition's (µs, connections). The variants alternate, so slow
phases of a shared machine hit all of them.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import procs


def measure(ports, backends, wd, env):
    env = dict({"VIGIL_WORKERS": "1"}, **env)
    procs.BUILD = Path(env.pop("_BUILD", str(procs.BUILD)))
    v = procs.start_vigil(wd, ports, backends, env=env)
    try:
        t0, n0 = sum(procs.cpu_times(v.pid)), procs.vigil_status(v.sock)["total"]
        subprocess.run(["wrk", "-t1", "-c16", "-d4s", "-H", "Connection: close",
                        f"http://127.0.0.1:{ports['http']}/small"], capture_output=True,
                       check=True)
        t1, n1 = sum(procs.cpu_times(v.pid)), procs.vigil_status(v.sock)["total"]
        return round((t1 - t0) * 1e6 / (n1 - n0), 1), n1 - n0
    finally:
        v.stop()


def main():
    variants = json.loads(sys.argv[1])
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    default_build = procs.BUILD
    wd = tempfile.mkdtemp(prefix="vigil-ab-")
    ports = {k: procs.free_port() for k in ("http", "iperf", "idle")}
    backends = {k: procs.free_port() for k in ("http", "iperf", "idle")}
    servers = [procs.start_nginx(wd, backends["http"]), procs.start_iperf3(wd, backends["iperf"]),
               procs.start_idle_server(wd, backends["idle"])]
    res = {k: [] for k in variants}
    try:
        for _ in range(reps):
            for name, env in variants.items():
                procs.BUILD = default_build
                res[name].append(measure(ports, backends, wd, dict(env)))
    finally:
        for s in servers:
            s.stop()
    for name, runs in res.items():
        us = sorted(r[0] for r in runs)
        print(f"{name}: median {us[len(us) // 2]} µs CPU per connection; runs {runs}")


if __name__ == "__main__":
    main()
