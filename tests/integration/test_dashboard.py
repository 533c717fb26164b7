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
