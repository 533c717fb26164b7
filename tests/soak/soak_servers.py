"""Backends of the soak: each answers with its own name, so a client knows
which backend vigild sent it to.

  SoakNginx(name, big)   Debian nginx on a loopback port: GET / answers NAME,
                         GET /big the known 16 MiB body, every answer carries
                         `X-Backend: NAME`; /health answers 200, or 503 while failing.
  BulkServer(name, big)  greets "NAME\\n", then "PUT N\\n" + N bytes -> "OK N SHA256\\n",
                         "GET\\n" -> the known body, then close.
  MailServer(name, kind) fake SMTP (`220 NAME ESMTP`, failing: `421 NAME ...`) or IMAP
                         (`* OK NAME ready`, failing: `* BYE NAME ...`).

stop() closes only the listening socket (graceful: transfers in flight finish),
start() listens again on the same port. Everything listens on 127.0.0.1.
"""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from realservers import Nginx  # noqa: E402
from vigil import free_port  # noqa: E402

CHUNK = 262144


class SoakNginx(Nginx):
    """realservers.Nginx with a name, the big body and plain HTTP only."""

    def __init__(self, label, big):
        self.label = label
        self.big = big
        self.failing = False
        self.running = False
        super().__init__(None)

    def _write(self, failing):
        d = self.dir
        health = "return 503 \"down\\n\";" if failing else "return 200 \"ok\\n\";"
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp_body;
    proxy_temp_path {d}/tmp_proxy;
    fastcgi_temp_path {d}/tmp_fcgi;
    uwsgi_temp_path {d}/tmp_uwsgi;
    scgi_temp_path {d}/tmp_scgi;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{self.http_port} backlog=1024;
        add_header X-Backend {self.label} always;
        location = /health {{ {health} }}
        location = /big {{ default_type application/octet-stream; alias {self.big}; }}
        location / {{ return 200 "{self.label}\\n"; }}
    }}
}}
""")

    def start(self):
        self._spawn([self.NGINX_BIN, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir),
                     "-e", str(self.dir / "error.log")], [self.http_port])
        self.running = True
        return self

    NGINX_BIN = "/usr/sbin/nginx"

    def graceful_stop(self, timeout=30):
        """SIGQUIT: stop listening, let requests in flight finish, then exit."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        self.running = False

    def set_failing(self, failing):
        self.failing = failing
        super().set_failing(failing)


class _Listener:
    """An accept loop in a thread; one thread per connection (few and short)."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.failing = False
        self.sock = None
        self.thread = None
        self.accepted = 0
        self.lock = threading.Lock()
        self.conns = set()

    @property
    def running(self):
        return self.sock is not None

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(1024)
        s.settimeout(0.1)
        self.sock = s
        self.thread = threading.Thread(target=self._accept, args=(s,), daemon=True)
        self.thread.start()
        return self

    def _accept(self, s):
        while self.sock is s:
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c.settimeout(120)
            self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with self.lock:
            self.conns.add(c)
        try:
            self.serve(c)
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns.discard(c)
            c.close()

    def stop(self):
        """Stop listening; connections in flight go on."""
        s, self.sock = self.sock, None
        if s:
            if self.thread:
                self.thread.join(5)
            s.close()

    def close(self, timeout=10):
        """Stop listening and wait (bounded) for the connections to end."""
        self.stop()
        deadline = time.monotonic() + timeout
        while self.conns and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _readline(c, limit=256):
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        b = c.recv(1)
        if not b:
            break
        data += b
    return data


class BulkServer(_Listener):
    """Hashes what it is sent; sends the known body on request."""

    def __init__(self, name, big_bytes):
        super().__init__(name)
        self.big = big_bytes

    def serve(self, c):
        c.sendall(self.name.encode() + b"\n")
        cmd = _readline(c).split()
        if cmd[:1] == [b"PUT"] and len(cmd) == 2:
            want = int(cmd[1])
            h, n = hashlib.sha256(), 0
            while n < want:
                data = c.recv(min(CHUNK, want - n))
                if not data:
                    break
                h.update(data)
                n += len(data)
            c.sendall(f"OK {n} {h.hexdigest()}\n".encode())
            c.shutdown(socket.SHUT_WR)
            while c.recv(CHUNK):
                pass
        elif cmd[:1] == [b"GET"]:
            view = memoryview(self.big)
            for off in range(0, len(view), CHUNK):
                c.sendall(view[off:off + CHUNK])
            c.shutdown(socket.SHUT_WR)
            while c.recv(CHUNK):
                pass


class MailServer(_Listener):
    """Just enough SMTP (kind 'smtp') or IMAP (kind 'imap') for vigil's probe
    and the soak's clients; failing: SMTP 421, IMAP BYE, then close."""

    def __init__(self, name, kind):
        super().__init__(name)
        self.kind = kind

    def serve(self, c):
        n = self.name.encode()
        if self.kind == "smtp":
            if self.failing:
                c.sendall(b"421 " + n + b" 4.3.2 service not available\r\n")
                return
            c.sendall(b"220 " + n + b" ESMTP soak\r\n")
            for _ in range(20):
                line = _readline(c).strip().upper()
                if not line or line.startswith(b"QUIT"):
                    if line:
                        c.sendall(b"221 2.0.0 bye\r\n")
                    return
                if line.startswith(b"EHLO") or line.startswith(b"HELO"):
                    c.sendall(b"250-" + n + b" hello\r\n250 8BITMIME\r\n")
                else:
                    c.sendall(b"250 2.0.0 ok\r\n")
            return
        if self.failing:
            c.sendall(b"* BYE " + n + b" unavailable\r\n")
            return
        c.sendall(b"* OK " + n + b" ready\r\n")
        for _ in range(20):
            parts = _readline(c).strip().split(None, 1)
            if len(parts) < 2:
                return
            tag, cmd = parts[0], parts[1].upper()
            if cmd.startswith(b"LOGOUT"):
                c.sendall(b"* BYE logging out\r\n" + tag + b" OK LOGOUT done\r\n")
                return
            c.sendall(tag + b" OK done\r\n")
