#!/usr/bin/python3
"""vigil soak: run vigild for SOAK_SECONDS under churn and check every byte.

    python3 tests/soak/soak.py [--seconds N] [--idle N] [--failover-every S]
    (make soak; make soak-asan runs it against the ASan build)

vigild (VIGIL_BUILD, default build/) proxies five services on 127.0.0.1:
  web   -> Debian nginx instances (http check of /health)
  bulk  -> hashing servers (tcp check)
  smtp  -> fake SMTP servers (smtp check), imap -> fake IMAP servers (imap check)
  idle  -> two selector echo servers holding the idle clients (never flapped)
while, at the same time:
  - a flapper breaks or repairs one backend every few seconds: stop/start
    (graceful: transfers in flight finish), nginx 503, SMTP 421, IMAP BYE;
  - a reloader rewrites the config with other backend sets and runs
    `vigilctl reload` every few seconds;
  - streamers move 16 MiB bodies and check SHA-256 both ways (upload to a
    server that hashes what it got, download of a known body from nginx and
    from the hashing servers);
  - pokers open short connections to every service and note which backend
    answered and when;
  - --idle clients (2000) sit open on the idle service;
  - where root and `ip netns` are available, a two-node failover pair in
    network namespaces fails over every --failover-every seconds (30).
At the end it prints a summary and exits 1 unless: no transfer was corrupted
or truncated; no connection reached a backend while it was known down (after
vigild logged `up -> down` and before it logged `-> up` again; a connection
counts only if the whole window from its connect() to its first byte lies
inside that span, which allows for the in-flight window), nor a backend
removed by reload or not yet up; all idle clients survived; vigild's fd count
and RSS came back to their baseline (RSS not under ASan, whose quarantine
keeps freed memory: LeakSanitizer checks at exit instead); vigild is alive and exits 0; no
sanitizer report. Everything it starts is stopped by PID; its namespaces and
temporary files are removed.
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "integration"))
sys.path.insert(0, str(HERE))

import vigil  # noqa: E402
from vigil import SLOW, MassBackend, Vigild, free_port, rss_kib, wait_for  # noqa: E402
from soak_servers import BulkServer, MailServer, SoakNginx  # noqa: E402

BIG = 16 << 20
FD_MARGIN = 8
RSS_MARGIN_KIB = 8192
RSS_MARGIN_FRAC = 0.10


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def raise_fd_limit(want):
    """Soft (and, where allowed, hard) RLIMIT_NOFILE to at least want (bounded:
    never above want unless it already was); vigild inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):    # not allowed to raise the hard limit
            pass
    new = min(max(soft, want), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


# ---------------------------------------------------------------- the records

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.conns = []          # (service, backend, t_connect, t_first_byte)
        self.counts = {}
        self.problems = []       # (kind, text) that fail the run

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def conn(self, svc, backend, t0, t1):
        with self.lock:
            self.conns.append((svc, backend, t0, t1))

    def problem(self, kind, text):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if len(self.problems) < 200:
                self.problems.append((kind, text))


class Refused(Exception):
    """Ended before the backend's first byte: refused, no backend up, reset
    from a backend that just stopped listening. Not a data error."""


def _connect(port, timeout):
    s = socket.socket()
    s.settimeout(timeout)
    t0 = time.time()
    try:
        s.connect(("127.0.0.1", port))
    except OSError as e:
        s.close()
        raise Refused(f"connect: {e}") from None
    return s, t0


def _first_line(s):
    data = b""
    try:
        while not data.endswith(b"\n") and len(data) < 512:
            b = s.recv(1)
            if not b:
                break
            data += b
    except OSError as e:
        if not data:
            raise Refused(f"before the first byte: {e}") from None
        raise
    if not data:
        raise Refused("closed before the first byte")
    return data, time.time()


# ---------------------------------------------------------------- clients

class Clients:
    def __init__(self, ports, stats, big_digest, timeout, pause=1.0):
        self.pause = pause
        self.ports = ports
        self.stats = stats
        self.big_digest = big_digest
        self.timeout = timeout
        self.stop = threading.Event()

    # -- 16 MiB transfers --
    def upload(self):
        s, t0 = _connect(self.ports["bulk"], self.timeout)
        with s:
            greet, t1 = _first_line(s)
            who = greet.decode().strip()
            self.stats.conn("bulk", who, t0, t1)
            payload = os.urandom(BIG)
            want = hashlib.sha256(payload).hexdigest()
            try:
                s.sendall(b"PUT %d\n" % BIG)
                view = memoryview(payload)
                for off in range(0, BIG, 1 << 20):
                    s.sendall(view[off:off + (1 << 20)])
                reply = _first_line(s)[0].decode().split()
            except (OSError, Refused) as e:
                return "truncated", f"upload via {who}: {e}"
            if reply != ["OK", str(BIG), want]:
                kind = "truncated" if len(reply) == 3 and reply[1] != str(BIG) else "corrupted"
                return kind, f"upload via {who}: sent {BIG} bytes sha {want[:16]}, got {reply}"
            return "ok", who

    def _read_body(self, s, want_len, who, what):
        h, n = hashlib.sha256(), 0
        try:
            while True:
                data = s.recv(262144)
                if not data:
                    break
                h.update(data)
                n += len(data)
        except OSError as e:
            return "truncated", f"{what} via {who}: {e} after {n} of {want_len} bytes"
        if n != want_len:
            return "truncated", f"{what} via {who}: {n} of {want_len} bytes"
        if h.hexdigest() != self.big_digest:
            return "corrupted", f"{what} via {who}: sha256 {h.hexdigest()[:16]} differs"
        return "ok", who

    def download_bulk(self):
        s, t0 = _connect(self.ports["bulk"], self.timeout)
        with s:
            greet, t1 = _first_line(s)
            who = greet.decode().strip()
            self.stats.conn("bulk", who, t0, t1)
            try:
                s.sendall(b"GET\n")
            except OSError as e:
                return "truncated", f"bulk GET via {who}: {e}"
            return self._read_body(s, BIG, who, "bulk GET")

    def download_web(self):
        s, t0 = _connect(self.ports["web"], self.timeout)
        with s:
            try:
                s.sendall(b"GET /big HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            except OSError as e:
                raise Refused(f"send: {e}") from None
            status, t1 = _first_line(s)
            head = [status]
            try:
                while head[-1] not in (b"\r\n", b"\n", b""):
                    head.append(_first_line(s)[0])
            except (OSError, Refused) as e:
                return "truncated", f"web /big: headers cut: {e}"
            hdr = {}
            for line in head[1:]:
                k, _, v = line.decode("latin-1").partition(":")
                hdr[k.strip().lower()] = v.strip()
            who = hdr.get("x-backend", "?")
            self.stats.conn("web", who, t0, t1)
            if not status.startswith(b"HTTP/1.1 200"):
                return "corrupted", f"web /big via {who}: {status!r}"
            if hdr.get("content-length") != str(BIG):
                return "corrupted", f"web /big via {who}: content-length {hdr.get('content-length')}"
            return self._read_body(s, BIG, who, "web /big")

    def streamer(self, idx):
        kinds = [self.upload, self.download_bulk, self.download_web]
        i = idx
        while not self.stop.is_set():
            fn = kinds[i % len(kinds)]
            i += 1
            name = fn.__name__
            try:
                outcome, detail = fn()
            except Refused:
                self.stats.add(f"{name} refused")
                self.stop.wait(0.2)
                continue
            except Exception as e:   # noqa: BLE001 - a failure to report, not to hide
                outcome, detail = "truncated", f"{name}: {type(e).__name__}: {e}"
            if outcome == "ok":
                self.stats.add(f"{name} ok")
                self.stats.add("transfers ok")
            else:
                self.stats.problem(f"transfers {outcome}", detail)
            self.stop.wait(self.pause)

    # -- short connections --
    def poke(self, svc):
        s, t0 = _connect(self.ports[svc], self.timeout)
        with s:
            if svc == "web":
                s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                status, t1 = _first_line(s)
                body = vigil.recv_until_eof(s, 65536).decode(errors="replace")
                m = re.search(r"(?im)^x-backend: *(\S+)", body)
                who = m.group(1) if m else "?"
                self.stats.conn(svc, who, t0, t1)
                return status.startswith(b"HTTP/1.1 200") and body.rstrip().endswith(who)
            line, t1 = _first_line(s)
            words = line.decode(errors="replace").split()
            if svc == "smtp":
                who = words[1] if len(words) > 1 else "?"
                try:
                    s.sendall(b"QUIT\r\n")
                except OSError:
                    pass
            elif svc == "imap":
                who = words[2] if len(words) > 2 else "?"
                try:
                    s.sendall(b"a1 LOGOUT\r\n")
                except OSError:
                    pass
            else:
                who = words[0] if words else "?"
            self.stats.conn(svc, who, t0, t1)
            return True

    def poker(self, services, pause):
        i = 0
        while not self.stop.is_set():
            svc = services[i % len(services)]
            i += 1
            try:
                ok = self.poke(svc)
                self.stats.add("short ok" if ok else "short odd answer")
            except Refused:
                self.stats.add("short refused")
            except OSError as e:
                self.stats.problem("short aborted", f"{svc}: {e}")
            self.stop.wait(pause)


class IdleClients:
    def __init__(self, port, n, timeout):
        self.port, self.n, self.timeout = port, n, timeout
        self.socks = []

    def open(self):
        for _ in range(self.n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.socks.append(s)
        bad = 0
        for s in self.socks:            # every one greeted by its backend
            if not vigil.recv_line(s).startswith("id"):
                bad += 1
        return bad

    def check_alive(self):
        """Echo a byte through every idle connection; returns how many failed."""
        lost = 0
        for s in self.socks:
            try:
                s.sendall(b"x\n")
                if vigil.recv_line(s) != "x":
                    lost += 1
            except OSError:
                lost += 1
        return lost

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


# ---------------------------------------------------------------- churn

class Soak:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="vigil-soak-"))
        self.stats = Stats()
        self.rng = random.Random(args.seed)
        self.stop = threading.Event()
        self.threads = []
        self.events = []          # (time, text) of the churn, for the report
        self.pool = {}
        self.ports = {}
        self.vigild = None
        self.pair = None
        self.failover = {"done": 0, "max_gap_s": 0.0, "note": "not run"}
        big = random.Random(7).randbytes(BIG)
        (self.tmp / "big.bin").write_bytes(big)
        os.chmod(self.tmp, 0o755)
        os.chmod(self.tmp / "big.bin", 0o644)
        self.big = big
        self.big_digest = hashlib.sha256(big).hexdigest()
        self.idle_backends = []

    # -- set-up --
    def start_backends(self):
        a = self.args
        self.pool["web"] = [SoakNginx(f"ng{i + 1}", self.tmp / "big.bin").start()
                            for i in range(a.nginx)]
        self.pool["bulk"] = [BulkServer(f"bk{i + 1}", self.big).start() for i in range(3)]
        self.pool["smtp"] = [MailServer(f"sm{i + 1}", "smtp").start() for i in range(3)]
        self.pool["imap"] = [MailServer(f"im{i + 1}", "imap").start() for i in range(3)]
        self.idle_backends = [MassBackend("id1"), MassBackend("id2")]

    def backend_port(self, b):
        return b.http_port if isinstance(b, SoakNginx) else b.port

    def config(self, sets):
        interval = f"{int(250 * SLOW)}ms"
        timeout = f"{int(200 * SLOW)}ms"
        checks = {
            "web": {"type": "http", "path": "/health", "expect_status": 200},
            "bulk": {"type": "tcp"},
            "smtp": {"type": "smtp", "ehlo": "soak.test"},
            "imap": {"type": "imap"},
        }
        services = []
        for svc in ("web", "bulk", "smtp", "imap"):
            chk = dict(checks[svc], interval=interval, timeout=timeout, rise=1, fall=1)
            services.append({
                "name": svc, "vip": "127.0.0.1", "ports": [self.ports[svc]],
                "scheduler": "roundrobin" if svc != "bulk" else "leastconn",
                "backends": [{"name": b.label if isinstance(b, SoakNginx) else b.name,
                              "address": "127.0.0.1", "port": self.backend_port(b)}
                             for b in sets[svc]],
                "check": chk})
        services.append({"name": "idle", "vip": "127.0.0.1", "ports": [self.ports["idle"]],
                         "backends": [b.conf() for b in self.idle_backends],
                         "check": {"type": "tcp", "interval": "1s", "timeout": "500ms",
                                   "rise": 1, "fall": 2}})
        return {
            "global": {"log_level": "info", "maxconn": 100000},
            "defaults": {"timeouts": {"connect": "1s", "client_idle": "30m",
                                      "server_idle": "30m", "drain": "5s"}},
            "services": services,
        }

    def full_sets(self):
        return {svc: list(bs) for svc, bs in self.pool.items()}

    def start_vigild(self):
        for svc in ("web", "bulk", "smtp", "imap", "idle"):
            self.ports[svc] = free_port()
        self.vigild = Vigild(self.tmp, self.config(self.full_sets()), name="vigild")
        self.vigild.start(timeout=20)
        self.wait_all_up(self.full_sets(), 30)

    def wait_all_up(self, sets, timeout):
        names = {svc: {getattr(b, "label", None) or b.name for b in bs} for svc, bs in sets.items()}
        names["idle"] = {"id1", "id2"}

        def all_up():
            st = self.vigild.status()
            for s in st["services"]:
                for b in s["backends"]:
                    if b["name"] in names.get(s["name"], ()) and b["state"] != "up":
                        return False
            return True
        wait_for(all_up, timeout, 0.1, "every backend up")

    def wait_quiet(self, timeout):
        def quiet():
            return all(b["active"] == 0 for s in self.vigild.status()["services"]
                       for b in s["backends"])
        wait_for(quiet, timeout, 0.2, "no connection open in vigild")

    # -- churn threads --
    def spawn(self, fn, *args):
        t = threading.Thread(target=self._guard, args=(fn, *args), daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception:   # noqa: BLE001 - a harness thread died: fail the run
            self.stats.problem("harness errors", f"{fn.__name__}: {traceback.format_exc()}")

    def note(self, text):
        self.events.append((time.time(), text))

    def flapper(self):
        """Every few seconds break a healthy backend or repair a broken one;
        at most one broken per service."""
        broken = {}
        while not self.stop.wait(self.rng.uniform(1.5, 4.0)):
            svc = self.rng.choice(["web", "bulk", "smtp", "imap"])
            if svc in broken:
                b, how = broken.pop(svc)
                if how == "stop":
                    b.start()
                else:
                    b.set_failing(False) if isinstance(b, SoakNginx) else setattr(b, "failing",
                                                                                  False)
                self.note(f"repair {svc} {self.name(b)} ({how})")
                self.stats.add("flaps")
                continue
            b = self.rng.choice(self.pool[svc])
            how = "stop" if svc == "bulk" else self.rng.choice(["stop", "fail"])
            if how == "stop":
                b.graceful_stop() if isinstance(b, SoakNginx) else b.stop()
            elif isinstance(b, SoakNginx):
                b.set_failing(True)
            else:
                b.failing = True
            broken[svc] = (b, how)
            self.note(f"break {svc} {self.name(b)} ({how})")
            self.stats.add("flaps")
        self.broken_at_end = broken

    @staticmethod
    def name(b):
        return b.label if isinstance(b, SoakNginx) else b.name

    def reloader(self):
        while not self.stop.wait(self.rng.uniform(2.0, 5.0)):
            sets = {}
            for svc, bs in self.pool.items():
                k = self.rng.randint(2, len(bs))
                sets[svc] = self.rng.sample(bs, k)
            self.reload(sets)
            self.note("reload " + " ".join(f"{s}={','.join(self.name(b) for b in bs)}"
                                           for s, bs in sets.items()))

    def reload(self, sets):
        self.vigild.write_config(self.config(sets))
        r = self.vigild.ctl("reload")
        if r.returncode != 0:
            self.stats.problem("reloads refused", r.stderr.strip())
        else:
            self.stats.add("reloads")

    def failover_loop(self):
        from netns import wait_until
        lb1, lb2, bed = self.pair["lb1"], self.pair["lb2"], self.pair.bed
        down = False
        gaps = []
        while not self.stop.wait(self.args.failover_every):
            down = not down
            t = time.monotonic()
            bed["lb1"].link(not down)
            want, other = (lb2, "lb1") if down else (lb1, "lb2")
            wait_until(lambda: want.state() == "master", 10 * SLOW,
                       f"{want.dir.name} to become master")
            wait_until(lambda: self._prober_saw(bed[want.dir.name].ip, t), 10 * SLOW,
                       f"the client to reach {want.dir.name}")
            gaps.append(self._prober_gap(t))
            self.failover["done"] += 1
            self.failover["max_gap_s"] = max(gaps)
            self.note(f"failover to {want.dir.name}")
        if down:
            bed["lb1"].link(True)
            wait_until(lambda: lb1.state() == "master", 10 * SLOW, "lb1 back to master")

    def _prober_lines(self):
        out = []
        for line in (self.tmp / "probe.log").read_text().splitlines():
            p = line.split()
            if len(p) == 4:
                out.append((float(p[0]), float(p[1]), p[2], p[3]))
        return out

    def _prober_saw(self, ip, since):
        return any(t0 > since and ok == "ok" and who == ip
                   for t0, _, ok, who in self._prober_lines())

    def _prober_gap(self, since):
        """Longest time without an answer around the switch at since."""
        oks = [t1 for t0, t1, ok, _ in self._prober_lines() if ok == "ok" and t1 > since - 5]
        return max((b - a for a, b in zip(oks, oks[1:])), default=0.0)

    def start_pair(self):
        from netns import have_netns
        why = have_netns()
        if why or self.args.failover_every <= 0:
            self.failover["note"] = why or "disabled"
            return
        from failover_bed import PORT, VIP, Pair
        (self.tmp / "pair").mkdir(exist_ok=True)
        self.pair = Pair(self.tmp / "pair", start=False)
        self.pair.start()
        self.pair.prober.stop()
        self.pair.prober = self.pair.bed.prober("client", VIP, PORT, self.tmp / "probe.log",
                                                interval=0.05)
        self.failover["note"] = "ran"

    # -- measurements --
    def fds(self):
        return self.vigild.fd_count()

    def rss(self):
        return rss_kib(self.vigild.pid)

    def warm_up(self, clients, idle_n):
        """One round of everything before the baseline: pools and heap reach
        their working size, so what stays above it afterwards is a leak."""
        for fn in (clients.upload, clients.download_bulk, clients.download_web):
            outcome, detail = fn()
            if outcome != "ok":
                raise AssertionError(f"warm-up {fn.__name__}: {detail}")
        for svc in ("web", "bulk", "smtp", "imap", "idle"):
            clients.poke(svc)
        idle = IdleClients(self.ports["idle"], idle_n, 10 * SLOW)
        idle.open()
        idle.check_alive()
        idle.close()
        self.wait_quiet(30)
        time.sleep(1.0)

    # -- the run --
    def run(self):
        a = self.args
        limit = raise_fd_limit(2 * a.idle + 4096)
        if 2 * a.idle + 1024 > limit:   # not root and a low hard limit: fewer idle clients
            a.idle = max(0, (limit - 1024) // 2)
            log(f"RLIMIT_NOFILE {limit}: only {a.idle} idle clients")
        log(f"fd limit {limit}; build {vigil.BUILD}; sanitized {vigil.SANITIZED}; "
            f"{a.seconds} s; tmp {self.tmp}")
        self.start_backends()
        self.start_vigild()
        log(f"vigild pid {self.vigild.pid} up: {self.ports}")
        clients = Clients(self.ports, self.stats, self.big_digest, 60 * SLOW, a.stream_pause)
        self.warm_up(clients, a.idle)
        base_fd, base_rss = self.fds(), self.rss()
        log(f"baseline: {base_fd} fds, RSS {base_rss} KiB")
        self.start_pair()
        log(f"failover pair: {self.failover['note']}")

        idle = IdleClients(self.ports["idle"], a.idle, 10 * SLOW)
        bad = idle.open()
        if bad:
            self.stats.problem("idle clients lost", f"{bad} idle clients got no greeting")
        peak_fd = self.fds()
        log(f"{a.idle} idle clients open: vigild {peak_fd} fds, RSS {self.rss()} KiB")

        t_start = time.time()
        load0 = round(os.getloadavg()[0], 2)
        for i in range(a.streams):
            self.spawn(clients.streamer, i)
        for i in range(a.pokers):
            self.spawn(clients.poker, ["web", "smtp", "imap", "bulk"][i % 4:] +
                       ["web", "smtp", "imap", "bulk"][:i % 4], a.poke_pause)
        churn = [self.spawn(self.flapper), self.spawn(self.reloader)]
        if self.pair:
            churn.append(self.spawn(self.failover_loop))
        peak_rss = 0
        deadline = time.monotonic() + a.seconds
        next_report = time.monotonic() + 60
        while time.monotonic() < deadline and self.vigild.alive():
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            peak_fd = max(peak_fd, self.fds())
            peak_rss = max(peak_rss, self.rss())
            if time.monotonic() >= next_report:
                next_report += 60
                c = self.stats.counts
                log(f"{int(time.time() - t_start)} s: transfers ok {c.get('transfers ok', 0)}, "
                    f"short ok {c.get('short ok', 0)}, flaps {c.get('flaps', 0)}, reloads "
                    f"{c.get('reloads', 0)}, failovers {self.failover['done']}, "
                    f"problems {len(self.stats.problems)}, fds {self.fds()}, "
                    f"RSS {self.rss()} KiB")
        duration = time.time() - t_start
        alive = self.vigild.alive()
        log("stopping the churn")
        self.stop.set()
        for t in churn:
            t.join(60 * SLOW)
        clients.stop.set()
        for t in self.threads:
            t.join(120 * SLOW)
        t_end = time.time()
        result = {"duration_s": round(duration, 1), "seed": a.seed,
                  "loadavg_1m_start_end": [load0, round(os.getloadavg()[0], 2)],
                  "idle": a.idle, "alive_at_end": alive,
                  "base_fd": base_fd, "base_rss_kib": base_rss, "peak_fd": peak_fd,
                  "peak_rss_kib": peak_rss}
        if alive:
            self.settle(idle, result)
        else:
            idle.close()
        return self.verdict(result, t_start, t_end)

    def settle(self, idle, result):
        """Repair every backend, reload the start config, close the clients,
        and measure what vigild holds."""
        for svc, (b, how) in getattr(self, "broken_at_end", {}).items():
            if how == "stop":
                b.start()
            elif isinstance(b, SoakNginx):
                b.set_failing(False)
            else:
                b.failing = False
        self.reload(self.full_sets())
        lost = idle.check_alive()
        result["idle_lost"] = lost
        if lost:
            self.stats.problem("idle clients lost", f"{lost} of {self.args.idle} idle clients")
        idle.close()
        try:
            self.wait_all_up(self.full_sets(), 30)
            self.wait_quiet(60)
        except AssertionError as e:
            self.stats.problem("did not settle", str(e))
        base_fd, base_rss = result["base_fd"], result["base_rss_kib"]
        rss_limit = base_rss + max(RSS_MARGIN_KIB, int(base_rss * RSS_MARGIN_FRAC))
        if vigil.SANITIZED:     # ASan keeps freed memory in its quarantine
            rss_limit = float("inf")
        try:
            wait_for(lambda: self.fds() <= base_fd + FD_MARGIN and self.rss() <= rss_limit,
                     30, 0.5, "fds and RSS back to the baseline")
        except AssertionError:
            pass
        result["end_fd"], result["end_rss_kib"] = self.fds(), self.rss()
        if abs(result["end_fd"] - base_fd) > FD_MARGIN:
            self.stats.problem("fd leak", f"{result['end_fd']} fds, baseline {base_fd} "
                               f"(± {FD_MARGIN}); " + self.fd_kinds())
        result["rss_checked"] = not vigil.SANITIZED
        if result["end_rss_kib"] > rss_limit and result["rss_checked"]:
            self.stats.problem("RSS growth", f"RSS {result['end_rss_kib']} KiB, baseline "
                               f"{base_rss} KiB (limit {rss_limit})")

    def fd_kinds(self):
        kinds = {}
        for fd in os.listdir(f"/proc/{self.vigild.pid}/fd"):
            try:
                k = os.readlink(f"/proc/{self.vigild.pid}/fd/{fd}").split(":")[0]
            except OSError:
                continue
            kinds[k] = kinds.get(k, 0) + 1
        return json.dumps(kinds)

    def verdict(self, result, t_start, t_end):
        v = self.vigild
        result["alive_before_stop"] = v.alive()
        if not result["alive_before_stop"]:
            self.stats.problem("vigild died", f"exit {v.proc.returncode}")
        rc = v.stop(timeout=30)
        result["exit_code"] = rc
        if result["alive_before_stop"] and rc != 0:
            self.stats.problem("vigild exit code", f"SIGTERM: exit {rc}")
        reports = v.sanitizer_reports()
        result["sanitizer_reports"] = len(reports)
        for r in reports[:10]:
            self.stats.problem("sanitizer reports", r)
        text = v.log()
        spans = down_spans(text)
        routed = check_routing(self.stats.conns, spans)
        for kind, items in routed.items():
            result[kind] = len(items)
            for svc, be, t0, t1, span in items[:20]:
                self.stats.problem(kind, f"{svc}/{be}: connect {iso(t0)}, first byte {iso(t1)}, "
                                   f"inside {span[2]} span {iso(span[0])} .. {iso(span[1])}")
        result["connections_checked"] = len(self.stats.conns)
        result["state_changes_logged"] = len(re.findall(r": \w+ -> \w+ \(", text))
        result["down_spans"] = sum(1 for s in spans.values() for x in s if x[2] == "known-down")
        lines = text.count("\n")
        result["log_lines_per_min"] = round(lines / max(1.0, (t_end - t_start) / 60), 1)
        result["failovers"] = self.failover["done"]
        result["failover_max_gap_s"] = round(self.failover["max_gap_s"], 3)
        result["failover"] = self.failover["note"]
        if self.pair:
            problems = self.pair.close()
            self.pair = None
            for p in problems:
                self.stats.problem("failover pair", p)
        result["counts"] = dict(sorted(self.stats.counts.items()))
        return result

    def cleanup(self):
        self.stop.set()
        if self.vigild and self.vigild.alive():
            self.vigild.stop(timeout=30)
        if self.pair:
            self.pair.close()
        for bs in self.pool.values():
            for b in bs:
                try:
                    b.cleanup() if isinstance(b, SoakNginx) else b.close()
                except Exception:   # noqa: BLE001 - best effort at teardown
                    traceback.print_exc()
        for b in self.idle_backends:
            b.close()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- the log

_TS = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \w+: "
_CHANGE = re.compile(_TS + r"service (\S+) backend (\S+): (\w+) -> (\w+) \(")
_REMOVED = re.compile(_TS + r"service (\S+) backend (\S+): removed by reload")


def _t(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def down_spans(text):
    """{(service, backend): [(from, to, kind)]}: when vigild had said a backend
    must get no new connection. kind: 'known-down' from `X -> down|drain|maint`
    to the next `-> up`; 'removed' from `removed by reload` to the next
    `-> up` (a re-added backend starts down, silently)."""
    events = {}
    for line in text.splitlines():
        m = _CHANGE.match(line)
        if m:
            t, svc, be, _, new = m.groups()
            events.setdefault((svc, be), []).append((_t(t), "up" if new == "up" else "known-down"))
            continue
        m = _REMOVED.match(line)
        if m:
            t, svc, be = m.groups()
            events.setdefault((svc, be), []).append((_t(t), "removed"))
    spans = {}
    for key, evs in events.items():
        open_at, kind = None, None
        for t, what in evs:
            if what == "up":
                if open_at is not None:
                    spans.setdefault(key, []).append((open_at, t, kind))
                open_at = None
            elif open_at is None:
                open_at, kind = t, what
        if open_at is not None:
            spans.setdefault(key, []).append((open_at, float("inf"), kind))
    return spans


# the log's stamps are truncated to the millisecond and taken just after the change
SLACK = 0.002


def check_routing(conns, spans):
    """Connections whose whole window (connect() .. first byte) lies inside a
    span: vigild chose that backend while it had said it must not."""
    out = {"to known-down backend": [], "to removed backend": []}
    for svc, be, t0, t1 in conns:
        for span in spans.get((svc, be), ()):
            if span[0] + SLACK <= t0 and t1 <= span[1] - SLACK:
                key = "to known-down backend" if span[2] == "known-down" else "to removed backend"
                out[key].append((svc, be, t0, t1, span))
                break
    return out


# ---------------------------------------------------------------- report

CHECKS = [
    ("transfers corrupted", "transfers corrupted", 0),
    ("transfers truncated", "transfers truncated", 0),
    ("connections to a known-down backend", "to known-down backend", 0),
    ("connections to a backend removed by reload", "to removed backend", 0),
    ("idle clients lost", "idle clients lost", 0),
    ("reloads refused", "reloads refused", 0),
    ("short connections aborted after their first byte", "short aborted", 0),
    ("harness errors", "harness errors", 0),
]


def report(result, stats):
    c = result["counts"]
    rows = [
        ("duration", f"{result['duration_s']} s"),
        ("16 MiB transfers ok (upload / bulk download / nginx download)",
         f"{c.get('transfers ok', 0)} ({c.get('upload ok', 0)} / {c.get('download_bulk ok', 0)}"
         f" / {c.get('download_web ok', 0)})"),
        ("transfers refused before the first byte",
         str(sum(v for k, v in c.items() if k.endswith(" refused") and k != "short refused"))),
        ("short connections ok / refused", f"{c.get('short ok', 0)} / {c.get('short refused', 0)}"),
        ("connections cross-checked against the log", str(result["connections_checked"])),
        ("backend state changes logged / known-down spans",
         f"{result['state_changes_logged']} / {result['down_spans']}"),
        ("flaps / reloads", f"{c.get('flaps', 0)} / {c.get('reloads', 0)}"),
        ("failovers (max client gap)", f"{result['failovers']} ({result['failover_max_gap_s']} s)"
         f" [{result['failover']}]"),
        ("idle clients", str(result["idle"])),
        ("vigild fds: baseline / peak / end",
         f"{result['base_fd']} / {result['peak_fd']} / {result.get('end_fd', '-')}"),
        ("vigild RSS KiB: baseline / peak / end",
         f"{result['base_rss_kib']} / {result['peak_rss_kib']} / {result.get('end_rss_kib', '-')}"
         + ("" if result.get("rss_checked", True) else
            " (not asserted under ASan: its quarantine keeps freed memory; LeakSanitizer"
            " checks at exit)")),
        ("vigild log lines per minute", str(result["log_lines_per_min"])),
        ("vigild alive at the end / exit code",
         f"{result['alive_before_stop']} / {result['exit_code']}"),
        ("sanitizer reports", str(result["sanitizer_reports"])),
    ]
    failed = []
    for label, key, want in CHECKS:
        n = result.get(key, c.get(key, 0))
        rows.append((label, f"{n}" + ("" if n == want else "   <-- FAIL")))
        if n != want:
            failed.append(label)
    for key in ("fd leak", "RSS growth", "vigild died", "vigild exit code", "sanitizer reports",
                "did not settle", "failover pair"):
        if c.get(key):
            failed.append(key)
    w = max(len(r[0]) for r in rows)
    print("\n| check | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k.ljust(w)} | {v} |")
    if stats.problems:
        print("\nproblems (first 40):")
        for kind, text in stats.problems[:40]:
            print(f"  {kind}: {text[:400]}")
    print("\nSOAK " + ("FAILED: " + ", ".join(sorted(set(failed))) if failed else "PASSED"))
    return not failed


def main():
    env = int(os.environ.get("SOAK_SECONDS", "600"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=env)
    ap.add_argument("--idle", type=int, default=int(os.environ.get("SOAK_IDLE", "2000")))
    ap.add_argument("--nginx", type=int, default=3)
    ap.add_argument("--streams", type=int, default=2, help="concurrent 16 MiB transfers")
    ap.add_argument("--stream-pause", type=float, default=1.0,
                    help="seconds each streamer rests between transfers")
    ap.add_argument("--pokers", type=int, default=2, help="threads of short connections")
    ap.add_argument("--poke-pause", type=float, default=0.05)
    ap.add_argument("--failover-every", type=float,
                    default=float(os.environ.get("SOAK_FAILOVER_EVERY", "30")),
                    help="seconds between failovers of the netns pair (0: off)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if not vigil.VIGILD.exists():
        sys.exit(f"{vigil.VIGILD} missing: run make first")
    # SIGTERM (e.g. make interrupted) unwinds through the finally below, so
    # everything started is stopped and removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soak = Soak(args)
    ok = False
    try:
        log(f"seed {args.seed}")
        result = soak.run()
        ok = report(result, soak.stats)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        if not ok:
            tail = soak.vigild.log()[-3000:]
            print("\nvigild log tail:\n" + tail)
    except Exception:   # noqa: BLE001
        traceback.print_exc()
        if soak.vigild:
            print("\nvigild log tail:\n" + soak.vigild.log()[-3000:])
    finally:
        soak.cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
