#!/usr/bin/python3
"""workers_report.py - the "## Workers" section of bench/RESULTS.md from
workers_bench.py's results.

    workers_report.py RESULTS.json [--md bench/RESULTS.md] [--print-only]

Only the text between "## Workers" and the next "## " heading is rewritten
(newest run first, report.KEEP_RUNS kept); a missing section goes after
"## Data path".
"""
import argparse
import json
import sys
from pathlib import Path

sys.dont_write_bytecode = True

import report
from workers_bench import LABEL, PINNED

HEADING = "## Workers"
INTRO = """{h}

`make bench` (bench/workers_bench.py, `BENCH_WORKERS=0` skips it): vigil `workers: 1`
and `workers: 2` against HAProxy 2.6 `nbthread 1` and `nbthread 2` (`mode tcp`,
`option splice-auto`) and a direct connection, in one run under the same load; the
proxies pinned to their own core; SO_REUSEPORT against one shared listening socket;
idle connections held while new clients are served. How it is measured:
bench/README.md; the cost model derived from it: the next section. Newest run first.
"""

MAIN_ROWS = [
    ("conn_close.conn_per_s", "new connections/s (`Connection: close`, 128 B)", "{:,.0f}"),
    ("conn_close.cpu_per_1k_conn", "proxy CPU s per 1000 connections", "{:.4f}"),
    ("conn_close.proxy_cpu_pct", "proxy CPU %, new-connections run", "{:.0f}"),
    ("keepalive.req_per_s", "keep-alive requests/s (128 B)", "{:,.0f}"),
    ("keepalive.p50_ms", "keep-alive latency p50, ms", "{:.3f}"),
    ("keepalive.p99_ms", "keep-alive latency p99, ms", "{:.3f}"),
    ("keepalive.cpu_per_1k_req", "proxy CPU s per 1000 keep-alive requests", "{:.4f}"),
    ("bulk_wrk.gbit_s", "bulk 1 MiB objects (wrk), Gbit/s", "{:.2f}"),
    ("bulk_wrk.cpu_per_gb", "proxy CPU s per GB (wrk 1 MiB)", "{:.3f}"),
    ("bulk_wrk.proxy_cpu_pct", "proxy CPU %, bulk run", "{:.0f}"),
    ("conn_close.busy_pct", "whole machine CPU busy, new-connections run, %", "{:.0f}"),
    ("bulk_wrk.busy_pct", "whole machine CPU busy, bulk run, %", "{:.0f}"),
]
MAIN_COLS = ["direct", "vigil-1", "haproxy-1", "vigil-2", "haproxy-2"]
# (numerator, denominator, heading)
MAIN_RATIOS = [("vigil-1", "haproxy-1", "vigil w1 / HAProxy t1"),
               ("vigil-2", "haproxy-2", "vigil w2 / HAProxy t2"),
               ("vigil-2", "vigil-1", "vigil w2 / w1")]
PIN_ROWS = [
    ("conn_close.conn_per_s", "new connections/s", "{:,.0f}"),
    ("conn_close.cpu_per_1k_conn", "proxy CPU s per 1000 connections", "{:.4f}"),
    ("conn_close.proxy_cpu_pct", "proxy CPU % (100 = its core)", "{:.0f}"),
    ("conn_close.ceiling_conn_per_s", "its core's ceiling: 1 s / CPU per connection, conn/s",
     "{:,.0f}"),
    ("keepalive.req_per_s", "keep-alive requests/s", "{:,.0f}"),
    ("keepalive.p99_ms", "keep-alive latency p99, ms", "{:.3f}"),
    ("keepalive.cpu_per_1k_req", "proxy CPU s per 1000 keep-alive requests", "{:.4f}"),
    ("keepalive.proxy_cpu_pct", "proxy CPU %, keep-alive run", "{:.0f}"),
    ("keepalive.ceiling_req_per_s", "its core's ceiling: 1 s / CPU per request, req/s",
     "{:,.0f}"),
    ("conn_close.busy_pct", "whole machine CPU busy, new-connections run, %", "{:.0f}"),
]
SHARED_ROWS = [
    ("conn_close.conn_per_s", "new connections/s", "{:,.0f}"),
    ("conn_close.cpu_per_1k_conn", "proxy CPU s per 1000 connections", "{:.4f}"),
    ("conn_close.proxy_cpu_pct", "proxy CPU %", "{:.0f}"),
    ("conn_close.busy_pct", "whole machine CPU busy, %", "{:.0f}"),
]


def table(res, cols, rows, ratios):
    head = ["metric (median (min–max))"] + [LABEL[c] for c in cols] + [r[2] for r in ratios]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, fmt in rows:
        row = [label] + [report.cell(res[c].get(key), fmt) for c in cols]
        row += [report.ratio(report.med(res, a, key), report.med(res, b, key))
                for a, b, _ in ratios]
        out.append("| " + " | ".join(row) + " |")
    return out


def shares(data, system):
    runs = data["results"]["workers_share"].get(system) or []
    if not runs:
        return "–"
    return "; ".join("/".join(f"{x:.0f}" for x in r) for r in runs)


def idle_lines(data):
    idle = data["results"].get("idle")
    if not idle:
        return []
    out = ["", f"**Idle connections** (asked: {data['idle_asked']:,}). The hard "
           f"`RLIMIT_NOFILE` here is {idle['nofile_hard']:,} and cannot be raised (no "
           f"`CAP_SYS_RESOURCE` in this container: `prlimit`/`ulimit -n` above it fail with "
           f"EPERM, whatever `fs.nr_open` says); vigild needs 2 descriptors a connection, so one "
           f"vigild can hold at most {idle['vigild_cap']:,}. The first row fills one vigild to "
           f"{100 * 0.95:.0f} % of that; the second holds all the connections asked over as "
           "many vigild instances (each `workers: 2`, its own VIP 127.0.2.x, clients from "
           "127.0.1.x, 8 idle backends on 127.0.0.2–9). New clients: `idle.py probe` "
           "(connect + `GET /small` + the whole reply, one at a time, 800 started per second, "
           "4,000 in all: every other one through vigild to nginx, spread over the instances, "
           "the others straight to nginx as the reference for what this busy machine allows), "
           "before and while the connections are held.", "",
           "| vigild instances | idle connections held | vigild RSS before → with, KiB (sum) | "
           "KiB per connection | machine memory used by the test, MiB | time to connect, s | "
           "new clients via vigild, p50 / p99 / max, ms: before | … while held | direct to "
           "nginx meanwhile: before | … while held | failed |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    lat = lambda r, bold="": (f"{r['p50_ms']:.2f} / {bold}{r['p99_ms']:.2f}{bold} / "
                              f"{r['max_ms']:.1f}" if r["ok"] else "–")
    for r in idle["runs"]:
        b, d = r["probe_before"], r["probe_during"]
        held = r["held"]
        fails = sum(x[k]["failed"] for x in (b, d) for k in ("via", "direct") if k in x)
        out.append(
            f"| {r['instances']} | **{sum(held):,}** ({min(held):,}–{max(held):,} each) | "
            f"{sum(r['rss_base_kib']):,} → {sum(r['rss_idle_kib']):,} | "
            f"**{r['rss_per_conn_kib']:.2f}** | {r['machine_mem_mib']:,.0f} "
            f"(slab {r['slab_mib']:,.0f}) | {r['connect_s']:.1f} | "
            f"{lat(b['via'])} | {lat(d['via'], '**')} | "
            f"{lat(b['direct']) if 'direct' in b else '–'} | "
            f"{lat(d['direct']) if 'direct' in d else '–'} | {fails} |")
    return out


def derive(res):
    """Per-core ceilings of the pinned proxies: 1 s over CPU per unit."""
    for s in res.values():
        for key, out in (("conn_close.cpu_per_1k_conn", "conn_close.ceiling_conn_per_s"),
                         ("keepalive.cpu_per_1k_req", "keepalive.ceiling_req_per_s")):
            if s.get(key):
                s[out] = [1000.0 / x for x in s[key] if x]


def run_block(data):
    m = data["machine"]
    res = data["results"]
    derive(res["pinned"])
    load, pl = data["load"], data["pin_load"]
    out = [f"{report.RUN_HEADING}{m['date']}", "",
           f"Machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}. "
           f"{data['reps']} repetitions × {data['secs']} s per measurement, proxies started "
           f"afresh per repetition, each measurement run on all systems back to back (order "
           f"rotated per repetition); total {data['wall_s']:.0f} s. 1-minute load average as each "
           "repetition started: " + ", ".join(f"{x:.2f}" for x in data.get("loadavg", [])) +
           f"; whole machine busy over the run: {data.get('busy_pct', 0):.0f} % (/proc/stat; "
           "the machine is shared with other engineers' tests and fuzzers).", "",
           "Versions: " + "; ".join(f"{k}: {v}" for k, v in m["versions"].items()
                                    if k != "iperf3") + ".", "",
           f"**Side by side**, the same load for every system: `wrk -t{load['conn_close']['threads']} "
           f"-c{load['conn_close']['conns']}` for new connections and keep-alive, `wrk "
           f"-t{load['bulk_wrk']['threads']} -c{load['bulk_wrk']['conns']}` for 1 MiB objects; "
           "nginx one worker; nothing pinned.", ""]
    out += table(res["main"], MAIN_COLS, MAIN_ROWS, MAIN_RATIOS)
    out += ["", "Share of the new connections accepted by each vigil worker (worker 0/1, "
            "%, per repetition, from `vigil_worker_connections_total`): SO_REUSEPORT "
            f"{shares(data, 'vigil-2')}; shared socket {shares(data, 'vigil-2-shared')}.", "",
            "**SO_REUSEPORT against one shared listening socket** (`workers: 2`; shared: "
            "`VIGIL_LISTEN_SHARED=1`, every worker's loop watches the one socket and wakes for "
            "each new client), same run and load as above:", ""]
    out += table(res["main"], ["vigil-2", "vigil-2-shared"], SHARED_ROWS,
                 [("vigil-2-shared", "vigil-2", "shared / SO_REUSEPORT")])
    if any(res["pinned"][s] for s in PINNED):
        out += ["", f"**Pinned**: the proxy alone on CPU 1 (`taskset -c 1`), `wrk -t{pl['threads']} "
                f"-c{pl['conns']}` and nginx on CPU 0 (`taskset -c 0`); `workers: 1` against "
                "`nbthread 1`. direct: wrk and nginx on CPU 0, the load side's own ceiling. A "
                "proxy near 100 % CPU is at its ceiling; below that, the load side (one core for "
                "wrk and nginx, shared with the machine's other users) did not reach it, and the "
                "ceiling is derived from the proxy's CPU per connection.", ""]
        out += table(res["pinned"], PINNED, PIN_ROWS, [("vigil-1", "haproxy-1",
                                                         "vigil / HAProxy")])
    out += idle_lines(data)
    out += ["", "Commands:", "", "```"]
    for k, c in sorted(data["commands"].items()):
        out.append(c)
    out += ["vigild -c vigil.yaml       # bench/conf/vigil.yaml.in, workers: 1 or 2, "
            "status_listen for the per-worker counters",
            "VIGIL_LISTEN_SHARED=1 vigild -c vigil.yaml   # the shared-socket A/B",
            "haproxy -db -f haproxy.cfg # bench/conf/haproxy.cfg.in, nbthread 1 or 2, "
            "option splice-auto",
            "taskset -c 1 vigild|haproxy ...; taskset -c 0 nginx ...; taskset -c 0 wrk ...   "
            "# pinned", "```"]
    if data.get("notes"):
        out += ["", "Notes: " + "; ".join(data["notes"])]
    return "\n".join(out) + "\n"


def write(md_path, block):
    report.update(md_path, block, heading=HEADING, intro=INTRO, after_heading=report.HEADING)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--md", default=str(Path(__file__).resolve().parent / "RESULTS.md"))
    ap.add_argument("--print-only", action="store_true")
    args = ap.parse_args()
    data = json.loads(Path(args.results).read_text())
    block = run_block(data)
    if not args.print_only:
        write(Path(args.md), block)
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
