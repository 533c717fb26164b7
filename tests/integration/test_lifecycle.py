"""vigild's life: -t, --version, graceful stop on SIGTERM, privilege drop (issue 2)."""
import os
import pwd
import re
import signal
import socket
import time

import pytest

from vigil import (SLOW, base_config, connect, free_port, proc_status, recv_line, run_vigild,
                   service, timeouts_conf, wait_all_state, wait_for, who_answers)

VIP = "127.0.0.10"


# ---------------------------------------------------------------- command line

def test_version():
    r = run_vigild("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"vigild \d+\.\d+\.\d+\S*\n", r.stdout), r.stdout


def test_check_good_file(tmp_path, backends):
    (be,) = backends(1)
    cfg = tmp_path / "good.yaml"
    cfg.write_text(
        "global:\n"
        f"  control_socket: {tmp_path}/c.sock\n"
        "  status_listen: 127.0.0.1:8404\n"
        "services:\n"
        "  - name: web\n"
        f"    vip: {VIP}/24\n"
        "    ports: [443, 8443]\n"
        "    scheduler: source-hash\n"
        "    source_mask: 24\n"
        "    backends:\n"
        f"      - {{name: b1, address: {be.host}, weight: 2, maxconn: 50}}\n"
        f"      - {{name: b2, address: 127.0.0.2, backup: true}}\n"
        "    check: {type: http, path: /health, expect_status: 200}\n")
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    # -t only checks: nothing was started, no socket made
    assert not (tmp_path / "c.sock").exists()


BAD = [
    # (text, line, key path, words in the message)
    ("services:\n"
     "  - name: s\n"
     "    vip: 127.0.0.10\n"
     "    ports: [25]\n"
     "    scheduler: round-robin\n"
     "    backends: [{name: a, address: 127.0.0.1}]\n",
     5, "services[0].scheduler", "round-robin"),
    ("services:\n"
     "  - name: s\n"
     "    vip: 127.0.0.300\n"
     "    ports: [25]\n"
     "    backends: [{name: a, address: 127.0.0.1}]\n",
     3, "services[0].vip", "127.0.0.300"),
    ("services:\n"
     "  - name: s\n"
     "    vip: 127.0.0.10\n"
     "    ports: [70000]\n"
     "    backends: [{name: a, address: 127.0.0.1}]\n",
     4, "services[0].ports[0]", "70000"),
    ("services:\n"
     "  - name: s\n"
     "    vip: 127.0.0.10\n"
     "    ports: [25]\n"
     "    colour: blue\n"
     "    backends: [{name: a, address: 127.0.0.1}]\n",
     5, "services[0].colour", "unknown"),
]


@pytest.mark.parametrize("text,line,path,word", BAD, ids=["scheduler", "vip", "port", "key"])
def test_check_bad_file(tmp_path, text, line, path, word):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode == 1, (r.stdout, r.stderr)
    m = re.search(re.escape(str(cfg)) + r":(\d+):(\d+): " + re.escape(path) + r": (.*)",
                  r.stderr)
    assert m, r.stderr
    assert int(m.group(1)) == line, r.stderr
    assert word in m.group(3), r.stderr


def test_check_reports_every_error(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("services:\n"
                   "  - name: s\n"
                   "    vip: 127.0.0.10\n"
                   "    ports: [0]\n"
                   "    scheduler: fastest\n"
                   "    backends: [{name: a, address: nowhere}]\n")
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if re.match(re.escape(str(cfg)) + r":\d+:\d+: ", l)]
    assert len(lines) >= 3, r.stderr
    assert {int(l.split(":")[1]) for l in lines} >= {4, 5, 6}, r.stderr


def test_check_missing_file(tmp_path):
    r = run_vigild("-c", tmp_path / "nope.yaml", "-t")
    assert r.returncode == 1 and "nope.yaml" in r.stderr


# ---------------------------------------------------------------- SIGTERM

def start(vigild_factory, bes, drain):
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], bes,
                                            timeouts=timeouts_conf(drain=drain))]))
    wait_all_state(v, "s", [b.name for b in bes])
    return v, port


def test_sigterm_drains_then_exits_0(vigild_factory, backends):
    v, port = start(vigild_factory, backends(1), "10s")
    c = connect(VIP, port)
    try:
        assert recv_line(c) == "be1"
        v.signal(signal.SIGTERM)
        # new connections are refused at once
        wait_for(lambda: _refused(VIP, port), 2, what="listener closed")
        # the open one keeps working
        for i in range(3):
            time.sleep(0.1)
            c.sendall(b"after term %d\n" % i)
            assert recv_line(c) == f"after term {i}"
        assert v.alive()
    finally:
        c.close()
    t0 = time.monotonic()
    v.proc.wait(3 * SLOW)
    assert time.monotonic() - t0 < 1.0 * SLOW
    assert v.proc.returncode == 0
    assert "all connections finished" in v.log()


def test_sigterm_with_connection_left_open_exits_after_drain(vigild_factory, backends):
    v, port = start(vigild_factory, backends(1), "1s")
    c = connect(VIP, port)
    try:
        assert recv_line(c) == "be1"
        t0 = time.monotonic()
        v.signal(signal.SIGTERM)
        v.proc.wait((1 + 3) * SLOW)
        took = time.monotonic() - t0
        assert v.proc.returncode == 0
        assert 0.9 <= took <= (1 + 1) * SLOW, took
        # the client is closed, not left hanging
        c.settimeout(2)
        try:
            assert c.recv(100) == b""
        except ConnectionResetError:
            pass
    finally:
        c.close()


def test_sigterm_idle_exits_at_once(vigild_factory, backends):
    v, port = start(vigild_factory, backends(1), "10s")
    assert who_answers(VIP, port) == "be1"
    t0 = time.monotonic()
    v.signal(signal.SIGTERM)
    v.proc.wait(3 * SLOW)
    assert v.proc.returncode == 0 and time.monotonic() - t0 < 1.0 * SLOW


def _refused(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


# ---------------------------------------------------------------- privileges

def _mask(status, key):
    return int(status[key], 16)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_privilege_drop(vigild_factory, backends):
    nobody = pwd.getpwnam("nobody")
    bes = backends(2)
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], bes)], user="nobody"))
    wait_all_state(v, "s", ["be1", "be2"])
    st = proc_status(v.pid)
    assert st["Uid"].split() == [str(nobody.pw_uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(nobody.pw_gid)] * 4, st["Gid"]
    assert st["Groups"].split() in ([], [str(nobody.pw_gid)]), st["Groups"]
    want = (1 << 10) | (1 << 12) | (1 << 13)   # net_bind_service, net_admin, net_raw
    assert want == 0x3400
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert _mask(st, key) == want, f"{key} {st[key]}"
    assert _mask(st, "CapInh") == 0 and _mask(st, "CapAmb") == 0
    assert "running as user nobody" in v.log()
    # the proxy, checks and control socket still work
    assert {who_answers(VIP, port) for _ in range(4)} == {"be1", "be2"}
    assert v.ctl("disable", "s", "be1").returncode == 0
    assert {who_answers(VIP, port) for _ in range(3)} == {"be2"}
    assert v.ctl("enable", "s", "be1").returncode == 0
    v.wait_state("s", "be1", "up")


def test_sigint_drains_like_sigterm(vigild_factory, backends):
    v, port = start(vigild_factory, backends(1), "10s")
    c = connect(VIP, port)
    try:
        assert recv_line(c) == "be1"
        v.signal(signal.SIGINT)
        wait_for(lambda: _refused(VIP, port), 2, what="listener closed")
        c.sendall(b"still\n")
        assert recv_line(c) == "still"
    finally:
        c.close()
    v.proc.wait(3 * SLOW)
    assert v.proc.returncode == 0


def test_reload_while_draining_does_not_reopen_listeners(vigild_factory, backends):
    """SIGHUP during the drain period must not bring the listeners back: a
    new client must still be refused, not left in a backlog nobody accepts."""
    v, port = start(vigild_factory, backends(1), "10s")
    c = connect(VIP, port)
    try:
        assert recv_line(c) == "be1"
        v.signal(signal.SIGTERM)
        wait_for(lambda: _refused(VIP, port), 2, what="listener closed")
        v.signal(signal.SIGHUP)
        r = v.ctl("reload")
        time.sleep(0.2)
        late = None
        try:
            late = socket.create_connection((VIP, port), timeout=1)
            late.settimeout(1)
            try:
                got = late.recv(100)
            except (socket.timeout, TimeoutError):
                got = "<hangs>"
            raise AssertionError(f"connect after SIGTERM + reload succeeded, client got {got!r}; "
                                 f"vigilctl reload: rc {r.returncode} {r.stderr.strip()!r}")
        except ConnectionRefusedError:
            pass
        finally:
            if late:
                late.close()
        c.sendall(b"still\n")
        assert recv_line(c) == "still"
    finally:
        c.close()
    v.proc.wait(3 * SLOW)
    assert v.proc.returncode == 0
