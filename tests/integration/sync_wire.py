"""The sync channel's frames (sync/sync_msg.h) for tests: an attacker client.

Run as a script inside a namespace:
    sync_wire.py attack HOST PORT KEYFILE
tries forged, replayed (same and other connection), truncated and oversized
messages against HOST:PORT and prints one JSON object: for each attempt
whether the server closed the connection after the bad message.
"""
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

HELLO, STATE, CONFIG, RESULT, OPS, PING = 1, 2, 3, 4, 5, 6
HDR = 16
MAX_PAYLOAD = 1024 * 1024 + 4096
ZERO = bytes(32)


def frame(key, nonce, ftype, seq, payload=b""):
    hdr = struct.pack(">BBHIQ", ftype, 1, 0, len(payload), seq)
    mac = hmac.new(key, nonce + hdr + payload, hashlib.sha256).digest()
    return hdr + payload + mac


def hello_payload(nonce, node, version="0.1.0"):
    return nonce + bytes([len(node)]) + node.encode() + bytes([len(version)]) + version.encode()


def state_payload(digest=bytes(32), clock=0, started=0, origin="x"):
    return digest + struct.pack(">QQ", clock, started) + bytes([len(origin)]) + origin.encode()


def recv_exact(s, n, timeout=3.0):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(s):
    hdr = recv_exact(s, HDR)
    if hdr is None:
        return None
    ftype, _, _, ln, seq = struct.unpack(">BBHIQ", hdr)
    rest = recv_exact(s, ln + 32)
    return (ftype, seq, rest[:ln]) if rest is not None else None


def closed(s, timeout=3.0):
    """True when the server closes (EOF or reset) within timeout, reading and
    dropping whatever frames it sent before."""
    s.settimeout(timeout)
    end = time.time() + timeout
    try:
        while time.time() < end:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def connect(host, port):
    return socket.create_connection((host, port), timeout=3)


def handshake(host, port, key, node="attacker"):
    """A real handshake: returns (socket, server nonce, next seq)."""
    s = connect(host, port)
    mine = os.urandom(32)
    s.sendall(frame(key, ZERO, HELLO, 0, hello_payload(mine, node)))
    f = read_frame(s)
    assert f and f[0] == HELLO, f
    theirs = f[2][:32]
    return s, theirs, 1


def attack(host, port, key):
    res = {}
    # forged: a HELLO MACed with another key
    s = connect(host, port)
    bad = b"k" * 32
    s.sendall(frame(bad, ZERO, HELLO, 0, hello_payload(os.urandom(32), "forger"))
              + frame(bad, ZERO, PING, 1))
    res["forged"] = closed(s)
    s.close()
    # replay on the same connection: a valid frame, then the same one again
    s, theirs, seq = handshake(host, port, key)
    st = frame(key, theirs, STATE, seq, state_payload())
    s.sendall(st)
    time.sleep(0.2)
    s.sendall(st)
    res["replayed"] = closed(s)
    s.close()
    # replay on another connection: the recorded frame answers the old challenge
    s, theirs2, seq = handshake(host, port, key)
    s.sendall(st)
    res["replayed_other_conn"] = closed(s)
    s.close()
    # truncated: half a frame, then our side closes (the server counts it)
    s = connect(host, port)
    f = frame(key, ZERO, HELLO, 0, hello_payload(os.urandom(32), "trunc"))
    s.sendall(f[: len(f) // 2])
    time.sleep(0.2)
    s.close()
    res["truncated"] = True
    # oversized: a header announcing more than the limit; more bytes behind it
    s = connect(host, port)
    hdr = struct.pack(">BBHIQ", CONFIG, 1, 0, MAX_PAYLOAD + 1, 0)
    try:
        s.sendall(hdr + b"x" * 1000)
    except OSError:
        pass
    res["oversized"] = closed(s)
    s.close()
    return res


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "attack":
        with open(sys.argv[4], "rb") as f:
            key = f.read().rstrip(b"\r\n")
        print(json.dumps(attack(sys.argv[2], int(sys.argv[3]), key)))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "stranger":
        s = connect(sys.argv[2], 7789)
        s.sendall(b"hello there")
        print(json.dumps({"closed": closed(s)}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
