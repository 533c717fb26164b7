"""alerts: backend, service, failover and sync events batched into one mail
and one program run per window, rate-limited, with SMTP AUTH over TLS.

Against postfix as the relay (a real MTA delivering into a Maildir), and a
scripted relay (fakes/fake_relay.py) that demands AUTH. Everything on
127.0.0.0/8; short batch windows keep the tests fast."""
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vigil import (SLOW, Backend, base_config, free_port, http_get, metric, parse_prometheus,
                   run_vigild, wait_for)

FAKE_RELAY = Path(__file__).resolve().parent / "fakes" / "fake_relay.py"
USER, PASSWORD = "vigil-alerts@example.com", "s3cret pw!"


class Flapper:
    """A backend on a fixed port that can be taken down and brought back."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.be = Backend(name, port=self.port)

    def conf(self):
        return {"name": self.name, "address": "127.0.0.1", "port": self.port}

    def down(self):
        if self.be:
            self.be.close()
            self.be = None

    def up(self):
        if not self.be:
            self.be = Backend(self.name, port=self.port)


@pytest.fixture
def flapper():
    made = []

    def make(name="h1"):
        f = Flapper(name)
        made.append(f)
        return f

    yield make
    for f in made:
        f.down()


def alerts_config(be, alerts, port=None, **global_keys):
    svc = {"name": "web", "vip": "127.0.0.21", "ports": [port or free_port("127.0.0.21")],
           "backends": [be.conf()]}
    cfg = base_config([svc], **global_keys)
    cfg["alerts"] = alerts
    return cfg


def down_up(v, be):
    """Take be down and bring it back, each seen by vigild."""
    be.down()
    v.wait_state("web", be.name, "down", 5)
    be.up()
    v.wait_state("web", be.name, "up", 5)


def alerts_status(v):
    return v.status()["alerts"]


def password_file(tmp_path, text=PASSWORD + "\n"):
    p = tmp_path / "smtp.pass"
    p.write_text(text)
    p.chmod(0o600)
    return str(p)


# ---- postfix, a real relay that delivers ----

def delivering_postfix(tmp_path):
    """postfix on a loopback port delivering mail for example.com into the
    Maildir mail/ops/ (virtual(8)); it adds no Message-ID or Date of its own."""
    from realservers import Postfix, make_certs, missing
    if "postfix" in missing():
        if os.environ.get("CI") == "true":
            pytest.fail("postfix is not installed")
        pytest.skip("postfix is not installed")

    class DeliveringPostfix(Postfix):
        def __init__(self, certs):
            super().__init__(certs)
            (self.dir / "mail").mkdir()
            shutil.chown(self.dir / "mail", "postfix", "postfix")
            mc = self.dir / "conf" / "master.cf"
            mc.write_text(mc.read_text() + "virtual unix - n n - - virtual\n")

        def _write(self, rejecting):
            super()._write(rejecting)
            pw = pwd.getpwnam("postfix")
            with open(self.dir / "conf" / "main.cf", "a") as f:
                f.write(f"virtual_mailbox_domains = example.com\n"
                        f"virtual_mailbox_base = {self.dir}/mail\n"
                        f"virtual_mailbox_maps = static:ops/\n"
                        f"virtual_uid_maps = static:{pw.pw_uid}\n"
                        f"virtual_gid_maps = static:{pw.pw_gid}\n"
                        "local_header_rewrite_clients =\n"
                        "always_add_missing_headers = no\n")

        def mails(self):
            d = self.dir / "mail" / "ops" / "new"
            return [p.read_text() for p in sorted(d.iterdir())] if d.exists() else []

    return DeliveringPostfix(make_certs(tmp_path / "certs"))


def header(mail, name):
    m = re.search(rf"^{name}: (.*)$", mail, re.M | re.I)
    return m.group(1).strip() if m else None


def test_batched_alert_mail_through_postfix(vigild_factory, flapper, tmp_path):
    """A backend goes down and comes back within one window: one mail,
    delivered by postfix, lists all four events (backend down, service
    without backend, backend up, service back) with vigil's own Message-ID
    and Date; the first up after start is no alert."""
    pf = delivering_postfix(tmp_path)
    try:
        pf.start()
        be = flapper()
        v = vigild_factory(alerts_config(be, {
            "batch": "3s",
            "email": {"smtp": f"127.0.0.1:{pf.port}", "from": "vigil@example.com",
                      "to": ["ops@example.com"]}}))
        v.wait_state("web", "h1", "up", 5)
        assert alerts_status(v)["events"] == 0          # the start-up "up" is not news
        t0 = time.time()
        down_up(v, be)
        mails = wait_for(lambda: pf.mails(), 15, 0.1, "the alert mail in the Maildir")
        time.sleep(0.5)
        assert len(pf.mails()) == 1, pf.mails()
        mail = mails[0]
        host = socket.gethostname()
        assert header(mail, "Subject") == f"[vigil] {host}: 4 alerts: backend web/h1 down (+3 more)"
        assert header(mail, "From") == "vigil@example.com"
        assert header(mail, "To") == "ops@example.com"
        # RFC 5322 date of the sending, and vigil's Message-ID (postfix adds none here)
        date = header(mail, "Date")
        from email.utils import parsedate_to_datetime
        assert abs(parsedate_to_datetime(date).timestamp() - t0) < 15 * SLOW, date
        msgid = header(mail, "Message-ID")
        assert re.fullmatch(r"<\d+\.[0-9a-f]{16}\.\d+@example\.com>", msgid), msgid
        assert msgid in v.log() and "delivered" in v.log()
        assert f"message-id={msgid}" in pf.maillog()
        body = mail.split("\n\n", 1)[1]
        kinds = re.findall(r"^\S+Z  (\S+)\s+(\S+)  (.*)$", body, re.M)
        assert [(k, who) for k, who, _ in kinds] == [
            ("backend-down", "web/h1"), ("service-down", "web"),
            ("backend-up", "web/h1"), ("service-up", "web")], body
        assert kinds[0][2].startswith("up -> down (")
        st = alerts_status(v)
        assert st["enabled"] and st["events"] == 4 and st["batches"] == 1
        assert st["sent"] == 1 and st["failed"] == 0 and st["suppressed"] == 0
    finally:
        pf.cleanup()


# ---- a scripted relay that demands AUTH ----

@pytest.fixture
def fake_relay(tmp_path):
    """fake_relay(mode) -> (port, records()): fakes/fake_relay.py on 127.0.0.1,
    with the test certificate for STARTTLS; stopped by PID at teardown."""
    procs = []

    def start(mode, rogue=False):
        from realservers import make_certs
        certs = make_certs(tmp_path / "certs")
        port, out = free_port(), tmp_path / f"relay-{mode}.jsonl"
        env = dict(os.environ, FAKE_RELAY_USER=USER, FAKE_RELAY_PASS=PASSWORD)
        cert, key = (certs.rogue_cert, certs.rogue_key) if rogue else (certs.cert, certs.key)
        p = subprocess.Popen([sys.executable, str(FAKE_RELAY), "127.0.0.1", str(port), mode,
                              str(out), cert, key], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), 0.5).close() or True,
                 5, 0.05, "the fake relay")

        def records():
            return [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
        return port, records

    yield start
    for p in procs:
        p.kill()
        p.wait(5)


def auth_email(port, pwfile, **extra):
    return {"smtp": f"127.0.0.1:{port}", "from": "vigil@example.com", "to": ["ops@example.com"],
            "username": USER, "password_file": pwfile, **extra}


@pytest.mark.parametrize("mode,mech", [("auth", "PLAIN"), ("authlogin", "LOGIN")])
def test_auth_after_starttls(vigild_factory, flapper, fake_relay, tmp_path, mode, mech):
    """The relay offers AUTH only after STARTTLS and demands it: vigil starts
    TLS, authenticates with the password file's credentials, then sends."""
    port, records = fake_relay(mode)
    be = flapper()
    v = vigild_factory(alerts_config(be, {"batch": "300ms",
                                          "email": auth_email(port, password_file(tmp_path))}))
    v.wait_state("web", "h1", "up", 5)
    be.down()
    wait_for(lambda: any(r["cmd"].startswith("<text") for r in records()), 10, 0.05,
             "the mail at the relay")
    recs = records()
    cmds = [(r["cmd"].split(" ")[0] if not r["cmd"].startswith("<") else r["cmd"].split(" ")[0],
             r["tls"]) for r in recs]
    assert cmds[:6] == [("EHLO", False), ("STARTTLS", False), ("EHLO", True),
                        ("AUTH", True), ("<auth>", True), ("MAIL", True)], cmds
    auth = [r["auth"] for r in recs if "auth" in r]
    assert auth == [[mech, USER, PASSWORD]]
    # nothing about AUTH ever went in clear text
    assert not any(r["cmd"].upper().startswith("AUTH") and not r["tls"] for r in recs)
    text = [r["text"] for r in recs if "text" in r][0]
    assert "backend-down  web/h1" in text and "Message-ID: <" in text and "\nDate: " in text
    wait_for(lambda: alerts_status(v)["sent"] == 1, 5, 0.05, "the mail counted as sent")
    assert PASSWORD not in v.log()


def test_auth_over_implicit_tls(vigild_factory, flapper, fake_relay, tmp_path):
    """email.tls: implicit (SMTPS): TLS from the first byte, then AUTH PLAIN."""
    port, records = fake_relay("authimplicit")
    be = flapper()
    v = vigild_factory(alerts_config(be, {"batch": "200ms", "email": auth_email(
        port, password_file(tmp_path), tls="implicit")}))
    v.wait_state("web", "h1", "up", 5)
    be.down()
    wait_for(lambda: alerts_status(v)["sent"] == 1, 10, 0.05, "the mail delivered")
    recs = records()
    assert all(r["tls"] for r in recs)
    assert [r["cmd"].split(" ")[0] for r in recs][:4] == ["EHLO", "AUTH", "<auth>", "MAIL"]
    assert [r["auth"] for r in recs if "auth" in r] == [["PLAIN", USER, PASSWORD]]


@pytest.mark.parametrize("host,rogue,ok", [
    (None, False, True),                     # the certificate names 127.0.0.1
    ("mail.test.example", False, True),
    ("other.example", False, False),         # not the name the certificate carries
    (None, True, False),                     # self-signed, not from the CA
], ids=["ip", "name", "wrong-name", "rogue"])
def test_auth_with_verified_relay(vigild_factory, flapper, fake_relay, tmp_path, host, rogue,
                                  ok):
    """email.verify: the relay's certificate is checked (ca_file, host or the
    relay's IP) before anything is sent over TLS, credentials included."""
    port, records = fake_relay("auth", rogue=rogue)
    ca = str(tmp_path / "certs" / "certs" / "ca.pem")
    extra = {"verify": True, "ca_file": ca, **({"host": host} if host else {})}
    be = flapper()
    v = vigild_factory(alerts_config(be, {"batch": "200ms", "email": auth_email(
        port, password_file(tmp_path), **extra)}))
    v.wait_state("web", "h1", "up", 5)
    be.down()
    if ok:
        wait_for(lambda: alerts_status(v)["sent"] == 1, 10, 0.05, "the mail delivered")
        assert [r["auth"] for r in records() if "auth" in r] == [["PLAIN", USER, PASSWORD]]
        return
    wait_for(lambda: "certificate verify failed" in v.log(), 10, 0.05, "the TLS failure")
    assert not any("auth" in r or r["tls"] for r in records()), records()


def test_auth_refused_in_clear_text(vigild_factory, flapper, fake_relay, tmp_path):
    """A relay that offers AUTH without TLS gets no credentials: the mail
    fails at once (no retry), and the reason is logged once however many
    batches fail the same way."""
    port, records = fake_relay("authclear")
    be = flapper()
    v = vigild_factory(alerts_config(be, {"batch": "200ms",
                                          "email": auth_email(port, password_file(tmp_path))}))
    v.wait_state("web", "h1", "up", 5)
    down_up(v, be)
    wait_for(lambda: alerts_status(v)["failed"] >= 1, 10, 0.05, "the first mail to fail")
    time.sleep(0.6)
    be.down()
    wait_for(lambda: alerts_status(v)["failed"] >= 2 and alerts_status(v)["batches"] >= 2, 10,
             0.05, "another batch to fail")

    def settled():
        st = alerts_status(v)
        return st if st["queued"] == 0 and st["failed"] == st["batches"] else None
    time.sleep(0.3 * SLOW)
    st = wait_for(settled, 5, 0.05, "every batch to end")
    assert st["sent"] == 0 and st["failed"] == st["batches"]
    recs = records()
    assert not any(r["cmd"].upper().startswith("AUTH") or "auth" in r for r in recs), recs
    assert not any(r["cmd"].upper().startswith(("MAIL", "RCPT", "DATA")) for r in recs), recs
    assert [r["cmd"] for r in recs].count("QUIT") >= 2       # a polite goodbye each time
    sessions = {r["session"] for r in recs}
    assert len(sessions) == st["batches"]                     # no retries
    log = v.log()
    assert log.count("credentials not sent in clear text") == 1, log
    assert PASSWORD not in log


def test_auth_wrong_password_not_retried(vigild_factory, flapper, fake_relay, tmp_path):
    port, records = fake_relay("auth")
    be = flapper()
    v = vigild_factory(alerts_config(be, {
        "batch": "200ms", "email": auth_email(port, password_file(tmp_path, "wrong\n"))}))
    v.wait_state("web", "h1", "up", 5)
    be.down()
    wait_for(lambda: alerts_status(v)["failed"] == 1, 10, 0.05, "the mail to fail")
    time.sleep(0.3)
    assert [r["auth"] for r in records() if "auth" in r] == [["PLAIN", USER, "wrong"]]
    assert "535 5.7.8 bad credentials; not retried" in v.log()


# ---- rate limit ----

def recorder(tmp_path):
    """An alerts.exec program appending its environment and stdin to calls.jsonl."""
    out = tmp_path / "calls.jsonl"
    script = tmp_path / "alert.py"
    script.write_text(f"""#!{sys.executable}
import json, os, sys
rec = {{k: v for k, v in os.environ.items() if k.startswith("VIGIL_")}}
rec["stdin"] = sys.stdin.read()
rec["argv"] = sys.argv
with open({str(out)!r}, "a") as f:
    f.write(json.dumps(rec) + "\\n")
""")
    script.chmod(0o755)
    return script, lambda: [json.loads(l) for l in out.read_text().splitlines()] \
        if out.exists() else []


def test_rate_limit_flapping_backend(vigild_factory, flapper, fake_relay, tmp_path):
    """A flapping backend with max_per_hour 2: two batches (mail and program
    run each), the rest suppressed and counted; once the limit allows another
    batch (raised by a reload here), it tells how many were suppressed."""
    port, records = fake_relay("accept")
    script, calls = recorder(tmp_path)
    be = flapper()
    email = {"smtp": f"127.0.0.1:{port}", "from": "vigil@example.com", "to": ["ops@example.com"]}
    svc_port, http = free_port("127.0.0.21"), free_port()
    listen = f"127.0.0.1:{http}"
    v = vigild_factory(alerts_config(be, {"batch": "200ms", "max_per_hour": 2,
                                          "exec": str(script), "email": email}, svc_port,
                                     status_listen=listen))
    v.wait_state("web", "h1", "up", 5)
    for _ in range(4):
        down_up(v, be)
        time.sleep(0.3 * SLOW)           # each flap past its window
    wait_for(lambda: len(calls()) == 2 and alerts_status(v)["sent"] == 2, 5, 0.05,
             "two batches delivered")
    time.sleep(0.5)
    st = wait_for(lambda: (lambda st: st if st["queued"] == 0 else None)(alerts_status(v)), 5,
                  0.05, "the last window to close")
    assert st["batches"] == 2 and len(calls()) == 2 and st["sent"] == 2, st
    assert st["suppressed"] > 0 and st["suppressed"] + sum(
        int(c["VIGIL_ALERTS"]) for c in calls()) == st["events"], (st, calls())
    assert len([r for r in records() if "text" in r]) == 2
    assert v.log().count("alerts.max_per_hour (2) reached") == 1, v.log()
    # the metrics say the same
    wait_for(lambda: alerts_status(v)["exec_ok"] == 2, 5, 0.05, "both runs reaped")
    status, _, body = http_get("127.0.0.1", http, "/metrics")
    m = parse_prometheus(body.decode() if isinstance(body, bytes) else body)
    assert metric(m, "vigil_alerts_mails_total", result="sent") == 2
    assert metric(m, "vigil_alerts_mails_total", result="failed") == 0
    assert metric(m, "vigil_alerts_batches_total") == 2
    assert metric(m, "vigil_alerts_suppressed_total") == st["suppressed"]
    assert metric(m, "vigil_alerts_events_total") == st["events"]
    assert metric(m, "vigil_alerts_exec_total", result="ok") == 2
    assert (f"alerts {st['events']}  mails sent 2  failed 0  suppressed {st['suppressed']}"
            in v.ctl("status").stdout)
    # the program's view of a batch: environment and one line per event on stdin
    c = calls()[0]
    assert c["VIGIL_NODE"] == socket.gethostname() and c["argv"] == [str(script)]
    assert c["VIGIL_SUPPRESSED"] == "0" and c["VIGIL_SUBJECT"].startswith("[vigil] ")
    lines = [l.split("\t") for l in c["stdin"].splitlines()]
    assert len(lines) == int(c["VIGIL_ALERTS"]) and lines[0][1:3] == ["backend-down", "web/h1"]
    suppressed = st["suppressed"]
    # a reload raising the limit lets the next batch through, with the count
    cfg = alerts_config(be, {"batch": "200ms", "max_per_hour": 3, "exec": str(script),
                             "email": email}, svc_port, status_listen=listen)
    cfg["global"]["control_socket"] = v.sock
    v.write_config(cfg)
    assert v.ctl("reload").returncode == 0
    be.down()
    wait_for(lambda: len(calls()) == 3, 5, 0.05, "the third batch")
    assert calls()[2]["VIGIL_SUPPRESSED"] == str(suppressed)
    texts = wait_for(lambda: [r["text"] for r in records() if "text" in r][2:], 5, 0.05,
                     "the third mail")
    assert f"{suppressed} alerts were suppressed since " in texts[0], texts[0]
    assert "alerts.max_per_hour (2) was reached" in texts[0] or \
        "alerts.max_per_hour (3) was reached" in texts[0]


# ---- configuration ----

def test_check_and_start_refuse_bad_settings(vigild_factory, flapper, tmp_path):
    be = flapper()
    bad = alerts_config(be, {"email": {"smtp": "127.0.0.1:25", "from": "vigil",
                                       "to": ["ops@example.com"], "username": "u"}})
    f = tmp_path / "bad.yaml"
    f.write_text(json.dumps(bad))
    r = run_vigild("-t", "-c", f)
    assert r.returncode == 1
    assert "alerts.email.from: \"vigil\" is not an e-mail address" in r.stderr
    assert "alerts.email.username: needs password_file" in r.stderr
    # a password file that cannot be read: -t does not open it, start refuses
    cfg = alerts_config(be, {"email": {"smtp": "127.0.0.1:25", "from": "vigil@example.com",
                                       "to": ["ops@example.com"], "username": "u",
                                       "password_file": str(tmp_path / "missing.pass")}})
    f.write_text(json.dumps(cfg))
    assert run_vigild("-t", "-c", f).returncode == 0
    v = vigild_factory(cfg, start=False)
    v.start(wait=False)
    v.proc.wait(10 * SLOW)
    assert v.proc.returncode == 1
    assert "alerts.email.password_file " + str(tmp_path / "missing.pass") + \
        ": cannot read: No such file or directory" in v.log()
    # and a reload to it is refused, the running settings stay
    ok = alerts_config(be, {"exec": "/bin/true"})
    v2 = vigild_factory(ok)
    cfg["global"]["control_socket"] = v2.sock
    v2.write_config(cfg)
    r = v2.ctl("reload")
    assert r.returncode == 1 and "missing.pass: cannot read" in r.stderr + r.stdout
    assert alerts_status(v2)["enabled"]
