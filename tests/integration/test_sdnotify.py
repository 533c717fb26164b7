"""systemd readiness (Type=notify, issue 11): vigild tells $NOTIFY_SOCKET
READY=1 only once its listeners accept and every backend's first probe has
finished, RELOADING=1 / READY=1 around reloads, STOPPING=1 on SIGTERM, with a
STATUS= summary."""
import time

import pytest

from failover_bed import ADV_MS, Pair, master_down_ms
from netns import have_netns
from notify_sock import NotifySocket
from vigil import SLOW, Backend, base_config, connect, free_port, recv_line, service, wait_for

VIP = "127.0.0.31"
PROBE_DELAY = 0.6


def slow_http(sock, srv):
    """An HTTP server that answers after PROBE_DELAY, noting when it answered."""
    sock.recv(4096)
    time.sleep(PROBE_DELAY)
    with srv.lock:
        srv.answered.append(time.monotonic())
    sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")


def named(sock, srv):
    sock.sendall(srv.name.encode() + b"\n")
    sock.recv(1)


def test_ready_after_listeners_and_first_probes_then_reload_and_stop(tmp_path, vigild_factory):
    port, lport = free_port(VIP), free_port(VIP)
    web = Backend("web1", behaviour=slow_http)
    web.srv.answered = []
    tcp = Backend("tcp1", behaviour=named)
    ns = NotifySocket(tmp_path / "notify.sock")
    try:
        cfg = base_config([
            service("web", VIP, [port], [web],
                    check={"type": "http", "interval": "5s", "timeout": "2s"}),
            service("plain", VIP, [lport], [tcp]),
        ])
        started = time.monotonic()
        v = vigild_factory(cfg, env={"NOTIFY_SOCKET": ns.path}, start=False)
        v.start(wait=False)
        (t_ready, ready), = ns.wait("READY", "1", timeout=10)
        # the listeners accepted before READY=1: a client gets through right away
        assert recv_line(connect(VIP, lport)) == "tcp1"
        assert web.srv.answered and web.srv.answered[0] <= t_ready, \
            "READY=1 came before the slow backend's first probe finished"
        assert t_ready - started >= PROBE_DELAY
        st = v.status()
        assert {b["check"]["last"] for s in st["services"] for b in s["backends"]} == {"ok"}
        assert "2 services, 2/2 backends up, failover standalone" in ready.get("STATUS", "") or \
            any("2/2 backends up" in m.get("STATUS", "") for _, m in ns.with_key("STATUS"))
        assert len(ns.with_key("READY")) == 1
        assert "ready: 2 services" in v.log()

        # a reload: RELOADING=1 (with MONOTONIC_USEC), then READY=1
        r = v.ctl("reload")
        assert r.returncode == 0, r.stderr
        ns.wait("READY", "1", count=2, timeout=5)
        (t_rel, rel), = ns.with_key("RELOADING", "1")
        assert int(rel["MONOTONIC_USEC"]) > 0
        assert t_rel <= ns.with_key("READY")[1][0]

        # a refused reload still ends with READY=1 (the old configuration runs)
        v.cfg_path.write_text("services: [\n")
        r = v.ctl("reload")
        assert r.returncode != 0
        ns.wait("READY", "1", count=3, timeout=5)
        assert len(ns.with_key("RELOADING", "1")) == 2
        assert any("reload refused" in m.get("STATUS", "") for _, m in ns.with_key("STATUS"))

        assert not ns.with_key("STOPPING")
        assert v.stop() == 0
        ns.wait("STOPPING", "1", timeout=2)
    finally:
        ns.close()
        web.close()
        tcp.close()


def test_ready_line_without_notify_socket(tmp_path, vigild_factory):
    """No $NOTIFY_SOCKET: nothing to send, the readiness is still logged."""
    port = free_port(VIP)
    tcp = Backend("tcp1", behaviour=named)
    try:
        v = vigild_factory(base_config([service("plain", VIP, [port], [tcp])]))
        wait_for(lambda: "ready: 1 service, 1/1 backends up, failover standalone" in v.log(),
                 5, what="the ready log line")
    finally:
        tcp.close()


def test_ready_is_declared_late_for_a_backend_that_never_answers(tmp_path, vigild_factory):
    """A probe that hangs until its timeout delays READY=1 by that much at most, never
    past interval + timeout + 2 s."""
    port = free_port(VIP)
    hang = Backend("hang1", behaviour=lambda s, srv: s.recv(4096) and time.sleep(3))
    ns = NotifySocket(tmp_path / "notify.sock")
    try:
        cfg = base_config([service("web", VIP, [port], [hang],
                                   check={"type": "http", "interval": "2s", "timeout": "1s"})])
        started = time.monotonic()
        v = vigild_factory(cfg, env={"NOTIFY_SOCKET": ns.path}, start=False)
        v.start(wait=False)
        (t_ready, ready), = ns.wait("READY", "1", timeout=10)
        # the first probe times out after 1 s: that is a result, ready then
        assert 0.9 <= t_ready - started <= 1.0 + 2.0 * SLOW
        assert "0/1 backends up" in ready.get("STATUS", "")
    finally:
        ns.close()
        hang.close()


@pytest.mark.netns
@pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))
def test_ready_waits_for_the_failover_state(tmp_path, monkeypatch):
    """A node alone becomes master after master-down and is ready then; a node that
    hears a master stays backup and is ready once 4 adverts passed without a takeover.
    The READY=1 message's STATUS= was written at the same moment as the verdict."""
    p = Pair(tmp_path, start=False)
    sockets = []
    try:
        for name in ("lb1", "lb2"):
            ns = NotifySocket(tmp_path / f"{name}.notify")
            sockets.append(ns)
            monkeypatch.setenv("NOTIFY_SOCKET", ns.path)
            started = time.monotonic()
            p[name].start(wait=False)
            (t, ready), = ns.wait("READY", "1", timeout=10)
            waited = t - started
            want = "master" if name == "lb1" else "backup"
            assert ready["STATUS"].endswith(f"failover {want}"), ready
            assert "2/2 backends up" in ready["STATUS"]
            if name == "lb1":
                assert waited >= master_down_ms(150) / 1000 * 0.9, waited
            else:
                assert waited >= 4 * ADV_MS / 1000 * 0.9, waited
                assert p[name].state() == "backup"
        monkeypatch.delenv("NOTIFY_SOCKET")
    finally:
        for ns in sockets:
            ns.close()
        problems = p.close()
    assert not problems, problems
