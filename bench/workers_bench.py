#!/usr/bin/python3
"""workers_bench.py - proxy workers (issue 12): vigil `workers: 1` and `2`
against HAProxy `nbthread 1` and `2` and a direct connection, side by side in
one run with the same load; the proxies pinned to their own core; SO_REUSEPORT
against one shared listening socket; and as many idle client connections as
this machine lets vigild hold (100,000 asked) while new clients are served.

    workers_bench.py [--reps 3] [--secs 5] [--idle 100000] [--out results.json]
                     [--no-write] [--skip main,pinned,idle]

Writes the "## Workers" section of bench/RESULTS.md (newest run first) unless
--no-write. Loopback only; every process is started here and stopped by PID.
See bench/README.md.
"""
import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True   # no __pycache__ in the tree

import bench
import measure
import procs

# system: how it is started. "vigil-2-shared" runs only the new-connections
# test (the A/B of the listening sockets).
SYSTEMS = {
    "direct": {},
    "vigil-1": {"kind": "vigil", "workers": 1},
    "haproxy-1": {"kind": "haproxy", "nbthread": 1},
    "vigil-2": {"kind": "vigil", "workers": 2},
    "haproxy-2": {"kind": "haproxy", "nbthread": 2},
    "vigil-2-shared": {"kind": "vigil", "workers": 2, "env": {"VIGIL_LISTEN_SHARED": "1"}},
}
LABEL = {"direct": "direct", "vigil-1": "vigil w1", "haproxy-1": "HAProxy t1",
         "vigil-2": "vigil w2", "haproxy-2": "HAProxy t2",
         "vigil-2-shared": "vigil w2 shared socket"}
# The same load for every system: two wrk threads, so that a 2-thread proxy
# is not starved by a 1-thread client.
LOAD = {"conn_close": {"threads": 2, "conns": 64},
        "keepalive": {"threads": 2, "conns": 64},
        "bulk_wrk": {"threads": 2, "conns": 8}}
TESTS = {"conn_close": measure.conn_close, "keepalive": measure.keepalive,
         "bulk_wrk": measure.bulk_wrk}
ONLY_CONN = {"vigil-2-shared"}

# Pinned: the proxy alone on CPU 1, wrk and nginx on CPU 0.
PIN_PROXY, PIN_LOAD = "1", "0"
PINNED = ["direct", "vigil-1", "haproxy-1"]
PIN_LOAD_ARGS = {"threads": 1, "conns": 32}
PIN_TESTS = ("conn_close", "keepalive")

HAPROXY_SPLICE = True            # HAProxy's cheaper configuration in the Data path runs
HAPROXY_MAXCONN = bench.HAPROXY_MAXCONN

# Idle connections: idle servers on 127.0.0.2.. (ephemeral ports per backend
# address), clients from 127.0.1.x, vigild instances on VIPs 127.0.2.x.
IDLE_SERVERS = 8
IDLE_PER_CLIENT = 9000           # a holder process stays below RLIMIT_NOFILE
PROBE_COUNT, PROBE_RATE = 4000, 800     # half through vigild, half direct to nginx
MAX_FILL = 0.95                  # of what RLIMIT_NOFILE allows a vigild to hold


def metrics(port):
    """{worker: connections_total} from vigild's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("vigil_worker_connections_total{"):
            w = line.split('worker="', 1)[1].split('"', 1)[0]
            out[w] = int(float(line.rsplit(" ", 1)[1]))
    return out


class WorkersBench:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        idle = procs.free_port()
        # the templates' iperf service is unused here: pointed at the idle server
        self.backends = {"http": procs.free_port(), "idle": idle, "iperf": idle}
        self.pin_backend = procs.free_port()
        self.ports = {s: self.proxy_ports() for s in SYSTEMS}
        self.ports["direct"] = {"http": self.backends["http"]}
        self.pin_ports = {s: self.proxy_ports() for s in PINNED}
        self.pin_ports["direct"] = {"http": self.pin_backend}
        self.results = {"main": {s: {} for s in SYSTEMS}, "pinned": {s: {} for s in PINNED},
                        "workers_share": {s: [] for s in SYSTEMS}}
        self.commands = {}
        self.notes = []
        self.servers = []
        self.loadavg = []

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def proxy_ports():
        return {k: procs.free_port() for k in ("http", "iperf", "idle", "status")}

    def note(self, text):
        self.notes.append(text)
        print(text, file=sys.stderr, flush=True)

    def start_proxy(self, system, ports, backends, cpus=None):
        spec = SYSTEMS[system]
        if not spec:
            return None
        name = system + ("-pinned" if cpus else "")
        if spec["kind"] == "vigil":
            return procs.start_vigil(self.workdir, ports, backends, workers=spec["workers"],
                                     name=name, cpus=cpus, env=spec.get("env"),
                                     STATUS=f"status_listen: 127.0.0.1:{ports['status']}")
        return procs.start_haproxy(self.workdir, name, ports, backends, splice=HAPROXY_SPLICE,
                                   maxconn=HAPROXY_MAXCONN, nbthread=spec["nbthread"], cpus=cpus)

    def record(self, section, system, test, m):
        cmd = m.pop("cmd").replace(str(procs.HERE), "bench")
        self.commands.setdefault(f"{section}.{test}", re.sub(r"127\.0\.0\.1:\d+",
                                                              "127.0.0.1:PORT", cmd))
        if m.get("errors"):
            self.note(f"{section} {system} {test}: {m['errors']} wrk errors")
        for k, v in m.items():
            if isinstance(v, (int, float)):
                self.results[section][system].setdefault(f"{test}.{k}", []).append(v)

    def attempt(self, what, fn):
        try:
            return fn()
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
            self.note(f"{what} failed: {e}")
            return None

    def stop_all(self, proxies):
        for system, p in proxies.items():
            if p is None:
                continue
            rc = p.stop()
            if rc not in (0, -15, 143):
                self.note(f"{system} exited with {rc}: {p.log_tail(300)!r}")

    # ------------------------------------------------------------ side by side

    def run_main(self, rep):
        names = list(SYSTEMS)
        order = names[rep % len(names):] + names[:rep % len(names)]
        proxies = {}
        try:
            for s in SYSTEMS:
                proxies[s] = self.start_proxy(s, self.ports[s], self.backends)
            for s in SYSTEMS:
                if procs.http_get(self.ports[s]["http"], "/1m") != self.big:
                    raise RuntimeError(f"{s}: /1m came back corrupted")
            for test, fn in TESTS.items():
                for s in order:
                    if s in ONLY_CONN and test != "conn_close":
                        continue
                    p = proxies[s]
                    before = self.attempt(f"{s} /metrics", lambda: metrics(
                        self.ports[s]["status"])) if p and "vigil" in s else None
                    m = self.attempt(f"rep {rep + 1} {s} {test}", lambda: fn(
                        self.ports[s]["http"], p and p.pid, self.args.secs, **LOAD[test]))
                    if m:
                        self.record("main", s, test, m)
                    if m and before is not None and test == "conn_close":
                        after = self.attempt(f"{s} /metrics",
                                             lambda: metrics(self.ports[s]["status"])) or {}
                        d = {w: after[w] - before.get(w, 0) for w in after}
                        if sum(d.values()):
                            self.results["workers_share"][s].append(
                                [100.0 * d[w] / sum(d.values()) for w in sorted(d)])
        finally:
            self.stop_all(proxies)

    def run_pinned(self, rep):
        order = PINNED[rep % len(PINNED):] + PINNED[:rep % len(PINNED)]
        be = dict(self.backends, http=self.pin_backend)
        proxies = {}
        try:
            for s in PINNED:
                proxies[s] = self.start_proxy(s, self.pin_ports[s], be, cpus=PIN_PROXY)
            for test in PIN_TESTS:
                for s in order:
                    p = proxies[s]
                    m = self.attempt(f"rep {rep + 1} pinned {s} {test}", lambda: TESTS[test](
                        self.pin_ports[s]["http"], p and p.pid, self.args.secs,
                        cpus=PIN_LOAD, **PIN_LOAD_ARGS))
                    if m:
                        self.record("pinned", s, test, m)
        finally:
            self.stop_all(proxies)

    # -------------------------------------------------------------------- idle

    def run_idle(self):
        """One vigild as full as RLIMIT_NOFILE allows, then --idle connections
        over as many vigild instances as that takes."""
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        # 2 fds a connection; probes and the reserve as in config/cfg_limits.c
        cap = (hard - (IDLE_SERVERS + 1) - 64) // 2
        per = int(cap * MAX_FILL)
        out = {"nofile_hard": hard, "vigild_cap": cap, "runs": []}
        self.results["idle"] = out
        runs = [(1, min(per, self.args.idle))]
        if self.args.idle > per:
            k = math.ceil(self.args.idle / per)
            runs.append((k, self.args.idle))
        for k, n in runs:
            r = self.attempt(f"idle {n} over {k} vigild", lambda: self.idle_run(k, n))
            if r:
                out["runs"].append(r)

    def idle_run(self, k, total):
        """total idle connections through k vigild instances (workers: 2),
        then PROBE_COUNT new short requests through the same instances."""
        vips = [f"127.0.2.{i + 1}" for i in range(k)]
        port = {"http": procs.free_port(), "idle": procs.free_port()}
        be = self.backends
        backends = "\n".join(f"      - {{name: hold{i}, address: 127.0.0.{i + 2}, "
                             f"port: {self.backends['idle']}}}" for i in range(IDLE_SERVERS))
        inst, holders = [], []
        res = {"instances": k, "target": total, "workers": 2}
        mem0 = meminfo()
        try:
            for i, vip in enumerate(vips):
                inst.append(procs.start_vigil(self.workdir, port, be, workers=2,
                                              name=f"idle-vigil-{k}-{i}",
                                              template="vigil-idle.yaml.in", VIP=vip,
                                              IDLE_BACKENDS=backends))
            addrs = [f"{vip}:{port['http']}" for vip in vips]
            direct = f"direct=127.0.0.1:{self.backends['http']}"
            res["probe_before"] = probe(addrs + [direct])
            res["rss_base_kib"] = [procs.rss_kib(p.pid) for p in inst]
            share = [total // k + (1 if i < total % k else 0) for i in range(k)]
            t0 = time.monotonic()
            for i, (vip, n) in enumerate(zip(vips, share)):
                for j in range(math.ceil(n / IDLE_PER_CLIENT)):
                    m = min(IDLE_PER_CLIENT, n - j * IDLE_PER_CLIENT)
                    src = f"127.0.1.{len(holders) + 1}"
                    holders.append(procs.Proc(
                        f"idle-hold-{len(holders)}",
                        [procs.PYTHON, procs.HERE / "idle.py", "hold", vip, port["idle"], m, src],
                        self.workdir, stdout=subprocess.PIPE, stdin=subprocess.PIPE))
            for h in holders:
                line = h.proc.stdout.readline().decode().strip()
                if not line.startswith("connected"):
                    raise RuntimeError(f"idle client {h.name}: {line!r} {h.log_tail(300)}")
            # every connection must have reached a backend before we look
            procs.wait_until(lambda: sum(active(p) for p in inst) >= total, 120,
                             f"{total} idle connections through to the backends")
            res["connect_s"] = time.monotonic() - t0
            time.sleep(1.0)
            res["held"] = [active(p) for p in inst]
            res["rss_idle_kib"] = [procs.rss_kib(p.pid) for p in inst]
            mem1 = meminfo()
            res["machine_mem_mib"] = (mem0["MemAvailable"] - mem1["MemAvailable"]) / 1024
            res["slab_mib"] = (mem1["Slab"] - mem0["Slab"]) / 1024
            res["probe_during"] = probe(addrs + [direct])
            res["rss_per_conn_kib"] = (sum(res["rss_idle_kib"]) - sum(res["rss_base_kib"])) / \
                sum(res["held"])
            print(f"idle: {sum(res['held'])} over {k} vigild: "
                  f"{res['rss_per_conn_kib']:.2f} KiB/conn, p99 new "
                  f"{res['probe_during']['via']['p99_ms']:.2f} ms", file=sys.stderr, flush=True)
        finally:
            self.stop_holders(holders)
            self.stop_all({p.name: p for p in inst})
        self.commands.setdefault("idle", f"{procs.PYTHON} bench/idle.py hold VIP PORT N SRC   "
                                          f"# one per {IDLE_PER_CLIENT:,} connections")
        self.commands.setdefault("probe", f"{procs.PYTHON} bench/idle.py probe {PROBE_COUNT} "
                                           f"{PROBE_RATE} VIP:PORT... direct=127.0.0.1:NGINX")
        return res

    def stop_holders(self, holders):
        """Closed stdin: each resets its connections and exits; on a busy
        machine 9,000 resets take seconds, so wait before signalling."""
        for h in holders:
            try:
                h.proc.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 120
        for h in holders:
            try:
                h.proc.wait(max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                pass
            try:
                h.stop(timeout=30)
            except subprocess.TimeoutExpired:
                self.note(f"{h.name} (pid {h.pid}) did not exit after SIGKILL")

    # --------------------------------------------------------------------- run

    def start_backends(self):
        self.big = bench.write_objects(self.workdir)
        self.servers.append(procs.start_nginx(self.workdir, self.backends["http"]))
        if "pinned" not in self.args.skip:
            self.servers.append(procs.start_nginx(self.workdir, self.pin_backend, cpus=PIN_LOAD,
                                                  name="nginx-pinned"))
        self.servers.append(procs.start_idle_server(self.workdir, self.backends["idle"]))
        if "idle" not in self.args.skip:
            for i in range(IDLE_SERVERS):
                self.servers.append(procs.start_idle_server(
                    self.workdir, self.backends["idle"], f"127.0.0.{i + 2}", f"idle-server-{i}"))

    def run(self):
        self.start_backends()
        try:
            for rep in range(self.args.reps):
                t0 = time.monotonic()
                with open("/proc/loadavg") as f:
                    self.loadavg.append(float(f.read().split()[0]))
                if "main" not in self.args.skip:
                    self.run_main(rep)
                if "pinned" not in self.args.skip:
                    self.run_pinned(rep)
                print(f"workers rep {rep + 1}/{self.args.reps}: {time.monotonic() - t0:.1f}s",
                      file=sys.stderr, flush=True)
            if "idle" not in self.args.skip and self.args.idle:
                self.run_idle()
        finally:
            for p in reversed(self.servers):
                p.stop()


def active(p):
    """Open proxied connections of vigild p (sum over its backends)."""
    st = procs.vigil_status(p.sock)
    return sum(b.get("active", 0) for s in st["services"] for b in s["backends"]) if st else 0


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def probe(addrs):
    r = subprocess.run([procs.PYTHON, procs.HERE / "idle.py", "probe", str(PROBE_COUNT),
                        str(PROBE_RATE), *addrs], capture_output=True, text=True,
                       timeout=PROBE_COUNT / PROBE_RATE + 120)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        raise RuntimeError(f"probe failed: {r.stdout[-300:]} {r.stderr[-300:]}") from e


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5, help="seconds per measurement")
    ap.add_argument("--idle", type=int, default=100000, help="idle connections (0: skip)")
    ap.add_argument("--out", help="results JSON file")
    ap.add_argument("--skip", default="", help="comma-separated: main, pinned, idle")
    ap.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--md", default=str(procs.HERE / "RESULTS.md"))
    args = ap.parse_args()
    args.skip = set(filter(None, args.skip.split(",")))

    workdir = tempfile.mkdtemp(prefix="vigil-wbench-")
    os.chmod(workdir, 0o755)       # nginx workers run as nobody
    t0 = time.monotonic()
    wb = WorkersBench(args, workdir)
    out = {"machine": bench.machine(), "reps": args.reps, "secs": args.secs,
           "idle_asked": args.idle, "load": LOAD, "pin_load": PIN_LOAD_ARGS,
           "haproxy_splice": HAPROXY_SPLICE}
    mach0 = procs.machine_ticks()
    try:
        wb.run()
    except Exception:
        traceback.print_exc()
        print(f"workers bench failed; logs in {workdir}", file=sys.stderr)
        return 1
    busy, total = procs.machine_ticks()
    out.update(results=wb.results, commands=wb.commands, notes=wb.notes, loadavg=wb.loadavg,
               busy_pct=100.0 * (busy - mach0[0]) / max(total - mach0[1], 1),
               wall_s=time.monotonic() - t0)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    import workers_report
    block = workers_report.run_block(out)
    if not args.no_write:
        workers_report.write(Path(args.md), block)
    print(block)
    print(f"workers bench done in {out['wall_s']:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
