"""The data path's own sockets (issue 7): a node out of file descriptors
refuses clients without charging the backends (defect 2), and client and
backend sockets carry TCP keepalive (defect 8)."""
import re
import socket
import subprocess
import time

import pytest

from vigil import (SLOW, VIGILD, Backend, Vigild, base_config, free_port, recv_line, service,
                   wait_all_state, wait_for)

VIP = "127.0.0.12"


def try_client(port, timeout=1.5):
    """Connect through the VIP: ('served', sock) with the backend's greeting
    read, ('refused', None) when vigild closed it, ('waiting', sock) when
    nothing came (still in the backlog)."""
    try:
        s = socket.create_connection((VIP, port), timeout=timeout * SLOW)
    except OSError:
        return "refused", None
    try:
        s.settimeout(timeout * SLOW)
        line = recv_line(s)
    except (socket.timeout, TimeoutError):
        return "waiting", s
    except OSError:
        s.close()
        return "refused", None
    if line:
        return "served", s
    s.close()
    return "refused", None


@pytest.fixture
def backend():
    b = Backend("be1")
    yield b
    b.close()


def test_fd_exhaustion_is_local_not_the_backends(tmp_path, backend):
    """vigild out of fds (its limit lowered with prlimit once it runs, below
    what maxconn was sized for, as when something else eats them): a client
    that was accepted with the last fd cannot get a backend socket; it is
    refused and counted as a local error, and the healthy backend never goes
    down; once the clients close, service resumes.

    The limit is exact: buffered relay (no splice pipes), probes idle after
    the first, so each served client holds 2 fds and the 4th accept takes the
    last one."""
    port = free_port(VIP)
    cfg = base_config([service("web", VIP, [port], [backend],
                               check={"type": "tcp", "interval": "60s", "timeout": "1s",
                                      "rise": 1, "fall": 1})])
    v = Vigild(tmp_path, cfg, env={"VIGIL_NO_SPLICE": "1"})
    held = []
    try:
        v.start()
        wait_all_state(v, "web", ["be1"])
        time.sleep(0.5)                       # the first probe's socket is closed
        base = v.fd_count()
        subprocess.run(["prlimit", f"--pid={v.pid}", f"--nofile={base + 2 * 3 + 1}"],
                       check=True)
        outcome = {"served": 0, "refused": 0, "waiting": 0}
        for _ in range(6):
            what, s = try_client(port)
            outcome[what] += 1
            if s is not None:
                held.append(s)
        assert outcome == {"served": 3, "refused": 3, "waiting": 0}, (outcome, v.log()[-2000:])
        st = v.service("web")                 # the control socket's spare fd answers
        assert st["local_errors"] == 3, st
        assert v.status()["local_errors"] == 3
        assert st["backends"][0]["state"] == "up"
        assert st["backends"][0]["connect_fail"] == 0, st
        text = v.ctl("status").stdout
        assert "for local errors of this node" in text, text
        for s in held:
            s.close()
        held.clear()
        wait_for(lambda: try_client(port)[0] == "served", 10, what="service to resume")
        log = v.log()
        assert "-> down" not in log, log[-3000:]
        local = re.findall(r"service web backend be1: cannot connect, local error", log)
        assert len(local) == 1, local             # one line per change, not one per client
        assert "service web: backend connects work again" in log, log[-3000:]
    finally:
        for s in held:
            s.close()
        v.stop()
        assert not v.sanitizer_reports(), v.sanitizer_reports()


# ---------------------------------------------------------------- keepalive

def vigild_sockets(pid):
    """`ss -tnoep` lines of vigild's established TCP sockets."""
    out = subprocess.run(["ss", "-Htnoep", "state", "established"], capture_output=True,
                         text=True, timeout=10).stdout
    return [ln for ln in out.splitlines() if f"pid={pid}," in ln]


def keepalive_left(line):
    """Seconds left on the socket's keepalive timer, or None without one.
    ss (iproute2 6.1) prints it as "11min", "4.936ms" (4.936 s) or "936ms"."""
    m = re.search(r"timer:\(keepalive,([^,]+),", line)
    if not m:
        return None
    t = m.group(1)
    if t.endswith("min"):
        return 60.0 * float(t[:-3])
    if t.endswith("sec"):
        return float(t[:-3])
    if t.endswith("ms"):
        return float(t[:-2]) if "." in t else float(t[:-2]) / 1000
    return float(t.rstrip("s"))


@pytest.mark.parametrize("keepalive, low, high", [
    pytest.param("7s", 0.5, 7.0, id="7s"),
    pytest.param(None, 45.0, 60.0, id="default-60s"),
    pytest.param("0", None, None, id="off"),
])
def test_keepalive_on_client_and_backend_sockets(tmp_path, backend, keepalive, low, high):
    port = free_port(VIP)
    svc = service("web", VIP, [port], [backend])
    if keepalive is not None:
        svc["timeouts"] = {"keepalive": keepalive}
    v = Vigild(tmp_path, base_config([svc]))
    try:
        v.start()
        wait_all_state(v, "web", ["be1"])
        with socket.create_connection((VIP, port), timeout=5 * SLOW) as c:
            assert recv_line(c) == "be1"
            wait_for(lambda: len(vigild_sockets(v.pid)) >= 2, 5, what="both sockets")
            lines = vigild_sockets(v.pid)
            client = [ln for ln in lines if f"{VIP}:{port} " in ln]
            back = [ln for ln in lines if f"127.0.0.1:{backend.port} " in ln]
            assert len(client) == 1 and len(back) == 1, lines
            for side, line in (("client", client[0]), ("backend", back[0])):
                left = keepalive_left(line)
                if low is None:
                    assert left is None, f"{side} socket has keepalive: {line}"
                else:
                    assert left is not None, f"{side} socket has no keepalive timer: {line}"
                    assert low <= left <= high, f"{side}: {left}s left ({line})"
    finally:
        v.stop()
        assert not v.sanitizer_reports(), v.sanitizer_reports()


def test_keepalive_follows_reload(tmp_path, backend):
    """Client sockets inherit keepalive from the listening socket (no system
    call per client): a reload that changes timeouts.keepalive changes it on
    the listening sockets, so the next clients get the new setting."""
    port = free_port(VIP)
    svc = service("web", VIP, [port], [backend])
    svc["timeouts"] = {"keepalive": "7s"}
    cfg = base_config([svc])
    v = Vigild(tmp_path, cfg)

    def client_timer():
        with socket.create_connection((VIP, port), timeout=5 * SLOW) as c:
            assert recv_line(c) == "be1"
            wait_for(lambda: len(vigild_sockets(v.pid)) >= 2, 5, what="both sockets")
            line = [ln for ln in vigild_sockets(v.pid) if f"{VIP}:{port} " in ln][0]
            return keepalive_left(line)
    try:
        v.start()
        wait_all_state(v, "web", ["be1"])
        assert 0.5 <= client_timer() <= 7.0
        for ka, low, high in (("0", None, None), ("20s", 8.0, 20.0)):
            cfg["services"][0]["timeouts"] = {"keepalive": ka}
            v.write_config(cfg)
            assert v.ctl("reload").returncode == 0
            wait_for(lambda: len(vigild_sockets(v.pid)) == 0, 5, what="sockets closed")
            left = client_timer()
            assert (left is None) if low is None else (low <= left <= high), (ka, left)
    finally:
        v.stop()
        assert not v.sanitizer_reports(), v.sanitizer_reports()


def test_source_address_missing_is_local(tmp_path, backend):
    """`source:` names an address this node lacks (here: after a reload):
    bind() fails with EADDRNOTAVAIL for every client. That is this node's
    fault: clients are refused, counted as local errors and logged once; the
    backend, up before, stays up (its probes cannot start either, which does
    not count)."""
    port = free_port(VIP)
    check = {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1}
    cfg = base_config([service("web", VIP, [port], [backend], source="127.0.0.1", check=check)])
    v = Vigild(tmp_path, cfg)
    try:
        v.start()
        wait_all_state(v, "web", ["be1"])
        assert try_client(port)[0] == "served"
        cfg["services"][0]["source"] = "192.0.2.99"   # RFC 5737, on no interface here
        v.write_config(cfg)
        r = v.ctl("reload")
        assert r.returncode == 0, r.stderr
        for _ in range(5):
            assert try_client(port)[0] == "refused"
        time.sleep(0.3)                                # a few probe rounds
        log = v.log()
        assert "-> down" not in log, log[-3000:]
        st = v.service("web")
        assert st["backends"][0]["state"] == "up", st
        assert st["backends"][0]["connect_fail"] == 0, st
        assert st["local_errors"] == 5, st
        lines = re.findall(r"cannot connect, local error \(bind: ([^)]*)\)", log)
        assert len(lines) == 1, log[-3000:]
        assert "Cannot assign requested address" in lines[0]
    finally:
        v.stop()
        assert not v.sanitizer_reports(), v.sanitizer_reports()
