"""Failover in network namespaces: a master dies (kill -9), stops (SIGTERM) or
loses its link; the backup takes the VIP and the client follows it."""
import json
import signal
import time

import pytest

from vigil import parse_prometheus

from failover_bed import ADV_MS, VIP, Pair, bed_fixture, master_down_ms, record
from netns import PY, have_netns, wait_until

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

# probes every 10 ms; a takeover must come within master-down plus this
SLACK_S = 0.12


@pytest.fixture
def pair(tmp_path):
    yield from bed_fixture(Pair(tmp_path))


def test_pair_comes_up(pair):
    lb1, lb2 = pair["lb1"], pair["lb2"]
    fo = lb1.fo()
    assert fo["state"] == "master" and fo["priority"] == 150 and fo["group"] == 51
    assert pair.bed["lb1"].has(VIP) and not pair.bed["lb2"].has(VIP)
    wait_until(lambda: lb2.fo()["peers"][0].get("state") == "master", 2, "lb2 hears lb1")
    peer = lb2.fo()["peers"][0]
    assert peer["node"] == "lb1" and peer["priority"] == 150 and peer["vip_set_match"]
    assert peer["last_seen_ms"] < 3 * ADV_MS
    assert lb1.fo()["adverts"]["sent"] > 0 and lb2.fo()["adverts"]["received"] > 0
    assert pair.bed["client"].neigh_mac(VIP) == pair.bed["lb1"].mac


def test_metrics(tmp_path):
    p = Pair(tmp_path, start=False)
    try:
        cfg = json.loads(json.dumps(p["lb1"].config))
        cfg["global"]["status_listen"] = "127.0.0.1:8404"
        p["lb1"].write_config(cfg)
        p.start()
        wait_until(lambda: p["lb1"].fo()["peers"][0].get("state") == "backup", 2, "lb2 heard")
        r = p.bed["lb1"].sh(PY, "-c", "import urllib.request as u;print(u.urlopen("
                            "'http://127.0.0.1:8404/metrics',timeout=5).read().decode())")
        m = r.stdout
        parse_prometheus(m)            # well-formed: each family's lines together
        assert 'vigil_failover_state{state="master"} 1' in m
        assert 'vigil_failover_state{state="backup"} 0' in m
        assert "vigil_failover_priority 150" in m
        assert 'vigil_failover_adverts_rejected_total{reason="bad_mac"} 0' in m
        assert "vigil_failover_transitions_total 2" in m
        last = float(m.split("\nvigil_failover_peer_last_seen_seconds ")[1].split()[0])
        assert 0 <= last < 0.3
        sent = int(m.split("\nvigil_failover_adverts_sent_total ")[1].split()[0])
        assert sent > 0
        # every metric family is declared exactly once
        types = [l.split()[2] for l in m.splitlines() if l.startswith("# TYPE ")]
        assert len(types) == len(set(types)), sorted(t for t in types if types.count(t) > 1)
        text = p["lb1"].ctl("status").stdout
        assert "failover master  priority 150  group 51" in text
        assert "peer 192.0.2." in text and "lb2 backup priority" in text
    finally:
        problems = p.close()
    assert not problems, problems


def test_kill9_master(pair):
    """vigild on the master is killed: the watcher takes its VIP away and the
    backup takes over after master-down; the client's neighbour entry moves."""
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    t_kill = time.monotonic()
    lb1.signal(signal.SIGKILL)
    wait_until(lambda: not bed["lb1"].has(VIP), 1.0, "VIP to leave the dead node",
               interval=0.005)
    linger = time.monotonic() - t_kill
    lb2.wait_state("master", 2)
    pair.prober.wait_answer(bed["lb2"].ip, 3, after=t_kill)
    time.sleep(0.3)
    outage = pair.prober.outage(t_kill)
    record("kill9", outage_ms=round(outage * 1000), linger_ms=round(linger * 1000))
    assert linger < 0.3, f"VIP stayed {linger:.3f}s on the dead node"
    assert outage <= master_down_ms(100) / 1000 + SLACK_S, f"outage {outage:.3f}s"
    assert bed["lb2"].has(VIP) and not bed["lb1"].has(VIP)
    assert bed["client"].neigh_mac(VIP) == bed["lb2"].mac
    assert "master lb1 silent" in lb2.fo()["reason"]


def test_sigterm_master_hands_over_at_once(pair):
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    t_stop = time.monotonic()
    lb1.signal(signal.SIGTERM)
    lb2.wait_state("master", 1)
    t_master = time.monotonic()
    pair.prober.wait_answer(bed["lb2"].ip, 3, after=t_stop)
    time.sleep(0.2)
    assert lb1.proc.wait(10) == 0
    outage = pair.prober.outage(t_stop)
    record("sigterm", outage_ms=round(outage * 1000),
           takeover_ms=round((t_master - t_stop) * 1000))
    assert "resigned" in lb2.fo()["reason"]
    assert outage < 0.1, f"outage {outage:.3f}s"
    assert not bed["lb1"].has(VIP) and bed["lb2"].has(VIP)


def test_link_down_then_failback_with_preempt(pair):
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    t_down = time.monotonic()
    bed["lb1"].link(False)
    lb1.wait_state("fault", 1)
    assert not bed["lb1"].has(VIP)
    lb2.wait_state("master", 2)
    pair.prober.wait_answer(bed["lb2"].ip, 3, after=t_down)
    time.sleep(0.2)
    outage = pair.prober.outage(t_down)
    record("link_down", outage_ms=round(outage * 1000))
    assert outage <= master_down_ms(100) / 1000 + SLACK_S, f"outage {outage:.3f}s"
    # the cable comes back: lb1 (150) hears lb2 (100) as master and preempts
    t_up = time.monotonic()
    bed["lb1"].link(True)
    lb1.wait_state("master", 3)
    lb2.wait_state("backup", 2)
    pair.prober.wait_answer(bed["lb1"].ip, 3, after=t_up)
    time.sleep(0.2)
    record("failback_preempt", outage_ms=round(pair.prober.outage(t_up) * 1000))
    assert "preempt" in lb1.fo()["reason"]
    assert bed["lb1"].has(VIP) and not bed["lb2"].has(VIP)
    assert bed["client"].neigh_mac(VIP) == bed["lb1"].mac


HOLD = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)
print(s.recv(100).decode().strip(), flush=True)
sys.stdin.readline()
t = time.monotonic()
try:
    s.settimeout(3)
    s.sendall(b"still there?\n")
    data = s.recv(100)
    print("eof" if not data else "data", round(time.monotonic() - t, 3), flush=True)
except OSError as e:
    print(type(e).__name__, round(time.monotonic() - t, 3), flush=True)
"""


def test_connections_through_the_old_master_break_cleanly(pair):
    """After a link loss, a connection held through the old master gets a reset
    from the new master on its next packet - no hang - and new ones work."""
    bed, lb2 = pair.bed, pair["lb2"]
    import subprocess
    from netns import PY
    held = bed["client"].popen([PY, "-c", HOLD, VIP, "8080"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert held.stdout.readline().strip() == bed["lb1"].ip
    bed["lb1"].link(False)
    lb2.wait_state("master", 2)
    t = time.monotonic()
    pair.prober.wait_answer(bed["lb2"].ip, 2, after=t)
    held.stdin.write("go\n")
    held.stdin.flush()
    verdict = held.stdout.readline().split()
    held.wait(5)
    assert verdict[0] == "ConnectionResetError", verdict
    assert float(verdict[1]) < 0.5
