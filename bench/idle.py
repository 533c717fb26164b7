#!/usr/bin/python3
"""idle.py - idle connections for the memory benchmark.

    idle.py serve PORT          accept on 127.0.0.1:PORT, hold every connection
                                open (closing it when the peer does) until SIGTERM
    idle.py hold HOST PORT N    open N connections to HOST:PORT, print
                                "connected N" when all are up, hold them until
                                stdin closes or SIGTERM, then reset them

Both raise RLIMIT_NOFILE to the hard limit. Loopback only, bounded waits.
"""
import errno
import resource
import selectors
import signal
import socket
import struct
import sys
import time

CONNECT_BATCH = 256
CONNECT_DEADLINE = 60.0     # seconds for all N connections


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def serve(port):
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
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


def connect_batch(host, port, count, deadline):
    """count connected non-blocking sockets (OSError when one fails)."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
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


def hold(host, port, n):
    socks = []
    deadline = time.monotonic() + CONNECT_DEADLINE
    try:
        while len(socks) < n:
            socks += connect_batch(host, port, min(CONNECT_BATCH, n - len(socks)), deadline)
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


def main(argv):
    raise_nofile()
    signal.signal(signal.SIGTERM, on_term)
    if len(argv) == 3 and argv[1] == "serve":
        serve(int(argv[2]))
    elif len(argv) == 5 and argv[1] == "hold":
        hold(argv[2], int(argv[3]), int(argv[4]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
