"""procs.py - the processes of the benchmark: nginx and iperf3 backends, the
idle-connection server, vigild and HAProxy. Each is started in the foreground
by us, on 127.0.0.1, and stopped by its PID with a bounded wait.
"""
import json
import os
import random
import socket
import string
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = "/usr/bin/python3"
BUILD = ROOT / os.environ.get("VIGIL_BUILD", "build")     # as for the test suite


# Below the ephemeral range (32768-60999 here), so that no outgoing connection
# of the benchmark's own churn takes a port between choosing it and listening on
# it; above the ports the integration tests hand out (20000+).
PORT_RANGE = (12000, 20000)
_given = set()


def free_port():
    """A TCP port free on 127.0.0.1 right now, not handed out before."""
    for _ in range(1000):
        port = random.randrange(*PORT_RANGE)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % PORT_RANGE)


def render(template, dest, **values):
    """Fill bench/conf/TEMPLATE's $NAMES with values into dest."""
    text = (HERE / "conf" / template).read_text()
    Path(dest).write_text(string.Template(text).substitute(values))
    return dest


def wait_until(pred, timeout, what):
    """Poll pred() for up to timeout seconds; raise if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def port_open(port, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=1):
        return True


def http_get(port, path, timeout=10):
    """Body of GET path on 127.0.0.1:port with Connection: close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"GET {path}: {head[:40]!r}")
    return body


def pinned(cpus, argv):
    """argv run under `taskset -c cpus` when cpus is given (e.g. "0" or "1")."""
    return ["taskset", "-c", str(cpus), *argv] if cpus is not None else list(argv)


class Proc:
    """One child process, its log file, and a bounded stop by PID."""

    def __init__(self, name, argv, logdir, **kw):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(logdir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=kw.pop("stdout", self._log),
                                     stderr=self._log, stdin=kw.pop("stdin", subprocess.DEVNULL),
                                     **kw)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=15, timeout=10.0):
        """Send sig to our PID, wait; SIGKILL after timeout. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, n=2000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""


def cpu_times(pid):
    """(utime, stime) of pid in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def machine_ticks():
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])          # guest time is already inside user
    return total - v[3] - v[4], total


def rss_kib(pid):
    """VmRSS of pid in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError(f"no VmRSS for {pid}")


def established_to(pid, port):
    """Established TCP connections of process pid to 127.0.0.1:port: its socket
    inodes (/proc/PID/fd) matched against /proc/net/tcp."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    remote = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[2] == remote and parts[3] == "01" and parts[9] in inodes:
                n += 1
    return n


# ------------------------------------------------------------------ backends

def start_nginx(workdir, port, cpus=None, name="nginx"):
    """nginx, one worker, serving www/small and www/1m from workdir/nginx
    (its own directory workdir/NAME); cpus: taskset it."""
    d = Path(workdir) / name
    (d / "tmp").mkdir(parents=True, exist_ok=True)
    render("nginx.conf.in", d / "nginx.conf", DIR=d, WWW=Path(workdir) / "nginx" / "www",
           PORT=port)
    p = Proc(name, pinned(cpus, ["nginx", "-p", d, "-e", d / "nginx-error.log",
                                 "-c", d / "nginx.conf"]), workdir)
    wait_until(lambda: port_open(port), 10, "nginx")
    return p


def start_iperf3(workdir, port):
    p = Proc("iperf3-server", ["iperf3", "-s", "-B", "127.0.0.1", "-p", port], workdir)
    wait_until(lambda: port_open(port), 10, "iperf3 server")
    return p


def start_idle_server(workdir, port, host="127.0.0.1", name="idle-server"):
    p = Proc(name, [PYTHON, HERE / "idle.py", "serve", port, host], workdir)
    wait_until(lambda: port_open(port, host), 10, "idle server")
    return p


# ------------------------------------------------------------------- proxies

def vigil_status(sock):
    r = subprocess.run([BUILD / "vigilctl", "-s", sock, "status", "--json"],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def all_up(sock):
    st = vigil_status(sock)
    return bool(st) and all(b["state"] == "up" for s in st["services"] for b in s["backends"])


def start_vigil(workdir, ports, backends, check_interval="2s", env=None, workers=1,
                name="vigil", cpus=None, template="vigil.yaml.in", **values):
    """vigild with `workers` proxy workers on ports {http, iperf, idle} (its own
    directory workdir/NAME; cpus: taskset it; env: added to its environment;
    values: more template placeholders); waits until every backend is up."""
    d = Path(workdir) / name
    d.mkdir(parents=True, exist_ok=True)
    sock = d / "control.sock"
    values.setdefault("STATUS", "# no status listener")
    cfg = render(template, d / "vigil.yaml", DIR=d, CHECK_INTERVAL=check_interval,
                 WORKERS=workers, HTTP_PORT=ports["http"], IPERF_PORT=ports.get("iperf"),
                 IDLE_PORT=ports["idle"], NGINX_PORT=backends["http"],
                 IPERF_BACKEND=backends.get("iperf"), IDLE_BACKEND=backends.get("idle"),
                 **values)
    env = dict(os.environ, **(env or {}))
    env.pop("VIGIL_WORKERS", None)      # the file says how many
    p = Proc("vigild" if name == "vigil" else name, pinned(cpus, [BUILD / "vigild", "-c", cfg]),
             workdir, env=env)
    try:
        wait_until(lambda: not p.alive() or all_up(sock), 15, "vigild backends up")
        if not p.alive():
            raise RuntimeError("vigild exited: " + p.log_tail())
    except Exception:
        p.stop()
        raise
    p.sock = sock
    return p


def start_haproxy(workdir, name, ports, backends, splice, maxconn, nbthread=1, cpus=None):
    """haproxy -db (foreground, one process), mode tcp, nbthread threads;
    cpus: taskset it."""
    d = Path(workdir) / name
    d.mkdir(parents=True, exist_ok=True)
    cfg = render("haproxy.cfg.in", d / "haproxy.cfg", MAXCONN=maxconn, NBTHREAD=nbthread,
                 MAXPIPES="maxpipes 128",
                 SPLICE="option splice-auto" if splice else "# no splicing",
                 HTTP_PORT=ports["http"], IPERF_PORT=ports["iperf"], IDLE_PORT=ports["idle"],
                 NGINX_PORT=backends["http"], IPERF_BACKEND=backends["iperf"],
                 IDLE_BACKEND=backends["idle"])
    p = Proc(name, pinned(cpus, ["haproxy", "-db", "-f", cfg]), workdir)
    try:
        wait_until(lambda: not p.alive() or port_open(ports["http"]), 10, name)
        if not p.alive():
            raise RuntimeError(f"{name} exited: " + p.log_tail())
    except Exception:
        p.stop()
        raise
    return p
