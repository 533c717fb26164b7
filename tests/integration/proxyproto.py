"""A strict PROXY protocol (v1 and v2) receiver for the send_proxy tests: a
fake backend that reads the header byte by byte (never past it), rejects
anything the spec does not allow, and records what it learned.

    be = Backend("mx1", behaviour=proxy_backend("smtp"))   # or "echo"
    be.srv.headers   # [Header(version, command, src, dst), ...]
    be.srv.rejects   # ["reason", ...]

"smtp": after the header, a server that speaks first: "220 NAME from SRC v2",
EHLO -> 250, QUIT -> 221; other lines are echoed as "ECHO line".
"sink": reads to EOF, answers "LEN SHA256 SRC:PORT".
"echo": a client-first server: waits for the client's line, answers
"FROM SRC:PORT TO DST:PORT v2 GOT line", then echoes every line.
Without a valid header either answers "554 5.7.0 PROXY header required
(REASON)" and closes, as nginx, postfix and dovecot reject such a client.
"""
import hashlib
import ipaddress
from dataclasses import dataclass

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


class Reject(Exception):
    pass


@dataclass
class Header:
    version: int            # 1 or 2
    command: str            # "PROXY" or "LOCAL" (v1 UNKNOWN counts as LOCAL)
    src: tuple = None       # (ip text, port) for PROXY
    dst: tuple = None
    family: str = None      # "TCP4" / "TCP6"


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise Reject(f"connection closed after {len(data)} of {n} header bytes")
        data += chunk
    return data


def _port(text):
    if not text.isdigit() or (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise Reject(f"bad port {text!r}")
    return int(text)


def _ip(text, family):
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise Reject(f"bad address {text!r}")
    if (family == "TCP4") != (ip.version == 4):
        raise Reject(f"{text} is not a {family} address")
    if ip.version == 4 and str(ip) != text:
        raise Reject(f"{text} is not canonical")
    return str(ip)


def _read_v1(sock, first):
    line = first
    while not line.endswith(b"\r\n"):
        if len(line) >= 107:
            raise Reject("no CRLF in the first 107 bytes")
        line += _recv_exact(sock, 1)
    if b"\n" in line[:-1] or b"\r" in line[:-2]:
        raise Reject("stray CR or LF")
    text = line[:-2].decode("ascii")
    if text == "PROXY UNKNOWN":
        return Header(1, "LOCAL")
    parts = text.split(" ")
    if len(parts) != 6 or parts[0] != "PROXY" or parts[1] not in ("TCP4", "TCP6"):
        raise Reject(f"bad v1 line {text!r}")
    fam = parts[1]
    return Header(1, "PROXY", (_ip(parts[2], fam), _port(parts[4])),
                  (_ip(parts[3], fam), _port(parts[5])), fam)


def _read_v2(sock, first):
    head = first + _recv_exact(sock, 16 - len(first))
    if head[:12] != V2_SIG:
        raise Reject("bad v2 signature")
    ver_cmd, fam, length = head[12], head[13], int.from_bytes(head[14:16], "big")
    body = _recv_exact(sock, length) if length else b""
    if ver_cmd == 0x20:
        if fam != 0x00 or length != 0:
            raise Reject(f"LOCAL with family {fam:#x} and {length} address bytes")
        return Header(2, "LOCAL")
    if ver_cmd != 0x21:
        raise Reject(f"bad version/command {ver_cmd:#x}")
    if fam == 0x11 and length == 12:
        n, name = 4, "TCP4"
    elif fam == 0x21 and length == 36:
        n, name = 16, "TCP6"
    else:
        raise Reject(f"bad family {fam:#x} with {length} address bytes")
    src = str(ipaddress.ip_address(body[:n]))
    dst = str(ipaddress.ip_address(body[n:2 * n]))
    sp, dp = int.from_bytes(body[2 * n:2 * n + 2], "big"), int.from_bytes(body[2 * n + 2:], "big")
    return Header(2, "PROXY", (src, sp), (dst, dp), name)


def read_header(sock):
    """The PROXY header at the start of sock, read without a byte more; Reject if none."""
    first = _recv_exact(sock, 1)
    if first == b"P":
        first += _recv_exact(sock, 5)
        if first != b"PROXY ":
            raise Reject(f"no PROXY header (got {first!r})")
        return _read_v1(sock, first)
    if first == b"\r":
        return _read_v2(sock, first)
    raise Reject(f"no PROXY header (got {first!r})")


def _lines(sock):
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                return
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        yield line.rstrip(b"\r").decode(errors="replace")


def _who(h):
    return f"{h.src[0]}:{h.src[1]}" if h.command == "PROXY" else "local"


def _sink(sock, h):
    """Read to EOF, answer "LEN SHA256 SRC" and close."""
    digest, n = hashlib.sha256(), 0
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        digest.update(chunk)
        n += len(chunk)
    sock.sendall(f"{n} {digest.hexdigest()} {_who(h)}\n".encode())


def proxy_backend(style):
    def behaviour(sock, srv):
        sock.settimeout(10)
        try:
            h = read_header(sock)
        except (Reject, UnicodeDecodeError) as e:
            with srv.lock:
                srv.rejects.append(str(e))
            sock.sendall(f"554 5.7.0 PROXY header required ({e})\r\n".encode())
            return
        with srv.lock:
            srv.headers.append(h)
        if style == "sink":
            _sink(sock, h)
            return
        if style == "smtp":
            sock.sendall(f"220 {srv.name} from {_who(h)} v{h.version}\r\n".encode())
        for line in _lines(sock):
            if style == "smtp" and line.upper().startswith("EHLO"):
                sock.sendall(f"250 {srv.name}\r\n".encode())
            elif style == "smtp" and line.upper() == "QUIT":
                sock.sendall(b"221 bye\r\n")
                return
            elif style == "echo" and h.command == "PROXY" and not getattr(h, "answered", False):
                h.answered = True
                sock.sendall(f"FROM {_who(h)} TO {h.dst[0]}:{h.dst[1]} v{h.version} "
                             f"GOT {line}\n".encode())
            else:
                sock.sendall(f"ECHO {line}\n".encode())

    return behaviour


def make_server_state(backend):
    """Give a Backend the lists the behaviour fills."""
    backend.srv.headers = []
    backend.srv.rejects = []
    return backend
