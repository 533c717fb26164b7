"""The data path through real connections: bulk data, half-close, connect
failures, idle timeouts, maxconn, backup backends, many connections (issue 2)."""
import hashlib
import os
import resource
import selectors
import socket
import threading
import time

import pytest

from vigil import (SANITIZED, SLOW, Backend, Blackhole, MassBackend, base_config, check_conf,
                   connect, exchange, exchange_through, free_port, recv_line, rss_kib,
                   service, timeouts_conf, wait_all_state, wait_for, who_answers)

VIP = "127.0.0.10"
MiB = 1 << 20


@pytest.fixture
def ck():
    """A port that always accepts: services probe it instead of their backends
    (check.port), so the backends' own behaviour sees client connections only."""
    b = Backend("checkport")
    yield b
    b.close()


def start(vigild_factory, bes, ck, env=None, svc_extra=None, **global_keys):
    port = free_port(VIP)
    extra = dict(svc_extra or {})
    extra.setdefault("check", check_conf(port=ck.port))
    cfg = base_config([service("s", VIP, [port], bes, **extra)], **global_keys)
    v = vigild_factory(cfg, env=env)
    wait_all_state(v, "s", [b.name if not isinstance(b, dict) else b["name"] for b in bes])
    return v, port


def closed_within(sock, limit):
    """Seconds until sock sees EOF or a reset; fails after limit."""
    t0 = time.monotonic()
    deadline = t0 + limit * SLOW
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            sock.settimeout(left)
            if not sock.recv(4096):
                break
    except ConnectionResetError:
        pass
    except (socket.timeout, TimeoutError):
        raise AssertionError(f"connection still open after {limit * SLOW:.1f}s")
    return time.monotonic() - t0


SPLICE_MODES = [pytest.param({}, id="splice"), pytest.param({"VIGIL_NO_SPLICE": "1"}, id="buffered")]


# ---------------------------------------------------------------- bulk data

@pytest.mark.parametrize("env", SPLICE_MODES)
def test_16mib_each_way_intact(vigild_factory, backends, ck, env):
    up, down = os.urandom(16 * MiB), os.urandom(16 * MiB)
    beh = exchange(down)
    (be,) = backends(1, behaviour=beh)
    v, port = start(vigild_factory, [be], ck, env=env)
    n, digest = exchange_through(VIP, port, up)
    assert (n, digest) == (len(down), hashlib.sha256(down).hexdigest())
    wait_for(lambda: beh.results, 10, what="backend result")
    assert beh.results == [(len(up), hashlib.sha256(up).hexdigest())]
    b = v.backend("s", "be1")
    assert (b["bytes_in"], b["bytes_out"]) == (len(up), len(down))
    wait_for(lambda: v.status()["active"] == 0, 5, what="connection closed")


@pytest.mark.parametrize("env", SPLICE_MODES)
def test_16mib_slow_reader_back_pressure(vigild_factory, backends, ck, env):
    """The client reads slowly while the backend pushes as fast as it can:
    vigil must stop reading from the backend instead of buffering it all."""
    up, down = os.urandom(16 * MiB), os.urandom(16 * MiB)
    beh = exchange(down)
    (be,) = backends(1, behaviour=beh)
    v, port = start(vigild_factory, [be], ck, env=env)
    rss0 = rss_kib(v.pid)
    peak = [rss0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_kib(v.pid))
            except (OSError, KeyError):
                break
            time.sleep(0.02)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        n, digest = exchange_through(VIP, port, up, read_chunk=65536, read_pause=0.006,
                                     rcvbuf=65536, timeout=60)
        took = time.monotonic() - t0
    finally:
        done.set()
        t.join(2)
    assert (n, digest) == (len(down), hashlib.sha256(down).hexdigest())
    wait_for(lambda: beh.results, 10, what="backend result")
    assert beh.results == [(len(up), hashlib.sha256(up).hexdigest())]
    assert took > 1.0, "the reader was not slow: the test proves nothing"
    if not SANITIZED:
        grew = (peak[0] - rss0) / 1024
        assert grew < 6, f"vigild RSS grew {grew:.1f} MiB with a slow reader (no back-pressure?)"


# ---------------------------------------------------------------- half-close

def reply_after_eof(sock, srv):
    """Read until the client's FIN, then answer how much came and close."""
    n = 0
    while True:
        data = sock.recv(65536)
        if not data:
            break
        n += len(data)
    time.sleep(0.1)
    sock.sendall(f"got {n} bytes\n".encode())
    sock.close()


def test_half_close_client_first(vigild_factory, backends, ck):
    (be,) = backends(1, behaviour=reply_after_eof)
    v, port = start(vigild_factory, [be], ck)
    with connect(VIP, port) as s:
        s.sendall(b"x" * 5000)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data == b"got 5000 bytes\n"
    wait_for(lambda: v.status()["active"] == 0, 5, what="connection closed")


def test_half_close_backend_first(vigild_factory, backends, ck):
    got = []

    def speak_then_listen(sock, srv):
        sock.sendall(b"bye from backend\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        got.append(data)

    (be,) = backends(1, behaviour=speak_then_listen)
    v, port = start(vigild_factory, [be], ck)
    with connect(VIP, port) as s:
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data == b"bye from backend\n"
        # the backend's FIN arrived; our direction still works
        time.sleep(0.1)
        s.sendall(b"still talking " * 1000)
        s.sendall(b"end\n")
        s.shutdown(socket.SHUT_WR)
        wait_for(lambda: got, 5, what="backend to see the client's data and FIN")
    assert got == [b"still talking " * 1000 + b"end\n"]
    wait_for(lambda: v.status()["active"] == 0, 5, what="connection closed")


# ---------------------------------------------------------------- connect failures

def checked_elsewhere(vigild_factory, bes, timeouts=None):
    """A service whose health checks probe a separate port that always
    answers, so backends stay "up" even when their traffic port fails: the
    connect failure path of the proxy is what is tested, not the checks."""
    ck = Backend("checkport")
    port = free_port(VIP)
    cfg = base_config([service("s", VIP, [port], bes, scheduler="roundrobin",
                               check=check_conf(port=ck.port),
                               timeouts=timeouts or timeouts_conf())])
    v = vigild_factory(cfg)
    wait_all_state(v, "s", [b["name"] for b in bes])
    return v, port, ck


def test_refused_backend_client_served_by_another(vigild_factory, backends):
    (good,) = backends(1, prefix="good")
    dead = {"name": "dead", "address": "127.0.0.1", "port": free_port()}
    v, port, ck = checked_elsewhere(vigild_factory, [dead, good.conf()])
    try:
        for _ in range(6):
            t0 = time.monotonic()
            assert who_answers(VIP, port) == "good1"
            assert time.monotonic() - t0 < 0.5 * SLOW
        b = v.backend("s", "dead")
        assert b["connect_fail"] >= 1, b
        assert v.service("s")["refused"] == 0
    finally:
        ck.close()


def test_blackholed_backend_client_served_within_connect_timeout(vigild_factory, backends):
    (good,) = backends(1, prefix="good")
    hole = Blackhole()
    connect_s = 0.5
    try:
        v, port, ck = checked_elsewhere(
            vigild_factory, [{"name": "hole", "address": hole.host, "port": hole.port},
                             good.conf()], timeouts=timeouts_conf(connect="500ms"))
        took = []
        for _ in range(4):
            t0 = time.monotonic()
            assert who_answers(VIP, port, timeout=5) == "good1"
            took.append(time.monotonic() - t0)
        ck.close()
        assert max(took) < (connect_s + 0.5) * SLOW, took
        # at least one client really waited for the black hole's connect timeout
        assert max(took) >= connect_s * 0.9, took
        assert v.backend("s", "hole")["connect_fail"] >= 1
        assert "hole: connect failed" in v.log()
    finally:
        hole.close()


def test_all_backends_down_client_closed_promptly(vigild_factory):
    dead = [{"name": f"dead{i}", "address": "127.0.0.1", "port": free_port()} for i in (1, 2)]
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], dead)]))
    wait_for(lambda: all(b["state"] == "down" for b in v.service("s")["backends"]), 5,
             what="backends down")
    for _ in range(3):
        with connect(VIP, port) as s:
            assert closed_within(s, 1.0) < 1.0 * SLOW
    assert v.service("s")["refused"] == 3


def test_all_backends_refusing_client_closed_promptly(vigild_factory):
    dead = [{"name": f"dead{i}", "address": "127.0.0.1", "port": free_port()} for i in (1, 2, 3)]
    v, port, ck = checked_elsewhere(vigild_factory, dead)
    try:
        for _ in range(3):
            with connect(VIP, port) as s:
                assert closed_within(s, 1.0) < 1.0 * SLOW
        svc = v.service("s")
        assert svc["refused"] == 3
        assert sum(b["connect_fail"] for b in svc["backends"]) >= 3
    finally:
        ck.close()


# ---------------------------------------------------------------- idle timeouts

def ticker(sock, srv):
    """Send a byte every 100 ms for 4 s, ignore input."""
    sock.sendall(b"hello\n")
    for _ in range(40):
        time.sleep(0.1)
        sock.sendall(b".")


def sink(sock, srv):
    """Read and drop everything, never answer."""
    sock.sendall(b"hello\n")
    while sock.recv(65536):
        pass


def test_client_idle_timeout_silent_connection(vigild_factory, backends, ck):
    (be,) = backends(1)
    v, port = start(vigild_factory, [be], ck,
                    svc_extra={"timeouts": timeouts_conf(client_idle="400ms")})
    with connect(VIP, port) as s:
        assert recv_line(s) == "be1"
        took = closed_within(s, 2.0)
    assert 0.25 <= took <= 1.2 * SLOW, took
    wait_for(lambda: v.status()["active"] == 0, 5, what="connection closed")


def test_client_idle_timeout(vigild_factory, backends, ck):
    (be,) = backends(1, behaviour=ticker)
    v, port = start(vigild_factory, [be], ck,
                    svc_extra={"timeouts": timeouts_conf(client_idle="400ms")})
    with connect(VIP, port) as s:
        assert recv_line(s) == "hello"
        took = closed_within(s, 2.0)
    # the backend kept talking; the silent client is cut after ~400 ms
    assert 0.25 <= took <= 1.2 * SLOW, took
    wait_for(lambda: v.status()["active"] == 0, 5, what="connection closed")


def test_server_idle_timeout(vigild_factory, backends, ck):
    (be,) = backends(1, behaviour=sink)
    v, port = start(vigild_factory, [be], ck,
                    svc_extra={"timeouts": timeouts_conf(server_idle="400ms")})
    with connect(VIP, port) as s:
        assert recv_line(s) == "hello"
        t0 = time.monotonic()
        closed = None
        s.settimeout(0.1)
        while time.monotonic() - t0 < 3 * SLOW:
            try:
                s.sendall(b"ping\n")
                if s.recv(4096) == b"":
                    closed = time.monotonic() - t0
                    break
            except (socket.timeout, TimeoutError):
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = time.monotonic() - t0
                break
    assert closed is not None, "a silent backend was never cut"
    assert 0.25 <= closed <= 1.2 * SLOW, closed


def test_busy_connection_outlives_idle_timeouts(vigild_factory, backends, ck):
    (be,) = backends(1)
    v, port = start(vigild_factory, [be], ck, svc_extra={
        "timeouts": timeouts_conf(client_idle="300ms", server_idle="300ms")})
    with connect(VIP, port) as s:
        assert recv_line(s) == "be1"
        for i in range(12):   # 1.2 s of traffic every 100 ms
            s.sendall(b"%d\n" % i)
            assert recv_line(s) == str(i)
            time.sleep(0.1)


# ---------------------------------------------------------------- maxconn

def greeting_within(sock, limit):
    """The greeting line, or None when nothing came within limit seconds."""
    sock.settimeout(limit)
    try:
        return recv_line(sock)
    except (socket.timeout, TimeoutError):
        return None
    finally:
        sock.settimeout(5 * SLOW)


def test_backend_maxconn_next_backend_then_closed(vigild_factory, backends, ck):
    """Observed and documented: a backend at its maxconn is skipped; when every
    backend is full the client is closed at once (counted as refused)."""
    bes = backends(2)
    v, port = start(vigild_factory, [b.conf(maxconn=1) for b in bes], ck)
    c1, c2 = connect(VIP, port), connect(VIP, port)
    try:
        names = {recv_line(c1), recv_line(c2)}
        assert names == {"be1", "be2"}
        with connect(VIP, port) as c3:
            assert closed_within(c3, 1.0) < 1.0 * SLOW
        assert v.service("s")["refused"] == 1
        c1.close()
        wait_for(lambda: v.status()["active"] == 1, 5, what="c1 closed")
        with connect(VIP, port) as c4:
            assert recv_line(c4) in names
    finally:
        c1.close()
        c2.close()


def test_service_maxconn_client_waits_in_backlog(vigild_factory, backends, ck):
    """Observed and documented: at the service's maxconn vigil stops accepting;
    the next client's TCP connect completes (kernel backlog) but it is served
    only when a slot frees up."""
    bes = backends(2)
    v, port = start(vigild_factory, bes, ck, svc_extra={"maxconn": 2})
    c1, c2 = connect(VIP, port), connect(VIP, port)
    c3 = None
    try:
        assert {recv_line(c1), recv_line(c2)} == {"be1", "be2"}
        c3 = connect(VIP, port)
        assert greeting_within(c3, 0.5) is None, "third client served beyond maxconn 2"
        assert v.service("s")["active"] == 2
        c1.close()
        assert greeting_within(c3, 2.0 * SLOW) in ("be1", "be2")
        assert v.service("s")["refused"] == 0
        assert "maxconn reached" in v.log()
    finally:
        for c in (c1, c2, c3):
            if c:
                c.close()


def test_global_maxconn_client_waits_in_backlog(vigild_factory, backends):
    a, b = backends(2)
    pa, pb = free_port(VIP), free_port(VIP)
    v = vigild_factory(base_config([service("a", VIP, [pa], [a]), service("b", VIP, [pb], [b])],
                                   maxconn=2))
    v.wait_state("a", "be1", "up")
    v.wait_state("b", "be2", "up")
    c1, c2 = connect(VIP, pa), connect(VIP, pb)
    c3 = None
    try:
        assert (recv_line(c1), recv_line(c2)) == ("be1", "be2")
        c3 = connect(VIP, pa)
        assert greeting_within(c3, 0.5) is None, "client served beyond global maxconn 2"
        c2.close()   # a slot of the other service frees the global limit
        assert greeting_within(c3, 2.0 * SLOW) == "be1"
        assert v.status()["refused"] == 0
    finally:
        for c in (c1, c2, c3):
            if c:
                c.close()


# ---------------------------------------------------------------- backup

def test_backup_used_only_when_all_normal_down(vigild_factory, backends, ck):
    n1, n2 = backends(2)
    (bk,) = backends(1, prefix="bk")
    v, port = start(vigild_factory, [n1.conf(), n2.conf(), bk.conf(backup=True)], ck)
    assert {who_answers(VIP, port) for _ in range(6)} == {"be1", "be2"}
    for name in ("be1", "be2"):
        assert v.ctl("disable", "s", name).returncode == 0
    assert v.backend("s", "be1")["state"] == "maint"
    v.wait_state("s", "be2", "maint")
    assert {who_answers(VIP, port) for _ in range(4)} == {"bk1"}
    assert v.ctl("enable", "s", "be2").returncode == 0
    v.wait_state("s", "be2", "up")
    assert {who_answers(VIP, port) for _ in range(4)} == {"be2"}
    assert v.backend("s", "bk1")["total"] == 4
    assert v.backend("s", "bk1")["state"] == "up"


# ---------------------------------------------------------------- many connections

def many_connections(host, port, n, deadline_s):
    """Open n connections at once, read each greeting, echo one line on each,
    keep all open; returns (socks, greetings). Fails on any error."""
    sel = selectors.DefaultSelector()
    socks, state = [], {}
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
        state[s] = [b"", i]
        sel.register(s, selectors.EVENT_READ)
    pending, greetings = set(socks), []
    deadline = time.monotonic() + deadline_s * SLOW
    try:
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(0.2):
                s = key.fileobj
                data = s.recv(4096)
                if not data:
                    raise AssertionError(f"connection {state[s][1]} closed early")
                buf = state[s][0] + data
                lines = buf.split(b"\n")
                state[s][0] = lines[-1]
                for line in lines[:-1]:
                    if line.startswith(b"mass"):
                        greetings.append(line.decode())
                        s.sendall(b"ping %d\n" % state[s][1])
                    elif line == b"ping %d" % state[s][1]:
                        pending.discard(s)
                        sel.unregister(s)
                    else:
                        raise AssertionError(f"unexpected line {line!r}")
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        sel.close()
    if pending:
        for s in socks:
            s.close()
        raise AssertionError(f"{len(pending)} of {n} connections not done in time")
    return socks, greetings


def quiet_fd_count(v, samples=15):
    """vigild's open fds, the minimum over samples ~20 ms apart (a health
    probe in flight holds one socket for a moment)."""
    counts = []
    for _ in range(samples):
        counts.append(v.fd_count())
        time.sleep(0.02)
    return min(counts)


@pytest.mark.parametrize("env", SPLICE_MODES)
def test_1000_concurrent_connections_no_fd_leak(vigild_factory, ck, env):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 4096
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    bes = [MassBackend("mass1"), MassBackend("mass2")]
    try:
        port = free_port(VIP)
        # probes go to ck, with a patient timeout: a busy machine must not flap
        # the backends while 1000 clients are being served
        slow_ck = check_conf(port=ck.port, interval="1s", timeout="1s", fall=3)
        v = vigild_factory(base_config([service("s", VIP, [port], bes, check=slow_ck,
                                                timeouts=timeouts_conf(connect="5s"))]), env=env)
        wait_all_state(v, "s", ["mass1", "mass2"])
        socks, _ = many_connections(VIP, port, 20, 10)   # warm-up: pipe pool, allocator
        for s in socks:
            s.close()
        wait_for(lambda: v.status()["active"] == 0, 10, what="warm-up closed")
        # health probes open sockets now and then: take the quiet minimum
        base = min(quiet_fd_count(v) for _ in range(3))
        after = []
        for _ in range(2):
            # in batches of 100 (all kept open): the Python backends must keep
            # up with their accept queues on a busy 2-core machine
            socks, greetings = [], []
            try:
                for _ in range(10):
                    more, g = many_connections(VIP, port, 100, 20)
                    socks += more
                    greetings += g
                assert len(greetings) == 1000
                st = v.status()
                assert st["active"] == 1000, st["active"]
                assert sorted(b["active"] for b in st["services"][0]["backends"]) == [500, 500]
                assert v.fd_count() >= base + 2000
            finally:
                for s in socks:
                    s.close()
            wait_for(lambda: v.status()["active"] == 0, 15, what="all 1000 closed")
            wait_for(lambda: bes[0].open + bes[1].open == 0, 10, what="backend sides closed")
            after.append(quiet_fd_count(v))
        if env:
            # buffered path: no pipes at all, the count must be back exactly
            assert after == [base, base], (base, after)
        else:
            # splice path: a pool keeps up to 256 idle pipes (512 fds) for reuse
            assert all(a - base <= 512 for a in after), (base, after)
            assert after[1] - after[0] <= 16, (base, after)
        assert v.status()["total"] == 2020
    finally:
        for b in bes:
            b.close()


# ---------------------------------------------------------------- resets

def test_client_reset_mid_transfer_closes_backend_side(vigild_factory, backends, ck):
    seen = []

    def firehose(sock, srv):
        sock.sendall(b"go\n")
        try:
            for _ in range(2000):   # up to ~128 MiB, stopped by the reset
                sock.sendall(b"z" * 65536)
            seen.append("finished")
        except OSError as e:
            seen.append(type(e).__name__)

    (be,) = backends(1, behaviour=firehose)
    v, port = start(vigild_factory, [be], ck)
    s = connect(VIP, port)
    assert recv_line(s) == "go"
    s.recv(65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()   # RST
    wait_for(lambda: seen, 5, what="the backend to notice the client is gone")
    assert seen[0] in ("ConnectionResetError", "BrokenPipeError"), seen
    wait_for(lambda: v.status()["active"] == 0, 5, what="vigil to drop the connection")


def test_backend_reset_reaches_client(vigild_factory, backends, ck):
    def reset_after_hello(sock, srv):
        sock.sendall(b"hello\n")
        sock.recv(100)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    (be,) = backends(1, behaviour=reset_after_hello)
    v, port = start(vigild_factory, [be], ck)
    with connect(VIP, port) as s:
        assert recv_line(s) == "hello"
        s.sendall(b"x\n")
        closed_within(s, 2.0)
    wait_for(lambda: v.status()["active"] == 0, 5, what="vigil to drop the connection")


# ---------------------------------------------------------------- EMFILE

def test_out_of_fds_pauses_accepting_without_spinning(vigild_factory, ck):
    """With vigild's fd limit lowered below what the clients need, accept(2)
    hits EMFILE: vigild must not spin, and serves the waiting clients once fds
    are free again. (Buffered mode: running out of fds for splice pipes is
    test_splice_out_of_pipes_does_not_reset_client.) Probes run every 200 ms
    with fall 1: a probe that cannot get a socket is this node's problem, not
    the backend's, so the backend must stay up."""
    mass = MassBackend("mass1")
    try:
        # one worker: the fd arithmetic below assumes accept and the backend's
        # socket() take turns. With several workers racing for the last fds, a
        # client one worker accepted can find no fd left for its backend socket
        # and is refused as a local error (by design), so "all 30 served" would
        # depend on the threads' timing.
        v, port = start(vigild_factory, [mass], ck,
                        env={"VIGIL_NO_SPLICE": "1", "VIGIL_WORKERS": "1"},
                        svc_extra={"check": check_conf(port=ck.port, interval="200ms",
                                                       timeout="150ms", fall=1)},
                        log_level="debug")
        base = quiet_fd_count(v)
        limit = base + 24        # room for about 10 proxied connections
        hard = resource.prlimit(v.pid, resource.RLIMIT_NOFILE)[1]
        resource.prlimit(v.pid, resource.RLIMIT_NOFILE, (limit, hard))
        sel = selectors.DefaultSelector()
        socks = []
        for i in range(30):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((VIP, port))
            socks.append(s)
        time.sleep(0.5 * SLOW)
        cpu0 = _cpu(v.pid)
        time.sleep(1.0)
        spun = _cpu(v.pid) - cpu0
        assert spun < 0.3 * SLOW, f"vigild used {spun:.2f} s CPU in 1 s while out of fds"
        # free the fds: every client still connected gets served
        resource.prlimit(v.pid, resource.RLIMIT_NOFILE, (hard, hard))
        served, closed = 0, 0
        for s in socks:
            s.setblocking(True)
            s.settimeout(5 * SLOW)
            try:
                line = recv_line(s)
            except ConnectionResetError:
                line = ""
            if line == "mass1":
                served += 1
            else:
                closed += 1
        for s in socks:
            s.close()
        sel.close()
        assert served + closed == 30
        assert (served, closed) == (30, 0)
        assert v.backend("s", "mass1")["state"] == "up"
        wait_for(lambda: v.status()["active"] == 0, 10, what="all closed")
        assert who_answers(VIP, port) == "mass1"
        assert "pausing accepts" in v.log()
        assert "cannot probe (socket: Too many open files), not counted" in v.log()
        assert "mass1: up -> down" not in v.log()
    finally:
        mass.close()


def _cpu(pid):
    """utime + stime of pid in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_splice_out_of_pipes_does_not_reset_client(vigild_factory, backends, ck):
    """Room for the client and backend sockets but not for a splice pipe: the
    connection must still be served (buffered), not reset."""
    (be,) = backends(1)
    v, port = start(vigild_factory, [be], ck, log_level="debug",
                    svc_extra={"check": check_conf(port=ck.port, interval="10s")})
    hard = resource.prlimit(v.pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(v.pid, resource.RLIMIT_NOFILE, (quiet_fd_count(v) + 2, hard))
    try:
        with connect(VIP, port) as s:
            try:
                greeting = recv_line(s)
                s.sendall(b"ping\n")
                echoed = recv_line(s)
            except ConnectionResetError:
                greeting = echoed = "<reset>"
            aborts = [l for l in v.log().splitlines() if "abort" in l]
            assert (greeting, echoed) == ("be1", "ping"), aborts
    finally:
        resource.prlimit(v.pid, resource.RLIMIT_NOFILE, (hard, hard))


def test_many_backends_all_refusing_each_tried_once(vigild_factory):
    """70 backends (more than one 64-bit word of the tried-set), all up by
    their checks but refusing: the client is closed promptly after every
    backend was tried at most once."""
    dead = [{"name": f"d{i}", "address": "127.0.0.1", "port": free_port()} for i in range(70)]
    v, port, ck = checked_elsewhere(vigild_factory, dead)
    try:
        with connect(VIP, port) as s:
            took = closed_within(s, 2.0)
        assert took < 1.0 * SLOW, took
        assert v.alive()
        fails = [b["connect_fail"] for b in v.service("s")["backends"]]
        assert fails == [1] * 70, fails
        assert v.service("s")["refused"] == 1
    finally:
        ck.close()
