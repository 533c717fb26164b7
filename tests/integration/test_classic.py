"""Issue 14, the classic appliance lists: check types expect (against
Debian's real vsftpd and a fake NNTP server) and icmp (loopback answers,
TEST-NET does not; the namespace test is in test_classic_netns.py),
schedulers fixed-weight and weighted-response-time, and backend agents,
each through the real vigild and its proxy."""
import os
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from realservers import HOST, Vsftpd, make_certs, missing

from vigil import (Backend, base_config, connect, free_port, http_get, metric,
                   parse_prometheus, recv_line, run_vigild, service, wait_all_state, wait_for,
                   who_answers)

sys.path.insert(0, str(Path(__file__).resolve().parent / "fakes"))
from fakeserver import FakeServer, tls_context  # noqa: E402

CI = os.environ.get("CI") == "true"

VIP = "127.0.0.15"


def need(name):
    if name in missing():
        if CI:
            pytest.fail(f"{name} is not installed (scripts/deps.sh)")
        pytest.skip(f"{name} is not installed")


def check(**kw):
    c = {"type": "tcp", "interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1}
    c.update(kw)
    return c


def start(vigild_factory, backends, chk=None, glob=None, **extra):
    port = free_port(VIP)
    svc = service("s", VIP, [port], backends, **extra)
    if chk:
        svc["check"] = chk
    return vigild_factory(base_config([svc], **(glob or {}))), port


# ------------------------------------------------------------------ expect

@pytest.fixture
def vsftpd():
    made = []

    def make(**kw):
        need("vsftpd")
        f = Vsftpd(**kw)
        made.append(f)
        return f.start()

    yield make
    for f in made:
        f.cleanup()


def test_expect_vsftpd_banner(vigild_factory, vsftpd):
    """The FTP banner of a real vsftpd passes as a prefix and as a regex;
    another banner fails with the server's line in the detail, and the QUIT
    goodbye reaches the server (its 221 is not awaited)."""
    ftp = vsftpd()
    bes = [{"name": "prefix", "address": "127.0.0.1", "port": ftp.port},
           {"name": "regex", "address": "127.0.0.1", "port": ftp.port}]
    port = free_port(VIP)
    cfg = base_config([
        service("ftp", VIP, [port], bes[:1], check=check(type="expect", expect="220 ",
                                                        quit="QUIT")),
        service("ftp2", VIP, [free_port(VIP)], bes[1:],
                check=check(type="expect", expect="/^220 [a-z ]+FTP$/")),
    ])
    v = vigild_factory(cfg)
    v.wait_state("ftp", "prefix", "up")
    v.wait_state("ftp2", "regex", "up")
    b = v.backend("ftp", "prefix")
    assert b["check"]["type"] == "expect"
    assert b["check"]["detail"] == "220 vigil test FTP"
    assert b["response_ms"] is not None and b["response_ms"] > 0
    ftp.set_banner("Go away")
    v.wait_state("ftp2", "regex", "down")
    b = v.backend("ftp2", "regex")
    assert b["check"]["last"] == "protocol"
    assert b["check"]["detail"] == "220 Go away"
    assert "(220 Go away after 1 failed check)" in v.log(), v.log()
    assert v.backend("ftp", "prefix")["state"] == "up"     # "220 " still matches


def nntp_server(greeting):
    """A fake NNTP server (inn2-like): greeting line, MODE READER answered with
    the same code, QUIT with 205; records what it was sent."""
    seen = []

    def behaviour(sock, srv):
        sock.sendall(greeting.encode() + b"\r\n")
        f = sock.makefile("rb")
        for _ in range(4):
            line = f.readline(512)
            if not line:
                break
            seen.append(line.decode(errors="replace").strip())
            if line.upper().startswith(b"QUIT"):
                sock.sendall(b"205 bye\r\n")
                break
            if line.upper().startswith(b"MODE READER"):
                sock.sendall(greeting.encode() + b"\r\n")
    return behaviour, seen


def test_expect_nntp_send_and_mismatch(vigild_factory):
    """NNTP 200 and 201 pass /^20[01] /; 502 fails with its (cleaned) line;
    send: is written first and quit: before the close."""
    b200, seen200 = nntp_server("200 news.test InterNetNews NNRP server INN 2.7 ready")
    b201, _ = nntp_server("201 news.test ready (no posting)")
    b502, _ = nntp_server("502 \x1b[31mno permission")
    news = [Backend("n200", b200), Backend("n201", b201), Backend("n502", b502)]
    try:
        v, _ = start(vigild_factory, news, check(type="expect", send="MODE READER",
                                                   expect="/^20[01] /", quit="QUIT"))
        v.wait_state("s", "n200", "up")
        v.wait_state("s", "n201", "up")
        v.wait_state("s", "n502", "down")
        wait_for(lambda: v.backend("s", "n502")["check"]["last"] == "protocol", 5)
        d = v.backend("s", "n502")["check"]["detail"]
        assert d == "502 \\x1b[31mno permission", d
        assert "\x1b" not in v.log()
        wait_for(lambda: "QUIT" in seen200, 5, what="QUIT at the server")
        assert seen200[0] == "MODE READER"
    finally:
        for b in news:
            b.close()


def test_expect_silent_server_times_out(vigild_factory):
    def silent(sock, srv):
        time.sleep(1)
    be = Backend("mute", silent)
    try:
        v, _ = start(vigild_factory, [be], check(type="expect", expect="220"))
        v.wait_state("s", "mute", "down")
        wait_for(lambda: v.backend("s", "mute")["check"]["last"] == "timeout", 5)
        assert "first line" in v.backend("s", "mute")["check"]["detail"]
    finally:
        be.close()


# ------------------------------------------------------------------ icmp

def test_icmp_loopback_and_unanswered(vigild_factory):
    """Loopback addresses answer echo requests; an RFC 5737 address does not
    (no reply within the timeout, or unreachable): down. Many backends share
    one socket per family."""
    bes = [{"name": f"lo{i}", "address": f"127.0.0.{100 + i}", "port": 9} for i in range(20)]
    bes.append({"name": "v6", "address": "::1", "port": 9})
    bes.append({"name": "void", "address": "192.0.2.199", "port": 9})
    v, _ = start(vigild_factory, bes, check(type="icmp"))
    wait_all_state(v, "s", [b["name"] for b in bes[:-1]])
    v.wait_state("s", "void", "down")
    lo = v.backend("s", "lo3")
    assert lo["check"]["type"] == "icmp"
    assert lo["check"]["detail"].startswith("echo reply in ")
    assert lo["response_ms"] is not None
    wait_for(lambda: v.backend("s", "void")["check"]["last"] != "none", 5)
    void = v.backend("s", "void")["check"]
    assert void["last"] in ("timeout", "connect"), void
    # one socket per family, whatever the number of backends
    socks = [l for l in (v.dir / "vigild.log").read_text().splitlines()
             if "checks: ICMP" in l]
    assert len(socks) == 2, socks
    time.sleep(0.6)
    st = v.service("s")
    assert all(b["state"] == "up" for b in st["backends"][:-1])


# ------------------------------------------------------------------ schedulers

def test_fixed_weight_priority_order(vigild_factory, backends):
    """All traffic to the highest weight (the first in the file on a tie);
    the next takes over when it is disabled, or full (maxconn)."""
    bes = backends(3)
    confs = [bes[0].conf(weight=1), bes[1].conf(weight=3, maxconn=2), bes[2].conf(weight=3)]
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], confs,
                                            scheduler="fixed-weight")]))
    wait_all_state(v, "s", ["be1", "be2", "be3"])
    assert v.service("s")["scheduler"] == "fixed-weight"

    def one():
        """One connection, and vigild saw it close (be2 has maxconn 2)."""
        name = who_answers(VIP, port)
        wait_for(lambda: v.service("s")["active"] == 0, 5, what="connection closed")
        return name

    assert Counter(one() for _ in range(8)) == {"be2": 8}
    held = []
    try:
        for _ in range(3):                      # be2 is full after 2
            s = connect(VIP, port)
            held.append((s, recv_line(s)))
        assert [n for _, n in held] == ["be2", "be2", "be3"]
    finally:
        for s, _ in held:
            s.close()
    wait_for(lambda: v.service("s")["active"] == 0, 5, what="connections closed")
    assert v.ctl("disable", "s", "be2").returncode == 0
    assert Counter(one() for _ in range(4)) == {"be3": 4}
    assert v.ctl("disable", "s", "be3").returncode == 0
    assert Counter(one() for _ in range(4)) == {"be1": 4}
    assert v.ctl("enable", "s", "be2").returncode == 0
    v.wait_state("s", "be2", "up")
    assert Counter(one() for _ in range(4)) == {"be2": 4}


def slow_named(delay):
    def behaviour(sock, srv):
        time.sleep(delay)
        sock.sendall(f"{srv.name}\n".encode())
        try:
            sock.recv(64)
        except OSError:
            pass
    return behaviour


def test_weighted_response_time_shifts_from_slow_backend(vigild_factory):
    """A backend whose answers take 120 ms gets 1/8 of the weight of those
    answering at once (bounded to 8x / one eighth): effective_weight in the
    status, and the same shift through the proxy."""
    fast = [Backend("fast1", slow_named(0)), Backend("fast2", slow_named(0))]
    slow = Backend("slow", slow_named(0.12))
    try:
        chk = check(type="expect", expect="/^(fast|slow)/", interval="300ms", timeout="280ms")
        hport = free_port()
        v, port = start(vigild_factory, fast + [slow], chk, scheduler="weighted-response-time",
                        glob={"status_listen": f"127.0.0.1:{hport}"})
        wait_all_state(v, "s", ["fast1", "fast2", "slow"])
        wait_for(lambda: v.backend("s", "slow")["response_ms"] and
                 v.backend("s", "slow")["response_ms"] > 80, 10, what="slow's average")
        who_answers(VIP, port)                      # a pick recomputes the weights
        time.sleep(1.1)
        who_answers(VIP, port)

        def eff():
            return {b["name"]: b["effective_weight"] for b in v.service("s")["backends"]}
        wait_for(lambda: (who_answers(VIP, port) and eff() == {"fast1": 8, "fast2": 8,
                                                                 "slow": 1}), 10,
                 what=f"effective weights 8/8/1 (have {eff()})")
        assert all(b["weight"] == 1 for b in v.service("s")["backends"])
        seq = Counter(who_answers(VIP, port) for _ in range(34))
        assert seq["slow"] <= 4 and seq["fast1"] >= 14 and seq["fast2"] >= 14, seq
        status, _, body = http_get("127.0.0.1", hport, "/metrics")
        m = parse_prometheus(body.decode())
        assert metric(m, "vigil_backend_effective_weight", service="s", backend="slow") == 1
        assert metric(m, "vigil_backend_effective_weight", service="s", backend="fast1") == 8
        assert metric(m, "vigil_backend_response_microseconds", service="s",
                      backend="slow") > 80000
    finally:
        for b in fast + [slow]:
            b.close()


# ------------------------------------------------------------------ agents

class Agent:
    """A TCP agent on 127.0.0.1 answering `line` to every connection, then closing."""

    def __init__(self, line="100%"):
        self.line = line
        self.hits = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            try:
                c.sendall(self.line.encode())
            finally:
                c.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


def test_agent_weights_and_states(vigild_factory, backends):
    """be1's agent sets its share: 25% of weight 4 is 1 against be2's 4; drain,
    then "up 100%"; an agent that goes away changes nothing and is logged once."""
    bes = backends(2)
    ag = Agent("25%\n")
    try:
        confs = [bes[0].conf(weight=4, agent={"port": ag.port, "interval": "200ms"}),
                 bes[1].conf(weight=4)]
        port = free_port(VIP)
        v = vigild_factory(base_config([service("s", VIP, [port], confs,
                                                scheduler="weighted-roundrobin")]))
        wait_all_state(v, "s", ["be1", "be2"])
        wait_for(lambda: v.backend("s", "be1")["agent_percent"] == 25, 5, what="agent 25%")
        b = v.backend("s", "be1")
        assert (b["weight"], b["effective_weight"], b["agent"]) == (4, 1, "up")
        assert Counter(who_answers(VIP, port) for _ in range(25)) == {"be1": 5, "be2": 20}
        ag.line = "drain"                        # no line end: the close ends the line
        v.wait_state("s", "be1", "drain")
        assert v.backend("s", "be1")["agent"] == "drain"
        assert Counter(who_answers(VIP, port) for _ in range(5)) == {"be2": 5}
        ag.line = "up 100%\r\n"
        v.wait_state("s", "be1", "up")
        wait_for(lambda: v.backend("s", "be1")["effective_weight"] == 4, 5)
        assert Counter(who_answers(VIP, port) for _ in range(8)) == {"be1": 4, "be2": 4}
        ag.line = "50% bogus\n"                  # invalid: nothing changes, logged once
        wait_for(lambda: "unknown word \"bogus\"" in v.log(), 5, what="bad line logged")
        ag.close()
        time.sleep(1.0)                          # 5 intervals without an agent
        b = v.backend("s", "be1")
        assert (b["state"], b["effective_weight"], b["agent_percent"]) == ("up", 4, 100)
        assert v.log().count("agent port") <= 3, v.log()
        assert v.log().count("connect: Connection refused; weight and state unchanged") == 1
    finally:
        ag.close()


def test_agent_down_overrides_checks_and_reload_removes_it(vigild_factory, backends):
    bes = backends(1)
    ag = Agent("down # disk full\n")
    try:
        cfg = base_config([service("s", VIP, [free_port(VIP)],
                                   [bes[0].conf(agent={"port": ag.port, "interval": "200ms"})])])
        v = vigild_factory(cfg)
        wait_for(lambda: v.backend("s", "be1")["agent"] == "down", 5)
        time.sleep(0.5)
        assert v.backend("s", "be1")["state"] == "down"  # the check passes, the agent rules
        del cfg["services"][0]["backends"][0]["agent"]
        v.write_config(cfg)
        assert v.ctl("reload").returncode == 0
        v.wait_state("s", "be1", "up")
        assert v.backend("s", "be1")["agent"] == "up"
    finally:
        ag.close()


def test_reload_between_check_types(vigild_factory, backends):
    """A reload moves a backend's check tcp -> icmp -> expect (regex) -> tcp:
    each new type probes at once and the backend stays served; the daemon
    holds no more descriptors at the end than the ICMP sockets it opened."""
    bes = backends(1)
    port = free_port(VIP)
    cfg = base_config([service("s", VIP, [port], [bes[0].conf()], check=check())])
    v = vigild_factory(cfg)
    v.wait_state("s", "be1", "up")
    assert who_answers(VIP, port) == "be1"      # the relay's pipe pool is filled now
    wait_for(lambda: v.service("s")["active"] == 0, 5)
    time.sleep(0.3)
    fds0 = v.fd_count(pipes=False)     # each worker pools spare pipes of its own
    for chk, detail in [(check(type="icmp"), "echo reply in "),
                        (check(type="expect", expect="/^be[0-9]$/"), "be1"),
                        (check(interval="5s"), "")]:
        cfg["services"][0]["check"] = chk
        v.write_config(cfg)
        assert v.ctl("reload").returncode == 0
        wait_for(lambda: v.backend("s", "be1")["check"]["type"] == chk["type"] and
                 v.backend("s", "be1")["check"]["detail"].startswith(detail) and
                 v.backend("s", "be1")["check"]["last"] == "ok", 5,
                 what=f"{chk['type']} probe passing")
        assert v.backend("s", "be1")["state"] == "up"
        assert who_answers(VIP, port) == "be1"
    # + the ICMP socket; the last probe's closer and client finish within a second
    wait_for(lambda: v.fd_count(pipes=False) <= fds0 + 1, 3, what=f"fds back to {fds0} + 1")


def test_expect_over_tls(vigild_factory, tmp_path):
    """tls: true speaks TLS from the first byte (a POP3S greeting here) and
    verifies the certificate like the other TLS checks: a rogue certificate
    fails as "tls", the same one without verify passes."""
    certs = make_certs(tmp_path)
    good = FakeServer("pop3", tls=tls_context(certs.cert, certs.key), implicit=True)
    rogue = FakeServer("pop3", tls=tls_context(certs.rogue_cert, certs.rogue_key),
                       implicit=True)
    try:
        tls = {"type": "expect", "expect": "/^\\+OK .*ready/", "quit": "QUIT", "tls": True}
        verify = dict(tls, verify=True, ca_file=certs.ca, host=HOST)
        cfg = base_config([
            service("good", VIP, [free_port(VIP)], [good.conf("g")], check=check(**verify)),
            service("rogue", VIP, [free_port(VIP)], [rogue.conf("r")], check=check(**verify)),
            service("loose", VIP, [free_port(VIP)], [rogue.conf("l")], check=check(**tls)),
        ])
        v = vigild_factory(cfg)
        v.wait_state("good", "g", "up")
        v.wait_state("loose", "l", "up")
        assert v.backend("good", "g")["check"]["detail"] == "+OK fake POP3 ready."
        wait_for(lambda: v.backend("rogue", "r")["check"]["last"] == "tls", 5)
        assert v.backend("rogue", "r")["state"] == "down"
        assert "certificate verify failed" in v.backend("rogue", "r")["check"]["detail"]
        # quit: reached the server inside TLS, as its first line
        wait_for(lambda: good.count(lambda c: c.first == b"QUIT") > 0, 5, what="QUIT over TLS")
    finally:
        good.close()
        rogue.close()


def test_config_test_reports_bad_regex_and_agent_at_the_line(tmp_path):
    """vigild -t names the file, line and column of a bad /regex/ (with the
    compiler's reason) and of a bad agent port, and exits non-zero."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("""services:
  - name: news
    vip: 127.0.0.15
    ports: [119]
    check: {type: expect, send: MODE READER, expect: "/^20[01/"}
    backends:
      - {name: n1, address: 127.0.0.1, agent: {port: 70000}}
""")
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert f"{cfg}:5:54: services[0].check.expect: invalid regular expression /^20[01/: " in out
    assert f"{cfg}:7:54: services[0].backends[0].agent.port: 70000 is out of range" in out
