"""The demo as the README ships it: examples/demo.yaml in front of
examples/demo_backends.py, and the commands that examples/demo.sh tells the
user to try (curl, nc, vigilctl)."""
import shutil
import subprocess
import sys
import urllib.request

import pytest

from vigil import ROOT, wait_for


@pytest.fixture
def demo_backends():
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples/demo_backends.py")],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "demo backends up" in line, line
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def start_demo(vigild_factory, tmp_path):
    """vigild on examples/demo.yaml, its control socket moved into tmp_path."""
    text = (ROOT / "examples/demo.yaml").read_text()
    assert "/tmp/vigil-demo/control.sock" in text
    sock = tmp_path / "demo" / "control.sock"
    return vigild_factory(text.replace("/tmp/vigil-demo/control.sock", str(sock)), name="demo")


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def test_demo_starts_every_backend_including_sorry(vigild_factory, tmp_path, demo_backends):
    """Every backend of the demo, the `sorry` backup included, passes its check."""
    v = start_demo(vigild_factory, tmp_path)
    want = {("web", b) for b in ("web1", "web2", "web3", "sorry")} | \
        {("smtp", b) for b in ("mx1", "mx2")}

    def all_up():
        st = v.status()
        up = {(s["name"], b["name"]) for s in st["services"] for b in s["backends"]
              if b["state"] == "up"}
        return want <= up
    v.wait_for(all_up, 15, "every demo backend up")

    # with web1..web3 in maintenance the backup answers
    assert "hello from web" in get("http://127.0.0.1:8080/")
    for b in ("web1", "web2", "web3"):
        assert v.ctl("disable", "web", b).returncode == 0
    wait_for(lambda: "sorry" in get("http://127.0.0.1:8080/"), 5, what="sorry page")


def test_demo_smtp_command_works(vigild_factory, tmp_path, demo_backends):
    """The nc line the demo prints gets an SMTP dialogue through vigild."""
    assert shutil.which("nc"), "nc missing: scripts/deps.sh installs netcat-openbsd"
    v = start_demo(vigild_factory, tmp_path)
    v.wait_state("smtp", "mx1", "up", 15)
    v.wait_state("smtp", "mx2", "up", 15)
    out = subprocess.run("printf 'EHLO me\\r\\nQUIT\\r\\n' | nc 127.0.0.1 2525",
                         shell=True, capture_output=True, text=True, timeout=10).stdout
    assert out.startswith("220 mx"), out
    assert "221" in out, out
