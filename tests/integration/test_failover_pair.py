"""One file for the pair, several groups, in network namespaces.

Both nodes run vigild with the SAME configuration file, each picking itself
with `vigild -n NAME`. The file names one control socket path; each node gets
its own socket through a mount namespace of its own (`unshare -m`), in which
a per-node run directory is bind-mounted over the directory the file names.

Group 51 (VIP 192.0.2.10 on eth0, and the floating address 192.0.2.30 on
eth1, a veth as a second leg) prefers lb1,
group 52 (VIP 192.0.2.20) prefers lb2: active/active.
"""
import copy
import json
import signal
import subprocess
import time

import pytest

from failover_bed import NodesBed, NsVigild, PairNode, bed_fixture, key_file, record
from netns import Testbed as NetBed, have_netns, wait_until
from vigil import VIGILD, base_config

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

VIP51, VIP52, FLOAT51, PORT = "192.0.2.10", "192.0.2.20", "192.0.2.30", 8080


def has_float(node):
    """The floating address is on node's eth1 (its second leg)."""
    return f"inet {FLOAT51}/24" in node.ip_cmd("-o", "addr", "show", "dev", "eth1").stdout


def pair_config(bed, tmp_path):
    key = key_file(tmp_path)
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    backends = [{"name": "be1", "address": bed["be1"].ip},
                {"name": "be2", "address": bed["be2"].ip}]
    check = {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1}
    cfg = base_config([
        {"name": "web51", "vip": VIP51, "ports": [PORT], "backends": backends, "check": check},
        {"name": "web52", "vip": VIP52, "ports": [PORT], "backends": backends, "check": check},
    ], control_socket=str(run / "control.sock"))
    cfg["failover"] = {
        "interface": "eth0", "auth_key_file": str(key), "advert_interval": "100ms",
        "garp": {"count": 3, "interval": "100ms"},
        "nodes": {"lb1": {"address": bed["lb1"].ip}, "lb2": {"address": bed["lb2"].ip}},
        "groups": [
            {"id": 51, "services": ["web51"], "priority": {"lb1": 150, "lb2": 100}},
            {"id": 52, "services": ["web52"], "priority": {"lb1": 100, "lb2": 150}},
        ],
        "addresses": [{"address": f"{FLOAT51}/24", "interface": "eth1", "group": 51}],
    }
    return cfg, run


class Pair2(NodesBed):
    """setup(bed), if given, runs before the nodes start and returns keys to
    add to the file's failover section."""

    def __init__(self, tmp_path, setup=None):
        super().__init__(NetBed())
        try:
            self.bed.who_server("be1", PORT)
            self.bed.who_server("be2", PORT)
            for n in ("lb1", "lb2"):       # the second leg of the floating address
                self.bed[n].ip_cmd("link", "add", "eth1", "type", "veth", "peer", "name",
                                   "eth1p")
                self.bed[n].ip_cmd("link", "set", "eth1p", "up")
                self.bed[n].ip_cmd("link", "set", "eth1", "up")
            self.cfg, run = pair_config(self.bed, tmp_path)
            if setup:
                self.cfg["failover"].update(setup(self.bed))
            shared = self.shared = tmp_path / "vigil.yaml"
            shared.write_text(json.dumps(self.cfg, indent=1))
            for n in ("lb1", "lb2"):
                self.vig[n] = PairNode(tmp_path, self.bed[n], n, shared, run)
            self.vig["lb1"].start()
            self.vig["lb2"].start()
            self.vig["lb1"].wait_group(51, "master", 5)
            self.vig["lb2"].wait_group(52, "master", 5)
            for vip, name in ((VIP51, "p51"), (VIP52, "p52")):
                self.probers[vip] = self.bed.prober("client", vip, PORT,
                                                    tmp_path / f"{name}.log")
            self.probers[VIP51].wait_answer(self.bed["lb1"].ip, 5)
            self.probers[VIP52].wait_answer(self.bed["lb2"].ip, 5)
        except BaseException:
            self.close()
            raise

@pytest.fixture
def pair2(tmp_path):
    yield from bed_fixture(Pair2(tmp_path))


def test_pair_active_active(pair2):
    """Same file on both nodes; each is master of its own group; status and
    metrics per group; the floating address sits with group 51."""
    bed, lb1, lb2 = pair2.bed, pair2["lb1"], pair2["lb2"]
    s1, s2 = lb1.status(), lb2.status()
    assert s1["node"] == "lb1" and s2["node"] == "lb2"
    assert lb1.sock != lb2.sock
    g1 = {g["id"]: g for g in s1["failover"]["groups"]}
    assert g1[51]["state"] == "master" and g1[52]["state"] == "backup"
    assert g1[51]["priority"] == 150 and g1[52]["priority"] == 100
    assert g1[51]["vips"] == [VIP51] and g1[52]["vips"] == [VIP52]
    assert g1[51]["addresses"] == [FLOAT51]
    assert g1[52]["master"] == "lb2"
    # the old fields: the first group's, state "master" while master of any
    assert s1["failover"]["group"] == 51 and s1["failover"]["priority"] == 150
    assert s2["failover"]["state"] == "master" and s2["failover"]["group"] == 51
    assert bed["lb1"].has(VIP51) and has_float(bed["lb1"]) and not bed["lb1"].has(VIP52)
    assert bed["lb2"].has(VIP52) and not bed["lb2"].has(VIP51) and not has_float(bed["lb2"])
    assert pair2.probers[VIP51].last_who() == bed["lb1"].ip
    assert pair2.probers[VIP52].last_who() == bed["lb2"].ip
    m = lb1.ctl("status").stdout
    assert "group 51: master" in m and "group 52: backup" in m


def test_pair_kill_one_master(pair2):
    """kill -9 of lb1: group 51 (and its floating address) moves to lb2;
    group 52, served by lb2 all along, sees no outage."""
    bed, lb1, lb2 = pair2.bed, pair2["lb1"], pair2["lb2"]
    p51, p52 = pair2.probers[VIP51], pair2.probers[VIP52]
    time.sleep(0.5)
    trans52 = lb2.group(52)["transitions"]
    t_kill = time.monotonic()
    lb1.signal(signal.SIGKILL)
    lb2.wait_group(51, "master", 3)
    p51.wait_answer(bed["lb2"].ip, 3, after=t_kill)
    wait_until(lambda: has_float(bed["lb2"]), 2, "floating address on lb2")
    wait_until(lambda: not has_float(bed["lb1"]), 2, "floating address gone from lb1")
    time.sleep(0.5)
    out51 = p51.outage(t_kill)
    out52 = p52.outage(t_kill)
    record("pair_kill_one_master", outage_group51_ms=round(out51 * 1000),
           outage_group52_ms=round(out52 * 1000))
    assert out51 is not None and out51 < 2.0, out51
    # the other group's VIP never moved: no gap beyond the prober's own pace
    assert out52 is not None and out52 < 0.25, out52
    assert lb2.group(52)["state"] == "master"
    assert lb2.group(52)["transitions"] == trans52      # no transition at all


def test_pair_standby_one_group(pair2):
    """vigilctl standby 51 on lb1 moves group 51 only; resume brings it back
    (preempt); group 52 is untouched throughout."""
    bed, lb1, lb2 = pair2.bed, pair2["lb1"], pair2["lb2"]
    p51, p52 = pair2.probers[VIP51], pair2.probers[VIP52]
    r = lb1.ctl("standby", "53")
    assert r.returncode == 1 and "no failover group 53" in r.stderr, r.stderr
    time.sleep(0.3)
    trans52 = lb2.group(52)["transitions"]
    t0 = time.monotonic()
    r = lb1.ctl("standby", "51")
    assert r.returncode == 0, r.stderr
    lb2.wait_group(51, "master", 1)
    assert lb1.gstate(51) == "backup" and lb1.group(51)["standby"]
    p51.wait_answer(bed["lb2"].ip, 2, after=t0)
    wait_until(lambda: has_float(bed["lb2"]) and not has_float(bed["lb1"]), 2,
               "floating address with group 51 on lb2")
    assert lb2.gstate(52) == "master" and lb1.gstate(52) == "backup"
    time.sleep(0.3)
    t1 = time.monotonic()
    r = lb1.ctl("resume", "51")
    assert r.returncode == 0, r.stderr
    lb1.wait_group(51, "master", 2)
    p51.wait_answer(bed["lb1"].ip, 2, after=t1)
    wait_until(lambda: has_float(bed["lb1"]) and not has_float(bed["lb2"]), 2,
               "floating address back on lb1")
    time.sleep(0.3)
    out52 = p52.outage(t0)
    record("pair_standby_one_group", outage_group51_standby_ms=round(p51.outage(t0, t1) * 1000),
           outage_group52_ms=round(out52 * 1000))
    assert out52 is not None and out52 < 0.25, out52
    assert lb2.group(52)["transitions"] == trans52
    # takeover of one group: lb1 claims 52 only; resume hands it back (preempt)
    trans51 = lb1.group(51)["transitions"]
    t2 = time.monotonic()
    r = lb1.ctl("takeover", "52")
    assert r.returncode == 0, r.stderr
    lb1.wait_group(52, "master", 1)
    lb2.wait_group(52, "backup", 1)
    p52.wait_answer(bed["lb1"].ip, 2, after=t2)
    assert lb1.group(52)["priority"] == 255 and lb1.group(51)["priority"] == 150
    r = lb1.ctl("resume", "52")
    assert r.returncode == 0, r.stderr
    lb2.wait_group(52, "master", 2)
    p52.wait_answer(bed["lb2"].ip, 2, after=time.monotonic())
    assert lb1.group(51)["transitions"] == trans51 and lb1.gstate(51) == "master"


def test_pair_reload_groups(pair2):
    """A reload of the shared file on both nodes adds a group (elected on its
    own, its VIP served by its master) and removes it again (its VIP goes);
    the other groups make no transition."""
    bed, lb1, lb2 = pair2.bed, pair2["lb1"], pair2["lb2"]
    vip53 = "192.0.2.40"
    trans = {n: [g["transitions"] for g in v.fo()["groups"]] for n, v in (("lb1", lb1),
                                                                          ("lb2", lb2))}
    cfg = copy.deepcopy(pair2.cfg)
    web53 = dict(cfg["services"][0], name="web53", vip=vip53)
    cfg["services"].append(web53)
    cfg["failover"]["groups"].append({"id": 53, "services": ["web53"],
                                      "priority": {"lb1": 150, "lb2": 100}})
    pair2.shared.write_text(json.dumps(cfg, indent=1))
    for v in (lb1, lb2):
        r = v.ctl("reload")
        assert r.returncode == 0, r.stderr
    lb1.wait_group(53, "master", 3)
    lb2.wait_group(53, "backup", 3)
    wait_until(lambda: bed["lb1"].has(vip53), 2, "VIP of group 53 on lb1")
    assert not bed["lb2"].has(vip53)
    p53 = bed.prober("client", vip53, PORT, pair2.shared.parent / "p53.log")
    try:
        p53.wait_answer(bed["lb1"].ip, 5)
    finally:
        p53.stop()
    # back to two groups: lb1 lets VIP 53 go
    pair2.shared.write_text(json.dumps(pair2.cfg, indent=1))
    for v in (lb1, lb2):
        r = v.ctl("reload")
        assert r.returncode == 0, r.stderr
    wait_until(lambda: not bed["lb1"].has(vip53), 2, "VIP of group 53 gone from lb1")
    assert [g["id"] for g in lb1.fo()["groups"]] == [51, 52]
    for n, v in (("lb1", lb1), ("lb2", lb2)):
        assert [g["transitions"] for g in v.fo()["groups"]] == trans[n], v.fo()["groups"]
    assert lb1.gstate(51) == "master" and lb2.gstate(52) == "master"


def test_pair_same_file_check(tmp_path):
    """-t with -n: the file is valid for each listed node, invalid for another."""
    bed = NetBed(nodes=(("lb1", 1), ("lb2", 2), ("be1", 11), ("be2", 12)))
    try:
        cfg, _ = pair_config(bed, tmp_path)
        v = NsVigild(tmp_path, cfg, bed["lb1"], "check")
        for n, rc in (("lb1", 0), ("lb2", 0), ("lb9", 1)):
            r = subprocess.run([str(VIGILD), "-c", str(v.cfg_path), "-t", "-n", n],
                               capture_output=True, text=True)
            assert r.returncode == rc, (n, r.stderr)
        assert 'this node "lb9" is not listed (expected one of: lb1, lb2' in r.stderr
    finally:
        bed.close()


@pytest.fixture
def notified(tmp_path):
    """The pair with failover.notify in its one file: a program that appends
    its arguments and environment to tmp_path/calls.NODE, and mail to a sink
    on the client (tmp_path/mails.jsonl)."""
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$* group=$VIGIL_GROUP reason=$VIGIL_REASON" '
                      f'>> {tmp_path}/calls.$3\n')
    script.chmod(0o755)

    def setup(bed):
        bed.smtp_sink("client", 2525, tmp_path / "mails.jsonl")
        return {"notify": {"exec": str(script), "email": {
            "smtp": f"{bed['client'].ip}:2525", "from": "vigil@example.com",
            "to": ["ops@example.com"]}}}

    yield from bed_fixture(Pair2(tmp_path, setup=setup))


def test_notifications_name_the_group(notified, tmp_path):
    """Each transition's program gets VIGIL_GROUP, each mail names the group
    in its subject and body; lb2's groups 51 and 52 are told apart when lb1
    dies."""
    p, mails = notified, tmp_path / "mails.jsonl"

    def lines(node):
        path = tmp_path / f"calls.{node}"
        return path.read_text().splitlines() if path.exists() else []

    def subjects():
        return [line for m in (json.loads(x) for x in mails.read_text().splitlines())
                for line in m["data"].splitlines() if line.startswith("Subject:")] \
            if mails.exists() else []

    wait_until(lambda: "master backup lb1 group=51 reason=no master heard" in
               " | ".join(lines("lb1")) and "master backup lb2 group=52" in
               " | ".join(lines("lb2")), 5, "the masters' notifications")
    # (who held 52 first depends on which node started first; 51 never left lb1)
    assert not any(x.startswith("backup master lb1 group=51") for x in lines("lb1"))
    assert not any(x.startswith("master") and "group=51" in x for x in lines("lb2"))
    assert "backup init lb1 group=51 reason=start-up" in lines("lb1")
    assert "backup init lb1 group=52 reason=start-up" in lines("lb1")
    told52 = [x for x in lines("lb2") if x.startswith("master backup lb2 group=52")]
    p["lb1"].signal(signal.SIGKILL)
    wait_until(lambda: any(x.startswith("master backup lb2 group=51 reason=master lb1 silent")
                           for x in lines("lb2")), 5, "lb2 taking group 51, told so")
    # group 52 stayed with lb2: nothing new about it
    assert [x for x in lines("lb2") if x.startswith("master backup lb2 group=52")] == told52
    want = ["Subject: [vigil] lb1 group 51: backup -> master",
            "Subject: [vigil] lb2 group 52: backup -> master",
            "Subject: [vigil] lb2 group 51: backup -> master"]
    wait_until(lambda: all(w in subjects() for w in want), 10, "the mails")
    assert "Subject: [vigil] lb1 group 51: master -> backup" not in subjects()
    body = [json.loads(x)["data"] for x in mails.read_text().splitlines()
            if "lb2 group 51: backup -> master" in x][0]
    assert "group:  51" in body and "node:   lb2" in body
    p["lb1"].proc.wait(5)
