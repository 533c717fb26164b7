"""Network-namespace testbed for failover tests.

A "switch" namespace holds a bridge; every node (lb1, lb2, client, backends)
is a namespace with one veth "eth0" plugged into that bridge. Only RFC 5737
addresses (192.0.2.0/24), no default route, nothing in the root namespace.
Names carry a per-run tag, so parallel runs do not clash. Testbed.close()
kills what it started (by PID) and deletes the namespaces; use it as a
context manager or a fixture so it always runs.

Run as a script, this file is also the helper that runs inside namespaces:
  netns.py who-server IP PORT          TCP server that greets with the peer's IP
  netns.py prober IP PORT OUT [IVAL]   connect every IVAL s, log "t0 t1 ok|err who"
  netns.py smtp-sink IP PORT OUT [--starttls CERT KEY]   fake SMTP relay, appends mails
  netns.py name-server IP PORT NAME    TCP server that greets with NAME
  netns.py arp-watch IP OUT            log "t mac" for every ARP / NA announcing IP
  netns.py advert-capture OUT SECONDS PORT   (in the switch) every IPv4 UDP datagram to
                                       PORT entering a switch port, one JSON line each
  netns.py advert-inject FILE          send the JSON lines of FILE ({src, dst, port, hex,
                                       gap}) as raw IPv4/UDP with a spoofed source, TTL 255
"""
import itertools
import json
import os
import re
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAN = "192.0.2"
PY = "/usr/bin/python3"
_seq = itertools.count(1)


def run(*args, check=True, timeout=10):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: {r.stderr.strip()}")
    return r


def have_netns():
    if os.geteuid() != 0:
        return "needs root"
    if run("which", "ip", check=False).returncode != 0:
        return "needs iproute2"
    return None


class Node:
    def __init__(self, bed, name, host):
        self.bed = bed
        self.name = name
        self.ns = f"{bed.tag}-{name}"
        self.ip = f"{LAN}.{host}"
        self.mac = None

    def sh(self, *args, check=True, timeout=10):
        return run("ip", "netns", "exec", self.ns, *args, check=check, timeout=timeout)

    def ip_cmd(self, *args, check=True):
        return run("ip", "-n", self.ns, *args, check=check)

    def popen(self, args, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, *map(str, args)], **kw)
        self.bed.procs.append(p)
        return p

    def addrs(self):
        """IPv4/IPv6 addresses on eth0 (strings, without prefix)."""
        out = self.ip_cmd("-o", "addr", "show", "dev", "eth0").stdout
        return re.findall(r"inet6? ([0-9a-f.:]+)/", out)

    def has(self, ip):
        return ip in self.addrs()

    def link(self, up):
        """Carrier on/off: the switch port goes down, like a pulled cable."""
        run("ip", "-n", self.bed.sw, "link", "set", self.name, "up" if up else "down")

    def neigh_mac(self, ip):
        out = self.ip_cmd("neigh", "show", ip, "dev", "eth0").stdout
        m = re.search(r"lladdr ([0-9a-f:]+)", out)
        return m.group(1) if m else None


class Testbed:
    """bridge + lb1 (.1) + lb2 (.2) + client (.100) + backends be1 (.11), be2 (.12)."""

    def __init__(self, nodes=(("lb1", 1), ("lb2", 2), ("client", 100), ("be1", 11), ("be2", 12))):
        self.tag = f"vf{os.getpid() % 100000}{next(_seq)}"
        self.sw = f"{self.tag}-sw"
        self.procs = []
        self.nodes = {}
        try:
            run("ip", "netns", "add", self.sw)
            run("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge",
                "forward_delay", "0")
            run("ip", "-n", self.sw, "link", "set", "br0", "up")
            run("ip", "-n", self.sw, "link", "set", "lo", "up")
            for name, host in nodes:
                self.add_node(name, host)
        except Exception:
            self.close()
            raise

    def add_node(self, name, host):
        n = Node(self, name, host)
        self.nodes[name] = n
        run("ip", "netns", "add", n.ns)
        run("ip", "-n", self.sw, "link", "add", name, "type", "veth", "peer", "name", "eth0",
            "netns", n.ns)
        run("ip", "-n", self.sw, "link", "set", name, "master", "br0", "up")
        n.ip_cmd("link", "set", "lo", "up")
        n.ip_cmd("addr", "add", f"{n.ip}/24", "dev", "eth0")
        n.ip_cmd("link", "set", "eth0", "up")
        out = n.ip_cmd("-o", "link", "show", "eth0").stdout
        n.mac = re.search(r"link/ether ([0-9a-f:]+)", out).group(1)
        return n

    def __getitem__(self, name):
        return self.nodes[name]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for n in list(self.nodes.values()):
            kill_ns_procs(n.ns)
            run("ip", "netns", "del", n.ns, check=False)
        run("ip", "netns", "del", self.sw, check=False)

    # -- helpers running in namespaces --
    def who_server(self, node, port):
        p = self[node].popen([PY, HERE / "netns.py", "who-server", self[node].ip, port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self[node].sh("ss", "-Hltn", f"sport = :{port}").stdout.strip(),
                   5, "who-server")
        return p

    def prober(self, node, ip, port, out, interval=0.01):
        return Prober(self, node, ip, port, out, interval)

    def smtp_sink(self, node, port, out, starttls=None):
        args = [PY, HERE / "netns.py", "smtp-sink", self[node].ip, port, out]
        if starttls:
            args += ["--starttls", *starttls]
        p = self[node].popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self[node].sh("ss", "-Hltn", f"sport = :{port}").stdout.strip(),
                   5, "smtp sink")
        return p


def kill_ns_procs(ns):
    """Kill whatever still runs in namespace ns (only ours: the namespace is ours)."""
    r = run("ip", "netns", "pids", ns, check=False)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def wait_until(pred, timeout, what="condition", interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Prober:
    """The client connecting to VIP:port every interval and noting who answered."""

    def __init__(self, bed, node, ip, port, out, interval):
        self.out = Path(out)
        self.p = bed[node].popen([PY, HERE / "netns.py", "prober", ip, port, out, interval],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(5)

    def records(self):
        """[(t0, t1, ok, who)] sorted by t0."""
        recs = []
        if not self.out.exists():
            return recs
        for line in self.out.read_text().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            recs.append((float(parts[0]), float(parts[1]), parts[2] == "ok",
                         parts[3] if len(parts) > 3 else ""))
        return sorted(recs)

    def last_who(self):
        ok = [r for r in self.records() if r[2]]
        return ok[-1][3] if ok else None

    def wait_answer(self, who, timeout=5.0, after=0.0):
        return wait_until(lambda: any(r[2] and r[3] == who and r[0] >= after
                                      for r in self.records()), timeout, f"{who} answering")

    def outage(self, t_event, until=None):
        """Longest time without a successful probe start, from the last success
        before t_event to the first success after it (seconds)."""
        ok = [r[0] for r in self.records() if r[2] and (until is None or r[0] <= until)]
        before = [t for t in ok if t <= t_event]
        after = [t for t in ok if t > t_event]
        if not before or not after:
            return None
        seq = [before[-1]] + after
        return max(b - a for a, b in zip(seq, seq[1:]))

    def first_ok_after(self, t_event, who=None):
        for r in self.records():
            if r[0] > t_event and r[2] and (who is None or r[3] == who):
                return r[0]
        return None


# ------------------------------------------------------------ in-namespace helpers

def who_server(ip, port, name=None):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, int(port)))
    srv.listen(1024)

    def serve(c):
        try:
            c.sendall((name or c.getpeername()[0]).encode() + b"\n")
            c.settimeout(30)
            while c.recv(4096):
                pass
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def prober(ip, port, out, interval="0.01", timeout=0.3):
    interval = float(interval)
    sel = selectors.DefaultSelector()
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    f = open(out, "w", buffering=1)
    nxt = time.monotonic()

    def done(key, ok, who):
        t0 = key.data[0]
        f.write(f"{t0:.4f} {time.monotonic():.4f} {'ok' if ok else 'err'} {who}\n")
        sel.unregister(key.fileobj)
        key.fileobj.close()

    while not stop:
        now = time.monotonic()
        if now >= nxt:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((ip, int(port)))
            sel.register(s, selectors.EVENT_READ, (now, bytearray()))
            nxt = max(nxt + interval, now)
        for key in list(sel.get_map().values()):
            if now - key.data[0] > timeout:
                done(key, False, "timeout")
        for key, _ in sel.select(max(0.0, nxt - time.monotonic())):
            try:
                data = key.fileobj.recv(256)
            except OSError as e:
                done(key, False, type(e).__name__)
                continue
            if not data:
                done(key, False, "closed")
                continue
            key.data[1].extend(data)
            if b"\n" in key.data[1]:
                done(key, True, key.data[1].split(b"\n")[0].decode())


def smtp_sink(ip, port, out, *opts):
    """A fake relay: EHLO (offers STARTTLS with --starttls CERT KEY), MAIL, RCPT, DATA."""
    ctx = None
    if opts and opts[0] == "--starttls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts[1], opts[2])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, int(port)))
    srv.listen(16)
    lock = threading.Lock()

    def session(c):
        f = c.makefile("rwb")
        mail = {"from": None, "to": [], "tls": False, "data": ""}

        def say(s):
            f.write(s.encode() + b"\r\n")
            f.flush()
        say("220 sink ESMTP")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode().strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                if ctx and not mail["tls"]:
                    say("250-sink")
                    say("250 STARTTLS")
                else:
                    say("250 sink")
            elif up == "STARTTLS" and ctx:
                say("220 go ahead")
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rwb")
                mail["tls"] = True
            elif up.startswith("MAIL FROM:"):
                mail["from"] = cmd[10:].strip("<> ")
                say("250 ok")
            elif up.startswith("RCPT TO:"):
                mail["to"].append(cmd[8:].strip("<> "))
                say("250 ok")
            elif up == "DATA":
                say("354 go")
                lines = []
                while True:
                    l = f.readline().decode()
                    if l in (".\r\n", ".\n", ""):
                        break
                    lines.append(l)
                mail["data"] = "".join(lines)
                with lock, open(out, "a") as o:
                    o.write(json.dumps(mail) + "\n")
                say("250 queued")
            elif up == "QUIT":
                say("221 bye")
                return
            else:
                say("500 what")

    while True:
        c, _ = srv.accept()
        threading.Thread(target=lambda c=c: _safe(session, c), daemon=True).start()


def _safe(fn, c):
    try:
        fn(c)
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()


def name_server(ip, port, name):
    who_server(ip, port, name)


def arp_watch(ip, out):
    """Every ARP packet whose sender is ip (IPv4), with its time and source MAC."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0806))
    want = socket.inet_aton(ip)
    f = open(out, "w", buffering=1)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        p, a = s.recvfrom(2048)
        if len(p) >= 28 and p[14:18] == want:
            f.write(f"{time.monotonic():.4f} {p[8:14].hex(':')} {int.from_bytes(p[6:8], 'big')}\n")


def advert_capture(out, seconds, port):
    """What an attacker on the LAN sees (a mirror port): every IPv4/UDP datagram
    to port entering the switch, with its source and destination."""
    # ETH_P_ALL: a bridge port's frames reach only the taps for every protocol
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.settimeout(0.1)
    end = time.monotonic() + float(seconds)
    with open(out, "w") as f:
        while time.monotonic() < end:
            try:
                p, a = s.recvfrom(4096)
            except socket.timeout:
                continue
            if (a[2] == socket.PACKET_OUTGOING or len(p) < 14 + 28 or p[12:14] != b"\x08\x00"
                    or p[14 + 9] != 17):
                continue
            ip = p[14:]
            ihl = (ip[0] & 15) * 4
            udp = ip[ihl:]
            if int.from_bytes(udp[2:4], "big") != int(port):
                continue
            f.write(json.dumps({"t": time.monotonic(), "src": socket.inet_ntoa(ip[12:16]),
                                "dst": socket.inet_ntoa(ip[16:20]), "port": int(port),
                                "ttl": ip[8], "hex": udp[8:].hex()}) + "\n")


def advert_inject(path):
    """Raw IPv4/UDP datagrams with whatever source the line says, TTL 255."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for line in Path(path).read_text().splitlines():
        d = json.loads(line)
        payload = bytes.fromhex(d["hex"])
        udp = (int(d["port"]).to_bytes(2, "big") * 2 + (8 + len(payload)).to_bytes(2, "big") +
               b"\0\0" + payload)
        hdr = (bytes([0x45, 0xc0]) + (20 + len(udp)).to_bytes(2, "big") + b"\0\0\0\0" +
               bytes([255, 17]) + b"\0\0" + socket.inet_aton(d["src"]) +
               socket.inet_aton(d["dst"]))
        s.sendto(hdr + udp, (d["dst"], 0))
        if d.get("gap"):
            time.sleep(float(d["gap"]))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"who-server": who_server, "prober": prober, "smtp-sink": smtp_sink,
     "name-server": name_server, "arp-watch": arp_watch, "advert-capture": advert_capture,
     "advert-inject": advert_inject}[cmd](*args)
