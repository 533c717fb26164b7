"""vigilctl commands and exit codes; the HTTP status endpoint (issue 2)."""
import json
import os
import re
import socket
import subprocess
import time
from collections import Counter

import pytest

from vigil import (SLOW, VIGILCTL, base_config, connect, free_port, http_get, json_shape,
                   metric, parse_prometheus, recv_line, service, wait_all_state, wait_for,
                   who_answers)

VIP = "127.0.0.10"


def start(vigild_factory, bes, **global_keys):
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], bes)], **global_keys))
    wait_all_state(v, "s", [b.name for b in bes])
    return v, port


def echo_ok(sock, text):
    sock.sendall(text.encode() + b"\n")
    return recv_line(sock) == text


# ---------------------------------------------------------------- admin commands

def test_drain_keeps_existing_connection_no_new_ones(vigild_factory, backends):
    bes = backends(2)
    v, port = start(vigild_factory, bes)
    c = connect(VIP, port)
    try:
        first = recv_line(c)
        other = "be2" if first == "be1" else "be1"
        r = v.ctl("drain", "s", first)
        assert r.returncode == 0, r.stderr
        assert v.backend("s", first)["state"] == "drain"
        # the drained backend's connection keeps working
        assert echo_ok(c, "still here")
        # new connections go elsewhere only
        assert {who_answers(VIP, port) for _ in range(6)} == {other}
        b = v.backend("s", first)
        assert (b["active"], b["total"], b["state"]) == (1, 1, "drain")
        assert echo_ok(c, "and still")
        c.close()
        wait_for(lambda: v.backend("s", first)["active"] == 0, 5, what="drained conn closed")
        assert v.backend("s", first)["state"] == "drain"
        assert v.ctl("enable", "s", first).returncode == 0
        v.wait_state("s", first, "up")
        assert {who_answers(VIP, port) for _ in range(4)} == {"be1", "be2"}
    finally:
        c.close()


def test_disable_is_maint_enable_brings_back(vigild_factory, backends):
    bes = backends(2)
    v, port = start(vigild_factory, bes)
    r = v.ctl("disable", "s", "be1")
    assert r.returncode == 0, r.stderr
    assert v.backend("s", "be1")["state"] == "maint"
    assert {who_answers(VIP, port) for _ in range(6)} == {"be2"}
    text = v.ctl("status")
    assert text.returncode == 0 and re.search(r"be1\s.*\smaint\s", text.stdout), text.stdout
    # maint is kept through health checks: still maint after several probe intervals
    time.sleep(0.6 * SLOW)
    assert v.backend("s", "be1")["state"] == "maint"
    assert v.ctl("enable", "s", "be1").returncode == 0
    v.wait_state("s", "be1", "up")
    assert {who_answers(VIP, port) for _ in range(6)} == {"be1", "be2"}
    assert v.backend("s", "be1")["total"] == 3


def test_weight_zero_takes_no_new_connections(vigild_factory, backends):
    bes = backends(2)
    v, port = start(vigild_factory, bes)
    c = connect(VIP, port)
    try:
        first = recv_line(c)
        r = v.ctl("weight", "s", first, 0)
        assert r.returncode == 0, r.stderr
        b = v.backend("s", first)
        assert (b["weight"], b["state"]) == (0, "up")
        other = "be2" if first == "be1" else "be1"
        assert {who_answers(VIP, port) for _ in range(6)} == {other}
        assert echo_ok(c, "weight 0 keeps me")
        assert v.ctl("weight", "s", first, 3).returncode == 0
        assert v.backend("s", first)["weight"] == 3
        seen = Counter(who_answers(VIP, port) for _ in range(8))
        assert seen[first] > 0, seen
    finally:
        c.close()


def test_weight_out_of_range_refused(vigild_factory, backends):
    bes = backends(1)
    v, port = start(vigild_factory, bes)
    for bad in ("257", "-1", "abc"):
        r = v.ctl("weight", "s", "be1", bad)
        assert r.returncode in (1, 2) and r.stderr.strip(), (bad, r)
    assert v.backend("s", "be1")["weight"] == 1


# ---------------------------------------------------------------- exit codes

def test_vigilctl_exit_codes(vigild_factory, backends, tmp_path):
    bes = backends(1)
    v, port = start(vigild_factory, bes)
    r = v.ctl("status")
    assert r.returncode == 0 and "be1" in r.stdout
    r = v.ctl("status", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["services"][0]["name"] == "s"

    # 1: refused, with the reason on stderr
    for args, word in [(("drain", "s", "nosuch"), "nosuch"),
                       (("disable", "nosvc", "be1"), "nosvc"),
                       (("enable", "s", "nosuch"), "nosuch"),
                       (("weight", "s", "nosuch", "2"), "nosuch"),
                       (("standby",), "no failover configured"),
                       (("takeover",), "no failover configured")]:
        r = v.ctl(*args)
        assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
        assert word in r.stderr, (args, r.stderr)

    # 2: usage errors
    for args in [(), ("bogus",), ("drain", "s"), ("drain", "s", "be1", "extra"),
                 ("weight", "s", "be1"), ("status", "--bogus")]:
        r = v.ctl(*args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert r.stderr.strip(), args

    # 2: daemon not reachable (no socket file; a dead socket file)
    r = subprocess.run([str(VIGILCTL), "-s", str(tmp_path / "none.sock"), "status"],
                       capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 2 and r.stderr.strip(), r
    dead = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(dead))
    s.close()   # the file stays, nobody listens
    r = subprocess.run([str(VIGILCTL), "-s", str(dead), "status"],
                       capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 2 and r.stderr.strip(), r

    # nothing above changed the backend
    assert v.backend("s", "be1")["state"] == "up"


def test_control_socket_mode_0600(vigild_factory, backends):
    v, _ = start(vigild_factory, backends(1))
    assert os.stat(v.sock).st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- HTTP status

@pytest.fixture
def served(vigild_factory, backends):
    bes = backends(2)
    hport = free_port()
    v, port = start(vigild_factory, bes, status_listen=f"127.0.0.1:{hport}")
    return v, port, hport


def test_metrics_scraped_and_parsed(served):
    v, port, hport = served
    names, sent = Counter(), 0
    for i in range(5):
        with connect(VIP, port) as s:
            names[recv_line(s)] += 1
            s.sendall(b"x" * (100 * (i + 1)) + b"\n")
            assert len(recv_line(s, limit=1000)) == 100 * (i + 1)
            sent += 100 * (i + 1) + 1
    wait_for(lambda: v.status()["active"] == 0, 5, what="connections closed")
    status, headers, body = http_get("127.0.0.1", hport, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert "version=0.0.4" in headers["content-type"]
    assert int(headers["content-length"]) == len(body)
    m = parse_prometheus(body.decode())
    assert all(name.startswith("vigil_") for name, _ in m), sorted({n for n, _ in m})
    greet = sum(len(n) + 1 for n in names.elements())
    assert metric(m, "vigil_connections_total") == 5
    assert metric(m, "vigil_active_connections") == 0
    assert metric(m, "vigil_bytes_in_total") == sent
    assert metric(m, "vigil_bytes_out_total") == sent + greet
    assert metric(m, "vigil_service_connections_total", service="s") == 5
    assert metric(m, "vigil_service_active_connections", service="s") == 0
    assert metric(m, "vigil_service_available", service="s") == 1
    for be in ("be1", "be2"):
        assert metric(m, "vigil_backend_connections_total", service="s", backend=be) == names[be]
        assert metric(m, "vigil_backend_up", service="s", backend=be) == 1
        assert metric(m, "vigil_backend_active_connections", service="s", backend=be) == 0
        assert metric(m, "vigil_backend_connect_failures_total", service="s", backend=be) == 0
        probes = metric(m, "vigil_backend_check_probes_total", service="s", backend=be)
        assert probes >= 1
        assert metric(m, "vigil_backend_check_failures_total", service="s", backend=be) == 0
    assert metric(m, "vigil_check_probes_total") >= 2
    assert metric(m, "vigil_check_failures_total") == 0
    assert sum(metric(m, "vigil_backend_bytes_in_total", service="s", backend=be)
               for be in ("be1", "be2")) == sent
    # a drained backend shows in the metrics too
    assert v.ctl("drain", "s", "be2").returncode == 0
    m = parse_prometheus(http_get("127.0.0.1", hport, "/metrics")[2].decode())
    assert metric(m, "vigil_backend_up", service="s", backend="be2") == 0
    assert metric(m, "vigil_backend_state", service="s", backend="be2", state="drain") == 1


def test_status_json_equals_vigilctl_shape(served):
    v, port, hport = served
    assert who_answers(VIP, port)
    status, headers, body = http_get("127.0.0.1", hport, "/status")
    assert status == 200 and headers["content-type"].startswith("application/json")
    web = json.loads(body)
    ctl = v.status()
    assert json_shape(web) == json_shape(ctl)
    assert web["node"] == ctl["node"]
    assert [(s["name"], s["vip"], s["ports"], [b["name"] for b in s["backends"]])
            for s in web["services"]] == \
           [(s["name"], s["vip"], s["ports"], [b["name"] for b in s["backends"]])
            for s in ctl["services"]]
    assert web["failover"]["state"] == "standalone"
    b = web["services"][0]["backends"][0]
    for key in ("name", "address", "port", "state", "weight", "active", "total", "check"):
        assert key in b, key
    assert {"type", "last", "detail"} <= set(b["check"]), b["check"]
    assert (b["state"], b["check"]["type"], b["check"]["last"]) == ("up", "tcp", "ok"), b


def test_dashboard_404_and_bad_requests(served):
    v, port, hport = served
    status, headers, body = http_get("127.0.0.1", hport, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<html" in body.lower()
    assert http_get("127.0.0.1", hport, "/nope")[0] == 404
    assert http_get("127.0.0.1", hport, "/metrics", method="POST")[0] == 405
    status, _, body = http_get("127.0.0.1", hport, "/metrics", method="HEAD")
    assert status == 200 and body == b""
    assert http_get("127.0.0.1", hport, raw=b"garbage\r\n\r\n")[0] == 400
    # an oversize request head is rejected, not buffered
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024) + b"\r\n\r\n"
    status = http_get("127.0.0.1", hport, raw=big)[0]
    assert status in (400, 413, 431), status
    # and the endpoint still answers, also while a silent client holds a connection
    with socket.create_connection(("127.0.0.1", hport), timeout=5):
        assert http_get("127.0.0.1", hport, "/status")[0] == 200
