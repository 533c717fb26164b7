"""A unix datagram socket standing in for systemd's notify socket ($NOTIFY_SOCKET)."""
import socket
import threading
import time

from vigil import wait_for


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.msgs = []              # (monotonic time, {key: value})
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l)
            with self.lock:
                self.msgs.append((time.monotonic(), fields))

    def with_key(self, key, value=None):
        with self.lock:
            return [(t, m) for t, m in self.msgs if key in m and (value is None or m[key] == value)]

    def wait(self, key, value=None, count=1, timeout=10.0):
        return wait_for(lambda: len(self.with_key(key, value)) >= count and self.with_key(key, value),
                        timeout, 0.01, f"{key}={value or '*'} #{count} on the notify socket")

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
