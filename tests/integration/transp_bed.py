"""Two-leg testbed for transparent mode (source: client).

    client ns                 lb ns (vigild)                    be ns
    192.0.2.100   ---- c0 -- 192.0.2.1, VIP 192.0.2.10
    2001:db8:c::100           2001:db8:c::1, VIP 2001:db8:c::10
                              198.51.100.1   -- b0 ---- 198.51.100.11, .12
                              2001:db8:b::1            2001:db8:b::11, ::12
                                                        route 192.0.2.0/24 via 198.51.100.1
                                                        route 2001:db8:c::/64 via 2001:db8:b::1

No default route anywhere, no forwarding on lb: the backends' replies to the
client's address reach vigild's transparent sockets only through its policy
rules. RFC 5737 / RFC 3849 addresses only; namespaces carry a per-run tag.

Run as a script, this file is the helper inside the namespaces:
  transp_bed.py peer-server IP PORT   greet each connection with "PEER <peer> AT <own ip>",
                                      then echo until the client closes
  transp_bed.py ask IP PORT [SRC]     connect (from SRC), print "PEER <peer>" of the greeting
  transp_bed.py hold IP PORT          connect, print the greeting, then echo stdin lines
"""
import itertools
import os
import socket
import subprocess
import sys
import threading
import types
from pathlib import Path

from netns import kill_ns_procs, run, wait_until

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3"
VIP4, VIP6 = "192.0.2.10", "2001:db8:c::10"
CLIENT4, CLIENT6 = "192.0.2.100", "2001:db8:c::100"
LB_BE4, LB_BE6 = "198.51.100.1", "2001:db8:b::1"
BE4 = ["198.51.100.11", "198.51.100.12"]
BE6 = ["2001:db8:b::11", "2001:db8:b::12"]
_seq = itertools.count(1)


class TranspBed:
    NODES = ("client", "lb", "be")

    def __init__(self):
        self.tag = f"vt{os.getpid() % 100000}{next(_seq)}"
        self.ns = {n: f"{self.tag}-{n}" for n in self.NODES}
        self.procs = []
        try:
            self._build()
        except Exception:
            self.close()
            raise

    def ip(self, node, *args, check=True):
        return run("ip", "-n", self.ns[node], *args, check=check)

    def sh(self, node, *args, check=True, timeout=10):
        return run("ip", "netns", "exec", self.ns[node], *args, check=check, timeout=timeout)

    def _build(self):
        for ns in self.ns.values():
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", self.ns["lb"], "link", "add", "c0", "type", "veth", "peer", "name",
            "eth0", "netns", self.ns["client"])
        run("ip", "-n", self.ns["lb"], "link", "add", "b0", "type", "veth", "peer", "name",
            "eth0", "netns", self.ns["be"])
        addrs = {
            "client": [("eth0", f"{CLIENT4}/24"), ("eth0", f"{CLIENT6}/64")],
            "lb": [("c0", "192.0.2.1/24"), ("c0", f"{VIP4}/24"), ("c0", "2001:db8:c::1/64"),
                   ("c0", f"{VIP6}/64"), ("b0", f"{LB_BE4}/24"), ("b0", f"{LB_BE6}/64")],
            "be": [("eth0", f"{a}/24") for a in BE4] + [("eth0", f"{a}/64") for a in BE6],
        }
        for node, lst in addrs.items():
            for dev, a in lst:
                extra = ["nodad"] if ":" in a else []
                self.ip(node, "addr", "add", a, "dev", dev, *extra)
        for node, devs in (("client", ["eth0"]), ("lb", ["c0", "b0"]), ("be", ["eth0"])):
            for dev in devs:
                self.ip(node, "link", "set", dev, "up")
        self.ip("be", "route", "add", "192.0.2.0/24", "via", LB_BE4)
        self.ip("be", "-6", "route", "add", "2001:db8:c::/64", "via", LB_BE6)

    def node(self, name):
        """What NsVigild needs of a node: its namespace and the bed's process list."""
        return types.SimpleNamespace(ns=self.ns[name], bed=self)

    def popen(self, node, args, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[node], *map(str, args)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def peer_server(self, ip, port):
        self.popen("be", [PY, HERE / "transp_bed.py", "peer-server", ip, port])
        wait_until(lambda: f"{ip}]:{port}" in self.sh("be", "ss", "-Hltn").stdout
                   or f"{ip}:{port}" in self.sh("be", "ss", "-Hltn").stdout, 5,
                   f"peer-server on {ip}")

    def ask(self, ip, port, src=None):
        """Connect from the client namespace; the backend's greeting ("" on failure)."""
        r = self.sh("client", PY, HERE / "transp_bed.py", "ask", ip, port,
                    *([src] if src else []), check=False)
        return r.stdout.strip()

    def hold(self, ip, port):
        """A client connection kept open: (process, its greeting "PEER x AT y")."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns["client"], PY,
                              str(HERE / "transp_bed.py"), "hold", ip, str(port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p, p.stdout.readline().strip()

    def rules(self, family="-4", node="lb"):
        """vigild's rules in node (protocol 118 = 0x76), as ip rule prints them."""
        out = self.ip(node, family, "rule", "show", check=False).stdout
        return sorted(l.split(":", 1)[1].strip() for l in out.splitlines() if "proto 118" in l)

    def table(self, family="-4"):
        return self.ip("lb", family, "route", "show", "table", "7789", check=False).stdout.strip()

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
        for ns in self.ns.values():
            kill_ns_procs(ns)
            run("ip", "netns", "del", ns, check=False)


class TranspPairBed(TranspBed):
    """The two-leg set-up with a failover pair: two bridges in a "sw" namespace.

        client 192.0.2.100 --- br0 --- lb1 eth0 192.0.2.1    lb2 eth0 192.0.2.2
                                       (VIP 192.0.2.10 with the master)
        be 198.51.100.11, .12 - br1 --- lb1 eth1 198.51.100.2 lb2 eth1 198.51.100.3
                                       (gateway 198.51.100.1 with the master)
        be: route 192.0.2.0/24 via 198.51.100.1, its only way to the client.

    The lbs get no VIP and no gateway address here: vigild adds them."""
    NODES = ("sw", "client", "lb1", "lb2", "be")
    LB_OWN = {"lb1": ("192.0.2.1", "198.51.100.2"), "lb2": ("192.0.2.2", "198.51.100.3")}

    def _plug(self, node, bridge, port, dev, addrs):
        """A veth from bridge (port name in sw) to dev in node, with addrs, up."""
        run("ip", "-n", self.ns["sw"], "link", "add", port, "type", "veth", "peer", "name",
            dev, "netns", self.ns[node])
        run("ip", "-n", self.ns["sw"], "link", "set", port, "master", bridge, "up")
        for a in addrs:
            self.ip(node, "addr", "add", a, "dev", dev)
        self.ip(node, "link", "set", dev, "up")

    def _build(self):
        for ns in self.ns.values():
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        for br in ("br0", "br1"):
            self.ip("sw", "link", "add", br, "type", "bridge", "forward_delay", "0")
            self.ip("sw", "link", "set", br, "up")
        self._plug("client", "br0", "client", "eth0", [f"{CLIENT4}/24"])
        for lb, (front, back) in self.LB_OWN.items():
            self._plug(lb, "br0", lb, "eth0", [f"{front}/24"])
            self._plug(lb, "br1", f"{lb}b", "eth1", [f"{back}/24"])
        self._plug("be", "br1", "be", "eth0", [f"{a}/24" for a in BE4])
        self.ip("be", "route", "add", "192.0.2.0/24", "via", LB_BE4)

    def mac(self, node, dev):
        out = self.ip(node, "-o", "link", "show", dev).stdout
        return out.split("link/ether ", 1)[1].split()[0]

    def be_gateway_mac(self):
        """The lladdr the backend holds for its gateway 198.51.100.1, or None."""
        out = self.ip("be", "neigh", "show", LB_BE4, "dev", "eth0").stdout.split()
        return out[out.index("lladdr") + 1] if "lladdr" in out else None

    def has(self, node, dev, ip):
        return f"inet {ip}/" in self.ip(node, "-o", "addr", "show", "dev", dev).stdout


def peer_server(ip, port):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    srv = socket.socket(fam)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, int(port)))
    srv.listen(128)

    def serve(c):
        try:
            c.sendall(f"PEER {c.getpeername()[0]} AT {c.getsockname()[0]}\n".encode())
            c.settimeout(30)
            while True:
                data = c.recv(4096)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def ask(ip, port, src=None):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(fam) as s:
        s.settimeout(3)
        if src:
            s.bind((src, 0))
        try:
            s.connect((ip, int(port)))
            line = s.makefile("rb").readline()
        except OSError as e:
            print(f"ERR {e}")
            return
        print(line.decode(errors="replace").strip().split(" AT ")[0])


def hold(ip, port):
    """Connect, print the greeting, then send each stdin line and print its echo."""
    with socket.create_connection((ip, int(port)), timeout=5) as s:
        f = s.makefile("rb")
        print(f.readline().decode().strip(), flush=True)
        for line in sys.stdin:
            s.sendall(line.encode())
            print(f.readline().decode().strip() or "EOF", flush=True)


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    {"peer-server": peer_server, "ask": ask, "hold": hold}[cmd](*rest)
