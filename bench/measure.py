"""measure.py - one measurement each: wrk (new connections, keep-alive, 1 MiB
bulk), one iperf3 stream, and the RSS of idle connections. Each returns a dict
of numbers plus the exact command it ran; proxy CPU comes from /proc/PID/stat
read before and after.
"""
import json
import subprocess
import time

import procs

WRK_LUA = procs.HERE / "wrk_json.lua"


class Sampler:
    """CPU of the proxy (utime+stime) and of the whole machine over one run."""

    def __init__(self, pid):
        self.pid = pid
        self.proc0 = procs.cpu_times(pid) if pid else None
        self.mach0 = procs.machine_ticks()
        self.t0 = time.monotonic()

    def stop(self, m):
        """Add busy_pct (whole machine) and sys_pct (kernel share of the proxy's
        CPU) to m; return the proxy's CPU seconds, None for a direct run."""
        busy, total = procs.machine_ticks()
        m["busy_pct"] = 100.0 * (busy - self.mach0[0]) / max(total - self.mach0[1], 1)
        if not self.pid:
            return None
        u, s = procs.cpu_times(self.pid)
        cpu = (u - self.proc0[0]) + (s - self.proc0[1])
        m["sys_pct"] = 100.0 * (s - self.proc0[1]) / cpu if cpu > 0 else 0.0
        m["proxy_cpu_pct"] = 100.0 * cpu / max(time.monotonic() - self.t0, 1e-3)
        return cpu


def wrk(url, conns, secs, extra=(), threads=1, cpus=None):
    """Run wrk (threads threads; cpus: under taskset) and return its JSON
    summary plus 'cmd'."""
    argv = procs.pinned(cpus, ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--timeout",
                               "5s", "-s", str(WRK_LUA), *extra, url])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30)
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            out = json.loads(line[len("WRKJSON "):])
            out["cmd"] = " ".join(a if " " not in a else f"'{a}'" for a in argv)
            out["secs"] = out["duration_us"] / 1e6
            return out
    raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")


def _errors(w):
    return sum(w["errors"].values())


def conn_close(port, pid, secs, conns=32, threads=1, cpus=None):
    """New connections per second: one request per connection, small object."""
    smp = Sampler(pid)
    w = wrk(f"http://127.0.0.1:{port}/small", conns, secs, ["-H", "Connection: close"],
            threads, cpus)
    m = {"conn_per_s": w["requests"] / w["secs"], "errors": _errors(w), "cmd": w["cmd"]}
    cpu = smp.stop(m)
    if cpu is not None:
        m["cpu_per_1k_conn"] = cpu / (w["requests"] / 1000.0)
    return m


def keepalive(port, pid, secs, conns=32, threads=1, cpus=None):
    """Requests per second over kept-alive connections, with p50/p99 latency."""
    smp = Sampler(pid)
    w = wrk(f"http://127.0.0.1:{port}/small", conns, secs, ["--latency"], threads, cpus)
    m = {"req_per_s": w["requests"] / w["secs"], "p50_ms": w["p50_us"] / 1000.0,
         "p99_ms": w["p99_us"] / 1000.0, "errors": _errors(w), "cmd": w["cmd"]}
    cpu = smp.stop(m)
    if cpu is not None:
        m["cpu_per_1k_req"] = cpu / (w["requests"] / 1000.0)
    return m


def bulk_wrk(port, pid, secs, conns=4, threads=1, cpus=None):
    """Gbit/s of 1 MiB objects over kept-alive connections."""
    smp = Sampler(pid)
    w = wrk(f"http://127.0.0.1:{port}/1m", conns, secs, (), threads, cpus)
    m = {"gbit_s": w["bytes"] * 8 / w["secs"] / 1e9, "errors": _errors(w), "cmd": w["cmd"]}
    cpu = smp.stop(m)
    if cpu is not None:
        m["cpu_per_gb"] = cpu / (w["bytes"] / 1e9)
    return m


def bulk_iperf(port, pid, secs):
    """One iperf3 TCP stream, client to server."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs), "-J"]
    smp = Sampler(pid)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30)
    try:
        end = json.loads(r.stdout)["end"]["sum_received"]
    except (ValueError, KeyError) as e:
        raise RuntimeError(f"iperf3 failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-300:]}") from e
    m = {"gbit_s": end["bits_per_second"] / 1e9, "cmd": " ".join(argv)}
    cpu = smp.stop(m)
    if cpu is not None:
        m["cpu_per_gb"] = cpu / (end["bytes"] / 1e9)
    return m


def idle_rss(proxy_port, backend_port, pid, n, workdir):
    """VmRSS of the proxy before and while n idle connections pass through it."""
    base = procs.rss_kib(pid)
    before = procs.established_to(pid, backend_port)
    holder = procs.Proc("idle-hold", [procs.PYTHON, procs.HERE / "idle.py", "hold", "127.0.0.1",
                                      proxy_port, n],
                        workdir, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        line = holder.proc.stdout.readline().decode().strip()
        if not line.startswith("connected"):
            raise RuntimeError(f"idle client: {line!r} {holder.log_tail(500)}")
        # every connection must have reached the backend before we look
        try:
            procs.wait_until(lambda: procs.established_to(pid, backend_port) >= before + n,
                             30, f"the proxy's {n} idle connections to the backend")
        except RuntimeError as e:
            raise RuntimeError(f"{e}: {procs.established_to(pid, backend_port)} established, "
                               f"{before} before") from None
        time.sleep(0.5)
        held = procs.rss_kib(pid)
    finally:
        holder.proc.stdin.close()
        holder.stop()
    return {"rss_base_kib": base, "rss_idle_kib": held, "conns": n,
            "kib_per_conn": (held - base) / n,
            "cmd": f"{procs.PYTHON} bench/idle.py hold 127.0.0.1 PORT {n}"}
