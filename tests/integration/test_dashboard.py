"""The dashboard in a real browser (issue 11): headless Chromium driven over
WebDriver (chromedriver) by a small client on the Python standard library.
The page renders the services, their backends, every port and the event log;
with the token entered, the drain button drains the backend and the page
says so; a wrong token shows the refusal. A screenshot of the run is kept
as BUILD/dashboard.png (and BUILD/dashboard-phone.png at phone width)."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from vigil import (BUILD, Backend, SLOW, base_config, free_port, service, wait_all_state, wait_for)

VIP = "127.0.0.10"
TOKEN = "dashboard-token-0123456789"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def need_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    msg = f"{', '.join(missing)} not installed (scripts/deps.sh: chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


class WebDriver:
    """Just enough of the W3C WebDriver protocol."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.log = open(tmp_path / "chromedriver.log", "wb")
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        self.sid = None
        wait_for(self._ready, 20, 0.1, "chromedriver")
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,1000"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def _ready(self):
        try:
            with urllib.request.urlopen(self.base + "/status", timeout=2) as r:
                return json.load(r)["value"].get("ready", False)
        except (OSError, ValueError):
            return False

    def call(self, method, path, body=None):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60 * SLOW) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(el.values()))

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click")

    def type(self, css, text):
        eid = self.find(css)
        self.s("POST", f"/element/{eid}/clear")
        self.s("POST", f"/element/{eid}/value", {"text": text})

    def screenshot(self, path):
        Path(path).write_bytes(base64.b64decode(self.s("GET", "/screenshot")))

    def size(self, w, h):
        self.s("POST", "/window/rect", {"width": w, "height": h})

    def close(self):
        try:
            if self.sid:
                self.call("DELETE", f"/session/{self.sid}")
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.log.close()


@pytest.fixture
def browser(tmp_path):
    need_browser()
    wd = WebDriver(tmp_path)
    yield wd
    wd.close()


def page_text(wd):
    return wd.js("return document.body.innerText;")


def test_dashboard_renders_and_drains(vigild_factory, tmp_path, browser):
    p1, p2, hport = free_port(VIP), free_port(VIP), free_port()
    # two ports: each backend listens on the first at its own address
    bes = [Backend(f"be{i}", host=f"127.0.0.{20 + i}", port=p1) for i in (1, 2)]
    tok = tmp_path / "token"
    tok.write_text(TOKEN + "\n")
    os.chmod(tok, 0o600)
    cfg = base_config([service("web", VIP, [p1, p2],
                               [{"name": b.name, "address": b.host} for b in bes])],
                      status_listen=f"127.0.0.1:{hport}", admin_token_file=str(tok))
    try:
        run_dashboard(vigild_factory(cfg), hport, p1, p2, browser)
    finally:
        for b in bes:
            b.close()


def run_dashboard(v, hport, p1, p2, browser):
    wait_all_state(v, "web", ["be1", "be2"])
    assert v.ctl("weight", "web", "be2", "3").returncode == 0     # an operator event
    wd = browser
    wd.go(f"http://127.0.0.1:{hport}/")
    wait_for(lambda: wd.js("return document.querySelectorAll('tr[data-backend]').length;") == 2,
             15, 0.1, "the backends on the page")
    text = page_text(wd)
    for want in ("web", "be1", "be2", f"ports {p1}, {p2}", "Events", "weight web be2 3",
                 "control socket"):
        assert want in text, f"{want!r} not on the page:\n{text}"
    assert wd.js("return document.querySelectorAll('#evtab tr.ev').length;") >= 3
    # read-only until a token is given: no action buttons shown
    assert wd.js("return document.querySelector('tr[data-backend=\"web/be1\"] button')"
                 ".offsetParent === null;")

    # a wrong token: the refusal is shown, nothing changes
    wd.type("#token", "not-the-token-0123456789")
    wd.click("#tokset")
    wd.click('tr[data-backend="web/be1"] button')
    wait_for(lambda: "token refused" in wd.js("return document.getElementById('msg').textContent;"),
             10, 0.1, "the refusal on the page")
    assert v.backend("web", "be1")["state"] == "up"

    # the right one: drain through the button
    wd.type("#token", TOKEN)
    wd.click("#tokset")
    assert wd.js("return sessionStorage.getItem('vigil.token');") == TOKEN
    wd.click('tr[data-backend="web/be1"] button')
    v.wait_state("web", "be1", "drain")
    wait_for(lambda: wd.js("return document.querySelector('tr[data-backend=\"web/be1\"]')"
                           ".getAttribute('data-state');") == "drain", 10, 0.1,
             "the page to show be1 draining")
    msg = wd.js("return document.getElementById('msg').textContent;")
    assert msg.startswith("done: drain web be1"), msg
    wait_for(lambda: "drain web be1 (api 127.0.0.1): ok" in page_text(wd), 10, 0.1,
             "the API command in the event log")
    ev = v.status()["events"]
    assert any(e["kind"] == "command" and e["text"].startswith("drain web be1 (api 127.0.0.1)")
               for e in ev)
    # weight through its field: what the operator types survives the 2 s redraw
    wd.type('tr[data-backend="web/be2"] input', "5")
    time.sleep(2.5)
    assert wd.js("return document.querySelector('tr[data-backend=\"web/be2\"] input').value;") == "5"
    wd.click('tr[data-backend="web/be2"] span.act button')
    wait_for(lambda: v.backend("web", "be2")["weight"] == 5, 10, 0.1, "be2 weight 5")
    wait_for(lambda: wd.js("return document.getElementById('msg').textContent;")
             .startswith("done: weight web be2 5"), 10, 0.1, "the weight confirmation")
    wd.screenshot(BUILD / "dashboard.png")
    assert (BUILD / "dashboard.png").stat().st_size > 10000

    # readable on a phone: nothing wider than the screen but the scrolling tables
    wd.size(390, 844)
    time.sleep(0.3)
    wide = wd.js("return document.documentElement.scrollWidth;")
    inner = wd.js("return window.innerWidth;")
    assert wide <= inner + 1, (wide, inner)
    wd.screenshot(BUILD / "dashboard-phone.png")


def test_dashboard_escapes_remote_text(vigild_factory, tmp_path, browser):
    """A server's reply (remote text) reaches the DOM as text, never as markup."""
    import threading
    hport = free_port()
    evil = "554 <b>x</b><img src=x onerror=\"document.title='pwned'\">"
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                try:
                    c.sendall(evil.encode() + b"\r\n")
                except OSError:
                    pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = srv.getsockname()[1]
    cfg = base_config([service("s", VIP, [free_port(VIP)],
                               [{"name": "b1", "address": "127.0.0.1", "port": port}],
                               check={"type": "smtp"})],
                      status_listen=f"127.0.0.1:{hport}")
    try:
        v = vigild_factory(cfg)
        wait_for(lambda: "<b>" in v.backend("s", "b1")["check"]["detail"], 10,
                 what="the reply in the check detail")
        wd = browser
        wd.go(f"http://127.0.0.1:{hport}/")
        wait_for(lambda: wd.js("return document.querySelectorAll('tr[data-backend]').length;") == 1,
                 15, 0.1, "the backend row")
        time.sleep(0.5)
        assert "<b>x</b><img" in page_text(wd)
        assert wd.js("return document.querySelectorAll('img').length;") == 0
        assert wd.js("return document.title;") != "pwned"
    finally:
        stop.set()
        t.join(5)
        srv.close()


PAIR_STATUS = {
    "node": "mx-a", "version": "0.1.0", "uptime_s": 4000, "reloads": 2, "active": 3,
    "workers": 4,
    "alerts": {"enabled": True, "events": 9, "queued": 1, "batches": 3, "sent": 2, "failed": 1,
               "suppressed": 5, "exec_ok": 3, "exec_failed": 0},
    "failover": {
        "state": "backup", "priority": 100, "group": 7, "node": "mx-a", "interface": "eth1",
        "base_priority": 100, "standby": False, "forced": False, "reason": "peer mx-b is master",
        "since": 1796190000.0, "transitions": 3, "vips": ["192.0.2.10"], "services_down": [],
        "peers": [
            {"address": "192.0.2.2", "node": "mx-b", "state": "master", "priority": 150,
             "standby": False, "last_seen_ms": 400, "vip_set_match": True,
             "boot": "00000000deadbeef", "restarts": 0},
            {"address": "192.0.2.3", "last_seen_ms": None},
        ],
        # groups, config_digest and sync as ctl/status_failover.c and ctl/status_sync.c write them
        "groups": [{"id": 8, "state": "master", "priority": 200, "base_priority": 200,
                    "standby": False, "forced": False, "master": "mx-a", "reason": "",
                    "since": 1796190000.0, "transitions": 1, "vips": ["192.0.2.20"],
                    "addresses": [], "services": ["smtp"]}],
        "config_digest": "abc123",
        "sync": {"port": 7443, "clock": 5, "config_clock": 4, "config_origin": "mx-a",
                 "configs_applied": 1, "configs_refused": 0, "operator_entries": 0,
                 "persist_sent": 0, "persist_received": 0,
                 "peers": [{"address": "192.0.2.2", "node": "mx-b", "connected": True,
                            "version": "0.1.0", "config_digest": "abc123", "in_sync": True,
                            "clock": 4, "last_result": "applied", "last_reason": "",
                            "configs_sent": 1, "configs_received": 0, "ops_sent": 0,
                            "ops_received": 0}],
                 "rejected": {"bad_mac": 0}},
    },
    "services": [
        {"name": "smtp", "vip": "192.0.2.10", "ports": [25, 587], "scheduler": "leastconn",
         "available": True, "active": 3, "total": 9,
         "backends": [
             {"name": "mx1", "address": "198.51.100.11", "port": 25, "state": "up",
              "weight": 2, "active": 3, "total": 9, "last_change": 1796190000.0,
              "checks": [{"type": "smtp", "last": "ok", "detail": "220 mx1 ESMTP"},
                         {"type": "tcp", "last": "ok", "detail": "port 587 connected"}]},
             {"name": "mx2", "address": "198.51.100.12", "port": 25, "state": "down",
              "weight": 1, "active": 0, "total": 0, "last_change": 1796190000.0,
              "check": {"type": "smtp", "last": "timeout", "detail": "no banner within 2s"}},
         ]},
    ],
    "events": [{"seq": 2, "time": "2026-12-02T06:00:00.000Z", "kind": "failover", "group": 7,
                "text": "master -> backup (peer mx-b has priority 150)"}],
}


def test_dashboard_shows_the_pair(tmp_path, browser):
    """The pair view from a status JSON with peers, groups and sync (served by a
    fake, as the other node and the sync feature are not on this host), and
    the group buttons' request."""
    import http.server
    import threading
    html = (Path(__file__).resolve().parents[2] / "ctl" / "dashboard.html").read_bytes()
    posts = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code, ctype, body):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/":
                self.answer(200, "text/html", html)
            else:
                self.answer(200, "application/json", json.dumps(PAIR_STATUS).encode())

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            posts.append((self.path, self.headers.get("Authorization"), body))
            self.answer(200, "application/json",
                        json.dumps({"ok": False, "message": "no peer is able to take over"})
                        .encode())
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        wd = browser
        wd.go(f"http://127.0.0.1:{srv.server_address[1]}/")
        wait_for(lambda: "mx-b" in page_text(wd), 15, 0.1, "the pair on the page")
        text = page_text(wd)
        for want in ("mx-a (this node)", "mx-b", "192.0.2.2", "150", "never heard",
                     "peer mx-b is master", "group 8", "in_sync", "abc123", "ports 25, 587",
                     "220 mx1 ESMTP", "port 587 connected", "no banner within 2s",
                     "master -> backup", "workers 4",
                     "alerts sent 2 failed 1 suppressed 5 queued 1"):
            assert want in text, f"{want!r} not on the page:\n{text}"
        # who holds the VIPs: the peer's row, not ours
        held = wd.js("return Array.from(document.querySelectorAll('#pair tr')).map("
                     "function (r) { return r.innerText; });")
        assert any("mx-b" in r and "192.0.2.10" in r for r in held), held
        assert not any("this node" in r and "192.0.2.10" in r for r in held), held
        # "down since" only for the backend that is not up
        rows = wd.js("return Array.from(document.querySelectorAll('tr[data-backend]')).map("
                     "function (r) { return r.innerText; });")
        assert "2026-" in rows[1] and "2026-" not in rows[0], rows
        # standby of group 7 through the button: confirmed, sent, refusal shown
        wd.type("#token", TOKEN)
        wd.click("#tokset")
        wd.click("#pair div.act button")
        wd.s("POST", "/alert/accept")
        wait_for(lambda: posts, 10, 0.1, "the POST")
        assert posts[0] == ("/api/ctl", "Bearer " + TOKEN, "standby 7")
        wait_for(lambda: "refused: standby 7: no peer is able to take over" in
                 wd.js("return document.getElementById('msg').textContent;"), 10, 0.1,
                 "the refusal on the page")
        wd.screenshot(BUILD / "dashboard-pair.png")
    finally:
        srv.shutdown()
        srv.server_close()


def test_dashboard_c_is_generated_from_html():
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(root / "scripts/embed_html.py"), "--check"])
    assert r.returncode == 0, "ctl/dashboard.c is stale: run scripts/embed_html.py"
