"""Health checks against real Debian servers (issue 3): nginx (HTTP, HTTPS),
postfix (SMTP + STARTTLS) and dovecot (IMAP, IMAPS, POP3, POP3S), each run
by the test in a private directory on 127.0.0.1 and stopped by PID. The
probes pass against each server, fail when it refuses or stops, and the
detection times are printed (DETECTION lines, run pytest with -s)."""
import socket
import threading
import time

import pytest

from realservers import HOST, Dovecot, Nginx, Postfix, make_certs, missing
from vigil import SLOW, base_config, free_port, service

pytestmark = pytest.mark.realservers

VIP = "127.0.0.14"
INTERVAL, TIMEOUT, FALL, RISE = 1.0, 0.3, 3, 2
FAST = max(min(INTERVAL, TIMEOUT) / 4, 0.01)
# worst case from the failure to "down": the next probe is up to one interval
# away, then fall probes that each fail within the timeout, one fast interval apart
BOUND = INTERVAL + FALL * TIMEOUT + FAST


def need(name):
    if name in missing():
        pytest.skip(f"{name} is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("realcerts"))


@pytest.fixture
def servers():
    made = []

    def make(cls, certs):
        s = cls(certs)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.cleanup()


def chk(**kw):
    c = {"interval": "1s", "timeout": "300ms", "fall": FALL, "rise": RISE}
    c.update(kw)
    return c


def svc(name, port, chk_):
    return service(name, VIP, [free_port(VIP)],
                   [{"name": "real", "address": "127.0.0.1", "port": port}], check=chk_)


def state(v, name):
    b = v.backend(name, "real")
    return b["state"], b["check"]["last"], b["check"]["detail"]


def stop_when_gone(server, port):
    """Stop server (in a thread) and return the moment its port refuses
    connections, with the thread: detection starts when the service is gone,
    and a loaded machine can take seconds more to finish stopping it."""
    t = threading.Thread(target=server.stop, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            break
        time.sleep(0.005)
    return time.monotonic(), t


def timed_down(v, names, what, t0=None):
    """Seconds from t0 (default now) until every service in names has its
    backend down."""
    t0 = t0 or time.monotonic()
    for n in names:
        v.wait_state(n, "real", "down", timeout=10)
    took = time.monotonic() - t0
    print(f"\nDETECTION {what}: down after {took:.3f}s (bound {BOUND:.3f}s)")
    assert took <= BOUND + 0.3 * SLOW, (took, BOUND)
    return took


def timed_up(v, names, what):
    t0 = time.monotonic()
    for n in names:
        v.wait_state(n, "real", "up", timeout=10)
    took = time.monotonic() - t0
    print(f"RETURN {what}: up after {took:.3f}s")
    assert took <= INTERVAL + (RISE - 1) * FAST + TIMEOUT + 0.3 * SLOW
    return took


def test_nginx_http_https(vigild_factory, servers, certs):
    need("nginx")
    n = servers(Nginx, certs)
    cfg = base_config([
        svc("web", n.http_port, chk(type="http", path="/health", expect_body="Happy")),
        svc("webs", n.https_port, chk(type="https", path="/health", host=HOST,
                                      expect_body="Happy", verify=True, ca_file=certs.ca)),
        svc("chunked", n.http_port, chk(type="http", path="/chunked", expect_body="Happy")),
    ])
    v = vigild_factory(cfg)
    for name in ("web", "webs", "chunked"):
        v.wait_state(name, "real", "up", timeout=5)
        assert state(v, name)[1:] == ("ok", "HTTP 200 OK")
    t0 = time.monotonic()
    n.set_failing(True)
    timed_down(v, ["web", "webs"], "nginx /health 503", t0)
    for name in ("web", "webs"):
        st, last, detail = state(v, name)
        assert last == "protocol" and detail.startswith("HTTP 503"), detail
    assert v.backend("chunked", "real")["state"] == "up"
    n.set_failing(False)
    timed_up(v, ["web", "webs"], "nginx /health 200 again")
    t0, stopper = stop_when_gone(n, n.http_port)
    timed_down(v, ["web", "webs", "chunked"], "nginx stopped", t0)
    stopper.join(30)
    assert state(v, "web")[1:] == ("connect", "Connection refused")
    assert "[crit]" not in n.log() and "[alert]" not in n.log()


def test_postfix_smtp_starttls(vigild_factory, servers, certs):
    need("postfix")
    p = servers(Postfix, certs)
    cfg = base_config([
        svc("mx", p.port, chk(type="smtp", ehlo="lb.test.example", starttls=True, verify=True,
                              ca_file=certs.ca)),
        svc("mxplain", p.port, chk(type="smtp", ehlo="lb.test.example")),
    ])
    v = vigild_factory(cfg)
    for name in ("mx", "mxplain"):
        v.wait_state(name, "real", "up", timeout=5)
        assert state(v, name)[1:] == ("ok", "250 mx1.test.example")
    time.sleep(1.5)
    log = p.maillog()
    # postfix saw complete, polite sessions: no aborted or lost connection
    assert "ehlo=2 starttls=1 quit=1 commands=4" in log, log[-2000:]
    assert "ehlo=1 quit=1 commands=2" in log, log[-2000:]
    # no session was cut mid-dialogue ("lost connection after CONNECT" is the
    # helper's own wait for the port, or a probe that timed out before the banner)
    lost = [line for line in log.splitlines() if "lost connection" in line]
    assert all("after CONNECT" in line for line in lost), lost
    assert "improper command pipelining" not in log, log[-2000:]
    t0 = time.monotonic()
    p.set_rejecting(True)
    timed_down(v, ["mx", "mxplain"], "postfix rejecting EHLO (554)", t0)
    # (a probe may also time out while postfix starts a fresh smtpd after the reload)
    v.wait_for(lambda: all(state(v, n)[2].startswith("554 5.7.1 <lb.test.example>: Helo command "
                                                      "rejected") for n in ("mx", "mxplain")),
               5, "the 554 reply as the detail")
    assert "after 3 failed checks" in v.log()
    p.set_rejecting(False)
    p.wait_banner()                     # postfix pauses ~1.5 s after a reload
    timed_up(v, ["mx", "mxplain"], "postfix accepting again")
    t0, stopper = stop_when_gone(p, p.port)
    timed_down(v, ["mx", "mxplain"], "postfix stopped", t0)
    stopper.join(30)
    assert state(v, "mx")[1] == "connect"


def test_dovecot_imap_pop3(vigild_factory, servers, certs):
    need("dovecot")
    d = servers(Dovecot, certs)
    tls = {"verify": True, "ca_file": certs.ca}
    names = ["imap", "imaptls", "imaps", "pop3", "pop3tls", "pop3s"]
    cfg = base_config([
        svc("imap", d.imap, chk(type="imap")),
        svc("imaptls", d.imap, chk(type="imap", starttls=True, **tls)),
        svc("imaps", d.imaps, chk(type="imaps", **tls)),
        svc("pop3", d.pop3, chk(type="pop3")),
        svc("pop3tls", d.pop3, chk(type="pop3", starttls=True, **tls)),
        svc("pop3s", d.pop3s, chk(type="pop3s", **tls)),
    ])
    v = vigild_factory(cfg)
    for name in names:
        v.wait_state(name, "real", "up", timeout=5)
        st, last, detail = state(v, name)
        assert last == "ok" and "Dovecot" in detail and "ready" in detail, (name, detail)
    time.sleep(1.2)
    t0, stopper = stop_when_gone(d, d.imap)
    timed_down(v, names, "dovecot stopped", t0)
    stopper.join(30)
    for name in names:
        assert state(v, name)[1] == "connect"
    d.start()
    timed_up(v, names, "dovecot started again")
