"""Test harness: run the real vigild / vigilctl binaries, fake backends.

Everything listens on 127.0.0.0/8; every process a test starts is stopped by
PID at teardown; every wait is bounded.
"""
import json
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("VIGIL_BUILD", "build")
VIGILD = BUILD / "vigild"
VIGILCTL = BUILD / "vigilctl"
SANITIZED = os.environ.get("VIGIL_SANITIZED") == "1"
# sanitizer builds are slower: scale waits
SLOW = 3.0 if SANITIZED else 1.0

_port_lock = threading.Lock()
_next_port = [20000 + (os.getpid() * 37) % 20000]


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now (and not handed out before)."""
    with _port_lock:
        for _ in range(2000):
            p = _next_port[0]
            _next_port[0] = 20000 + (p - 20000 + 1) % 40000
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, p))
            except OSError:
                continue
            finally:
                s.close()
            return p
    raise RuntimeError("no free port")


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except (OSError, ValueError, KeyError, IndexError) as e:
            last = e
            if isinstance(last, Exception):
                last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for {what}")


def base_config(services, **global_keys):
    """A configuration dict with short test timeouts; services is a list."""
    cfg = {
        "global": {"log_level": "info", "maxconn": 100000},
        "defaults": {
            "timeouts": {"connect": "1s", "client_idle": "30s", "server_idle": "30s",
                         "drain": "2s"},
            "check": {"interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1},
        },
        "services": services,
    }
    cfg["global"].update(global_keys)
    return cfg


class Vigild:
    """One vigild process with its own directory, config and control socket."""

    def __init__(self, tmp_path, config, name="vigild", env=None):
        self.dir = Path(tmp_path) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sock = str(self.dir / "control.sock")
        self.cfg_path = self.dir / "vigil.yaml"
        self.log_path = self.dir / "vigild.log"
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.rc = None
        self.write_config(config)

    # -- configuration --
    def write_config(self, config):
        """Write config (a dict, dumped as JSON, which is YAML; or a YAML string)."""
        if isinstance(config, dict):
            config = json.loads(json.dumps(config))
            config.setdefault("global", {}).setdefault("control_socket", self.sock)
            text = json.dumps(config, indent=1)
        else:
            text = config
        self.config = config
        tmp = self.cfg_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.cfg_path)

    # -- process --
    def start(self, wait=True, timeout=10.0, args=()):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(VIGILD), "-c", str(self.cfg_path), *args],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, stdin=subprocess.DEVNULL)
        if wait:
            wait_for(lambda: self.proc.poll() is not None or self.ctl("status").returncode == 0,
                     timeout, 0.02, "vigild control socket")
            if self.proc.poll() is not None:
                raise AssertionError(f"vigild exited with {self.proc.returncode}:\n{self.log()}")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Signal vigild and wait for it; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"vigild did not stop within {timeout}s:\n{self.log()[-3000:]}")
        self.rc = self.proc.returncode
        self._log.close()
        return self.rc

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def sanitizer_reports(self):
        text = self.log()
        return [l for l in text.splitlines()
                if "ERROR: AddressSanitizer" in l or "ERROR: LeakSanitizer" in l
                or "runtime error:" in l]

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    # -- control --
    def ctl(self, *args, timeout=15.0):
        return subprocess.run([str(VIGILCTL), "-s", self.sock, *map(str, args)],
                              capture_output=True, text=True, timeout=timeout * SLOW)

    def status(self):
        r = self.ctl("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def service(self, name):
        for s in self.status()["services"]:
            if s["name"] == name:
                return s
        raise KeyError(name)

    def backend(self, svc, be):
        for b in self.service(svc)["backends"]:
            if b["name"] == be:
                return b
        raise KeyError(be)

    def wait_for(self, pred, timeout=10.0, what="condition"):
        return wait_for(pred, timeout, 0.02, what)

    def wait_state(self, svc, be, state, timeout=10.0):
        return wait_for(lambda: self.backend(svc, be)["state"] == state, timeout, 0.02,
                        f"{svc}/{be} to be {state}")


# ---------------------------------------------------------------- backends

class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        srv = self.server
        with srv.lock:
            srv.accepted += 1
        try:
            srv.behaviour(self.request, srv)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def named_echo(sock, srv):
    """Send our name and a newline, then echo everything back until EOF."""
    sock.sendall(srv.name.encode() + b"\n")
    echo(sock, srv)


def echo(sock, srv):
    while True:
        data = sock.recv(65536)
        if not data:
            break
        sock.sendall(data)
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Backend:
    """A threaded TCP server on 127.0.0.1 with a behaviour(sock, server) function."""

    def __init__(self, name, behaviour=named_echo, host="127.0.0.1", port=None):
        self.name = name
        self.host = host
        self.port = port or free_port(host)
        self.srv = _Server((host, self.port), _Handler)
        self.srv.name = name
        self.srv.behaviour = behaviour
        self.srv.accepted = 0
        self.srv.lock = threading.Lock()
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def accepted(self):
        return self.srv.accepted

    def conf(self, **extra):
        d = {"name": self.name, "address": self.host, "port": self.port}
        d.update(extra)
        return d

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def connect(host, port, timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout * SLOW)
    return s


def recv_line(sock, limit=4096):
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def who_answers(host, port, timeout=5.0):
    """Connect through vigil and return the name the backend greets with ('' if closed)."""
    with connect(host, port, timeout) as s:
        return recv_line(s)
