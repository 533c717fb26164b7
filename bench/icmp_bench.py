#!/usr/bin/python3
"""ICMP probe benchmark (issue 14): one vigild checking 1 000 backends with
check type icmp every second (10 services of 100; 127.0.0.0/8 addresses, which
the loopback answers), measuring over a window after a warm-up:
  - vigild CPU % (utime + stime from /proc, one core = 100 %),
  - probes completed per second (vigil_check_probes_total from the status),
  - backends whose check was not ok in any once-a-second status sample,
  - vigild memory (VmRSS).
Writes its section "## ICMP probes" of bench/RESULTS.md (other sections kept).

    /usr/bin/python3 bench/icmp_bench.py [--backends 1000] [--seconds 30]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from vigil import Vigild, free_port, http_get, metric, parse_prometheus  # noqa: E402

VIP = "127.0.0.16"
HEADING = "## ICMP probes"


def cpu_ticks(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def config(n):
    services = []
    per = 100
    for s in range(0, n, per):
        bes = []
        for i in range(s, min(n, s + per)):
            bes.append({"name": f"b{i}", "address": f"127.1.{i // 250}.{i % 250 + 1}", "port": 9})
        services.append({"name": f"ping{s // per}", "vip": VIP, "ports": [free_port(VIP)],
                         "check": {"type": "icmp", "interval": "1s", "timeout": "1s",
                                   "rise": 2, "fall": 3},
                         "backends": bes})
    return {"global": {"log_level": "notice", "status_listen": f"127.0.0.1:{HPORT}"},
            "services": services}


HPORT = free_port()


def probes_total():
    _, _, body = http_get("127.0.0.1", HPORT, "/metrics")
    return metric(parse_prometheus(body.decode()), "vigil_check_probes_total")


def run(n, seconds, warm):
    with tempfile.TemporaryDirectory() as tmp:
        v = Vigild(tmp, config(n), name="icmpbench").start()
        try:
            time.sleep(warm)
            hz = os.sysconf("SC_CLK_TCK")
            t0, c0 = time.monotonic(), cpu_ticks(v.pid)
            p0 = probes_total()
            bad = set()
            end = t0 + seconds
            while time.monotonic() < end:
                st = v.status()
                for s in st["services"]:
                    for b in s["backends"]:
                        if b["check"]["last"] != "ok":
                            bad.add((s["name"], b["name"]))
                time.sleep(1)
            t1, c1 = time.monotonic(), cpu_ticks(v.pid)
            p1 = probes_total()
            cpu = 100.0 * (c1 - c0) / hz / (t1 - t0)
            rate = (p1 - p0) / (t1 - t0)
            return {"backends": n, "cpu": cpu, "rate": rate, "bad": len(bad),
                    "rss": rss_kib(v.pid) / 1024, "seconds": t1 - t0}
        finally:
            v.stop()


def write(r):
    row = (f"| ICMP echo (raw socket) | {r['backends']} | {r['cpu']:.1f} % | {r['rate']:.0f} | "
           f"{r['bad']} | {r['rss']:.1f} MiB |")
    text = f"""{HEADING}

| probes | backends | vigild CPU | probes/s (target 1000) | not ok in a sample | vigild RSS |
| --- | --- | --- | --- | --- | --- |
{row}

Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores.

One vigild checking {r['backends']} backends (10 services of 100) with `check: {{type: icmp,
interval: 1s, timeout: 1s}}`; the backends are addresses in 127.1.0.0/16, which the
loopback answers. {r['seconds']:.0f} s window after a 5 s warm-up, on the shared 2-core
build machine. vigild CPU: utime + stime over the window (one core = 100 %). probes/s:
the checker's probe counter over the window (the 0..10 % schedule jitter makes the mean
period ~0.95 s). All probes share one raw socket (ping sockets are not allowed here:
net.ipv4.ping_group_range is "1 0"), so the loopback also delivers every echo reply to
it once; each reply is matched by sequence number in one table lookup. The
once-a-second status sample of all {r['backends']} backends is included in vigild's CPU.

Run: `make && /usr/bin/python3 bench/icmp_bench.py`.
"""
    res = ROOT / "bench" / "RESULTS.md"
    old = res.read_text()
    if HEADING in old:
        start = old.index(HEADING)
        nxt = old.find("\n## ", start + len(HEADING))
        old = old[:start] + (old[nxt + 1:] if nxt >= 0 else "")
        old = old.rstrip("\n") + "\n"
    res.write_text(old.rstrip("\n") + "\n\n" + text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    r = run(a.backends, a.seconds, 5)
    print(r)
    if not a.no_write:
        write(r)


if __name__ == "__main__":
    main()
