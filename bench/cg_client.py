#!/usr/bin/python3
"""cg_client.py - the fixed workload of bench/callgrind.sh.

    cg_client.py conns PORT N         N sequential GET /small, Connection: close
    cg_client.py bulk PORT PATH BYTES one GET PATH, read to EOF, expect BYTES of body

Fails (exit 1) on any wrong answer, so the counted work is the intended work.
"""
import socket
import sys

REQ = "GET {} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(REQ.format(path).encode())
        chunks = []
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"GET {path}: {head[:60]!r}")
    return len(body)


def main(argv):
    if len(argv) == 4 and argv[1] == "conns":
        for _ in range(int(argv[3])):
            get(int(argv[2]), "/small")
    elif len(argv) == 5 and argv[1] == "bulk":
        n = get(int(argv[2]), argv[3])
        if n != int(argv[4]):
            raise SystemExit(f"bulk: {n} bytes, expected {argv[4]}")
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
