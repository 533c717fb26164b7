"""source: client (issue 8, transparent mode): in a two-leg netns set-up the
backend sees the client's own address, IPv4 and IPv6, while a plain service
shows the balancer's; vigild's policy rules are there while it runs (one per
backend address and port, tagged), adjusted by a reload, gone after a stop,
and a kill -9 leaves them for the next start to remove (exactly one set)."""
import json
import os
import pwd
import shutil
import signal
import tempfile

import pytest

from failover_bed import VIP as PAIR_VIP, NsVigild, Pair
from netns import have_netns, wait_until
from transp_bed import (BE4, BE6, CLIENT4, CLIENT6, LB_BE4, VIP4, VIP6, TranspBed)
from vigil import VIGILD, Vigild, base_config, run_vigild



def netns(test):
    """Marks a test that builds network namespaces (root, ip netns)."""
    return pytest.mark.netns(pytest.mark.skipif(have_netns() is not None,
                                                reason=str(have_netns()))(test))


PORT, PLAIN, PORT6 = 8025, 8080, 8026
CHECK = {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1}


def rule4(ip, port):
    return f"from {ip} ipproto tcp sport {port} lookup 7789 proto 118"


def services(be4=BE4, scheduler="roundrobin", user=None):
    svcs = [
        {"name": "smtp", "vip": VIP4, "ports": [PORT], "source": "client",
         "scheduler": scheduler, "check": CHECK,
         "backends": [{"name": f"be{i + 1}", "address": a} for i, a in enumerate(be4)]},
        {"name": "plain", "vip": VIP4, "ports": [PLAIN], "check": CHECK,
         "backends": [{"name": "be1", "address": BE4[0]}]},
        {"name": "smtp6", "vip": VIP6, "ports": [PORT6], "source": "client", "check": CHECK,
         "backends": [{"name": "be1", "address": BE6[0], "port": PORT}]},
    ]
    cfg = base_config(svcs)
    if user:
        cfg["global"]["user"] = user
    return cfg


@pytest.fixture
def bed():
    b = TranspBed()
    try:
        for ip in BE4 + BE6[:1]:
            b.peer_server(ip, PORT)
        b.peer_server(BE4[0], PLAIN)
        yield b
    finally:
        b.close()


def start(bed, tmp_path, cfg, name="lb"):
    v = NsVigild(tmp_path, cfg, bed.node("lb"), name).start()
    for svc, names in (("smtp", [b["name"] for b in cfg["services"][0]["backends"]]),
                       ("plain", ["be1"]), ("smtp6", ["be1"])):
        for n in names:
            Vigild.wait_state(v, svc, n, "up", 10)   # (NsVigild.wait_state is failover's)
    return v


def stop_clean(v):
    rc = v.stop()
    assert rc == 0, v.log()[-3000:]
    assert not v.sanitizer_reports(), v.sanitizer_reports()


def expected_rules(be4=BE4):
    return sorted(rule4(ip, PORT) for ip in be4)


@netns
@pytest.mark.parametrize("scheduler", ["roundrobin", "leastconn", "source-hash",
                                       "weighted-roundrobin"])
def test_backend_sees_client(bed, tmp_path, scheduler):
    """Every backend of the source: client service sees 192.0.2.100 (and
    2001:db8:c::100 over IPv6); the plain service's backend sees the balancer's
    own backend-side address. Rules and our table are in place meanwhile."""
    v = start(bed, tmp_path, services(scheduler=scheduler))
    try:
        assert bed.rules() == expected_rules(), bed.ip("lb", "rule", "show").stdout
        assert bed.rules("-6") == [f"from {BE6[0]} ipproto tcp sport {PORT} lookup 7789 proto 118"]
        assert "local default dev lo" in bed.table()
        assert "local default dev lo" in bed.table("-6")
        seen = {bed.ask(VIP4, PORT) for _ in range(6)}
        assert seen == {f"PEER {CLIENT4}"}, (seen, v.log()[-2000:])
        got = sum(v.backend("smtp", n)["total"] for n in ("be1", "be2"))
        assert got == 6
        if scheduler != "source-hash":
            assert all(v.backend("smtp", n)["total"] > 0 for n in ("be1", "be2"))
        assert bed.ask(VIP4, PLAIN) == f"PEER {LB_BE4}"
        assert bed.ask(VIP6, PORT6) == f"PEER {CLIENT6}"
    finally:
        stop_clean(v)
    assert bed.rules() == [] and bed.rules("-6") == []
    assert bed.table() == "" and bed.table("-6") == ""


@netns
def test_reload_adjusts_rules(bed, tmp_path):
    """A reload that drops be2 removes its rule; adding it back restores it;
    the other rules stay untouched and clients keep seeing their address."""
    v = start(bed, tmp_path, services())
    try:
        assert bed.rules() == expected_rules()
        v.write_config(services(be4=BE4[:1]))
        assert v.ctl("reload").returncode == 0
        wait_until(lambda: bed.rules() == expected_rules(BE4[:1]), 5, "be2's rule gone")
        assert bed.ask(VIP4, PORT) == f"PEER {CLIENT4}"
        v.write_config(services())
        assert v.ctl("reload").returncode == 0
        wait_until(lambda: bed.rules() == expected_rules(), 5, "be2's rule back")
        Vigild.wait_state(v, "smtp", "be2", "up", 10)
        assert {bed.ask(VIP4, PORT) for _ in range(4)} == {f"PEER {CLIENT4}"}
        # a reload without any source: client service removes the table's route too
        plain = services()
        del plain["services"][0]["source"]
        del plain["services"][2]["source"]
        v.write_config(plain)
        assert v.ctl("reload").returncode == 0
        wait_until(lambda: bed.rules() == [] and bed.table() == "", 5, "every rule gone")
        assert bed.ask(VIP4, PORT) == f"PEER {LB_BE4}"
    finally:
        stop_clean(v)


@netns
def test_reload_keeps_rules_of_open_connections(bed, tmp_path):
    """A reload that removes be2 while a client is connected through it keeps
    be2's rule until that connection closes (its replies still need it): the
    connection goes on working, then the rule goes."""
    v = start(bed, tmp_path, services())
    held = []
    try:
        for _ in range(4):                      # roundrobin: one of the first two
            p, greeting = bed.hold(VIP4, PORT)
            held.append(p)
            if greeting == f"PEER {CLIENT4} AT {BE4[1]}":
                break
        else:
            raise AssertionError("no connection reached be2")
        v.write_config(services(be4=BE4[:1]))
        assert v.ctl("reload").returncode == 0
        wait_until(lambda: v.status()["reloads"] == 1, 5, "reload")
        assert bed.rules() == expected_rules()          # be2's still there
        p.stdin.write("still there?\n")
        p.stdin.flush()
        assert p.stdout.readline().strip() == "still there?"
        for h in held:
            h.stdin.close()
            h.wait(5)
        wait_until(lambda: bed.rules() == expected_rules(BE4[:1]), 5, "be2's rule gone")
    finally:
        for h in held:
            if h.poll() is None:
                h.kill()
        stop_clean(v)


@netns
def test_kill9_leftovers_removed_at_start(bed, tmp_path):
    """kill -9 leaves the rules; the next start removes them first and
    installs exactly one set; the stop after that leaves none."""
    v = start(bed, tmp_path, services())
    assert bed.rules() == expected_rules()
    v.signal(signal.SIGKILL)
    v.proc.wait(10)
    v._log.close()
    assert bed.rules() == expected_rules()          # left behind
    v2 = start(bed, tmp_path, services(), name="lb-again")
    try:
        assert bed.rules() == expected_rules()      # one set, not two
        assert len(bed.rules("-6")) == 1
        assert "removed 3 policy rules left by an earlier run" in v2.log()
        assert bed.ask(VIP4, PORT) == f"PEER {CLIENT4}"
    finally:
        stop_clean(v2)
    assert bed.rules() == [] and bed.rules("-6") == [] and bed.table() == ""


@netns
def test_after_privilege_drop(bed, tmp_path):
    """Running as global.user (nobody) with the kept capabilities: the
    transparent bind and a reload's rule changes still work."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    # nobody must read the file at reload: a world-readable directory
    base = tempfile.mkdtemp(prefix="vigil-transp-")
    os.chmod(base, 0o755)
    v = start(bed, base, services(user="nobody"))
    os.chmod(v.dir, 0o755)
    os.chmod(v.cfg_path, 0o644)
    try:
        assert "running as user nobody" in v.log()
        assert bed.ask(VIP4, PORT) == f"PEER {CLIENT4}"
        v.write_config(services(be4=BE4[:1], user="nobody"))
        assert v.ctl("reload").returncode == 0
        wait_until(lambda: bed.rules() == expected_rules(BE4[:1]), 5, "be2's rule gone")
        v.write_config(services(user="nobody"))
        os.chmod(v.cfg_path, 0o644)
        assert v.ctl("reload").returncode == 0
        wait_until(lambda: bed.rules() == expected_rules(), 5, "be2's rule back")
    finally:
        stop_clean(v)
        shutil.rmtree(base, ignore_errors=True)
    assert bed.rules() == [] and bed.table() == ""


@netns
def test_both_nodes_of_a_pair_hold_rules(tmp_path):
    """Rules do not depend on VIP ownership: in a failover pair (the failover
    testbed) master and backup both install the set of a source: client
    service, so after the master dies the new master has them before it
    claims the VIP, and the rules survive its takeover. (Replies reaching the
    new master through a floating gateway, failover.addresses: see
    test_transparent_pair.py.)"""
    pair = Pair(tmp_path, start=False)
    try:
        for name in ("lb1", "lb2"):
            cfg = json.loads(json.dumps(pair[name].config))
            cfg["services"].append({
                "name": "smtp", "vip": PAIR_VIP, "ports": [8025], "source": "client",
                "backends": [{"name": "be1", "address": pair.bed["be1"].ip},
                             {"name": "be2", "address": pair.bed["be2"].ip}]})
            pair[name].write_config(cfg)
        pair.start()
        want = sorted(rule4(pair.bed[b].ip, 8025) for b in ("be1", "be2"))

        def rules(node):
            out = pair.bed[node].ip_cmd("rule", "show").stdout
            return sorted(l.split(":", 1)[1].strip() for l in out.splitlines()
                          if "proto 118" in l)

        assert pair["lb1"].state() == "master" and pair["lb2"].state() == "backup"
        assert rules("lb1") == want and rules("lb2") == want
        pair["lb1"].signal(signal.SIGKILL)
        pair["lb2"].wait_state("master", 5)
        assert rules("lb2") == want
        assert pair.bed["lb2"].has(PAIR_VIP)
    finally:
        problems = pair.close()
    assert not problems, problems


def test_mixed_family_is_a_config_error(tmp_path):
    """source: client with a backend of the other family is a -t error at
    the backend's address."""
    cfg = tmp_path / "t.yaml"
    cfg.write_text("services:\n  - name: s\n    vip: 192.0.2.10\n    ports: [25]\n"
                   "    source: client\n    backends:\n"
                   "      - {name: a, address: \"2001:db8::11\"}\n")
    r = run_vigild("-t", "-c", cfg)
    assert r.returncode != 0
    assert (f"{cfg}:7:28: services[0].backends[0].address: IPv6 backend 2001:db8::11 cannot be "
            "reached from the IPv4 clients of VIP 192.0.2.10 with source: client") \
        in r.stdout + r.stderr


@netns
def test_without_cap_net_admin_start_fails_clearly(bed, tmp_path):
    """vigild without CAP_NET_ADMIN (dropped from the bounding set, so root
    does not get it at exec) cannot install the rules: it refuses to start
    with an error naming the capability, and leaves nothing behind."""
    v = NsVigild(tmp_path, services(), bed.node("lb"), "lb")
    r = bed.sh("lb", "setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-all",
               str(VIGILD), "-c", str(v.cfg_path), check=False, timeout=20)
    out = r.stdout + r.stderr + v.log()
    assert r.returncode != 0, out
    assert "source: client:" in out and "Operation not permitted" in out, out
    assert "needs CAP_NET_ADMIN" in out, out
    assert bed.rules() == [] and bed.table() == ""
