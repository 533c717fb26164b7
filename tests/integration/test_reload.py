"""Configuration reload: under load, with a broken file, adding and removing
listeners (issue 2)."""
import os
import re
import signal
import socket
import threading
import time

from vigil import (SLOW, base_config, connect, free_port, recv_line, service, wait_all_state,
                   wait_for, who_answers)

VIP = "127.0.0.10"
VIP2 = "127.0.0.11"


def reload_and_wait(v, how, expect_reloads):
    if how == "hup":
        v.signal(signal.SIGHUP)
    else:
        r = v.ctl("reload")
        assert r.returncode == 0, r.stderr
    wait_for(lambda: v.status()["reloads"] == expect_reloads, 5,
             what=f"reload #{expect_reloads} ({how})")


class Load:
    """Client threads connecting in a loop: greeting, 2 KiB echoed, close."""

    def __init__(self, port, names, threads=3, max_s=8.0):
        self.port, self.names = port, set(names)
        self.ok, self.errors = 0, []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + max_s * SLOW
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def one(self):
        payload = os.urandom(2048)
        with connect(VIP, self.port, timeout=5) as s:
            name = recv_line(s)
            if name not in self.names:
                raise AssertionError(f"greeting {name!r}")
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError(f"EOF after {len(got)} of {len(payload)} bytes")
                got += chunk
            if got != payload:
                raise AssertionError("echoed data differs")

    def run(self):
        for _ in range(100000):
            if self.stop.is_set() or time.monotonic() > self.deadline:
                return
            try:
                self.one()
                with self.lock:
                    self.ok += 1
            except (OSError, AssertionError) as e:
                with self.lock:
                    self.errors.append(repr(e))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10 * SLOW)


def test_reload_under_continuous_load(vigild_factory, backends):
    be1, be2, be3 = backends(3)
    port = free_port(VIP)

    def cfg(bes, **extra):
        return base_config([service("s", VIP, [port], bes, **extra)])

    steps = [
        ("hup", cfg([be1, be2, be3]), ["be1", "be2", "be3"]),
        ("ctl", cfg([be2, be3]), ["be2", "be3"]),                               # remove be1
        ("hup", cfg([be1.conf(weight=1), be2.conf(weight=2), be3.conf(weight=3)],
                    scheduler="weighted-roundrobin"), ["be1", "be2", "be3"]),  # add it back
        ("ctl", cfg([be2], scheduler="leastconn"), ["be2"]),
        ("hup", cfg([be1, be2]), ["be1", "be2"]),
        ("ctl", cfg([be1, be2, be3], scheduler="source-hash"), ["be1", "be2", "be3"]),
    ]
    v = vigild_factory(cfg([be1, be2]))
    wait_all_state(v, "s", ["be1", "be2"])
    # a long-lived connection on be1 outlives be1's removal
    held = connect(VIP, port)
    while recv_line(held) != "be1":
        held.close()
        held = connect(VIP, port)
    load = Load(port, ["be1", "be2", "be3"])
    try:
        t0 = time.monotonic()
        for i, (how, conf, names) in enumerate(steps, 1):
            time.sleep(0.35)
            conf["global"]["control_socket"] = v.sock
            v.write_config(conf)
            reload_and_wait(v, how, i)
            assert [b["name"] for b in v.service("s")["backends"]] == names
            held.sendall(b"step %d\n" % i)
            assert recv_line(held) == f"step {i}"
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
    finally:
        load.finish()
        held.close()
    assert load.errors == [], f"{len(load.errors)} failed of {load.ok + len(load.errors)}: " \
                              f"{load.errors[:5]}"
    print(f"reload under load: {load.ok} connections ok")
    assert load.ok >= 30, load.ok
    st = v.status()
    assert (st["reloads"], st["reload_failures"]) == (len(steps), 0)
    assert st["refused"] == 0
    assert st["services"][0]["scheduler"] == "source-hash"
    wait_for(lambda: v.status()["active"] == 0, 5, what="connections closed")
    assert v.status()["total"] == load.ok + 1


def yaml_config(sock, port, backends, scheduler="roundrobin"):
    """The config as YAML text, so that line numbers are known. Returns
    (text, line of the scheduler key)."""
    lines = [
        "global:",
        f"  control_socket: {sock}",
        "  log_level: info",
        "defaults:",
        "  timeouts: {connect: 1s, client_idle: 30s, server_idle: 30s, drain: 2s}",
        "  check: {interval: 200ms, timeout: 150ms, rise: 1, fall: 1}",
        "services:",
        "  - name: s",
        f"    vip: {VIP}",
        f"    ports: [{port}]",
        f"    scheduler: {scheduler}",
        "    backends:",
    ]
    sched_line = len(lines) - 1
    for b in backends:
        lines.append(f"      - {{name: {b.name}, address: {b.host}, port: {b.port}}}")
    return "\n".join(lines) + "\n", sched_line


def shape(st):
    return [(s["name"], s["vip"], s["ports"], s["scheduler"],
             [(b["name"], b["address"], b["port"], b["weight"]) for b in s["backends"]])
            for s in st["services"]]


def test_reload_broken_file_keeps_old_config(vigild_factory, backends):
    be1, be2 = backends(2)
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], [be1, be2])]))
    wait_all_state(v, "s", ["be1", "be2"])
    before = shape(v.status())
    text, line = yaml_config(v.sock, port, [be1], scheduler="round-robin")
    v.write_config(text)
    loc = re.compile(re.escape(str(v.cfg_path)) + r":(\d+):(\d+): services\[0\]\.scheduler: "
                     r".*round-robin")

    v.signal(signal.SIGHUP)
    wait_for(lambda: v.status()["reload_failures"] == 1, 5, what="refused reload")
    m = wait_for(lambda: loc.search(v.log()), 2, what="the error in the log")
    assert int(m.group(1)) == line, (m.group(0), line)
    assert int(m.group(2)) in (5, 16), m.group(0)   # the key's or the value's column
    st = v.status()
    assert shape(st) == before and st["reloads"] == 0
    assert {who_answers(VIP, port) for _ in range(4)} == {"be1", "be2"}

    r = v.ctl("reload")
    assert r.returncode == 1
    assert loc.search(r.stderr), r.stderr
    assert shape(v.status()) == before

    # a YAML syntax error is refused the same way
    v.write_config(text.replace("    backends:", "    backends: [\n"))
    r = v.ctl("reload")
    assert r.returncode == 1
    assert re.search(re.escape(str(v.cfg_path)) + r":\d+:\d+: ", r.stderr), r.stderr
    assert shape(v.status()) == before
    assert v.status()["reload_failures"] == 3

    # a good file is then taken
    text, _ = yaml_config(v.sock, port, [be2], scheduler="leastconn")
    v.write_config(text)
    r = v.ctl("reload")
    assert r.returncode == 0, r.stderr
    st = v.status()
    assert st["reloads"] == 1 and st["services"][0]["scheduler"] == "leastconn"
    assert [b["name"] for b in st["services"][0]["backends"]] == ["be2"]


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2 * SLOW).close()
    except ConnectionRefusedError:
        return True
    return False


def test_reload_opens_new_ports_and_closes_removed(vigild_factory, backends):
    (be,) = backends(1)
    # a second listener on the backend's host for the multi-port service
    (be_b,) = backends(1, prefix="bb")
    p1, p2 = free_port(VIP), free_port(VIP2)
    p3 = be_b.port   # the service port equals the backend port (no backend port: set)
    if refused(VIP, p3) is False:
        raise AssertionError(f"port {p3} is in use on {VIP}")

    one = service("s", VIP, [p1], [be])
    v = vigild_factory(base_config([one]))
    v.wait_state("s", "be1", "up")
    assert refused(VIP2, p2) and refused(VIP, p3)

    two = base_config([
        service("s", VIP, [p1, p3], [{"name": "multi", "address": "127.0.0.1"}],
                check={"type": "tcp", "port": p3, "interval": "200ms", "timeout": "150ms",
                       "rise": 1, "fall": 1}),
        service("t", VIP2, [p2], [be]),
    ])
    two["global"]["control_socket"] = v.sock
    held = connect(VIP, p1)
    assert recv_line(held) == "be1"
    v.write_config(two)
    r = v.ctl("reload")
    assert r.returncode == 0, r.stderr
    v.wait_state("s", "multi", "up")
    v.wait_state("t", "be1", "up")
    assert who_answers(VIP2, p2) == "be1"
    assert who_answers(VIP, p3) == "bb1"
    assert [s["name"] for s in v.status()["services"]] == ["s", "t"]
    assert v.service("s")["ports"] == [p1, p3]

    # back to one service and one port: the others close, p1 never did
    one_cfg = base_config([one])
    one_cfg["global"]["control_socket"] = v.sock
    v.write_config(one_cfg)
    v.signal(signal.SIGHUP)
    wait_for(lambda: v.status()["reloads"] == 2, 5, what="second reload")
    assert refused(VIP2, p2) and refused(VIP, p3)
    v.wait_state("s", "be1", "up")   # a new backend of s again: probed first
    assert who_answers(VIP, p1) == "be1"
    # the connection made before all this still works
    held.sendall(b"hi\n")
    assert recv_line(held) == "hi"
    held.close()
    assert "listener 127.0.0.11:%d closed" % p2 in v.log()


def test_reload_keeps_state_weight_and_counters(vigild_factory, backends):
    be1, be2, be3 = backends(3)
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], [be1, be2])]))
    wait_all_state(v, "s", ["be1", "be2"])
    assert sorted(who_answers(VIP, port) for _ in range(4)) == ["be1", "be1", "be2", "be2"]
    assert v.ctl("disable", "s", "be1").returncode == 0
    assert v.ctl("weight", "s", "be2", 7).returncode == 0
    held = connect(VIP, port)
    assert recv_line(held) == "be2"

    cfg = base_config([service("s", VIP, [port], [be1, be2, be3])])
    cfg["global"]["control_socket"] = v.sock
    v.write_config(cfg)
    r = v.ctl("reload")
    assert r.returncode == 0, r.stderr
    v.wait_state("s", "be3", "up")
    b1, b2 = v.backend("s", "be1"), v.backend("s", "be2")
    assert (b1["state"], b1["total"]) == ("maint", 2)
    assert (b2["state"], b2["weight"], b2["total"], b2["active"]) == ("up", 7, 3, 1)
    assert v.service("s")["total"] == 5
    held.sendall(b"kept\n")
    assert recv_line(held) == "kept"
    held.close()
    assert "be1" not in {who_answers(VIP, port) for _ in range(6)}


def test_reload_with_unbindable_port_keeps_old_config(vigild_factory, backends):
    (be,) = backends(1)
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], [be])]))
    v.wait_state("s", "be1", "up")
    before = shape(v.status())
    squat_host = "127.0.0.12"
    squat = socket.socket()
    squat.bind((squat_host, 0))   # no SO_REUSEADDR, listening: vigil cannot bind it
    squat.listen(1)
    try:
        cfg = base_config([service("s", VIP, [port], [be]),
                           service("t", squat_host, [squat.getsockname()[1]], [be])])
        cfg["global"]["control_socket"] = v.sock
        v.write_config(cfg)
        r = v.ctl("reload")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "127.0.0.12" in r.stderr, r.stderr
        st = v.status()
        assert shape(st) == before and st["reload_failures"] == 1
        assert who_answers(VIP, port) == "be1"
    finally:
        squat.close()
