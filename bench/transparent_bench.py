#!/usr/bin/python3
"""Transparent mode benchmark (issue 8): what `source: client` costs per
connection, side by side with HAProxy's `usesrc clientip`, in one run.

Network namespaces (root needed), the two-leg set-up of the tests
(tests/integration/transp_bed.py): wrk in the client namespace, vigild and
HAProxy in the balancer namespace, one nginx on a backend address in the
backend namespace, whose only route to the clients goes through the
balancer. Short connections (`wrk -t1 -c32 -H 'Connection: close' /small`)
through:
  - vigil plain and vigil `source: client`,
  - HAProxy 2.6 (mode tcp, nbthread 1) plain and with `source 0.0.0.0 usesrc
    clientip` (it relies on the same policy rules, which vigild installs for
    the shared backend port; nothing else is configured for HAProxy).
Reports connections/s and proxy CPU seconds per 1000 connections, median
(min-max) over the repetitions, order rotated. Writes the section
"## Transparent mode" of bench/RESULTS.md (others are kept).

    /usr/bin/python3 bench/transparent_bench.py [--reps 3] [--secs 5] [--no-write]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import measure  # noqa: E402
import procs  # noqa: E402
from proxy_bench import med  # noqa: E402
from transp_bed import BE4, CLIENT4, VIP4, TranspBed  # noqa: E402

HEADING = "## Transparent mode"
SYSTEMS = ["vigil", "vigil-transparent", "haproxy", "haproxy-usesrc-clientip"]
PORTS = {"vigil": 8080, "vigil-transparent": 8025, "haproxy": 9080,
         "haproxy-usesrc-clientip": 9025}
BE_PORT = 80

NGINX = """daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    tcp_nodelay on;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    default_type application/octet-stream;
    server {{
        listen {be}:{port} backlog=4096;
        root {d}/www;
        location = /peer {{ return 200 "$remote_addr\\n"; }}
    }}
}}
"""

VIGIL = """global:
  control_socket: {d}/control.sock
  log_level: warning
  maxconn: 100000
  workers: 1
defaults:
  timeouts: {{connect: 5s, client_idle: 60s, server_idle: 60s, drain: 1s}}
  check: {{type: tcp, interval: 2s, timeout: 1s, rise: 1, fall: 3}}
services:
  - name: plain
    vip: {vip}
    ports: [{p_plain}]
    backlog: 4096
    backends: [{{name: nginx, address: {be}, port: {bp}}}]
  - name: transparent
    vip: {vip}
    ports: [{p_tr}]
    backlog: 4096
    source: client
    backends: [{{name: nginx, address: {be}, port: {bp}}}]
"""

HAPROXY = """global
    nbthread 1
    maxconn 9700
    log stderr format raw local0 err
defaults
    mode tcp
    log global
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend plain
    bind {vip}:{p_plain} backlog 4096
    default_backend plain
backend plain
    server nginx {be}:{bp} check inter 2s
frontend transparent
    bind {vip}:{p_tr} backlog 4096
    default_backend transparent
backend transparent
    source 0.0.0.0 usesrc clientip
    server nginx {be}:{bp} check inter 2s
"""


def ns_proc(bed, node, name, argv, logdir):
    return procs.Proc(name, ["ip", "netns", "exec", bed.ns[node], *map(str, argv)], logdir)


def start_all(bed, work):
    nd = work / "nginx"
    (nd / "tmp").mkdir(parents=True)
    (nd / "www").mkdir()
    (nd / "www" / "small").write_bytes(b"x" * 128)
    for p in (work, nd, nd / "www"):
        p.chmod(0o755)
    (nd / "www" / "small").chmod(0o644)
    (nd / "nginx.conf").write_text(NGINX.format(d=nd, be=BE4[0], port=BE_PORT))
    vd, hd = work / "vigil", work / "haproxy"
    vd.mkdir()
    hd.mkdir()
    fmt = dict(vip=VIP4, be=BE4[0], bp=BE_PORT)
    (vd / "vigil.yaml").write_text(VIGIL.format(d=vd, p_plain=PORTS["vigil"],
                                                p_tr=PORTS["vigil-transparent"], **fmt))
    (hd / "haproxy.cfg").write_text(HAPROXY.format(p_plain=PORTS["haproxy"],
                                                   p_tr=PORTS["haproxy-usesrc-clientip"], **fmt))
    started = []
    try:
        started.append(ns_proc(bed, "be", "nginx", ["nginx", "-p", nd, "-e",
                                                    nd / "nginx-error.log", "-c",
                                                    nd / "nginx.conf"], work))
        procs.wait_until(lambda: f"{BE4[0]}:{BE_PORT}" in bed.sh("be", "ss", "-Hltn").stdout,
                         10, "nginx")
        v = ns_proc(bed, "lb", "vigild", [procs.BUILD / "vigild", "-c", vd / "vigil.yaml"], work)
        started.append(v)
        procs.wait_until(lambda: procs.all_up(vd / "control.sock"), 15, "vigild backends up")
        h = ns_proc(bed, "lb", "haproxy", ["haproxy", "-db", "-f", hd / "haproxy.cfg"], work)
        started.append(h)
        procs.wait_until(lambda: not h.alive() or f":{PORTS['haproxy-usesrc-clientip']}"
                         in bed.sh("lb", "ss", "-Hltn").stdout, 10, "haproxy")
        if not h.alive():
            raise RuntimeError("haproxy exited: " + h.log_tail())
    except Exception:
        for p in reversed(started):
            p.stop()
        raise
    targets = {s: (PORTS[s], v.pid if s.startswith("vigil") else h.pid) for s in SYSTEMS}
    for s in SYSTEMS:                  # who does nginx see through each?
        want = CLIENT4 if s.endswith(("transparent", "clientip")) else "198.51.100.1"
        got = bed.sh("client", "curl", "-s", "-m", "5",
                     f"http://{VIP4}:{PORTS[s]}/peer", check=False).stdout.strip()
        if got != want:
            raise RuntimeError(f"{s}: nginx sees {got!r}, expected {want}")
    return started, targets


def conn_close(bed, port, pid, secs, conns=32):
    """measure.conn_close, with wrk in the client namespace against the VIP."""
    smp = measure.Sampler(pid)
    argv = ["ip", "netns", "exec", bed.ns["client"], "wrk", "-t1", f"-c{conns}",
            f"-d{secs}s", "--timeout", "5s", "-s", str(measure.WRK_LUA),
            "-H", "Connection: close", f"http://{VIP4}:{port}/small"]
    r = procs.subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30)
    w = None
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            w = json.loads(line[len("WRKJSON "):])
    if w is None:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
    secs_run = w["duration_us"] / 1e6
    m = {"conn_per_s": w["requests"] / secs_run, "errors": sum(w["errors"].values()),
         "cmd": " ".join(a if " " not in a else f"'{a}'" for a in argv[4:])}
    cpu = smp.stop(m)
    m["cpu_per_1k_conn"] = cpu / (w["requests"] / 1000.0)
    return m


def table(res):
    lines = ["| system | connections/s | proxy CPU s per 1000 connections | errors |",
             "| --- | --- | --- | --- |"]
    for s in SYSTEMS:
        rs = res[s]
        lines.append(f"| {s} | {med([r['conn_per_s'] for r in rs])} "
                     f"| {med([r['cpu_per_1k_conn'] for r in rs])} "
                     f"| {sum(r['errors'] for r in rs)} |")
    cpu = {s: statistics.median(r["cpu_per_1k_conn"] for r in res[s]) for s in SYSTEMS}
    lines += ["", f"CPU per connection, transparent / plain: vigil "
              f"{cpu['vigil-transparent'] / cpu['vigil']:.2f}, HAProxy "
              f"{cpu['haproxy-usesrc-clientip'] / cpu['haproxy']:.2f}; vigil transparent / "
              f"HAProxy usesrc clientip: "
              f"{cpu['vigil-transparent'] / cpu['haproxy-usesrc-clientip']:.2f}."]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("transparent_bench: needs root (network namespaces)")
    res = {s: [] for s in SYSTEMS}
    bed = TranspBed()
    try:
        with tempfile.TemporaryDirectory(prefix="vbench-tr") as d:
            started, targets = start_all(bed, Path(d))
            try:
                for rep in range(args.reps):
                    order = SYSTEMS[rep % len(SYSTEMS):] + SYSTEMS[:rep % len(SYSTEMS)]
                    for s in order:
                        port, pid = targets[s]
                        m = conn_close(bed, port, pid, args.secs)
                        res[s].append(m)
                        print(f"rep {rep} {s}: {m['conn_per_s']:.0f} conn/s, "
                              f"{m['cpu_per_1k_conn']:.3f} s CPU / 1000, "
                              f"{m['errors']} errors", file=sys.stderr)
            finally:
                for p in reversed(started):
                    p.stop()
    finally:
        bed.close()
    load = os.getloadavg()
    lines = table(res) + [
        "",
        time.strftime("Run %Y-%m-%d %H:%M UTC", time.gmtime()) +
        f", {os.cpu_count()} cores, load average {load[0]:.1f} at the end; {args.reps} "
        f"repetitions of {args.secs} s each, order rotated. "
        f"`{res['vigil'][0]['cmd'].replace(str(procs.ROOT) + '/', '')}` "
        "(port varies) from the client namespace to the VIP; vigild and HAProxy in the "
        "balancer namespace, nginx (one worker, 128-byte object) in the backend "
        "namespace with its route to the clients via the balancer (two-leg, "
        "tests/integration/transp_bed.py). vigil: one vigild (`workers: 1`), two services to the same "
        "nginx, the second with `source: client` (its policy rules serve HAProxy too); "
        "HAProxy 2.6: `nbthread 1`, mode tcp, the second backend with `source 0.0.0.0 "
        "usesrc clientip`. Before measuring, nginx's `$remote_addr` is checked through each "
        "(the client's address for the transparent two, the balancer's for the others). "
        "CPU is the proxy's utime + stime; everything shares the 2-core machine.",
        "",
        "Run: `make && sudo /usr/bin/python3 bench/transparent_bench.py` (also part of "
        "`make bench` as root; `BENCH_TRANSPARENT=0` skips it).",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section_as(lines)


def write_section_as(lines):
    """Replace (or append) our section of bench/RESULTS.md, keeping the others."""
    path = procs.ROOT / "bench" / "RESULTS.md"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    body = "\n".join([HEADING, ""] + lines) + "\n"
    if HEADING in old:
        head, _, rest = old.partition(HEADING)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        new = head + body + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + body
    path.write_text(new)


if __name__ == "__main__":
    main()
