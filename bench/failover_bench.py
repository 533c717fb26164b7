#!/usr/bin/python3
"""Failover benchmark: vigil and keepalived (VRRPv3, unicast, same advert
interval) side by side on the netns testbed of tests/integration/netns.py.

  failover_bench.py outage [--reps 5] [--adv 100,50] [--impl vigil,keepalived]
  failover_bench.py load   [--adv 100,50,20] [--secs 60]
  failover_bench.py report            # rewrite the "## Failover" section of RESULTS.md

For each event (link loss of the master, clean stop, kill -9) it measures, from
the client's point of view (a TCP connect to VIP:8080 every 10 ms):
outage (longest gap between successful probes around the event), time to the
first gratuitous ARP from the new master, and how long the VIP lingers on the
old node. Raw results go to bench/failover_results.jsonl.

Needs root; uses only 192.0.2.0/24 inside its own namespaces.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from failover_bed import PORT, VIP, Pair, master_down_ms  # noqa: E402
from netns import HERE, PY, Testbed, wait_until  # noqa: E402

RAW = BENCH / "failover_results.jsonl"
EVENTS = ("link", "stop", "kill9")


# ------------------------------------------------------------------ keepalived

KA_CONF = """global_defs {{
  router_id {node}
  vrrp_version 3
  script_user root
  enable_script_security
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int {adv_s}
  unicast_src_ip {me}
  unicast_peer {{
    {peer}
  }}
  virtual_ipaddress {{
    {vip}/32 dev eth0
  }}
}}
"""


class KaPair:
    """Two keepalived instances; each node serves VIP:8080 itself (no proxy)."""

    def __init__(self, tmp, adv_ms):
        self.tmp = Path(tmp)
        self.bed = Testbed()
        self.procs = {}
        self.prober = None
        try:
            for n, other, prio in (("lb1", "lb2", 150), ("lb2", "lb1", 100)):
                node = self.bed[n]
                node.popen([PY, HERE / "netns.py", "name-server", "0.0.0.0", PORT, node.ip],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                conf = self.tmp / f"{n}.conf"
                conf.write_text(KA_CONF.format(node=n, prio=prio, adv_s=adv_ms / 1000,
                                               me=node.ip, peer=self.bed[other].ip, vip=VIP))
            self.start("lb1")
            wait_until(lambda: self.bed["lb1"].has(VIP), 10, "keepalived lb1 master")
            self.start("lb2")
            time.sleep(max(1.0, 10 * adv_ms / 1000))
            assert not self.bed["lb2"].has(VIP)
            self.prober = self.bed.prober("client", VIP, PORT, self.tmp / "probe.log")
            self.prober.wait_answer(self.bed["lb1"].ip, 5)
        except BaseException:
            self.close()
            raise

    def start(self, n):
        log = open(self.tmp / f"{n}.log", "ab")
        pid = self.tmp / f"{n}"
        self.procs[n] = self.bed[n].popen(
            ["keepalived", "-n", "-l", "-D", "-P", "-f", self.tmp / f"{n}.conf",
             "-p", f"{pid}.pid", "-r", f"{pid}.vrrp.pid", "-c", f"{pid}.chk.pid"],
            stdout=log, stderr=subprocess.STDOUT)

    def vrrp_pid(self, n):
        return int((self.tmp / f"{n}.vrrp.pid").read_text().split()[0])

    def event(self, ev):
        if ev == "link":
            self.bed["lb1"].link(False)
        elif ev == "stop":
            self.procs["lb1"].send_signal(signal.SIGTERM)
        else:
            child = self.vrrp_pid("lb1")
            self.procs["lb1"].send_signal(signal.SIGKILL)
            os.kill(child, signal.SIGKILL)

    def backup_is_master(self):
        return self.bed["lb2"].has(VIP)

    def close(self):
        if self.prober:
            self.prober.stop()
        self.bed.close()


class VigilPair:
    def __init__(self, tmp, adv_ms):
        fo = {"advert_interval": f"{adv_ms}ms", "track": {"services": False, "weight": 50}}
        self.p = Pair(Path(tmp), lb1_fo=fo, lb2_fo=dict(fo))
        self.bed = self.p.bed
        self.prober = self.p.prober

    def event(self, ev):
        if ev == "link":
            self.bed["lb1"].link(False)
        elif ev == "stop":
            self.p["lb1"].signal(signal.SIGTERM)
        else:
            self.p["lb1"].signal(signal.SIGKILL)

    def backup_is_master(self):
        return self.p["lb2"].state() == "master"

    def close(self):
        self.p.close()


def one_run(impl, adv_ms, ev):
    with tempfile.TemporaryDirectory(prefix="vfb") as tmp:
        pair = (VigilPair if impl == "vigil" else KaPair)(tmp, adv_ms)
        try:
            bed = pair.bed
            garps = Path(tmp) / "arp.log"
            w = bed["client"].popen([PY, HERE / "netns.py", "arp-watch", VIP, garps],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # settle (the client's neighbour entry must be older than the kernel's
            # locktime, 1 s, or it ignores the first GARP - true of any real LAN),
            # then a random phase against the advert timer, as a real failure has
            time.sleep(1.5 + random.uniform(0, adv_ms / 1000))
            t0 = time.monotonic()
            pair.event(ev)
            linger = None
            deadline = t0 + 2.0
            while time.monotonic() < deadline:
                if not bed["lb1"].has(VIP):
                    linger = time.monotonic() - t0
                    break
                time.sleep(0.005)
            pair.prober.wait_answer(bed["lb2"].ip, 10, after=t0)
            time.sleep(0.5)
            w.send_signal(signal.SIGTERM)
            w.wait(5)
            outage = pair.prober.outage(t0)
            first_garp = None
            for line in garps.read_text().splitlines():
                t, mac = float(line.split()[0]), line.split()[1]
                if t > t0 and mac == bed["lb2"].mac:
                    first_garp = t - t0
                    break
            return {"impl": impl, "adv_ms": adv_ms, "event": ev,
                    "outage_ms": round(outage * 1000, 1) if outage is not None else None,
                    "first_garp_ms": round(first_garp * 1000, 1) if first_garp else None,
                    "linger_ms": round(linger * 1000, 1) if linger is not None else None}
        finally:
            pair.close()


def cmd_outage(a):
    for adv in a.adv:
        for impl in a.impl:
            for ev in EVENTS:
                for rep in range(a.reps):
                    try:
                        r = one_run(impl, adv, ev)
                    except Exception as e:   # record and go on: a benchmark, not a test
                        r = {"impl": impl, "adv_ms": adv, "event": ev, "error": str(e)[:300]}
                    r["rep"] = rep
                    print(json.dumps(r), flush=True)
                    with open(RAW, "a") as f:
                        f.write(json.dumps(r) + "\n")


# ------------------------------------------------------------------ load

def ka_masters(pair):
    """How often each keepalived node entered master state so far."""
    return sum((pair.tmp / f"{n}.log").read_text(errors="replace").count("Entering MASTER STATE")
               for n in ("lb1", "lb2"))


def load_one(impl, adv, secs, logs):
    with tempfile.TemporaryDirectory(prefix="vfl") as tmp:
        if impl == "vigil":
            fo = {"advert_interval": f"{adv}ms", "track": {"services": False, "weight": 50}}
            p = Pair(Path(tmp), lb1_fo=fo, lb2_fo=dict(fo))
            bed = p.bed
            count = lambda: sum(p[n].fo()["transitions"] for n in ("lb1", "lb2"))  # noqa: E731
        else:
            p = KaPair(tmp, adv)
            bed = p.bed
            count = lambda: ka_masters(p)  # noqa: E731
        try:
            before = count()
            bulk = bed["client"].popen([PY, "-c", BULK, VIP, str(PORT), str(secs)],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            stress = subprocess.Popen(["stress-ng", "--cpu", "2", "--timeout", f"{secs}s",
                                       "--quiet"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            stress.wait(secs + 30)
            out = bulk.communicate(timeout=secs + 30)[0].decode().strip()
            r = {"impl": impl, "adv_ms": adv, "event": "load", "secs": secs,
                 "false_failovers": count() - before, "bulk_mb": out}
            if impl == "vigil":
                r["gaps"] = p["lb2"].fo()["adverts"].get("gaps")
                if logs:
                    Path(logs).mkdir(parents=True, exist_ok=True)
                    for n in ("lb1", "lb2"):
                        (Path(logs) / f"load-{adv}ms-{n}.log").write_text(p[n].log())
            return r
        finally:
            p.close()


def cmd_load(a):
    """Both cores busy (stress-ng on 2 CPUs + bulk traffic through the VIP):
    count failovers that should not happen (state changes during the run)."""
    for adv in a.adv:
        for impl in a.impl:
            r = load_one(impl, adv, a.secs, a.logs)
            print(json.dumps(r), flush=True)
            with open(RAW, "a") as f:
                f.write(json.dumps(r) + "\n")


BULK = r"""
import socket, sys, time, threading
ip, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
total = [0]
def run():
    end = time.monotonic() + secs
    buf = b"x" * 65536
    while time.monotonic() < end:
        try:
            s = socket.create_connection((ip, port), 2)
            s.recv(100)
            s.settimeout(2)
            while time.monotonic() < end:
                s.sendall(buf)
                total[0] += len(buf)
            s.close()
        except OSError:
            time.sleep(0.01)
ts = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print(round(total[0] / 1e6))
"""


# ------------------------------------------------------------------ report

def fmt(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    return f"{statistics.median(vals):.0f} ({min(vals):.0f}-{max(vals):.0f})"


def cmd_report(a):
    rows = [json.loads(l) for l in RAW.read_text().splitlines()] if RAW.exists() else []
    lines = ["## Failover", "",
             "`bench/failover_bench.py` on the netns testbed (bridge, lb1 prio 150, lb2 prio 100,",
             "client probing VIP:8080 with a TCP connect every 10 ms). keepalived 2.2.7, VRRPv3,",
             "unicast, same advert interval; each keepalived node serves the port itself. ms,",
             "median (min-max) over the repetitions. *outage*: longest gap between successful",
             "probes around the event; *first GARP*: from the event to the new master's first",
             "gratuitous ARP seen by the client; *linger*: how long the VIP stays on the old",
             "master (\"stays\" = still there after 2 s).", ""]
    out = []
    for adv in sorted({r["adv_ms"] for r in rows if r.get("event") in EVENTS}, reverse=True):
        out.append(f"### advert interval {adv} ms (master-down of the backup: "
                   f"{master_down_ms(100, adv):.0f} ms)")
        out.append("")
        out.append("| event | impl | runs | outage | first GARP | linger on old master |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for ev in EVENTS:
            for impl in ("vigil", "keepalived"):
                rs = [r for r in rows if r["adv_ms"] == adv and r["event"] == ev and
                      r["impl"] == impl]
                if not rs:
                    continue
                ok = [r for r in rs if "error" not in r]
                stays = sum(1 for r in ok if r["linger_ms"] is None)
                linger = fmt([r["linger_ms"] for r in ok])
                if stays:
                    linger = "stays" if stays == len(ok) else f"{linger}, stays in {stays}"
                err = f" ({len(rs) - len(ok)} failed)" if len(ok) < len(rs) else ""
                out.append(f"| {ev} | {impl} | {len(ok)}{err} | "
                           f"{fmt([r['outage_ms'] for r in ok])} | "
                           f"{fmt([r['first_garp_ms'] for r in ok])} | {linger} |")
        out.append("")
    loads = [r for r in rows if r.get("event") == "load"]
    if loads:
        out.append("### No false failover under load")
        out.append("")
        out.append("60 s of stress-ng --cpu 2 (both cores busy) plus 4 bulk TCP streams to the VIP")
        out.append("(through vigil's proxy; to the node itself for keepalived). State changes that")
        out.append("should not happen: vigil transitions / keepalived \"Entering MASTER STATE\"")
        out.append("lines (a flap counts 2 either way). vigil sends adverts from a SCHED_FIFO thread")
        out.append("and drains its socket before declaring the master dead.")
        out.append("")
        out.append("| advert interval | impl | seconds | state changes | MB moved to the VIP |")
        out.append("| --- | --- | --- | --- | --- |")
        for r in sorted(loads, key=lambda r: (-r["adv_ms"], r.get("impl", "vigil"))):
            out.append(f"| {r['adv_ms']} ms | {r.get('impl', 'vigil')} | {r['secs']:.0f} | "
                       f"{r['false_failovers']} | {r['bulk_mb']} |")
        out.append("")
    out += [
        "Notes:",
        "- Targets of issue 4: link loss <= 3 x advert + skew + 20 ms (381 ms at 100 ms, 92 ms",
        "  at 20 ms), clean stop <= 30 ms, after kill -9 the VIP leaves the dead node and the",
        "  outage stays within the link-loss figure.",
        "- kill -9 of keepalived (parent and VRRP child) leaves the VIP on the dead node",
        "  (\"stays\"): both nodes then own it, a duplicate address. Its small outage here only",
        "  means that the test server on that node was still alive; with a dead proxy the",
        "  address is a black hole. vigil's watcher removes it within a few ms.",
        "- Clean stop: vigil sends a priority-0 advert and the peer claims at once (no skew",
        "  wait); keepalived's backup waits its skew time.",
        "- Smallest advert interval that held under load on this 2-core machine: 20 ms",
        "  (config minimum is 10 ms; at 10 ms one flap in 60 s, keepalived two). Before",
        "  adverts moved to their own real-time thread, vigil flapped even at 100 ms",
        "  (4 state changes in 60 s): a loop shared with the data path is not enough.",
        "- Duplicate-address probe (3 ARP probes / NS, 20 ms apart, <= 60 ms) runs at",
        "  start-up and on `vigilctl takeover` only; automatic failover after master-down",
        "  skips it (the peer is known to be gone, and its VIP goes with its watcher).",
        "",
    ]
    section = "\n".join(lines + out) + "\n"
    res = BENCH / "RESULTS.md"
    text = res.read_text() if res.exists() else "# Benchmark results\n\n"
    start = text.find("## Failover")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[nxt + 1:] if nxt >= 0 else "")
    res.write_text(text)
    print(section)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["outage", "load", "report"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--adv", default="100")
    ap.add_argument("--impl", default="vigil,keepalived")
    ap.add_argument("--secs", type=float, default=60)
    ap.add_argument("--logs", help="load: keep the vigild logs in this directory")
    a = ap.parse_args()
    a.adv = [int(x) for x in a.adv.split(",")]
    a.impl = a.impl.split(",")
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    {"outage": cmd_outage, "load": cmd_load, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
