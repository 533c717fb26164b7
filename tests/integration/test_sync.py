"""failover.sync in network namespaces: two nodes run the SAME file, with
`failover.nodes` and `vigild -n NAME` (failover_bed.PairNode: each node in a
mount namespace of its own, where its run directory is bind-mounted over the
one the file names, so each has its own control socket and its own copy of
the file at the same path, as two machines would).
A reload on lb1 reaches lb2; a bad file is never sent; another vigil version
is refused; drain/enable travel both ways, survive a failover and a kill -9;
a restarted node serves nothing before it has learnt the operator state;
forged, replayed, truncated, oversized messages and strangers are refused."""
import hashlib
import json
import signal
import subprocess
import time

import pytest

from failover_bed import NodesBed, PairNode, bed_fixture, key_file, record
import netns
from netns import PY, HERE, have_netns, wait_until
from vigil import base_config, parse_prometheus

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

PORT = 8080
SYNC_PORT = 7789
STICKY_PORT = 8081
NAMED_PORT = 8082         # backends that greet with their own name


class SyncNode(PairNode):
    """A node of the pair with its own copy of the shared file."""

    def __init__(self, tmp_path, node, name, shared_cfg, shared_run, env=None):
        super().__init__(tmp_path, node, name, shared_cfg, shared_run, env=env, own_file=True)

    def sync(self):
        return self.status()["failover"]["sync"]

    def peer(self):
        return self.sync()["peers"][0]

    def digest(self):
        return self.status()["failover"]["config_digest"]

    def prev(self):
        """This node's FILE.prev."""
        return self.run_dir / "vigil.yaml.prev"


def shared_config(bed, tmp_path, run, weight=1, sticky=False, prio=(100, 100), named=False,
                  alerts=None):
    """The one file of the pair (JSON text); prio: lb1's and lb2's priority;
    named: a round-robin service on NAMED_PORT whose backends say their name."""
    cfg = base_config([{
        "name": "web", "vip": "192.0.2.10", "ports": [PORT],
        "backends": [{"name": "be1", "address": bed["be1"].ip},
                     {"name": "be2", "address": bed["be2"].ip, "weight": weight}],
        "check": {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1},
    }], control_socket=f"{run}/control.sock", status_listen="127.0.0.1:8404")
    if sticky:
        cfg["services"].append({
            "name": "sticky", "vip": "192.0.2.10", "ports": [STICKY_PORT], "persist": "60s",
            "scheduler": "roundrobin", "source_mask": 24,
            "backends": [{"name": "be1", "address": bed["be1"].ip},
                         {"name": "be2", "address": bed["be2"].ip}],
            # fall 3: one slow probe on a loaded machine must not move the
            # client (a backend that is not up loses its clients, as it should)
            "check": {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1,
                      "fall": 3}})
    if named:
        cfg["services"].append({
            "name": "named", "vip": "192.0.2.10", "ports": [NAMED_PORT],
            "scheduler": "roundrobin",
            "backends": [{"name": "be1", "address": bed["be1"].ip},
                         {"name": "be2", "address": bed["be2"].ip}],
            "check": {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1,
                      "fall": 1}})
    cfg["failover"] = {"group": 51, "interface": "eth0", "advert_interval": "100ms",
                       "nodes": {n: {"address": bed[n].ip, "priority": p}
                                 for n, p in zip(("lb1", "lb2"), prio)},
                       "auth_key_file": str(key_file(tmp_path)), "sync": True,
                       "sync_port": SYNC_PORT}
    if alerts:
        cfg["alerts"] = alerts
    return json.dumps(cfg, indent=1) + "\n"


class SyncPair(NodesBed):
    def __init__(self, tmp_path, lb2_env=None, sticky=False, prio=(100, 100), named=False,
                 alerts=None):
        super().__init__(netns.Testbed())
        self.tmp = tmp_path
        self.run = tmp_path / "run"
        self.run.mkdir(exist_ok=True)
        try:
            self.bed.who_server("be1", PORT)
            self.bed.who_server("be2", PORT)
            for port in [STICKY_PORT] * sticky + [NAMED_PORT] * named:
                for be in ("be1", "be2"):
                    self.bed[be].popen([PY, HERE / "netns.py", "name-server", self.bed[be].ip,
                                        str(port), be], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            self.text = shared_config(self.bed, tmp_path, self.run, sticky=sticky, prio=prio,
                                      named=named, alerts=alerts)
            shared = tmp_path / "vigil.yaml"
            shared.write_text(self.text)
            for name, env in (("lb1", None), ("lb2", lb2_env)):
                self.vig[name] = SyncNode(tmp_path, self.bed[name], name, shared, self.run, env)
            self["lb1"].start()
            self["lb2"].start()
            wait_until(lambda: self.connected(), 10, "the nodes to connect")
        except BaseException:
            self.close()
            raise

    def config(self, **kw):
        return shared_config(self.bed, self.tmp, self.run, **kw)

    def connected(self):
        try:
            return all(v.peer()["connected"] for v in self.vig.values())
        except (AssertionError, KeyError, IndexError, ValueError):
            return False


@pytest.fixture
def pair(tmp_path):
    yield from bed_fixture(SyncPair(tmp_path))


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_reload_reaches_peer(pair):
    lb1, lb2 = pair["lb1"], pair["lb2"]
    old = pair.text
    assert lb1.digest() == lb2.digest() == sha(old)
    assert lb1.peer()["in_sync"] and lb2.peer()["in_sync"]
    assert lb2.peer()["node"] == "lb1" and lb2.peer()["version"] == "0.1.0"
    new = pair.config(weight=7)
    lb1.write_config(new)
    reloads = lb2.status()["reloads"]
    t0 = time.monotonic()
    assert lb1.ctl("reload").returncode == 0
    wait_until(lambda: lb2.backend("web", "be2")["weight"] == 7, 5, "lb2 to serve the new file")
    elapsed = time.monotonic() - t0
    record("sync_reload_to_peer", ms=round(elapsed * 1000, 1))
    assert lb2.digest() == lb1.digest() == sha(new)
    assert lb2.cfg_path.read_text() == new
    assert lb2.prev().read_text() == old
    assert lb2.status()["reloads"] == reloads + 1
    # the event log of lb2 shows the sync (kind "sync") before its reload
    kinds = [(e["kind"], e["text"]) for e in lb2.status()["events"]]
    assert ("sync", "configuration from the peer installed and reloaded") in kinds, kinds
    assert any(k == "sync" and "peer connected" in t for k, t in kinds), kinds
    # no ping-pong: lb2's reload is not sent back, lb1 did not reload again
    time.sleep(0.5)
    assert lb1.status()["reloads"] == 1 and lb2.status()["reloads"] == reloads + 1
    wait_until(lambda: lb1.peer()["in_sync"] and lb2.peer()["in_sync"], 3, "in_sync")
    assert lb1.peer()["last_result"] == "applied"
    assert not lb1.prev().exists()
    # rollback on lb2: the old file again on both nodes
    r = lb2.ctl("rollback")
    assert r.returncode == 0, r.stderr + r.stdout
    wait_until(lambda: lb1.digest() == sha(old), 5, "lb1 to take the rolled-back file")
    assert lb1.backend("web", "be2")["weight"] == 1
    assert lb2.cfg_path.read_text() == old
    assert lb2.prev().read_text() == new
    assert lb1.prev().read_text() == new
    # vigilctl sync when in sync: sent, the peer answers in_sync
    sent = lb1.peer()["configs_sent"]
    assert lb1.ctl("sync").returncode == 0
    wait_until(lambda: lb1.peer()["last_result"] == "in_sync", 3, "in_sync answer")
    assert lb1.peer()["configs_sent"] == sent + 1


def test_bad_file_never_sent(pair):
    lb1, lb2 = pair["lb1"], pair["lb2"]
    before = lb2.peer()["configs_received"]
    lb1.write_config(pair.text.replace('"roundrobin"', '"nope"').replace(
        '"priority": 100', '"priority": 999'))
    r = lb1.ctl("reload")
    assert r.returncode == 1 and "priority" in r.stdout + r.stderr
    time.sleep(0.5)
    assert lb2.peer()["configs_received"] == before
    assert lb2.digest() == sha(pair.text) == lb1.digest()
    assert not lb2.prev().exists()


def test_peer_write_refused(pair):
    """A file the peer cannot write: refused with the reason on both nodes."""
    lb1, lb2 = pair["lb1"], pair["lb2"]
    lb2.prev().mkdir()         # the .prev cannot be replaced
    (lb2.prev() / "x").write_text("x")
    lb1.write_config(pair.config(weight=3))
    assert lb1.ctl("reload").returncode == 0
    wait_until(lambda: lb1.peer()["last_result"] == "write", 5, "lb2 to refuse")
    assert "vigil.yaml.prev" in lb1.peer()["last_reason"]
    assert "refused" in lb2.log() and lb2.backend("web", "be2")["weight"] == 1
    assert not lb1.peer()["in_sync"]


def test_other_version_refused(tmp_path):
    p = SyncPair(tmp_path, lb2_env={"VIGIL_TEST_SYNC_VERSION": "0.1.0-other"})
    try:
        lb1, lb2 = p["lb1"], p["lb2"]
        assert lb1.peer()["version"] == "0.1.0-other"
        lb1.write_config(p.config(weight=5))
        assert lb1.ctl("reload").returncode == 0
        wait_until(lambda: lb1.peer()["last_result"] == "version", 5, "lb2 to refuse")
        msg = "vigil versions differ: lb1 runs 0.1.0, lb2 runs 0.1.0-other"
        assert msg in lb1.peer()["last_reason"]
        assert msg in lb2.log() and msg in lb1.log()
        assert lb2.backend("web", "be2")["weight"] == 1
        assert lb2.sync()["configs_refused"] == 1
    finally:
        problems = p.close()
    assert not problems, problems


def test_refused_sync_and_failover_alerts(tmp_path):
    """alerts on both nodes of a pair: a configuration refused for another vigil
    version is an alert (and an event) on the refusing node and on the
    refused one, with the reason; the start-up election's backup -> master is
    one too, naming the group."""
    out = tmp_path / "alerts.jsonl"
    script = tmp_path / "alert.py"
    script.write_text(f"""#!{PY}
import json, os, sys
rec = {{"node": os.environ["VIGIL_NODE"], "lines": sys.stdin.read().splitlines()}}
with open({str(out)!r}, "a") as f:
    f.write(json.dumps(rec) + "\\n")
""")
    script.chmod(0o755)

    def lines(node, kind):
        recs = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
        return [l.split("\t") for r in recs if r["node"] == node for l in r["lines"]
                if l.split("\t")[1] == kind]

    alerts = {"batch": "200ms", "exec": str(script)}
    p = SyncPair(tmp_path, lb2_env={"VIGIL_TEST_SYNC_VERSION": "0.1.0-other"}, alerts=alerts)
    try:
        lb1, lb2 = p["lb1"], p["lb2"]
        wait_until(lambda: lines("lb1", "failover") or lines("lb2", "failover"), 5,
                   "the election's alert")
        fo = lines("lb1", "failover") + lines("lb2", "failover")
        assert fo[0][2] == "group:51" and fo[0][3].startswith("backup -> master ("), fo
        lb1.write_config(shared_config(p.bed, tmp_path, p.run, weight=5, alerts=alerts))
        assert lb1.ctl("reload").returncode == 0
        msg = "vigil versions differ: lb1 runs 0.1.0, lb2 runs 0.1.0-other"
        mine = wait_until(lambda: lines("lb1", "sync-refused"), 5, "lb1's alert")
        theirs = wait_until(lambda: lines("lb2", "sync-refused"), 5, "lb2's alert")
        assert mine[0][3] == f"peer lb2 refused this node's configuration: {msg}", mine
        assert theirs[0][3] == f"configuration from peer lb1 refused: {msg}", theirs
        for v in (lb1, lb2):
            # the program wrote its line; its exit is counted once it is reaped
            wait_until(lambda: v.status()["alerts"]["exec_ok"] >= 1, 5, "the run counted")
            st = v.status()
            assert any(e["kind"] == "sync" and msg in e["text"] for e in st["events"])
    finally:
        problems = p.close()
    assert not problems, problems


def test_operator_state_follows(pair):
    lb1, lb2 = pair["lb1"], pair["lb2"]
    for v in (lb1, lb2):
        wait_until(lambda: v.backend("web", "be1")["state"] == "up", 5, "be1 up")
    t0 = time.monotonic()
    assert lb1.ctl("drain", "web", "be1").returncode == 0
    wait_until(lambda: lb2.backend("web", "be1")["state"] == "drain", 1, "drain on lb2")
    ev = [e for e in lb2.status()["events"] if e["kind"] == "sync" and e.get("backend") == "be1"]
    assert ev and ev[-1]["service"] == "web" and "from the peer" in ev[-1]["text"], ev
    record("sync_operator_state", ms=round((time.monotonic() - t0) * 1000, 1))
    # the other way, weight and disable too
    assert lb2.ctl("weight", "web", "be2", "9").returncode == 0
    assert lb2.ctl("disable", "web", "be1").returncode == 0
    wait_until(lambda: lb1.backend("web", "be1")["state"] == "maint"
               and lb1.backend("web", "be2")["weight"] == 9, 1, "disable + weight on lb1")
    assert lb1.ctl("drain", "web", "be1").returncode == 0
    wait_until(lambda: lb2.backend("web", "be1")["state"] == "drain", 1, "drain on lb2")
    # the master dies: the survivor holds the VIP and still drains be1
    wait_until(lambda: "master" in (lb1.fo()["state"], lb2.fo()["state"]), 5, "a master")
    master = "lb1" if lb1.fo()["state"] == "master" else "lb2"
    other = "lb2" if master == "lb1" else "lb1"
    pair[master].signal(signal.SIGKILL)
    pair[master].proc.wait(5)
    wait_until(lambda: pair[other].fo()["state"] == "master", 5, "the survivor to be master")
    assert pair[other].backend("web", "be1")["state"] == "drain"
    assert pair[other].backend("web", "be2")["weight"] == 9
    # the killed node starts again with no memory: it learns the state
    pair[master].stop()
    pair[master].start()
    wait_until(lambda: pair.connected(), 10, "reconnect")
    wait_until(lambda: pair[master].backend("web", "be1")["state"] == "drain", 2,
               "restarted node learns drain")
    gate = pair[master].fo()["start_gate"]
    assert gate["state"] == "learnt" and pair[master].state() == "backup", gate
    record("sync_restart_learn", gate_waited_ms=gate["waited_ms"])
    assert pair[master].backend("web", "be2")["weight"] == 9
    # and enable travels back
    assert pair[master].ctl("enable", "web", "be1").returncode == 0
    wait_until(lambda: pair[other].backend("web", "be1")["state"] == "up", 2, "enable")


def test_bad_input_refused(pair):
    lb1 = pair["lb1"]
    out = pair.bed["lb2"].sh(PY, HERE / "sync_wire.py", "attack", pair.bed["lb1"].ip,
                             str(SYNC_PORT), pair.tmp / "peer.key", timeout=30).stdout
    res = json.loads(out)
    assert res == {"forged": True, "replayed": True, "replayed_other_conn": True,
                   "truncated": True, "oversized": True}, res
    wait_until(lambda: lb1.sync()["rejected"]["truncated"] >= 1, 3, "truncated counted")
    rej = lb1.sync()["rejected"]
    assert rej["bad_mac"] >= 2 and rej["replay"] >= 1 and rej["oversized"] >= 1, rej
    out = pair.bed["client"].sh(PY, HERE / "sync_wire.py", "stranger", pair.bed["lb1"].ip,
                                timeout=30).stdout
    assert json.loads(out) == {"closed": True}
    assert lb1.sync()["rejected"]["stranger"] == 1
    assert "not a configured peer" in lb1.log()
    metrics = pair.bed["lb1"].sh(PY, "-c", "import urllib.request; print(urllib.request."
                                 "urlopen('http://127.0.0.1:8404/metrics').read().decode())"
                                 ).stdout
    parse_prometheus(metrics)          # well-formed: each family's lines together
    assert 'vigil_sync_rejected_total{reason="stranger"} 1' in metrics
    assert 'vigil_sync_rejected_total{reason="oversized"} ' in metrics
    # the real peer (the attacker held the key, so it replaced it for a moment)
    # is connected and in sync again
    wait_until(lambda: lb1.peer()["connected"] and lb1.peer()["in_sync"], 5, "peer back")


def test_both_reloaded_at_once(pair):
    """Both nodes reload a different file while they cannot hear each other
    (lb1 is stopped): the later stamp wins everywhere - equal clocks, so the
    greater node name, lb2 - on disk and running, and nothing ping-pongs."""
    lb1, lb2 = pair["lb1"], pair["lb2"]
    a = pair.config(weight=11)
    b = pair.config(weight=22)
    lb1.signal(signal.SIGSTOP)
    try:
        lb1.write_config(a)
        lb2.write_config(b)
        lb1.signal(signal.SIGHUP)               # pending until SIGCONT
        lb2.signal(signal.SIGHUP)
        wait_until(lambda: lb2.digest() == sha(b), 5, "lb2 to load its file")
    finally:
        lb1.signal(signal.SIGCONT)
    wait_until(lambda: lb1.digest() == lb2.digest() == sha(b) and lb1.peer()["in_sync"]
               and lb2.peer()["in_sync"], 5, "the nodes to agree on lb2's file")
    assert lb1.cfg_path.read_text() == b == lb2.cfg_path.read_text()
    assert lb1.backend("web", "be2")["weight"] == 22 == lb2.backend("web", "be2")["weight"]
    if "(clock 1) loaded" in lb1.log():         # lb1 reloaded a before it read b
        wait_until(lambda: "both nodes changed the configuration" in lb2.log(), 3, "clash log")
    time.sleep(0.5)
    assert lb1.digest() == lb2.digest() == sha(b)      # settled, no ping-pong


def test_peer_down_during_change(pair):
    """lb2 is down while lb1 changes: lb2 gets the new file when it comes back
    (and lb1 does not take lb2's stale one)."""
    lb1, lb2 = pair["lb1"], pair["lb2"]
    assert lb2.stop() == 0
    new = pair.config(weight=4)
    lb1.write_config(new)
    assert lb1.ctl("reload").returncode == 0
    lb2.start()
    wait_until(lambda: lb2.digest() == sha(new) and pair.connected(), 10, "lb2 to catch up")
    assert lb2.cfg_path.read_text() == new
    assert lb2.prev().read_text() == pair.text
    assert lb1.digest() == sha(new) and lb1.backend("web", "be2")["weight"] == 4
    wait_until(lambda: lb2.backend("web", "be2")["weight"] == 4, 3, "lb2 serves it")


CLIENT = """
import socket, sys
out = []
for i in range(int(sys.argv[1])):
    s = socket.create_connection(("192.0.2.10", %d), timeout=2)
    out.append(s.recv(100).decode().strip())
    s.close()
print(" ".join(out))
""" % STICKY_PORT


def names(pair, n):
    r = pair.bed["client"].sh(PY, "-c", CLIENT, str(n), check=False, timeout=30)
    return r.stdout.split() if r.returncode == 0 else []


def test_persistence_survives_failover(tmp_path):
    """services[].persist: the client keeps its backend (round robin would
    alternate), and after the master dies the peer sends it to the same one."""
    p = SyncPair(tmp_path, sticky=True)
    try:
        lb1, lb2 = p["lb1"], p["lb2"]
        wait_until(lambda: "master" in (lb1.fo()["state"], lb2.fo()["state"]), 5, "a master")
        for v in (lb1, lb2):
            wait_until(lambda: all(b["state"] == "up" for b in v.service("sticky")["backends"]),
                       5, "sticky backends up")
        master = "lb1" if lb1.fo()["state"] == "master" else "lb2"
        other = "lb2" if master == "lb1" else "lb1"
        got = names(p, 6)
        assert len(got) == 6 and len(set(got)) == 1, got
        first = got[0]
        assert p[master].service("sticky")["persist_entries"] == 1
        metrics = p.bed[master].sh(PY, "-c", "import urllib.request; print(urllib.request."
                                   "urlopen('http://127.0.0.1:8404/metrics').read().decode())"
                                   ).stdout
        assert 'vigil_service_persist_entries{service="sticky"} 1' in metrics
        wait_until(lambda: p[other].service("sticky")["persist_entries"] == 1, 3,
                   "the peer to learn the entry")
        p[master].signal(signal.SIGKILL)
        p[master].proc.wait(5)
        wait_until(lambda: p[other].fo()["state"] == "master", 5, "the peer to take over")
        wait_until(lambda: len(names(p, 1)) == 1, 5, "the VIP to answer")
        got = names(p, 6)
        assert got == [first] * 6, (first, got)
        # the killed node comes back: it learns the entries from the survivor,
        # and when the survivor dies in turn the client still keeps its backend
        p[master].stop()
        p[master].start()
        wait_until(lambda: p.connected(), 10, "reconnect")
        wait_until(lambda: p[master].service("sticky")["persist_entries"] == 1, 3,
                   "the restarted node to learn the entry")
        # and to have probed the backends: one it has not seen pass yet is not
        # up, and a client whose backend is not up goes to another (and the
        # entry follows it)
        wait_until(lambda: all(b["state"] == "up"
                               for b in p[master].service("sticky")["backends"]),
                   5, "the restarted node's sticky backends up")
        p[other].signal(signal.SIGKILL)
        p[other].proc.wait(5)
        wait_until(lambda: p[master].fo()["state"] == "master", 5, "the first node back")
        wait_until(lambda: len(names(p, 1)) == 1, 5, "the VIP to answer")
        assert names(p, 4) == [first] * 4
        p[other].stop()
    finally:
        problems = p.close()
    assert not problems, problems


def sync_blocked(node, blocked):
    """Block (or unblock) node's sync channel, both ways, with policy rules
    that refuse every TCP packet to or from SYNC_PORT (adverts, UDP, pass)."""
    for d in ("sport", "dport"):
        node.ip_cmd("rule", "add" if blocked else "del", "ipproto", "tcp", d, str(SYNC_PORT),
                    "prohibit")


# In the node's namespace: connect, then say when the greeting came and what it was.
HELD_CLIENT = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
t = time.monotonic()
s.settimeout(20)
who = s.recv(100).decode().strip()
print(f"{t:.4f} {time.monotonic():.4f} {who}", flush=True)
"""


def vip_on_lo(node, vip, on):
    """Put vip on node's loopback (or take it away) without the node
    answering ARP for it or using it as an ARP source: a client inside the
    node's own namespace then reaches vigild's listener on the VIP while the
    node does not hold it."""
    if on:
        for key, val in (("arp_ignore", "1"), ("arp_announce", "2")):
            node.sh("sysctl", "-qw", f"net.ipv4.conf.all.{key}={val}")
    node.ip_cmd("addr", "add" if on else "del", f"{vip}/32", "dev", "lo")


def test_restart_learns_before_serving(tmp_path):
    """lb1 (priority 150, preempt) is killed -9; lb2 takes over and drains be1.
    lb1 starts again while its sync channel to lb2 is blocked: it hears lb2's
    adverts (so lb2 is alive and holds the group) and does NOT preempt - it
    waits for lb2's operator state. Once the channel is back it learns the
    drain, then takes the group back; no client ever reaches be1 after the
    drain, through either node. Meanwhile lb1's listeners accept nothing: a
    client of lb1 itself waits in the backlog, and is sent to be2 once lb1
    has learnt."""
    p = SyncPair(tmp_path, prio=(150, 100), named=True)
    prober = None
    try:
        lb1, lb2 = p["lb1"], p["lb2"]
        lb1.wait_state("master", 5)
        assert lb1.fo()["start_gate"]["state"] in ("alone", "learnt")
        for v in (lb1, lb2):
            wait_until(lambda: all(b["state"] == "up" for b in v.service("named")["backends"]),
                       5, "named backends up")
        prober = p.probers["named"] = p.bed.prober("client", "192.0.2.10", NAMED_PORT,
                                                   tmp_path / "named.log")
        prober.wait_answer("be1", 5)
        lb1.signal(signal.SIGKILL)
        lb1.proc.wait(5)
        lb2.wait_state("master", 5)
        assert lb2.ctl("drain", "named", "be1").returncode == 0
        t_drain = time.monotonic()
        prober.wait_answer("be2", 5, after=t_drain)
        sync_blocked(p.bed["lb2"], True)
        try:
            lb1.stop()
            before = len(lb1.log())
            t_start = time.monotonic()
            lb1.start()
            # lb1 hears lb2 (master at a lower priority), and waits
            wait_until(lambda: (lb1.fo()["peers"] or [{}])[0].get("node") == "lb2", 3,
                       "lb1 to hear lb2")
            vip_on_lo(p.bed["lb1"], "192.0.2.10", True)
            held = p.bed["lb1"].popen([PY, "-c", HELD_CLIENT, "192.0.2.10", str(NAMED_PORT)],
                                      stdout=open(tmp_path / "held.out", "w"),
                                      stderr=subprocess.STDOUT)
            time.sleep(1.5)
            assert held.poll() is None and (tmp_path / "held.out").read_text() == ""
            gate = lb1.fo()["start_gate"]
            assert gate["state"] == "waiting" and gate["waited_ms"] >= 1000, gate
            assert lb1.state() == "backup" and lb2.state() == "master"
            assert "waiting for the peer's operator state" in lb1.ctl("status").stdout
            assert lb1.backend("named", "be1")["state"] == "up"   # not learnt yet
        finally:
            sync_blocked(p.bed["lb2"], False)
        t_open = time.monotonic()
        lb1.wait_state("master", 8)
        t_master = time.monotonic()
        gate = lb1.fo()["start_gate"]
        assert gate["state"] == "learnt" and "from peer lb2" in gate["reason"], gate
        assert lb1.backend("named", "be1")["state"] == "drain"
        prober.wait_answer("be2", 5, after=t_master)
        held.wait(5)
        t_conn, t_greet, who = (tmp_path / "held.out").read_text().split()
        assert who == "be2" and float(t_greet) >= t_open and float(t_conn) < t_open
        vip_on_lo(p.bed["lb1"], "192.0.2.10", False)
        lb2.wait_state("backup", 3)
        time.sleep(0.5)
        # nobody sent a client to the drained backend: not lb1 (it has served
        # since it took the group back), not lb2
        after = [r for r in prober.records() if r[0] > t_drain + 0.05 and r[2]]
        assert after and all(r[3] == "be2" for r in after), \
            sorted({r[3] for r in after})
        assert lb1.backend("named", "be1")["total"] == 0
        assert lb1.backend("named", "be2")["total"] > 0
        ev = [e["text"] for e in lb1.status()["events"]]
        assert any("operator state learnt from peer lb2" in t for t in ev), ev
        log = lb1.log()[before:]          # this run only
        assert log.index("operator state learnt from peer lb2") < log.index("-> master"), log
        record("sync_restart_gate", blocked_s=round(t_open - t_start, 2),
               unblock_to_master_ms=round((t_master - t_open) * 1000),
               waited_ms=gate["waited_ms"])
        # the same restart with the channel up: the state arrives in a round
        # trip, and lb1 serves again (preempt) right after
        lb1.signal(signal.SIGKILL)
        lb1.proc.wait(5)
        lb2.wait_state("master", 5)
        lb1.stop()
        t_start = time.monotonic()
        lb1.start()
        lb1.wait_state("master", 5)
        t_master = time.monotonic()
        gate = lb1.fo()["start_gate"]
        assert gate["state"] == "learnt", gate
        assert lb1.backend("named", "be1")["state"] == "drain"
        record("sync_restart_to_master", start_to_master_ms=round((t_master - t_start) * 1000),
               gate_waited_ms=gate["waited_ms"])
        time.sleep(0.3)
        after = [r for r in prober.records() if r[0] > t_drain + 0.05 and r[2]]
        assert all(r[3] == "be2" for r in after), sorted({r[3] for r in after})
    except BaseException:
        print(p.logs())
        raise
    finally:
        problems = p.close()
    assert not problems, problems
