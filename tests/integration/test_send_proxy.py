"""send_proxy: v1 | v2 (issue 8): the backend learns the client's address from
a PROXY header sent before the client's bytes, in both relay modes, for
client-first and server-first protocols; probes of such a backend send a
header too (v2 LOCAL, v1 the probe's own ends) so a backend that requires
one stays up."""
import hashlib
import os
import socket

import pytest

from proxyproto import make_server_state, proxy_backend
from vigil import (SLOW, Backend, base_config, check_conf, connect, connect_from, free_port,
                   recv_line, run_vigild, service, wait_all_state, wait_for)

VIP = "127.0.0.10"
SOURCES = ["127.0.0.2", "127.0.0.3", "127.0.0.77", "127.1.2.3"]
SPLICE_MODES = [pytest.param({}, id="splice"),
                pytest.param({"VIGIL_NO_SPLICE": "1"}, id="buffered")]


@pytest.fixture
def pbackends():
    """pbackends(style, names...) -> strict PROXY-requiring fake backends."""
    made = []

    def make(style, *names):
        out = [make_server_state(Backend(n, behaviour=proxy_backend(style))) for n in names]
        made.extend(out)
        return out

    yield make
    for b in made:
        b.close()


def start(vigild_factory, bes, env=None, check=None, **svc_extra):
    port = free_port(VIP)
    cfg = base_config([service("s", VIP, [port], bes, check=check or check_conf(), **svc_extra)])
    v = vigild_factory(cfg, env=env)
    wait_all_state(v, "s", [b["name"] if isinstance(b, dict) else b.name for b in bes])
    return v, port


def client_first(src, port, line="hello"):
    """Connect from src, send a line before reading anything, return the reply."""
    with connect_from(src, VIP, port) as s:
        s.sendall(line.encode() + b"\r\n")
        reply = recv_line(s)
        s.sendall(b"again\r\n")
        again = recv_line(s)
        return reply, again, s.getsockname()


@pytest.mark.parametrize("env", SPLICE_MODES)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_client_address_reaches_backend(vigild_factory, pbackends, version, env):
    """Clients from several 127.x addresses each see their own address echoed
    by a backend that parses the header strictly; the request that followed
    the header arrives intact."""
    (be,) = pbackends("echo", "be1")
    v, port = start(vigild_factory, [be], env=env, send_proxy=version)
    for src in SOURCES:
        reply, again, (cip, cport) = client_first(src, port, f"hello from {src}")
        assert reply == (f"FROM {cip}:{cport} TO {VIP}:{port} {version} "
                         f"GOT hello from {src}"), reply
        assert again == "ECHO again"
        assert cip == src
    assert be.srv.rejects == []
    relayed = [h for h in be.srv.headers if h.command == "PROXY" and h.dst[0] == VIP]
    assert [h.src[0] for h in relayed] == SOURCES
    assert all(h.version == int(version[1]) and h.family == "TCP4" for h in relayed)
    # bytes counted are the client's, not the header's
    assert v.backend("s", "be1")["bytes_in"] == sum(
        len(f"hello from {s}\r\nagain\r\n") for s in SOURCES)


@pytest.mark.parametrize("env", SPLICE_MODES)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_server_speaks_first(vigild_factory, pbackends, version, env):
    """An SMTP-style backend waits for the header before its banner: the
    header goes out right after connect though the client has sent nothing.
    The smtp check passes through the same backend (LOCAL / UNKNOWN header)."""
    (be,) = pbackends("smtp", "mx1")
    v, port = start(vigild_factory, [be], env=env, send_proxy=version,
                    check=check_conf(type="smtp", timeout="250ms", interval="300ms"))
    for src in SOURCES[:2]:
        with connect_from(src, VIP, port) as s:
            banner = recv_line(s)
            assert banner == f"220 mx1 from {src}:{s.getsockname()[1]} {version}"
            s.sendall(b"EHLO client.example\r\n")
            assert recv_line(s) == "250 mx1"
            s.sendall(b"QUIT\r\n")
            assert recv_line(s) == "221 bye"
    assert be.srv.rejects == []


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_probes_send_header_and_backend_stays_up(vigild_factory, pbackends, version):
    """A backend that rejects connections without a header stays up under
    smtp probes: they send v2 LOCAL, or for v1 a line naming the probe's own
    ends (the spec's advice for health checks: postfix rejects "PROXY
    UNKNOWN", see test_send_proxy_real.py)."""
    (be,) = pbackends("smtp", "mx1")
    v, port = start(vigild_factory, [be], send_proxy=version,
                    check=check_conf(type="smtp", timeout="100ms", interval="100ms"))
    wait_for(lambda: len(be.srv.headers) >= 5, 10, what="five probes")
    b = v.backend("s", "mx1")
    assert b["state"] == "up" and b["check"]["last"] == "ok", b
    assert be.srv.rejects == []
    hs = list(be.srv.headers)
    assert len(hs) >= 5 and all(h.version == int(version[1]) for h in hs)
    if version == "v2":
        assert all(h.command == "LOCAL" for h in hs)
    else:
        assert all(h.command == "PROXY" and h.family == "TCP4" and h.src[0] == "127.0.0.1"
                   and h.dst == ("127.0.0.1", be.port) for h in hs), hs


def test_probe_without_header_is_rejected(vigild_factory, pbackends):
    """The same backend without send_proxy: it waits for a header the probe
    never sends, the probe waits for a banner, and the backend is down (what
    the header prevents)."""
    (be,) = pbackends("smtp", "mx1")
    port = free_port(VIP)
    cfg = base_config([service("s", VIP, [port], [be],
                               check=check_conf(type="smtp"))])
    v = vigild_factory(cfg)
    v.wait_state("s", "mx1", "down")
    wait_for(lambda: v.backend("s", "mx1")["check"]["last"] == "timeout", 5, what="timeout")
    assert "banner" in v.backend("s", "mx1")["check"]["detail"]
    assert be.srv.headers == []


@pytest.mark.parametrize("env", SPLICE_MODES)
def test_backend_override_and_service_without(vigild_factory, pbackends, env):
    """backends[].send_proxy overrides the service's (none turns it off, v1
    under a v2 service); a service without send_proxy sends none."""
    plain = Backend("plain")
    try:
        (p1,) = pbackends("echo", "p1")
        port = free_port(VIP)
        port2 = free_port(VIP)
        cfg = base_config([
            service("s", VIP, [port], [p1.conf(send_proxy="v1"), plain.conf(send_proxy="none")],
                    send_proxy="v2", scheduler="roundrobin", check=check_conf()),
            service("t", VIP, [port2], [plain], check=check_conf()),
        ])
        v = vigild_factory(cfg, env=env)
        wait_all_state(v, "s", ["p1", "plain"])
        wait_all_state(v, "t", ["plain"])
        got = set()
        for i in range(4):
            with connect_from(SOURCES[i % 2], VIP, port) as s:
                s.sendall(b"x\r\n")
                first = recv_line(s)
                got.add(first.split(" ")[0])
                if first.startswith("FROM"):
                    assert first.endswith(" v1 GOT x"), first
                else:
                    assert first == "plain"       # named_echo: no header, its name first
        assert got == {"FROM", "plain"}
        assert {h.version for h in p1.srv.headers} == {1}
        assert p1.srv.rejects == []
        with connect(VIP, port2) as s:
            s.sendall(b"PING\r\n")
            assert recv_line(s) == "plain"
            assert recv_line(s) == "PING"
    finally:
        plain.close()


def test_client_closes_at_once(vigild_factory, pbackends):
    """A client that sends its request and half-closes right away: header,
    request and FIN reach the backend in order, the reply comes back."""
    (be,) = pbackends("echo", "be1")
    v, port = start(vigild_factory, [be], send_proxy="v2")
    with connect_from("127.0.0.5", VIP, port) as s:
        s.sendall(b"last words\r\n")
        s.shutdown(socket.SHUT_WR)
        assert recv_line(s).endswith("v2 GOT last words")
    wait_for(lambda: v.status()["active"] == 0, 5, what="connection closed")


def test_bad_version_is_a_config_error(tmp_path):
    """`send_proxy: v3` is a -t error at its line and column."""
    cfg = tmp_path / "v.yaml"
    cfg.write_text("services:\n  - name: s\n    vip: 127.0.0.10\n    ports: [25]\n"
                   "    send_proxy: v3\n    backends: [{name: a, address: 127.0.0.1}]\n")
    r = run_vigild("-t", "-c", cfg)
    assert r.returncode != 0
    assert f"{cfg}:5:17: services[0].send_proxy: unknown PROXY protocol version \"v3\"" \
        in r.stdout + r.stderr


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_ipv6_client(vigild_factory, pbackends, version):
    """An IPv6 VIP (::1) in front of an IPv4 backend: the header is TCP6 with
    the client's IPv6 address and port, whatever the backend's family."""
    (be,) = pbackends("echo", "be1")
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    cfg = base_config([service("s6", "::1", [port], [be], send_proxy=version,
                               check=check_conf())])
    v = vigild_factory(cfg)
    wait_all_state(v, "s6", ["be1"])
    with socket.create_connection(("::1", port), timeout=5 * SLOW) as s:
        s.sendall(b"hi6\r\n")
        cport = s.getsockname()[1]
        assert recv_line(s) == f"FROM ::1:{cport} TO ::1:{port} {version} GOT hi6"
    h = [h for h in be.srv.headers if h.command == "PROXY" and h.dst[0] == "::1"]
    assert len(h) == 1 and h[0].family == "TCP6"
    assert be.srv.rejects == []


def test_reload_changes_version(vigild_factory, pbackends):
    """A reload that changes send_proxy applies to the kept backend's next
    connections: v2, then v1, then none (the strict backend rejects it)."""
    (be,) = pbackends("echo", "be1")
    port = free_port(VIP)

    def cfg(version):
        return base_config([service("s", VIP, [port], [be], send_proxy=version,
                                    check=check_conf())])

    v = vigild_factory(cfg("v2"))
    wait_all_state(v, "s", ["be1"])
    for n, version in enumerate(["v2", "v1", "none"]):
        if n:
            v.write_config(cfg(version))
            v.ctl("reload")
            wait_for(lambda: v.status()["reloads"] == n, 5, what=f"reload {n}")
        with connect_from("127.0.0.6", VIP, port) as s:
            s.sendall(b"ping\r\n")
            reply = recv_line(s)
        if version == "none":
            assert reply.startswith("554 5.7.0 PROXY header required"), reply
        else:
            assert reply.endswith(f" {version} GOT ping"), reply


@pytest.mark.parametrize("env", SPLICE_MODES)
def test_bulk_upload_after_header(vigild_factory, pbackends, env):
    """4 MiB sent at once after connect: the header, then every byte intact
    (in splice mode the first buffer-full goes with the header, the rest
    through the pipe again)."""
    (be,) = pbackends("sink", "be1")
    v, port = start(vigild_factory, [be], env=env, send_proxy="v2")
    data = os.urandom(4 << 20)
    with connect_from("127.0.0.8", VIP, port, timeout=20) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = recv_line(s)
        cport = s.getsockname()[1]
    assert reply == f"{len(data)} {hashlib.sha256(data).hexdigest()} 127.0.0.8:{cport}"
    assert v.backend("s", "be1")["bytes_in"] == len(data)
