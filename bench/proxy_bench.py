#!/usr/bin/python3
"""PROXY protocol benchmark (issue 8): what the header costs per connection.

Side by side, in one run, short connections (`wrk -t1 -c32 -H 'Connection:
close' /small`, one request per connection) through:
  - vigil, plain, and vigil with `send_proxy: v2`,
  - HAProxy 2.6 (mode tcp, nbthread 1), plain, and with `send-proxy-v2`,
in front of one nginx with two listeners on the same files: a plain one and
one with `proxy_protocol` (so nginx parses the header it is sent). Reports
connections/s and proxy CPU seconds per 1000 connections (utime + stime from
/proc), median (min-max) over the repetitions, the order rotated per
repetition. Writes the section "## PROXY protocol" of bench/RESULTS.md
(other sections are kept).

    /usr/bin/python3 bench/proxy_bench.py [--reps 3] [--secs 5] [--no-write]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402
import procs  # noqa: E402

HEADING = "## PROXY protocol"
SYSTEMS = ["vigil", "vigil-proxy-v2", "haproxy", "haproxy-proxy-v2"]

NGINX = """daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    tcp_nodelay on;
    keepalive_timeout 60s;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{plain} backlog=4096 reuseport;
        listen 127.0.0.1:{pp} backlog=4096 reuseport proxy_protocol;
        root {d}/www;
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
    vip: 127.0.0.1
    ports: [{fp}]
    backlog: 4096
    backends: [{{name: nginx, address: 127.0.0.1, port: {plain}}}]
  - name: proxy
    vip: 127.0.0.1
    ports: [{fpp}]
    backlog: 4096
    send_proxy: v2
    backends: [{{name: nginx, address: 127.0.0.1, port: {pp}}}]
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
    bind 127.0.0.1:{fp} backlog 4096
    default_backend plain
backend plain
    server nginx 127.0.0.1:{plain} check inter 2s
frontend proxy
    bind 127.0.0.1:{fpp} backlog 4096
    default_backend proxy
backend proxy
    server nginx 127.0.0.1:{pp} send-proxy-v2 check inter 2s check-send-proxy
"""


def start_all(work):
    ports = {k: procs.free_port() for k in ("plain", "pp", "v_fp", "v_fpp", "h_fp", "h_fpp")}
    nd = work / "nginx"
    (nd / "tmp").mkdir(parents=True)
    (nd / "www").mkdir()
    (nd / "www" / "small").write_bytes(b"x" * 128)
    for p in (work, nd, nd / "www"):          # nginx's worker user reads the object
        p.chmod(0o755)
    (nd / "www" / "small").chmod(0o644)
    (nd / "nginx.conf").write_text(NGINX.format(d=nd, plain=ports["plain"], pp=ports["pp"]))
    started = []
    try:
        started.append(procs.Proc("nginx", ["nginx", "-p", nd, "-e", nd / "nginx-error.log",
                                            "-c", nd / "nginx.conf"], work))
        procs.wait_until(lambda: procs.port_open(ports["pp"]), 10, "nginx")
        vd = work / "vigil"
        vd.mkdir()
        (vd / "vigil.yaml").write_text(VIGIL.format(d=vd, fp=ports["v_fp"], fpp=ports["v_fpp"],
                                                    plain=ports["plain"], pp=ports["pp"]))
        v = procs.Proc("vigild", [procs.BUILD / "vigild", "-c", vd / "vigil.yaml"], work)
        started.append(v)
        procs.wait_until(lambda: procs.all_up(vd / "control.sock"), 15, "vigild backends up")
        hd = work / "haproxy"
        hd.mkdir()
        (hd / "haproxy.cfg").write_text(HAPROXY.format(fp=ports["h_fp"], fpp=ports["h_fpp"],
                                                       plain=ports["plain"], pp=ports["pp"]))
        h = procs.Proc("haproxy", ["haproxy", "-db", "-f", hd / "haproxy.cfg"], work)
        started.append(h)
        procs.wait_until(lambda: not h.alive() or procs.port_open(ports["h_fpp"]), 10, "haproxy")
        if not h.alive():
            raise RuntimeError("haproxy exited: " + h.log_tail())
    except Exception:
        for p in reversed(started):
            p.stop()
        raise
    targets = {"vigil": (ports["v_fp"], v.pid), "vigil-proxy-v2": (ports["v_fpp"], v.pid),
               "haproxy": (ports["h_fp"], h.pid), "haproxy-proxy-v2": (ports["h_fpp"], h.pid)}
    for name, (port, _) in targets.items():      # the page comes back through each
        body = procs.http_get(port, "/small")
        if len(body) != 128:
            raise RuntimeError(f"{name}: /small gave {len(body)} bytes")
    return started, targets


def med(xs):
    """median (min–max), 3 decimals below 10, else whole numbers."""
    p = 3 if max(xs) < 10 else 0
    return f"{statistics.median(xs):.{p}f} ({min(xs):.{p}f}–{max(xs):.{p}f})"


def table(res):
    lines = ["| system | connections/s | proxy CPU s per 1000 connections | errors |",
             "| --- | --- | --- | --- |"]
    for s in SYSTEMS:
        rs = res[s]
        lines.append(f"| {s} | {med([r['conn_per_s'] for r in rs])} "
                     f"| {med([r['cpu_per_1k_conn'] for r in rs])} "
                     f"| {sum(r['errors'] for r in rs)} |")
    cpu = {s: statistics.median(r["cpu_per_1k_conn"] for r in res[s]) for s in SYSTEMS}
    lines += ["", f"CPU per connection, PROXY v2 / plain: vigil "
              f"{cpu['vigil-proxy-v2'] / cpu['vigil']:.2f}, HAProxy "
              f"{cpu['haproxy-proxy-v2'] / cpu['haproxy']:.2f}; vigil v2 / HAProxy v2: "
              f"{cpu['vigil-proxy-v2'] / cpu['haproxy-proxy-v2']:.2f}."]
    return lines


def write_section(lines):
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    res = {s: [] for s in SYSTEMS}
    with tempfile.TemporaryDirectory(prefix="vbench-pp") as d:
        started, targets = start_all(Path(d))
        try:
            for rep in range(args.reps):
                order = SYSTEMS[rep % len(SYSTEMS):] + SYSTEMS[:rep % len(SYSTEMS)]
                for s in order:
                    port, pid = targets[s]
                    m = measure.conn_close(port, pid, args.secs)
                    res[s].append(m)
                    print(f"rep {rep} {s}: {m['conn_per_s']:.0f} conn/s, "
                          f"{m['cpu_per_1k_conn']:.3f} s CPU / 1000", file=sys.stderr)
        finally:
            for p in reversed(started):
                p.stop()
    load = os.getloadavg()
    cmd = res["vigil"][0]["cmd"].replace(str(procs.ROOT) + "/", "")
    lines = table(res) + [
        "",
        time.strftime("Run %Y-%m-%d %H:%M UTC", time.gmtime()) +
        f", {os.cpu_count()} cores, load average {load[0]:.1f} at the end; {args.reps} "
        f"repetitions of {args.secs} s each, order rotated. `{cmd}` "
        "(port varies) through each system; nginx (one worker) serves the same 128-byte "
        "object on a plain listener and on a `proxy_protocol` one. vigil: one vigild (`workers: 1`) with "
        "two services, the second with `send_proxy: v2`; HAProxy 2.6: one process, "
        "`nbthread 1`, mode tcp, the second backend with `send-proxy-v2` (and "
        "`check-send-proxy`). CPU is the proxy's utime + stime; everything shares the "
        "2-core machine, so connections/s moves with the load, CPU per connection less.",
        "",
        "Run: `make && /usr/bin/python3 bench/proxy_bench.py` (also part of `make bench`; "
        "`BENCH_PROXY=0` skips it).",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(lines)


if __name__ == "__main__":
    main()
