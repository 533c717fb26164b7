"""Test harness: run the real vigild / vigilctl binaries, fake backends.

Everything listens on 127.0.0.0/8; every process a test starts is stopped by
PID at teardown; every wait is bounded.
"""
import json
import re
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


# (Vigild.signal() shadows the signal module inside the class body)
_SIGTERM = signal.SIGTERM


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

    def stop(self, sig=_SIGTERM, timeout=15.0):
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
                or "WARNING: ThreadSanitizer" in l or "runtime error:" in l]

    def fd_count(self, pipes=True):
        """Open descriptors; pipes=False leaves out pipes (each proxy worker
        keeps a bounded pool of spare ones for splice)."""
        d = f"/proc/{self.pid}/fd"
        if pipes:
            return len(os.listdir(d))
        n = 0
        for f in os.listdir(d):
            try:
                n += not os.readlink(f"{d}/{f}").startswith("pipe:")
            except OSError:
                pass
        return n

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
            srv.open += 1
        try:
            srv.behaviour(self.request, srv)
        except OSError:
            pass
        finally:
            with srv.lock:
                srv.open -= 1


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
        self.srv.open = 0          # connections inside behaviour() right now
        self.srv.lock = threading.Lock()
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def accepted(self):
        return self.srv.accepted

    @property
    def open(self):
        return self.srv.open

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


# ---------------------------------------------------------------- more helpers

def run_vigild(*args, timeout=10.0):
    """Run vigild once (e.g. -t, --version) and return the CompletedProcess."""
    return subprocess.run([str(VIGILD), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout * SLOW, stdin=subprocess.DEVNULL)


def proc_status(pid):
    """/proc/PID/status as a dict of str -> str."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def rss_kib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def connect_from(src, host, port, timeout=5.0):
    """A connection to host:port from source address src (any 127.x works on lo)."""
    return socket.create_connection((host, port), timeout=timeout * SLOW, source_address=(src, 0))


def who_answers_from(src, host, port, timeout=5.0):
    with connect_from(src, host, port, timeout) as s:
        return recv_line(s)


def recv_until_eof(sock, limit=1 << 20):
    data = b""
    while len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def http_get(host, port, path="/", method="GET", raw=None, timeout=5.0):
    """One HTTP/1.1 request (or raw bytes); returns (status, headers, body).
    status is 0 when the server closed without an answer."""
    req = raw if raw is not None else (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=timeout * SLOW) as s:
        try:
            s.sendall(req)
        except OSError:
            pass   # the server may close before reading everything
        data = b""
        try:
            while len(data) < (16 << 20):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, body


_PROM_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_PROM_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_PROM_SAMPLE = re.compile(
    rf"^({_PROM_NAME})(?:\{{((?:{_PROM_LABEL})(?:,{_PROM_LABEL})*,?)?\}})?"
    r" ([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|[+-]?Inf))(?: -?[0-9]+)?$")
_PROM_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
_PROM_META = re.compile(rf"^# (HELP {_PROM_NAME} .*|TYPE {_PROM_NAME} "
                        r"(counter|gauge|histogram|summary|untyped))$")


def parse_prometheus(text):
    """Parse Prometheus text format 0.0.4 strictly: every line is a comment,
    HELP/TYPE, or a sample. Returns {(name, ((label, value), ...)): float};
    raises ValueError on a malformed or duplicate line, a sample whose
    family has no TYPE before it, or a family whose samples are split."""
    out, typed = {}, set()
    current, done = None, set()      # each family's samples together, once
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                if not _PROM_META.match(line):
                    raise ValueError(f"line {n}: bad metadata {line!r}")
                if line.startswith("# TYPE "):
                    typed.add(line.split()[2])
            continue
        m = _PROM_SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: bad sample {line!r}")
        name = m.group(1)
        labels = tuple(sorted(_PROM_LABEL_RE.findall(m.group(2) or "")))
        if name not in typed:
            raise ValueError(f"line {n}: {name} has no # TYPE line before it")
        if name != current:
            if name in done:
                raise ValueError(f"line {n}: {name}'s samples are not together")
            if current:
                done.add(current)
            current = name
        key = (name, labels)
        if key in out:
            raise ValueError(f"line {n}: duplicate sample {line!r}")
        out[key] = float(m.group(3))
    return out


def metric(samples, name, **labels):
    """The value of one sample of parse_prometheus() output (KeyError if absent)."""
    return samples[(name, tuple(sorted(labels.items())))]


def json_shape(v):
    """The shape of a JSON value: dict keys and value shapes, list element shapes, types."""
    if isinstance(v, dict):
        return {k: json_shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_shape(x) for x in v]
    if isinstance(v, bool) or v is None:
        return type(v).__name__
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


class Blackhole:
    """A port on 127.0.0.1 where connects hang: a listen(0) socket whose accept
    queue is filled by a connection that is never accepted, so the kernel drops
    further SYNs and the connector sees a timeout (the closest thing to a
    black-holed server that loopback allows without root firewall rules)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.port = free_port(host)
        self.sock = socket.socket()
        self.sock.bind((host, self.port))
        self.sock.listen(0)
        self.fillers = []
        for _ in range(8):
            if self.is_full():
                return
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex((host, self.port))
            self.fillers.append(f)
            time.sleep(0.02)
        raise RuntimeError("could not fill the accept queue of the black hole")

    def is_full(self):
        s = socket.socket()
        s.settimeout(0.2)
        try:
            s.connect((self.host, self.port))
        except (socket.timeout, TimeoutError):
            return True
        except OSError:
            return False
        else:
            self.fillers.append(s)
            return False
        finally:
            if s not in self.fillers:
                s.close()

    def close(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


def exchange(payload):
    """A backend behaviour: send payload then shut down the write side, while
    reading what the client sends until EOF. behaviour.results gets one
    (nbytes, sha256 hex) per connection."""
    import hashlib

    results = []

    def behaviour(sock, srv):
        def push():
            try:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        t = threading.Thread(target=push, daemon=True)
        t.start()
        h, n = hashlib.sha256(), 0
        while True:
            data = sock.recv(262144)
            if not data:
                break
            h.update(data)
            n += len(data)
        t.join(60)
        results.append((n, h.hexdigest()))

    behaviour.results = results
    return behaviour


def exchange_through(host, port, payload, read_chunk=262144, read_pause=0.0, rcvbuf=None,
                     timeout=30.0):
    """Connect, send payload then SHUT_WR, read until EOF (pausing read_pause
    seconds between reads of read_chunk bytes). Returns (nbytes, sha256 hex)."""
    import hashlib

    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout * SLOW)
    s.connect((host, port))
    err = []

    def push():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=push, daemon=True)
    t.start()
    h, n = hashlib.sha256(), 0
    try:
        while True:
            data = s.recv(read_chunk)
            if not data:
                break
            h.update(data)
            n += len(data)
            if read_pause:
                time.sleep(read_pause)
        t.join(timeout * SLOW)
    finally:
        s.close()
    if err:
        raise err[0]
    return n, h.hexdigest()


class MassBackend:
    """A single-threaded selector echo server for many concurrent connections:
    greets with name + newline, then echoes; counts open connections."""

    def __init__(self, name, host="127.0.0.1"):
        import selectors

        self.name = name
        self.host = host
        self.port = free_port(host)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, self.port))
        self.lsock.listen(4096)
        self.lsock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.accepted = 0
        self.open = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def conf(self, **extra):
        d = {"name": self.name, "address": self.host, "port": self.port}
        d.update(extra)
        return d

    def _run(self):
        import selectors

        greet = self.name.encode() + b"\n"
        while not self._stop:
            for key, _ in self.sel.select(0.05):
                if key.data is None:
                    for _ in range(256):
                        try:
                            c, _ = self.lsock.accept()
                        except (BlockingIOError, OSError):
                            break
                        c.setblocking(False)
                        try:
                            c.send(greet)
                        except OSError:
                            pass
                        self.accepted += 1
                        self.open += 1
                        self.sel.register(c, selectors.EVENT_READ, "c")
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    try:
                        c.send(data)   # small test payloads: fits the send buffer
                    except OSError:
                        pass
                    continue
                self.sel.unregister(c)
                c.close()
                self.open -= 1
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()

    def close(self):
        self._stop = True
        self.thread.join(5)


def service(name, vip, ports, backends, **extra):
    """A service dict; backends are Backend objects or dicts."""
    d = {"name": name, "vip": vip, "ports": list(ports),
         "backends": [b if isinstance(b, dict) else b.conf() for b in backends]}
    d.update(extra)
    return d


def timeouts_conf(**kw):
    """A full timeouts dict with the short test values, overridden by kw."""
    t = {"connect": "1s", "client_idle": "30s", "server_idle": "30s", "drain": "2s"}
    t.update(kw)
    return t


def check_conf(**kw):
    """A full check dict with the fast test values, overridden by kw."""
    c = {"type": "tcp", "interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1}
    c.update(kw)
    return c


def wait_all_state(v, svc, names, state="up", timeout=10.0):
    for n in names:
        v.wait_state(svc, n, state, timeout)
