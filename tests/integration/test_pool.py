"""The shipped templates against a simulated Exchange / Lync pool on loopback
addresses: each template is loaded rewritten to the test addresses and ports
only (and, for the idle test, its idle timeouts scaled 1/600: a minute of
template time is 0.1 s here), everything else as shipped.

- Exchange 2016: one failing virtual directory (/ecp/healthcheck.htm -> 503)
  takes that server out of HTTPS rotation within fall x (interval + timeout)
  and leaves its SMTP and IMAP in;
- Exchange 2016: a connection through the HTTPS service idles "40 minutes"
  and is still served; it is cut only past its configured client_idle;
- Exchange 2010: persist keeps each client (several source addresses, spread
  over both CAS) on its CAS for OWA and for all three RPC ports together;
  when its CAS fails a check the client moves to the other one on every
  connection and stays there when the first returns;
- Lync 2013: a front end whose 5061 is down stops getting 5061 traffic and
  keeps its other ports (per-port gating).
"""
import os
import re
import socket
import ssl
import time

import pytest
import yaml

from pool_servers import ExchangeHost
from realservers import make_certs, missing
from vigil import (ROOT, SLOW, Backend, connect_from, free_port, recv_line, wait_for)

SCALE = 600.0                     # template seconds per test second, for idle timeouts


def need_real_servers():
    gone = missing()
    if gone and os.environ.get("CI") != "true":
        pytest.skip(f"not installed: {', '.join(gone)}")


def dur_s(text):
    """'65m' / '5s' / '250ms' / '1h' -> seconds."""
    total = 0.0
    for num, unit in re.findall(r"(\d+)(ms|s|m|h)", str(text)):
        total += int(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def dur_str(seconds):
    return f"{max(1, round(seconds * 1000))}ms"


def rewrite(name, addrs, ports, scale_idle=False):
    """The template examples/NAME with its addresses and ports replaced
    (addrs: template IP -> test IP; ports: template port -> test port) and
    without the failover section and the fixed control socket / status
    listener (the harness sets its own)."""
    cfg = yaml.safe_load((ROOT / "examples" / name).read_text())
    cfg.pop("failover", None)
    cfg["global"].pop("control_socket", None)
    cfg["global"].pop("status_listen", None)

    def scale(t):
        for k in ("client_idle", "server_idle"):
            if scale_idle and k in t:
                t[k] = dur_str(dur_s(t[k]) / SCALE)

    scale(cfg.get("defaults", {}).get("timeouts", {}))
    for s in cfg["services"]:
        s["vip"] = addrs[s["vip"]]
        s["ports"] = [ports[p] for p in s["ports"]]
        scale(s.get("timeouts", {}))
        for b in s["backends"]:
            b["address"] = addrs[b["address"]]
            if "port" in b:
                b["port"] = ports[b["port"]]
        checks = s.get("check", [])
        for c in checks if isinstance(checks, list) else [checks]:
            if "port" in c:
                c["port"] = ports[c["port"]]
            if "ports" in c:
                c["ports"] = [ports[p] for p in c["ports"]]
    return cfg


def alloc_ports(template_ports):
    """A distinct free test port for every port the template names."""
    return {p: free_port() for p in template_ports}


def state(v, svc, be):
    return v.backend(svc, be)["state"]


def tls_get(host, port, path="/", sock=None, timeout=5.0, src=None):
    """GET path over TLS (a new connection from src, or sock); returns (status, body, sock)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if sock is None:
        raw = socket.create_connection((host, port), timeout=timeout * SLOW,
                                       source_address=(src, 0) if src else None)
        sock = ctx.wrap_socket(raw, server_hostname="mail.test.example")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: mail.test.example\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return int(head.split()[1]), body.decode().strip(), sock


def https_labels(host, port, n=6):
    out = set()
    for _ in range(n):
        status, body, s = tls_get(host, port)
        s.close()
        assert status == 200
        out.add(body)
    return out


def smtp_banner_hosts(host, port, n=6):
    out = set()
    for _ in range(n):
        with socket.create_connection((host, port), timeout=5 * SLOW) as s:
            line = recv_line(s)
            s.sendall(b"QUIT\r\n")
        assert line.startswith("220 "), line
        out.add(line.split()[1].split(".")[0])
    return out


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    need_real_servers()
    return make_certs(tmp_path_factory.mktemp("poolcerts"))


EXCHANGE_PORTS = [443, 25, 587, 143, 993, 110, 995]


@pytest.fixture
def exchange_pool(certs):
    """Two simulated Exchange servers, ex1 on 127.0.0.2 and ex2 on 127.0.0.3."""
    ports = alloc_ports(EXCHANGE_PORTS)
    hosts = []
    try:
        for i, ip in enumerate(["127.0.0.2", "127.0.0.3"]):
            hosts.append(ExchangeHost(f"ex{i + 1}", ip, ports, certs).start())
        yield ports, hosts
    finally:
        for h in hosts:
            h.cleanup()


EX_ADDRS = {"192.0.2.20": "127.0.0.1", "198.51.100.21": "127.0.0.2",
            "198.51.100.22": "127.0.0.3"}


def test_exchange_failing_vdir_leaves_https_only(vigild_factory, exchange_pool):
    ports, (ex1, ex2) = exchange_pool
    cfg = rewrite("exchange-2016.yaml", EX_ADDRS, ports)
    https = next(s for s in cfg["services"] if s["name"] == "exchange-https")
    c0 = cfg["defaults"]["check"]
    bound = c0["fall"] * (dur_s(c0["interval"]) + dur_s(c0["timeout"]))
    assert all("interval" not in c and "fall" not in c for c in https["check"])
    v = vigild_factory(cfg)
    for svc in ("exchange-https", "exchange-smtp", "exchange-imap", "exchange-pop"):
        for be in ("ex1", "ex2"):
            v.wait_state(svc, be, "up", 20)
    assert https_labels("127.0.0.1", ports[443]) == {"ex1", "ex2"}
    assert smtp_banner_hosts("127.0.0.1", ports[25]) == {"ex1", "ex2"}

    t0 = time.monotonic()
    ex1.set_vdir_failing("/ecp", True)
    wait_for(lambda: state(v, "exchange-https", "ex1") == "down", bound, 0.05,
             what=f"ex1 out of HTTPS within fall x (interval + timeout) = {bound:.0f}s")
    took = time.monotonic() - t0
    print(f"\n/ecp 503: ex1 out of HTTPS rotation after {took:.1f}s (bound {bound:.0f}s)")
    b = v.backend("exchange-https", "ex1")
    assert b["check"]["type"] == "https" and "503" in b["check"]["detail"], b
    assert [c["state"] for c in b["checks"]] == ["up"] * 5 + ["down", "up"], b["checks"]
    assert "/ecp/healthcheck.htm" in v.log()
    # HTTPS goes to ex2 only; ex1 keeps its mail protocols
    assert https_labels("127.0.0.1", ports[443]) == {"ex2"}
    for svc in ("exchange-smtp", "exchange-imap", "exchange-pop"):
        assert state(v, svc, "ex1") == "up", svc
    assert smtp_banner_hosts("127.0.0.1", ports[25]) == {"ex1", "ex2"}
    assert smtp_banner_hosts("127.0.0.1", ports[587]) == {"ex1", "ex2"}
    # Managed Availability puts /ecp back: ex1 returns
    ex1.set_vdir_failing("/ecp", False)
    v.wait_state("exchange-https", "ex1", "up", bound)
    wait_for(lambda: https_labels("127.0.0.1", ports[443]) == {"ex1", "ex2"}, 10,
             what="both servers in HTTPS rotation again")


def test_exchange_long_poll_idles_40_minutes(vigild_factory, exchange_pool):
    """client_idle 65m (template) = 6.5 s here; 40 min = 4 s."""
    ports, _ = exchange_pool
    cfg = rewrite("exchange-2016.yaml", EX_ADDRS, ports, scale_idle=True)
    https = next(s for s in cfg["services"] if s["name"] == "exchange-https")
    limit = dur_s(https["timeouts"]["client_idle"])
    assert abs(limit - 65 * 60 / SCALE) < 0.01
    v = vigild_factory(cfg)
    for be in ("ex1", "ex2"):
        v.wait_state("exchange-https", be, "up", 20)
    status, label, s = tls_get("127.0.0.1", ports[443])
    assert status == 200
    try:
        time.sleep(40 * 60 / SCALE)               # "40 minutes" of silence
        status, again, s = tls_get("127.0.0.1", ports[443], sock=s)
        assert (status, again) == (200, label), "the long poll was cut before its limit"
        t0 = time.monotonic()
        s.settimeout(limit * 3 * SLOW)
        try:
            assert s.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            pass
        idle = time.monotonic() - t0
        print(f"\nidle 40 min (4 s) kept; cut after {idle:.1f}s of silence (limit {limit:.1f}s)")
        assert idle >= limit - 0.3, idle
    finally:
        s.close()


EX10_ADDRS = {"192.0.2.40": "127.0.0.1", "198.51.100.41": "127.0.0.2",
              "198.51.100.42": "127.0.0.3"}
RPC_PORTS = [135, 60000, 60001]          # endpoint mapper, static RPC and address book ports


def test_exchange_2010_persist_keeps_clients_on_their_cas(vigild_factory, exchange_pool):
    ports, (ex1, _) = exchange_pool
    ports = {**ports, **alloc_ports(RPC_PORTS)}
    rpc = {}
    try:
        for i, ip in enumerate(["127.0.0.2", "127.0.0.3"]):
            for p in RPC_PORTS:
                rpc[(i, p)] = Backend(f"ex{i + 1}", host=ip, port=ports[p])
        cfg = rewrite("exchange-2010.yaml", EX10_ADDRS, ports)
        svcs = {s["name"]: s for s in cfg["services"]}
        for name in ("cas-https", "cas-rpc"):
            # a balancing scheduler places new clients; persist keeps them,
            # longer than OWA's "private computer" cookie (8 h)
            assert svcs[name]["scheduler"] in ("leastconn", "roundrobin"), name
            assert dur_s(svcs[name]["persist"]) > 8 * 3600, name
        c0 = cfg["defaults"]["check"]
        bound = c0["fall"] * (dur_s(c0["interval"]) + dur_s(c0["timeout"]))
        v = vigild_factory(cfg)
        for svc in ("cas-https", "cas-rpc", "hub-smtp"):
            for be in ("cas1", "cas2"):           # the template's names: cas1 is ex1
                v.wait_state(svc, be, "up", 20)
        clients = [f"127.0.0.{100 + i}" for i in range(12)]

        def owa(src, n=3):
            """The CAS that serves src's next n OWA connections (all the same one)."""
            seen = set()
            for _ in range(n):
                status, body, s = tls_get("127.0.0.1", ports[443], src=src)
                s.close()
                assert status == 200
                seen.add(body)
            assert len(seen) == 1, f"{src} was sent to {sorted(seen)}"
            return seen.pop()

        def rpc_cas(src):
            """The CAS behind src's 135, static RPC and address book ports (one)."""
            seen = set()
            for p in RPC_PORTS + RPC_PORTS[::-1]:
                with connect_from(src, "127.0.0.1", ports[p]) as s:
                    seen.add(recv_line(s))
            assert len(seen) == 1, f"{src}'s RPC ports went to {sorted(seen)}"
            return seen.pop()

        home = {c: owa(c) for c in clients}
        assert set(home.values()) == {"ex1", "ex2"}, home
        assert {c: owa(c) for c in clients} == home           # kept, connection after connection
        assert v.service("cas-https")["persist_entries"] == len(clients)
        rpc_home = {c: rpc_cas(c) for c in clients}
        assert set(rpc_home.values()) == {"ex1", "ex2"}, rpc_home
        assert {c: rpc_cas(c) for c in clients} == rpc_home
        assert v.service("cas-rpc")["persist_entries"] == len(clients)

        # ex1's OWA application pool dies, and its address book port stops
        ex1.set_vdir_failing("/owa", True)
        rpc.pop((0, 60001)).close()
        for svc in ("cas-https", "cas-rpc"):
            wait_for(lambda: state(v, svc, "cas1") == "down", bound, 0.05,
                     what=f"cas1 out of {svc} within fall x (interval + timeout) = {bound:.0f}s")
        assert state(v, "hub-smtp", "cas1") == "up"
        # every client of ex1 now on ex2, on every port; ex2's clients stay
        assert all(owa(c) == "ex2" for c in clients)
        assert all(rpc_cas(c) == "ex2" for c in clients)
        assert smtp_banner_hosts("127.0.0.1", ports[25]) == {"ex1", "ex2"}

        # ex1 returns: the moved clients keep ex2 (their new session is
        # there); new clients are placed on both again
        ex1.set_vdir_failing("/owa", False)
        v.wait_state("cas-https", "cas1", "up", bound)
        assert all(owa(c) == "ex2" for c in clients)
        newcomers = [f"127.0.0.{150 + i}" for i in range(6)]
        assert {owa(c) for c in newcomers} == {"ex1", "ex2"}
        moved = sum(1 for c in clients if home[c] == "ex1")
        print(f"\n{len(clients)} clients, {moved} moved from ex1 to ex2 and stayed")
    finally:
        for b in rpc.values():
            b.close()


LYNC_PORTS = [443, 80, 4443, 8080, 5061, 444, 135, 448, 5070, 5071, 5072, 5073, 5075,
              5076, 5080]
LYNC_ADDRS = {"192.0.2.50": "127.0.0.1", "192.0.2.51": "127.0.0.6",
              "198.51.100.51": "127.0.0.2", "198.51.100.52": "127.0.0.3",
              "198.51.100.53": "127.0.0.4"}


def test_lync_front_end_without_5061_keeps_other_ports(vigild_factory):
    ports = alloc_ports(LYNC_PORTS)
    listeners = {}
    try:
        for i in range(3):
            ip = f"127.0.0.{2 + i}"
            for p in LYNC_PORTS:
                listeners[(i, p)] = Backend(f"fe{i + 1}", host=ip, port=ports[p])
        cfg = rewrite("lync-2013.yaml", LYNC_ADDRS, ports)
        c0 = cfg["defaults"]["check"]
        bound = c0["fall"] * (dur_s(c0["interval"]) + dur_s(c0["timeout"]))
        v = vigild_factory(cfg)
        for svc in ("lync-web-int", "lync-web-ext", "lync-web-ext-http", "lync-fe"):
            for i in range(3):
                v.wait_state(svc, f"fe{i + 1}", "up", 20)
        sources = [f"127.0.0.{100 + i}" for i in range(30)]

        def names(vip, port):
            out = set()
            for src in sources:
                with connect_from(src, vip, port) as s:
                    out.add(recv_line(s))
            return out

        assert names("127.0.0.1", ports[5061]) == {"fe1", "fe2", "fe3"}
        assert names("127.0.0.6", ports[443]) == {"fe1", "fe2", "fe3"}   # -> 4443
        listeners.pop((0, 5061)).close()                  # fe1's SIP listener stops
        wait_for(lambda: v.backend("lync-fe", "fe1")["gated_ports"] == [ports[5061]], bound,
                 0.05, what="fe1's 5061 out of rotation")
        b = v.backend("lync-fe", "fe1")
        assert b["state"] == "up", b
        assert b["check"]["last"] == "connect", b
        assert [c["state"] for c in b["checks"]] == ["down"] + ["up"] * 10, b["checks"]
        assert names("127.0.0.1", ports[5061]) == {"fe2", "fe3"}
        assert names("127.0.0.1", ports[444]) == {"fe1", "fe2", "fe3"}
        assert names("127.0.0.1", ports[443]) == {"fe1", "fe2", "fe3"}
        assert f"port {ports[5061]} out of rotation" in v.log()
    finally:
        for b in listeners.values():
            b.close()
