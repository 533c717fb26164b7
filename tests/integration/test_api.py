"""POST /api/ctl (the authenticated control API), the event log in the status
JSON and vigilctl events (issue 11)."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from vigil import (SLOW, VIGILCTL, base_config, free_port, http_get, service, wait_all_state,
                   wait_for)

VIP = "127.0.0.10"
TOKEN = "s3cret-token-0123456789"


def token_file(tmp_path, text=TOKEN + "\n", mode=0o600, name="token"):
    p = tmp_path / name
    p.write_text(text)
    os.chmod(p, mode)
    return str(p)


def start(vigild_factory, bes, tmp_path, with_token=True, **kw):
    port, hport = free_port(VIP), free_port()
    keys = {"status_listen": f"127.0.0.1:{hport}"}
    if with_token:
        keys["admin_token_file"] = token_file(tmp_path)
    keys.update(kw)
    v = vigild_factory(base_config([service("s", VIP, [port], bes)], **keys))
    wait_all_state(v, "s", [b.name for b in bes])
    return v, hport


def post(hport, body, token=TOKEN, path="/api/ctl", extra=""):
    if isinstance(body, str):
        body = body.encode()
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    raw = (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {len(body)}\r\n"
           f"{extra}Connection: close\r\n\r\n").encode() + body
    status, headers, data = http_get("127.0.0.1", hport, raw=raw)
    return status, headers, data


def post_json(hport, body, **kw):
    status, headers, data = post(hport, body, **kw)
    assert headers.get("content-type") == "application/json", (status, data)
    return status, json.loads(data)


def test_api_drain_ok_and_state_changes(vigild_factory, backends, tmp_path):
    bes = backends(2)
    v, hport = start(vigild_factory, bes, tmp_path)
    status, j = post_json(hport, "drain s be1")
    assert status == 200 and j == {"ok": True, "message": ""}
    assert v.backend("s", "be1")["state"] == "drain"
    status, j = post_json(hport, "weight s be2 7\n")
    assert status == 200 and j["ok"] is True
    assert v.backend("s", "be2")["weight"] == 7
    status, j = post_json(hport, "enable s be1")
    assert j["ok"] is True
    v.wait_state("s", "be1", "up")
    # the same answers as the control socket: status through the API
    status, j = post_json(hport, "status")
    assert j["ok"] is True and "be1" in j["message"]


def test_api_refused_command_is_ok_false(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path)
    status, j = post_json(hport, "weight s nosuch 3")
    assert status == 200 and j["ok"] is False
    assert j["message"] == 'service s has no backend "nosuch"'
    r = v.ctl("weight", "s", "nosuch", "3")
    assert r.returncode == 1 and j["message"] in r.stderr
    status, j = post_json(hport, "weight s be1 999")
    assert j["ok"] is False and "0..256" in j["message"]
    status, j = post_json(hport, "frobnicate")
    assert j["ok"] is False and j["message"] == 'unknown command "frobnicate"'
    status, j = post_json(hport, "standby")
    assert j["ok"] is False and j["message"] == "no failover configured"


def test_api_auth(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path)
    status, j = post_json(hport, "drain s be1", token=None)
    assert status == 401 and j["ok"] is False
    status, j = post_json(hport, "drain s be1", token="wrong-token-0123456789")
    assert status == 401 and j["ok"] is False
    status, j = post_json(hport, "drain s be1", token=TOKEN + "x")
    assert status == 401
    status, j = post_json(hport, "drain s be1", token=TOKEN[:-1])
    assert status == 401
    status, _, _ = post(hport, "drain s be1", token=None,
                        extra=f"Authorization: Basic {TOKEN}\r\n")
    assert status == 401
    assert v.backend("s", "be1")["state"] == "up"


def test_api_forbidden_without_token_file_read_only(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path, with_token=False)
    status, j = post_json(hport, "drain s be1")
    assert status == 403 and j["ok"] is False
    status, j = post_json(hport, "drain s be1", token=None)
    assert status == 403
    # everything else stays read-only
    for path in ("/", "/status", "/metrics"):
        status, _, _ = post(hport, "drain s be1", path=path)
        assert status == 405, path
    status, _, _ = http_get("127.0.0.1", hport, path="/api/ctl")
    assert status == 405
    assert v.backend("s", "be1")["state"] == "up"


def test_api_body_limits(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path)
    status, _, _ = post(hport, "drain s be1 " + "x" * 5000)
    assert status == 413
    # a declared length over the limit is refused before the body is read
    raw = (f"POST /api/ctl HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
           "Content-Length: 100000\r\n\r\n").encode()
    status, _, _ = http_get("127.0.0.1", hport, raw=raw)
    assert status == 413
    raw = (f"POST /api/ctl HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
           "Transfer-Encoding: chunked\r\n\r\n5\r\nreload\r\n0\r\n\r\n").encode()
    status, _, _ = http_get("127.0.0.1", hport, raw=raw)
    assert status == 411
    raw = f"POST /api/ctl HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    status, _, _ = http_get("127.0.0.1", hport, raw=raw)
    assert status == 411
    raw = (f"POST /api/ctl HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
           "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").encode()
    status, _, _ = http_get("127.0.0.1", hport, raw=raw)
    assert status == 400
    assert v.backend("s", "be1")["state"] == "up"


def test_api_body_must_arrive_within_deadline(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path)
    with socket.create_connection(("127.0.0.1", hport), timeout=10 * SLOW) as s:
        s.sendall((f"POST /api/ctl HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                   "Content-Length: 20\r\n\r\ndrain").encode())
        t0 = time.monotonic()
        data = s.recv(4096)
        took = time.monotonic() - t0
    assert data == b"" and 1.0 < took < 6 * SLOW
    assert v.backend("s", "be1")["state"] == "up"


def test_token_file_checked_at_start_and_reload(vigild_factory, backends, tmp_path):
    bes = backends(1)
    hport = free_port()
    for name, text, mode in (("open", TOKEN, 0o644), ("short", "abc", 0o600),
                             ("empty", "", 0o600)):
        cfg = base_config([service("s", VIP, [free_port(VIP)], bes)],
                          status_listen=f"127.0.0.1:{hport}",
                          admin_token_file=token_file(tmp_path, text, mode, name))
        v = vigild_factory(cfg, name=f"bad-{name}", start=False)
        v.start(wait=False)
        assert v.proc.wait(10 * SLOW) != 0
        v.stop()
        assert "admin_token_file" in v.log(), v.log()
    v, hport = start(vigild_factory, bes, tmp_path)
    cfg = dict(v.config)
    cfg["global"] = dict(cfg["global"], admin_token_file=str(tmp_path / "missing"))
    v.write_config(cfg)
    r = v.ctl("reload")
    assert r.returncode == 1 and "admin_token_file" in r.stderr
    status, j = post_json(hport, "drain s be1")     # the old token still works
    assert status == 200 and j["ok"] is True


def test_events_in_status_and_vigilctl(vigild_factory, backends, tmp_path):
    bes = backends(2)
    v, hport = start(vigild_factory, bes, tmp_path)
    assert post_json(hport, "drain s be1")[1]["ok"] is True
    assert v.ctl("disable", "s", "be2").returncode == 0
    assert v.ctl("reload").returncode == 0
    ev = v.status()["events"]
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert all(iso.match(e["time"]) for e in ev)
    seqs = [e["seq"] for e in ev]
    assert seqs == sorted(seqs, reverse=True)          # newest first
    kinds = [e["kind"] for e in ev]
    assert kinds[0] == "command" and "reload" in ev[0]["text"]
    assert any(e["kind"] == "reload" and e["text"].startswith("reload done") for e in ev)
    drain = [e for e in ev if e["kind"] == "command" and e["text"].startswith("drain")]
    assert drain and drain[0]["service"] == "s" and drain[0]["backend"] == "be1"
    assert "api 127.0.0.1" in drain[0]["text"] and drain[0]["text"].endswith(": ok")
    dis = [e for e in ev if e["kind"] == "command" and e["text"].startswith("disable")]
    assert "control socket" in dis[0]["text"]
    changes = [e for e in ev if e["kind"] == "backend" and e["backend"] == "be1"]
    assert any("up -> drain" in e["text"] for e in changes)
    assert any("down -> up" in e["text"] for e in changes)
    # the same over HTTP /status
    status, _, body = http_get("127.0.0.1", hport, path="/status")
    assert json.loads(body)["events"][0]["seq"] == ev[0]["seq"]
    # vigilctl events: oldest first, one line each
    r = v.ctl("events")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == len(ev)
    assert lines[-1].split()[0] == str(ev[0]["seq"])
    assert re.match(r"^\d+ \S+Z backend s/be[12] down -> up", lines[0]), lines[0]
    r = v.ctl("events", "since", ev[1]["seq"])
    assert r.stdout.splitlines() == lines[-1:]
    # the log has each line once: the event log does not write it again
    assert v.log().count("service s backend be1: up -> drain") == 1
    # the command itself: one line, with where it came from
    assert v.log().count("command drain s be1 (api 127.0.0.1): ok") == 1


def test_vigilctl_events_follow(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path)
    p = subprocess.Popen([str(VIGILCTL), "-s", v.sock, "events", "--follow"],
                         stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        assert v.ctl("drain", "s", "be1").returncode == 0
        seen = []

        def got_drain():
            line = p.stdout.readline()
            seen.append(line)
            return "drain s be1 (control socket): ok" in line
        wait_for(got_drain, 10, what="the drain in events --follow")
    finally:
        p.terminate()
        p.wait(5)


def test_event_ring_keeps_the_last_500(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, hport = start(vigild_factory, bes, tmp_path)
    for i in range(520):               # straight to the socket: 520 processes would be slow
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(5 * SLOW)
            c.connect(v.sock)
            c.sendall(f"weight s be1 {i % 200 + 1}\n".encode())
            c.shutdown(socket.SHUT_WR)
            assert c.recv(100) == b"ok\n"
    ev = v.status()["events"]
    assert len(ev) == 500
    assert ev[0]["seq"] - ev[-1]["seq"] == 499


def test_start_failure_after_checks_made_leaks_nothing(vigild_factory, backends, tmp_path):
    """vigild stopping at start-up after the checks were made (here: the control
    socket path is a directory) frees them: no probe buffer leaks (ASan)."""
    bes = backends(1)
    d = tmp_path / "not-a-socket"
    d.mkdir()
    cfg = base_config([service("s", VIP, [free_port(VIP)], bes)], control_socket=str(d))
    v = vigild_factory(cfg, start=False)
    v.start(wait=False)
    assert v.proc.wait(10 * SLOW) == 1, v.log()
    v.stop()
    assert "control socket" in v.log()
    assert v.sanitizer_reports() == [], v.log()


@pytest.mark.netns
def test_failover_transitions_and_refusals_in_events(make_pair):
    from failover_bed import GROUP
    from netns import have_netns
    if have_netns() is not None:
        pytest.skip(str(have_netns()))
    pair = make_pair()
    lb1, lb2 = pair["lb1"], pair["lb2"]
    lb1.wait_state("master", 5)
    assert lb1.ctl("standby").returncode == 0
    lb2.wait_state("master", 2)
    lb1.wait_state("backup", 2)
    r = lb2.ctl("standby")
    assert r.returncode == 1
    ev1 = lb1.status()["events"]
    fo = [e for e in ev1 if e["kind"] == "failover"]
    assert fo and fo[0]["group"] == GROUP
    assert fo[0]["text"].startswith("master -> backup"), fo
    assert any(e["text"].startswith("backup -> master") for e in fo), fo
    assert any(e["kind"] == "command" and e["text"] == "standby (control socket): ok"
               for e in ev1), ev1
    ev2 = lb2.status()["events"]
    refused = [e for e in ev2 if e["kind"] == "command" and e["text"].startswith("standby")]
    assert refused and "error: peer lb1 is in standby itself" in refused[0]["text"], refused
    assert any(e["kind"] == "failover" and "-> master" in e["text"] for e in ev2), ev2
