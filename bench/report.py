#!/usr/bin/python3
"""report.py - the "## Data path" section of bench/RESULTS.md from bench.py's
results (and callgrind.sh's, when given).

    report.py RESULTS.json [CALLGRIND.json ...] [--md bench/RESULTS.md]

Only the text between "## Data path" and the next "## " heading is rewritten;
the other sections of the file are left as they are. The newest run comes
first; the previous runs (up to KEEP_RUNS in all) are kept below it.
"""
import argparse
import json
import os
import re
import statistics
import sys
from pathlib import Path

HEADING = "## Data path"
RUN_HEADING = "### Run "
KEEP_RUNS = 3
SYSTEMS = ["direct", "vigil", "haproxy", "haproxy-splice"]
LABEL = {"direct": "direct", "vigil": "vigil", "haproxy": "HAProxy",
         "haproxy-splice": "HAProxy splice-auto"}

# (key in results, row label, format)
ROWS = [
    ("conn_close.conn_per_s", "new connections/s (`Connection: close`, 128 B)", "{:,.0f}"),
    ("keepalive.req_per_s", "keep-alive requests/s (128 B)", "{:,.0f}"),
    ("keepalive.p50_ms", "keep-alive latency p50, ms", "{:.3f}"),
    ("keepalive.p99_ms", "keep-alive latency p99, ms", "{:.3f}"),
    ("bulk_wrk.gbit_s", "bulk 1 MiB objects (wrk), Gbit/s", "{:.2f}"),
    ("bulk_iperf.gbit_s", "bulk one iperf3 stream, Gbit/s", "{:.2f}"),
    ("conn_close.cpu_per_1k_conn", "proxy CPU s per 1000 connections", "{:.4f}"),
    ("keepalive.cpu_per_1k_req", "proxy CPU s per 1000 keep-alive requests", "{:.4f}"),
    ("bulk_wrk.cpu_per_gb", "proxy CPU s per GB (wrk 1 MiB)", "{:.3f}"),
    ("bulk_iperf.cpu_per_gb", "proxy CPU s per GB (iperf3)", "{:.3f}"),
    ("conn_close.busy_pct", "whole machine CPU busy, new-connections run, %", "{:.0f}"),
    ("bulk_iperf.busy_pct", "whole machine CPU busy, iperf3 run, %", "{:.0f}"),
    ("conn_close.sys_pct", "kernel share of the proxy's CPU, new connections, %", "{:.0f}"),
    ("bulk_iperf.sys_pct", "kernel share of the proxy's CPU, iperf3, %", "{:.0f}"),
    ("idle.rss_base_kib", "proxy RSS before, KiB", "{:,.0f}"),
    ("idle.rss_idle_kib", "proxy RSS with the idle connections, KiB", "{:,.0f}"),
    ("idle.kib_per_conn", "KiB per idle connection (over the baseline)", "{:.2f}"),
]


def stats(values):
    return min(values), statistics.median(values), max(values)


def med(res, system, key):
    v = res[system].get(key)
    return statistics.median(v) if v else None


def cell(values, fmt):
    if not values:
        return "–"
    lo, mid, hi = stats(values)
    return f"**{fmt.format(mid)}** ({fmt.format(lo)}–{fmt.format(hi)})"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "–"


def main_table(res):
    head = ["metric (median (min–max))"] + [LABEL[s] for s in SYSTEMS] + \
           ["vigil/direct", "vigil/HAProxy", "vigil/HAProxy splice"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, fmt in ROWS:
        row = [label] + [cell(res[s].get(key), fmt) for s in SYSTEMS]
        v = med(res, "vigil", key)
        row += [ratio(v, med(res, s, key)) for s in ("direct", "haproxy", "haproxy-splice")]
        out.append("| " + " | ".join(row) + " |")
    return out


def targets(res):
    """(target, measured, pass) rows, medians throughout."""
    rows = []
    v = lambda k: med(res, "vigil", k)

    def add(what, got, limit, ok):
        rows.append((what, "–" if got is None else f"{got:.2f} (limit {limit})",
                     "–" if got is None else ("PASS" if ok(got) else "FAIL")))

    def rel(key, other):
        a, b = v(key), med(res, other, key)
        return a / b if a is not None and b else None

    add("connections/s ≥ 0.80 × direct", rel("conn_close.conn_per_s", "direct"), "0.80",
        lambda r: r >= 0.80)
    for hp in ("haproxy", "haproxy-splice"):
        add(f"connections/s ≥ 1.2 × {LABEL[hp]}", rel("conn_close.conn_per_s", hp), "1.20",
            lambda r: r >= 1.2)
    for key, what in (("bulk_wrk.gbit_s", "1 MiB wrk"), ("bulk_iperf.gbit_s", "iperf3")):
        add(f"bulk ({what}) ≥ 0.90 × direct", rel(key, "direct"), "0.90", lambda r: r >= 0.90)
    for key, what in (("bulk_wrk.cpu_per_gb", "1 MiB wrk"), ("bulk_iperf.cpu_per_gb", "iperf3")):
        for hp in ("haproxy", "haproxy-splice"):
            add(f"CPU per GB ({what}) ≤ 0.6 × {LABEL[hp]}", rel(key, hp), "0.60",
                lambda r: r <= 0.6)
    kib = v("idle.kib_per_conn")
    rows.append(("≤ 4 KiB of vigild memory per idle connection",
                 "–" if kib is None else f"{kib:.2f} KiB", "–" if kib is None else
                 ("PASS" if kib <= 4 else "FAIL")))
    return ["| target | vigil (ratio of medians) | result |", "|---|---|---|"] + \
           [f"| {a} | {b} | {c} |" for a, b, c in rows]


def callgrind_lines(cgs):
    if not cgs:
        return []
    out = ["", "User-space instructions of vigild under callgrind (`bench/callgrind.sh`; "
           "kernel work such as splice(2) is not counted):", "",
           "| relay | connections | Ir per connection | bulk MiB | Ir per MiB |",
           "|---|---|---|---|---|"]
    for cg in cgs:
        out.append(f"| {cg['relay']} (`{cg['cmd']}`) | {cg['conns']} | {cg['ir_per_conn']:,} | "
                   f"{cg['mib']} | {cg['ir_per_mib']:,} |")
    for cg in cgs[:1]:
        out += ["", f"Top self cost, {cg['relay']} relay, short connections:", "", "```"]
        out += cg["top_conns"] + ["```"]
    return out


def commands(data):
    cmds = data["commands"]
    out = ["Commands (ports differ per system; the same for all four):", "", "```"]
    for test in ("conn_close", "keepalive", "bulk_wrk", "bulk_iperf", "idle"):
        if test in cmds:
            c = cmds[test].get("vigil") or next(iter(cmds[test].values()))
            out.append(c)
    out += ["vigild -c vigil.yaml            # bench/conf/vigil.yaml.in, workers: 1, check: {type: tcp}",
            "haproxy -db -f haproxy.cfg      # bench/conf/haproxy.cfg.in, nbthread 1, mode tcp",
            "nginx -p DIR -e DIR/nginx-error.log -c DIR/nginx.conf   # bench/conf/nginx.conf.in",
            "iperf3 -s -B 127.0.0.1 -p PORT", "```"]
    return out


def run_block(data, cgs):
    m = data["machine"]
    res = data["results"]
    ver = m["versions"]
    out = [f"{RUN_HEADING}{m['date']}", "",
           f"Machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}. "
           f"{data['reps']} repetitions × {data['secs']} s per measurement, "
           f"each proxy started afresh per repetition, each measurement run on the four "
           f"systems back to back (order rotated per repetition); total {data['wall_s']:.0f} s.", "",
           "1-minute load average as each repetition started: " +
           ", ".join(f"{x:.2f}" for x in data.get("loadavg", [])) +
           " (the machine is shared: other engineers' test suites run at the same time).", "",
           "Versions: " + "; ".join(f"{k}: {v}" for k, v in ver.items()) + ".", ""]
    out += main_table(res)
    out += ["", f"Idle connections: {data['idle']:,} (not 10,000: the hard RLIMIT_NOFILE here is "
            f"20,000 and a proxy holds 2 fds per connection; HAProxy maxconn "
            f"{data['haproxy_maxconn']}, maxpipes 128). CPU = utime+stime of the proxy process "
            "from /proc/PID/stat over the run; GB = 10^9 bytes of HTTP responses (wrk) or "
            "iperf3 payload.", "", "Targets:", ""]
    out += targets(res)
    out += callgrind_lines(cgs)
    out += [""] + commands(data)
    if data.get("notes"):
        out += ["", "Notes: " + "; ".join(data["notes"])]
    return "\n".join(out) + "\n"


def split_section(text, heading=HEADING):
    """(before, section, after) around heading; section empty when missing."""
    m = re.search("^" + re.escape(heading) + r"[^\n]*\n", text, re.M)
    if not m:
        return text, "", ""
    nxt = re.search(r"^## ", text[m.end():], re.M)
    end = m.end() + nxt.start() if nxt else len(text)
    return text[:m.start()], text[m.start():end], text[end:]


INTRO = """{h}

`make bench` (bench/run.sh): vigil (`workers: 1`) vs HAProxy 2.6 (`mode tcp`, `nbthread 1`,
with and without `option splice-auto`) vs a direct connection, in one run, nginx (one worker),
iperf3 and an idle-connection holder as backends on 127.0.0.1. How it is measured and
the profile of where vigil loses: bench/README.md. Newest run first.
"""


def update(md_path, block, heading=HEADING, intro=INTRO, after_heading=None):
    """Put block first among the runs of section heading (intro above them),
    keeping up to KEEP_RUNS; a missing section goes after the section
    after_heading (or at the end)."""
    text = md_path.read_text() if md_path.exists() else "# Benchmark results\n\n"
    before, section, after = split_section(text, heading)
    if not section and after_heading:
        b, s, a = split_section(text, after_heading)
        if s:
            before, after = b + s, a
    old_runs = []
    if section:
        parts = section.split("\n" + RUN_HEADING)
        old_runs = [RUN_HEADING + p.rstrip("\n") + "\n" for p in parts[1:]]
    runs = [block] + old_runs[:KEEP_RUNS - 1]
    new = intro.format(h=heading) + "\n" + "\n".join(runs)
    if not before.endswith("\n\n") and before:
        before = before.rstrip("\n") + "\n\n"
    if after:
        new += "\n"
    tmp = md_path.with_suffix(".md.tmp")
    tmp.write_text(before + new + after)
    os.replace(tmp, md_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("callgrind", nargs="*")
    ap.add_argument("--md", default=str(Path(__file__).resolve().parent / "RESULTS.md"))
    ap.add_argument("--print-only", action="store_true", help="leave RESULTS.md alone")
    args = ap.parse_args()
    data = json.loads(Path(args.results).read_text())
    cgs = [json.loads(Path(p).read_text()) for p in args.callgrind if Path(p).exists()]
    block = run_block(data, cgs)
    if not args.print_only:
        update(Path(args.md), block)
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
