#!/usr/bin/python3
"""idle.py - idle connections for the memory benchmark.

    idle.py serve PORT [HOST]   accept on HOST:PORT (127.0.0.1), hold every
                                connection open (closing it when the peer does)
                                until SIGTERM
    idle.py hold HOST PORT N [SRC]
                                open N connections to HOST:PORT (from address
                                SRC), print "connected N" when all are up, hold
                                them until stdin closes or SIGTERM, then reset them
    idle.py probe COUNT RATE HOST:PORT... [direct=HOST:PORT]
                                COUNT short HTTP requests (GET /small,
                                Connection: close), one at a time, started at
                                RATE per second, round robin over the addresses;
                                with direct=, every other request goes there
                                instead (the same machine, the same moments,
                                without the proxy); prints JSON: latency of
                                connect + request + the whole reply, p50/p99/max
                                in ms, and failures ("via"; "direct")

Both raise RLIMIT_NOFILE to the hard limit. Loopback only, bounded waits.
"""
import errno
import json
import resource
import selectors
import signal
import socket
import struct
import sys
import time

CONNECT_BATCH = 256
CONNECT_DEADLINE = 180.0    # seconds for all N connections (slow on a busy machine)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def serve(port, host="127.0.0.1"):
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    print("listening", flush=True)
    try:
        while True:
            for key, _ in sel.select(1.0):
                if key.fileobj is lsock:
                    accept_all(lsock, sel)
                else:
                    drain(key.fileobj, sel)
    except Stop:
        pass
    for key in list(sel.get_map().values()):
        key.fileobj.close()


def accept_all(lsock, sel):
    for _ in range(4096):
        try:
            s, _ = lsock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE):
                time.sleep(0.01)
                return
            raise
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)


def drain(s, sel):
    try:
        data = s.recv(65536)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data = b""
    if not data:
        sel.unregister(s)
        s.close()


def connect_batch(host, port, count, deadline, src=None):
    """count connected non-blocking sockets (OSError when one fails)."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        if src:
            s.bind((src, 0))
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect: " + errno.errorcode.get(err, str(err)))
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    pending = len(socks)
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise OSError(errno.ETIMEDOUT, "connect timed out")
        for key, _ in sel.select(min(left, 1.0)):
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, "connect: " + errno.errorcode.get(err, str(err)))
            sel.unregister(key.fileobj)
            pending -= 1
    sel.close()
    return socks


def hold(host, port, n, src=None):
    socks = []
    deadline = time.monotonic() + CONNECT_DEADLINE
    try:
        while len(socks) < n:
            socks += connect_batch(host, port, min(CONNECT_BATCH, n - len(socks)), deadline,
                                   src)
        print("connected", len(socks), flush=True)
        sys.stdin.read()        # until the driver closes our stdin
    except OSError as e:
        print("failed after", len(socks), e, flush=True)
    except Stop:
        pass
    linger = struct.pack("ii", 1, 0)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.close()


def one_request(addr, timeout=5.0):
    """Seconds for connect + GET /small + the whole reply (ValueError: bad reply)."""
    t0 = time.perf_counter()
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(b"GET /small HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise ValueError(data[:40])
    return time.perf_counter() - t0


def summary(lat, fails):
    lat.sort()
    pct = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None
    return {"ok": len(lat), "failed": len(fails), "fail_sample": fails[:3],
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": 1000 * lat[-1] if lat else None}


def probe(count, rate, addrs, direct=None):
    """Latency of count short requests started at rate/s (one at a time);
    with direct, every other one goes there."""
    runs = {"via": ([], []), "direct": ([], [])}
    t0 = time.monotonic()
    for i in range(count):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        to_direct = direct is not None and i % 2 == 1
        lat, fails = runs["direct" if to_direct else "via"]
        addr = direct if to_direct else addrs[(i // (2 if direct else 1)) % len(addrs)]
        try:
            lat.append(one_request(addr))
        except (OSError, ValueError) as e:
            fails.append(str(e))
    out = {"count": count, "rate": rate, "secs": time.monotonic() - t0,
           "via": summary(*runs["via"])}
    if direct is not None:
        out["direct"] = summary(*runs["direct"])
    print(json.dumps(out), flush=True)


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def main(argv):
    raise_nofile()
    signal.signal(signal.SIGTERM, on_term)
    if len(argv) in (3, 4) and argv[1] == "serve":
        serve(int(argv[2]), *argv[3:])
    elif len(argv) in (5, 6) and argv[1] == "hold":
        hold(argv[2], int(argv[3]), int(argv[4]), *argv[5:])
    elif len(argv) >= 5 and argv[1] == "probe":
        direct = [parse_addr(a[7:]) for a in argv[4:] if a.startswith("direct=")]
        probe(int(argv[2]), float(argv[3]),
              [parse_addr(a) for a in argv[4:] if not a.startswith("direct=")],
              direct[0] if direct else None)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
